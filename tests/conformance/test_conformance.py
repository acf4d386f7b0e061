"""The official MCP conformance suite passes through a virtual endpoint of a real Atrium.

``@modelcontextprotocol/conformance`` (npm) drives ``/mcp/conf/everything``, a virtual server
curating every tool, prompt, resource and template of ``tests/conformance/upstream.py`` under
their original names; Atrium forwards to that upstream over Streamable HTTP. One run per
protocol era, each with the suite release that defines it:

* 2025-11-25 (the ``initialize`` handshake): 0.1.16, every scenario of that revision
  (``--suite all``: the active ones and the two still pending in 0.1.16).
* 2026-07-28 (stateless): the newest 0.2.x on npm, 0.2.0-alpha.12 (no 0.2 final yet), with
  ``--requirements 2026-07-28``: exactly the scenarios the revision requires, plus the ones
  the suite runs without scoring (pending ones, which must pass here too, and the tasks
  extension, excluded below).

The suite connects with an agent key (``authorize.cjs`` adds it to every request it sends).
Node >= 22 and the suites are installed with npm into a cache outside the work tree
(``tests/conformance/_suite.py``); the first run pays for that, some twenty seconds.
Every check of every scenario must succeed (warnings do not fail), but for the ``excluded``
scenarios and the ``known_failures``: open Atrium bugs, which must keep failing until fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from tests.conformance._endpoint import conformance_endpoint
from tests.conformance._suite import cache_root, node_binary, run_suite, suite_cli

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

_TASKS = "the io.modelcontextprotocol/tasks extension (SEP-2663): optional, not scored for 2026-07-28, not offered"
_SUITE_TIMEOUT = 600


@dataclass(frozen=True)
class Era:
    protocol_version: str
    suite_version: str
    args: tuple[str, ...]
    # Not Atrium's to pass: never asserted.
    excluded: dict[str, str] = field(default_factory=dict)
    # Atrium bugs, still open: each must still fail, so that fixing one forces its removal here.
    known_failures: dict[str, str] = field(default_factory=dict)


ERAS = [
    Era(
        "2025-11-25",
        "0.1.16",
        ("--suite", "all", "--spec-version", "2025-11-25"),
    ),
    Era(
        "2026-07-28",
        "0.2.0-alpha.12",
        ("--requirements", "2026-07-28"),
        excluded={
            "tasks-lifecycle": _TASKS,
            "tasks-capability-negotiation": _TASKS,
            "tasks-wire-fields": _TASKS,
            "tasks-request-state-removal": _TASKS,
            "tasks-mrtr-input": _TASKS,
            "tasks-request-headers": _TASKS,
            "tasks-dispatch-and-envelope": _TASKS,
            "tasks-status-notifications": _TASKS,
            "tasks-required-task-error": _TASKS,
            "tasks-mrtr-composition": _TASKS,
        },
    ),
]


def _install(suite_version: str) -> tuple[str, Path]:
    root = cache_root()
    return node_binary(root), suite_cli(suite_version, root)


@pytest.mark.timeout(_SUITE_TIMEOUT + 300)  # plus a cold npm install
@pytest.mark.parametrize("era", ERAS, ids=[era.protocol_version for era in ERAS])
async def test_the_conformance_suite_passes_through_a_virtual_endpoint(era: Era, tmp_path: Path) -> None:
    node, cli = await anyio.to_thread.run_sync(_install, era.suite_version)
    async with conformance_endpoint(f"sqlite+aiosqlite:///{tmp_path / 'atrium.db'}") as endpoint:
        with anyio.fail_after(_SUITE_TIMEOUT):
            run = await run_suite(
                node, cli, endpoint.url, era.args, tmp_path / "results", authorization=endpoint.authorization
            )

    assert run.results, f"the suite reported no scenario:\n{run.output[-4000:]}"
    fixed = sorted(name for name in era.known_failures if name in run.results and run.results[name].passed)
    assert not fixed, f"known failures that now pass, remove them from known_failures: {fixed}"
    ignored = era.excluded.keys() | era.known_failures.keys()
    scored = {name: result for name, result in run.results.items() if name not in ignored}
    failed = {name: result for name, result in scored.items() if not result.passed}
    report = "\n".join(
        f"{name}: {result.summary()}\n"
        + "\n".join(f"    {check.get('id')}: {check.get('errorMessage')}" for check in result.failures)
        for name, result in sorted(failed.items())
    )
    assert not failed, f"{len(failed)} of {len(scored)} scenarios failed:\n{report}"
    assert len(scored) >= 30, sorted(scored)  # a suite that silently ran nothing is no pass
