#!/usr/bin/env python3
"""OpenAI-compatible chat-completions fault fake (stdlib only): fault_llm.py MODE

Binds 127.0.0.1 on a free port, prints the port as the first stdout line (flushed), serves until
killed. Every POST (any path; meant for /v1/chat/completions) is answered according to MODE:

  malformed             200 application/json with the truncated body `{"choices": [`
  cut_stream            stream requests: 200 text/event-stream, one valid chunk (role assistant,
                        content "Hel"), then the connection is dropped without `data: [DONE]` and
                        without the terminating HTTP chunk (the client sees a broken body).
                        FAULT_LLM_CUT=eof instead sends a close-delimited body (no
                        Transfer-Encoding) that ends in a clean EOF, still without [DONE].
                        Non-stream requests: same as malformed.
  hang                  reads the request, never answers (until the client goes away)
  unauthorized          401 {"error": {"message": "Incorrect API key provided",
                        "type": "invalid_request_error", "code": "invalid_api_key"}}
  no_stream_with_tools  "stream": true together with a non-empty "tools" -> 400
                        {"error": {"message": "Cannot use tools with stream", ...}}; otherwise a
                        normal completion with content "fallback ok" (as SSE ending in
                        `data: [DONE]` for stream requests, as JSON otherwise)
  quirks                always answers JSON (even if "stream": true is asked for).
                        Without a "tool" role message in the request: content null,
                        finish_reason "stop", one tool call with NO "id" and with
                        function.arguments as a JSON object rather than a string; the name comes
                        from FAULT_LLM_TOOL (default "demo__add"), the arguments from
                        FAULT_LLM_ARGS (JSON, default {"a":2,"b":3}).
                        With a "tool" message: content "The answer is " + the last tool
                        message's content (text parts joined if it is an array).

  trickle               stream requests: 200 text/event-stream, then a content chunk "." every
                        0.1 s, forever (each gap far under any idle timeout; never [DONE]),
                        until the client goes away. Non-stream requests: same as malformed.
  no_required           "tool_choice": "required" -> 400 {"error": {"message": "tool_choice
                        required is not supported", ...}} (some local servers); otherwise a
                        normal JSON completion with content "auto ok"

  escapes_error         400 {"error": {"message": "bad request" + ESCAPES, ...}}
  escapes_answer        a normal completion whose content is "answer" + ESCAPES (as SSE ending
                        in `data: [DONE]` for stream requests, in two deltas, as JSON otherwise)
                        ESCAPES: OSC 52 (clipboard), CSI 2J (clear screen), BEL, a lone CR and
                        U+202E (right-to-left override)
  retry_after           the first request -> 429 {"error": ...} with the header
                        `Retry-After: $FAULT_LLM_RETRY_AFTER` (default `1e400`); every later
                        request -> a normal JSON completion with content "retried ok"

FAULT_LLM_LOG (optional): every request body is appended to that file as one JSON line
(null if the body is not JSON), flushed, in every mode.
"""

import json
import os
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("malformed", "cut_stream", "hang", "unauthorized", "no_stream_with_tools", "quirks", "no_required",
         "escapes_error", "escapes_answer", "retry_after", "trickle")
ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\rX\u202eevil"
_log_lock = threading.Lock()
_answered = {"count": 0}


def log_body(parsed):
    path = os.environ.get("FAULT_LLM_LOG")
    if not path:
        return
    with _log_lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(parsed) + "\n")
        f.flush()


def completion(model, message, finish_reason):
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:12],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }


