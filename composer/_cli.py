"""The ``atrium`` command line: serve, migrate, mint tokens, and drive the admin API."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import click
import httpx

from composer._client import AdminClient, ApiError
from registry import (
    AtriumError,
    CredentialStore,
    SecretBox,
    Settings,
    Tokens,
    create_engine,
    create_session_factory,
    generate_key,
    upgrade_database,
)


def _settings() -> Settings:
    return Settings.from_env(os.environ)


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def _show(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group()
def main() -> None:
    """Atrium: a multi-tenant registry and composer of virtual MCP servers."""


@main.command()
@click.option("--host", default=None, help="Bind address (default ATRIUM_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default ATRIUM_PORT or 8000).")
@click.option("--demo", is_flag=True, help="Create a demo tenant, upstream and admin token.")
def serve(host: str | None, port: int | None, demo: bool) -> None:
    """Run the server (migrating the embedded SQLite database first)."""
    import msgspec
    import uvicorn

    from composer._app import create_app

    settings = msgspec.structs.replace(
        _settings(),
        **{k: v for k, v in {"host": host, "port": port}.items() if v is not None},
        demo=demo or _settings().demo,
    )
    uvicorn.run(
        create_app(settings, environ=os.environ),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to ATRIUM_DATABASE_URL."""

    async def run() -> None:
        engine = create_engine(_settings())
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    click.echo("database is up to date")


