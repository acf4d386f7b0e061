"""Filling the catalog: tenants, upstreams, and syncing an upstream now."""

from __future__ import annotations

import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from composer.cli._common import admin_api, fail, pages, show, with_api


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep:
            fail(f"{what} must look like NAME=VALUE, got {value!r}")
        pairs[name] = rest
    return pairs


@click.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--separation-of-duties", is_flag=True)
@with_api
def tenant_create(slug: str, name: str, separation_of_duties: bool, url: str, api_token: str) -> None:
    body = {"slug": slug, "name": name, "separation_of_duties": separation_of_duties}
    with admin_api(url, api_token) as api:
        show(api.request("POST", "/api/v1/tenants", json=body))


@click.group()
def upstream() -> None:
    """Upstream MCP servers."""


@upstream.command("add")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--tenant", default=None, help="Tenant slug; omit for a global upstream.")
@click.option("--http", "http_url", default=None, help="Streamable HTTP endpoint URL.")
@click.option("--sse", "sse_url", default=None, help="Legacy HTTP+SSE endpoint URL.")
@click.option("--stdio", "stdio_command", default=None, help="Command line of a stdio server.")
@click.option("--header", multiple=True, help="NAME=TEMPLATE, may use ${CREDENTIAL}.")
@click.option("--env", multiple=True, help="NAME=TEMPLATE for stdio servers.")
@click.option("--interval", type=int, default=None, help="Sync every N seconds.")
@with_api
def upstream_add(
    slug: str,
    name: str,
    tenant: str | None,
    http_url: str | None,
    sse_url: str | None,
    stdio_command: str | None,
    header: tuple[str, ...],
    env: tuple[str, ...],
    interval: int | None,
    url: str,
    api_token: str,
) -> None:
    """Register an upstream (exactly one of --http, --sse, --stdio)."""
    chosen = [(t, v) for t, v in (("streamable_http", http_url), ("sse", sse_url), ("stdio", stdio_command)) if v]
    if len(chosen) != 1:
        fail("give exactly one of --http, --sse or --stdio")
    transport, target = chosen[0]
    body: dict[str, Any] = {"slug": slug, "name": name, "tenant": tenant, "transport": transport}
    if transport == "stdio":
        body |= {"command": shlex.split(target), "env_templates": _pairs(env, "--env")}
    else:
        body |= {"url": target, "header_templates": _pairs(header, "--header")}
    if interval is not None:
        body["sync_interval_seconds"] = interval
    with admin_api(url, api_token) as api:
        show(api.request("POST", "/api/v1/upstreams", json=body))


@upstream.command("list")
@click.option("--tenant", default=None)
@with_api
def upstream_list(tenant: str | None, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        for page in pages(api, "/api/v1/upstreams", {"tenant": tenant}):
            for item in page:
                click.echo(
                    f"{item['id']:>5}  {item['tenant'] or '(global)':<16} {item['slug']:<24} "
                    f"{item['transport']:<16} {item['last_sync_status']}"
                )


@upstream.command("sync")
@click.argument("upstream_id", type=int)
@with_api
def upstream_sync(upstream_id: int, url: str, api_token: str) -> None:
    """Discover now; shows elapsed time while the upstream answers, then what changed."""
    with admin_api(url, api_token) as api, _progress(f"syncing upstream {upstream_id}"):
        run = api.request("POST", f"/api/v1/upstreams/{upstream_id}/sync")
    counts = run["counts"]
    click.echo(
        f"ok in {run['duration_ms']:.0f} ms: {counts.get('items', 0)} items, "
        f"{counts.get('new_versions', 0)} new versions, {counts.get('changed', 0)} changed, "
        f"{counts.get('removed', 0)} removed"
    )


@contextmanager
def _progress(label: str) -> Iterator[None]:
    """An elapsed-time line on stderr while a long request runs (only on a terminal)."""
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(0.5):
            click.echo(f"\r{label}: {time.monotonic() - started:.0f}s", err=True, nl=False)

    ticker = threading.Thread(target=tick, daemon=True)
    if sys.stderr.isatty():
        ticker.start()
    try:
        yield
    finally:
        done.set()
        if ticker.is_alive():
            ticker.join()
            click.echo("", err=True)
