"""What Atrium's proxy costs: ``tools/call`` latency and throughput, direct vs through Atrium.

Run from the repository root (everything starts and stops by itself, on 127.0.0.1)::

    .venv/bin/python bench/proxy.py            # full run, about 2-3 minutes
    .venv/bin/python bench/proxy.py --quick    # fewer calls, under about 40 seconds

It starts, on free loopback ports with a fresh SQLite database in a temporary directory:
``atrium serve`` (default settings), ``bench/fast_upstream.py`` (a minimal raw-ASGI MCP server,
so Atrium's own cost dominates), the same with ``--tools 500``, and the official-SDK demo server
``composer/demo_upstream.py --http PORT``. Through the admin API it registers the three upstreams,
syncs them, has every version approved (the tenant auto-approves low-risk read-only tools at sync,
the demo's go through the review API) and curates two virtual servers: ``calls`` (``fast_echo`` and
``demo_add``) and ``wide`` (all 500 tools of the wide upstream).

Then, for each of the fast and demo upstreams, the same raw JSON-RPC client (one keep-alive
``aiohttp.ClientSession`` per target, after ``initialize`` and ``notifications/initialized``) calls
the tool directly at the upstream and through ``/mcp/bench/calls/bencher`` (with an agent key of
role ``bencher``, so every request pays authentication and the policy decision):

* latency at concurrency 1: p50 and p99 of N calls after warm-up, direct and via Atrium measured
  in alternating blocks so that machine noise falls on both; the added latency as a difference
  and as a ratio;
* ``ping`` latency the same way, for reference: Atrium answers ping itself, so this is the cost of
  its endpoint alone, without the pin check and the upstream hop;
* throughput at concurrency 32: successful calls per second, direct and via Atrium alternating.

Last, ``tools/list`` of the 500-tool virtual server through Atrium (p50, p99). The figures are
printed next to the targets. The load generator, Atrium and the upstream share the machine's
CPUs, so throughput is what the whole loop achieves on this machine. Any failed request is
counted and described (request, HTTP status or JSON-RPC error), with Atrium's logged errors.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from _load import (
    Call,
    Errors,
    RawMcpClient,
    Throughput,
    new_http_client,
    percentile,
    run_concurrently,
    timed_calls,
)
from _stack import ATRIUM, REPO_ROOT, Admin, Stack, atrium_env, free_port, mint_token

if TYPE_CHECKING:
    from collections.abc import Callable

TENANT = "bench"
BLOCK = 25  # sequential calls per path per alternating block


@dataclass(frozen=True)
class Plan:
    name: str
    warmup: int = 30
    latency_calls: int = 300
    throughput_calls: int = 2000
    throughput_rounds: int = 2
    concurrency: int = 32
    list_tools: int = 500
    lists: int = 50
    time_limit: float = 300.0


FULL = Plan("full")
QUICK = Plan("quick", warmup=10, latency_calls=100, throughput_calls=300, lists=20, time_limit=90.0)


@dataclass(frozen=True)
class Target:
    """A tool to call, directly at an upstream and through Atrium."""

    label: str
    direct_url: str
    tool: str
    exposed: str
    arguments: dict[str, Any]


Samples = list[float]
Pair = tuple[Call, Call]


@dataclass
class PathFigures:
    latencies: Samples
    pings: Samples
    throughput: Throughput


@dataclass
class CallFigures:
    label: str
    direct: PathFigures
    atrium: PathFigures


@dataclass
class ListFigures:
    tools: int
    atrium: Samples
    direct: Samples


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[bench {time.perf_counter() - _STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


async def alternating(calls: Pair, labels: tuple[str, str], count: int, errors: Errors) -> tuple[Samples, Samples]:
    """``count`` sequential calls on each path, in alternating blocks so that noise falls on both."""
    samples: tuple[Samples, Samples] = ([], [])
    for start in range(0, count, BLOCK):
        for index in (0, 1):
            block = min(BLOCK, count - start)
            samples[index].extend(await timed_calls(calls[index], block, labels[index], errors))
    return samples


async def measure_calls(target: Target, atrium_url: str, key: str, plan: Plan, errors: Errors) -> CallFigures:
    """Latency (c=1) and throughput (c=``plan.concurrency``) of one tool, direct and via Atrium."""
    labels = (f"{target.label} direct", f"{target.label} via Atrium")
    async with new_http_client(plan.concurrency) as direct_http, new_http_client(plan.concurrency) as atrium_http:
        clients = (
            RawMcpClient(direct_http, target.direct_url, labels[0]),
            RawMcpClient(atrium_http, atrium_url, labels[1], key),
        )
        for client in clients:
            await client.open()
        direct_params = {"name": target.tool, "arguments": target.arguments}
        atrium_params = {"name": target.exposed, "arguments": target.arguments}
        calls: Pair = (
            lambda: clients[0].request("tools/call", direct_params),
            lambda: clients[1].request("tools/call", atrium_params),
        )
        direct_result, atrium_result = await calls[0](), await calls[1]()
        if direct_result.get("content") != atrium_result.get("content"):
            raise RuntimeError(f"{target.label}: Atrium answered {atrium_result!r}, the upstream {direct_result!r}")
        await alternating(calls, labels, plan.warmup, errors)  # warm-up: timings dropped, failures kept
        latencies = await alternating(calls, labels, plan.latency_calls, errors)
        pings: Pair = (lambda: clients[0].request("ping", {}), lambda: clients[1].request("ping", {}))
        ping_latencies = await alternating(pings, labels, plan.latency_calls, errors)
        progress(f"measuring throughput at concurrency {plan.concurrency}, {target.label} upstream")
        throughputs = (Throughput(), Throughput())
        per_round = plan.throughput_calls // plan.throughput_rounds
        for _ in range(plan.throughput_rounds):
            for index in (0, 1):
                label = f"{labels[index]}, c={plan.concurrency}"
                measured = await run_concurrently(calls[index], per_round, plan.concurrency, label, errors)
                throughputs[index].calls += measured.calls
                throughputs[index].failed += measured.failed
                throughputs[index].seconds += measured.seconds
        for client in clients:
            await client.close()
    return CallFigures(
        target.label,
        PathFigures(latencies[0], ping_latencies[0], throughputs[0]),
        PathFigures(latencies[1], ping_latencies[1], throughputs[1]),
    )


async def measure_list(direct_url: str, atrium_url: str, key: str, plan: Plan, errors: Errors) -> ListFigures:
    """``tools/list`` of the wide virtual server through Atrium, and of the upstream itself."""
    labels = ("tools/list direct", "tools/list via Atrium")
    async with new_http_client(1) as direct_http, new_http_client(1) as atrium_http:
        clients = (
            RawMcpClient(direct_http, direct_url, labels[0]),
            RawMcpClient(atrium_http, atrium_url, labels[1], key),
        )
        for client in clients:
            await client.open()
        for client in clients:
            listed = await client.request("tools/list", {})
            if len(listed["tools"]) != plan.list_tools or listed.get("nextCursor") is not None:
                raise RuntimeError(f"{client.label}: {len(listed['tools'])} tools in the first page")
        lists: Pair = (lambda: clients[0].request("tools/list", {}), lambda: clients[1].request("tools/list", {}))
        await alternating(lists, labels, 5, errors)
        direct, atrium = await alternating(lists, labels, plan.lists, errors)
        for client in clients:
            await client.close()
    return ListFigures(plan.list_tools, atrium, direct)


async def set_up(api: httpx.AsyncClient, fast: str, demo: str, wide: str) -> str:
    """The tenant, upstreams, approvals and virtual servers; returns an agent key that may use them."""
    admin = Admin(api, TENANT)
    # Low-risk read-only tools (the fast upstreams') are approved at sync; the rest by the API below.
    await admin.create_tenant(auto_approve_low_risk=True)
    fast_id = await admin.add_upstream("fast", fast)
    demo_id = await admin.add_upstream("demo", demo)
    wide_id = await admin.add_upstream("wide", wide)
    progress("upstreams registered and synced")
    approved = [await admin.approve_all(upstream_id) for upstream_id in (fast_id, demo_id, wide_id)]
    wide_items = approved[2][0]
    automatic = sum(len(items) - by_api for items, by_api in approved)
    progress(
        f"all versions approved: {automatic} at sync (low risk, read-only), {sum(n for _, n in approved)} by the API"
    )
    await admin.curate(
        "calls",
        [
            {"upstream_id": fast_id, "kind": "tool", "key": "echo"},
            {"upstream_id": demo_id, "kind": "tool", "key": "add"},
        ],
    )
    await admin.curate("wide", [{"upstream_id": wide_id, "kind": "tool", "key": item["key"]} for item in wide_items])
    # Through the agent's role, so every call and list pays authentication and the policy decision.
    return await admin.agent_key("bench", "bencher", ["calls", "wide"])


async def run(plan: Plan, workdir: Path) -> tuple[list[CallFigures], ListFigures, Errors, str]:
    """Start everything, set it up, measure; returns the figures, errors and Atrium's error log."""
    errors = Errors()
    python = sys.executable
    async with Stack(workdir) as stack:
        ports = [free_port() for _ in range(4)]
        fast = await stack.spawn(
            "fast", [python, "bench/fast_upstream.py", "--port", str(ports[0])], port=ports[0], path="/mcp"
        )
        wide_argv = [python, "bench/fast_upstream.py", "--port", str(ports[1]), "--tools", str(plan.list_tools)]
        wide = await stack.spawn("wide", wide_argv, port=ports[1], path="/mcp")
        demo_argv = [python, "-m", "composer.demo_upstream", "--http", str(ports[2])]
        demo = await stack.spawn("demo", demo_argv, port=ports[2], path="/mcp")
        env = atrium_env(workdir)
        roles = ("platform_admin", f"tenant_admin:{TENANT}", f"security_reviewer:{TENANT}")
        token = await anyio.to_thread.run_sync(lambda: mint_token(env, "bench", *roles))
        progress("database migrated, token minted")
        atrium = await stack.spawn(
            "atrium", [ATRIUM, "serve", "--port", str(ports[3])], port=ports[3], path="", env=env
        )
        for service in (fast, wide, demo):
            await stack.ready(service)
        await stack.ready(atrium, health="/health")
        progress("processes up; setting up tenant, upstreams, approvals and virtual servers")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=atrium.url, headers=headers, timeout=60) as api:
            key = await set_up(api, fast.url, demo.url, wide.url)
        calls_url = f"{atrium.url}/mcp/{TENANT}/calls/bencher"
        targets = (
            Target("fast", fast.url, "echo", "fast_echo", {"text": "hello"}),
            Target("demo (SDK)", demo.url, "add", "demo_add", {"a": 2, "b": 3}),
        )
        figures = []
        for target in targets:
            progress(f"measuring tools/call and ping, {target.label} upstream")
            figures.append(await measure_calls(target, calls_url, key, plan, errors))
        progress(f"measuring tools/list of {plan.list_tools} tools")
        listing = await measure_list(wide.url, f"{atrium.url}/mcp/{TENANT}/wide/bencher", key, plan, errors)
        atrium_errors = [
            line
            for line in atrium.log.read_text(errors="replace").splitlines()
            if "ERROR" in line or "Traceback" in line
        ]
    return figures, listing, errors, "\n".join(atrium_errors[:30])


