"""Security review: the pending queue and decisions on exact version hashes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from composer._auth import PrincipalDep
from composer._authz import Action, authorize
from composer._services import ServicesDep
from composer.api._catalog import Hash, visible_item
from composer.api._params import Cursor, Limit, TenantFilter
from composer.api._scope import authorize_list_scope
from registry import (
    Decision,
    DefinitionVersion,
    ItemKind,
    Page,
    PendingOverride,
    QueueFilter,
    ReviewEntry,
    VirtualEntry,
)

Risk = Literal["none", "low", "medium", "high", "critical"]


class DecisionRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decision: Decision
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class ReviewController(Controller):
    path = "/api/v1/reviews"
    tags = ["review"]

    @get("/pending")
    async def pending(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        tenant: TenantFilter = None,
        upstream_id: FromQuery[int | None] = None,
        kind: FromQuery[ItemKind | None] = None,
        min_risk: Annotated[Risk | None, QueryParameter(description="Only versions at or above this risk")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[ReviewEntry]:
        """Versions waiting for a decision, oldest first; without a tenant, every tenant's."""
        await authorize_list_scope(services, principal, Action.REVIEW, tenant=tenant, upstream_id=upstream_id)
        where = QueueFilter(tenant=tenant, upstream_id=upstream_id, kind=kind, min_risk=min_risk)
        return await services.review.pending(where, cursor=cursor, limit=limit)

    @post("/items/{item_id:int}/versions/{digest:str}", status_code=200)
    async def decide(
        self,
        item_id: FromPath[int],
        digest: Hash,
        data: JSONBody[DecisionRequest],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> DefinitionVersion:
        """Approve or reject exactly this hash. 409 if it was decided already or (approve) is not current."""
        item = await visible_item(services, principal, item_id)
        authorize(services.policies, principal, Action.REVIEW, item.tenant)
        version = await services.review.decide(
            item_id, digest, data.decision, principal=principal.name, reason=data.reason
        )
        await services.notifier.upstream_changed(item.upstream_id)
        return version

    @get("/overrides")
    async def pending_overrides(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        tenant: TenantFilter = None,
        min_risk: Annotated[Risk | None, QueryParameter(description="Only overrides at or above this risk")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[PendingOverride]:
        """Description overrides waiting for a decision, oldest first, each with its risk scan."""
        await authorize_list_scope(services, principal, Action.REVIEW, tenant=tenant, upstream_id=None)
        return await services.overrides.pending(tenant=tenant, min_risk=min_risk, cursor=cursor, limit=limit)

    @post("/overrides/{tenant:str}/{slug:str}/{entry_id:int}", status_code=200)
    async def decide_override(
        self,
        tenant: FromPath[str],
        slug: FromPath[str],
        entry_id: FromPath[int],
        data: JSONBody[DecisionRequest],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> VirtualEntry:
        """Approve or reject a virtual server entry's description override; 409 unless pending."""
        authorize(services.policies, principal, Action.REVIEW, tenant)
        entry = await services.virtual_servers.decide_override(
            tenant, slug, entry_id, data.decision, principal=principal.name, reason=data.reason
        )
        services.notifier.virtual_server_changed(tenant, slug)
        return entry
