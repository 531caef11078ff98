#!/usr/bin/env python3
"""A stdio MCP server (stdlib only, protocol 2025-06-18) whose results carry long base64 where
no `data` or `blob` field says so: in structured content, in `_meta`, and in a field of a
content block that no revision defines.

  hostile_structured.py     newline-delimited JSON-RPC on stdin/stdout

tools/call `shot` (arguments ignored) answers:
  content            a text block ("see the structured content") with `_meta.thumbnail` (BLOB,
                     base64) and an unknown field `raw` (BLOB again)
  structuredContent  {"screenshot": BLOB, "pages": [{"pdf": PDF}], "caption": a short text,
                     "spaced": a long text with spaces, "short": "aGVsbG8=" (8 base64 characters)}
where BLOB is a 1,200-byte PNG-like payload (PNG signature, then bytes 0..255 repeated) and PDF
a 600-byte payload starting with "%PDF-1.4". Only the base64 longer than 200 characters is
meant to be left out on a terminal or saved with --save-dir.
"""

import base64
import json
import sys

BLOB = b"\x89PNG\r\n\x1a\n" + bytes(i % 256 for i in range(1192))
PDF = b"%PDF-1.4\n" + bytes(i % 256 for i in range(591))


def b64(data):
    return base64.b64encode(data).decode()


def shot():
    return {
        "content": [{
            "type": "text",
            "text": "see the structured content",
            "_meta": {"thumbnail": b64(BLOB)},
            "raw": b64(BLOB),
        }],
        "structuredContent": {
            "screenshot": b64(BLOB),
            "pages": [{"pdf": b64(PDF)}],
            "caption": "a screenshot",
            "spaced": "words with spaces " * 20,
            "short": "aGVsbG8=",
        },
        "isError": False,
    }


def answer(request):
    method = request.get("method")
    if method == "initialize":
        return {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile-structured", "version": "1"}}
    if method == "tools/list":
        return {"tools": [{"name": "shot", "inputSchema": {"type": "object"}}]}
    if method == "tools/call":
        return shot()
    if method == "ping":
        return {}
    return None


def main():
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        request = json.loads(raw)
        if "id" not in request or "method" not in request:
            continue
        result = answer(request)
        if result is None:
            reply = {"jsonrpc": "2.0", "id": request["id"],
                     "error": {"code": -32601, "message": "method not found"}}
        else:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
