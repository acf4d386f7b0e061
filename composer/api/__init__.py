"""The admin HTTP API (``/api/v1``): tenants, upstreams, catalog and security review."""

from __future__ import annotations

from composer.api._catalog import CatalogController
from composer.api._reviews import ReviewController
from composer.api._tenants import TenantController
from composer.api._upstreams import UpstreamController

__all__ = ["CatalogController", "ReviewController", "TenantController", "UpstreamController"]
