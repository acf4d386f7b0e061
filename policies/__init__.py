"""Atrium's policies: one Casbin model (RBAC with domains) for the admin API and the MCP endpoints."""

from __future__ import annotations

from policies._engine import PolicyEngine
from policies._index import PolicyIndex, View
from policies._lines import PolicyLine, StoredPolicyLine, check_line, format_csv, g_line, p_line, parse_csv
from policies._model import ALLOW, ANY_DOMAIN, DENY, MAX_ROLE_HOPS, model_text, new_enforcer
from policies._names import AREAS, MCP_KINDS, admin_object, mcp_action, mcp_object, upstream_segment
from policies._store import PolicyStore
from policies._subjects import is_privileged, role_links, subject_of

__all__ = [
    "ALLOW",
    "ANY_DOMAIN",
    "AREAS",
    "DENY",
    "MAX_ROLE_HOPS",
    "MCP_KINDS",
    "PolicyEngine",
    "PolicyIndex",
    "PolicyLine",
    "PolicyStore",
    "StoredPolicyLine",
    "View",
    "admin_object",
    "check_line",
    "format_csv",
    "g_line",
    "is_privileged",
    "mcp_action",
    "mcp_object",
    "model_text",
    "new_enforcer",
    "p_line",
    "parse_csv",
    "role_links",
    "subject_of",
    "upstream_segment",
]
