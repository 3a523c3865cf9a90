#!/usr/bin/env bash
# bench/run.sh: runs the same scenarios against chatd and against a Node.js `ws` server
# (bench/node/server.js), each server fresh, on loopback, and prints one table.
#
#   bench/run.sh              the full run (about a minute and a half)
#   BENCH_QUICK=1 bench/run.sh   every scenario smaller and shorter (about a minute)
#   bench/run.sh smoke        2 s of fan-out against a fresh chatd (make bench-smoke)
#   BENCH_REPEAT=3 bench/run.sh   every scenario three times, the table shows medians
#   BENCH_TLS=0 bench/run.sh  without the TLS scenarios (wss://, certificates made by openssl)
#
# Every default below can be overridden from the environment, e.g.
#   FANOUT_CLIENTS=200 FANOUT_SECONDS=3 BENCH_SERVERS=chatd bench/run.sh
#
# It exits non-zero only when something failed to run: a server did not start or died, the
# load generator failed or crashed, a delivery was missing. Never because a figure was slow.
#
# Needs: gcc, make and libssl-dev (chatd and chatbench: tools/deps.sh installs them), node
# and npm (Node 18 or later; `npm install` puts ws 8.x in bench/node/node_modules), and
# taskset (util-linux) to pin the server to CPU 0 and chatbench to CPU 1 when there are two
# CPUs or more. Profiling, described in docs/BENCHMARKS.md, used valgrind and linux-perf
# (apt-get install valgrind linux-perf); this script does not need them.
# Results and server logs go to build/bench/ (BENCH_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	q_fan_clients=200 q_secs=3 q_idle=2000 q_echo=2000 q_large_clients=20 q_large_count=5
	q_capacity=3000 q_warmup=1 q_handshakes=500
else
	q_fan_clients=1000 q_secs=10 q_idle=10000 q_echo=10000 q_large_clients=100 q_large_count=20
	q_capacity=19000 q_warmup=2 q_handshakes=2000
fi
FANOUT_CLIENTS=${FANOUT_CLIENTS:-$q_fan_clients}
FANOUT_SENDERS=${FANOUT_SENDERS:-10}
FANOUT_SIZE=${FANOUT_SIZE:-64}
FANOUT_INFLIGHT=${FANOUT_INFLIGHT:-4}
FANOUT_SECONDS=${FANOUT_SECONDS:-$q_secs}
LATENCY_CLIENTS=${LATENCY_CLIENTS:-100}
LATENCY_SENDERS=${LATENCY_SENDERS:-10}
LATENCY_RATE=${LATENCY_RATE:-500}
LATENCY_SECONDS=${LATENCY_SECONDS:-$q_secs}
WARMUP_SECONDS=${WARMUP_SECONDS:-$q_warmup}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-$q_idle}
ECHO_COUNT=${ECHO_COUNT:-$q_echo}
BUSY_POLL_US=${BUSY_POLL_US:-50}
LARGE_CLIENTS=${LARGE_CLIENTS:-$q_large_clients}
LARGE_SIZE=${LARGE_SIZE:-1M}
LARGE_COUNT=${LARGE_COUNT:-$q_large_count}
CAPACITY_CONNECTIONS=${CAPACITY_CONNECTIONS:-$q_capacity}
HANDSHAKE_CONNECTIONS=${HANDSHAKE_CONNECTIONS:-$q_handshakes}
BENCH_SERVERS=${BENCH_SERVERS:-chatd node}
BENCH_TLS=${BENCH_TLS:-1}
BENCH_REPEAT=${BENCH_REPEAT:-1} # runs of every scenario; the table shows medians
# The load generator's senders are fast on purpose: chatd's flood control (--rate-limit,
# --rate-limit-bytes, on by default) would measure the limit, not the server. The table
# names these flags.
CHATD_BENCH_FLAGS=${CHATD_BENCH_FLAGS:---rate-limit off --rate-limit-bytes off}
CHATD_BENCH_BIN=${CHATD_BENCH_BIN:-./chatd}
BENCH_PAUSE=${BENCH_PAUSE:-1}   # seconds between scenarios, for the last one's sockets to close
BENCH_OUT=${BENCH_OUT:-build/bench}

