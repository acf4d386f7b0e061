"""AgentAuthenticator against real parts: the database, and a real OAuth issuer on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import (
    AgentAuthenticator,
    AuthenticationError,
    Catalog,
    ConflictError,
    InsufficientScopeError,
    InvalidAuthorizationError,
    InvalidInputError,
    InvalidTokenError,
    Issuer,
    Issuers,
    IssuerSpec,
    IssuerUnavailableError,
    JwksCache,
    JwtVerifier,
    MissingCredentialsError,
    NotFoundError,
    TenantSpec,
    Tokens,
    create_session_factory,
)
from tests.registry.issuer_server import IssuerServer, issuer_server, new_key

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:8000/mcp/acme/support"
OTHER_RESOURCE = "http://127.0.0.1:8000/mcp/acme/other"


class Clock:
    """A monotonic clock the test moves by hand (the JWKS cache's TTL and refetch limit)."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@dataclass
class World:
    tokens: Tokens
    issuers: Issuers
    keys: JwksCache
    clock: Clock
    authenticator: AgentAuthenticator

    async def trust(self, server: IssuerServer, tenant: str = "acme", **overrides: Any) -> Issuer:
        fields: dict[str, Any] = {"issuer": server.url, "algorithms": [server.alg]}
        fields.update(overrides)
        return await self.issuers.create(tenant, IssuerSpec(**fields), principal="ada")

    async def key(self, tenant: str = "acme", name: str = "bot", **options: Any) -> str:
        minted = await self.tokens.mint(f"agent:{name}", ["analyst"], tenant=tenant, **options)
        return minted.secret


@pytest.fixture
async def world(engine: AsyncEngine) -> AsyncIterator[World]:
    sessions = create_session_factory(engine)
    for slug in ("acme", "beta"):
        await Catalog(sessions).create_tenant(TenantSpec(slug=slug, name=slug))
    tokens, issuers, clock = Tokens(sessions), Issuers(sessions), Clock()
    async with httpx.AsyncClient() as http:
        keys = JwksCache(http, ttl=300, refetch_interval=30, clock=clock)
        yield World(tokens, issuers, keys, clock, AgentAuthenticator(tokens, issuers, JwtVerifier(keys, leeway=5)))


@pytest.fixture
async def issuer() -> AsyncIterator[IssuerServer]:
    async with issuer_server() as server:
        yield server


def hs256_by_hand(claims: dict[str, Any], secret: bytes, *, kid: str) -> str:
    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": kid}) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


# Agent keys


async def test_an_agent_key_of_the_tenant_authenticates_as_its_agent_with_its_roles(world: World) -> None:
    minted = await world.tokens.mint("agent:bot", ["analyst", "viewer"], tenant="acme", created_by="ada")
    agent = await world.authenticator.authenticate("acme", bearer(minted.secret), RESOURCE)
    assert (agent.name, agent.tenant, agent.roles, agent.method) == (
        "agent:bot",
        "acme",
        ("analyst", "viewer"),
        "api_key",
    )
    assert agent.credential_id == str(minted.token.id)
    assert minted.token.tenant == "acme"
    assert minted.token.created_by == "ada"


@pytest.mark.parametrize(
    "header", [None, "", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Bearer two words", 'Bearer bad"quote']
)
async def test_a_missing_or_malformed_header_is_refused_with_its_own_code(world: World, header: str | None) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await world.authenticator.authenticate("acme", header, RESOURCE)
    wanted = (
        MissingCredentialsError if header in (None, "", "Basic YWxhZGRpbjpvcGVuc2VzYW1l") else InvalidAuthorizationError
    )
    assert type(caught.value) is wanted


async def test_an_expired_agent_key_is_an_invalid_token(world: World) -> None:
    secret = await world.key(ttl=timedelta(milliseconds=1))
    await anyio.sleep(0.05)
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(secret), RESOURCE)


async def test_a_revoked_agent_key_is_an_invalid_token(world: World) -> None:
    minted = await world.tokens.mint("agent:bot", [], tenant="acme")
    await world.tokens.revoke(minted.token.id, tenant="acme")
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(minted.secret), RESOURCE)


