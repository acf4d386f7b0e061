from __future__ import annotations

import logging
import stat
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import (
    Catalog,
    CredentialStore,
    DatabaseCredentials,
    InvalidInputError,
    NotFoundError,
    OAuthClientCredentials,
    SecretBox,
    SecretCredential,
    SecretKeyError,
    Settings,
    TenantSpec,
    TokenCache,
    Upstream,
    UpstreamError,
    UpstreamUnreachableError,
    create_session_factory,
    generate_key,
    render_templates,
    target_for,
)
from registry._credential_specs import CredentialKind
from registry._credential_store import SecretValues, StoredCredential
from registry._oauth import ClientCredentials
from tests.registry.factories import make_upstream_spec
from tests.registry.oauth_server import token_server
from tests.upstreams._process import free_port

pytestmark = pytest.mark.anyio

OLD_KEY, NEW_KEY = generate_key(), generate_key()
PLAINTEXT = "s3cret-value-0123456789"
TEMPLATES = {"Authorization": "Bearer ${API_TOKEN}"}


def store_with(engine: AsyncEngine, keys: str) -> CredentialStore:
    return CredentialStore(create_session_factory(engine), SecretBox([key.encode() for key in keys.split(",")]))


async def make_upstreams(engine: AsyncEngine) -> tuple[Upstream, Upstream]:
    """Tenants acme and beta; an upstream private to acme and a global one, both using ${API_TOKEN}."""
    catalog = Catalog(create_session_factory(engine))
    for slug in ("acme", "beta"):
        await catalog.create_tenant(TenantSpec(slug=slug, name=slug.title()))
    private = await catalog.create_upstream(make_upstream_spec(header_templates=TEMPLATES), principal="alice")
    shared = await catalog.create_upstream(
        make_upstream_spec(slug="shared", tenant=None, header_templates=TEMPLATES), principal="root"
    )
    return private, shared


async def stored_bytes(engine: AsyncEngine) -> list[bytes]:
    """Every credential row as the database holds it, all columns."""
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM credentials ORDER BY id"))).all()
    return [
        b"|".join(bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode() for value in row)
        for row in rows
    ]


def oauth(url: str, **overrides: str) -> OAuthClientCredentials:
    fields = {"token_url": url, "client_id": "atrium", "client_secret": "client-s3cret", "scope": "read write"}
    return OAuthClientCredentials(**(fields | overrides))


async def test_a_secret_round_trips_and_the_database_holds_only_its_ciphertext(engine: AsyncEngine) -> None:
    private, _ = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    info = await store.set_credential(
        "acme", private.id, "API_TOKEN", SecretCredential(value=PLAINTEXT), principal="ada"
    )
    assert (info.name, info.kind, info.metadata, info.created_by) == ("API_TOKEN", CredentialKind.SECRET, {}, "ada")
    [row] = await stored_bytes(engine)
    assert PLAINTEXT.encode() not in row
    [found] = await store.secrets_for("acme", private.id, ["API_TOKEN"])
    assert found.secret == PLAINTEXT


