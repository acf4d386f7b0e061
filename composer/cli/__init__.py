"""The ``atrium`` command line: serve, migrate, mint tokens, and drive the admin API."""

from __future__ import annotations

from composer.cli._main import main

__all__ = ["main"]
