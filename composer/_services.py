"""The services an app instance works with, built once in its lifespan."""

from __future__ import annotations

import msgspec
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from composer._endpoints import ChangeNotifier
from composer._served_cache import ServedViewCache
from composer.mcp import ListChangedHub
from registry import (
    Catalog,
    CredentialSource,
    CredentialStore,
    DatabaseCredentials,
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


def build_services(
    settings: Settings,
    credentials: CredentialSource | None = None,
    *,
    hub: ListChangedHub | None = None,
    cache: ServedViewCache | None = None,
) -> Services:
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    catalog = Catalog(sessions)
    store = CredentialStore(sessions, SecretBox.from_settings(settings))
    # Upstream templates are rendered with each tenant's stored credentials unless told otherwise.
    creds = credentials or DatabaseCredentials(store)
    hub = hub or ListChangedHub()
    notifier = ChangeNotifier(sessions, hub, cache or ServedViewCache())
    syncs = SyncService(sessions, creds, timeout=settings.discovery_timeout, on_change=notifier.upstream_changed)
    return Services(
        settings=settings,
        engine=engine,
        catalog=catalog,
        review=Review(sessions),
        overrides=OverrideQueue(sessions),
        syncs=syncs,
        tokens=Tokens(sessions),
        scheduler=SyncScheduler(catalog, syncs, creds, tick=settings.scheduler_tick, watch=settings.watch_list_changed),
        credentials=store,
        virtual_servers=VirtualServers(sessions),
        pool=UpstreamPool(creds, call_timeout=settings.call_timeout),
        hub=hub,
        notifier=notifier,
    )


# Handlers name the services they are handed explicitly (Litestar 3 drops inferred dependencies).
ServicesDep = NamedDependency[Services]
