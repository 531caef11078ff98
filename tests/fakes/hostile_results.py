#!/usr/bin/env python3
"""A stdio MCP server (stdlib only) whose results are binary or large, and whose tools make a
fixed set to search.

  hostile_results.py            newline-delimited JSON-RPC on stdin/stdout, protocol 2025-06-18
  hostile_results.py many K     instead, 20 generated tools named like those of server K (for
                                the search benchmark: 50 of these are 1,000 tools)

tools/call (arguments ignored):
  shot     a text block, then a 1x1 PNG (image/png), then a text block
  voice    a short WAV (audio/wav; "RIFF" header)
  doc      an embedded resource with a blob (application/pdf)
  odd      an image whose mimeType is a path ("../../x"): saved as .bin, never a path
  bad      an image whose data is not base64
  big      a text of 5,000 characters ("é" then 4,999 "x"), and the same text as structured content
  twice    the same PNG twice (one file)
resources/read:
  blob://fixed   a blob (the PNG) with mimeType image/png
  text://big     the text of `big` (text/plain)
prompts/get `pic`: a user message whose content is the PNG.

Every tool has a title and description, so `tools search` has names, titles and descriptions to
rank; `add` and `pick` have the schemas `tools show --format text` renders.
"""

import base64
import json
import struct
import sys
import zlib


def png_1x1():
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def wav():
    samples = b"\x00\x00" * 8
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


PNG = base64.b64encode(png_1x1()).decode()
WAV = base64.b64encode(wav()).decode()
PDF = base64.b64encode(b"%PDF-1.4\n%mcpchat test\n").decode()
BIG = "é" + "x" * 4999

OBJECT = {"type": "object"}

TOOLS = [
    {"name": "read_file", "title": "Read file",
     "description": "Read the complete contents of a file from the file system.",
     "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
    {"name": "write_file", "title": "Write file",
     "description": "Create a new file or overwrite an existing file with new content.",
     "inputSchema": OBJECT},
    {"name": "list_directory", "title": "List directory",
     "description": "Get a listing of all files and directories in a path.",
     "inputSchema": OBJECT},
    {"name": "search_files", "title": "Search files",
     "description": "Recursively search for files and directories matching a pattern.",
     "inputSchema": OBJECT},
    {"name": "get_weather", "title": "Weather",
     "description": "Current weather for a city.",
     "inputSchema": OBJECT},
    {"name": "add", "title": "Add",
     "description": "Adds two numbers.",
     "inputSchema": {"type": "object",
                     "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                     "required": ["a", "b"]},
     "outputSchema": {"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}},
    {"name": "pick", "title": "Pick",
     "description": "Picks a colour.",
     "inputSchema": {"type": "object",
                     "properties": {
                         "colour": {"type": "string", "enum": ["red", "green"]},
                         "count": {"type": "integer", "default": 1},
                         "tags": {"type": "array", "items": {"type": "string"}},
                         "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                     },
                     "required": ["colour"]}},
] + [
    {"name": name, "title": name, "description": "Returns binary or large content.", "inputSchema": OBJECT}
    for name in ("shot", "voice", "doc", "odd", "bad", "big", "twice")
]


def many_tools(server):
    verbs = ["get", "set", "list", "create", "delete"]
    nouns = ["user", "issue", "page", "file"]
    return [
        {"name": f"{verb}_{noun}_{server}", "title": f"{verb.title()} {noun}",
         "description": f"{verb.title()} a {noun} on service {server}.", "inputSchema": OBJECT}
        for verb in verbs for noun in nouns
    ]


def call(name):
    image = {"type": "image", "data": PNG, "mimeType": "image/png"}
    results = {
        "shot": [{"type": "text", "text": "before"}, image, {"type": "text", "text": "after"}],
        "voice": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}],
        "doc": [{"type": "resource", "resource": {"uri": "file:///r.pdf", "mimeType": "application/pdf", "blob": PDF}}],
        "odd": [{"type": "image", "data": PNG, "mimeType": "../../x"}],
        "bad": [{"type": "image", "data": "not base64!", "mimeType": "image/png"}],
        "big": [{"type": "text", "text": BIG}],
        "twice": [image, image],
    }
    result = {"content": results.get(name, [{"type": "text", "text": "ok"}]), "isError": False}
    if name == "big":
        result["structuredContent"] = {"text": BIG}
    return result


def answer(request, tools):
    method = request.get("method")
    params = request.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}, "resources": {}, "prompts": {}},
            "serverInfo": {"name": "results", "version": "1.0"},
        }
    if method == "tools/list":
        return {"tools": tools}
    if method == "tools/call":
        return call(params.get("name"))
    if method == "resources/list":
        return {"resources": []}
    if method == "resources/read":
        uri = params.get("uri")
        if uri == "text://big":
            return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": BIG}]}
        return {"contents": [{"uri": uri, "mimeType": "image/png", "blob": PNG}]}
    if method == "prompts/list":
        return {"prompts": [{"name": "pic"}]}
    if method == "prompts/get":
        return {"messages": [{"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}}]}
    if method == "ping":
        return {}
    return None


def main():
    tools = many_tools(sys.argv[2]) if sys.argv[1:2] == ["many"] else TOOLS
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        request = json.loads(raw)
        if "id" not in request:
            continue
        result = answer(request, tools)
        if result is None:
            reply = {"jsonrpc": "2.0", "id": request["id"],
                     "error": {"code": -32601, "message": "Method not found"}}
        else:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