async def test_without_keys_sqlite_keeps_a_private_key_file_and_postgresql_refuses(
    engine: AsyncEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    private, _ = await make_upstreams(engine)
    store = CredentialStore(create_session_factory(engine), SecretBox.from_settings(settings))
    secret = SecretCredential(value=PLAINTEXT)
    if settings.database_url.startswith("postgresql"):
        with pytest.raises(SecretKeyError) as refused:
            await store.set_credential("acme", private.id, "API_TOKEN", secret, principal="ada")
        assert (refused.value.code, refused.value.status) == ("secret_key_error", 503)
        assert await stored_bytes(engine) == []
        return
    with caplog.at_level(logging.WARNING, logger="registry._secrets"):
        await store.set_credential("acme", private.id, "API_TOKEN", secret, principal="ada")
        await store.set_credential("acme", private.id, "OTHER", secret, principal="ada")
        assert (await store.secrets_for("acme", private.id, ["API_TOKEN"]))[0].secret == PLAINTEXT
    assert len(caplog.records) == 1
    db_path = settings.sqlite_path()
    assert db_path is not None
    key_file = db_path.parent / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Another process (another box) finds the same key.
    again = CredentialStore(create_session_factory(engine), SecretBox.from_settings(settings))
    assert (await again.secrets_for("acme", private.id, ["API_TOKEN"]))[0].secret == PLAINTEXT


async def test_rotation_re_encrypts_under_the_new_key_so_the_old_one_can_go(engine: AsyncEngine) -> None:
    private, shared = await make_upstreams(engine)
    old = store_with(engine, OLD_KEY)
    await old.set_credential("acme", private.id, "API_TOKEN", SecretCredential(value=PLAINTEXT), principal="ada")
    await old.set_credential("beta", shared.id, "API_TOKEN", SecretCredential(value="beta-value"), principal="bo")
    before = await stored_bytes(engine)
    both = store_with(engine, f"{NEW_KEY},{OLD_KEY}")
    assert (await both.secrets_for("acme", private.id, ["API_TOKEN"]))[0].secret == PLAINTEXT
    assert await both.rotate() == 2
    assert await stored_bytes(engine) != before
    new_only = store_with(engine, NEW_KEY)
    assert (await new_only.secrets_for("acme", private.id, ["API_TOKEN"]))[0].secret == PLAINTEXT
    assert (await new_only.secrets_for("beta", shared.id, ["API_TOKEN"]))[0].secret == "beta-value"
    with pytest.raises(SecretKeyError):
        await old.secrets_for("acme", private.id, ["API_TOKEN"])


async def test_a_wrong_key_is_a_clear_error_and_rotates_nothing(engine: AsyncEngine) -> None:
    private, _ = await make_upstreams(engine)
    await store_with(engine, OLD_KEY).set_credential(
        "acme", private.id, "API_TOKEN", SecretCredential(value=PLAINTEXT), principal="ada"
    )
    before = await stored_bytes(engine)
    wrong = store_with(engine, NEW_KEY)
    with pytest.raises(SecretKeyError) as failed:
        await wrong.secrets_for("acme", private.id, ["API_TOKEN"])
    assert failed.value.code == "secret_key_error"
    assert "API_TOKEN" in failed.value.detail
    assert PLAINTEXT not in failed.value.detail
    with pytest.raises(SecretKeyError):
        await wrong.rotate()
    assert await stored_bytes(engine) == before
    # Rendering through the sync seam reports it as the sync would record it.
    with pytest.raises(InvalidInputError):
        await target_for(private, DatabaseCredentials(wrong), "acme")


def test_malformed_keys_are_refused_without_being_echoed() -> None:
    with pytest.raises(InvalidInputError) as refused:
        SecretBox.from_settings(Settings(secret_keys=f"{OLD_KEY},not-a-fernet-key"))
    assert "key 2 of 2" in refused.value.detail
    assert "not-a-fernet-key" not in refused.value.detail
    assert OLD_KEY not in refused.value.detail


def test_no_repr_shows_a_secret() -> None:
    objects: list[object] = [
        SecretCredential(value=PLAINTEXT),
        oauth("https://auth.example/token", client_secret=PLAINTEXT),
        ClientCredentials(token_url="https://a/t", client_id="c", client_secret=PLAINTEXT),
        StoredCredential(name="X", kind=CredentialKind.SECRET, secret=PLAINTEXT, details={}, version="1"),
        SecretValues({"X": PLAINTEXT}),
        Settings(secret_keys=PLAINTEXT),
        SecretBox([OLD_KEY.encode()]),
    ]
    for shown in objects:
        assert PLAINTEXT not in repr(shown), type(shown)
        assert PLAINTEXT not in str(shown), type(shown)
        assert OLD_KEY not in repr(shown), type(shown)


async def test_a_global_upstream_uses_the_credentials_of_the_tenant_using_it(engine: AsyncEngine) -> None:
    private, shared = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    for tenant in ("acme", "beta"):
        await store.set_credential(
            tenant, shared.id, "API_TOKEN", SecretCredential(value=f"{tenant}-value"), principal=tenant
        )
    await store.set_credential("acme", private.id, "API_TOKEN", SecretCredential(value=PLAINTEXT), principal="ada")
    source = DatabaseCredentials(store)
    assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "acme-value"}
    assert dict(await source.values_for(shared, "beta")) == {"API_TOKEN": "beta-value"}
    assert (await target_for(shared, source, "beta")).headers == {"Authorization": "Bearer beta-value"}
    # No tenant, or a tenant that does not own the private upstream: nothing, so rendering names what is missing.
    assert dict(await source.values_for(shared, None)) == {}
    assert dict(await source.values_for(private, "beta")) == {}
    with pytest.raises(InvalidInputError) as missing:
        render_templates(private.header_templates, await source.values_for(private, "beta"), what="header")
    assert "API_TOKEN" in missing.value.detail


