"""Who may use a virtual server's MCP endpoint, and what they see there.

Every request authenticates; a handshake-era session never does by itself (it is only bound
to the principal that created it, see ``composer.mcp._sessions``). The credential is an agent
key or a JWT from one of the tenant's issuers (:class:`registry.AgentAuthenticator`), and its
audience must be this endpoint's canonical URI (RFC 8707). Then the one Casbin model decides:

* ``/mcp/{tenant}/{vs}/{role}``: the caller must hold ``role`` in the tenant (a stored g line,
  or a role its credential asserts); otherwise the endpoint answers 404, exactly as one that does
  not exist. What ``role`` may use is what is served.
* ``/mcp/{tenant}/{vs}``: what the caller may use, through all of its roles.

An item is served iff its use action (call, get, read) is allowed on its stable object name
(:func:`policies.mcp_object`), so what is listed is exactly what is callable; the virtual backend
answers a hidden item exactly as a missing one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.mcp import EndpointRefusedError
from policies import mcp_action, mcp_object, upstream_segment
from registry import (
    AtriumError,
    AuthenticationError,
    InsufficientScopeError,
    NotFoundError,
    challenge,
    endpoint_path,
    metadata_url,
    resource_uri,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from policies import PolicyEngine, View
    from registry import AgentAuthenticator, AgentPrincipal, ServedEntry


class _NarrowedLists:
    """Narrowed lists by the identity of (served list, policy view).

    Neither is ever mutated: the served-view cache loads a new list and the policy index builds
    a new view when what they hold changes, so identity is a precise key and a changed list or
    policy can never hit a stale entry. Holding both keeps their ids from being reused.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: dict[tuple[int, int], tuple[list[ServedEntry], View, list[ServedEntry]]] = {}

    def get(self, served: list[ServedEntry], view: View, build: Callable[[], list[ServedEntry]]) -> list[ServedEntry]:
        hit = self._entries.get((id(served), id(view)))
        if hit is not None and hit[0] is served and hit[1] is view:
            return hit[2]
        narrowed = build()
        if len(self._entries) >= self._size:
            self._entries.clear()  # rare; simpler than an LRU and never stale
        self._entries[id(served), id(view)] = (served, view, narrowed)
        return narrowed


class Admission:
    """An authenticated caller at one endpoint, and whose policy decides what it sees there.

    The view is looked up per decision, not kept: a handshake-era session keeps the backend it
    was created with, and a policy change must reach it at once. The engine caches views, so
    the lookup is a dictionary hit.
    """

    __slots__ = ("_engine", "_narrowed", "_roles", "_slug", "_subject", "_tenant", "agent", "role")

    def __init__(
        self,
        engine: PolicyEngine,
        narrowed: _NarrowedLists,
        agent: AgentPrincipal,
        role: str | None,
        tenant: str,
        slug: str,
    ) -> None:
        self._engine, self._narrowed = engine, narrowed
        self.agent, self.role, self._tenant, self._slug = agent, role, tenant, slug
        # With a role segment the role decides; without one, the caller with its asserted roles.
        self._subject, self._roles = (agent.name, agent.roles) if role is None else (role, ())

    def owner(self) -> str:
        """Sessions are bound to this: the same principal, through the same kind of credential."""
        return f"{self.agent.method}:{self.agent.issuer or ''}:{self.agent.name}"

    def visible(self, entry: ServedEntry) -> bool:
        return self._allows(self._view(), entry)

    def narrow(self, served: list[ServedEntry]) -> list[ServedEntry]:
        view = self._view()
        return self._narrowed.get(served, view, lambda: [entry for entry in served if self._allows(view, entry)])

    def _view(self) -> View:
        return self._engine.view(self._subject, self._tenant, self._roles)

    def _allows(self, view: View, entry: ServedEntry) -> bool:
        upstream = upstream_segment(entry.upstream.slug, is_global=entry.upstream.tenant is None)
        obj = mcp_object(self._slug, entry.kind.value, upstream, entry.key)
        return view.allows(obj, mcp_action(entry.kind.value))


class EndpointAccess:
    def __init__(
        self,
        authenticator: Callable[[], AgentAuthenticator],
        policies: Callable[[], PolicyEngine],
        public_url: str = "",
    ) -> None:
        # Callables: the services exist only once the app's lifespan has started.
        self._authenticator, self._policies, self._public_url = authenticator, policies, public_url
        self._narrowed = _NarrowedLists()
        self._resources: dict[tuple[str, str, str, str | None], str] = {}

    def resource(self, base_url: str, tenant: str, slug: str, role: str | None) -> str:
        """The canonical URI of the endpoint: the audience its tokens must name.

        Raises: InvalidInputError: the Host header makes no valid URI.
        """
        key = (base_url, tenant, slug, role)
        uri = self._resources.get(key)
        if uri is None:  # canonicalising parses the URI: once per endpoint and host, not per request
            path = "/" + "/".join(part for part in (endpoint_path(tenant, slug).strip("/"), role) if part)
            scheme, _, host = base_url.partition("://")
            uri = resource_uri(scheme, host, path, public_base_url=self._public_url)
            if len(self._resources) >= 10_000:
                self._resources.clear()
            self._resources[key] = uri
        return uri

    async def admit(
        self, tenant: str, slug: str, role: str | None, authorization: str | None, resource: str
    ) -> Admission | None:
        """The caller's admission, or None when it may not know this endpoint exists (a role it lacks).

        Raises:
            EndpointRefusedError: 401 (no, bad or foreign credentials) or 403 (insufficient scope) with
                the Bearer challenge the MCP authorization spec requires; 503 when an issuer's keys
                cannot be fetched.
        """
        authenticator = self._authenticator()
        try:
            agent = await authenticator.authenticate(tenant, authorization, resource)
        except (AuthenticationError, InsufficientScopeError) as exc:
            scopes = await _scopes(authenticator, tenant)
            status, header = challenge(exc, resource_metadata=metadata_url(resource), scopes=scopes)
            raise EndpointRefusedError(
                status, exc.detail, data={"code": exc.code}, headers={"WWW-Authenticate": header} if header else None
            ) from exc
        except AtriumError as exc:
            raise EndpointRefusedError(exc.status, exc.detail, data={"code": exc.code}) from exc
        engine = self._policies()
        if role is not None and role not in engine.view(agent.name, tenant, agent.roles).subjects:
            return None
        return Admission(engine, self._narrowed, agent, role, tenant, slug)


async def _scopes(authenticator: AgentAuthenticator, tenant: str) -> tuple[str, ...]:
    """The scopes a challenge asks for; none for a tenant that does not exist."""
    try:
        return await authenticator.scopes(tenant)
    except NotFoundError:
        return ()
