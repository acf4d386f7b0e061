"""The conformance upstream's 2026-07-28-only tools: SEP-2322 input flows and SEP-2575 diagnostics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.shared.exceptions import MCPError

from tests.conformance._replies import ROOTS, ToolResult, ask, elicit, needs, sample, text, user


def register_input_required(server: MCPServer[None]) -> None:
    """The SEP-2322 tools and prompt of the ``input-required-result-*`` scenarios (2026-07-28 only).

    Input keys, messages and schemas are the ones each scenario's description names.
    """

    def schema_of(field: str, kind: str = "string") -> dict[str, Any]:
        return {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}

    def responses(ctx: Context) -> Mapping[str, Any]:
        return ctx.input_responses or {}

    def answered(ctx: Context, *keys: str) -> bool:
        return all(key in responses(ctx) for key in keys)

    def content_of(ctx: Context, key: str, field: str) -> Any:
        answer = responses(ctx)[key]
        return (getattr(answer, "content", None) or {}).get(field)

    user_name = elicit("What is your name?", schema_of("name"))
    confirm = elicit("Please confirm", schema_of("ok", "boolean"))

    @server.tool(description="Needs the user's name (SEP-2322).")
    def test_input_required_result_elicitation(ctx: Context) -> ToolResult:
        if not answered(ctx, "user_name"):
            return needs({"user_name": user_name})
        return text(f"Hello, {content_of(ctx, 'user_name', 'name')}!")

    @server.tool(description="Needs one sampling answer (SEP-2322).")
    def test_input_required_result_sampling(ctx: Context) -> ToolResult:
        if not answered(ctx, "capital_question"):
            return needs({"capital_question": sample("What is the capital of France?", 100)})
        content = responses(ctx)["capital_question"].content
        return text(f"Sampling said: {getattr(content, 'text', '')}")

    @server.tool(description="Needs the client's roots (SEP-2322).")
    def test_input_required_result_list_roots(ctx: Context) -> ToolResult:
        if not answered(ctx, "client_roots"):
            return needs({"client_roots": ROOTS})
        roots = [str(root.uri) for root in responses(ctx)["client_roots"].roots]
        return text(f"Roots: {', '.join(roots)}")

    @server.tool(description="Round-trips requestState (SEP-2322).")
    def test_input_required_result_request_state(ctx: Context) -> ToolResult:
        if not answered(ctx, "confirm") or ctx.request_state != "awaiting-confirm":
            return needs({"confirm": confirm}, "awaiting-confirm")
        return text("state-ok: the requestState came back intact")

    @server.tool(description="Needs elicitation, sampling and roots at once (SEP-2322).")
    def test_input_required_result_multiple_inputs(ctx: Context) -> ToolResult:
        keys = ("user_name", "greeting", "client_roots")
        if not answered(ctx, *keys) or ctx.request_state != "awaiting-all":
            requests = {"user_name": user_name, "greeting": sample("Generate a greeting", 50), "client_roots": ROOTS}
            return needs(requests, "awaiting-all")
        return text("All three inputs received")

    @server.tool(description="Two rounds of elicitation with evolving state (SEP-2322).")
    def test_input_required_result_multi_round(ctx: Context) -> ToolResult:
        if ctx.request_state == "round-2" and answered(ctx, "step2"):
            return text(f"Multi-round flow complete: {content_of(ctx, 'step2', 'color')}")
        if ctx.request_state == "round-1" and answered(ctx, "step1"):
            step2 = elicit("Step 2: What is your favorite color?", schema_of("color"))
            return needs({"step2": step2}, "round-2")
        return needs({"step1": elicit("Step 1: What is your name?", schema_of("name"))}, "round-1")

    @server.tool(description="Seals its requestState; a tampered echo is refused (SEP-2322).")
    def test_input_required_result_tampered_state(ctx: Context) -> ToolResult:
        # The SDK seals every requestState (AES-GCM) and rejects a modified echo before this runs.
        if not answered(ctx, "confirm") or ctx.request_state != "sealed":
            return needs({"confirm": confirm}, "sealed")
        return text("state verified")

    @server.tool(description="Asks only for what the client declared it supports (SEP-2322).")
    def test_input_required_result_capabilities(ctx: Context) -> ToolResult:
        capabilities = ctx.client_capabilities
        wanted: dict[str, Any] = {}
        if capabilities is not None and capabilities.sampling is not None:
            wanted["capital_question"] = sample("What is the capital of France?", 100)
        if capabilities is not None and capabilities.elicitation is not None:
            wanted["user_name"] = user_name
        if capabilities is not None and capabilities.roots is not None:
            wanted["client_roots"] = ROOTS
        if not wanted or answered(ctx, *wanted):
            return text("capabilities respected")
        return needs(wanted)

    @server.prompt(description="A prompt that needs the user's context first (SEP-2322).")
    def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | types.InputRequiredResult:
        if not answered(ctx, "user_context"):
            question = elicit("What context should the prompt use?", schema_of("context"))
            return needs({"user_context": question})
        about = f"Write about this context: {content_of(ctx, 'user_context', 'context')}"
        return [user(types.TextContent(type="text", text=about))]


def register_stateless_diagnostics(server: MCPServer[None], dynamic: dict[str, bool]) -> None:
    """The diagnostic tools of the 2026-07-28 ``server-stateless`` scenario."""

    @server.tool(description="Needs the client's sampling capability.")
    async def test_missing_capability(ctx: Context) -> ToolResult:
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.sampling is None:
            raise MCPError(
                code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                message="Missing required client capability: sampling",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        answer = await ask(ctx, "sample", sample("Say hello", 20))
        return needs({"sample": sample("Say hello", 20)}) if answer is None else text("sampled")

    @server.tool(description="Streams progress, then needs an elicitation answer.")
    async def test_streaming_elicitation(ctx: Context) -> ToolResult:
        await ctx.report_progress(1, 2)
        answer = await ask(ctx, "user", elicit("Your name?", {"type": "object", "properties": {}}))
        return (
            needs({"user": elicit("Your name?", {"type": "object", "properties": {}})})
            if answer is None
            else (text("elicited"))
        )

    @server.tool(description="Removes or restores the tool test_dynamic_tool (a tools list change).")
    async def test_trigger_tool_change(ctx: Context) -> types.CallToolResult:
        dynamic["tool"] = not dynamic["tool"]
        if dynamic["tool"]:
            server.add_tool(_dynamic_tool, name="test_dynamic_tool", description="Comes and goes.")
        else:
            server.remove_tool("test_dynamic_tool")
        await ctx.notify_tools_changed()
        return text(f"test_dynamic_tool {'restored' if dynamic['tool'] else 'removed'}")

    @server.tool(description="Removes or restores the prompt test_dynamic_prompt (a prompts list change).")
    async def test_trigger_prompt_change(ctx: Context) -> types.CallToolResult:
        dynamic["prompt"] = not dynamic["prompt"]
        if dynamic["prompt"]:
            server.prompt(name="test_dynamic_prompt", description="Comes and goes.")(_dynamic_prompt)
        else:
            server.remove_prompt("test_dynamic_prompt")
        await ctx.notify_prompts_changed()
        return text(f"test_dynamic_prompt {'restored' if dynamic['prompt'] else 'removed'}")

    server.add_tool(_dynamic_tool, name="test_dynamic_tool", description="Comes and goes.")
    server.prompt(name="test_dynamic_prompt", description="Comes and goes.")(_dynamic_prompt)


def _dynamic_tool() -> str:
    return "dynamic"


def _dynamic_prompt() -> str:
    return "dynamic"
