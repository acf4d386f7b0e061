"""Where an upstream MCP server lives, and an official-SDK client connected to it.

An :class:`UpstreamTarget` reaches an upstream over Streamable HTTP or legacy HTTP+SSE (a
URL and already-rendered headers) or over stdio (a child process). :func:`connect` opens an
``mcp.Client`` on the right transport and lets the SDK pick the protocol era:
``server/discover`` (2026-07-28, stateless) first, the ``initialize`` handshake as fallback.
Every failure, wherever it surfaces (handshake, the caller's requests, an SDK task group,
the transport's teardown), leaves as one of the registry's upstream errors::

    UpstreamError
    ├── UpstreamUnreachableError  refused, DNS, process failed to start or died, stream lost
    ├── UpstreamTimeoutError      the deadline passed, a request timed out
    └── UpstreamProtocolError     garbage on the wire, invalid JSON-RPC, error responses

Header values, env values and URL credentials are secrets: they are scrubbed from every
error message and from a stdio server's stderr tail, which messages quote for operators.
"""

from __future__ import annotations

import enum
import functools
import os
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, quote, urlsplit

import anyio
import httpx2
import mcp_types as types
import msgspec
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import MCP_SESSION_ID, streamable_http_client
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict

from registry._errors import (
    AtriumError,
    InvalidInputError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from mcp.client.session import (
        ElicitationFnT,
        IncomingMessage,
        ListRootsFnT,
        LoggingFnT,
        MessageHandlerFnT,
        SamplingFnT,
    )
    from mcp_types import LoggingLevel

STDERR_TAIL_BYTES: Final = 4096
_HTTP_TIMEOUT: Final = httpx2.Timeout(10.0, read=None)  # streams idle for long; callers set deadlines
_STDERR_DRAIN_SECONDS: Final = 1.0
_MIN_SECRET_LENGTH: Final = 4  # shorter values are not secrets, and scrubbing them mangles text
_MAX_DETAIL: Final = 500


class Transport(enum.StrEnum):
    STREAMABLE_HTTP = "streamable_http"
    SSE = "sse"
    STDIO = "stdio"


class UpstreamTarget(msgspec.Struct, frozen=True, kw_only=True):
    """How to reach one upstream: a URL and headers, or a command line to run.

    ``repr`` masks header and env values, so a logged target leaks no secret.
    """

    transport: Transport
    url: str | None = None
    headers: dict[str, str] = {}
    command: tuple[str, ...] = ()
    env: dict[str, str] = {}
    cwd: str | None = None

    def __repr__(self) -> str:
        if self.transport is Transport.STDIO:
            fields = f"command={self.command!r}, env={dict.fromkeys(self.env, '***')!r}, cwd={self.cwd!r}"
        else:
            fields = f"url={_display_url(self.url)!r}, headers={dict.fromkeys(self.headers, '***')!r}"
        return f"UpstreamTarget(transport={self.transport.value!r}, {fields})"


def check_target(target: UpstreamTarget) -> None:
    """Raise :class:`InvalidInputError` unless ``target`` is complete for its transport."""
    if target.transport is Transport.STDIO:
        if not target.command or not target.command[0]:
            raise InvalidInputError("a stdio upstream needs a command")
        if target.url is not None or target.headers:
            raise InvalidInputError("a stdio upstream takes no url or headers")
        texts = [*target.command, *target.env, *target.env.values(), target.cwd or ""]
        if any("\0" in text for text in texts):
            raise InvalidInputError("command, env and cwd must not contain NUL characters")
        if any(not name or "=" in name for name in target.env):
            raise InvalidInputError("env variable names must be non-empty and contain no '='")
        return
    if target.command or target.env or target.cwd is not None:
        raise InvalidInputError(f"a {target.transport} upstream takes no command, env or cwd")
    parts = urlsplit(target.url or "")
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range
        valid = False
    if not valid:
        raise InvalidInputError(f"a {target.transport} upstream needs an http(s) URL with a host")
    for name, value in target.headers.items():
        if not name or any(c in name + value for c in "\r\n\0"):
            raise InvalidInputError(f"header {name!r} has an empty name or a control character")


def describe(target: UpstreamTarget) -> str:
    """A secret-free label for messages: the URL without credentials or query, or argv[0]."""
    if target.transport is Transport.STDIO:
        return f"stdio upstream {target.command[0] if target.command else '?'!r}"
    return f"{target.transport} upstream {_display_url(target.url)}"


class HttpObserver:
    """What a Streamable HTTP exchange showed beneath the SDK: session id, GET stream, errors."""

    def __init__(self) -> None:
        self.session_id = False
        self.standalone_stream = anyio.Event()
        self.last_status: int | None = None

    async def __call__(self, response: httpx2.Response) -> None:
        self.session_id = self.session_id or MCP_SESSION_ID in response.headers
        if response.request.method == "GET":
            self.standalone_stream.set()  # answered; a refusal (405) means no notifications will come
        else:
            self.last_status = response.status_code  # the SDK reports most 4xx/5xx as "an error response"


class RawResult(BaseModel):
    """A result model with no fields: every field the upstream sent is kept as an extra, untouched.

    The SDK's typed results drop fields they do not know; discovery hashes what the upstream
    sent and the proxy forwards it, so both read results through this model.
    """

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class ClientCallbacks:
    """How the SDK client answers the upstream's requests and hears its log messages."""

    sampling: SamplingFnT | None = None
    elicitation: ElicitationFnT | None = None
    list_roots: ListRootsFnT | None = None
    logging: LoggingFnT | None = None
    log_level: LoggingLevel | None = None


@dataclass
class UpstreamSession:
    """An open, era-negotiated connection; yielded by :func:`connect`."""

    client: Client
    stderr: StderrTail
    http: HttpObserver


@asynccontextmanager
async def connect(
    target: UpstreamTarget,
    *,
    time_limit: float | None = None,
    handshake_time_limit: float | None = None,
    on_notification: Callable[[types.ServerNotification], Awaitable[None]] | None = None,
    callbacks: ClientCallbacks | None = None,
) -> AsyncIterator[UpstreamSession]:
    """Connect to ``target`` and yield the session; translate every failure on the way out.

    Args:
        target: Where the upstream is.
        time_limit: Seconds for the whole block, handshake included (``None``: no limit).
        handshake_time_limit: Seconds for the handshake alone, when shorter.
        on_notification: Receives the server's notifications, in either era.
        callbacks: Answer the server's requests (sampling, elicitation, roots) and log messages.

    Raises:
        InvalidInputError: ``target`` is incomplete or inconsistent.
        UpstreamUnreachableError, UpstreamTimeoutError, UpstreamProtocolError: as drawn in
            the module docstring. ``AtriumError``\\ s raised by the block pass unchanged.
    """
    check_target(target)
    secrets = _secrets_of(target)
    stderr = StderrTail(secrets)
    http = HttpObserver()
    faults: list[Exception] = []
    handshaking = True
    # One scope for both ways a connection ends early: its deadline, and a transport fault
    # (an unparseable line, a broken SSE stream) that would otherwise only reach the log.
    scope = anyio.CancelScope(deadline=_deadline(handshake_time_limit, time_limit))

    async def handle(message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            faults.append(message)
            scope.cancel()
        elif on_notification is not None:
            await on_notification(message)

    try:
        with scope:
            async with AsyncExitStack() as stack:
                session = await _open(stack, target, stderr, http, handle, callbacks or ClientCallbacks())
                handshaking = False
                scope.deadline = _deadline(time_limit)
                yield session
        if faults:
            raise _failure(target, faults[0], stderr, http, secrets) from faults[0]
        if scope.cancelled_caught:
            what = "did not complete the MCP handshake" if handshaking else "did not answer"
            raise UpstreamTimeoutError(_scrub(f"{describe(target)} {what} in time{stderr.quote()}", secrets))
    except UpstreamError:
        raise
    except Exception as exc:
        raise _failure(target, exc, stderr, http, secrets) from exc
    except BaseExceptionGroup as group:  # real errors that travelled with a cancellation
        if not _leaves(group):
            raise
        raise _failure(target, group, stderr, http, secrets) from group


async def _open(
    stack: AsyncExitStack,
    target: UpstreamTarget,
    stderr: StderrTail,
    http: HttpObserver,
    handle: MessageHandlerFnT,
    callbacks: ClientCallbacks,
) -> UpstreamSession:
    """Enter the transport and the SDK client on ``stack``; the handshake runs here."""
    transport: Any
    if target.transport is Transport.STDIO:
        transport = _stdio_transport(target, stderr)
    elif target.transport is Transport.SSE:
        transport = sse_client(target.url or "", headers=dict(target.headers), httpx_client_factory=_sse_http_client)
    else:
        client = httpx2.AsyncClient(headers=target.headers, timeout=_HTTP_TIMEOUT, event_hooks={"response": [http]})
        transport = streamable_http_client(target.url or "", http_client=await stack.enter_async_context(client))
    mcp_client = Client(
        transport,
        mode="auto",
        cache=None,
        message_handler=handle,
        client_info=_client_info(),
        sampling_callback=callbacks.sampling,
        elicitation_callback=callbacks.elicitation,
        list_roots_callback=callbacks.list_roots,
        logging_callback=callbacks.logging,
        log_level=callbacks.log_level,
    )
    return UpstreamSession(await stack.enter_async_context(mcp_client), stderr, http)


def _sse_http_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    # The SDK's default reads the event stream with a 5-minute idle timeout; a watcher waits longer.
    return httpx2.AsyncClient(headers=headers, timeout=_HTTP_TIMEOUT, auth=auth)


@asynccontextmanager
async def _stdio_transport(target: UpstreamTarget, stderr: StderrTail) -> AsyncIterator[Any]:
    """The SDK's stdio transport, with the child's stderr collected into ``stderr``.

    A pipe rather than a file: a long-lived server logs without bound, and only the tail
    matters. (Needs ``anyio.wait_readable`` on a pipe: POSIX only.)
    """
    params = StdioServerParameters(
        command=target.command[0], args=list(target.command[1:]), env=dict(target.env), cwd=target.cwd
    )
    read_fd, write_fd = os.pipe()
    async with anyio.create_task_group() as tg:
        tg.start_soon(stderr.collect, read_fd)
        errlog = os.fdopen(write_fd, "w")
        try:
            async with stdio_client(params, errlog=errlog) as streams:
                errlog.close()  # the child holds its own copy: EOF now means the child is gone
                yield streams
        finally:
            errlog.close()
            with anyio.move_on_after(_STDERR_DRAIN_SECONDS, shield=True):
                await stderr.closed.wait()
            tg.cancel_scope.cancel()


class StderrTail:
    """The last :data:`STDERR_TAIL_BYTES` a child process wrote to its stderr, secrets scrubbed."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._buffer = bytearray()
        self._secrets = secrets
        self.closed = anyio.Event()

    async def collect(self, fd: int) -> None:
        os.set_blocking(fd, False)
        try:
            while True:
                await anyio.wait_readable(fd)
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    return
                self._buffer += chunk
                del self._buffer[:-STDERR_TAIL_BYTES]
        except OSError:
            return
        finally:
            os.close(fd)
            self.closed.set()

    def text(self) -> str:
        text = self._buffer.decode("utf-8", "replace")
        if len(self._buffer) >= STDERR_TAIL_BYTES and "\n" in text:
            text = text.split("\n", 1)[1]  # drop the cut-off first line
        return _scrub(text.strip(), self._secrets)

    def quote(self) -> str:
        text = self.text()
        return f"\nstderr tail:\n{text}" if text else ""


def _failure(
    target: UpstreamTarget, exc: BaseException, stderr: StderrTail, http: HttpObserver, secrets: tuple[str, ...]
) -> AtriumError:
    root = _root_cause(exc)
    if isinstance(root, AtriumError):
        return type(root)(root.detail)  # raised by the caller's block, perhaps inside a task group
    detail = f"{describe(target)}: {_summary(root)}"[:_MAX_DETAIL]
    if http.last_status is not None and http.last_status >= 400:
        detail += f" (HTTP {http.last_status})"
    return _classify(root)(_scrub(detail + stderr.quote(), secrets))


def _root_cause(exc: BaseException) -> BaseException:
    """The leaf of a (nested) exception group that explains the failure best."""
    leaves = list(_leaves(exc)) or [exc]
    for leaf in leaves:
        if isinstance(leaf, AtriumError):
            return leaf
    for leaf in leaves:  # the SDK's "connection closed" is usually a consequence
        if not (isinstance(leaf, MCPError) and leaf.code == types.CONNECTION_CLOSED):
            return leaf
    return leaves[0]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return []
    return [exc]


def _classify(exc: BaseException) -> type[UpstreamError]:
    if isinstance(exc, MCPError):
        if exc.code == types.CONNECTION_CLOSED:
            return UpstreamUnreachableError
        if exc.code == types.REQUEST_TIMEOUT:
            return UpstreamTimeoutError
        return UpstreamProtocolError
    if isinstance(exc, TimeoutError | httpx2.TimeoutException):
        return UpstreamTimeoutError
    if isinstance(exc, OSError | httpx2.NetworkError | httpx2.ProxyError | SubscriptionLost):
        return UpstreamUnreachableError
    return UpstreamProtocolError  # invalid JSON-RPC, validation errors, HTTP errors, anything else


def _summary(exc: BaseException) -> str:
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.error.message}"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _secrets_of(target: UpstreamTarget) -> tuple[str, ...]:
    values = {*target.headers.values(), *target.env.values()}
    if target.url:
        parts = urlsplit(target.url)
        values.update(v for v in (parts.username, parts.password) if v)
        values.update(v for _, v in parse_qsl(parts.query))
    values |= {quote(v, safe="") for v in values}
    return tuple(sorted((v for v in values if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _display_url(url: str | None) -> str:
    """The URL without userinfo, query or fragment: those are where URLs carry credentials."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _deadline(*timeouts: float | None) -> float:
    finite = [t for t in timeouts if t is not None]
    return anyio.current_time() + min(finite) if finite else float("inf")


@functools.cache
def _client_info() -> types.Implementation:
    try:
        version = metadata.version("mcp-atrium")
    except metadata.PackageNotFoundError:
        version = "0"
    return types.Implementation(name="atrium", version=version)
