"""The upstream MCP server for the conformance suite's server scenarios (Python `mcp` SDK 2.x).

    upstream.py stdio
    upstream.py PORT          # Streamable HTTP at http://127.0.0.1:PORT/mcp (both eras)

Run it with the peers venv (tests/peers/install.sh). PORT may be 0: the socket is bound first and
the real port is printed as the first line of stdout. It implements the fixture tools, resources
and prompts the scenarios of `conformance server` name (test_simple_text, test://static-text,
test_prompt_with_arguments, ...), from the scenario descriptions, so that the suite can be run
against it directly and through `mcpchat serve` in front of it (tests/conformance/server).
The Python SDK is used (not the TypeScript one) because it serves both protocol eras,
2025-11-25 sessions and 2026-07-28 stateless requests, from one endpoint; the TypeScript SDK
pinned here (1.32.2) stops at 2025-11-25. Over HTTP every SSE event is kept in memory, so a
client can resume a stream it lost (server-sse-polling); the server is for short test runs.
"""

import base64
import json
import socket
import sys
from typing import Annotated, Any

import anyio
import uvicorn
from pydantic import Field
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.streamable_http import EventMessage, EventStore
from mcp.shared.exceptions import MCPError
from mcp_types import (
    AudioContent,
    CallToolResult,
    Completion,
    CreateMessageRequest,
    CreateMessageRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    EmbeddedResource,
    ImageContent,
    InputRequiredResult,
    ListRootsRequest,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)

# A 1x1 red PNG and a tiny silent WAV, built here rather than shipped as files.
RED_PIXEL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108020000009077"
        "53de0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
    )
).decode()
SILENT_WAV = base64.b64encode(
    b"RIFF" + (36 + 2).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    + b"data" + (2).to_bytes(4, "little") + b"\x00\x00"
).decode()

server = MCPServer("mcpchat-conformance-upstream", version="1.0.0", log_level="WARNING")
subscriptions: set[str] = set()


def text_result(text: str, is_error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=text)], is_error=is_error)


# ---- tools: content kinds ----


@server.tool(description="Returns one text block.")
def test_simple_text() -> CallToolResult:
    return text_result("This is a simple text response for testing.")


@server.tool(description="Returns one PNG image.")
def test_image_content() -> CallToolResult:
    return CallToolResult(content=[ImageContent(data=RED_PIXEL_PNG, mime_type="image/png")])


@server.tool(description="Returns one WAV clip.")
def test_audio_content() -> CallToolResult:
    return CallToolResult(content=[AudioContent(data=SILENT_WAV, mime_type="audio/wav")])


@server.tool(description="Returns one embedded text resource.")
def test_embedded_resource() -> CallToolResult:
    resource = TextResourceContents(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
    )
    return CallToolResult(content=[EmbeddedResource(resource=resource)])


@server.tool(description="Returns text, an image and an embedded resource.")
def test_multiple_content_types() -> CallToolResult:
    resource = TextResourceContents(
        uri="test://mixed-content-resource", mime_type="application/json", text='{"test":"data","value":123}'
    )
    return CallToolResult(
        content=[
            TextContent(text="Multiple content types test:"),
            ImageContent(data=RED_PIXEL_PNG, mime_type="image/png"),
            EmbeddedResource(resource=resource),
        ]
    )


@server.tool(description="Always answers with a tool error.")
def test_error_handling() -> CallToolResult:
    return text_result("This tool intentionally returns an error for testing", is_error=True)


# ---- tools: notifications and requests during a call ----


@server.tool(description="Sends three info log messages while it runs.")
async def test_tool_with_logging(ctx: Context) -> CallToolResult:
    await ctx.info("Tool execution started")
    await anyio.sleep(0.05)
    await ctx.info("Tool processing data")
    await anyio.sleep(0.05)
    await ctx.info("Tool execution completed")
    return text_result("Tool with logging executed successfully")


@server.tool(description="Reports progress 0, 50 and 100 of 100.")
async def test_tool_with_progress(ctx: Context) -> CallToolResult:
    for step, done in enumerate((0, 50, 100)):
        if step:
            await anyio.sleep(0.05)
        await ctx.report_progress(done, 100)
    return text_result("Tool with progress executed successfully")


