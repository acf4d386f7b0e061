"""The admin HTTP API (``/api/v1``): tenants, upstreams, credentials, catalog, review, virtual servers, policies."""

from __future__ import annotations

from composer.api._agent_keys import AgentKeyController
from composer.api._catalog import CatalogController
from composer.api._credentials import CredentialController, PlatformCredentialController
from composer.api._issuers import IssuerController
from composer.api._policies import PlatformPolicyController, TenantPolicyController
from composer.api._reviews import ReviewController
from composer.api._tenants import TenantController
from composer.api._upstreams import UpstreamController
from composer.api._virtual_servers import VirtualServerController

__all__ = [
    "AgentKeyController",
    "CatalogController",
    "CredentialController",
    "IssuerController",
    "PlatformCredentialController",
    "PlatformPolicyController",
    "ReviewController",
    "TenantController",
    "TenantPolicyController",
    "UpstreamController",
    "VirtualServerController",
]
