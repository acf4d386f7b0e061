"""The catalog: what upstreams offer, every definition version, its findings and diff."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, PathParameter

from composer._auth import PrincipalDep
from composer._authz import Action, allowed
from composer._services import Services, ServicesDep
from composer.api._params import Cursor, Limit, TenantFilter
from composer.api._scope import authorize_list_scope
from registry import (
    CatalogItem,
    DefinitionVersion,
    ItemKind,
    NotFoundError,
    Page,
    Principal,
    ReviewDecision,
)

Hash = Annotated[str, PathParameter(pattern="^[0-9a-f]{64}$", description="SHA-256 of the canonical definition")]


async def visible_item(services: Services, principal: Principal, item_id: int) -> CatalogItem:
    """The item if ``principal`` may read its tenant's catalog; otherwise it is "not found"."""
    item = await services.review.get_item(item_id)
    if not allowed(services.policies, principal, Action.READ_CATALOG, item.tenant):
        raise NotFoundError(f"no catalog item {item_id}")
    return item


class CatalogController(Controller):
    path = "/api/v1/catalog/items"
    tags = ["catalog"]

    @get("/")
    async def list_items(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        tenant: TenantFilter = None,
        upstream_id: FromQuery[int | None] = None,
        kind: FromQuery[ItemKind | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[CatalogItem]:
        await authorize_list_scope(services, principal, Action.READ_CATALOG, tenant=tenant, upstream_id=upstream_id)
        return await services.review.list_items(
            tenant=tenant, upstream_id=upstream_id, kind=kind, cursor=cursor, limit=limit
        )

    @get("/{item_id:int}")
    async def get_item(self, item_id: FromPath[int], services: ServicesDep, principal: PrincipalDep) -> CatalogItem:
        return await visible_item(services, principal, item_id)

    @get("/{item_id:int}/versions")
    async def list_versions(
        self,
        item_id: FromPath[int],
        services: ServicesDep,
        principal: PrincipalDep,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[DefinitionVersion]:
        await visible_item(services, principal, item_id)
        return await services.review.list_versions(item_id, cursor=cursor, limit=limit)

    @get("/{item_id:int}/versions/{digest:str}")
    async def get_version(
        self, item_id: FromPath[int], digest: Hash, services: ServicesDep, principal: PrincipalDep
    ) -> DefinitionVersion:
        await visible_item(services, principal, item_id)
        return await services.review.get_version(item_id, digest)

    @get("/{item_id:int}/versions/{digest:str}/decisions")
    async def list_decisions(
        self, item_id: FromPath[int], digest: Hash, services: ServicesDep, principal: PrincipalDep
    ) -> list[ReviewDecision]:
        await visible_item(services, principal, item_id)
        return await services.review.decisions(item_id, digest)