CHATBENCH=build/chatbench
failures=0
declare -A RESULT=() # "scenario.server.repetition" -> the RESULT line
REP=1
SERVER_PID=""
SERVER_PORT=""

note() { printf '%s\n' "$*" >&2; }
fail() {
	note "FAILED: $*"
	failures=$((failures + 1))
}

# --- setting up ------------------------------------------------------------------------

build() {
	[ "${BENCH_SKIP_BUILD:-0}" = 1 ] && return
	make -s chatd
	make -s -f bench/bench.mk build/chatbench
}

node_setup() {
	if ! command -v node >/dev/null; then
		note "node is not installed: the Node.js column stays empty"
		BENCH_SERVERS=${BENCH_SERVERS//node/}
		return
	fi
	if [ ! -f bench/node/node_modules/ws/package.json ]; then
		note "installing ws into bench/node/node_modules"
		(cd bench/node && npm install --no-audit --no-fund --loglevel=error) >&2
	fi
}

# Two CPUs or more: the server gets CPU 0 and chatbench CPU 1, so neither steals the
# other's core and the scheduler does not move them around between runs.
SERVER_PIN=()
BENCH_PIN=()
pin_setup() {
	if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
		SERVER_PIN=(taskset -c 0)
		BENCH_PIN=(taskset -c 1)
		PINNING="server pinned to CPU 0, chatbench to CPU 1 (taskset)"
	else
		PINNING="not pinned (taskset missing or a single CPU)"
	fi
}

# --- servers ---------------------------------------------------------------------------

# listening_port PID: the TCP port a process listens on (bench/port.sh).
. bench/port.sh

# Every client of a run comes from 127.0.0.1 and connects at once: the per-address and
# handshake limits are lifted (their defaults are 64 and 1024), and the admin listener is
# off, so that the only listening socket is the one measured and parallel runs never
# collide on its default port. Printed only for a chatd that has these flags (an older
# $CHATD_BENCH_BIN, for a before-and-after table, has neither the flags nor the limits).
chatd_limit_flags() {
	# Not "--help | grep -q": grep may quit before chatd has written all its help, and
	# under pipefail chatd's SIGPIPE would then fail the test.
	local help
	help=$("$CHATD_BENCH_BIN" --help 2>/dev/null || true)
	if [[ $help == *--max-per-ip* ]]; then
		echo "--admin-listen off --max-per-ip 0 --max-handshakes 0"
	fi
}

# start_server chatd|node LOGNAME [--echo]: starts a fresh server on 127.0.0.1 and a free
# port; sets SERVER_PID and SERVER_PORT.
start_server() {
	local kind=$1 log="$BENCH_OUT/$2.log"
	shift 2
	case $kind in
	# shellcheck disable=SC2046 # the flags are words, split on purpose
	chatd) "${SERVER_PIN[@]}" "$CHATD_BENCH_BIN" --port 0 --bind 127.0.0.1 -q $CHATD_BENCH_FLAGS $(chatd_limit_flags) "$@" 2>"$log" & ;;
	node) "${SERVER_PIN[@]}" node bench/node/server.js --port 0 --bind 127.0.0.1 "$@" 2>"$log" & ;;
	esac
	SERVER_PID=$!
	SERVER_PORT=""
	for _ in $(seq 100); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			fail "$kind did not start (see $log)"
			return 1
		fi
		SERVER_PORT=$(listening_port "$SERVER_PID") && break
		sleep 0.1
	done
	if [ -z "$SERVER_PORT" ]; then
		fail "$kind is not listening after 10 s (see $log)"
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		return 1
	fi
}

