#!/bin/sh
# The seed's interactive chat ("You: ...") as a few lines of shell: every line you type is one
# `mcpchat ask` that continues the same stored conversation, so the second question can build
# on the first. An empty line or Ctrl-D ends the chat; the conversation stays in
# `mcpchat sessions list` and `mcpchat chat.sh NAME` picks it up again.
#
#   examples/chat.sh [NAME] [ASK FLAGS...]      e.g. examples/chat.sh glucose --stream
#
# A named session (rather than `ask --continue`) keeps two chats in two terminals apart.
set -u
mcpchat=${MCPCHAT:-mcpchat}
session=${1:-chat-$(date +%Y%m%d-%H%M%S)-$$}
[ $# -gt 0 ] && shift
echo "Session $session. An empty line or Ctrl-D quits." >&2
while printf 'You: ' >&2 && IFS= read -r question && [ -n "$question" ]; do
  printf 'Assistant: '
  # </dev/null: neither mcpchat nor a stdio server may eat the next question.
  "$mcpchat" ask --session "$session" --format text "$@" "$question" </dev/null ||
    echo "(mcpchat exited with $?)"
done
