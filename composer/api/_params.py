"""Query parameters shared by the list routes."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

Cursor = Annotated[
    str | None, QueryParameter(description="Opaque cursor from a previous page's next_cursor", max_length=200)
]
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size (1-500)")]
TenantFilter = Annotated[str | None, QueryParameter(max_length=64, description="Tenant slug")]
