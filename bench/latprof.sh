#!/usr/bin/env bash
# Where a message's time goes inside chatd at a fixed load: chatbench's open-loop fan-out
# (the latency scenario of bench/run.sh) against a chatd that carries build/latprof.so
# (bench/latprof/latprof.c), which splits each message's life into inbound, queued and
# fan-out and counts the loop's passes. Prints chatbench's one-way figures, then the
# profile. docs/BENCHMARKS.md ("Tail latency") reads its output.
#
#   bench/latprof.sh                         100 clients, 10 senders, 500 messages/s, 10 s
#   LATENCY_RATE=1500 bench/latprof.sh       the same at 1,500 messages/s
#   CHATD_BENCH_BIN=/tmp/old/chatd bench/latprof.sh   another build, for a before and after
#
# chatd runs on CPU 0 and chatbench on CPU 1 (taskset), as in bench/run.sh; both stop by
# themselves (chatbench after its run, chatd by its PID).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${LATENCY_CLIENTS:-100}
SENDERS=${LATENCY_SENDERS:-10}
RATE=${LATENCY_RATE:-500}
SECONDS_MEASURED=${LATENCY_SECONDS:-10}
WARMUP=${WARMUP_SECONDS:-2}
BIN=${CHATD_BENCH_BIN:-./chatd}
OUT=${BENCH_OUT:-build/bench}
FLAGS=(--rate-limit off --rate-limit-bytes off --admin-listen off --max-per-ip 0
	--max-handshakes 0)

[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || {
	make -s chatd
	make -s -f bench/bench.mk build/chatbench build/latprof.so
}
mkdir -p "$OUT"
PIN_SERVER=() PIN_BENCH=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_SERVER=(taskset -c 0) PIN_BENCH=(taskset -c 1)
fi

profile="$OUT/latprof.txt"
LD_PRELOAD="$PWD/build/latprof.so" LATPROF_OUT="$profile" LATPROF_SKIP_S="$WARMUP" \
	"${PIN_SERVER[@]}" "$BIN" --port 0 --bind 127.0.0.1 -q "${FLAGS[@]}" \
	2>"$OUT/latprof-chatd.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
. bench/port.sh
port=""
for _ in $(seq 50); do
	port=$(listening_port "$pid") && break
	sleep 0.1
done
[ -n "$port" ] || { echo "chatd did not start: $OUT/latprof-chatd.log" >&2; exit 1; }
"${PIN_BENCH[@]}" build/chatbench fanout --clients "$CLIENTS" --senders "$SENDERS" \
	--rate "$RATE" --duration "$SECONDS_MEASURED" --warmup "$WARMUP" \
	"ws://127.0.0.1:$port/" | grep -E 'latency|RESULT'
kill "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
cat "$profile"
