"""RFC 9728 protected resource metadata of each MCP endpoint.

An MCP client that gets a 401 follows the ``resource_metadata`` URL of its ``WWW-Authenticate``
challenge to learn which authorization servers (the tenant's issuers) can mint tokens for this
endpoint, and for which audience (the endpoint's canonical URI, RFC 8707).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import get
from litestar.params import FromPath

from composer._problems import AnyRequest
from composer._services import ServicesDep
from registry import WELL_KNOWN_PREFIX, NotFoundError

if TYPE_CHECKING:
    from litestar.handlers import HTTPRouteHandler

    from composer._endpoint_access import EndpointAccess

_PATHS = [
    f"{WELL_KNOWN_PREFIX}/mcp/{{tenant:str}}/{{virtual_server:str}}",
    f"{WELL_KNOWN_PREFIX}/mcp/{{tenant:str}}/{{virtual_server:str}}/{{role:str}}",
]


def protected_resource_route(access: EndpointAccess) -> HTTPRouteHandler:
    @get(_PATHS, include_in_schema=False)
    async def protected_resource(
        request: AnyRequest,
        services: ServicesDep,
        tenant: FromPath[str],
        virtual_server: FromPath[str],
        role: FromPath[str | None] = None,
    ) -> dict[str, Any]:
        """Raises: NotFoundError: no such virtual server."""
        if await services.virtual_servers.title_of(tenant, virtual_server) is None:
            raise NotFoundError(f"no MCP endpoint /mcp/{tenant}/{virtual_server}")
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        resource = access.resource(base_url, tenant, virtual_server, role)
        return await services.agent_auth.resource_metadata(tenant, resource)

    return protected_resource