async def test_a_verified_key_revoked_here_is_refused_at_once_and_one_revoked_elsewhere_within_the_ttl(
    world: World, engine: AsyncEngine
) -> None:
    # Generous times: a loaded CI machine must not turn the cache's window into a flake.
    tokens = Tokens(create_session_factory(engine), verify_ttl=3.0)
    first, second = [await tokens.mint("agent:bot", [], tenant="acme") for _ in range(2)]
    for minted in (first, second):  # verified once: both now come from the cache
        assert (await tokens.verify(minted.secret, tenant="acme")).id == minted.token.id
    await world.tokens.revoke(second.token.id, tenant="acme")  # as another process would
    assert (await tokens.verify(second.secret, tenant="acme")).id == second.token.id  # trusted for the TTL
    await tokens.revoke(first.token.id, tenant="acme")  # through the same object: at once
    with pytest.raises(AuthenticationError):
        await tokens.verify(first.secret, tenant="acme")
    await anyio.sleep(3.1)
    with pytest.raises(AuthenticationError):
        await tokens.verify(second.secret, tenant="acme")


async def test_a_cached_key_that_expires_is_refused_without_waiting_for_the_cache(
    world: World, engine: AsyncEngine
) -> None:
    tokens = Tokens(create_session_factory(engine), verify_ttl=60.0)
    minted = await tokens.mint("agent:bot", [], tenant="acme", ttl=timedelta(seconds=2))
    assert (await tokens.verify(minted.secret, tenant="acme")).id == minted.token.id
    await anyio.sleep(2.1)
    with pytest.raises(AuthenticationError):
        await tokens.verify(minted.secret, tenant="acme")


async def test_a_rotated_key_works_during_its_grace_period_and_not_after(world: World) -> None:
    old = await world.tokens.mint("agent:bot", ["analyst"], tenant="acme", ttl=timedelta(days=30))
    graced = await world.tokens.rotate(old.token.id, tenant="acme", grace=timedelta(hours=1))
    assert graced.token.roles == ["analyst"]
    assert graced.token.principal == "agent:bot"
    for secret in (old.secret, graced.secret):  # both valid while the grace period runs
        assert (await world.authenticator.authenticate("acme", bearer(secret), RESOURCE)).name == "agent:bot"
    assert (await world.tokens.get(old.token.id)).replaced_by == graced.token.id
    # The successor keeps the old key's lifetime; a rotation without grace cuts the old key off now.
    assert graced.token.expires_at is not None
    assert graced.token.expires_at - graced.token.created_at == timedelta(days=30)
    newest = await world.tokens.rotate(graced.token.id, tenant="acme")
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(graced.secret), RESOURCE)
    assert (await world.authenticator.authenticate("acme", bearer(newest.secret), RESOURCE)).name == "agent:bot"


async def test_rotating_a_revoked_or_already_rotated_key_is_a_conflict(world: World) -> None:
    minted = await world.tokens.mint("agent:bot", [], tenant="acme")
    await world.tokens.rotate(minted.token.id, tenant="acme", grace=timedelta(hours=1))
    with pytest.raises(ConflictError):
        await world.tokens.rotate(minted.token.id, tenant="acme")
    revoked = await world.tokens.mint("agent:other", [], tenant="acme")
    await world.tokens.revoke(revoked.token.id, tenant="acme")
    with pytest.raises(ConflictError):
        await world.tokens.rotate(revoked.token.id, tenant="acme")


async def test_another_tenants_key_is_an_invalid_token_and_cannot_be_managed_from_here(world: World) -> None:
    minted = await world.tokens.mint("agent:bot", [], tenant="beta")
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(minted.secret), RESOURCE)
    for manage in (world.tokens.revoke, world.tokens.rotate, world.tokens.get):
        with pytest.raises(NotFoundError):
            await manage(minted.token.id, tenant="acme")
    assert await world.tokens.list(tenant="acme") == []


async def test_an_unknown_key_is_an_invalid_token(world: World) -> None:
    await world.key()
    for secret in ("atr_" + "x" * 43, "atr_", "atr_" + "x" * 300):
        with pytest.raises(InvalidTokenError):
            await world.authenticator.authenticate("acme", bearer(secret), RESOURCE)


