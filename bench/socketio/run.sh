#!/usr/bin/env bash
# bench/socketio/run.sh: the same fan-out, driven by one Node load generator (load.js),
# against Socket.IO with @socket.io/redis-adapter and against chatd --redis, each on
# NODES nodes sharing one redis-server and on one node. Prints load.js's RESULT line and
# the CPU seconds of every server process and of redis-server for each run.
#   bench/socketio/run.sh          (NODES=3 CLIENTS=100 SENDERS=10 RATE=200 DURATION=5)
# Starts everything itself and stops it by PID; npm ci installs the packages on first use.
set -euo pipefail
# Flood control off (--rate-limit, on by default): a sender here sends faster than a
# person, on purpose; the limit would be measured, not the server (as in bench/run.sh).
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

NODES=${NODES:-3}
CLIENTS=${CLIENTS:-100}
SENDERS=${SENDERS:-10}
RATE=${RATE:-200}
DURATION=${DURATION:-5}

make -s chatd
[ -d "$here/node_modules" ] || (cd "$here" && npm ci --no-audit --no-fund --silent)

work=$(mktemp -d)
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_port() {
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on $1" >&2
	exit 1
}
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

# label, then "server" (chatd|sio), nodes, with redis (0|1)
run() {
	local label=$1 kind=$2 nodes=$3 with_redis=$4 urls=() watch=() rport port
	if [ "$with_redis" = 1 ]; then
		rport=$(free_port)
		redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$work" --loglevel warning >/dev/null 2>&1 &
		pids+=($!)
		watch+=($!)
		wait_port "$rport"
	fi
	for _ in $(seq "$nodes"); do
		port=$(free_port)
		if [ "$kind" = chatd ]; then
			./chatd --port "$port" --bind 127.0.0.1 --quiet --rate-limit off --rate-limit-bytes off \
				${rport:+--redis redis://127.0.0.1:$rport} &
			urls+=("ws://127.0.0.1:$port/bench")
		else
			node "$here/server.js" "$port" ${rport:+redis://127.0.0.1:$rport} >/dev/null &
			urls+=("sio://127.0.0.1:$port")
		fi
		pids+=($!)
		watch+=($!)
		wait_port "$port"
	done
	sleep 0.5
	declare -A before
	for p in "${watch[@]}"; do before[$p]=$(cpu_of "$p"); done
	echo "== $label"
	node "$here/load.js" "$CLIENTS" "$SENDERS" "$RATE" "$DURATION" "${urls[@]}"
	for p in "${watch[@]}"; do
		echo "cpu: $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-50): $(awk -v a="${before[$p]}" \
			-v b="$(cpu_of "$p")" 'BEGIN { printf "%.2f", b - a }') s"
	done
	stop_all
}

run "socket.io-$NODES-nodes-redis" sio "$NODES" 1
run "chatd-$NODES-nodes-redis" chatd "$NODES" 1
run "socket.io-1-node" sio 1 0
run "chatd-1-node" chatd 1 0
