"""The services an app instance works with, built once in its lifespan."""

from __future__ import annotations

import httpx
import msgspec
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from composer._endpoints import ChangeNotifier
from composer._served_cache import ServedViewCache
from composer._subscriptions import ResourceSubscriptions
from composer.mcp import ListChangedHub
from policies import PolicyEngine, PolicyStore
from registry import (
    AgentAuthenticator,
    AgentKeys,
    Catalog,
    CredentialSource,
    CredentialStore,
    DatabaseCredentials,
    Issuers,
    JwksCache,
    JwtVerifier,
    OverrideQueue,
    Review,
    SecretBox,
    Settings,
    SyncScheduler,
    SyncService,
    Tokens,
    UpstreamPool,
    VirtualServers,
    create_engine,
    create_session_factory,
)


class Services(msgspec.Struct, frozen=True, kw_only=True):
    settings: Settings
    engine: AsyncEngine
    catalog: Catalog
    review: Review
    overrides: OverrideQueue
    syncs: SyncService
    tokens: Tokens
    scheduler: SyncScheduler
    credentials: CredentialStore
    virtual_servers: VirtualServers
    pool: UpstreamPool
    hub: ListChangedHub
    notifier: ChangeNotifier
    agent_keys: AgentKeys
    issuers: Issuers
    # Who an agent at an MCP endpoint is (agent keys and issuers' JWTs); its JWKS client is `http`.
    agent_auth: AgentAuthenticator
    http: httpx.AsyncClient  # closed by the app's lifespan
    policies: PolicyEngine


def build_services(
    settings: Settings,
    credentials: CredentialSource | None = None,
    *,
    hub: ListChangedHub | None = None,
    cache: ServedViewCache | None = None,
    subscriptions: ResourceSubscriptions | None = None,
) -> Services:
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    catalog = Catalog(sessions)
    store = CredentialStore(sessions, SecretBox.from_settings(settings))
    # Upstream templates are rendered with each tenant's stored credentials unless told otherwise.
    creds = credentials or DatabaseCredentials(store)
    hub = hub or ListChangedHub()
    notifier = ChangeNotifier(sessions, hub, cache or ServedViewCache())
    pool = UpstreamPool(
        creds,
        call_timeout=settings.call_timeout,
        on_notification=None if subscriptions is None else subscriptions.upstream_notified,
    )
    store.on_change(pool.credentials_changed)  # calls render targets from an in-memory cache
    syncs = SyncService(sessions, creds, timeout=settings.discovery_timeout, on_change=notifier.upstream_changed)
    issuers = Issuers(sessions)
    http = httpx.AsyncClient(follow_redirects=False)
    tokens = Tokens(sessions)  # one instance: its cache of verified keys must see every revocation
    agent_auth = AgentAuthenticator(tokens, issuers, JwtVerifier(JwksCache(http)))
    return Services(
        settings=settings,
        engine=engine,
        catalog=catalog,
        review=Review(sessions),
        overrides=OverrideQueue(sessions),
        syncs=syncs,
        tokens=tokens,
        scheduler=SyncScheduler(catalog, syncs, creds, tick=settings.scheduler_tick, watch=settings.watch_list_changed),
        credentials=store,
        virtual_servers=VirtualServers(sessions),
        pool=pool,
        hub=hub,
        notifier=notifier,
        agent_keys=AgentKeys(tokens),
        issuers=issuers,
        agent_auth=agent_auth,
        http=http,
        policies=PolicyEngine(PolicyStore(sessions), poll_interval=settings.policy_poll_interval),
    )


# Handlers name the services they are handed explicitly (Litestar 3 drops inferred dependencies).
ServicesDep = NamedDependency[Services]
