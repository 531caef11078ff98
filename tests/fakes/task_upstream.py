#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) offering 2025-11-25 tasks (SEP-1686), for `mcpchat serve`'s
task routing; it writes down every message it gets.

Usage: task_upstream.py LABEL LOG [TASKS]. Newline-delimited JSON-RPC on stdin/stdout; every
message received is appended to LOG as one JSON line {"label", "message"}.

Declares `tasks` (list, cancel, tools/call). Tool `slow`: called with `task`, it creates task
"LABEL-task-N" (status working) and sends notifications/tasks/status for it; called plainly,
it answers "LABEL ran slow". TASKS (default 0) tasks exist from the start, so that
`tasks/list` has something to page. tasks/get and tasks/cancel answer the task (cancel sets
it cancelled); tasks/result completes it and answers "LABEL finished ID" with the
related-task _meta; tasks/list pages one task per page (cursor "LABEL-after-N"). An unknown
task id is -32602 "Task not found".
"""

import json
import sys

LABEL, LOG = sys.argv[1], sys.argv[2]
STAMP = "2026-12-07T00:00:00Z"
tasks = {}


def log(message):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"label": LABEL, "message": message}) + "\n")


def write(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def new_task():
    task_id = f"{LABEL}-task-{len(tasks) + 1}"
    tasks[task_id] = {"taskId": task_id, "status": "working", "createdAt": STAMP,
                      "lastUpdatedAt": STAMP, "ttl": 60000, "pollInterval": 100}
    return tasks[task_id]


for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 0):
    new_task()


def answer(msg_id, method, params):
    if method == "initialize":
        return {"protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}, "tasks": {"list": {}, "cancel": {},
                                                        "requests": {"tools": {"call": {}}}}},
                "serverInfo": {"name": LABEL, "version": "1"}}
    if method == "tools/list":
        return {"tools": [{"name": "slow", "description": f"slow of {LABEL}",
                           "inputSchema": {"type": "object"},
                           "execution": {"taskSupport": "optional"}}]}
    if method == "tools/call" and "task" in params:
        task = new_task()
        write({"jsonrpc": "2.0", "id": msg_id, "result": {"task": task}})
        write({"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": task})
        return None
    if method == "tools/call":
        return {"content": [{"type": "text", "text": f"{LABEL} ran slow"}]}
    if method == "tasks/list":
        ids = sorted(tasks)
        start = int(params.get("cursor", f"{LABEL}-after-0").rsplit("-", 1)[1])
        page = {"tasks": [tasks[i] for i in ids[start:start + 1]]}
        if start + 1 < len(ids):
            page["nextCursor"] = f"{LABEL}-after-{start + 1}"
        return page
    task = tasks.get(params.get("taskId"))
    if method.startswith("tasks/") and task is None:
        raise LookupError("Task not found")
    if method == "tasks/get":
        return task
    if method == "tasks/cancel":
        task["status"] = "cancelled"
        return task
    if method == "tasks/result":
        task["status"] = "completed"
        return {"content": [{"type": "text", "text": f"{LABEL} finished {task['taskId']}"}],
                "_meta": {"io.modelcontextprotocol/related-task": {"taskId": task["taskId"]}}}
    if method == "ping":
        return {}
    raise NotImplementedError(method)


for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    log(message)
    if "method" not in message or "id" not in message:
        continue
    try:
        result = answer(message["id"], message["method"], message.get("params") or {})
        if result is not None:
            write({"jsonrpc": "2.0", "id": message["id"], "result": result})
    except LookupError as error:
        write({"jsonrpc": "2.0", "id": message["id"],
               "error": {"code": -32602, "message": str(error)}})
    except NotImplementedError as error:
        write({"jsonrpc": "2.0", "id": message["id"],
               "error": {"code": -32601, "message": f"Method not found: {error}"}})
