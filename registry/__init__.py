"""Atrium's registry: the catalog of upstream MCP servers and their reviewed definitions.

It never imports the web framework or the composer; the composer builds on it.
"""

from __future__ import annotations

from registry._agent_auth import AgentAuthenticator, AgentPrincipal, bearer_token, challenge
from registry._agent_keys import AgentKeys, AgentKeySpec, KeyRotation
from registry._canonical import canonical_json, definition_hash, prompt_definition, tool_definition
from registry._catalog import Catalog
from registry._credential_specs import (
    CredentialInfo,
    CredentialKind,
    CredentialSpec,
    OAuthClientCredentials,
    SecretCredential,
)
from registry._credential_store import CredentialStore, DatabaseCredentials
from registry._credentials import CredentialSource, NoCredentials, render_templates, target_for
from registry._db import Base, create_engine, create_session_factory
from registry._diff import changed_fields, definition_diff
from registry._discovery import Discovery, Transport, UpstreamTarget, discover, watch_list_changed
from registry._errors import (
    AlreadyExistsError,
    AtriumError,
    AuthenticationError,
    ConflictError,
    InsufficientScopeError,
    InvalidAuthorizationError,
    InvalidInputError,
    InvalidTokenError,
    IssuerUnavailableError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    ReviewConflictError,
    SecretKeyError,
    SeparationOfDutiesError,
    StorageError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamReplyError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from registry._issuers import Issuer, Issuers, IssuerSpec
from registry._jwks import JwksCache
from registry._jwt import JwtVerifier, VerifiedToken
from registry._migrate import current_revision, upgrade_database
from registry._naming import default_exposed_name, exposed_name
from registry._oauth import TokenCache
from registry._override_review import OverrideQueue, PendingOverride
from registry._pool import UpstreamPool
from registry._resource_metadata import (
    WELL_KNOWN_PREFIX,
    canonical_uri,
    endpoint_path,
    metadata_url,
    protected_resource_metadata,
    resource_path,
    resource_uri,
    www_authenticate,
)
from registry._review import QueueFilter, Review, ReviewEntry
from registry._scan import Finding, RiskLevel, ScanReport, Severity, is_auto_approvable, scan_definition
from registry._scheduler import SyncScheduler
from registry._secrets import SecretBox, generate_key
from registry._settings import Settings
from registry._specs import TenantPatch, TenantSpec, UpstreamPatch, UpstreamSpec
from registry._sync import SyncService
from registry._tokens import ApiToken, MintedToken, Principal, Tokens, agent_principal
from registry._types import (
    ApprovedDefinition,
    CatalogItem,
    Decision,
    DefinitionVersion,
    ItemKind,
    Page,
    ReviewDecision,
    SyncRun,
    Tenant,
    Upstream,
    VersionStatus,
)
from registry._virtual import (
    EntrySpec,
    NameConflictError,
    ServedEntry,
    VirtualEntry,
    VirtualServer,
    VirtualServers,
    VirtualServerSpec,
)

# Plain sorted() order, which tests/test_architecture.py checks (ruff would put constants first).
__all__ = [  # noqa: RUF022
    "AgentAuthenticator",
    "AgentKeySpec",
    "AgentKeys",
    "AgentPrincipal",
    "AlreadyExistsError",
    "ApiToken",
    "ApprovedDefinition",
    "AtriumError",
    "AuthenticationError",
    "Base",
    "Catalog",
    "CatalogItem",
    "ConflictError",
    "CredentialInfo",
    "CredentialKind",
    "CredentialSource",
    "CredentialSpec",
    "CredentialStore",
    "DatabaseCredentials",
    "Decision",
    "DefinitionVersion",
    "Discovery",
    "EntrySpec",
    "Finding",
    "InsufficientScopeError",
    "InvalidAuthorizationError",
    "InvalidInputError",
    "InvalidTokenError",
    "Issuer",
    "IssuerSpec",
    "IssuerUnavailableError",
    "Issuers",
    "ItemKind",
    "JwksCache",
    "JwtVerifier",
    "KeyRotation",
    "MintedToken",
    "MissingCredentialsError",
    "NameConflictError",
    "NoCredentials",
    "NotFoundError",
    "OAuthClientCredentials",
    "OverrideQueue",
    "Page",
    "PendingOverride",
    "PermissionDeniedError",
    "Principal",
    "QueueFilter",
    "Review",
    "ReviewConflictError",
    "ReviewDecision",
    "ReviewEntry",
    "RiskLevel",
    "ScanReport",
    "SecretBox",
    "SecretCredential",
    "SecretKeyError",
    "SeparationOfDutiesError",
    "ServedEntry",
    "Settings",
    "Severity",
    "StorageError",
    "SyncRun",
    "SyncScheduler",
    "SyncService",
    "Tenant",
    "TenantPatch",
    "TenantSpec",
    "TokenCache",
    "Tokens",
    "Transport",
    "Upstream",
    "UpstreamError",
    "UpstreamPatch",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamReplyError",
    "UpstreamSpec",
    "UpstreamTarget",
    "UpstreamTimeoutError",
    "UpstreamUnreachableError",
    "VerifiedToken",
    "VersionStatus",
    "VirtualEntry",
    "VirtualServer",
    "VirtualServerSpec",
    "VirtualServers",
    "WELL_KNOWN_PREFIX",
    "agent_principal",
    "bearer_token",
    "canonical_json",
    "canonical_uri",
    "challenge",
    "changed_fields",
    "create_engine",
    "create_session_factory",
    "current_revision",
    "default_exposed_name",
    "definition_diff",
    "definition_hash",
    "discover",
    "endpoint_path",
    "exposed_name",
    "generate_key",
    "is_auto_approvable",
    "metadata_url",
    "prompt_definition",
    "protected_resource_metadata",
    "render_templates",
    "resource_path",
    "resource_uri",
    "scan_definition",
    "target_for",
    "tool_definition",
    "upgrade_database",
    "watch_list_changed",
    "www_authenticate",
]