# Stops the server we started, by its PID; a server that had died, or does not exit 0 on
# SIGTERM within 10 s, is a failure.
stop_server() {
	local kind=$1 status=0
	if ! kill -TERM "$SERVER_PID" 2>/dev/null; then
		wait "$SERVER_PID" || status=$?
		fail "$kind (pid $SERVER_PID) died during the run, exit status $status"
		return
	fi
	for _ in $(seq 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		fail "$kind did not stop within 10 s of SIGTERM"
	fi
	wait "$SERVER_PID" || status=$?
	[ "$status" = 0 ] || fail "$kind exited with status $status after SIGTERM"
}

# --- scenarios -------------------------------------------------------------------------

# scenario NAME SERVER "SERVER ARGS" MODE CHATBENCH-ARGS...: one fresh server, one run.
scenario() {
	local name=$1 kind=$2 server_args=$3 mode=$4 rc=0 out
	shift 4
	out="$BENCH_OUT/$name-$kind-$REP.txt"
	printf '\n== %s against %s (run %s of %s)\n' "$name" "$kind" "$REP" "$BENCH_REPEAT"
	# shellcheck disable=SC2086  # server_args is a list of words
	start_server "$kind" "$name-$kind-$REP-server" $server_args || return 0
	"${BENCH_PIN[@]}" "$CHATBENCH" "$mode" "${SCHEME:-ws}://127.0.0.1:$SERVER_PORT/" \
		--server-pid "$SERVER_PID" --label "$kind" "$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	stop_server "$kind"
	[ "$rc" = 0 ] || fail "$name against $kind: chatbench exit status $rc"
	RESULT[$name.$kind.$REP]=$(grep '^RESULT ' "$out" | tail -n 1 || true)
	sleep "$BENCH_PAUSE"
}

# The same fixed loop timed on each CPU. On a shared or virtual machine the speed a core
# delivers can change between runs (another guest on the host's sibling thread, a build
# beside the benchmark); this line shows it, so a run that is slow everywhere can be told
# from a change in chatd.
cpu_check() {
	local cpu start end line="cpu check (ms for a fixed loop, lower is faster):"
	for cpu in $(seq 0 $(($(nproc) > 2 ? 1 : $(nproc) - 1))); do
		start=$(date +%s%N)
		if command -v taskset >/dev/null; then
			taskset -c "$cpu" awk 'BEGIN { for (i = 0; i < 3e6; i++) s += i * i % 7 }'
		else
			awk 'BEGIN { for (i = 0; i < 3e6; i++) s += i * i % 7 }'
		fi
		end=$(date +%s%N)
		line="$line CPU$cpu $(((end - start) / 1000000))"
	done
	printf '%s\n' "$line"
}

run_all() {
	local kind
	printf '\n######## run %s of %s\n' "$REP" "$BENCH_REPEAT"
	cpu_check
	for kind in $BENCH_SERVERS; do
		scenario fanout "$kind" "" fanout --clients "$FANOUT_CLIENTS" \
			--senders "$FANOUT_SENDERS" --size "$FANOUT_SIZE" --inflight "$FANOUT_INFLIGHT" \
			--duration "$FANOUT_SECONDS" --warmup "$WARMUP_SECONDS"
	done
	for kind in $BENCH_SERVERS; do
		scenario latency "$kind" "" fanout --clients "$LATENCY_CLIENTS" \
			--senders "$LATENCY_SENDERS" --rate "$LATENCY_RATE" \
			--duration "$LATENCY_SECONDS" --warmup "$WARMUP_SECONDS"
	done
	for kind in $BENCH_SERVERS; do
		scenario idle "$kind" "" idle --clients "$IDLE_CONNECTIONS" --verify
	done
	for kind in $BENCH_SERVERS; do
		scenario echo "$kind" "--echo" echo --count "$ECHO_COUNT"
	done
	case " $BENCH_SERVERS " in
	*" chatd "*)
		scenario echo_busy chatd "--echo --busy-poll $BUSY_POLL_US" echo \
			--count "$ECHO_COUNT" ;;
	esac
	for kind in $BENCH_SERVERS; do
		scenario large "$kind" "" large --clients "$LARGE_CLIENTS" --size "$LARGE_SIZE" \
			--count "$LARGE_COUNT"
	done
	case " $BENCH_SERVERS " in
	*" chatd "*) scenario capacity chatd "" idle --clients "$CAPACITY_CONNECTIONS" --verify ;;
	esac
}

# --- TLS -------------------------------------------------------------------------------

# Self-signed certificates for 127.0.0.1, made fresh: ECDSA P-256 and RSA 2048. chatbench
# checks no certificate (it measures the server, it does not trust it).
TLS_DIR="$BENCH_OUT/tls"
tls_setup() {
	mkdir -p "$TLS_DIR"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=127.0.0.1 -keyout "$TLS_DIR/ecdsa.key" -out "$TLS_DIR/ecdsa.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$TLS_DIR/rsa.key" -out "$TLS_DIR/rsa.pem" 2>/dev/null
}