async def test_credentials_are_listed_without_values_deleted_and_cascade(engine: AsyncEngine) -> None:
    private, shared = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    await store.set_credential("acme", private.id, "API_TOKEN", SecretCredential(value=PLAINTEXT), principal="ada")
    spec = oauth("https://auth.example/token", audience="api")
    await store.set_credential("acme", private.id, "OAUTH", spec, principal="ada")
    listed = await store.list_credentials("acme", private.id)
    assert [(item.name, item.kind) for item in listed] == [
        ("API_TOKEN", CredentialKind.SECRET),
        ("OAUTH", CredentialKind.OAUTH_CLIENT_CREDENTIALS),
    ]
    assert listed[1].metadata == {
        "token_url": "https://auth.example/token",
        "client_id": "atrium",
        "scope": "read write",
        "audience": "api",
        "auth_method": "client_secret_basic",
    }
    assert PLAINTEXT not in repr(listed)
    assert "client-s3cret" not in repr(listed)
    await store.delete_credential("acme", private.id, "API_TOKEN")
    with pytest.raises(NotFoundError):
        await store.delete_credential("acme", private.id, "API_TOKEN")
    await store.set_credential("beta", shared.id, "API_TOKEN", SecretCredential(value="b"), principal="bo")
    await Catalog(create_session_factory(engine)).delete_tenant("acme")
    assert len(await stored_bytes(engine)) == 1
    await Catalog(create_session_factory(engine)).delete_upstream(shared.id)
    assert await stored_bytes(engine) == []


async def test_another_tenants_upstream_and_bad_names_are_refused(engine: AsyncEngine) -> None:
    private, _ = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    secret = SecretCredential(value=PLAINTEXT)
    with pytest.raises(NotFoundError):
        await store.set_credential("beta", private.id, "API_TOKEN", secret, principal="bo")
    with pytest.raises(NotFoundError):
        await store.list_credentials("beta", private.id)
    with pytest.raises(NotFoundError):
        await store.set_credential("nobody", private.id, "API_TOKEN", secret, principal="bo")
    for name in ("1ABC", "A-B", "A" * 65, "API_TOKEN\n", "", "ÄPI"):
        with pytest.raises(InvalidInputError):
            await store.set_credential("acme", private.id, name, secret, principal="ada")
    with pytest.raises(InvalidInputError):
        SecretCredential(value="line\nbreak")
    for url in ("http://auth.example/token", "ftp://127.0.0.1/t", "https://user:pw@auth.example/t", "/token"):
        with pytest.raises(InvalidInputError):
            oauth(url)


