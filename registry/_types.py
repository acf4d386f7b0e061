"""The registry's public data objects: what repositories return and services take."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class ItemKind(enum.StrEnum):
    TOOL = "tool"
    PROMPT = "prompt"
    RESOURCE = "resource"
    RESOURCE_TEMPLATE = "resource_template"


class VersionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # Superseded: a newer version of the same item was approved.
    RETIRED = "retired"


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a list; pass ``next_cursor`` back to get the next one."""

    items: list[T]
    next_cursor: str | None = None


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    slug: str
    name: str
    separation_of_duties: bool
    auto_approve_low_risk: bool
    created_at: datetime


class Upstream(msgspec.Struct, frozen=True, kw_only=True):
    """A registered upstream MCP server. Header and env values are templates, never secrets."""

    id: int
    tenant: str | None
    slug: str
    name: str
    transport: str
    url: str | None
    header_templates: dict[str, str]
    command: list[str]
    env_templates: dict[str, str]
    cwd: str | None
    sync_interval_seconds: int | None
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_sync_at: datetime | None
    last_sync_status: str
    last_error_code: str | None
    last_error: str | None
    protocol_version: str | None
    server_name: str | None
    server_version: str | None


class DefinitionVersion(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    item_id: int
    hash: str
    definition: dict[str, Any]
    status: VersionStatus
    risk: str
    findings: list[dict[str, Any]]
    previous_version_id: int | None
    diff: str
    changed_fields: list[str]
    synced_by: str
    first_seen_at: datetime
    last_seen_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    is_current: bool = False


class CatalogItem(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    upstream_id: int
    tenant: str | None
    upstream_slug: str
    kind: ItemKind
    key: str
    present: bool
    current_hash: str | None
    current_status: VersionStatus | None
    first_seen_at: datetime
    last_seen_at: datetime


class ReviewDecision(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    version_id: int
    decision: str
    principal: str
    reason: str
    decided_at: datetime


class SyncRun(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    upstream_id: int
    trigger: str
    principal: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    status: str
    counts: dict[str, int]
    error_code: str | None
    error: str | None


class ApprovedDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """What the composer may serve for one item: the pinned, approved, current version."""

    upstream_id: int
    kind: ItemKind
    key: str
    hash: str
    definition: dict[str, Any]
