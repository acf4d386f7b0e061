"""What an MCP endpoint tells clients about its protection: pure functions, no I/O.

- The canonical resource URI of an endpoint (RFC 8707 section 2, MCP "Canonical Server URI"):
  lowercase scheme and host, no default port, no query, fragment or trailing slash. Tokens
  must name it in ``aud``.
- Where its RFC 9728 metadata lives: section 3.1 inserts the well-known segment between the
  host and the path, so ``https://h/mcp/acme/vs`` has its metadata at
  ``https://h/.well-known/oauth-protected-resource/mcp/acme/vs``.
- The metadata document itself, and the ``WWW-Authenticate`` Bearer challenge of a 401/403
  (RFC 6750 section 3 with RFC 9728 section 5.1's ``resource_metadata``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from registry._errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Iterable

WELL_KNOWN_PREFIX = "/.well-known/oauth-protected-resource"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E; scope tokens %x21 / %x23-5B / %x5D-7E.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def endpoint_path(tenant: str, virtual_server: str) -> str:
    """The path of a virtual server's MCP endpoint (relative to the public base URL)."""
    return f"/mcp/{tenant}/{virtual_server}"


def canonical_uri(uri: str) -> str:
    """The canonical form of an absolute http(s) URI; comparisons of resources use this.

    Raises:
        InvalidInputError: not an absolute http(s) URI, or one with a fragment.
    """
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.fragment:
        raise InvalidInputError(f"not an absolute http(s) URI without fragment: {uri!r}")
    host = parts.hostname  # urlsplit lowercases it
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(f"bad port in {uri!r}") from exc
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{parts.path.rstrip('/')}"


def resource_uri(scheme: str, host: str, path: str, *, public_base_url: str = "") -> str:
    """The canonical resource URI of the endpoint at ``path``, as clients address it.

    ``scheme`` and ``host`` (the Host header, port included) come from the request; behind a
    proxy they are the proxy's view, so a configured ``public_base_url`` (e.g.
    ``https://mcp.example.com/atrium``) replaces them and prefixes ``path``. Configure it in
    production: the Host header is the client's to choose, so without it a token issued for
    the same path on another host (by an issuer the tenant trusts) would pass the audience check.

    Raises:
        InvalidInputError: the result is not an absolute http(s) URI.
    """
    base = public_base_url.rstrip("/") if public_base_url else f"{scheme}://{host}"
    return canonical_uri(base + "/" + path.lstrip("/"))


def metadata_url(resource: str) -> str:
    """Where the RFC 9728 metadata of ``resource`` lives (section 3.1: well-known before the path)."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_PREFIX}{parts.path}"


def resource_path(well_known_path: str) -> str | None:
    """The resource path a well-known metadata request is about, or None for another path.

    ``/.well-known/oauth-protected-resource/mcp/acme/vs`` -> ``/mcp/acme/vs``.
    """
    if not well_known_path.startswith(WELL_KNOWN_PREFIX + "/"):
        return None
    return well_known_path.removeprefix(WELL_KNOWN_PREFIX)


def protected_resource_metadata(
    resource: str, *, authorization_servers: Iterable[str], scopes_supported: Iterable[str] = ()
) -> dict[str, object]:
    """The RFC 9728 section 2 document of ``resource``.

    ``authorization_servers`` are the tenant's issuers. MCP requires at least one; with none
    (a tenant using API keys only) the member is left out rather than sent empty.
    """
    document: dict[str, object] = {"resource": resource, "bearer_methods_supported": ["header"]}
    servers = list(dict.fromkeys(authorization_servers))
    if servers:
        document["authorization_servers"] = servers
    scopes = list(dict.fromkeys(scopes_supported))
    if scopes:
        document["scopes_supported"] = scopes
    return document


def www_authenticate(
    *,
    resource_metadata: str,
    error: str | None = None,
    description: str | None = None,
    scopes: Iterable[str] = (),
) -> str:
    """A ``Bearer`` challenge: ``Bearer resource_metadata="…", error="…", error_description="…", scope="…"``.

    No ``error`` when the request carried no credentials (RFC 6750 section 3.1). Characters
    the RFC does not allow inside the quoted values are dropped, so no value can break out.
    """
    params = [("resource_metadata", _NOT_DESCRIPTION.sub("", resource_metadata))]
    if error is not None:
        params.append(("error", _NOT_DESCRIPTION.sub("", error)))
        if description:
            params.append(("error_description", _NOT_DESCRIPTION.sub("", description)[:200]))
    scope = " ".join(dict.fromkeys(token for token in scopes if _SCOPE_TOKEN.match(token)))
    if scope:
        params.append(("scope", scope))
    return "Bearer " + ", ".join(f'{name}="{value}"' for name, value in params)
