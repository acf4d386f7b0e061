"""OAuth 2.0 client credentials (RFC 6749 section 4.4): access tokens for upstreams, cached.

A credential of kind ``oauth_client_credentials`` is not sent as is: Atrium trades it at the
token endpoint for an access token, and the access token fills the placeholder. Tokens are
cached per (tenant, upstream, credential name) until shortly before they expire, and fetched
again when the credential is changed. Neither the client secret nor a token is ever logged
or put in an error message.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import quote
from weakref import WeakValueDictionary

import anyio
import httpx
import msgspec

from registry._errors import UpstreamError, UpstreamProtocolError, UpstreamTimeoutError, UpstreamUnreachableError

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

logger = logging.getLogger(__name__)

# Used when the token endpoint does not say how long its token lives (expires_in is optional).
DEFAULT_LIFETIME = 300.0
# A cached token is renewed this long before it expires (at most a tenth of its lifetime).
EXPIRY_MARGIN = 30.0
# An OAuth error code (RFC 6749 section 5.2) is printable ASCII without quote or backslash.
_ERROR_CODE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$")


class ClientCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """What a token request needs. Its repr hides the client secret."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    audience: str | None = None
    auth_method: str = "client_secret_basic"

    def __repr__(self) -> str:
        shown = f"token_url={self.token_url!r}, client_id={self.client_id!r}"
        return f"ClientCredentials({shown}, client_secret=<redacted>)"


class _TokenReply(msgspec.Struct):
    access_token: str
    expires_in: float | None = None


class _ErrorReply(msgspec.Struct):
    error: str = ""


class _Cached(msgspec.Struct, frozen=True):
    token: str
    version: str
    renew_at: float

    def __repr__(self) -> str:
        return f"_Cached(token=<redacted>, renew_at={self.renew_at})"


_reply_decoder = msgspec.json.Decoder(_TokenReply)
_error_decoder = msgspec.json.Decoder(_ErrorReply)


class TokenCache:
    """Fetches client-credentials access tokens and keeps each until shortly before it expires."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``http`` is used if given (its owner closes it), else a client is made per fetch."""
        self._http = http
        self._timeout = timeout
        self._clock = clock
        self._tokens: dict[Hashable, _Cached] = {}
        self._locks: WeakValueDictionary[Hashable, anyio.Lock] = WeakValueDictionary()

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"

    async def token(self, key: Hashable, version: str, credentials: ClientCredentials, *, label: str) -> str:
        """A valid access token for ``key``; ``version`` changes when the credential does.

        ``label`` names the credential in errors (never its values).

        Raises:
            UpstreamTimeoutError, UpstreamUnreachableError: the token endpoint did not answer.
            UpstreamError: it refused (its OAuth error code is named).
            UpstreamProtocolError: it answered without a usable access token.
        """
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock()
        async with lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.version == version and self._clock() < cached.renew_at:
                return cached.token
            token, lifetime = await self._fetch(credentials, label)
            margin = min(EXPIRY_MARGIN, lifetime / 10)
            self._tokens[key] = _Cached(token=token, version=version, renew_at=self._clock() + lifetime - margin)
            logger.info("fetched an access token for %s (lifetime %.0f s)", label, lifetime)
            return token

    async def _fetch(self, credentials: ClientCredentials, label: str) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if credentials.scope:
            form["scope"] = credentials.scope
        if credentials.audience:
            form["audience"] = credentials.audience
        auth = httpx.Auth()  # the base class sends requests as they are
        if credentials.auth_method == "client_secret_post":
            form |= {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
        else:
            # RFC 6749 section 2.3.1: both are form-urlencoded before they go into Basic auth.
            auth = httpx.BasicAuth(quote(credentials.client_id, safe=""), quote(credentials.client_secret, safe=""))
        headers = {"Accept": "application/json"}
        try:
            if self._http is not None:
                response = await self._http.post(
                    credentials.token_url, data=form, auth=auth, headers=headers, timeout=self._timeout
                )
            else:
                async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as http:
                    response = await http.post(credentials.token_url, data=form, auth=auth, headers=headers)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(f"the token endpoint of {label} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnreachableError(f"cannot reach the token endpoint of {label}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise UpstreamError(f"the token endpoint of {label} refused: {_refusal(response)}")
        try:
            reply = _reply_decoder.decode(response.content)
        except msgspec.DecodeError:
            raise UpstreamProtocolError(f"the token endpoint of {label} answered without an access_token") from None
        if not reply.access_token or any(ch in reply.access_token for ch in "\r\n\x00"):
            raise UpstreamProtocolError(f"the token endpoint of {label} answered with an unusable access_token")
        lifetime = reply.expires_in if reply.expires_in is not None and reply.expires_in > 0 else DEFAULT_LIFETIME
        return reply.access_token, float(lifetime)


def _refusal(response: httpx.Response) -> str:
    """The status and the OAuth ``error`` code; never the description, which may echo input."""
    try:
        code = _error_decoder.decode(response.content).error
    except msgspec.DecodeError:
        code = ""
    return f"HTTP {response.status_code}" + (f" {code}" if _ERROR_CODE.match(code) else "")
