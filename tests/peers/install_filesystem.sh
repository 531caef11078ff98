#!/usr/bin/env bash
# Installs the official filesystem MCP server (pinned) for the roots tests into its own cache dir
# and prints that dir as the last line of stdout:
#   DIR=$(tests/peers/install_filesystem.sh | tail -1)
# Kept apart from install.sh's peers so that adding it does not reinstall them. Idempotent.
set -euo pipefail
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false \
  NPM_CONFIG_PROGRESS=false NPM_CONFIG_LOGLEVEL=error

PIN=@modelcontextprotocol/server-filesystem@2026.8.31
DIR=${MCPCHAT_PEERS_DIR:-$HOME/.cache/mcpchat-peers}/filesystem-2026.8.31
STAMP="$DIR/.installed"

mkdir -p "$DIR"
if command -v flock >/dev/null; then exec 9>"$DIR/.lock"; flock 9; fi
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$PIN" ]]; then
  echo "$DIR"
  exit 0
fi
{
  echo "installing $PIN into $DIR"
  npm install --prefix "$DIR" --save-exact --no-audit --no-fund --no-update-notifier --no-progress --loglevel=error "$PIN"
  test -f "$DIR/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
} >&2
echo "$PIN" >"$STAMP"
echo "$DIR"
