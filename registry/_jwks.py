"""Issuers' signing keys: JWKS fetched with httpx and cached per issuer.

- Keys are kept ``ttl`` seconds, then refetched; if a refetch fails the old keys keep serving
  (an issuer's brief outage must not lock every agent out).
- A token naming an unknown ``kid`` triggers one early refetch (the issuer rotated its keys),
  at most once per ``refetch_interval`` per issuer, so forged kids cannot make us hammer it.
- With no ``jwks_uri`` configured, it comes from the issuer's metadata, tried in the order the
  MCP authorization spec gives (RFC 8414 path insertion, then OpenID Connect), and that
  document's ``issuer`` must equal the configured one (RFC 8414 section 3.3).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
import httpx
import jwt

from registry._errors import InvalidInputError, InvalidTokenError, IssuerUnavailableError
from registry._issuers import check_issuer_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from registry._issuers import Issuer

logger = logging.getLogger(__name__)
_MAX_DOCUMENT_BYTES = 512 * 1024


def metadata_urls(issuer: str) -> list[str]:
    """The authorization server metadata URLs to try for ``issuer``, in the MCP spec's order."""
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if not path:
        return [f"{origin}/.well-known/oauth-authorization-server", f"{origin}/.well-known/openid-configuration"]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


@dataclass
class _Entry:
    keys: list[jwt.PyJWK] = field(default_factory=list)
    fetched_at: float | None = None  # last successful fetch
    attempted_at: float | None = None  # last attempt, successful or not
    last_error: str = ""
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class JwksCache:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        ttl: float = 300.0,
        refetch_interval: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http, self._ttl, self._refetch, self._timeout, self._clock = http, ttl, refetch_interval, timeout, clock
        self._entries: dict[tuple[str, str | None], _Entry] = {}

    async def signing_key(self, issuer: Issuer, kid: str | None) -> jwt.PyJWK:
        """The issuer's key ``kid`` (without a kid: its only key).

        Raises:
            InvalidTokenError: the issuer has no such key, even after a refetch.
            IssuerUnavailableError: no keys can be fetched and none are cached.
        """
        entry = self._entries.setdefault((issuer.issuer, issuer.jwks_uri), _Entry())
        async with entry.lock:
            expired = entry.fetched_at is None or self._clock() - entry.fetched_at >= self._ttl
            if expired and self._may_refetch(entry):
                await self._refresh(issuer, entry)
            if entry.fetched_at is None:
                raise IssuerUnavailableError(
                    f"the keys of issuer {issuer.issuer} cannot be fetched ({entry.last_error}); retry later"
                )
            key = _pick(entry.keys, kid)
            if key is None and self._may_refetch(entry):
                await self._refresh(issuer, entry)
                key = _pick(entry.keys, kid)
        if key is None:
            raise InvalidTokenError("the token is signed with a key the issuer does not publish")
        return key

    def _may_refetch(self, entry: _Entry) -> bool:
        # Failed attempts count too: a down issuer is asked at most once per interval.
        return entry.attempted_at is None or self._clock() - entry.attempted_at >= self._refetch

    async def _refresh(self, issuer: Issuer, entry: _Entry) -> None:
        """Fetch the keys; on failure the cached ones (if any) stay in use."""
        entry.attempted_at = self._clock()
        try:
            jwks_uri = issuer.jwks_uri or await self._discover(issuer.issuer)
            entry.keys = _parse_jwks(await self._get_json(jwks_uri))
            entry.fetched_at = self._clock()
        except IssuerUnavailableError as exc:
            entry.last_error = exc.detail
            logger.warning("JWKS of issuer %s not refreshed: %s", issuer.issuer, exc.detail)

    async def _discover(self, issuer: str) -> str:
        for url in metadata_urls(issuer):
            try:
                document = await self._get_json(url)
            except IssuerUnavailableError:
                continue
            if document.get("issuer") == issuer and isinstance(jwks_uri := document.get("jwks_uri"), str):
                try:
                    return check_issuer_url(jwks_uri, "jwks_uri")
                except InvalidInputError as exc:
                    raise IssuerUnavailableError(f"{url} names an unusable jwks_uri: {exc.detail}") from exc
        raise IssuerUnavailableError(f"no authorization server metadata with a jwks_uri found for {issuer}")

    async def _get_json(self, url: str) -> dict[str, object]:
        try:
            response = await self._http.get(url, timeout=self._timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise IssuerUnavailableError(f"cannot reach {url}: {type(exc).__name__}") from exc
        if response.status_code != 200 or len(response.content) > _MAX_DOCUMENT_BYTES:
            raise IssuerUnavailableError(f"{url} answered {response.status_code}")
        try:
            document = response.json()
        except ValueError as exc:
            raise IssuerUnavailableError(f"{url} did not answer JSON") from exc
        if not isinstance(document, dict):
            raise IssuerUnavailableError(f"{url} did not answer a JSON object")
        return document


def _parse_jwks(document: dict[str, object]) -> list[jwt.PyJWK]:
    try:
        keys = jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise IssuerUnavailableError(f"unusable JWKS: {exc}") from exc
    # Only signature keys: an encryption key must never verify a token.
    return [key for key in keys if key.public_key_use in (None, "sig")]


def _pick(keys: list[jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.key_id == kid), None)
