#!/bin/sh
# Send a few lines to a chatd server and print what comes back, with examples/wschat.py
# (Python's websockets: apt-get install python3-websockets).
#
#   examples/chat.sh [ws://host:port/room]     (default: ws://localhost:8080/)
#   CHAT_WAIT=10 examples/chat.sh              (listen for 10 s instead of 5)
#
# chatd does not echo a message back to its sender, so with this script as the
# only client nothing comes back. Start the server with `chatd --echo` to see
# your own lines return, or open http://localhost:8080/ in a browser (same
# room) and type there while the script listens.
#
# The browser page speaks chatd.v1: what is typed there reaches this script as
# "name: text" lines, and how the script's lines reach the page is in
# docs/PROTOCOL.md ("Raw clients and v1 clients"): as messages from raw-<id>.
set -eu

url=${1:-ws://localhost:8080/}
wait_seconds=${CHAT_WAIT:-5}
here=$(dirname "$0")

# wschat.py sends each line as one text message and prints each message it
# receives on its own line; once its input ends it listens for --wait seconds,
# then closes the connection.
printf '%s\n' 'hello from chat.sh' \
	'the page shows these lines as from raw-<id>' \
	'bye' | "$here/wschat.py" --wait "$wait_seconds" "$url"
