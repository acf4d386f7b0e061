"""The application factory: ``create_app(settings)`` builds everything in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig

from composer._auth import provide_principal
from composer._demo import seed_demo
from composer._endpoint_access import EndpointAccess
from composer._endpoints import VirtualServerResolver
from composer._problems import atrium_error_handler, http_error_handler, unexpected_error_handler
from composer._protected_resource import protected_resource_route
from composer._served_cache import ServedViewCache
from composer._services import Services, build_services
from composer._subscriptions import ResourceSubscriptions
from composer._suspended_calls import SuspendedCalls
from composer.api import (
    AgentKeyController,
    CatalogController,
    CredentialController,
    IssuerController,
    PlatformCredentialController,
    PlatformPolicyController,
    ReviewController,
    TenantController,
    TenantPolicyController,
    UpstreamController,
    VirtualServerController,
)
from composer.mcp import ListChangedHub, McpSettings, create_mcp_asgi, mcp_route
from registry import AtriumError, CredentialSource, Settings, upgrade_database

logger = logging.getLogger(__name__)


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


@get("/health", tags=["health"])
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(
    settings: Settings,
    *,
    credentials: CredentialSource | None = None,
    run_scheduler: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Litestar:
    """The Atrium ASGI app. Nothing is connected until its lifespan starts."""

    hub = ListChangedHub()
    holder: list[Services] = []  # filled by the lifespan; the MCP resolver reads it per request
    cache = ServedViewCache()
    subscriptions = ResourceSubscriptions(hub)
    access = EndpointAccess(lambda: holder[0].agent_auth, lambda: holder[0].policies, settings.public_url)
    mcp_settings = McpSettings.from_env(environ or {})
    # 2026-07-28 clients' calls suspended while handshake-era upstreams wait on them: this process's own.
    suspended = SuspendedCalls(ttl=mcp_settings.client_request_timeout)
    resolver = VirtualServerResolver(
        lambda: holder[0].virtual_servers, lambda: holder[0].pool, cache, access, subscriptions, suspended
    )
    mcp = create_mcp_asgi(resolver, mcp_settings, hub=hub)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = build_services(settings, credentials, hub=hub, cache=cache, subscriptions=subscriptions)
        app.state.services = services
        holder[:] = [services]
        services.policies.on_change(services.notifier.policies_changed)
        try:
            if settings.database_url.startswith("sqlite"):
                # The embedded default migrates itself; PostgreSQL is migrated by `atrium db upgrade`.
                await upgrade_database(services.engine)
            await services.policies.load()  # every admin and MCP decision needs the policy lines
            async with (
                services.pool.running(),
                mcp.running(),
                suspended.running(),
                anyio.create_task_group() as tasks,
            ):
                tasks.start_soon(services.policies.run)  # picks up other processes' policy changes
                if run_scheduler:
                    tasks.start_soon(services.scheduler.run)
                if settings.demo:
                    tasks.start_soon(seed_demo, services, f"http://{settings.host}:{settings.port}")
                yield
                mcp.close()
                tasks.cancel_scope.cancel()
        finally:
            holder.clear()
            await services.http.aclose()
            await services.engine.dispose()

    return Litestar(
        route_handlers=[
            health,
            mcp_route(mcp),
            protected_resource_route(access),
            VirtualServerController,
            TenantController,
            UpstreamController,
            CredentialController,
            PlatformCredentialController,
            AgentKeyController,
            IssuerController,
            CatalogController,
            ReviewController,
            TenantPolicyController,
            PlatformPolicyController,
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "principal": Provide(provide_principal),
        },
        exception_handlers={
            AtriumError: atrium_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Atrium admin API", version="0.1.0", path="/schema"),
        debug=False,
    )
