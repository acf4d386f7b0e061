"""The fast path: decisions identical to pycasbin's on Atrium's model, without a scan per request.

pycasbin evaluates the matcher against every p line on every request. Here lines are indexed
per domain and per subject, and a request's *view* is built once per (domain, subject, extra
roles) and cached: the subjects Casbin's ``g`` reaches from the requester in the domain and in
``*`` (breadth first, at most :data:`MAX_ROLE_HOPS` hops as pycasbin's role manager does), and
the p lines of those subjects in the domain and in ``*``, grouped by action into exact objects
and keyMatch prefixes. A decision is then a few set lookups. Replacing a domain's lines drops
only the views of that domain (every view, for ``*``), so the cache is never stale.

Why this equals the matcher: a p line L matches (sub, dom, obj, act) iff L.sub is reachable from
sub in dom's or ``*``'s g graph, L.dom is dom or ``*``, keyMatch(obj, L.obj) (a prefix test up
to L.obj's first ``*``, else equality) and L.act is act or ``*``; the effect allows iff some
allow line and no deny line matches. Extra roles are g lines from sub added for this request: in
a breadth-first search from sub they are simply more first-hop edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies._model import ALLOW, ANY_DOMAIN, DENY, MAX_ROLE_HOPS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from policies._lines import PolicyLine

Roles = tuple[str, ...]


class _Patterns:
    """Objects one effect names for one action: exact objects, and keyMatch prefixes by length."""

    __slots__ = ("exact", "lengths", "prefixes")

    def __init__(self, objects: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.prefixes: set[str] = set()
        for obj in objects:
            star = obj.find("*")
            if star == -1:
                self.exact.add(obj)
            else:
                self.prefixes.add(obj[:star])
        self.lengths = tuple(sorted({len(prefix) for prefix in self.prefixes}))

    def hit(self, obj: str) -> bool:
        if obj in self.exact:
            return True
        prefixes = self.prefixes
        return any(obj[:length] in prefixes for length in self.lengths)


_EMPTY = _Patterns(())


class View:
    """What one requester (with its extra roles) may do in one domain."""

    __slots__ = ("_any", "_by_act", "subjects")

    def __init__(self, subjects: frozenset[str], rules: Iterable[tuple[str, str, str]]) -> None:
        self.subjects = subjects
        grouped: dict[str, tuple[list[str], list[str]]] = {}
        for obj, act, eft in rules:
            if eft in (ALLOW, DENY):  # pycasbin: any other effect is indeterminate, i.e. no match
                grouped.setdefault(act, ([], []))[eft == DENY].append(obj)
        star_allow, star_deny = grouped.pop("*", ([], []))
        self._any = (_Patterns(star_allow), _Patterns(star_deny))
        # A line with action "*" matches every action: merged into each action's patterns.
        self._by_act = {
            act: (_Patterns(allow + star_allow), _Patterns(deny + star_deny)) for act, (allow, deny) in grouped.items()
        }
        self._by_act["*"] = self._any

    def allows(self, obj: str, act: str) -> bool:
        allow, deny = self._by_act.get(act, self._any)
        return allow.hit(obj) and not deny.hit(obj)


class _Domain:
    """One domain's g edges and p lines, indexed by subject."""

    __slots__ = ("edges", "rules")

    def __init__(self, lines: Iterable[PolicyLine]) -> None:
        self.edges: dict[str, list[str]] = {}
        self.rules: dict[str, list[tuple[str, str, str]]] = {}
        for line in lines:
            if line.ptype == "g":
                self.edges.setdefault(line.values[0], []).append(line.values[1])
            else:
                sub, _dom, obj, act, eft = line.values
                self.rules.setdefault(sub, []).append((obj, act, eft))


_NO_DOMAIN = _Domain(())


def _reach(domain: _Domain, start: str, extra: Roles) -> set[str]:
    """Subjects ``g(start, x, dom)`` holds for, with ``extra`` as more g edges from ``start``."""
    seen = {start}
    frontier = [start]
    edges = domain.edges
    for _hop in range(MAX_ROLE_HOPS):
        following: list[str] = []
        for node in frontier:
            targets = [*edges.get(node, ()), *extra] if node == start else edges.get(node, ())
            for target in targets:
                if target not in seen:
                    seen.add(target)
                    following.append(target)
        if not following:
            break
        frontier = following
    return seen


class PolicyIndex:
    """All policy lines, indexed; answers exactly as ``casbin.Enforcer.enforce`` would."""

    def __init__(self, lines: Iterable[PolicyLine] = (), *, max_views: int = 200_000) -> None:
        by_domain: dict[str, list[PolicyLine]] = {}
        for line in lines:
            by_domain.setdefault(line.domain, []).append(line)
        self._domains = {domain: _Domain(group) for domain, group in by_domain.items()}
        self._views: dict[str, dict[tuple[str, Roles, Roles], View]] = {}
        self._view_count = 0
        self._max_views = max_views

    @property
    def domains(self) -> frozenset[str]:
        return frozenset(self._domains)

    def replace_domain(self, domain: str, lines: Iterable[PolicyLine]) -> None:
        """Swap in ``domain``'s lines (g lines whose domain, and p lines whose domain, it is)."""
        fresh = _Domain(lines)
        if fresh.edges or fresh.rules:
            self._domains[domain] = fresh
        else:
            self._domains.pop(domain, None)
        if domain == ANY_DOMAIN:
            self._views.clear()
            self._view_count = 0
        else:
            self._view_count -= len(self._views.pop(domain, {}))

    def decide(
        self, subject: str, domain: str, obj: str, act: str, roles: Roles = (), global_roles: Roles = ()
    ) -> bool:
        """``enforce(subject, domain, obj, act)`` as if ``g, subject, r, domain`` held for each of
        ``roles`` and ``g, subject, r, *`` for each of ``global_roles``."""
        views = self._views.get(domain)
        view = views.get((subject, roles, global_roles)) if views is not None else None
        if view is None:
            view = self.view(subject, domain, roles, global_roles)
        return view.allows(obj, act)

    def decide_many(
        self,
        subject: str,
        domain: str,
        requests: Sequence[tuple[str, str]],
        roles: Roles = (),
        global_roles: Roles = (),
    ) -> list[bool]:
        """:meth:`decide` for each (object, action) of ``requests``, e.g. one tools/list."""
        view = self.view(subject, domain, roles, global_roles)
        return [view.allows(obj, act) for obj, act in requests]

    def view(self, subject: str, domain: str, roles: Roles = (), global_roles: Roles = ()) -> View:
        key = (subject, roles, global_roles)
        views = self._views.setdefault(domain, {})
        view = views.get(key)
        if view is not None:
            return view
        if self._view_count >= self._max_views:
            # Rare; dropping every view is simpler than an LRU and cannot be stale.
            self._views = {domain: (views := {})}
            self._view_count = 0
        view = views[key] = self._build(subject, domain, roles, global_roles)
        self._view_count += 1
        return view

    def _build(self, subject: str, domain: str, roles: Roles, global_roles: Roles) -> View:
        anywhere = self._domains.get(ANY_DOMAIN, _NO_DOMAIN)
        if domain == ANY_DOMAIN:
            subjects = _reach(anywhere, subject, roles + global_roles)
            scopes: tuple[_Domain, ...] = (anywhere,)
        else:
            here = self._domains.get(domain, _NO_DOMAIN)
            subjects = _reach(here, subject, roles) | _reach(anywhere, subject, global_roles)
            scopes = (here, anywhere)
        rules = [rule for scope in scopes for sub in subjects for rule in scope.rules.get(sub, ())]
        return View(frozenset(subjects), rules)
