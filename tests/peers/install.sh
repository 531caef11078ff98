#!/usr/bin/env bash
# Installs the pinned MCP test peers into a cache dir and prints that dir as the last line of stdout:
#   DIR=$(tests/peers/install.sh | tail -1)
# Idempotent: a stamp file makes reruns a quick no-op. Bump KEY whenever a pin changes.
set -euo pipefail

# Quiet npm: no update notice, no audit or funding summary, no progress bar, only errors. Set in
# the environment too, so that npm started later by a peer (npx) is quiet as well.
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false \
  NPM_CONFIG_PROGRESS=false NPM_CONFIG_LOGLEVEL=error

KEY=v3
DIR=${MCPCHAT_PEERS_DIR:-$HOME/.cache/mcpchat-peers/$KEY}
NPM_PINS=(
  @modelcontextprotocol/server-everything@2026.8.31
  @modelcontextprotocol/server-memory@2026.8.31
  # OAuth peers (see tests/peers/OAUTH.md).
  @dwmkerr/mock-llm@0.1.29            # OAuth AS (DCR, PKCE, rotating refresh) in front of an MCP echo server
  @modelcontextprotocol/sdk@1.32.2    # dist/esm/examples/server/simpleStreamableHttp.js --oauth
  express@5.3.0                       # the sdk depends on express ^5.2.1 and its examples import it: pinned
  oauth2-mock-server@8.2.3            # OIDC AS, no DCR; 9.x needs Node >= 22.12, the machine has Node 20
  oidc-provider@9.13.3                # a certified OpenID provider: DCR, device flow, login/consent pages
  puppeteer-core@24.8.2               # drives Debian's chromium (puppeteer-core never downloads a browser)
)
PY_PINS=(
  mcp==2.3.0            # Python MCP SDK 2.x: from mcp.server.mcpserver import MCPServer
  mcp-server-time==2026.10.19
  fakellm==0.3.5
)
STAMP="$DIR/.installed-$KEY"
WANT="${NPM_PINS[*]} ${PY_PINS[*]}"

mkdir -p "$DIR"
# Serialize concurrent runs (parallel test jobs) on the same dir.
if command -v flock >/dev/null; then exec 9>"$DIR/.lock"; flock 9; fi

# The browser server, in its own npm prefix with its own stamp: adding it does not reinstall
# (or disturb) the peers above. It drives Debian's chromium (`--executable-path
# /usr/bin/chromium`); playwright never downloads a browser here.
BROWSER_PIN=@playwright/mcp@0.0.86
BROWSER_STAMP="$DIR/browser/.installed"
if [[ ! -f "$BROWSER_STAMP" || "$(cat "$BROWSER_STAMP")" != "$BROWSER_PIN" ]]; then
  {
    echo "installing the browser MCP server into $DIR/browser"
    mkdir -p "$DIR/browser"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR/browser" --save-exact --no-audit --no-fund \
      --no-update-notifier --no-progress --loglevel=error "$BROWSER_PIN"
    test -f "$DIR/browser/node_modules/@playwright/mcp/cli.js"
  } >&2
  echo "$BROWSER_PIN" >"$BROWSER_STAMP"
fi

# The MCP Inspector's CLI as a host in front of `mcpchat serve` (tests/cli/serve_hosts.rs), in
# its own npm prefix with its own stamp, like the browser server. Pinned as bench/run pins it:
# every 2.x declares node >= 22.19, but its CLI runs on node 20, which this machine has.
INSPECTOR_PIN=@modelcontextprotocol/inspector@2.12.0
INSPECTOR_STAMP="$DIR/inspector/.installed"
if [[ ! -f "$INSPECTOR_STAMP" || "$(cat "$INSPECTOR_STAMP")" != "$INSPECTOR_PIN" ]]; then
  {
    echo "installing the MCP Inspector into $DIR/inspector"
    mkdir -p "$DIR/inspector"
    npm install --prefix "$DIR/inspector" --save-exact --no-audit --no-fund --no-update-notifier \
      --no-progress --loglevel=error --engine-strict=false "$INSPECTOR_PIN"
    test -f "$DIR/inspector/node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js"
  } >&2
  echo "$INSPECTOR_PIN" >"$INSPECTOR_STAMP"
fi

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "$DIR"
  exit 0
fi

{
  echo "installing MCP test peers into $DIR"
  mkdir -p "$DIR/npm"
  npm install --prefix "$DIR/npm" --save-exact --no-audit --no-fund --no-update-notifier --no-progress --loglevel=error "${NPM_PINS[@]}"
  [[ -x "$DIR/venv/bin/python" ]] || python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PINS[@]}"
  # Smoke checks: the entry points exist and import.
  test -f "$DIR/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
  test -f "$DIR/npm/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
  test -f "$DIR/npm/node_modules/@dwmkerr/mock-llm/dist/main.js"
  test -f "$DIR/npm/node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js"
  test -f "$DIR/npm/node_modules/oauth2-mock-server/dist/index.mjs"
  test -f "$DIR/npm/node_modules/oidc-provider/lib/index.js"
  (cd "$DIR/npm" && node -e 'require("puppeteer-core")')
  (cd "$DIR/npm" && node -e 'require("express"); require.resolve("oauth2-mock-server")')
  "$DIR/venv/bin/python" -c 'from mcp.server.mcpserver import MCPServer'
  test -x "$DIR/venv/bin/mcp-server-time" && test -x "$DIR/venv/bin/fakellm"
} >&2

echo "$WANT" >"$STAMP"
echo "$DIR"
