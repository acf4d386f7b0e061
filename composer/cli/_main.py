"""The root ``atrium`` group, the commands that run the server itself (serve, db), and the families."""

from __future__ import annotations

import asyncio
import os

import click

from composer.cli._catalog import tenant, upstream
from composer.cli._common import load_settings
from composer.cli._credentials import credential, secrets_group
from composer.cli._identity import agent_key, issuer, token
from composer.cli._policies import policies_group
from composer.cli._review import review
from registry import create_engine, upgrade_database


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
        load_settings(),
        **{k: v for k, v in {"host": host, "port": port}.items() if v is not None},
        demo=demo or load_settings().demo,
    )
    uvicorn.run(
        create_app(settings, environ=os.environ),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to ATRIUM_DATABASE_URL."""

    async def run() -> None:
        engine = create_engine(load_settings())
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    click.echo("database is up to date")


for _family in (token, secrets_group, tenant, upstream, credential, agent_key, issuer, policies_group, review):
    main.add_command(_family)
