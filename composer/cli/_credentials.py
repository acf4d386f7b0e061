"""Credentials: a tenant's values for its upstreams, the platform's for discovering global ones (over
the admin API), and the keys that encrypt them."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from composer.cli._common import admin_api, fail, load_settings, show, with_api
from registry import AtriumError, CredentialStore, SecretBox, create_engine, create_session_factory, generate_key


@click.group("secrets")
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
        settings = load_settings()
        engine = create_engine(settings)
        try:
            return await CredentialStore(create_session_factory(engine), SecretBox.from_settings(settings)).rotate()
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(run())
    except AtriumError as exc:
        fail(f"{exc.code}: {exc.detail}")
    click.echo(f"re-encrypted {count} credentials with the primary key")


@click.group()
def credential() -> None:
    """A tenant's credentials for the upstreams it uses, or with --platform the platform's for
    discovering a global upstream (values are write-only)."""


_PLATFORM = click.option(
    "--platform",
    is_flag=True,
    help="The platform's credential for a global upstream (used only to sync it); no TENANT then.",
)


def _credentials_path(platform: bool, args: tuple[str, ...], *, named: bool) -> tuple[str, str]:
    """The API path that ``TENANT UPSTREAM_ID [NAME]`` (or ``--platform UPSTREAM_ID [NAME]``) names, and NAME."""
    expected = ([] if platform else ["TENANT"]) + ["UPSTREAM_ID"] + (["NAME"] if named else [])
    if len(args) != len(expected):
        raise click.UsageError(f"expected {' '.join(expected)}" + (" with --platform" if platform else ""))
    given = dict(zip(expected, args, strict=True))
    try:
        upstream_id = int(given["UPSTREAM_ID"])
    except ValueError:
        raise click.BadParameter(f"{given['UPSTREAM_ID']!r} is not an upstream id", param_hint="UPSTREAM_ID") from None
    if platform:
        base = f"/api/v1/upstreams/{upstream_id}/credentials"
    else:
        base = f"/api/v1/tenants/{given['TENANT']}/upstreams/{upstream_id}/credentials"
    name = given.get("NAME", "")
    return (f"{base}/{name}" if named else base), name


def _read_secret(what: str) -> str:
    """From stdin when it is piped, else a hidden prompt: never argv, which `ps` shows to everyone."""
    value = sys.stdin.read().rstrip("\r\n") if not sys.stdin.isatty() else click.prompt(what, hide_input=True)
    if not value:
        fail(f"no {what} given on stdin")
    return str(value)


@credential.command("set")
@_PLATFORM
@click.argument("args", nargs=-1, metavar="[TENANT] UPSTREAM_ID NAME")
@click.option("--oauth-token-url", default=None, help="OAuth client credentials: the secret read is the client's.")
@click.option("--client-id", default=None)
@click.option("--scope", default=None)
@click.option("--audience", default=None)
@click.option("--auth-method", type=click.Choice(["client_secret_basic", "client_secret_post"]), default=None)
@with_api
def credential_set(
    platform: bool,
    args: tuple[str, ...],
    oauth_token_url: str | None,
    client_id: str | None,
    scope: str | None,
    audience: str | None,
    auth_method: str | None,
    url: str,
    api_token: str,
) -> None:
    """Set the value of ${NAME} for TENANT's use of UPSTREAM_ID, read from stdin or a hidden prompt.

    With --platform (and no TENANT): the platform's value, used only to sync a global upstream.
    """
    path, _name = _credentials_path(platform, args, named=True)
    body: dict[str, Any]
    if oauth_token_url is None:
        body = {"kind": "secret", "value": _read_secret("value")}
    else:
        if client_id is None:
            fail("--oauth-token-url needs --client-id")
        oauth = {"scope": scope, "audience": audience, "auth_method": auth_method}
        body = {"kind": "oauth_client_credentials", "token_url": oauth_token_url, "client_id": client_id}
        body |= {key: value for key, value in oauth.items() if value is not None}
        body["client_secret"] = _read_secret("client secret")
    with admin_api(url, api_token) as api:
        show(api.request("PUT", path, json=body))


@credential.command("list")
@_PLATFORM
@click.argument("args", nargs=-1, metavar="[TENANT] UPSTREAM_ID")
@with_api
def credential_list(platform: bool, args: tuple[str, ...], url: str, api_token: str) -> None:
    """TENANT's (or with --platform the platform's) credentials for UPSTREAM_ID: names, never values."""
    path, _name = _credentials_path(platform, args, named=False)
    with admin_api(url, api_token) as api:
        page = api.request("GET", path)
    for item in page["items"]:
        click.echo(f"{item['name']:<24} {item['kind']:<26} {item['updated_at']}  {item['metadata'] or ''}")


@credential.command("delete")
@_PLATFORM
@click.argument("args", nargs=-1, metavar="[TENANT] UPSTREAM_ID NAME")
@with_api
def credential_delete(platform: bool, args: tuple[str, ...], url: str, api_token: str) -> None:
    """Delete TENANT's (or with --platform the platform's) credential NAME for UPSTREAM_ID."""
    path, name = _credentials_path(platform, args, named=True)
    with admin_api(url, api_token) as api:
        api.request("DELETE", path)
    click.echo(f"credential {name} deleted")
