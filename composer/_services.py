"""The registry services an app instance works with, built once in its lifespan."""

from __future__ import annotations

import msgspec
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import (
    Catalog,
    CredentialSource,
    NoCredentials,
    Review,
    Settings,
    SyncScheduler,
    SyncService,
    Tokens,
    create_engine,
    create_session_factory,
)


class Services(msgspec.Struct, frozen=True, kw_only=True):
    settings: Settings
    engine: AsyncEngine
    catalog: Catalog
    review: Review
    syncs: SyncService
    tokens: Tokens
    scheduler: SyncScheduler


def build_services(settings: Settings, credentials: CredentialSource | None = None) -> Services:
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    catalog = Catalog(sessions)
    creds = credentials or NoCredentials()
    syncs = SyncService(sessions, creds, timeout=settings.discovery_timeout)
    return Services(
        settings=settings,
        engine=engine,
        catalog=catalog,
        review=Review(sessions),
        syncs=syncs,
        tokens=Tokens(sessions),
        scheduler=SyncScheduler(catalog, syncs, creds, tick=settings.scheduler_tick, watch=settings.watch_list_changed),
    )


# Handlers name the services they are handed explicitly (Litestar 3 drops inferred dependencies).
ServicesDep = NamedDependency[Services]
