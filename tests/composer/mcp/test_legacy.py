"""The handshake era (2024-11-05 … 2025-11-25) against the official SDK client in legacy mode."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.composer.mcp._demo import PROMPTS, RESOURCES, TOOLS, serve

pytestmark = pytest.mark.anyio


async def test_the_handshake_negotiates_the_latest_version_and_names_the_server() -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "demo"
        assert client.instructions == "Use the demo tools."
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.logging is not None
        assert len(served.app.sessions) == 1
    # The client's DELETE on exit ends the session.
    assert len(served.app.sessions) == 0


async def test_lists_are_paged_through_the_backend() -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        with anyio.fail_after(10):
            names: list[str] = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                names += [tool.name for tool in page.tools]
                cursor = page.next_cursor
                if cursor is None:
                    break
            prompts = await client.list_prompts()
            resources = await client.list_resources()
            templates = await client.list_resource_templates()
    assert names == [tool["name"] for tool in TOOLS]
    assert [prompt.name for prompt in prompts.prompts] == [prompt["name"] for prompt in PROMPTS[:3]]
    assert prompts.next_cursor == "3"
    assert [str(resource.uri) for resource in resources.resources] == [r["uri"] for r in RESOURCES[:3]]
    assert [template.uri_template for template in templates.resource_templates] == ["memo://{id}"]


async def test_tools_prompts_and_resources_are_served() -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        with anyio.fail_after(10):
            echoed = await client.call_tool("echo", {"text": "hello"})
            prompt = await client.get_prompt("prompt_1")
            read = await client.read_resource("memo://2")
            with pytest.warns(MCPDeprecationWarning):
                await client.send_ping()
    assert isinstance(echoed.content[0], types.TextContent)
    assert echoed.content[0].text == "hello"
    assert isinstance(prompt.messages[0].content, types.TextContent)
    assert prompt.messages[0].content.text == "prompt_1"
    assert isinstance(read.contents[0], types.TextResourceContents)
    assert read.contents[0].text == "memo"


async def test_progress_and_log_messages_reach_the_callbacks() -> None:
    seen: list[tuple[float, float | None, str | None]] = []
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with serve() as served, Client(served.url, mode="legacy", logging_callback=on_log) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("report", progress_callback=on_progress)
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "reported at 2025-11-25"
    assert seen == [(1, 2, "half way"), (2, 2, None)]
    # The default level is info: the debug message is filtered, the warning arrives.
    assert [(log.level, log.data, log.logger) for log in logs] == [("warning", {"step": 1}, "demo")]


async def test_sampling_and_elicitation_requests_are_answered_by_the_client() -> None:
    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="sampled"), model="m"
        )

    async def elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with (
        serve() as served,
        Client(served.url, mode="legacy", sampling_callback=sampling, elicitation_callback=elicitation) as client,
    ):
        with anyio.fail_after(10):
            sampled = await client.call_tool("sample")
            elicited = await client.call_tool("elicit")
    assert isinstance(sampled.content[0], types.TextContent)
    assert sampled.content[0].text == "sampled"
    assert isinstance(elicited.content[0], types.TextContent)
    assert elicited.content[0].text == "accept:Ada"


async def test_a_server_request_fails_when_the_client_lacks_the_capability() -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as raised:
            await client.call_tool("sample")
    assert raised.value.error.code == types.INVALID_REQUEST


async def test_cancelling_a_call_cancels_the_backend_call() -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client.call_tool, "slow")
                await served.backend.slow_started.wait()
                tasks.cancel_scope.cancel()
            await served.backend.slow_ended.wait()
    assert served.backend.slow_saw_cancel is True


async def test_an_unexpected_backend_error_is_an_internal_error_with_nothing_leaked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as raised:
            await client.call_tool("boom")
    assert raised.value.error.code == types.INTERNAL_ERROR
    assert "secret" not in raised.value.error.message
    assert any("secret-token-123" in str(record.exc_info) for record in caplog.records if record.exc_info)


async def test_an_unknown_method_is_method_not_found() -> None:
    async with serve() as served, Client(served.url, mode="legacy") as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as raised:
            await client.complete(types.PromptReference(type="ref/prompt", name="x"), {"name": "a", "value": "b"})
    assert raised.value.error.code == types.METHOD_NOT_FOUND


async def test_list_changed_reaches_a_connected_client() -> None:
    received: list[Any] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        received.append(message)
        arrived.set()

    async with serve() as served, Client(served.url, mode="legacy", message_handler=on_message) as client:
        assert client.protocol_version == "2025-11-25"
        assert served.hub.publish("acme", "demo", "tools") == 1
        assert served.hub.publish("acme", "other", "tools") == 0
        with anyio.fail_after(10):
            await arrived.wait()
    assert isinstance(received[0], types.ToolListChangedNotification)
