"""Protocol version 2026-07-28 against the official SDK client (pinned and auto-negotiated)."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.subscriptions import ResourceUpdated, ToolsListChanged
from mcp.shared.exceptions import MCPError

from tests.composer.mcp._demo import TOOLS, serve

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"


async def test_auto_mode_discovers_the_modern_era() -> None:
    async with serve() as served, Client(served.url, mode="auto") as client:
        assert client.protocol_version == MODERN
        assert client.server_info is not None
        assert client.server_info.name == "demo"
        assert client.instructions == "Use the demo tools."
        assert client.server_capabilities.prompts is not None
    assert len(served.app.sessions) == 0  # no sessions in this era


async def test_lists_are_paged_and_calls_are_stateless() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10):
            names: list[str] = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                names += [tool.name for tool in page.tools]
                cursor = page.next_cursor
                if cursor is None:
                    break
            echoed = await client.call_tool("echo", {"text": "hi"})
            prompt = await client.get_prompt("prompt_0")
            read = await client.read_resource("memo://1")
    assert names == [tool["name"] for tool in TOOLS]
    assert isinstance(echoed.content[0], types.TextContent)
    assert echoed.content[0].text == "hi"
    assert isinstance(prompt.messages[0].content, types.TextContent)
    assert isinstance(read.contents[0], types.TextResourceContents)
    # Every request carried its own envelope; the backend saw the client's _meta pass through.
    metas = [params["_meta"] for _, params in served.backend.calls]
    assert all(meta["io.modelcontextprotocol/protocolVersion"] == MODERN for meta in metas)


async def test_arguments_mirrored_into_headers_are_accepted() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10):
            await client.list_tools()  # the client learns the x-mcp-header annotations from the listing
            result = await client.call_tool("region", {"region": "Zürich", "shards": 3})
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "Zürich/3"


async def test_progress_always_and_logs_only_when_the_request_opts_in() -> None:
    seen: list[float] = []
    logs: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.level)

    async with serve() as served:
        async with Client(served.url, mode=MODERN, logging_callback=on_log) as client:
            with anyio.fail_after(10):
                result = await client.call_tool("report", progress_callback=on_progress)
        assert isinstance(result.content[0], types.TextContent)
        assert result.content[0].text == "reported at 2026-07-28"
        assert seen == [1, 2]
        assert logs == []
        async with Client(served.url, mode=MODERN, logging_callback=on_log, log_level="debug") as client:
            with anyio.fail_after(10):
                await client.call_tool("report")
        assert logs == ["debug", "warning"]


async def test_input_required_results_pass_through_to_the_client() -> None:
    async def elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with serve() as served, Client(served.url, mode=MODERN, elicitation_callback=elicitation) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("ask")
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "hello Ada"


async def test_a_server_to_client_request_has_no_back_channel() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as raised:
            await client.call_tool("sample")
    assert raised.value.error.code == types.INVALID_REQUEST


async def test_closing_the_response_stream_cancels_the_backend_call() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client.call_tool, "slow")
                await served.backend.slow_started.wait()
                tasks.cancel_scope.cancel()
            await served.backend.slow_ended.wait()
    assert served.backend.slow_saw_cancel is True


async def test_errors_keep_their_codes() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10):
            with pytest.raises(MCPError) as boom:
                await client.call_tool("boom")
            with pytest.raises(MCPError) as unknown:
                await client.complete(types.PromptReference(type="ref/prompt", name="x"), {"name": "a", "value": "b"})
    assert boom.value.error.code == types.INTERNAL_ERROR
    assert "secret" not in boom.value.error.message
    assert unknown.value.error.code == types.METHOD_NOT_FOUND


async def test_listen_delivers_the_changes_the_client_opted_in_to() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10):
            async with client.listen(tools_list_changed=True, resource_subscriptions=["memo://1"]) as subscription:
                assert subscription.honored.tools_list_changed
                served.hub.publish("acme", "demo", "prompts")  # not asked for
                served.hub.publish_resource_updated("acme", "demo", "memo://2")  # not subscribed
                served.hub.publish("acme", "demo", "tools")
                first = await subscription.__anext__()
                served.hub.publish_resource_updated("acme", "demo", "memo://1")
                second = await subscription.__anext__()
    assert isinstance(first, ToolsListChanged)
    assert isinstance(second, ResourceUpdated)
    assert second.uri == "memo://1"


async def test_listen_ends_gracefully_when_the_hub_closes() -> None:
    async with serve() as served, Client(served.url, mode=MODERN) as client:
        with anyio.fail_after(10):
            async with client.listen(prompts_list_changed=True) as subscription:
                served.hub.close()
                events = [event async for event in subscription]
    assert events == []
