"""The fast path decides exactly as pycasbin's Enforcer.enforce on random policies and requests."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import PolicyIndex, PolicyLine, g_line, new_enforcer, p_line

# A small alphabet, so random lines and requests collide often enough to mean something.
PRINCIPALS = ["user:a", "user:b", "agent:c"]
ROLES = ["r0", "r1", "r2", "r3", "r4", "r5"]
DOMAINS = ["t1", "t2", "*"]
OBJECTS = [
    "mcp/vs/tool/up/x",
    "mcp/vs/tool/up/y",
    "mcp/vs/tool/other/x",
    "mcp/vs2/prompt/up/x",
    "admin/catalog",
    "mcp/vs",
]
PATTERNS = ["*", "mcp/*", "mcp/vs/*", "mcp/vs/tool/*", "mcp/vs/tool/up/*", "mcp/vs/tool/up/x*", "admin/*", "mcp/vs*"]
# keyMatch ignores what follows the first "*": validation refuses such objects, the engine still mirrors them.
ODD_PATTERNS = ["mcp/*/tool/up/x", "*/vs"]
ACTIONS = ["call", "read", "get", "*"]

subjects = st.sampled_from(PRINCIPALS + ROLES)
p_lines = st.builds(
    p_line,
    subjects,
    st.sampled_from(DOMAINS),
    st.sampled_from(OBJECTS + PATTERNS + ODD_PATTERNS),
    st.sampled_from(ACTIONS),
    st.sampled_from(["allow", "allow", "deny"]),
)
g_lines = st.builds(g_line, subjects, st.sampled_from(ROLES), st.sampled_from(DOMAINS))
# A chain longer than pycasbin's 9-hop limit: r0 < c1 < ... < c11 in t1.
CHAIN = [g_line("r0" if i == 0 else f"c{i}", f"c{i + 1}", "t1") for i in range(11)]
requests = st.tuples(
    st.sampled_from([*PRINCIPALS, *ROLES, "c1"]),
    st.sampled_from(DOMAINS),
    st.sampled_from([*OBJECTS, "mcp/vs/tool/up/xy", "*"]),
    st.sampled_from(ACTIONS),
    st.lists(st.sampled_from(ROLES), max_size=2).map(tuple),
    st.lists(st.sampled_from(ROLES), max_size=2).map(tuple),
)
chain_rules = st.lists(
    st.builds(p_line, st.sampled_from([f"c{i}" for i in range(1, 12)]), st.just("t1"), st.just("*"), st.just("*")),
    max_size=2,
)


def reference(lines: list[PolicyLine], request: tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]) -> bool:
    sub, dom, obj, act, roles, global_roles = request
    extra = [g_line(sub, role, dom) for role in roles] + [g_line(sub, role, "*") for role in global_roles]
    return bool(new_enforcer([*lines, *extra]).enforce(sub, dom, obj, act))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(p_lines, max_size=14),
    st.lists(g_lines, max_size=10),
    st.booleans(),
    chain_rules,
    st.lists(requests, min_size=1, max_size=6),
)
def test_the_fast_path_equals_casbin_enforce(
    ps: list[PolicyLine],
    gs: list[PolicyLine],
    chain: bool,
    chained: list[PolicyLine],
    reqs: list[tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]],
) -> None:
    lines = list(dict.fromkeys([*ps, *gs, *(CHAIN + chained if chain else [])]))
    index = PolicyIndex(lines)
    for request in reqs:
        sub, dom, obj, act, roles, global_roles = request
        assert index.decide(sub, dom, obj, act, roles, global_roles) == reference(lines, request), request