@main.group()
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
        engine = create_engine(_settings())
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
        _fail(f"{exc.code}: {exc.detail}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    async def run() -> None:
        engine = create_engine(_settings())
        try:
            await Tokens(create_session_factory(engine)).revoke(token_id)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except AtriumError as exc:
        _fail(f"{exc.code}: {exc.detail}")
    click.echo(f"token {token_id} revoked")


@main.group("secrets")
def secrets_group() -> None:
    """The keys that encrypt stored credentials (ATRIUM_SECRET_KEYS, first key encrypts)."""


@secrets_group.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new key. To rotate: put it first in ATRIUM_SECRET_KEYS, run `secrets rotate`, drop the old."""
    click.echo(generate_key())


@secrets_group.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored credential with the first key of ATRIUM_SECRET_KEYS (all or nothing)."""

    async def run() -> int:
        settings = _settings()
        engine = create_engine(settings)
        try:
            return await CredentialStore(create_session_factory(engine), SecretBox.from_settings(settings)).rotate()
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(run())
    except AtriumError as exc:
        _fail(f"{exc.code}: {exc.detail}")
    click.echo(f"re-encrypted {count} credentials with the primary key")


# --- commands that drive a running server's admin API ---------------------------------------

api_options = [
    click.option("--url", envvar="ATRIUM_URL", default="http://127.0.0.1:8000", show_default=True),
    click.option("--token", "api_token", envvar="ATRIUM_TOKEN", required=True, help="Or set ATRIUM_TOKEN."),
]


def with_api(func: Any) -> Any:
    for option in reversed(api_options):
        func = option(func)
    return func


@contextmanager
def _api(url: str, api_token: str) -> Iterator[AdminClient]:
    try:
        with AdminClient(url, api_token) as client:
            yield client
    except ApiError as exc:
        _fail(f"error {exc.status} {exc.code}: {exc.detail}")
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {url}: {type(exc).__name__}")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep:
            _fail(f"{what} must look like NAME=VALUE, got {value!r}")
        pairs[name] = rest
    return pairs


@main.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--separation-of-duties", is_flag=True)
@with_api
def tenant_create(slug: str, name: str, separation_of_duties: bool, url: str, api_token: str) -> None:
    body = {"slug": slug, "name": name, "separation_of_duties": separation_of_duties}
    with _api(url, api_token) as api:
        _show(api.request("POST", "/api/v1/tenants", json=body))


@main.group()
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
        _fail("give exactly one of --http, --sse or --stdio")
    transport, target = chosen[0]
    body: dict[str, Any] = {"slug": slug, "name": name, "tenant": tenant, "transport": transport}
    if transport == "stdio":
        body |= {"command": shlex.split(target), "env_templates": _pairs(env, "--env")}
    else:
        body |= {"url": target, "header_templates": _pairs(header, "--header")}
    if interval is not None:
        body["sync_interval_seconds"] = interval
    with _api(url, api_token) as api:
        _show(api.request("POST", "/api/v1/upstreams", json=body))


@upstream.command("list")
@click.option("--tenant", default=None)
@with_api
def upstream_list(tenant: str | None, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        for page in _pages(api, "/api/v1/upstreams", {"tenant": tenant}):
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
    with _api(url, api_token) as api, _progress(f"syncing upstream {upstream_id}"):
        run = api.request("POST", f"/api/v1/upstreams/{upstream_id}/sync")
    counts = run["counts"]
    click.echo(
        f"ok in {run['duration_ms']:.0f} ms: {counts.get('items', 0)} items, "
        f"{counts.get('new_versions', 0)} new versions, {counts.get('changed', 0)} changed, "
        f"{counts.get('removed', 0)} removed"
    )


@main.group()
def credential() -> None:
    """A tenant's credentials for the upstreams it uses (values are write-only)."""


def _read_secret(what: str) -> str:
    """From stdin when it is piped, else a hidden prompt: never argv, which `ps` shows to everyone."""
    value = sys.stdin.read().rstrip("\r\n") if not sys.stdin.isatty() else click.prompt(what, hide_input=True)
    if not value:
        _fail(f"no {what} given on stdin")
    return str(value)


@credential.command("set")
@click.argument("tenant")
@click.argument("upstream_id", type=int)
@click.argument("name")
@click.option("--oauth-token-url", default=None, help="OAuth client credentials: the secret read is the client's.")
@click.option("--client-id", default=None)
@click.option("--scope", default=None)
@click.option("--audience", default=None)
@click.option("--auth-method", type=click.Choice(["client_secret_basic", "client_secret_post"]), default=None)
@with_api
def credential_set(
    tenant: str,
    upstream_id: int,
    name: str,
    oauth_token_url: str | None,
    client_id: str | None,
    scope: str | None,
    audience: str | None,
    auth_method: str | None,
    url: str,
    api_token: str,
) -> None:
    """Set the value of ${NAME} for TENANT's use of UPSTREAM_ID, read from stdin or a hidden prompt."""
    body: dict[str, Any]
    if oauth_token_url is None:
        body = {"kind": "secret", "value": _read_secret("value")}
    else:
        if client_id is None:
            _fail("--oauth-token-url needs --client-id")
        oauth = {"scope": scope, "audience": audience, "auth_method": auth_method}
        body = {"kind": "oauth_client_credentials", "token_url": oauth_token_url, "client_id": client_id}
        body |= {key: value for key, value in oauth.items() if value is not None}
        body["client_secret"] = _read_secret("client secret")
    with _api(url, api_token) as api:
        _show(api.request("PUT", f"/api/v1/tenants/{tenant}/upstreams/{upstream_id}/credentials/{name}", json=body))


@credential.command("list")
@click.argument("tenant")
@click.argument("upstream_id", type=int)
@with_api
def credential_list(tenant: str, upstream_id: int, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        page = api.request("GET", f"/api/v1/tenants/{tenant}/upstreams/{upstream_id}/credentials")
    for item in page["items"]:
        click.echo(f"{item['name']:<24} {item['kind']:<26} {item['updated_at']}  {item['metadata'] or ''}")


@credential.command("delete")
@click.argument("tenant")
@click.argument("upstream_id", type=int)
@click.argument("name")
@with_api
def credential_delete(tenant: str, upstream_id: int, name: str, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        api.request("DELETE", f"/api/v1/tenants/{tenant}/upstreams/{upstream_id}/credentials/{name}")
    click.echo(f"credential {name} deleted")


@main.group("agent-key")
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
    with _api(url, api_token) as api:
        _print_minted(api.request("POST", f"/api/v1/tenants/{tenant}/agent-keys", json=body))


@agent_key.command("list")
@click.argument("tenant")
@with_api
def agent_key_list(tenant: str, url: str, api_token: str) -> None:
    """Every key of TENANT (never a secret)."""
    with _api(url, api_token) as api:
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
    with _api(url, api_token) as api:
        _print_minted(api.request("POST", f"/api/v1/tenants/{tenant}/agent-keys/{key_id}/rotate", json=body))


@agent_key.command("revoke")
@click.argument("tenant")
@click.argument("key_id", type=int)
@with_api
def agent_key_revoke(tenant: str, key_id: int, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        api.request("DELETE", f"/api/v1/tenants/{tenant}/agent-keys/{key_id}")
    click.echo(f"agent key {key_id} revoked")


@main.group()
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
    with _api(url, api_token) as api:
        _show(api.request("POST", f"/api/v1/tenants/{tenant}/issuers", json=body))


@issuer.command("list")
@click.argument("tenant")
@with_api
def issuer_list(tenant: str, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        page = api.request("GET", f"/api/v1/tenants/{tenant}/issuers")
    for item in page["items"]:
        click.echo(f"{item['id']:>5}  {item['issuer']:<48} {','.join(item['algorithms'])}  roles={item['roles_claim']}")


@issuer.command("show")
@click.argument("tenant")
@click.argument("issuer_id", type=int)
@with_api
def issuer_show(tenant: str, issuer_id: int, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        _show(api.request("GET", f"/api/v1/tenants/{tenant}/issuers/{issuer_id}"))


@issuer.command("delete")
@click.argument("tenant")
@click.argument("issuer_id", type=int)
@with_api
def issuer_delete(tenant: str, issuer_id: int, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        api.request("DELETE", f"/api/v1/tenants/{tenant}/issuers/{issuer_id}")
    click.echo(f"issuer {issuer_id} deleted")


@main.group("policies")
def policies_group() -> None:
    """Policy lines as Casbin CSV: a tenant's (--tenant) or the platform's (--platform)."""


def _policies_path(tenant: str | None, platform: bool) -> str:
    if platform == (tenant is not None):
        _fail("name exactly one of --tenant SLUG and --platform")
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
    with _api(url, api_token) as api:
        output.write(api.text("GET", f"{_policies_path(tenant, platform)}/csv"))


@policies_group.command("import")
@click.argument("source", type=click.File("r"))
@with_scope
def policies_import(source: Any, tenant: str | None, platform: bool, url: str, api_token: str) -> None:
    """Replace the lines with SOURCE's (a Casbin CSV file, - for stdin), atomically."""
    with _api(url, api_token) as api:
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
    with _api(url, api_token) as api:
        added = api.request("POST", _policies_path(tenant, platform), json=body)
    for line in added:
        click.echo(f"{line['id']}\t{', '.join([line['ptype'], *line['values']])}")


@policies_group.command("remove")
@click.argument("line_id", type=int)
@with_scope
def policies_remove(line_id: int, tenant: str | None, platform: bool, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        api.request("DELETE", f"{_policies_path(tenant, platform)}/{line_id}")
    click.echo(f"policy line {line_id} removed")


@main.group()
def review() -> None:
    """Security review of tool and prompt versions."""


@review.command("pending")
@click.option("--tenant", default=None)
@click.option("--min-risk", type=click.Choice(["none", "low", "medium", "high", "critical"]), default=None)
@with_api
def review_pending(tenant: str | None, min_risk: str | None, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        for page in _pages(api, "/api/v1/reviews/pending", {"tenant": tenant, "min_risk": min_risk}):
            for entry in page:
                item, version = entry["item"], entry["version"]
                click.echo(
                    f"item {item['id']:>5}  {version['hash']}  {version['risk']:<8} "
                    f"{item['upstream_slug']}/{item['kind']}:{item['key']}"
                )


@review.command("overrides")
@click.option("--tenant", default=None)
@click.option("--min-risk", type=click.Choice(["none", "low", "medium", "high", "critical"]), default=None)
@with_api
def review_overrides(tenant: str | None, min_risk: str | None, url: str, api_token: str) -> None:
    """Description overrides waiting for a decision, with their scan findings."""
    with _api(url, api_token) as api:
        for page in _pages(api, "/api/v1/reviews/overrides", {"tenant": tenant, "min_risk": min_risk}):
            for entry in page:
                click.echo(
                    f"{entry['tenant']}/{entry['virtual_server']} entry {entry['entry_id']:>5}  "
                    f"{entry['scan']['risk']:<8} {entry['kind']}:{entry['exposed_name']}"
                )
                click.echo(f"  override: {entry['override']!r}")
                for finding in entry["scan"]["findings"]:
                    click.echo(f"  [{finding['severity']}] {finding['code']}: {finding['message']}")


@review.command("decide-override")
@click.argument("tenant")
@click.argument("virtual_server")
@click.argument("entry_id", type=int)
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--reason", required=True)
@with_api
def review_decide_override(
    tenant: str, virtual_server: str, entry_id: int, decision: str, reason: str, url: str, api_token: str
) -> None:
    with _api(url, api_token) as api:
        entry = api.request(
            "POST",
            f"/api/v1/reviews/overrides/{tenant}/{virtual_server}/{entry_id}",
            json={"decision": decision, "reason": reason},
        )
    click.echo(f"override of {entry['exposed_name']} is now {entry['override_status']}")


@review.command("show")
@click.argument("item_id", type=int)
@click.argument("digest")
@with_api
def review_show(item_id: int, digest: str, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        version = api.request("GET", f"/api/v1/catalog/items/{item_id}/versions/{digest}")
    click.echo(f"status {version['status']}, risk {version['risk']}")
    for finding in version["findings"]:
        click.echo(f"  [{finding['severity']}] {finding['code']} at {finding['path']}: {finding['message']}")
    click.echo(version["diff"])


@review.command("approve")
@click.argument("item_id", type=int)
@click.argument("digest")
@click.option("--reason", required=True)
@with_api
def review_approve(item_id: int, digest: str, reason: str, url: str, api_token: str) -> None:
    _decide(item_id, digest, "approve", reason, url, api_token)


@review.command("reject")
@click.argument("item_id", type=int)
@click.argument("digest")
@click.option("--reason", required=True)
@with_api
def review_reject(item_id: int, digest: str, reason: str, url: str, api_token: str) -> None:
    _decide(item_id, digest, "reject", reason, url, api_token)


def _decide(item_id: int, digest: str, decision: str, reason: str, url: str, api_token: str) -> None:
    with _api(url, api_token) as api:
        version = api.request(
            "POST",
            f"/api/v1/reviews/items/{item_id}/versions/{digest}",
            json={"decision": decision, "reason": reason},
        )
    click.echo(f"{digest[:12]} is now {version['status']}")


def _pages(api: AdminClient, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    cursor = None
    while True:
        page = api.request("GET", path, params={**params, "cursor": cursor, "limit": 200})
        yield page["items"]
        cursor = page.get("next_cursor")
        if cursor is None:
            return


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