async def test_admin_tokens_and_agent_keys_each_work_only_where_they_were_made_for(world: World) -> None:
    admin = await world.tokens.mint("ada", ["tenant_admin:acme"])
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(admin.secret), RESOURCE)
    with pytest.raises(AuthenticationError):
        await world.tokens.authenticate(await world.key())
    assert (await world.tokens.authenticate(admin.secret)).roles == ("tenant_admin:acme",)


@pytest.mark.parametrize(
    ("principal", "roles"),
    [("bot", []), ("user:bot", []), ("agent:", []), ("agent:bot", ["tenant_admin:acme"]), ("agent:bot", ["Analyst"])],
)
async def test_an_agent_key_needs_an_agent_principal_and_tenant_role_names(
    world: World, principal: str, roles: list[str]
) -> None:
    with pytest.raises(InvalidInputError):
        await world.tokens.mint(principal, roles, tenant="acme")


# Bearer JWTs from the tenant's issuers


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "PS256"])
async def test_a_valid_jwt_authenticates_with_roles_from_the_configured_claim(world: World, alg: str) -> None:
    async with issuer_server(alg) as server:
        await world.trust(server, roles_claim="realm_access.roles", principal_kind="agent", required_scopes=["mcp"])
        token = server.sign(
            {"sub": "svc-7", "aud": [RESOURCE + "/"], "scope": "mcp extra", "realm_access": {"roles": ["analyst"]}}
        )
        agent = await world.authenticator.authenticate("acme", bearer(token), RESOURCE)
    assert (agent.name, agent.roles, agent.scopes, agent.method) == (
        "agent:svc-7",
        ("analyst",),
        ("mcp", "extra"),
        "jwt",
    )
    assert agent.issuer == server.url
    assert agent.expires_at is not None


async def test_the_jwks_uri_is_discovered_or_taken_as_configured(world: World, issuer: IssuerServer) -> None:
    await world.trust(issuer, jwks_uri=f"{issuer.url}/jwks")
    token = issuer.sign({"sub": "alice", "aud": RESOURCE, "roles": ["analyst"]})
    assert (await world.authenticator.authenticate("acme", bearer(token), RESOURCE)).name == "user:alice"


@pytest.mark.parametrize(
    "claims",
    [
        # Times as offsets from when the test runs (collection may be minutes earlier).
        pytest.param({"exp": -60}, id="expired"),
        pytest.param({"nbf": +60}, id="not-yet-valid"),
        pytest.param({"aud": OTHER_RESOURCE}, id="another-endpoint"),
        pytest.param({"aud": "http://127.0.0.1:8000/mcp/acme"}, id="a-prefix-of-the-endpoint"),
        pytest.param({"aud": None}, id="no-audience"),
        pytest.param({"iss": "http://127.0.0.1:9/untrusted"}, id="untrusted-issuer"),
        pytest.param({"sub": ""}, id="no-subject"),
    ],
)
async def test_a_jwt_with_bad_claims_is_an_invalid_token(
    world: World, issuer: IssuerServer, claims: dict[str, Any]
) -> None:
    await world.trust(issuer)
    stamp = int(time.time())
    timed = {name: stamp + offset for name, offset in claims.items() if name in ("exp", "nbf")}
    body = {"sub": "alice", "aud": RESOURCE, **claims, **timed}
    token = issuer.sign({name: value for name, value in body.items() if value is not None})
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(token), RESOURCE)


async def test_a_forged_jwt_is_an_invalid_token(world: World, issuer: IssuerServer) -> None:
    await world.trust(issuer)
    forged = issuer.sign({"sub": "alice", "aud": RESOURCE}, key=new_key("RS256"))  # the issuer's kid, another key
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(forged), RESOURCE)


async def test_a_jwt_of_an_issuer_another_tenant_trusts_is_an_invalid_token(world: World, issuer: IssuerServer) -> None:
    await world.trust(issuer, tenant="beta")
    token = issuer.sign({"sub": "alice", "aud": RESOURCE})
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", bearer(token), RESOURCE)