tls_args() { printf -- '--tls-cert %s --tls-key %s' "$TLS_DIR/$1.pem" "$TLS_DIR/$1.key"; }

# The plain scenarios again over wss:// (ECDSA), and handshakes/s by key type, with and
# without session resumption (chatbench --tls-resume offers the last session it got).
run_tls() {
	local kind ecdsa rsa
	ecdsa=$(tls_args ecdsa)
	rsa=$(tls_args rsa)
	for kind in $BENCH_SERVERS; do
		SCHEME=wss scenario fanout_tls "$kind" "$ecdsa" fanout --clients "$FANOUT_CLIENTS" \
			--senders "$FANOUT_SENDERS" --size "$FANOUT_SIZE" --inflight "$FANOUT_INFLIGHT" \
			--duration "$FANOUT_SECONDS" --warmup "$WARMUP_SECONDS"
	done
	for kind in $BENCH_SERVERS; do
		SCHEME=wss scenario latency_tls "$kind" "$ecdsa" fanout --clients "$LATENCY_CLIENTS" \
			--senders "$LATENCY_SENDERS" --rate "$LATENCY_RATE" \
			--duration "$LATENCY_SECONDS" --warmup "$WARMUP_SECONDS"
	done
	for kind in $BENCH_SERVERS; do
		SCHEME=wss scenario idle_tls "$kind" "$ecdsa" idle --clients "$IDLE_CONNECTIONS" --verify
	done
	for kind in $BENCH_SERVERS; do
		SCHEME=wss scenario large_tls "$kind" "$ecdsa" large --clients "$LARGE_CLIENTS" \
			--size "$LARGE_SIZE" --count "$LARGE_COUNT"
	done
	for kind in $BENCH_SERVERS; do
		SCHEME=wss scenario hs_ecdsa "$kind" "$ecdsa" idle --clients "$HANDSHAKE_CONNECTIONS"
		SCHEME=wss scenario hs_ecdsa_resume "$kind" "$ecdsa" idle \
			--clients "$HANDSHAKE_CONNECTIONS" --tls-resume
		SCHEME=wss scenario hs_rsa "$kind" "$rsa" idle --clients "$HANDSHAKE_CONNECTIONS"
		SCHEME=wss scenario hs_rsa_resume "$kind" "$rsa" idle \
			--clients "$HANDSHAKE_CONNECTIONS" --tls-resume
	done
}

print_tls_table() {
	printf '\nTLS (wss://, TLS 1.3, ECDSA P-256 unless the row says RSA 2048):\n'
	local fan="TLS fan-out ${FANOUT_CLIENTS}c/${FANOUT_SENDERS}s/${FANOUT_INFLIGHT}k"
	row fanout_tls "$fan: deliveries/s" deliveries_per_s
	row fanout_tls "$fan: latency p50 us" p50_us
	row fanout_tls "$fan: latency p99 us" p99_us
	row fanout_tls "$fan: server CPU %" server_cpu_pct
	local lat="TLS latency ${LATENCY_CLIENTS}c @${LATENCY_RATE}/s"
	row latency_tls "$lat: p50 us" p50_us
	row latency_tls "$lat: p99 us" p99_us
	local idle="TLS idle ${IDLE_CONNECTIONS} conns"
	row idle_tls "$idle: server RSS bytes/conn" rss_per_conn_bytes
	row idle_tls "$idle: handshakes/s" handshakes_per_s
	row idle_tls "$idle: broadcast to all, ms" verify_ms
	row large_tls "TLS large ${LARGE_SIZE} to ${LARGE_CLIENTS}: MB/s delivered" mb_per_s
	row large_tls "TLS large ${LARGE_SIZE} to ${LARGE_CLIENTS}: server CPU %" server_cpu_pct
	local hs="TLS handshakes/s, ${HANDSHAKE_CONNECTIONS} conns"
	row hs_ecdsa "$hs: ECDSA full" handshakes_per_s
	row hs_ecdsa_resume "$hs: ECDSA resumed" handshakes_per_s
	row hs_ecdsa_resume "$hs: ECDSA sessions resumed" tls_resumed
	row hs_rsa "$hs: RSA 2048 full" handshakes_per_s
	row hs_rsa_resume "$hs: RSA 2048 resumed" handshakes_per_s
	row hs_ecdsa "$hs: ECDSA full, server CPU %" server_cpu_pct
	row hs_rsa "$hs: RSA 2048 full, server CPU %" server_cpu_pct
}

