"""Admin API authentication: a bearer token minted by ``atrium token create``."""

from __future__ import annotations

from litestar.di import NamedDependency

from composer._problems import AnyRequest
from composer._services import ServicesDep
from registry import AuthenticationError, Principal


async def provide_principal(request: AnyRequest, services: ServicesDep) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``.

    Raises:
        AuthenticationError: no token, a malformed header, or a token that is unknown, revoked or expired.
    """
    header = request.headers.get("authorization")
    if header is None:
        raise AuthenticationError("this API needs an Authorization: Bearer token")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return await services.tokens.authenticate(secret.strip())


PrincipalDep = NamedDependency[Principal]
