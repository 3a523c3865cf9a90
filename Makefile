# chatd: see README.md. `make` builds ./chatd; `make test` runs every test;
# `make check` runs the same tests against an AddressSanitizer + UBSan build.

CC      ?= cc
PREFIX  ?= /usr/local
VERSION := $(shell sed -n 's/^\#define CHATD_VERSION "\(.*\)"/\1/p' include/version.h)

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wvla
CPPFLAGS += -Iinclude -D_GNU_SOURCE
CFLAGS   += -std=c17 $(OPT) $(WARN)
CRYPTO_CFLAGS := $(shell pkg-config --cflags libssl libcrypto 2>/dev/null)
CRYPTO_LIBS   := $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
# hiredis: the Redis client behind --redis (the backplane between chatd nodes).
REDIS_LIBS    := $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

SRCS     := $(wildcard src/*.c)
HEADERS  := $(wildcard include/*.h src/*.h)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS     := $(SRCS:src/%.c=build/%.o) build/page.o
LIB_OBJS := $(filter-out build/main.o,$(OBJS))
# Programs written against the public header alone (make examples; the API test).
EXAMPLES := build/examples/mychat build/examples/commands build/examples/recorder
SAN_OBJS := $(SRCS:src/%.c=build/san/%.o) build/san/page.o
SAN_LIB_OBJS := $(filter-out build/san/main.o,$(SAN_OBJS))
UNIT_TESTS := $(patsubst tests/unit/%.c,build/tests/%,$(wildcard tests/unit/test_*.c))
PYTEST   := /usr/bin/python3 -m pytest
# make run PORT=9000 ARGS='--echo'
PORT     ?= 8080
ARGS     ?=

.PHONY: all run test unit integration integration-san node-client browser check clean deps \
	format lint soak examples check-layering

all: chatd build/libchatd.a

deps:
	@tools/deps.sh build

# chatd as a library: everything but main. The chatd binary is main linked against it.
build/libchatd.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

chatd: build/main.o build/libchatd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ build/main.o build/libchatd.a $(CRYPTO_LIBS) $(REDIS_LIBS)

# The examples and the API's test program, built the way a user builds against chatd: the
# public header and the library, nothing else (check-layering holds them to it).
examples: check-layering $(EXAMPLES)

build/examples/%: examples/%.c include/chatd.h build/libchatd.a | build/examples
	$(CC) $(CFLAGS) -Iinclude -o $@ $< build/libchatd.a $(CRYPTO_LIBS) $(REDIS_LIBS)

build/examples/recorder: tests/api/recorder.c include/chatd.h build/libchatd.a | build/examples
	$(CC) $(CFLAGS) -Iinclude -o $@ $< build/libchatd.a $(CRYPTO_LIBS) $(REDIS_LIBS)

build/examples:
	mkdir -p $@

# Handlers see chatd through include/chatd.h only: the default handler, chatd.v1, the
# examples and the API test may include no other header of ours (but json.h, a pure codec).
check-layering:
	@tools/check-layering.sh src/handler_*.c src/handler_*.h examples/*.c tests/api/*.c

build/%.o: src/%.c $(HEADERS) | build
	$(CC) $(CPPFLAGS) $(CRYPTO_CFLAGS) $(CFLAGS) -c -o $@ $<

build/page.c: examples/chat.html build/embed | build
	build/embed $< page_html > $@.tmp && mv $@.tmp $@

build/page.o: build/page.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/embed: tools/embed.c | build
	$(CC) $(CFLAGS) -o $@ $<

build build/san build/tests:
	mkdir -p $@

# The sanitizer build: same sources, separate objects.
build/san/chatd: $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $(SAN_OBJS) $(CRYPTO_LIBS) $(REDIS_LIBS)

build/san/%.o: src/%.c $(HEADERS) | build/san
	$(CC) $(CPPFLAGS) $(CRYPTO_CFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

build/san/libchatd.a: $(filter-out build/san/main.o,$(SAN_OBJS))
	rm -f $@
	$(AR) rcs $@ $^

build/san/examples/%: examples/%.c include/chatd.h build/san/libchatd.a
	@mkdir -p build/san/examples
	$(CC) $(CFLAGS) $(SAN) -Iinclude -o $@ $< build/san/libchatd.a $(CRYPTO_LIBS) $(REDIS_LIBS)

build/san/examples/recorder: tests/api/recorder.c include/chatd.h build/san/libchatd.a
	@mkdir -p build/san/examples
	$(CC) $(CFLAGS) $(SAN) -Iinclude -o $@ $< build/san/libchatd.a $(CRYPTO_LIBS) $(REDIS_LIBS)

build/san/page.o: build/page.c | build/san
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

# Unit tests: one cmocka program per pure module, built with the sanitizers on.
build/tests/test_%: tests/unit/test_%.c tests/unit/guard.h $(SAN_LIB_OBJS) \
		$(HEADERS) | build/tests
	$(CC) $(CPPFLAGS) $(CRYPTO_CFLAGS) $(CFLAGS) $(SAN) -o $@ $< $(SAN_LIB_OBJS) \
		$$(pkg-config --cflags --libs cmocka) $(CRYPTO_LIBS) $(REDIS_LIBS)

run: deps chatd
	./chatd --port $(PORT) $(ARGS)

# Every program runs, a failing one included; the target fails at the end if any did.
unit: $(UNIT_TESTS)
	@failed=; for t in $(UNIT_TESTS); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

integration: chatd examples
	CHATD_BIN=$(CURDIR)/chatd CHATD_EXAMPLES=$(CURDIR)/build/examples $(PYTEST) -q tests/integration

# The bundled page in headless Chromium (Debian's), driven by playwright-core from npm.
browser: chatd
	cd tests/browser && npm ci --no-audit --no-fund --silent && \
		CHATD_BIN=$(CURDIR)/chatd npm test --silent

# Node's ws library as a second independent client.
node-client: chatd
	cd tests/node && npm ci --no-audit --no-fund --silent && \
		CHATD_BIN=$(CURDIR)/chatd npm test --silent

# One line per suite and a total; each suite's whole output goes to build/test-logs/.
test:
	@tools/deps.sh test
	@/usr/bin/python3 tools/run-tests.py unit integration node-client browser bench-smoke \
		install

# The C and Python suites need no Node.js.
check:
	@tools/deps.sh check
	@/usr/bin/python3 tools/run-tests.py unit integration-san

integration-san: build/san/chatd build/san/examples/mychat build/san/examples/commands \
		build/san/examples/recorder
	CHATD_BIN=$(CURDIR)/build/san/chatd CHATD_SANITIZED=1 \
	CHATD_EXAMPLES=$(CURDIR)/build/san/examples \
	ASAN_OPTIONS=detect_leaks=1:exitcode=23:quarantine_size_mb=16 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(PYTEST) -q tests/integration

# A few minutes of connection churn, then RSS and descriptors compared with a baseline.
soak: chatd
	/usr/bin/python3 tests/soak/soak.py $(CURDIR)/chatd

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c tools/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -Iinclude -D_GNU_SOURCE src
	clang-tidy --quiet src/*.c -- $(CPPFLAGS) -std=c17

clean:
	rm -rf build chatd

# Fuzzing (make fuzz, make fuzz-short), benchmarks (make bench) and installation
# (make install) live in their own files.
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
include mk/install.mk