# --- the table -------------------------------------------------------------------------

# field SCENARIO SERVER KEY [max]: a value from the RESULT lines, the median over the
# repetitions (or the largest, with max), or empty when there is none.
field() {
	local r line pick=${4:-median}
	for r in $(seq "$BENCH_REPEAT"); do
		line=${RESULT[$1.$2.$r]:-}
		if [ -n "$line" ]; then sed -n "s/.* $3=\([^ ]*\).*/\1/p" <<<"$line"; fi
	done | sort -g | awk -v pick="$pick" '{ v[NR] = $1 }
		END { if (NR) print (pick == "max" ? v[NR] : v[int((NR + 1) / 2)]) }'
}

# row SCENARIO "LABEL" KEY [max]: one line of the table. The ratio is chatd's figure
# divided by Node's, for rates and for times alike.
row() {
	local scen=$1 label=$2 key=$3 pick=${4:-median} c n ratio="-"
	c=$(field "$scen" chatd "$key" "$pick")
	n=$(field "$scen" node "$key" "$pick")
	if [ -n "$c" ] && [ -n "$n" ] && [ "$pick" != max ]; then
		ratio=$(awk -v c="$c" -v n="$n" 'BEGIN { if (n > 0) printf "%.2f", c / n; else print "-" }')
	fi
	printf '%-50s %12s %12s %11s\n' "$label" "${c:--}" "${n:--}" "$ratio"
}

print_table() {
	printf '\n%-50s %12s %12s %11s\n' "scenario: figure" "chatd" "node ws" "chatd/node"
	printf '%s\n' "$(printf '%.0s-' $(seq 88))"
	local fan="fan-out ${FANOUT_CLIENTS}c/${FANOUT_SENDERS}s/${FANOUT_INFLIGHT}k"
	row fanout "$fan: deliveries/s" deliveries_per_s
	row fanout "$fan: messages sent/s" sent_per_s
	row fanout "$fan: latency p50 us" p50_us
	row fanout "$fan: latency p99 us" p99_us
	row fanout "$fan: missing deliveries (worst run)" missing max
	row fanout "$fan: server CPU %" server_cpu_pct
	row fanout "$fan: chatbench CPU %" bench_cpu_pct
	local lat="latency ${LATENCY_CLIENTS}c @${LATENCY_RATE}/s"
	row latency "$lat: p50 us" p50_us
	row latency "$lat: p90 us" p90_us
	row latency "$lat: p99 us" p99_us
	row latency "$lat: p99.9 us" p999_us
	row latency "$lat: max us" max_us
	row latency "$lat: deliveries/s" deliveries_per_s
	local idle="idle ${IDLE_CONNECTIONS} conns"
	row idle "$idle: handshakes/s" handshakes_per_s
	row idle "$idle: server CPU % while connecting" server_cpu_pct
	row idle "$idle: chatbench CPU % while connecting" bench_cpu_pct
	row idle "$idle: server RSS bytes/conn" rss_per_conn_bytes
	row idle "$idle: kernel slab bytes/conn (2 ends)" slab_per_conn_bytes
	row idle "$idle: broadcast to all, ms" verify_ms
	row echo "echo ${ECHO_COUNT}: round trip p50 us" rtt_p50_us
	row echo "echo ${ECHO_COUNT}: round trip p99 us" rtt_p99_us
	row echo "echo ${ECHO_COUNT}: round trips/s" round_trips_per_s
	# chatd with --busy-poll against plain Node (ws has no such knob).
	local c n ratio="-"
	c=$(field echo_busy chatd rtt_p50_us)
	n=$(field echo node rtt_p50_us)
	if [ -n "$c" ] && [ -n "$n" ]; then
		ratio=$(awk -v c="$c" -v n="$n" 'BEGIN { if (n > 0) printf "%.2f", c / n; else print "-" }')
	fi
	printf '%-50s %12s %12s %11s\n' "echo, chatd --busy-poll ${BUSY_POLL_US}: p50 us" "${c:--}" "${n:--}" "$ratio"

	row large "large ${LARGE_SIZE} to ${LARGE_CLIENTS}: MB/s delivered" mb_per_s
	row large "large ${LARGE_SIZE} to ${LARGE_CLIENTS}: fan-out p50 us" fanout_p50_us
	row large "large ${LARGE_SIZE} to ${LARGE_CLIENTS}: server CPU %" server_cpu_pct
	local cap="capacity ${CAPACITY_CONNECTIONS} (chatd only)"
	row capacity "$cap: connections open" open
	row capacity "$cap: handshakes/s" handshakes_per_s
	row capacity "$cap: server RSS bytes/conn" rss_per_conn_bytes
	row capacity "$cap: broadcast receivers" verify_receivers
	row capacity "$cap: broadcast to all, ms" verify_ms
	if [ "$BENCH_TLS" = 1 ]; then print_tls_table; fi
	printf '\nMedians of %s run(s). Rates: higher is better. Times, memory and CPU: lower is\n' "$BENCH_REPEAT"
	printf 'better (a ratio below 1 favours chatd).\n'
}

