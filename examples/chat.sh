#!/bin/sh
# Send a few lines to a chatd server with websocat and print what comes back.
#
#   examples/chat.sh [ws://host:port/room]     (default: ws://localhost:8080/)
#   CHAT_WAIT=10 examples/chat.sh              (listen for 10 s instead of 5)
#
# chatd does not echo a message back to its sender, so with this script as the
# only client nothing comes back. Start the server with `chatd --echo` to see
# your own lines return, or open http://localhost:8080/ in a browser (same
# room) and type there while the script listens.
#
# Plain lines appear raw in the browser client; the JSON line appears as an
# ordinary chat message with a nick, the format the browser client sends.
set -eu

url=${1:-ws://localhost:8080/}
wait_seconds=${CHAT_WAIT:-5}

if ! command -v websocat >/dev/null 2>&1; then
    echo "chat.sh: websocat not found (try: apt install websocat)" >&2
    exit 1
fi

# websocat sends each input line as one text message (-t, without the line's
# trailing newline) and prints each message it receives on its own line. When
# its stdin ends it sends a Close frame and exits, so the sleep holds stdin
# open for as long as we want to listen.
{
    printf '%s\n' 'hello from chat.sh'
    printf '%s\n' '{"nick":"chat.sh","text":"hello as JSON"}'
    printf '%s\n' 'bye'
    sleep "$wait_seconds"
} | websocat -t --linemode-strip-newlines "$url"
