"""What the admin API takes and gives for credentials.

A credential is set whole (``PUT``), tagged by ``kind``; unknown fields are refused. What it
gives back, :class:`CredentialInfo`, holds names, kinds and non-secret metadata only: no value,
client secret or token ever leaves the store. Secret-holding structs have redacting reprs.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from registry._errors import InvalidInputError

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class CredentialKind(enum.StrEnum):
    SECRET = "secret"  # noqa: S105 - the kind's name, not a secret
    OAUTH_CLIENT_CREDENTIALS = "oauth_client_credentials"


class SecretCredential(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind", tag="secret"
):
    """A value used as is, e.g. an API token for ``Bearer ${API_TOKEN}``."""

    value: Secret

    def __post_init__(self) -> None:
        _check_header_safe("value", self.value)

    def __repr__(self) -> str:
        return "SecretCredential(value=<redacted>)"


class OAuthClientCredentials(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="kind",
    tag="oauth_client_credentials",
):
    """Traded at ``token_url`` for an access token, which fills the placeholder (RFC 6749 4.4)."""

    token_url: Text
    client_id: Text
    client_secret: Secret
    scope: Text | None = None
    audience: Text | None = None
    # How the client authenticates at the token endpoint (RFC 6749 section 2.3.1).
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"

    def __post_init__(self) -> None:
        check_token_url(self.token_url)
        _check_header_safe("client_secret", self.client_secret)

    def __repr__(self) -> str:
        shown = f"token_url={self.token_url!r}, client_id={self.client_id!r}"
        return f"OAuthClientCredentials({shown}, client_secret=<redacted>)"

    def public(self) -> dict[str, str]:
        """The metadata that may be stored in the clear and shown."""
        shown = {
            "token_url": self.token_url,
            "client_id": self.client_id,
            "scope": self.scope,
            "audience": self.audience,
            "auth_method": self.auth_method,
        }
        return {key: value for key, value in shown.items() if value is not None}


CredentialSpec = SecretCredential | OAuthClientCredentials


class CredentialInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A stored credential as it may be shown: never its value."""

    # None: the platform's credential for a global upstream, used only to discover it.
    tenant: str | None
    upstream_id: int
    name: str
    kind: CredentialKind
    # Non-secret settings (an OAuth credential's token_url, client_id, scope, audience, auth_method).
    metadata: dict[str, str]
    # Who first set it; replacing it keeps the creator (each change is logged with its principal).
    created_by: str
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> None:
    """Raises: InvalidInputError: ``name`` could not be a ``${NAME}`` placeholder."""
    if not _NAME.fullmatch(name):
        raise InvalidInputError(f"a credential name must match {NAME_PATTERN}")


def check_token_url(url: str) -> None:
    """Raises: InvalidInputError: not https, or plain http to somewhere other than loopback."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("http", "https") or parts.username or parts.password:
        raise InvalidInputError("token_url must be an absolute https URL without user info")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # The client secret travels in the request: plain http only on this machine.
        raise InvalidInputError("token_url must use https (plain http only to a loopback address)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_header_safe(field: str, value: str) -> None:
    # Values end up in HTTP headers and process environments: no line breaks, no NUL.
    if any(ch in value for ch in "\r\n\x00"):
        raise InvalidInputError(f"{field} must not contain CR, LF or NUL")
