#!/usr/bin/env bash
# A cron job that asks a question and appends the answer as one JSON line.
#
#   examples/cron.sh "QUESTION" [ANSWERS.jsonl]
#
# crontab -e, every morning at 7 (cron has a bare environment: set what mcpchat needs):
#   0 7 * * * cd /srv/glucose && OPENAI_API_KEY=sk-... /srv/glucose/cron.sh "What was my average glucose yesterday?" >>cron.log 2>&1
#
# - The servers come from the usual config lookup (./mcp_servers.yaml, $MCPCHAT_CONFIG...),
#   the model from OPENAI_API_KEY / MCPCHAT_PROVIDER... (see docs/providers.md).
# - One line per run is appended to ANSWERS.jsonl (default ./answers.jsonl):
#     {"at":"2026-11-29T07:00:03Z","question":"...","status":"success","answer":"...","steps":2,"error":null}
#   also when the run failed (status "error", the error's kind and message), so gaps are visible.
# - flock: a run that starts while the previous one still holds the lock is skipped (exit 0),
#   and two writers never interleave their lines.
# - The exit code is mcpchat's (0 ok, 1 task failed, 2 config, 3 auth, 4 unreachable), so cron
#   mails you when it is not 0. $MCPCHAT picks the binary (default: mcpchat on $PATH).
set -euo pipefail

question=${1:?usage: cron.sh QUESTION [ANSWERS.jsonl]}
answers=${2:-answers.jsonl}
mcpchat=${MCPCHAT:-mcpchat}

exec 9>>"$answers.lock"
if ! flock --nonblock 9; then
  echo "cron.sh: the previous run still holds $answers.lock; skipping this one" >&2
  exit 0
fi

run=$(mktemp)
trap 'rm -f "$run"' EXIT
code=0
"$mcpchat" ask --quiet "$question" >"$run" || code=$?

# `ask` always ends with exactly one `result` line, also on failure.
jq -c --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg question "$question" \
  'select(.type == "result") | {at: $at, question: $question, status, answer, steps, error}' \
  "$run" >>"$answers"
exit "$code"
