#!/usr/bin/env bash
# The Streamable HTTP floor: the JSON-RPC exchange an MCP client needs, as separate curl calls
# (initialize, notifications/initialized, tools/list, tools/call or resources/read, DELETE of the
# session).
#   bench/curl_floor.sh URL list
#   bench/curl_floor.sh URL call TOOL 'ARGS_JSON'
#   bench/curl_floor.sh URL read URI
# Prints the response body (SSE) of the middle request on stdout. Only bash builtins besides
# curl, so the floor is 4 curl processes and one bash.
set -euo pipefail
url=$1 what=$2
headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
common=(-sS --fail -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')

curl "${common[@]}" -D "$headers" -o /dev/null "$url" --data-binary \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl-floor","version":"1"}}}'
session=
while IFS= read -r line; do
  line=${line%$'\r'}
  if [[ ${line,,} == mcp-session-id:* ]]; then
    session=${line#*:}
    session=${session# }
  fi
done <"$headers"
common+=(-H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-11-25')

curl "${common[@]}" -o /dev/null "$url" --data-binary '{"jsonrpc":"2.0","method":"notifications/initialized"}'
if [[ $what == list ]]; then
  curl "${common[@]}" "$url" --data-binary '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
elif [[ $what == read ]]; then
  curl "${common[@]}" "$url" --data-binary \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"$3\"}}"
else
  curl "${common[@]}" "$url" --data-binary \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"$3\",\"arguments\":$4}}"
fi
echo
curl "${common[@]}" -o /dev/null -X DELETE "$url"
