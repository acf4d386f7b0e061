"""A tiny real OAuth issuer on 127.0.0.1 for tests: RFC 8414 metadata and a JWKS of real keys.

    async with issuer_server() as issuer:
        token = issuer.sign({"sub": "alice", "aud": RESOURCE})  # iss, iat, exp filled in
        issuer.rotate()          # a new current key; the old one is no longer published
        issuer.failing = True    # every request answers 503

Keys are generated with ``cryptography`` (RSA 2048, P-256, Ed25519) and published as JWKs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.registry.oauth_server import serve_app

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def new_key(alg: str) -> PrivateKey:
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


@dataclass
class IssuerServer:
    alg: str = "RS256"
    url: str = ""
    failing: bool = False
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    current: str = ""
    jwks_requests: int = 0
    serial: int = 0

    def rotate(self, *, keep_old: bool = False) -> str:
        """A new current key; unless ``keep_old``, the previous keys are no longer published."""
        self.serial += 1
        kid = f"key-{self.serial}"
        if not keep_old:
            self.keys.clear()
        self.keys[kid] = new_key(self.alg)
        self.current = kid
        return kid

    def sign(self, claims: dict[str, Any], *, key: PrivateKey | None = None, kid: str | None = None) -> str:
        """A JWT with ``iss``, ``iat`` and a 5-minute ``exp`` unless ``claims`` set them."""
        stamp = int(time.time())
        body = {"iss": self.url, "iat": stamp, "exp": stamp + 300, **claims}
        kid = kid or self.current
        return jwt.encode(body, key or self.keys[kid], algorithm=self.alg, headers={"kid": kid})

    async def metadata(self, request: Request) -> JSONResponse:
        if self.failing:
            return JSONResponse({}, status_code=503)
        return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks", "token_endpoint": f"{self.url}/t"})

    async def jwks(self, request: Request) -> JSONResponse:
        self.jwks_requests += 1
        if self.failing:
            return JSONResponse({"error": "down"}, status_code=503)
        return JSONResponse({"keys": [public_jwk(key, kid) for kid, key in self.keys.items()]})


@asynccontextmanager
async def issuer_server(alg: str = "RS256") -> AsyncIterator[IssuerServer]:
    server = IssuerServer(alg=alg)
    server.rotate()
    app = Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", server.metadata),
            Route("/jwks", server.jwks),
        ]
    )
    async with serve_app(app) as base_url:
        server.url = base_url
        yield server
