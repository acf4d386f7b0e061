"""The upstream the MCP conformance suite's server scenarios expect, behind an Atrium virtual server.

Written from the scenario definitions of ``@modelcontextprotocol/conformance`` (each scenario's
"Server Implementation Requirements"): the ``test_*`` tools, prompts and ``test://`` resources,
completion, logging, resource subscriptions, and the 2026-07-28 ``input_required`` flows.
Atrium reaches it in whichever era its pool negotiates, so every tool that needs client input
works in both: a server-to-client request in the handshake era, an ``InputRequiredResult``
(with the SDK's sealed ``requestState``) from 2026-07-28 on.

    python -m tests.conformance.upstream --port N     # Streamable HTTP at /mcp
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Mapping
from typing import Annotated, Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from pydantic import Field

from tests.conformance._modern_tools import register_input_required, register_stateless_diagnostics
from tests.conformance._replies import ToolResult, ask, dump, elicit, needs, sample, text, user

# A 1x1 red PNG and a tiny silent WAV: the scenarios only check type, data and mimeType.
RED_PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
SILENT_WAV = base64.b64encode(
    b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    + b"data" + (0).to_bytes(4, "little")
).decode()  # fmt: skip

# SEP-1613 and SEP-2106: every keyword must reach the client untouched (composition, conditionals, $anchor).
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def build_server() -> MCPServer[None]:
    server: MCPServer[None] = MCPServer("atrium-conformance-upstream", version="1.0.0")
    subscribed: set[str] = set()
    dynamic = {"tool": True, "prompt": True}

    # --- tools: content types -------------------------------------------------------------
    @server.tool(description="Returns simple text content.")
    def test_simple_text() -> types.CallToolResult:
        return text("This is a simple text response for testing.")

    @server.tool(description="Returns image content.")
    def test_image_content() -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.ImageContent(type="image", data=RED_PIXEL_PNG, mime_type="image/png")]
        )

    @server.tool(description="Returns audio content.")
    def test_audio_content() -> types.CallToolResult:
        return types.CallToolResult(content=[types.AudioContent(type="audio", data=SILENT_WAV, mime_type="audio/wav")])

    @server.tool(description="Returns an embedded resource.")
    def test_embedded_resource() -> types.CallToolResult:
        resource = types.TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
        )
        return types.CallToolResult(content=[types.EmbeddedResource(type="resource", resource=resource)])

    @server.tool(description="Returns text, image and resource content.")
    def test_multiple_content_types() -> types.CallToolResult:
        resource = types.TextResourceContents(
            uri="test://mixed-content-resource", mime_type="application/json", text='{"test":"data","value":123}'
        )
        return types.CallToolResult(
            content=[
                types.TextContent(type="text", text="Multiple content types test:"),
                types.ImageContent(type="image", data=RED_PIXEL_PNG, mime_type="image/png"),
                types.EmbeddedResource(type="resource", resource=resource),
            ]
        )

    @server.tool(description="Always fails.")
    def test_error_handling() -> types.CallToolResult:
        return text("This tool intentionally returns an error for testing", is_error=True)

    @server.tool(
        description="Tool with JSON Schema 2020-12 features",
        name="json_schema_2020_12_tool",
    )
    def json_schema_2020_12_tool() -> types.CallToolResult:
        return text("ok")

    @server.tool(description="Echoes its region, which clients mirror into the Mcp-Param-Region header (SEP-2243).")
    def test_header_param(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
    ) -> types.CallToolResult:
        return text(f"region={region}")

    # --- tools: notifications during a call ----------------------------------------------
    @server.tool(description="Sends three info log messages while it runs.")
    async def test_tool_with_logging(ctx: Context) -> types.CallToolResult:
        for i, message in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
            if i:
                await anyio.sleep(0.05)
            await ctx.info(message)
        return text("Logging tool completed")

    @server.tool(description="Logs one message (diagnostic for 2026-07-28 logLevel opt-in).")
    async def test_logging_tool(ctx: Context) -> types.CallToolResult:
        await ctx.info("test_logging_tool ran")
        return text("logged")

    @server.tool(description="Reports progress 0, 50 and 100 of 100.")
    async def test_tool_with_progress(ctx: Context) -> types.CallToolResult:
        for i, progress in enumerate((0, 50, 100)):
            if i:
                await anyio.sleep(0.05)
            await ctx.report_progress(progress, 100)
        return text("Progress tool completed")

    @server.tool(description="A slow-ish call for the SSE polling scenario (SEP-1699).")
    async def test_reconnection() -> types.CallToolResult:
        # Whether to close a POST's SSE stream mid-call (and have the client poll) is the decision
        # of the server the client talks to, here Atrium; the upstream just takes a moment.
        await anyio.sleep(0.2)
        return text("Reconnection test completed")

    # --- tools: client input (sampling, elicitation, roots) ------------------------------
    @server.tool(description="Asks the client's LLM to answer a prompt.")
    async def test_sampling(prompt: str, ctx: Context) -> ToolResult:
        answer = await ask(ctx, "sample", sample(prompt, 100))
        if answer is None:
            return needs({"sample": sample(prompt, 100)})
        content = answer.content
        said = content.text if isinstance(content, types.TextContent) else dump(answer)
        return text(f"LLM response: {said}")

    @server.tool(description="Asks the user for a username and an e-mail address.")
    async def test_elicitation(message: str, ctx: Context) -> ToolResult:
        schema = {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        }
        answer = await ask(ctx, "user", elicit(message, schema))
        if answer is None:
            return needs({"user": elicit(message, schema)})
        return text(f"User response: action={answer.action}, content={json.dumps(answer.content)}")

    sep1034_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "score": {"type": "number", "default": 95.5},
            "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "default": True},
        },
    }
    sep1330_schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {
                "type": "string",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]
                },
            },
        },
    }

    async def elicit_and_report(ctx: Context, message: str, schema: Mapping[str, Any]) -> ToolResult:
        answer = await ask(ctx, "form", elicit(message, schema))
        if answer is None:
            return needs({"form": elicit(message, schema)})
        return text(f"Elicitation completed: action={answer.action}, content={json.dumps(answer.content)}")

    @server.tool(description="Elicits a form whose fields all have defaults (SEP-1034).")
    async def test_elicitation_sep1034_defaults(ctx: Context) -> ToolResult:
        return await elicit_and_report(ctx, "Please review and update the form fields with defaults", sep1034_schema)

    @server.tool(description="Elicits every enum variant (SEP-1330).")
    async def test_elicitation_sep1330_enums(ctx: Context) -> ToolResult:
        return await elicit_and_report(ctx, "Please select options from the enum fields", sep1330_schema)

    async def schema_2020_12(ctx: Any, call_next: Any) -> Any:
        # MCPServer derives inputSchema from the signature; this tool's schema is the scenario's own.
        result = await call_next(ctx)
        if ctx.method == "tools/list" and isinstance(result, dict):
            for tool in result.get("tools", []):
                if tool.get("name") == "json_schema_2020_12_tool":
                    tool["inputSchema"] = JSON_SCHEMA_2020_12
        return result

    server.middleware.append(schema_2020_12)
    register_input_required(server)
    register_stateless_diagnostics(server, dynamic)

    # --- resources ------------------------------------------------------------------------
    @server.resource("test://static-text", description="A static text resource.", mime_type="text/plain")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", description="A static binary resource.", mime_type="image/png")
    def static_binary() -> bytes:
        return base64.b64decode(RED_PIXEL_PNG)

    @server.resource("test://watched-resource", description="A resource clients subscribe to.", mime_type="text/plain")
    def watched() -> str:
        return "Watched resource content."

    @server.resource("test://template/{id}/data", description="Data for an id.", mime_type="application/json")
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))

    # --- prompts --------------------------------------------------------------------------
    @server.prompt(description="A simple prompt without arguments.")
    def test_simple_prompt() -> list[UserMessage]:
        return [user(types.TextContent(type="text", text="This is a simple prompt for testing."))]

    @server.prompt(description="A prompt with two required arguments.")
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        said = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        return [user(types.TextContent(type="text", text=said))]

    @server.prompt(description="A prompt that embeds a resource.")
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803 - spec name
        resource = types.TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            user(types.EmbeddedResource(type="resource", resource=resource)),
            user(types.TextContent(type="text", text="Please process the embedded resource above.")),
        ]

    @server.prompt(description="A prompt with an image.")
    def test_prompt_with_image() -> list[UserMessage]:
        return [
            user(types.ImageContent(type="image", data=RED_PIXEL_PNG, mime_type="image/png")),
            user(types.TextContent(type="text", text="Please analyze the image above.")),
        ]

    # --- completion, logging level, subscriptions -----------------------------------------
    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]  # the SDK leaves it untyped
    async def complete(ref: Any, argument: types.CompletionArgument, context: Any) -> types.Completion:
        values = [value for value in ("paris", "park", "party") if value.startswith(argument.value)]
        return types.Completion(values=values, total=len(values), has_more=False)

    lowlevel = server._lowlevel_server  # MCPServer has no public hook for these handshake-era methods

    async def subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribed.discard(str(params.uri))
        return types.EmptyResult()

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["streamable-http"], default="streamable-http")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    build_server().run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
