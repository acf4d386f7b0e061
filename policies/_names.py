"""What policy lines name: subjects, domains, objects, actions; how to spell them and check them.

Subjects are principals, namespaced by kind (``user:alice``, ``agent:support-bot``, ``svc:ci``),
or roles, plain names (``tenant_admin``, ``analyst``). Domains are tenant slugs, or ``*``.

Objects are stable identifiers, never display names, so a rename cannot open a hole:

    admin/<area>                                        an admin API area (AREAS)
    mcp/<virtual server>/<kind>/<upstream>/<name>       one curated MCP item

``<upstream>`` is the upstream's slug, or ``global:<slug>`` for a global upstream (a tenant's
private upstream may share a global one's slug). ``<name>`` is the *upstream's original* tool or
prompt name, resource URI or resource template, percent-encoded with ``quote(name, safe="")``
so it never holds ``/`` or ``*``: segments split unambiguously, and a ``*`` in an object is always
a pattern. Encoding is character by character, so a prefix of a URI encodes to a prefix of its
encoding: ``mcp/vs/resource/files/file%3A%2F%2F%2Fdocs%2F*`` names every URI under file:///docs/.

Patterns are Casbin's keyMatch: ``*`` is only allowed last and matches any suffix (keyMatch
ignores whatever follows the first ``*``, so a ``*`` elsewhere would silently widen the rule).
keyMatch is a plain prefix test: no regular expressions, so no metacharacter in a name can widen
a rule either. A whole virtual server is ``mcp/<vs>/*``, its tools ``mcp/<vs>/tool/*``, one
upstream's tools in it ``mcp/<vs>/tool/<upstream>/*``.
"""

from __future__ import annotations

import enum
import re
from urllib.parse import quote

from registry import InvalidInputError

AREAS = (
    "catalog",
    "credentials",
    "platform",
    "policies",
    "reviews",
    "tenants",
    "tokens",
    "upstreams",
    "virtual-servers",
)
MCP_KINDS = ("prompt", "resource", "resource_template", "tool")
PRINCIPAL_KINDS = ("agent", "svc", "user")


class Act(enum.StrEnum):
    """Actions. Admin: manage, read, review, curate. MCP: call (tools), get (prompts), read (resources).

    An MCP item is listed iff its use action is allowed: listable and usable are one decision.
    """

    MANAGE = "manage"
    READ = "read"
    REVIEW = "review"
    CURATE = "curate"
    CALL = "call"
    GET = "get"
    ANY = "*"


USE_ACTION = {"tool": Act.CALL, "prompt": Act.GET, "resource": Act.READ, "resource_template": Act.READ}

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_PRINCIPAL = re.compile(r"(?:agent|svc|user):[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,199}")
_UPSTREAM = re.compile(r"(?:global:)?[a-z0-9][a-z0-9-]{0,62}")
_NAME = re.compile(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})+")
# What a partial (pattern) segment may hold: a prefix of a valid segment at that position.
_SLUG_CHARS = re.compile(r"[a-z0-9-]*")
_UPSTREAM_PREFIX = re.compile(r"(?:global:)?[a-z0-9-]*")
_NAME_PREFIX = re.compile(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*(?:%[0-9A-F]?)?")
MAX_OBJECT = 1000


def admin_object(area: str) -> str:
    return f"admin/{area}"


def upstream_segment(slug: str, *, is_global: bool) -> str:
    return f"global:{slug}" if is_global else slug


def mcp_object(virtual_server: str, kind: str, upstream: str, name: str) -> str:
    """The object of one MCP item; ``upstream`` as :func:`upstream_segment` spells it."""
    return f"mcp/{virtual_server}/{kind}/{upstream}/{quote(name, safe='')}"


def mcp_action(kind: str) -> str:
    """The action that both lists and uses an MCP item of ``kind`` (tool: call, prompt: get, resource: read).

    Raises:
        InvalidInputError: not an MCP kind.
    """
    try:
        return USE_ACTION[kind].value
    except KeyError:
        raise InvalidInputError(f"invalid MCP kind {kind!r}: expected one of {', '.join(MCP_KINDS)}") from None


def principal_subject(kind: str, name: str) -> str:
    """``user:alice``: how a principal appears in policy lines."""
    return check_subject(f"{kind}:{name}")


def _fail(what: str, value: str, why: str) -> InvalidInputError:
    return InvalidInputError(f"invalid {what} {value!r}: {why}")


def check_role(value: str) -> str:
    if not _ROLE.fullmatch(value):
        raise _fail("role", value, "roles are [a-z][a-z0-9_-]{0,63}")
    return value


def check_subject(value: str) -> str:
    if not (_ROLE.fullmatch(value) or _PRINCIPAL.fullmatch(value)):
        raise _fail("subject", value, "expected a role name or user:/agent:/svc:<name>")
    return value


def check_domain(value: str) -> str:
    if value != "*" and not _SLUG.fullmatch(value):
        raise _fail("domain", value, "expected a tenant slug or '*'")
    return value


def check_action(value: str) -> str:
    if value not in Act.__members__.values():
        raise _fail("action", value, f"expected one of {', '.join(sorted(Act))}")
    return value


def check_object(value: str) -> str:
    star = value.find("*")
    if len(value) > MAX_OBJECT:
        raise _fail("object", value[:60], f"longer than {MAX_OBJECT} characters")
    if star not in (-1, len(value) - 1):
        raise _fail("object", value, "'*' may only come last (keyMatch ignores what follows it)")
    segments = value.removesuffix("*").split("/")
    if not _segments_valid(segments, partial=star != -1):
        raise _fail("object", value, "expected admin/<area> or mcp/<vs>/<kind>/<upstream>/<encoded name>")
    return value


def _segments_valid(segments: list[str], *, partial: bool) -> bool:
    head, *rest = segments
    if head == "admin":
        full: tuple[object, ...] = (AREAS,)
    elif head == "mcp":
        full = (_SLUG, MCP_KINDS, _UPSTREAM, _NAME)
    else:
        # A pattern may stop inside the first segment ("*", "ad*"); an exact object may not.
        return partial and not rest and any(root.startswith(head) for root in ("admin", "mcp"))
    if len(rest) > len(full) or (not partial and len(rest) != len(full)):
        return False
    prefixes: tuple[object, ...] = (
        (AREAS,) if head == "admin" else (_SLUG_CHARS, MCP_KINDS, _UPSTREAM_PREFIX, _NAME_PREFIX)
    )
    for position, segment in enumerate(rest):
        last = partial and position == len(rest) - 1
        if not _segment_valid(segment, prefixes[position] if last else full[position], prefix=last):
            return False
    return True


def _segment_valid(segment: str, rule: object, *, prefix: bool) -> bool:
    if isinstance(rule, re.Pattern):
        return rule.fullmatch(segment) is not None
    assert isinstance(rule, tuple)
    return any(choice.startswith(segment) if prefix else choice == segment for choice in rule)