def chunk(cid, model, delta, finish_reason=None):
    obj = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return ("data: " + json.dumps(obj) + "\n\n").encode()


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else json.dumps(content)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def reply_json(self, status, obj):
        self.reply(status, "application/json", json.dumps(obj).encode())

    def start_sse(self, chunked=True):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        self.reply_json(404, {"error": {"message": "not found (fault_llm)", "type": "invalid_request_error"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        log_body(body)
        if not isinstance(body, dict):
            body = {}
        stream = body.get("stream") is True
        model = body.get("model") or "fault-llm"

        if MODE == "malformed" or (MODE in ("cut_stream", "trickle") and not stream):
            self.reply(200, "application/json", b'{"choices": [')

        elif MODE == "trickle":
            cid = "chatcmpl-" + uuid.uuid4().hex[:12]
            self.start_sse(chunked=True)
            try:
                self.send_chunk(chunk(cid, model, {"role": "assistant", "content": ""}))
                while True:
                    time.sleep(0.1)
                    self.send_chunk(chunk(cid, model, {"content": "."}))
            except OSError:
                self.close_connection = True

        elif MODE == "cut_stream":
            cid = "chatcmpl-" + uuid.uuid4().hex[:12]
            first = chunk(cid, model, {"role": "assistant", "content": "Hel"})
            if os.environ.get("FAULT_LLM_CUT") == "eof":
                self.start_sse(chunked=False)
                self.wfile.write(first)
            else:
                self.start_sse(chunked=True)
                self.send_chunk(first)
            self.wfile.flush()
            time.sleep(0.2)  # let the client see the first event before the cut
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        elif MODE == "hang":
            # Never answer; hold the connection until the client closes it.
            try:
                while self.connection.recv(65536):
                    pass
            except OSError:
                pass
            self.close_connection = True

        elif MODE == "unauthorized":
            self.reply_json(
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )

        elif MODE == "no_stream_with_tools":
            if stream and body.get("tools"):
                self.reply_json(
                    400,
                    {
                        "error": {
                            "message": "Cannot use tools with stream",
                            "type": "invalid_request_error",
                            "param": "stream",
                            "code": None,
                        }
                    },
                )
            elif stream:
                cid = "chatcmpl-" + uuid.uuid4().hex[:12]
                self.start_sse()
                self.send_chunk(chunk(cid, model, {"role": "assistant", "content": ""}))
                self.send_chunk(chunk(cid, model, {"content": "fallback"}))
                self.send_chunk(chunk(cid, model, {"content": " ok"}))
                self.send_chunk(chunk(cid, model, {}, "stop"))
                self.send_chunk(b"data: [DONE]\n\n")
                self.end_chunks()
            else:
                msg = {"role": "assistant", "content": "fallback ok"}
                self.reply_json(200, completion(model, msg, "stop"))

        elif MODE == "quirks":
            tool_msgs = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "tool"]
            if not tool_msgs:
                name = os.environ.get("FAULT_LLM_TOOL", "demo__add")
                args = json.loads(os.environ.get("FAULT_LLM_ARGS", '{"a":2,"b":3}'))
                msg = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}],
                }
            else:
                msg = {"role": "assistant", "content": "The answer is " + text_of(tool_msgs[-1].get("content"))}
            self.reply_json(200, completion(model, msg, "stop"))

        elif MODE == "no_required":
            if body.get("tool_choice") == "required":
                self.reply_json(
                    400,
                    {
                        "error": {
                            "message": "tool_choice required is not supported",
                            "type": "invalid_request_error",
                            "param": "tool_choice",
                        }
                    },
                )
            else:
                msg = {"role": "assistant", "content": "auto ok"}
                self.reply_json(200, completion(model, msg, "stop"))

        elif MODE == "escapes_error":
            self.reply_json(400, {"error": {"message": "bad request" + ESCAPES, "type": "invalid_request_error"}})

        elif MODE == "escapes_answer":
            if stream:
                cid = "chatcmpl-" + uuid.uuid4().hex[:12]
                self.start_sse()
                self.send_chunk(chunk(cid, model, {"role": "assistant", "content": "answer"}))
                self.send_chunk(chunk(cid, model, {"content": ESCAPES}))
                self.send_chunk(chunk(cid, model, {}, "stop"))
                self.send_chunk(b"data: [DONE]\n\n")
                self.end_chunks()
            else:
                msg = {"role": "assistant", "content": "answer" + ESCAPES}
                self.reply_json(200, completion(model, msg, "stop"))

        elif MODE == "retry_after":
            with _log_lock:
                _answered["count"] += 1
                first = _answered["count"] == 1
            if first:
                data = json.dumps({"error": {"message": "slow down", "type": "rate_limit_exceeded"}}).encode()
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", os.environ.get("FAULT_LLM_RETRY_AFTER", "1e400"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            else:
                msg = {"role": "assistant", "content": "retried ok"}
                self.reply_json(200, completion(model, msg, "stop"))

    do_PUT = do_PATCH = do_DELETE = do_POST


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    MODE = sys.argv[1] if len(sys.argv) > 1 else ""
    if MODE not in MODES:
        sys.exit("usage: fault_llm.py " + "|".join(MODES))
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