describe_machine() {
	printf 'machine: %s CPUs, %s, kernel %s\n' "$(nproc)" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(uname -r)"
	printf 'compiler: %s; node %s, ws %s\n' "$(${CC:-cc} --version | head -n 1)" \
		"$(node --version 2>/dev/null || echo none)" \
		"$(sed -n 's/.*"version": "\(.*\)".*/\1/p' bench/node/node_modules/ws/package.json 2>/dev/null || echo none)"
	local dirty=""
	if [ -n "$(git status --porcelain -- src include 2>/dev/null)" ]; then
		dirty=" with uncommitted changes in src/ or include/"
	fi
	printf 'chatd: commit %s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$dirty"
	printf 'pinning: %s\n' "$PINNING"
	printf 'chatd flags: %s\n' "$CHATD_BENCH_FLAGS $(chatd_limit_flags)"
	# Two cores are easily shared: a build or a test suite running beside the benchmark
	# takes CPU time from whichever process shares its core, and every figure moves.
	printf 'load average before the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	if awk '{ exit !($1 > 0.5) }' /proc/loadavg; then
		printf 'WARNING: the machine is busy; figures will be lower and noisier than on an idle one\n'
	fi
}

# --- smoke -----------------------------------------------------------------------------

# make bench-smoke: a short fan-out against a fresh chatd; chatbench fails the run itself
# when nothing was delivered or anything is missing.
smoke() {
	local out="$BENCH_OUT/smoke.txt" rc=0
	start_server chatd smoke-server || exit 1
	"$CHATBENCH" fanout "ws://127.0.0.1:$SERVER_PORT/" --clients 20 --senders 2 \
		--duration 2 --warmup 0.5 --timeout 30 --server-pid "$SERVER_PID" --label chatd \
		>"$out" 2>&1 || rc=$?
	cat "$out"
	stop_server chatd
	[ "$rc" = 0 ] || fail "chatbench exit status $rc"
	grep -q '^RESULT .* missing=0 ' "$out" || fail "no RESULT line with missing=0"
	[ "$failures" = 0 ] && echo "bench-smoke: OK"
	[ "$failures" = 0 ]
}

mkdir -p "$BENCH_OUT"
build
pin_setup
if [ "${1:-}" = smoke ]; then
	smoke
	exit
fi
node_setup
if [ "$BENCH_TLS" = 1 ]; then tls_setup; fi
describe_machine | tee "$BENCH_OUT/machine.txt"
for REP in $(seq "$BENCH_REPEAT"); do
	run_all
	if [ "$BENCH_TLS" = 1 ]; then run_tls; fi
done
print_table | tee "$BENCH_OUT/table.txt"
if [ "$failures" -gt 0 ]; then
	note "$failures failure(s): see above and $BENCH_OUT/"
	exit 1
fi