@server.tool(description="Asks the client's model (sampling/createMessage).")
async def test_sampling(prompt: str, ctx: Context) -> CallToolResult:
    message = SamplingMessage(role="user", content=TextContent(text=prompt))
    result = await ctx.session.create_message(
        [message], max_tokens=100, related_request_id=ctx.request_context.request_id
    )
    content = result.content
    text = content.text if isinstance(content, TextContent) else json.dumps(content.model_dump(mode="json"))
    return text_result(f"LLM response: {text}")


async def elicit_raw(ctx: Context, message: str, schema: dict[str, Any]) -> CallToolResult:
    result = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_context.request_id)
    return text_result(f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}")


@server.tool(description="Asks the user for a username and an email (elicitation/create).")
async def test_elicitation(message: str, ctx: Context) -> CallToolResult:
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    result = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_context.request_id)
    return text_result(f"User response: action={result.action}, content={json.dumps(result.content)}")


@server.tool(description="Elicits a form whose fields all have defaults (SEP-1034).")
async def test_elicitation_sep1034_defaults(ctx: Context) -> CallToolResult:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
    }
    return await elicit_raw(ctx, "Please review and update the form fields with defaults", schema)


@server.tool(description="Elicits a form with every enum variant (SEP-1330).")
async def test_elicitation_sep1330_enums(ctx: Context) -> CallToolResult:
    schema = {
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
    return await elicit_raw(ctx, "Please select options from the enum fields", schema)


@server.tool(description="Its input schema uses JSON Schema 2020-12 keywords (the schema is set below).")
def json_schema_2020_12_tool(name: str = "") -> CallToolResult:
    return text_result(f"received {name}")


# The suite checks that these keywords reach the client unchanged; the SDK derives schemas from
# signatures, so the tool's advertised schema is replaced after registration.
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
server._tool_manager.get_tool("json_schema_2020_12_tool").parameters = JSON_SCHEMA_2020_12


# ---- tools: 2026-07-28 input-required results (SEP-2322) and capabilities (SEP-2575) ----
# The SDK seals `requestState` (integrity-protected, ephemeral keys) on the way out and opens
# it on the way in, so a tampered state is refused before these functions run.


def form(message: str, field: str, kind: str = "string") -> ElicitRequest:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def sample(text: str, max_tokens: int) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=TextContent(text=text))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def answered(ctx: Context, *keys: str) -> bool:
    responses = ctx.input_responses or {}
    return all(key in responses for key in keys)


def accepted_field(ctx: Context, key: str, field: str) -> Any:
    content = getattr((ctx.input_responses or {}).get(key), "content", None) or {}
    return content.get(field)


@server.tool(description="Asks for a name through an input-required result.")
def test_input_required_result_elicitation(ctx: Context) -> CallToolResult | InputRequiredResult:
    if not answered(ctx, "user_name"):
        return InputRequiredResult(input_requests={"user_name": form("What is your name?", "name")})
    return text_result(f"Hello, {accepted_field(ctx, 'user_name', 'name')}!")


@server.tool(description="Asks the client's model through an input-required result.")
def test_input_required_result_sampling(ctx: Context) -> CallToolResult | InputRequiredResult:
    if not answered(ctx, "capital_question"):
        return InputRequiredResult(input_requests={"capital_question": sample("What is the capital of France?", 100)})
    content = getattr(ctx.input_responses["capital_question"], "content", None)
    return text_result(f"Sampling response: {getattr(content, 'text', content)}")


@server.tool(description="Asks for the client's roots through an input-required result.")
def test_input_required_result_list_roots(ctx: Context) -> CallToolResult | InputRequiredResult:
    if not answered(ctx, "client_roots"):
        return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})
    roots = getattr(ctx.input_responses["client_roots"], "roots", None) or []
    return text_result("Roots: " + ", ".join(str(root.uri) for root in roots))


