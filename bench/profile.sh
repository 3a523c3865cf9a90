#!/usr/bin/env bash
# bench/profile.sh: where chatd spends its time under the fan-out load of bench/run.sh.
#
#   bench/profile.sh    (about a minute; results in build/bench/profile/)
#
# 1. valgrind --tool=callgrind on a short fan-out run: instructions per function in chatd
#    and libc. Exact and repeatable (the count does not depend on what else the machine
#    runs), but blind to the kernel, and chatd runs ~50x slower under it, so the load is
#    lighter than the real one.
# 2. perf record with the cpu-clock software event (it works where hardware counters do
#    not, as in this VM, where `perf stat -e instructions true` says "not supported"):
#    where chatd's core goes at full load, kernel included.
#
# Needs: valgrind and linux-perf (apt-get install valgrind linux-perf), run as root or with
# kernel.perf_event_paranoid <= 1 for perf. Either part is skipped when its tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_OUT:-build/bench}/profile
CLIENTS=${PROFILE_CLIENTS:-1000}
SENDERS=${PROFILE_SENDERS:-10}
mkdir -p "$OUT"
make -s chatd
make -s -f bench/bench.mk build/chatbench

# The port chatd listens on, from /proc (see bench/run.sh).
eval "$(sed -n '/^listening_port()/,/^}/p' bench/run.sh)"

wait_port() {
	local pid=$1 port=""
	for _ in $(seq 100); do
		port=$(listening_port "$pid") && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "profile.sh: the server did not start" >&2; exit 1; }
	echo "$port"
}

if command -v valgrind >/dev/null; then
	echo "== callgrind: $CLIENTS clients, $SENDERS senders, 5 s"
	valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
		./chatd --port 0 --bind 127.0.0.1 -q 2>"$OUT/valgrind.log" &
	pid=$!
	port=$(wait_port "$pid")
	build/chatbench fanout "ws://127.0.0.1:$port/" --clients "$CLIENTS" --senders "$SENDERS" \
		--duration 5 --warmup 1 --timeout 120 --server-pid "$pid" --label chatd-callgrind \
		>"$OUT/callgrind-fanout.txt" || echo "profile.sh: chatbench failed under callgrind" >&2
	kill -TERM "$pid"
	wait "$pid" || true
	callgrind_annotate "$OUT/callgrind.out" >"$OUT/callgrind.txt" 2>/dev/null
	grep -E '^RESULT' "$OUT/callgrind-fanout.txt"
	sed -n '/file:function/,$p' "$OUT/callgrind.txt" | head -n 22 || true
fi

if command -v perf >/dev/null; then
	echo "== perf (cpu-clock): $CLIENTS clients, $SENDERS senders, chatd on CPU 0, chatbench on CPU 1"
	pin0=() pin1=()
	if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
		pin0=(taskset -c 0) pin1=(taskset -c 1)
	fi
	"${pin0[@]}" ./chatd --port 0 --bind 127.0.0.1 -q 2>/dev/null &
	pid=$!
	port=$(wait_port "$pid")
	"${pin1[@]}" build/chatbench fanout "ws://127.0.0.1:$port/" --clients "$CLIENTS" \
		--senders "$SENDERS" --duration 10 --warmup 2 --server-pid "$pid" --label chatd \
		>"$OUT/perf-fanout.txt" 2>&1 &
	bench=$!
	sleep 4 # connected and warmed up
	perf record -q -e cpu-clock -F 4000 -g -p "$pid" -o "$OUT/perf.data" -- sleep 6 2>/dev/null
	wait "$bench" || echo "profile.sh: chatbench failed during perf" >&2
	kill -TERM "$pid"
	wait "$pid" || true
	grep -E '^RESULT' "$OUT/perf-fanout.txt"
	# (|| true: head closing the pipe early is not a failure)
	perf report -i "$OUT/perf.data" --stdio --no-children --sort dso 2>/dev/null |
		grep -E '^ +[0-9]' | head -n 4 || true
	perf report -i "$OUT/perf.data" --stdio --no-children --sort symbol 2>/dev/null |
		grep -E '^ +[0-9]' | head -n 20 | tee "$OUT/perf-top.txt" || true
	echo "-- kernel paths (time including callees)"
	perf report -i "$OUT/perf.data" --stdio --children --sort symbol 2>/dev/null |
		grep -E '\[k\] (__sys_sendmsg|tcp_write_xmit|net_rx_action|tcp_v4_rcv|sock_def_readable|do_epoll_wait|tcp_recvmsg)\b' |
		awk '{ print "  " $1 "  " $4 }' || true
fi
