"""Policy lines in the database: one row per Casbin line, and a revision counter.

Every change runs in one transaction that also increments ``policy_revision.revision``, so
another process polling the counter sees that something changed (:class:`PolicyEngine`), and
a process that made the change knows whether anyone else changed anything meanwhile (the
counter moved by exactly one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from policies._lines import PolicyLine, StoredPolicyLine, check_line
from policies._model import ANY_DOMAIN
from registry import ConflictError, InvalidInputError, NotFoundError, StorageError
from registry._clock import now
from registry._models import PolicyLineRow, PolicyRevisionRow, TenantRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_COLUMNS = ("v0", "v1", "v2", "v3", "v4")


class Written:
    """What a write did: the counter before and after it, and the lines it added or removed."""

    __slots__ = ("after", "before", "lines")

    def __init__(self, before: int, after: int, lines: list[StoredPolicyLine]) -> None:
        self.before, self.after, self.lines = before, after, lines


def _stored(row: PolicyLineRow) -> StoredPolicyLine:
    values = (row.v0, row.v1, row.v2, row.v3, row.v4) if row.ptype == "p" else (row.v0, row.v1, row.v2)
    return StoredPolicyLine(id=row.id, ptype="p" if row.ptype == "p" else "g", values=values)


def check_domain_lines(lines: Sequence[PolicyLine], domain: str) -> list[PolicyLine]:
    """Raises: InvalidInputError: a bad line, one of another domain, or a repeated one."""
    checked = []
    for number, line in enumerate(lines, start=1):
        try:
            check_line(line)
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc.detail}") from exc
        if line.domain != domain:
            raise InvalidInputError(f"line {number}: its domain is {line.domain!r}, not {domain!r}")
        checked.append(line)
    if len(set(checked)) != len(checked):
        raise InvalidInputError("the same line is given twice")
    return checked


class PolicyStore:
    """Async access to the stored lines. Every method wraps driver errors as :class:`StorageError`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def revision(self) -> int:
        """Raises: StorageError: the database cannot be read."""
        try:
            async with self._sessions() as session:
                return (
                    await session.execute(select(PolicyRevisionRow.revision).where(PolicyRevisionRow.id == 1))
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise StorageError("cannot read the policy revision") from exc

    async def load(self, domain: str | None = None) -> tuple[int, list[StoredPolicyLine]]:
        """The revision and every line (of ``domain`` if given), read in one transaction.

        Raises:
            StorageError: the database cannot be read.
        """
        query = select(PolicyLineRow).order_by(PolicyLineRow.id)
        if domain is not None:
            query = query.where(PolicyLineRow.domain == domain)
        try:
            async with self._sessions() as session, session.begin():
                revision = (await session.execute(select(PolicyRevisionRow.revision))).scalar_one()
                rows = (await session.execute(query)).scalars().all()
        except SQLAlchemyError as exc:
            raise StorageError("cannot read the policy lines") from exc
        return revision, [_stored(row) for row in rows]

    async def add(self, domain: str, lines: Sequence[PolicyLine], *, principal: str) -> Written:
        """Add ``lines`` (all of ``domain``) at once.

        Raises:
            InvalidInputError: a bad line, or one of another domain (named by its position).
            ConflictError: a line that is already stored; nothing is added.
            NotFoundError: no such tenant.
        """
        checked = check_domain_lines(lines, domain)
        async with self._write() as session:
            tenant_id = await _tenant_id(session, domain)
            existing = {row.line() for row in await _rows(session, domain)}
            for line in checked:
                if line in existing:
                    raise ConflictError(f"the line '{line.csv()}' already exists")
            rows = [_row(line, domain, tenant_id, principal) for line in checked]
            session.add_all(rows)
            await session.flush()
            before, after = await _bump(session)
            return Written(before, after, [_stored(row) for row in rows])

    async def remove(self, domain: str, line_id: int) -> Written:
        """Raises: NotFoundError: no line ``line_id`` in ``domain``."""
        async with self._write() as session:
            row = await session.get(PolicyLineRow, line_id)
            if row is None or row.domain != domain:
                raise NotFoundError(f"no policy line {line_id} in {domain!r}")
            removed = _stored(row)
            await session.delete(row)
            before, after = await _bump(session)
            return Written(before, after, [removed])

    async def replace(self, domain: str, lines: Sequence[PolicyLine], *, principal: str) -> Written:
        """Make ``lines`` exactly the lines of ``domain``, atomically; validated as a whole first.

        Raises:
            InvalidInputError: a bad line (nothing changes).
            NotFoundError: no such tenant.
        """
        checked = check_domain_lines(lines, domain)
        async with self._write() as session:
            tenant_id = await _tenant_id(session, domain)
            await session.execute(delete(PolicyLineRow).where(PolicyLineRow.domain == domain))
            rows = [_row(line, domain, tenant_id, principal) for line in checked]
            session.add_all(rows)
            await session.flush()
            before, after = await _bump(session)
            return Written(before, after, [_stored(row) for row in rows])

    async def forget(self, domain: str) -> Written:
        """Delete every line of ``domain`` (a deleted tenant's are gone already by cascade)."""
        async with self._write() as session:
            await session.execute(delete(PolicyLineRow).where(PolicyLineRow.domain == domain))
            before, after = await _bump(session)
            return Written(before, after, [])

    def _write(self) -> _Transaction:
        return _Transaction(self._sessions)


class _Transaction:
    """A session in a transaction, with driver errors wrapped on the way out."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._session = sessions()

    async def __aenter__(self) -> AsyncSession:
        return self._session  # it begins its transaction with the first statement (autobegin)

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if kind is None:
                await self._session.commit()
            else:
                await self._session.rollback()
        except SQLAlchemyError as error:
            raise StorageError("cannot write the policy lines") from error
        finally:
            await self._session.close()
        if isinstance(exc, SQLAlchemyError):
            raise StorageError("cannot write the policy lines") from exc


async def _rows(session: AsyncSession, domain: str) -> Sequence[StoredPolicyLine]:
    rows = (await session.execute(select(PolicyLineRow).where(PolicyLineRow.domain == domain))).scalars().all()
    return [_stored(row) for row in rows]


async def _tenant_id(session: AsyncSession, domain: str) -> int | None:
    if domain == ANY_DOMAIN:
        return None
    found = (await session.execute(select(TenantRow.id).where(TenantRow.slug == domain))).scalar_one_or_none()
    if found is None:
        raise NotFoundError(f"no tenant {domain!r}")
    return found


def _row(line: PolicyLine, domain: str, tenant_id: int | None, principal: str) -> PolicyLineRow:
    values = dict(zip(_COLUMNS, (*line.values, "", ""), strict=False))
    return PolicyLineRow(
        tenant_id=tenant_id, domain=domain, ptype=line.ptype, created_by=principal, created_at=now(), **values
    )


async def _bump(session: AsyncSession) -> tuple[int, int]:
    # The UPDATE takes the row lock first (PostgreSQL), so concurrent writers serialize here.
    after = (
        await session.execute(
            update(PolicyRevisionRow)
            .where(PolicyRevisionRow.id == 1)
            .values(revision=PolicyRevisionRow.revision + 1)
            .returning(PolicyRevisionRow.revision)
        )
    ).scalar_one()
    return after - 1, after
