"""Verification of OAuth 2.1 bearer JWTs from a tenant's issuers (PyJWT, keys from the JWKS cache).

Checked, in order: the token parses; ``iss`` names one of the tenant's issuers; the header's
``alg`` is one that issuer allows and fits the key type (never ``none`` or HMAC); the signature
verifies with the issuer's key ``kid``; ``iss`` equals the issuer; ``exp`` (required) and ``nbf``
hold within ``leeway``; ``aud`` contains this endpoint's canonical resource URI (RFC 8707);
then the issuer's required scopes are present (else 403 insufficient_scope).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import jwt
import msgspec

from registry._errors import InsufficientScopeError, InvalidInputError, InvalidTokenError
from registry._issuers import Issuer
from registry._resource_metadata import canonical_uri

if TYPE_CHECKING:
    from collections.abc import Sequence

    from registry._jwks import JwksCache

# Which JWK key type each algorithm family needs (RFC 7518 section 6.1, RFC 8037).
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class VerifiedToken(msgspec.Struct, frozen=True, kw_only=True):
    issuer: Issuer
    subject: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    expires_at: datetime
    token_id: str | None


def claim_at(claims: dict[str, object], path: str) -> object:
    """The value at a dotted ``path`` (``realm_access.roles``), or None."""
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: object) -> tuple[str, ...]:
    # A list of strings (most issuers) or one space-separated string (RFC 9068 "scope").
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


class JwtVerifier:
    def __init__(self, keys: JwksCache, *, leeway: float = 30.0) -> None:
        self._keys, self._leeway = keys, leeway

    async def verify(self, token: str, issuers: Sequence[Issuer], audience: str) -> VerifiedToken:
        """Verify ``token`` for the resource ``audience`` against the tenant's ``issuers``.

        Raises:
            InvalidTokenError: malformed, untrusted issuer, bad algorithm or signature, expired,
                not yet valid, or not meant for ``audience``.
            InsufficientScopeError: valid, but without the issuer's required scopes.
            IssuerUnavailableError: the issuer's keys cannot be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("the bearer token is not a well-formed JWT") from exc
        issuer = next((item for item in issuers if item.issuer == unverified.get("iss")), None)
        if issuer is None:
            raise InvalidTokenError("the token's issuer is not trusted by this tenant")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise InvalidTokenError(f"algorithm {alg!r} is not accepted from this issuer")
        if kid is not None and not isinstance(kid, str):
            raise InvalidTokenError("the token's kid is not a string")
        key = await self._keys.signing_key(issuer, kid)
        if key.key_type != _KEY_TYPES.get(alg[:2]):
            raise InvalidTokenError(f"the issuer's key {kid!r} is not a key for {alg}")
        claims = self._decode(token, key, alg, issuer)
        self._check_audience(claims, audience)
        return self._result(claims, issuer)

    def _decode(self, token: str, key: jwt.PyJWK, alg: str, issuer: Issuer) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                issuer=issuer.issuer,
                leeway=self._leeway,
                # The audience is compared below in canonical form (RFC 8707), not by PyJWT.
                options={"require": ["exp", "iss", "aud"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidTokenError("the token is not valid yet") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the token is invalid: {type(exc).__name__}") from exc
        return claims

    @staticmethod
    def _check_audience(claims: dict[str, object], audience: str) -> None:
        wanted = canonical_uri(audience)
        aud = claims.get("aud")
        for value in aud if isinstance(aud, list) else [aud]:
            try:
                if isinstance(value, str) and canonical_uri(value) == wanted:
                    return
            except InvalidInputError:
                continue
        raise InvalidTokenError("the token was not issued for this endpoint (aud)")

    @staticmethod
    def _result(claims: dict[str, object], issuer: Issuer) -> VerifiedToken:
        subject = claim_at(claims, issuer.principal_claim)
        if isinstance(subject, int) and not isinstance(subject, bool):
            subject = str(subject)
        if not isinstance(subject, str) or not subject or len(subject) > 180 or not subject.isprintable():
            raise InvalidTokenError(f"the token has no usable {issuer.principal_claim!r} claim")
        scopes = _strings(claims.get("scope")) or _strings(claims.get("scp"))
        missing = [scope for scope in issuer.required_scopes if scope not in scopes]
        if missing:
            raise InsufficientScopeError(
                f"the token lacks the scopes {' '.join(missing)}", scopes=issuer.required_scopes
            )
        exp = claims["exp"]
        token_id = claims.get("jti")
        return VerifiedToken(
            issuer=issuer,
            subject=subject,
            roles=_strings(claim_at(claims, issuer.roles_claim)),
            scopes=scopes,
            expires_at=datetime.fromtimestamp(float(exp) if isinstance(exp, int | float) else 0, UTC),
            token_id=token_id if isinstance(token_id, str) else None,
        )
