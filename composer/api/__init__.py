"""The admin HTTP API (``/api/v1``): tenants, upstreams, credentials, catalog, review, virtual servers."""

from __future__ import annotations

from composer.api._catalog import CatalogController
from composer.api._credentials import CredentialController
from composer.api._reviews import ReviewController
from composer.api._tenants import TenantController
from composer.api._upstreams import UpstreamController
from composer.api._virtual_servers import VirtualServerController

__all__ = [
    "CatalogController",
    "CredentialController",
    "ReviewController",
    "TenantController",
    "UpstreamController",
    "VirtualServerController",
]
