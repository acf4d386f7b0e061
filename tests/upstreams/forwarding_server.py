"""An upstream that talks back to its client while it answers, for the forwarding tests.

Runnable as a process::

    python -m tests.upstreams.forwarding_server --transport stdio|streamable-http [--era legacy] --port N

``interact`` reports progress, sends a log message, and asks the client for a sampling
completion, an elicitation and its roots (as standalone server-to-client requests in the
handshake era, as an ``input_required`` result at 2026-07-28: the SDK's resolvers pick per
request), and returns what the client answered. ``wait`` blocks until it is cancelled;
``cancellations`` tells what this process saw of cancellation: the ids of the ``wait`` calls it
started, of those whose task was cancelled, and the request ids named by
``notifications/cancelled``. ``regional`` echoes an argument annotated ``x-mcp-header`` (a
2026-07-28 client must mirror it as ``Mcp-Param-Region``, which the SDK server checks). The prompt ``greet`` has completions, and ``resources/subscribe``
and ``resources/unsubscribe`` are accepted; ``touch`` sends ``notifications/resources/updated`` for a URI (at 2026-07-28 to the
``subscriptions/listen`` streams that name it, the era's only way); ``subscriptions`` tells which URIs
are subscribed now (by resources/subscribe, and by the listen streams open now). ``touch_later``
(handshake era) returns at once and sends the update ``delay`` seconds later, outside any request,
so an HTTP client hears it only on the session's GET stream.
``--era legacy`` serves only the ``initialize`` handshake (see ``demo_server``), so the
server-to-client requests are standalone requests whatever era Atrium's client speaks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, ListRoots, Resolve, Sample
from mcp_types import (
    Completion,
    CreateMessageResult,
    EmptyResult,
    ListRootsResult,
    PromptReference,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
    SamplingMessage,
    SubscribeRequestParams,
    TextContent,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from tests.upstreams.demo_server import DemoServer, Era

SEEN: dict[str, list[Any]] = {"started": [], "cancelled": [], "notices": []}
SUBSCRIBED: set[str] = set()  # by resources/subscribe
LATER: set[asyncio.Task[None]] = set()  # touch_later's pending updates (held, or asyncio may drop them)
LISTENING: Counter[str] = Counter()  # URIs named by the subscriptions/listen streams open now


class Answer(BaseModel):
    name: str


def ask_model() -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text="Say hi"))], max_tokens=5)


def ask_user() -> Elicit[Answer]:
    return Elicit("Your name?", Answer)


def ask_roots() -> ListRoots:
    return ListRoots()


def status_uri(transport: str, era: str) -> str:
    """The one resource, named per process kind so that several can be curated side by side."""
    return f"fwd://{transport}/{era}/status"


def build_server(transport: str, era: Era = "dual") -> DemoServer:
    server = DemoServer(era=era)

    async def record_cancellations(ctx: Any, call_next: Any) -> Any:
        if ctx.method == "notifications/cancelled":
            SEEN["notices"].append((getattr(ctx, "params", None) or {}).get("requestId"))
        return await call_next(ctx)

    async def record_listens(ctx: Any, call_next: Any) -> Any:
        if ctx.method != "subscriptions/listen":
            return await call_next(ctx)
        notifications = (getattr(ctx, "params", None) or {}).get("notifications") or {}
        uris = list(notifications.get("resourceSubscriptions") or ())
        LISTENING.update(uris)
        try:
            return await call_next(ctx)  # the stream is open until this returns
        finally:
            LISTENING.subtract(uris)

    server.middleware.append(record_cancellations)
    server.middleware.append(record_listens)

    @server.tool(description="Talk back to the client, then answer.")
    async def interact(
        topic: str,
        ctx: Context,
        sampled: Annotated[CreateMessageResult, Resolve(ask_model)],
        answer: Annotated[Answer, Resolve(ask_user)],
        roots: Annotated[ListRootsResult, Resolve(ask_roots)],
    ) -> str:
        await ctx.report_progress(1, 2, "halfway")
        await ctx.info(f"working on {topic}")
        await ctx.report_progress(2, 2, "done")
        text = sampled.content.text if isinstance(sampled.content, TextContent) else "?"
        return f"{topic}|{text}|{answer.name}|{','.join(str(root.uri) for root in roots.roots)}"

    @server.tool(description="Wait until cancelled.")
    async def wait(ctx: Context) -> str:
        SEEN["started"].append(ctx.request_id)
        try:
            await anyio.sleep_forever()
        finally:
            SEEN["cancelled"].append(ctx.request_id)
        return "unreachable"

    @server.tool(description="Echo a region that 2026-07-28 clients also send as the Mcp-Param-Region header.")
    def regional(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> str:
        return region

    @server.tool(description="What this process saw of cancellation.")
    def cancellations() -> str:
        return json.dumps(SEEN)

    @server.tool(description="The URIs subscribed now: by resources/subscribe, and by open listen streams.")
    def subscriptions() -> str:
        return json.dumps({"subscribed": sorted(SUBSCRIBED), "listening": sorted(+LISTENING)})

    @server.prompt(description="Greet someone.")
    def greet(name: str) -> str:
        return f"Say hello to {name}."

    @server.resource(status_uri(transport, era), description="A status line.", mime_type="text/plain")
    def status() -> str:
        return "ok"

    @server.completion()  # type: ignore[untyped-decorator, no-untyped-call]
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if isinstance(ref, PromptReference) and ref.name == "greet":
            names = [name for name in ("Ada", "Alan", "Grace") if name.startswith(argument.value)]
            return Completion(values=names, total=len(names), has_more=False)
        return None

    @server.tool(description="Announce that a resource changed.")
    async def touch(uri: str, ctx: Context) -> str:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-07-28: only to the subscriptions/listen streams whose filter names the URI.
            await ctx.notify_resource_updated(uri)
            return "touched"
        # On this request's stream, so an HTTP client hears it without a GET stream.
        updated = ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri=uri))
        await ctx.request_context.session.send_notification(updated, related_request_id=ctx.request_id)
        return "touched"

    @server.tool(description="Announce that a resource changed, a while after answering.")
    async def touch_later(uri: str, ctx: Context, delay: float = 0.2) -> str:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return "handshake era only: a 2026-07-28 request has no session to notify later"
        session = ctx.request_context.session
        updated = ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri=uri))

        async def later() -> None:
            await anyio.sleep(delay)
            await session.send_notification(updated)  # no related request: the GET stream

        task = asyncio.get_running_loop().create_task(later())
        LATER.add(task)
        task.add_done_callback(LATER.discard)
        return "scheduled"

    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        SUBSCRIBED.add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        SUBSCRIBED.discard(str(params.uri))
        return EmptyResult()

    # MCPServer has no public way to accept resources/(un)subscribe; tests only.
    server._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    server._lowlevel_server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--era", choices=["dual", "legacy"], default="dual")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    server = build_server(args.transport, args.era)
    if args.era == "legacy" and args.transport == "stdio":
        anyio.run(server.serve_handshake_only, "stdio", "127.0.0.1", args.port)
    elif args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
