"""Agent authentication at a tenant's MCP endpoints: one entry point for both credentials.

``Authorization: Bearer atr_…`` is an agent key of the tenant (registry/_tokens.py); any other
bearer value must be a JWT from one of the tenant's issuers (registry/_jwt.py). Failures raise
the errors of registry/_errors.py whose ``bearer_error`` :func:`challenge` turns into the
response the MCP authorization spec (2025-11-25, "Error Handling") requires::

    resource = resource_uri(request.scheme, request.host, endpoint_path(tenant, vs))
    try:
        agent = await authenticator.authenticate(tenant, request.headers.get("authorization"), resource)
    except (AuthenticationError, PermissionDeniedError, IssuerUnavailableError) as exc:
        status, header = challenge(
            exc, resource_metadata=metadata_url(resource), scopes=await authenticator.scopes(tenant)
        )
        # answer `status`, with `WWW-Authenticate: header` when header is not None

and at ``GET /.well-known/oauth-protected-resource/mcp/{tenant}/{vs}`` (:func:`resource_path`
maps the path back) answer ``await authenticator.resource_metadata(tenant, resource)`` as JSON.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import msgspec

from registry._errors import (
    AtriumError,
    AuthenticationError,
    InsufficientScopeError,
    InvalidAuthorizationError,
    InvalidTokenError,
    MissingCredentialsError,
)
from registry._resource_metadata import protected_resource_metadata, www_authenticate
from registry._tokens import TOKEN_PREFIX

if TYPE_CHECKING:
    from collections.abc import Iterable

    from registry._issuers import Issuers
    from registry._jwt import JwtVerifier
    from registry._tokens import Tokens

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


class AgentPrincipal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated agent at one tenant's endpoint.

    ``roles`` are what the credential asserts (an agent key's roles column, a JWT's roles
    claim); the policy engine decides what they allow. ``method`` says how it authenticated.
    """

    name: str
    tenant: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    expires_at: datetime | None
    method: Literal["api_key", "jwt"]
    issuer: str | None = None
    # The agent key's id, or the JWT's jti: what an audit line can point at.
    credential_id: str | None = None


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header.

    Raises:
        MissingCredentialsError: no header, or another scheme (no Bearer credentials at all).
        InvalidAuthorizationError: a Bearer header without a well-formed token.
    """
    if authorization is None or not authorization.strip():
        raise MissingCredentialsError("this endpoint needs an Authorization: Bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingCredentialsError("this endpoint accepts only Bearer tokens")
    token = token.strip()
    if not token or len(token) > 16_384 or not _B64TOKEN.match(token):
        raise InvalidAuthorizationError("the Authorization header must be 'Bearer <token>'")
    return token


def challenge(error: AtriumError, *, resource_metadata: str, scopes: Iterable[str] = ()) -> tuple[int, str | None]:
    """The HTTP status and ``WWW-Authenticate`` value answering an authentication failure.

    401/400/403 carry a Bearer challenge (``scopes``: what to ask for; an insufficient_scope
    error names its own); anything else (503 issuer_unavailable) carries none.
    """
    if not isinstance(error, AuthenticationError | InsufficientScopeError):
        # 503 issuer_unavailable, or a plain 403 from the policy: no Bearer challenge applies.
        return error.status, None
    # A plain AuthenticationError (no bearer_error of its own) is an invalid token.
    bearer_error: str | None = getattr(error, "bearer_error", "invalid_token")
    wanted = error.scopes if isinstance(error, InsufficientScopeError) else tuple(scopes)
    header = www_authenticate(
        resource_metadata=resource_metadata, error=bearer_error, description=error.detail, scopes=wanted
    )
    return error.status, header


class AgentAuthenticator:
    """Authenticates agents at a tenant's MCP endpoints and describes how to (RFC 9728)."""

    def __init__(self, tokens: Tokens, issuers: Issuers, verifier: JwtVerifier) -> None:
        self._tokens, self._issuers, self._verifier = tokens, issuers, verifier

    async def scopes(self, tenant: str) -> tuple[str, ...]:
        """The scopes a token of ``tenant`` must carry (the union over its issuers), for challenges.

        Raises:
            NotFoundError: no such tenant.
        """
        issuers = await self._issuers.trusted(tenant)
        return tuple(dict.fromkeys(scope for issuer in issuers for scope in issuer.required_scopes))

    async def resource_metadata(self, tenant: str, resource: str) -> dict[str, object]:
        """The RFC 9728 document of ``resource``, an endpoint of ``tenant``: its issuers and scopes.

        Raises:
            NotFoundError: no such tenant.
        """
        issuers = await self._issuers.trusted(tenant)
        return protected_resource_metadata(
            resource,
            authorization_servers=[issuer.issuer for issuer in issuers],
            scopes_supported=[scope for issuer in issuers for scope in issuer.required_scopes],
        )

    async def authenticate(self, tenant: str, authorization: str | None, resource_uri: str) -> AgentPrincipal:
        """Who presents ``authorization`` at ``tenant``'s endpoint whose canonical URI is ``resource_uri``.

        Raises:
            MissingCredentialsError: no Bearer credentials (401, challenge without error).
            InvalidAuthorizationError: a malformed header (400 invalid_request).
            InvalidTokenError: an unknown, revoked, expired, rotated-out or other tenant's key; a
                JWT that is expired, forged, not meant for ``resource_uri`` or from an untrusted issuer.
            InsufficientScopeError: a valid JWT without the issuer's required scopes (403).
            IssuerUnavailableError: the issuer's keys cannot be fetched (503).
        """
        token = bearer_token(authorization)
        if token.startswith(TOKEN_PREFIX):
            return await self._api_key(tenant, token)
        issuers = await self._issuers.trusted(tenant)
        verified = await self._verifier.verify(token, issuers, resource_uri)
        return AgentPrincipal(
            name=f"{verified.issuer.principal_kind}:{verified.subject}",
            tenant=tenant,
            roles=verified.roles,
            scopes=verified.scopes,
            expires_at=verified.expires_at,
            method="jwt",
            issuer=verified.issuer.issuer,
            credential_id=verified.token_id,
        )

    async def _api_key(self, tenant: str, token: str) -> AgentPrincipal:
        try:
            key = await self._tokens.verify(token, tenant=tenant)
        except AuthenticationError as exc:
            raise InvalidTokenError("the API key is unknown, revoked, expired or not for this tenant") from exc
        return AgentPrincipal(
            name=key.principal,
            tenant=tenant,
            roles=tuple(key.roles),
            scopes=(),
            expires_at=key.expires_at,
            method="api_key",
            credential_id=str(key.id),
        )