@server.tool(description="Round-trips requestState with one elicitation.")
def test_input_required_result_request_state(ctx: Context) -> CallToolResult | InputRequiredResult:
    if not answered(ctx, "confirm") or ctx.request_state != "confirm-pending":
        return InputRequiredResult(
            input_requests={"confirm": form("Please confirm", "ok", "boolean")}, request_state="confirm-pending"
        )
    return text_result(f"state-ok: confirmed={accepted_field(ctx, 'confirm', 'ok')}")


@server.tool(description="Asks for an elicitation, a sample and the roots at once.")
def test_input_required_result_multiple_inputs(ctx: Context) -> CallToolResult | InputRequiredResult:
    keys = ("user_name", "greeting", "client_roots")
    if not answered(ctx, *keys) or ctx.request_state != "multiple-pending":
        requests = {
            "user_name": form("What is your name?", "name"),
            "greeting": sample("Generate a greeting", 50),
            "client_roots": ListRootsRequest(),
        }
        return InputRequiredResult(input_requests=requests, request_state="multiple-pending")
    return text_result(f"All inputs received: name={accepted_field(ctx, 'user_name', 'name')}")


@server.tool(description="Two rounds of elicitation, the state evolving between them.")
def test_input_required_result_multi_round(ctx: Context) -> CallToolResult | InputRequiredResult:
    if ctx.request_state == "round-2" and answered(ctx, "step2"):
        return text_result(f"Done: color={accepted_field(ctx, 'step2', 'color')}")
    if ctx.request_state == "round-1" and answered(ctx, "step1"):
        step2 = form("Step 2: What is your favorite color?", "color")
        return InputRequiredResult(input_requests={"step2": step2}, request_state="round-2")
    step1 = form("Step 1: What is your name?", "name")
    return InputRequiredResult(input_requests={"step1": step1}, request_state="round-1")


@server.tool(description="Its requestState is integrity-protected; a tampered one is refused.")
def test_input_required_result_tampered_state(ctx: Context) -> CallToolResult | InputRequiredResult:
    if ctx.request_state == "tamper-check" and answered(ctx, "confirm"):
        return text_result("state verified")
    return InputRequiredResult(
        input_requests={"confirm": form("Please confirm", "ok", "boolean")}, request_state="tamper-check"
    )


def declared(ctx: Context) -> set[str]:
    capabilities = ctx.client_capabilities
    if capabilities is None:
        return set()
    return {name for name, value in capabilities.model_dump(exclude_none=True).items() if value is not None}


@server.tool(description="Asks only for what the client declared it can answer.")
def test_input_required_result_capabilities(ctx: Context) -> CallToolResult | InputRequiredResult:
    if ctx.input_responses:
        return text_result("inputs received")
    requests: dict[str, Any] = {}
    if "sampling" in declared(ctx):
        requests["question"] = sample("What is 2 + 2?", 20)
    if "elicitation" in declared(ctx):
        requests["name"] = form("What is your name?", "name")
    if not requests:
        return text_result("the client declared neither sampling nor elicitation")
    return InputRequiredResult(input_requests=requests)


@server.tool(description="Needs the client's sampling capability, and says so when it is missing.")
def test_missing_capability(ctx: Context) -> CallToolResult:
    if "sampling" not in declared(ctx):
        data = {"requiredCapabilities": {"sampling": {}}}
        raise MCPError(code=MISSING_REQUIRED_CLIENT_CAPABILITY, message="this tool needs the sampling capability", data=data)
    return text_result("the client declared sampling")


@server.tool(description="Announces that the tool list changed (subscriptions/listen).")
async def test_trigger_tool_change(ctx: Context) -> CallToolResult:
    await ctx.notify_tools_changed()
    return text_result("tools/list_changed announced")


@server.tool(description="Announces that the prompt list changed (subscriptions/listen).")
async def test_trigger_prompt_change(ctx: Context) -> CallToolResult:
    await ctx.notify_prompts_changed()
    return text_result("prompts/list_changed announced")


@server.tool(description="Logs one info message (sent only when the request asked for a log level).")
async def test_logging_tool(ctx: Context) -> CallToolResult:
    await ctx.info("test_logging_tool ran")
    return text_result("logged")


