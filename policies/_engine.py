"""The policy engine: the stored lines, indexed in memory, kept current in every process.

One engine per app, built in its lifespan. It loads every line at start (:meth:`load`); every
change made through it is written to the database and applied in-process before the call
returns, so the next request is decided by it; and :meth:`run` polls the revision counter every
``poll_interval`` seconds to pick up what another process changed (then it reloads and swaps in
only the domains whose lines differ). Listeners registered with :meth:`on_change` hear the
domain of every change, local or not, e.g. to send MCP ``list_changed`` notifications.

Decisions (:meth:`decide`, :meth:`view`) are synchronous and never touch the database.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from policies._index import PolicyIndex, Roles, View
from policies._lines import PolicyLine, StoredPolicyLine, format_csv, parse_csv
from policies._model import ANY_DOMAIN
from policies._store import check_domain_lines
from policies._subjects import PLATFORM_ADMIN, is_privileged
from registry import ConflictError, NotFoundError, PermissionDeniedError, StorageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from policies._store import PolicyStore, Written

logger = logging.getLogger(__name__)


def _check_privilege(domain: str, before: Iterable[PolicyLine], after: Iterable[PolicyLine], privileged: bool) -> None:
    if privileged or domain == ANY_DOMAIN:
        return  # the routes of "*" are a platform admin's already
    if {line for line in before if is_privileged(line)} != {line for line in after if is_privileged(line)}:
        raise PermissionDeniedError(
            "only a platform admin may write a line that names a built-in role or an admin/ object"
        )


def _check_lockout(domain: str, after: Iterable[PolicyLine]) -> None:
    # Without this, one careless import of "*" would lock every platform admin out of the API
    # that could undo it.
    if domain != ANY_DOMAIN:
        return
    probe = PolicyIndex(after)
    if not probe.decide("user:-", ANY_DOMAIN, "admin/policies", "manage", (), (PLATFORM_ADMIN,)):
        raise ConflictError("the change would stop platform_admin from managing the platform's policies")


class PolicyEngine:
    """Decisions equal to pycasbin's on the stored lines, and the one way to change those lines."""

    def __init__(self, store: PolicyStore, *, poll_interval: float = 2.0) -> None:
        self._store = store
        self._poll_interval = poll_interval
        self._index = PolicyIndex()
        self._lines: dict[str, tuple[PolicyLine, ...]] = {}
        self._seen = -1
        self._listeners: list[Callable[[str], None]] = []
        self._lock = anyio.Lock()

    # --- decisions -----------------------------------------------------------------------------

    def decide(
        self, subject: str, domain: str, obj: str, act: str, roles: Roles = (), global_roles: Roles = ()
    ) -> bool:
        """Casbin's ``enforce(subject, domain, obj, act)``, with ``roles`` as g links of ``subject``
        in ``domain`` and ``global_roles`` as g links in ``*`` for this request only."""
        return self._index.decide(subject, domain, obj, act, tuple(roles), tuple(global_roles))

    def view(self, subject: str, domain: str, roles: Roles = (), global_roles: Roles = ()) -> View:
        """What ``subject`` may do in ``domain``: ``view.allows(obj, act)``; cached until a change."""
        return self._index.view(subject, domain, tuple(roles), tuple(global_roles))

    @property
    def revision(self) -> int:
        """The stored revision the in-memory lines reflect (at least)."""
        return self._seen

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(domain)`` after the lines of ``domain`` changed (``*``: every domain's view)."""
        self._listeners.append(listener)

    # --- keeping current -----------------------------------------------------------------------

    async def load(self) -> None:
        """Read every line; swap in the domains that differ from what is loaded.

        Raises:
            StorageError: the database cannot be read.
        """
        async with self._lock:
            revision, stored = await self._store.load()
            fresh: dict[str, list[PolicyLine]] = {}
            for stored_line in stored:
                line = stored_line.line()
                fresh.setdefault(line.domain, []).append(line)
            if self._seen < 0:
                self._index = PolicyIndex(line for group in fresh.values() for line in group)
                self._lines = {domain: tuple(group) for domain, group in fresh.items()}
                self._seen = revision
                return
            changed = [
                domain
                for domain in self._lines.keys() | fresh.keys()
                if self._lines.get(domain, ()) != tuple(fresh.get(domain, ()))
            ]
            for domain in changed:
                self._swap(domain, fresh.get(domain, ()))
            self._seen = revision
        self._notify(changed)

    async def refresh(self) -> bool:
        """Reload if another process changed something. Returns whether anything was reloaded.

        Raises:
            StorageError: the database cannot be read.
        """
        if await self._store.revision() == self._seen:
            return False
        await self.load()
        return True

    async def run(self) -> None:
        """Poll forever (a task of the app's lifespan); a failed poll is logged and retried."""
        while True:
            await anyio.sleep(self._poll_interval)
            try:
                await self.refresh()
            except StorageError:
                logger.warning("cannot poll the policy revision; retrying", exc_info=True)

    # --- changes -------------------------------------------------------------------------------

    async def lines(self, domain: str) -> list[StoredPolicyLine]:
        """The stored lines of ``domain``, oldest first. Raises: StorageError."""
        _revision, stored = await self._store.load(domain)
        return stored

    async def add(
        self, domain: str, lines: Sequence[PolicyLine], *, principal: str, privileged: bool = False
    ) -> list[StoredPolicyLine]:
        """Store ``lines`` in ``domain`` and apply them at once.

        Raises:
            InvalidInputError: a bad line or one of another domain; nothing is added.
            ConflictError: a line that exists already, or platform admins would lose ``*``'s policies.
            NotFoundError: no such tenant.
            PermissionDeniedError: a privileged line (:func:`is_privileged`) and not ``privileged``.
        """
        lines = check_domain_lines(lines, domain)
        _check_privilege(domain, (), lines, privileged)
        if domain == ANY_DOMAIN:
            _check_lockout(domain, [*(line.line() for line in await self.lines(domain)), *lines])
        written = await self._store.add(domain, lines, principal=principal)
        await self._applied(domain, written)
        return written.lines

    async def remove(self, domain: str, line_id: int, *, privileged: bool = False) -> StoredPolicyLine:
        """Raises: NotFoundError: no such line in ``domain``. PermissionDeniedError: as :meth:`add`."""
        found = next((line for line in await self.lines(domain) if line.id == line_id), None)
        if found is None:
            raise NotFoundError(f"no policy line {line_id} in {domain!r}")
        _check_privilege(domain, (found.line(),), (), privileged)
        if domain == ANY_DOMAIN:
            _check_lockout(domain, [line.line() for line in await self.lines(domain) if line.id != line_id])
        written = await self._store.remove(domain, line_id)
        await self._applied(domain, written)
        return written.lines[0]

    async def replace(
        self, domain: str, lines: Sequence[PolicyLine], *, principal: str, privileged: bool = False
    ) -> list[StoredPolicyLine]:
        """Make ``lines`` exactly the lines of ``domain``, atomically.

        Raises:
            InvalidInputError: a bad line; nothing changes.
            NotFoundError: no such tenant.
            PermissionDeniedError: the privileged lines would change and not ``privileged``.
        """
        lines = check_domain_lines(lines, domain)
        current = [line.line() for line in await self.lines(domain)]
        _check_privilege(domain, current, lines, privileged)
        _check_lockout(domain, lines)
        written = await self._store.replace(domain, lines, principal=principal)
        await self._applied(domain, written)
        return written.lines

    async def import_csv(
        self, domain: str, text: str, *, principal: str, privileged: bool = False
    ) -> list[StoredPolicyLine]:
        """:meth:`replace` with Casbin CSV. Raises: InvalidInputError: naming the first bad line."""
        return await self.replace(domain, parse_csv(text, domain=domain), principal=principal, privileged=privileged)

    async def export_csv(self, domain: str) -> str:
        """The lines of ``domain`` as Casbin CSV, in a stable order. Raises: StorageError."""
        return format_csv(line.line() for line in await self.lines(domain))

    async def forget(self, domain: str) -> None:
        """Drop every line of ``domain`` (its tenant was deleted). Raises: StorageError."""
        written = await self._store.forget(domain)
        await self._applied(domain, written)

    async def _applied(self, domain: str, written: Written) -> None:
        async with self._lock:
            _revision, stored = await self._store.load(domain)
            self._swap(domain, [line.line() for line in stored])
            if written.before == self._seen:
                self._seen = written.after  # nobody else wrote in between: nothing more to load
        self._notify([domain])

    def _swap(self, domain: str, lines: Iterable[PolicyLine]) -> None:
        group = tuple(lines)
        self._index.replace_domain(domain, group)
        if group:
            self._lines[domain] = group
        else:
            self._lines.pop(domain, None)

    def _notify(self, domains: Iterable[str]) -> None:
        for domain in domains:
            for listener in self._listeners:
                try:
                    listener(domain)
                except Exception:
                    logger.exception("policy change listener failed for %r", domain)