async def test_alg_none_and_hmac_signed_with_the_public_key_are_refused(world: World, issuer: IssuerServer) -> None:
    await world.trust(issuer, algorithms=["RS256"])
    claims = {"iss": issuer.url, "sub": "alice", "aud": RESOURCE, "exp": int(time.time()) + 300}
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": issuer.current})
    # The classic confusion: HS256 keyed with the issuer's public key (PyJWT itself refuses to make it).
    public = issuer.keys[issuer.current].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    confused = hs256_by_hand(claims, public, kid=issuer.current)
    for token in (unsigned, confused):
        with pytest.raises(InvalidTokenError):
            await world.authenticator.authenticate("acme", bearer(token), RESOURCE)
    with pytest.raises(InvalidInputError):
        IssuerSpec(issuer=issuer.url, algorithms=["HS256"])
    with pytest.raises(InvalidInputError):
        IssuerSpec(issuer=issuer.url, algorithms=["none"])


async def test_a_jwt_without_the_required_scopes_is_insufficient_scope(world: World, issuer: IssuerServer) -> None:
    await world.trust(issuer, required_scopes=["mcp:read", "mcp:call"])
    token = issuer.sign({"sub": "alice", "aud": RESOURCE, "scope": "mcp:read"})
    with pytest.raises(InsufficientScopeError) as caught:
        await world.authenticator.authenticate("acme", bearer(token), RESOURCE)
    assert caught.value.code == "insufficient_scope"
    assert caught.value.scopes == ("mcp:read", "mcp:call")
    assert await world.authenticator.scopes("acme") == ("mcp:read", "mcp:call")


async def test_rotated_issuer_keys_are_refetched_for_an_unknown_kid_at_most_once_per_interval(
    world: World, issuer: IssuerServer
) -> None:
    await world.trust(issuer)
    assert await world.authenticator.authenticate("acme", bearer(issuer.sign({"sub": "a", "aud": RESOURCE})), RESOURCE)
    assert issuer.jwks_requests == 1
    world.clock.value += 31
    issuer.rotate()  # the issuer publishes a new key and drops the old one
    fresh = issuer.sign({"sub": "a", "aud": RESOURCE})
    assert (await world.authenticator.authenticate("acme", bearer(fresh), RESOURCE)).name == "user:a"
    assert issuer.jwks_requests == 2
    # Unknown kids right after a refetch do not make us hammer the issuer.
    made_up = issuer.sign({"sub": "a", "aud": RESOURCE}, kid="made-up", key=issuer.keys[issuer.current])
    for _ in range(3):
        with pytest.raises(InvalidTokenError):
            await world.authenticator.authenticate("acme", bearer(made_up), RESOURCE)
    assert issuer.jwks_requests == 2
    world.clock.value += 31
    issuer.rotate()
    newer = issuer.sign({"sub": "a", "aud": RESOURCE})
    assert (await world.authenticator.authenticate("acme", bearer(newer), RESOURCE)).name == "user:a"
    assert issuer.jwks_requests == 3


async def test_an_issuer_that_is_down_is_issuer_unavailable_until_keys_are_cached(
    world: World, issuer: IssuerServer
) -> None:
    await world.trust(issuer)
    token = issuer.sign({"sub": "a", "aud": RESOURCE})
    issuer.failing = True
    with pytest.raises(IssuerUnavailableError):
        await world.authenticator.authenticate("acme", bearer(token), RESOURCE)
    issuer.failing = False
    world.clock.value += 31
    assert await world.authenticator.authenticate("acme", bearer(token), RESOURCE)
    # Once keys are cached, an outage past their TTL keeps the old keys serving.
    issuer.failing = True
    world.clock.value += 600
    assert await world.authenticator.authenticate("acme", bearer(token), RESOURCE)


async def test_an_issuer_that_cannot_be_reached_at_all_is_issuer_unavailable(world: World) -> None:
    await world.issuers.create("acme", IssuerSpec(issuer="http://127.0.0.1:9", algorithms=["RS256"]), principal="ada")
    async with issuer_server() as other:
        token = other.sign({"sub": "a", "aud": RESOURCE, "iss": "http://127.0.0.1:9"})
    with pytest.raises(IssuerUnavailableError):
        await world.authenticator.authenticate("acme", bearer(token), RESOURCE)


async def test_a_bearer_value_that_is_no_jwt_is_an_invalid_token(world: World, issuer: IssuerServer) -> None:
    await world.trust(issuer)
    with pytest.raises(InvalidTokenError):
        await world.authenticator.authenticate("acme", "Bearer not-a-jwt", RESOURCE)