@server.tool(description="Echoes a region that also travels as the Mcp-Param-Region header (SEP-2243).")
def test_param_header(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> CallToolResult:
    return text_result(f"region={region}")


@server.prompt(description="A prompt that first asks the user for context (input-required).")
def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    if not answered(ctx, "user_context"):
        question = form("What context should the prompt use?", "context")
        return InputRequiredResult(input_requests={"user_context": question})
    return [UserMessage(TextContent(text=f"Context: {accepted_field(ctx, 'user_context', 'context')}"))]


# ---- SSE polling (SEP-1699) ----


class MemoryEventStore(EventStore):
    """Every event of every stream, in order, so a client that lost a stream can resume it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []  # (event id, stream id, message or None)

    async def store_event(self, stream_id: Any, message: Any) -> str:
        event_id = str(len(self.events) + 1)
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: Any, send_callback: Any) -> Any:
        known = [index for index, event in enumerate(self.events) if event[0] == last_event_id]
        if not known:
            return None
        stream_id = self.events[known[0]][1]
        for event_id, stream, message in self.events[known[0] + 1 :]:
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message=message, event_id=event_id))
        return stream_id


@server.tool(description="Closes its SSE stream mid-call; the client resumes it to get the result.")
async def test_reconnection(ctx: Context) -> CallToolResult:
    await anyio.sleep(0.05)
    await ctx.close_sse_stream()
    await anyio.sleep(0.2)
    return text_result("Reconnection test completed")


# ---- resources ----


@server.resource("test://static-text", name="static-text", description="A fixed text.", mime_type="text/plain")
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="static-binary", description="A PNG image.", mime_type="image/png")
def static_binary() -> bytes:
    return base64.b64decode(RED_PIXEL_PNG)


@server.resource(
    "test://watched-resource", name="watched-resource", description="A resource to subscribe to.", mime_type="text/plain"
)
def watched_resource() -> str:
    return "Watched resource content."


@server.resource(
    "test://template/{id}/data", name="template-data", description="Data for an id.", mime_type="application/json"
)
def template_data(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))


async def subscribe(ctx: Any, params: Any) -> dict[str, Any]:
    subscriptions.add(str(params.uri))
    return {}


async def unsubscribe(ctx: Any, params: Any) -> dict[str, Any]:
    subscriptions.discard(str(params.uri))
    return {}


async def set_level(ctx: Any, params: Any) -> dict[str, Any]:
    return {}


def register_low_level_handlers() -> None:
    """Methods MCPServer has no decorator for; serving them is what declares their capabilities."""
    low = server._lowlevel_server
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    low.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


# ---- prompts and completion ----


@server.prompt(description="A prompt without arguments.")
def test_simple_prompt() -> list[UserMessage]:
    return [UserMessage(TextContent(text="This is a simple prompt for testing."))]


@server.prompt(description="A prompt with two arguments.")
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    text = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
    return [UserMessage(TextContent(text=text))]


@server.prompt(description="A prompt that embeds a resource.")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
    resource = TextResourceContents(uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing.")
    return [
        UserMessage(EmbeddedResource(resource=resource)),
        UserMessage(TextContent(text="Please process the embedded resource above.")),
    ]


@server.prompt(description="A prompt with an image.")
def test_prompt_with_image() -> list[UserMessage]:
    return [
        UserMessage(ImageContent(data=RED_PIXEL_PNG, mime_type="image/png")),
        UserMessage(TextContent(text="Please analyze the image above.")),
    ]


@server.completion()
async def complete(ref: Any, argument: Any, context: Any) -> Completion:
    words = ["paris", "park", "party"]
    values = [word for word in words if word.startswith(argument.value or "")]
    return Completion(values=values, total=len(values), has_more=False)


def serve_http(port: int) -> None:
    app = server.streamable_http_app(host="127.0.0.1", event_store=MemoryEventStore(), retry_interval=100)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections made right after the port is printed wait in the backlog
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning")
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))


def main() -> None:
    register_low_level_handlers()
    if sys.argv[1] == "stdio":
        server.run()
    else:
        serve_http(int(sys.argv[1]))


if __name__ == "__main__":
    main()
