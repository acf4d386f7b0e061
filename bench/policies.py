"""What a policy decision costs: the fast path (policies.PolicyIndex) vs pycasbin's enforce.

Run from the repository root (in-process, no server, no database)::

    .venv/bin/python bench/policies.py            # about 3 minutes, most of it loading pycasbin
    .venv/bin/python bench/policies.py --quick    # 100 tenants, 10,000 lines

It generates 1,000 tenants with 100 lines each (100,000 lines) plus the built-in admin lines in
``*``. Per tenant: a role hierarchy ``viewer < analyst < lead < owner`` (3 g lines), 25
principals with one role each (25 g lines), and 72 p lines over four virtual servers, half
keyMatch patterns (``mcp/<vs>/tool/<upstream>/*``, ``mcp/<vs>/*``), half exact tools, one in
eight a deny. Requests name a random principal of a random tenant, a random tool of that
tenant, and ``call``.

Printed: index build time; decision p50/p99 with warm views (the steady state: one view per
principal and tenant, cached until that tenant's lines change) and cold (the first request of a
principal, which builds its view); the view build alone; the cost of filtering a 500-tool
``tools/list`` through a view; and pycasbin ``Enforcer.enforce`` on the same lines (sampled:
it scans every line per request). Every sampled pycasbin answer is checked against the fast path.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import PolicyIndex, PolicyLine, g_line, new_enforcer, p_line

ROLES = ("viewer", "analyst", "lead", "owner")
SERVERS = ("support", "sales", "ops", "eng")
UPSTREAMS = ("crm", "tickets", "search", "files", "billing", "wiki")
TOOLS_PER_UPSTREAM = 20
BUILTIN = [
    p_line("platform_admin", "*", "admin/*", "manage"),
    p_line("tenant_admin", "*", "admin/upstreams", "manage"),
    p_line("security_reviewer", "*", "admin/reviews", "review"),
]


def tool(server: str, upstream: str, number: int) -> str:
    return f"mcp/{server}/tool/{upstream}/tool_{number}"


def tenant_lines(tenant: str, rng: random.Random) -> list[PolicyLine]:
    lines = [g_line(ROLES[i + 1], ROLES[i], tenant) for i in range(len(ROLES) - 1)]
    lines += [g_line(f"user:u{n}", rng.choice(ROLES), tenant) for n in range(25)]
    seen: set[PolicyLine] = set()
    while len(seen) < 72:
        role, server, upstream = rng.choice(ROLES), rng.choice(SERVERS), rng.choice(UPSTREAMS)
        kind = rng.random()
        if kind < 0.4:
            obj = f"mcp/{server}/tool/{upstream}/*"
        elif kind < 0.5:
            obj = f"mcp/{server}/*"
        else:
            obj = tool(server, upstream, rng.randrange(TOOLS_PER_UPSTREAM))
        seen.add(p_line(role, tenant, obj, "call", "deny" if rng.random() < 0.125 else "allow"))
    return lines + sorted(seen, key=lambda line: line.values)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_ns(call: object, *args: object) -> float:
    start = time.perf_counter_ns()
    call(*args)  # type: ignore[operator]
    return float(time.perf_counter_ns() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    tenants = 100 if args.quick else 1000
    rng = random.Random(4)
    lines = list(BUILTIN)
    for n in range(tenants):
        lines += tenant_lines(f"t{n}", rng)
    print(f"{tenants} tenants, {len(lines):,} policy lines")

    start = time.perf_counter()
    index = PolicyIndex(lines)
    print(f"index build: {time.perf_counter() - start:.2f} s")

    def request() -> tuple[str, str, str, str]:
        return (
            f"user:u{rng.randrange(25)}",
            f"t{rng.randrange(tenants)}",
            tool(rng.choice(SERVERS), rng.choice(UPSTREAMS), rng.randrange(TOOLS_PER_UPSTREAM)),
            "call",
        )

    # Cold: every principal's first request builds its view.
    cold = [timed_ns(index.decide, *request()) for _ in range(20_000)]
    # Warm the rest, then measure the steady state.
    for n in range(tenants):
        for user in range(25):
            index.view(f"user:u{user}", f"t{n}")
    requests = [request() for _ in range(200_000)]
    warm = [timed_ns(index.decide, *req) for req in requests]
    allowed = sum(index.decide(*req) for req in requests[:10_000])
    print(
        f"fast path, warm view: p50 {percentile(warm, 0.5) / 1000:.2f} µs, p99 {percentile(warm, 0.99) / 1000:.2f} µs"
        f"  (target p50 <= 20 µs; {allowed / 100:.0f}% of requests allowed)"
    )
    print(
        f"fast path, mixed cold: p50 {percentile(cold, 0.5) / 1000:.2f} µs, p99 {percentile(cold, 0.99) / 1000:.2f} µs"
    )

    builds = []
    for n in range(2000):
        subject, domain = f"user:u{n % 25}", f"t{rng.randrange(tenants)}"
        builds.append(timed_ns(index._build, subject, domain, (), ()))
    p50, p99 = percentile(builds, 0.5) / 1000, percentile(builds, 0.99) / 1000
    print(f"view build (one principal, one tenant): p50 {p50:.1f} µs, p99 {p99:.1f} µs")

    listing = [tool(server, upstream, n) for server in SERVERS[:1] for upstream in UPSTREAMS for n in range(84)][:500]
    view = index.view("user:u3", "t1")
    filters = []
    for _ in range(200):
        start = time.perf_counter_ns()
        [obj for obj in listing if view.allows(obj, "call")]
        filters.append(float(time.perf_counter_ns() - start))
    print(f"filtering a 500-tool tools/list through a view: p50 {statistics.median(filters) / 1000:.0f} µs")

    start = time.perf_counter()
    enforcer = new_enforcer(lines)
    print(f"pycasbin load: {time.perf_counter() - start:.1f} s")
    samples = 50 if not args.quick else 300
    casbin_ns = []
    for req in requests[:samples]:
        start = time.perf_counter_ns()
        answer = enforcer.enforce(*req)
        casbin_ns.append(float(time.perf_counter_ns() - start))
        assert answer == index.decide(*req), req
    print(
        f"pycasbin enforce ({samples} sampled): p50 {percentile(casbin_ns, 0.5) / 1e6:.1f} ms, "
        f"p99 {percentile(casbin_ns, 0.99) / 1e6:.1f} ms; every answer equal to the fast path's"
    )
    print(f"speed-up at p50: {percentile(casbin_ns, 0.5) / percentile(warm, 0.5):,.0f}x")


if __name__ == "__main__":
    main()