def _ms(value: float) -> str:
    return f"{value:8.2f}"


def latency_table(figures: list[CallFigures], samples: Callable[[PathFigures], Samples]) -> None:
    print(f"{'upstream':<12}{'':>3}{'direct':>9}{'Atrium':>9}{'added':>9}{'ratio':>8}")
    for figure in figures:
        for name, fraction in (("p50", 0.50), ("p99", 0.99)):
            direct = percentile(samples(figure.direct), fraction)
            via = percentile(samples(figure.atrium), fraction)
            print(
                f"{figure.label:<12}{name:>3}{_ms(direct):>9}{_ms(via):>9}{_ms(via - direct):>9}{via / direct:>7.1f}x"
            )


def report(plan: Plan, figures: list[CallFigures], listing: ListFigures, errors: Errors, atrium_log: str) -> None:
    cpus = os.cpu_count()
    print(f"\nAtrium proxy benchmark ({plan.name}) - Python {platform.python_version()}, {cpus} CPUs, 127.0.0.1")
    print("Load generator, Atrium and upstreams share these CPUs; Atrium has default settings (INFO logs).\n")
    print(f"tools/call latency, concurrency 1: {plan.latency_calls} calls per path after {plan.warmup} warm-up (ms)")
    latency_table(figures, lambda path: path.latencies)
    print("\nping latency, for reference: Atrium answers ping itself, with no upstream hop (ms)")
    latency_table(figures, lambda path: path.pings)
    rate_title = f"tools/call throughput, concurrency {plan.concurrency}: {plan.throughput_calls} calls per path"
    print(f"\n{rate_title} (successful calls/s)")
    print(f"{'upstream':<15}{'direct':>9}{'Atrium':>9}{'ratio':>8}")
    for figure in figures:
        direct, via = figure.direct.throughput.per_second, figure.atrium.throughput.per_second
        print(f"{figure.label:<15}{direct:>9.0f}{via:>9.0f}{via / direct:>7.2f}x")
    print("(the load generator shares the CPUs: direct figures are bounded by it as much as by the upstream)")
    list_p50 = percentile(listing.atrium, 0.5)
    print(f"\ntools/list of {listing.tools} tools, {plan.lists} lists (ms)")
    print(f"{'':<15}{'p50':>9}{'p99':>9}")
    print(f"{'via Atrium':<15}{_ms(list_p50):>9}{_ms(percentile(listing.atrium, 0.99)):>9}")
    print(f"{'direct':<15}{_ms(percentile(listing.direct, 0.5)):>9}{_ms(percentile(listing.direct, 0.99)):>9}")

    fast = figures[0]
    added_p50 = percentile(fast.atrium.latencies, 0.5) - percentile(fast.direct.latencies, 0.5)
    added_p99 = percentile(fast.atrium.latencies, 0.99) - percentile(fast.direct.latencies, 0.99)
    rate = fast.atrium.throughput.per_second
    targets = [
        ("added latency p50, fast upstream, c=1", "<= 1 ms", f"{added_p50:.2f} ms", added_p50 <= 1.0),
        ("added latency p99, fast upstream, c=1", "<= 5 ms", f"{added_p99:.2f} ms", added_p99 <= 5.0),
        (f"throughput via Atrium, fast, c={plan.concurrency}", ">= 1,000/s", f"{rate:,.0f}/s", rate >= 1000),
        (f"tools/list of {listing.tools} tools, p50", "<= 5 ms", f"{list_p50:.2f} ms", list_p50 <= 5.0),
    ]
    print(f"\n{'target':<42}{'goal':>12}{'measured':>12}  met")
    for name, goal, measured, met in targets:
        print(f"{name:<42}{goal:>12}{measured:>12}  {'yes' if met else 'NO'}")

    print(f"\nfailed requests: {sum(errors.counts.values())}")
    for (label, description), count in errors.counts.most_common(20):
        print(f"  {count:>5} x {label}: {description}")
    if atrium_log:
        print("Atrium logged:\n" + atrium_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls: a smoke run under about 40 seconds")
    plan = QUICK if parser.parse_args().quick else FULL
    started = time.perf_counter()
    os.chdir(REPO_ROOT)
    with tempfile.TemporaryDirectory(prefix="atrium-bench-") as tmp:

        async def bounded() -> tuple[list[CallFigures], ListFigures, Errors, str]:
            with anyio.fail_after(plan.time_limit):
                return await run(plan, Path(tmp))

        figures, listing, errors, atrium_log = anyio.run(bounded)
    progress("all processes stopped")
    report(plan, figures, listing, errors, atrium_log)
    print(f"\nrun took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
