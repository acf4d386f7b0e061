"""Policy lines as Casbin CSV, a tenant's or the platform's: export, import, add, remove."""

from __future__ import annotations

import json
from typing import Any

import click

from composer.cli._common import admin_api, fail, with_api


@click.group("policies")
def policies_group() -> None:
    """Policy lines as Casbin CSV: a tenant's (--tenant) or the platform's (--platform)."""


def _policies_path(tenant: str | None, platform: bool) -> str:
    if platform == (tenant is not None):
        fail("name exactly one of --tenant SLUG and --platform")
    return "/api/v1/policies" if tenant is None else f"/api/v1/tenants/{tenant}/policies"


policy_scope = [
    click.option("--tenant", default=None, help="The tenant whose lines (its domain)."),
    click.option("--platform", is_flag=True, help='The platform-wide lines (domain "*").'),
]


def with_scope(func: Any) -> Any:
    for option in reversed(policy_scope):
        func = option(func)
    return with_api(func)


@policies_group.command("export")
@click.option("--output", "-o", type=click.File("w"), default="-", help="Write here (default stdout).")
@with_scope
def policies_export(output: Any, tenant: str | None, platform: bool, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        output.write(api.text("GET", f"{_policies_path(tenant, platform)}/csv"))


@policies_group.command("import")
@click.argument("source", type=click.File("r"))
@with_scope
def policies_import(source: Any, tenant: str | None, platform: bool, url: str, api_token: str) -> None:
    """Replace the lines with SOURCE's (a Casbin CSV file, - for stdin), atomically."""
    with admin_api(url, api_token) as api:
        lines = json.loads(api.text("PUT", f"{_policies_path(tenant, platform)}/csv", content=source.read()))
    click.echo(f"imported {len(lines)} lines")


@policies_group.command("add")
@click.argument("lines", nargs=-1, required=True)
@with_scope
def policies_add(lines: tuple[str, ...], tenant: str | None, platform: bool, url: str, api_token: str) -> None:
    """Add LINES, each one CSV line: 'p, analyst, acme, mcp/support/*, call, allow'."""
    body = []
    for line in lines:
        ptype, *values = (token.strip() for token in line.split(","))
        body.append({"ptype": ptype, "values": values})
    with admin_api(url, api_token) as api:
        added = api.request("POST", _policies_path(tenant, platform), json=body)
    for line in added:
        click.echo(f"{line['id']}\t{', '.join([line['ptype'], *line['values']])}")


@policies_group.command("remove")
@click.argument("line_id", type=int)
@with_scope
def policies_remove(line_id: int, tenant: str | None, platform: bool, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        api.request("DELETE", f"{_policies_path(tenant, platform)}/{line_id}")
    click.echo(f"policy line {line_id} removed")
