"""The registry's error tree.

Every error Atrium raises on purpose derives from :class:`AtriumError` and carries a
stable string ``code`` (what clients and tests match on) and an HTTP ``status``. The two
translation points, the admin HTTP layer and the MCP JSON-RPC dispatcher, map these to
problem documents and JSON-RPC errors; nothing else catches broadly.

    AtriumError
    ├── NotFoundError            (404 not_found)
    ├── ConflictError            (409 conflict)
    │   ├── AlreadyExistsError   (409 already_exists)
    │   └── ReviewConflictError  (409 review_conflict)
    ├── InvalidInputError        (422 invalid_input)
    │   └── SecretKeyError       (503 secret_key_error: no ATRIUM_SECRET_KEYS where one is
    │                             required, or none of them decrypts a stored credential)
    ├── AuthenticationError      (401 unauthenticated; an RFC 6750 Bearer challenge names
    │   │                         its ``bearer_error``)
    │   ├── MissingCredentialsError       (401 credentials_missing: no error in the challenge)
    │   ├── InvalidTokenError             (401 invalid_token: expired, forged, revoked, wrong audience)
    │   └── InvalidAuthorizationError     (400 invalid_request: a malformed Authorization header)
    ├── PermissionDeniedError    (403 forbidden)
    │   └── InsufficientScopeError        (403 insufficient_scope, with the scopes required)
    ├── SeparationOfDutiesError  (403 separation_of_duties)
    ├── IssuerUnavailableError   (503 issuer_unavailable: an OAuth issuer's keys cannot be fetched)
    ├── UpstreamError            (502 upstream_error)
    │   ├── UpstreamUnreachableError  (502 upstream_unreachable)
    │   ├── UpstreamTimeoutError      (504 upstream_timeout)
    │   ├── UpstreamProtocolError     (502 upstream_protocol_error)
    │   └── UpstreamReplyError        (502 upstream_reply: a JSON-RPC error to pass on as is)
    └── StorageError             (503 storage_error)
"""

from __future__ import annotations

from typing import ClassVar

# JSON-RPC error codes for the MCP side (JSON-RPC 2.0 reserved range and MCP's own).
JSONRPC_INVALID_REQUEST = -32600
JSONRPC_METHOD_NOT_FOUND = -32601
JSONRPC_INVALID_PARAMS = -32602
JSONRPC_INTERNAL_ERROR = -32603


class AtriumError(Exception):
    """Root of every error Atrium raises deliberately."""

    code: ClassVar[str] = "atrium_error"
    status: ClassVar[int] = 500
    jsonrpc_code: ClassVar[int] = JSONRPC_INTERNAL_ERROR

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(AtriumError):
    code = "not_found"
    status = 404
    jsonrpc_code = JSONRPC_INVALID_PARAMS


class ConflictError(AtriumError):
    code = "conflict"
    status = 409
    jsonrpc_code = JSONRPC_INVALID_REQUEST


class AlreadyExistsError(ConflictError):
    code = "already_exists"


class ReviewConflictError(ConflictError):
    """The reviewed version is no longer current, or was already decided."""

    code = "review_conflict"


class InvalidInputError(AtriumError, ValueError):
    """Bad input. A ValueError too, so msgspec reports it as a validation error while decoding."""

    code = "invalid_input"
    status = 422
    jsonrpc_code = JSONRPC_INVALID_PARAMS


class SecretKeyError(InvalidInputError):
    """No secret key can encrypt or decrypt a credential; the operator must fix ATRIUM_SECRET_KEYS.

    An InvalidInputError so that a sync records it like a missing credential, instead of failing
    half-way; 503 because no client request can fix it.
    """

    code = "secret_key_error"
    status = 503
    jsonrpc_code = JSONRPC_INTERNAL_ERROR


class AuthenticationError(AtriumError):
    code = "unauthenticated"
    status = 401
    jsonrpc_code = JSONRPC_INVALID_REQUEST


class PermissionDeniedError(AtriumError):
    code = "forbidden"
    status = 403
    jsonrpc_code = JSONRPC_INVALID_REQUEST


# The Bearer-challenge errors of agent authentication (RFC 6750 section 3.1, MCP authorization):
# ``bearer_error`` is the ``error`` parameter of the WWW-Authenticate header, None for none.


class MissingCredentialsError(AuthenticationError):
    """No Bearer credentials at all: RFC 6750 says the challenge then carries no error code."""

    code = "credentials_missing"
    bearer_error: ClassVar[str | None] = None


class InvalidTokenError(AuthenticationError):
    """Expired, not yet valid, forged, revoked, unknown, or meant for another resource."""

    code = "invalid_token"
    bearer_error: ClassVar[str | None] = "invalid_token"


class InvalidAuthorizationError(AuthenticationError):
    """The Authorization header is malformed (RFC 6750 ``invalid_request``: 400, not 401)."""

    code = "invalid_request"
    status = 400
    bearer_error: ClassVar[str | None] = "invalid_request"


class InsufficientScopeError(PermissionDeniedError):
    """A valid token without the scopes this resource requires; ``scopes`` are the ones to ask for."""

    code = "insufficient_scope"
    bearer_error: ClassVar[str | None] = "insufficient_scope"

    def __init__(self, detail: str, *, scopes: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.scopes = scopes


class IssuerUnavailableError(AtriumError):
    """An OAuth issuer's metadata or JWKS cannot be fetched: no fault of the client, so no 401."""

    code = "issuer_unavailable"
    status = 503


class SeparationOfDutiesError(PermissionDeniedError):
    """A reviewer tried to approve a version they registered or synced themselves."""

    code = "separation_of_duties"


class UpstreamError(AtriumError):
    """An upstream MCP server failed; the catalog is left as it was."""

    code = "upstream_error"
    status = 502


class UpstreamUnreachableError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamTimeoutError(UpstreamError):
    code = "upstream_timeout"
    status = 504


class UpstreamProtocolError(UpstreamError):
    """The upstream answered, but not with valid MCP."""

    code = "upstream_protocol_error"


class UpstreamReplyError(UpstreamError):
    """The upstream answered a forwarded request with a JSON-RPC error; a proxy passes it on."""

    code = "upstream_reply"

    def __init__(self, detail: str, *, rpc_code: int, data: object = None) -> None:
        super().__init__(detail)
        self.rpc_code, self.data = rpc_code, data


class StorageError(AtriumError):
    code = "storage_error"
    status = 503
