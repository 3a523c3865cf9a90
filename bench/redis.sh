#!/usr/bin/env bash
# bench/redis.sh: chatd on several nodes through Redis (issue 9), against the same load on
# one node. Starts its own redis-server (a free port, a temporary directory, nothing
# saved), NODES chatd processes with --redis, and drives them with chatbench fanout in
# open loop: clients spread over the nodes in turn, RATE messages/s from SENDERS senders,
# every message due to every other client of the room (one room). Prints chatbench's
# report for each run, and redis-server's and each chatd's CPU time over the run.
#
#   bench/redis.sh                  (NODES=3 CLIENTS=300 SENDERS=10 RATE=1000 DURATION=5)
#   NODES=3 RATE=2000 bench/redis.sh
#
# Everything it starts it stops by PID. Loopback only; on a shared machine the figures
# are only as steady as the neighbours.
set -euo pipefail
# Flood control off (--rate-limit, on by default): a sender here sends faster than a
# person, on purpose; the limit would be measured, not the server (as in bench/run.sh).
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
CLIENTS=${CLIENTS:-300}
SENDERS=${SENDERS:-10}
RATE=${RATE:-1000}
SIZE=${SIZE:-64}
SECONDS_MEASURED=${DURATION:-5}
WARMUP=${WARMUP:-1}

[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || make -s chatd build/chatbench
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU seconds (user + system) of a process so far.
cpu_of() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

start_chatd() { # port, extra args...
	local port=$1
	shift
	./chatd --port "$port" --bind 127.0.0.1 --quiet --rate-limit off --rate-limit-bytes off \
		"$@" 2>>"$work/chatd.log" &
	pids+=($!)
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "chatd did not start on $port" >&2
	exit 1
}

run() { # label, pids to watch, urls...
	local label=$1 watch=$2
	shift 2
	declare -A before
	for p in $watch; do before[$p]=$(cpu_of "$p"); done
	echo "== $label"
	build/chatbench fanout --clients "$CLIENTS" --senders "$SENDERS" --rate "$RATE" \
		--size "$SIZE" --duration "$SECONDS_MEASURED" --warmup "$WARMUP" \
		--label "$label" "$@"
	for p in $watch; do
		echo "cpu: $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-60): $(awk -v a="${before[$p]}" \
			-v b="$(cpu_of "$p")" 'BEGIN { printf "%.2f", b - a }') s"
	done
}

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
	--daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
rpid=$!
pids+=($rpid)
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; then break; fi
	sleep 0.05
done

urls=()
node_pids=""
for _ in $(seq "$NODES"); do
	port=$(free_port)
	start_chatd "$port" --redis "redis://127.0.0.1:$rport"
	node_pids="$node_pids ${pids[-1]}"
	urls+=("ws://127.0.0.1:$port/bench")
done
sleep 0.5
run "chatd-${NODES}-nodes-redis" "$rpid $node_pids" "${urls[@]}"

port=$(free_port)
start_chatd "$port"
run "chatd-1-node" "${pids[-1]}" "ws://127.0.0.1:$port/bench"
