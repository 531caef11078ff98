#!/usr/bin/env bash
# The stdio floor: a bash co-process running the server, fed the JSON-RPC exchange line by line
# (initialize, notifications/initialized, tools/list or tools/call), then its stdin is closed.
#   bench/stdio_floor.sh list -- COMMAND ARGS...
#   bench/stdio_floor.sh call TOOL 'ARGS_JSON' -- COMMAND ARGS...
# Prints the tools/list or tools/call response line on stdout. Only bash builtins besides the
# server itself.
set -euo pipefail
what=$1
shift
if [[ $what == call ]]; then tool=$1 args=$2; shift 2; fi
[[ $1 == -- ]] && shift

coproc SERVER { exec "$@" 2>/dev/null; }
to=${SERVER[1]} from=${SERVER[0]}

# Reads lines until the response with this id (skips notifications and server requests).
await() {
  local line
  while IFS= read -r line <&"$from"; do
    if [[ $line == *'"id":'"$1"[,\}]* ]]; then
      REPLY=$line
      return 0
    fi
  done
  echo "stdio_floor: server closed its output" >&2
  return 1
}

printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"stdio-floor","version":"1"}}}' >&"$to"
await 1
printf '%s\n' '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&"$to"
if [[ $what == list ]]; then
  printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >&"$to"
else
  printf '%s\n' "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"$tool\",\"arguments\":$args}}" >&"$to"
fi
await 2
printf '%s\n' "$REPLY"
pid=$SERVER_PID
exec {to}>&-
wait "$pid" 2>/dev/null || true
