"""What every command family shares: settings, failing and printing, and the admin-API client."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import httpx

from composer._client import AdminClient, ApiError
from registry import Settings


def load_settings() -> Settings:
    return Settings.from_env(os.environ)


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def show(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


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
def admin_api(url: str, api_token: str) -> Iterator[AdminClient]:
    try:
        with AdminClient(url, api_token) as client:
            yield client
    except ApiError as exc:
        fail(f"error {exc.status} {exc.code}: {exc.detail}")
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {type(exc).__name__}")


def pages(api: AdminClient, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    cursor = None
    while True:
        page = api.request("GET", path, params={**params, "cursor": cursor, "limit": 200})
        yield page["items"]
        cursor = page.get("next_cursor")
        if cursor is None:
            return