async def test_oauth_tokens_are_cached_per_tenant_and_refreshed_before_expiry(engine: AsyncEngine) -> None:
    _, shared = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    clock = [1000.0]
    source = DatabaseCredentials(store, TokenCache(clock=lambda: clock[0]))
    async with token_server(lifetime=100) as server:
        for tenant in ("acme", "beta"):
            await store.set_credential(tenant, shared.id, "API_TOKEN", oauth(server.url), principal=tenant)
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-1"}
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-1"}
        assert dict(await source.values_for(shared, "beta")) == {"API_TOKEN": "token-2"}
        clock[0] += 89  # renewed 10 s (a tenth of its lifetime, at most 30 s) before it expires
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-1"}
        clock[0] += 2
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-3"}
        # Setting the credential again fetches a token with the new one.
        await store.set_credential("acme", shared.id, "API_TOKEN", oauth(server.url), principal="ada")
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-4"}
    assert server.issued == 4
    assert server.requests[0] == {
        "auth_method": "client_secret_basic",
        "grant_type": "client_credentials",
        "scope": "read write",
    }


async def test_oauth_with_a_real_clock_and_client_secret_post(engine: AsyncEngine) -> None:
    _, shared = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    source = DatabaseCredentials(store)
    async with token_server(lifetime=1) as server:
        spec = oauth(server.url, auth_method="client_secret_post", audience="https://api.example")
        await store.set_credential("acme", shared.id, "API_TOKEN", spec, principal="ada")
        assert (await target_for(shared, source, "acme")).headers == {"Authorization": "Bearer token-1"}
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-1"}
        await anyio.sleep(1.0)
        assert dict(await source.values_for(shared, "acme")) == {"API_TOKEN": "token-2"}
    assert server.requests[0]["auth_method"] == "client_secret_post"
    assert server.requests[0]["audience"] == "https://api.example"


async def test_a_refusing_or_missing_token_endpoint_is_an_upstream_error_without_secrets(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    _, shared = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    source = DatabaseCredentials(store)
    caplog.set_level(logging.DEBUG)
    async with token_server() as server:
        spec = oauth(server.url, client_secret="wrong-s3cret")
        await store.set_credential("acme", shared.id, "API_TOKEN", spec, principal="ada")
        with pytest.raises(UpstreamError) as refused:
            await source.values_for(shared, "acme")
    assert refused.value.code == "upstream_error"
    assert "invalid_client" in refused.value.detail
    assert "wrong-s3cret" not in refused.value.detail
    await store.set_credential(
        "acme", shared.id, "API_TOKEN", oauth(f"http://127.0.0.1:{free_port()}/token"), principal="ada"
    )
    with pytest.raises(UpstreamUnreachableError):
        await source.values_for(shared, "acme")
    assert "wrong-s3cret" not in caplog.text
    assert "client-s3cret" not in caplog.text


async def test_no_secret_or_token_reaches_the_logs(engine: AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:
    private, shared = await make_upstreams(engine)
    store = store_with(engine, OLD_KEY)
    caplog.set_level(logging.DEBUG)
    source = DatabaseCredentials(store)
    async with token_server() as server:
        await store.set_credential("acme", private.id, "API_TOKEN", SecretCredential(value=PLAINTEXT), principal="a")
        await store.set_credential("acme", shared.id, "API_TOKEN", oauth(server.url), principal="a")
        await target_for(private, source, "acme")
        await target_for(shared, source, "acme")
        await store.rotate()
    assert caplog.records  # something was logged, and none of it is secret
    for secret in (PLAINTEXT, "client-s3cret", "token-1", OLD_KEY):
        assert secret not in caplog.text


def test_the_key_file_is_never_world_readable(tmp_path: Path) -> None:
    box = SecretBox.from_settings(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db' / 'a.db'}"))
    token = box.encrypt(PLAINTEXT)
    assert stat.S_IMODE((tmp_path / "db" / "secret.key").stat().st_mode) == 0o600
    assert box.decrypt(token) == PLAINTEXT
    assert SecretBox.from_settings(Settings(database_url="sqlite+aiosqlite:///:memory:")).encrypt("x")
