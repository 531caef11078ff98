#!/usr/bin/env bash
# `tools search` over 1,000 cached tools: 50 stdio servers (tests/fakes/hostile_results.py
# `many K`) of 20 tools each, listed once to fill the cache, then searched RUNS times. Prints
# the fastest and the median wall time of the search and of `tools list --cached` (the same
# start-up and cache reads without the ranking), in milliseconds. Measures, asserts nothing.
#
#   bench/search.sh                    # builds --release unless MCPCHAT_BIN is set
#   MCPCHAT_BIN=target/debug/mcpchat RUNS=20 bench/search.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${RUNS:-30}
if [[ -z ${MCPCHAT_BIN:-} ]]; then
  cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
  MCPCHAT_BIN=$REPO/target/release/mcpchat
fi
BIN=$(realpath "$MCPCHAT_BIN")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mcpchat-search.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
python3 - "$REPO/tests/fakes/hostile_results.py" >"$TMP/mcp_servers.json" <<'EOF'
import json, sys
fake = sys.argv[1]
servers = {f"s{k:02d}": {"command": "python3", "args": [fake, "many", f"s{k:02d}"]} for k in range(50)}
print(json.dumps({"mcpServers": servers}))
EOF
export XDG_CACHE_HOME=$TMP/cache
cd "$TMP"
listed=$("$BIN" tools list | wc -l)
[[ $listed == 1000 ]] || { echo "bench: listed $listed tools, not 1000" >&2; exit 1; }

# time_ms CMD...: wall milliseconds of RUNS runs, one a line, sorted.
time_ms() {
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
  done | sort -n
}
report() { # report NAME TIMES
  local fastest median
  fastest=$(head -1 <<<"$2")
  median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$2")
  printf '%-28s fastest %4d ms   median %4d ms   (%d runs)\n' "$1" "$fastest" "$median" "$RUNS"
}
report "tools search 'get user'" "$(time_ms "$BIN" tools search get user)"
report "tools list --cached" "$(time_ms "$BIN" tools list --cached)"
