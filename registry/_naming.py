"""Exposed names of a virtual server's entries: a pure function of its configuration.

By default an entry is exposed as ``<upstream slug>_<original name>``, kept within
``[A-Za-z0-9_-]{1,64}``: stricter than the spec's 128 characters with dots, because popular
clients reject more. An entry may instead set any spec-valid name (1-128 of ``A-Za-z0-9_.-``),
so a single-upstream server can expose the original names.
"""

from __future__ import annotations

import hashlib
import re

from registry._errors import InvalidInputError

DEFAULT_MAX = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SPEC_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# Long names keep a readable head and gain a digest of the whole, so two long names that
# share a head still differ.
_DIGEST_LEN = 8


def default_exposed_name(upstream_slug: str, original: str) -> str:
    """``<slug>_<name>`` made safe for strict clients, deterministic and collision-resistant."""
    raw = f"{upstream_slug}_{original}"
    safe = _UNSAFE.sub("_", raw)
    if safe == raw and len(safe) <= DEFAULT_MAX:
        return safe
    digest = hashlib.sha256(raw.encode()).hexdigest()[:_DIGEST_LEN]
    head = safe[: DEFAULT_MAX - _DIGEST_LEN - 1]
    return f"{head}_{digest}"


def check_custom_name(name: str) -> str:
    """Raises: InvalidInputError: not a spec-valid tool or prompt name."""
    if not _SPEC_VALID.match(name):
        raise InvalidInputError(f"exposed name {name!r} must be 1-128 characters of A-Z a-z 0-9 _ . -")
    return name


def exposed_name(upstream_slug: str, original: str, custom: str | None) -> str:
    return check_custom_name(custom) if custom is not None else default_exposed_name(upstream_slug, original)
