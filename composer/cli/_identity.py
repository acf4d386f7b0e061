"""Who may speak: admin tokens (straight to the database), tenants' agent keys and trusted OAuth issuers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import click

from composer.cli._common import admin_api, fail, load_settings, show, with_api
from registry import AtriumError, Tokens, create_engine, create_session_factory, upgrade_database


@click.group()
def token() -> None:
    """Admin API tokens (written straight to the database: this is how the first admin gets in)."""


@token.command("create")
@click.option("--principal", required=True, help="Who the token speaks for, e.g. alice@example.com.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="platform_admin, tenant_admin:<tenant>, security_reviewer:<tenant> or security_reviewer:*",
)
@click.option("--description", default="")
@click.option("--ttl-days", type=int, default=None, help="Expire after this many days.")
def token_create(principal: str, roles: tuple[str, ...], description: str, ttl_days: int | None) -> None:
    """Mint a token; its secret is printed once and never stored."""

    async def run() -> str:
        engine = create_engine(load_settings())
        try:
            await upgrade_database(engine)
            ttl = None if ttl_days is None else timedelta(days=ttl_days)
            minted = await Tokens(create_session_factory(engine)).mint(
                principal, list(roles), description=description, ttl=ttl
            )
            return minted.secret
        finally:
            await engine.dispose()

    try:
        click.echo(asyncio.run(run()))
    except AtriumError as exc:
        fail(f"{exc.code}: {exc.detail}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    async def run() -> None:
        engine = create_engine(load_settings())
        try:
            await Tokens(create_session_factory(engine)).revoke(token_id)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except AtriumError as exc:
        fail(f"{exc.code}: {exc.detail}")
    click.echo(f"token {token_id} revoked")


@click.group("agent-key")
def agent_key() -> None:
    """A tenant's agent keys for its MCP endpoints (the secret is printed once, at create and rotate)."""


def _key_line(key: dict[str, Any]) -> str:
    if key["revoked_at"]:
        state = f"revoked {key['revoked_at']}"
    elif key["replaced_by"]:
        state = f"rotated to {key['replaced_by']}, valid until {key['expires_at']}"
    else:
        state = f"expires {key['expires_at'] or 'never'}"
    return f"{key['id']:>5}  {key['prefix']}…  {key['principal']:<32} {','.join(key['roles']) or '-':<24} {state}"


def _print_minted(minted: dict[str, Any]) -> None:
    # The line to copy goes to stdout alone, so `$(atrium agent-key create …)` captures just it.
    click.echo(_key_line(minted["token"]), err=True)
    click.secho("the secret below is shown once and never stored:", fg="yellow", err=True)
    click.echo(minted["secret"])


@agent_key.command("create")
@click.argument("tenant")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="A role of the tenant, e.g. analyst (repeatable).")
@click.option("--description", default="")
@click.option("--ttl-days", type=int, default=90, show_default=True, help="Expire after this many days.")
@click.option("--no-expiry", is_flag=True, help="A key that never expires (it can still be revoked).")
@with_api
def agent_key_create(
    tenant: str,
    name: str,
    roles: tuple[str, ...],
    description: str,
    ttl_days: int,
    no_expiry: bool,
    url: str,
    api_token: str,
) -> None:
    """Mint a key for agent:NAME in TENANT."""
    body = {"name": name, "roles": list(roles), "description": description, "ttl_days": None if no_expiry else ttl_days}
    with admin_api(url, api_token) as api:
        _print_minted(api.request("POST", f"/api/v1/tenants/{tenant}/agent-keys", json=body))


@agent_key.command("list")
@click.argument("tenant")
@with_api
def agent_key_list(tenant: str, url: str, api_token: str) -> None:
    """Every key of TENANT (never a secret)."""
    with admin_api(url, api_token) as api:
        page = api.request("GET", f"/api/v1/tenants/{tenant}/agent-keys")
    for key in page["items"]:
        click.echo(_key_line(key))


@agent_key.command("rotate")
@click.argument("tenant")
@click.argument("key_id", type=int)
@click.option("--grace-seconds", type=int, default=3600, show_default=True, help="How long the old key still works.")
@click.option("--ttl-days", type=int, default=None, help="The new key's lifetime (default: the old key's).")
@with_api
def agent_key_rotate(
    tenant: str, key_id: int, grace_seconds: int, ttl_days: int | None, url: str, api_token: str
) -> None:
    """Mint the successor of KEY_ID; the old key keeps working for the grace period."""
    body = {"grace_seconds": grace_seconds, "ttl_days": ttl_days}
    with admin_api(url, api_token) as api:
        _print_minted(api.request("POST", f"/api/v1/tenants/{tenant}/agent-keys/{key_id}/rotate", json=body))


@agent_key.command("revoke")
@click.argument("tenant")
@click.argument("key_id", type=int)
@with_api
def agent_key_revoke(tenant: str, key_id: int, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        api.request("DELETE", f"/api/v1/tenants/{tenant}/agent-keys/{key_id}")
    click.echo(f"agent key {key_id} revoked")


@click.group()
def issuer() -> None:
    """The OAuth issuers whose bearer JWTs a tenant's MCP endpoints accept."""


@issuer.command("add")
@click.argument("tenant")
@click.argument("issuer_url")
@click.option("--jwks-uri", default=None, help="Default: found through the issuer's metadata.")
@click.option(
    "--algorithm", "algorithms", multiple=True, help="Accepted algorithm (repeatable; default RS256, ES256, EdDSA)."
)
@click.option("--roles-claim", default="roles", show_default=True, help="Dotted path, e.g. realm_access.roles.")
@click.option("--principal-claim", default="sub", show_default=True)
@click.option("--principal-kind", type=click.Choice(["user", "agent"]), default="user", show_default=True)
@click.option("--required-scope", "scopes", multiple=True, help="A scope every token must carry (repeatable).")
@with_api
def issuer_add(
    tenant: str,
    issuer_url: str,
    jwks_uri: str | None,
    algorithms: tuple[str, ...],
    roles_claim: str,
    principal_claim: str,
    principal_kind: str,
    scopes: tuple[str, ...],
    url: str,
    api_token: str,
) -> None:
    """Trust ISSUER_URL for TENANT's MCP endpoints."""
    body: dict[str, Any] = {
        "issuer": issuer_url,
        "jwks_uri": jwks_uri,
        "roles_claim": roles_claim,
        "principal_claim": principal_claim,
        "principal_kind": principal_kind,
        "required_scopes": list(scopes),
    }
    if algorithms:
        body["algorithms"] = list(algorithms)
    with admin_api(url, api_token) as api:
        show(api.request("POST", f"/api/v1/tenants/{tenant}/issuers", json=body))


@issuer.command("list")
@click.argument("tenant")
@with_api
def issuer_list(tenant: str, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        page = api.request("GET", f"/api/v1/tenants/{tenant}/issuers")
    for item in page["items"]:
        click.echo(f"{item['id']:>5}  {item['issuer']:<48} {','.join(item['algorithms'])}  roles={item['roles_claim']}")


@issuer.command("show")
@click.argument("tenant")
@click.argument("issuer_id", type=int)
@with_api
def issuer_show(tenant: str, issuer_id: int, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        show(api.request("GET", f"/api/v1/tenants/{tenant}/issuers/{issuer_id}"))


@issuer.command("delete")
@click.argument("tenant")
@click.argument("issuer_id", type=int)
@with_api
def issuer_delete(tenant: str, issuer_id: int, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        api.request("DELETE", f"/api/v1/tenants/{tenant}/issuers/{issuer_id}")
    click.echo(f"issuer {issuer_id} deleted")
