"""Atrium's composer: the HTTP app (admin API now, virtual MCP endpoints next) and the CLI."""

from __future__ import annotations

from composer._app import create_app

__all__ = ["create_app"]
