# bench/bench.mk: the benchmark's make rules, included by the top-level Makefile
# (`-include bench/bench.mk`) and usable alone (`make -f bench/bench.mk build/chatbench`).
#
#   make build/chatbench   the load generator (C17, libc and OpenSSL only)
#   make build/tls_memory  OpenSSL's bytes per server connection, by allocation site
#   make bench             bench/run.sh: chatd against Node's ws, one table (minutes)
#   make bench-smoke       2 s of fan-out against a fresh chatd; fails if any delivery is
#                          missing or none arrived (part of `make test`)
#
# Variables are prefixed BENCH_ so that including this file changes nothing of chatd's build.

ifndef BENCH_MK_INCLUDED
BENCH_MK_INCLUDED := 1

BENCH_CC      ?= $(CC)
BENCH_CFLAGS  ?= -std=c17 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
                 -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla
BENCH_CRYPTO_CFLAGS := $(shell pkg-config --cflags libssl libcrypto 2>/dev/null)
BENCH_CRYPTO_LIBS   := $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
BENCH_SRCS    := $(wildcard bench/*.c)
BENCH_HDRS    := $(wildcard bench/*.h)

.PHONY: bench bench-smoke

build/chatbench: $(BENCH_SRCS) $(BENCH_HDRS) bench/bench.mk
	@mkdir -p build
	$(BENCH_CC) $(BENCH_CFLAGS) $(BENCH_CRYPTO_CFLAGS) -o $@ $(BENCH_SRCS) $(BENCH_CRYPTO_LIBS)

# Where OpenSSL's bytes go for one idle server connection (docs/BENCHMARKS.md, TLS).
build/tls_memory: bench/tlsmem/tls_memory.c bench/bench.mk
	@mkdir -p build
	$(BENCH_CC) $(BENCH_CFLAGS) $(BENCH_CRYPTO_CFLAGS) -o $@ $< $(BENCH_CRYPTO_LIBS)

# The latency profiler (bench/latprof/latprof.c): LD_PRELOAD into a server under chatbench.
build/latprof.so: bench/latprof/latprof.c bench/hist.c bench/payload.c bench/hist.h bench/payload.h
	@mkdir -p build
	$(BENCH_CC) $(BENCH_CFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) -ldl

bench:
	bench/run.sh

# run.sh starts chatd itself (fresh, on a free port) and stops it by its PID.
bench-smoke: build/chatbench build/latprof.so chatd
	BENCH_SKIP_BUILD=1 bench/run.sh smoke

endif
