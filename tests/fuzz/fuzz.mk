# libFuzzer harnesses for chatd's parsers (tests/fuzz/README.md). Included by the top-level
# Makefile; also usable alone: make -f tests/fuzz/fuzz.mk fuzz-short
#
#   make fuzz             build, then run each harness for FUZZ_SECONDS (default 60)
#   make fuzz-short       the same for 10 s each (what CI runs)
#   make fuzz-seeds       run every seed once, without fuzzing
#   make fuzz-crashes     replay every input in tests/fuzz/crashes/ (fails if one still crashes)
#   make fuzz-build       only build build/fuzz/fuzz_*
#
# Each run fuzzes a copy of the seed corpus in build/fuzz/corpus-<name>, which keeps what
# earlier runs found; the repository's corpus is never written to. A crash leaves its input
# in build/fuzz/artifacts-<name>/ and fails the target.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_CFLAGS   := -std=c17 -g -O1 -Iinclude -D_GNU_SOURCE \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
FUZZ_CRYPTO   := $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
FUZZ_RUNFLAGS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_NAMES    := wsreader http utf8 envelope redis_guard json tls
FUZZ_BINS     := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

# What each harness links, and the longest input worth trying.
FUZZ_SRCS_wsreader := src/wsreader.c src/frame.c src/utf8.c src/membudget.c
FUZZ_SRCS_http     := src/http.c src/handshake.c src/http_response.c
FUZZ_SRCS_utf8     := src/utf8.c
FUZZ_SRCS_envelope := src/envelope.c src/utf8.c
FUZZ_SRCS_redis_guard := src/redis_guard.c
FUZZ_LIBS_redis_guard := $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)
FUZZ_SRCS_json     := src/json.c src/utf8.c src/percent.c
FUZZ_LIBS_http     := $(FUZZ_CRYPTO)
# The TLS transport as chatd runs it, over a socket pair (fuzz_tls.c).
FUZZ_SRCS_tls      := src/transport_tls.c src/transport_tls_context.c src/transport_tls13.c \
                      src/tls_record.c src/membudget.c src/log.c
FUZZ_LIBS_tls      := $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
FUZZ_MAXLEN_tls    := 20000
FUZZ_MAXLEN_wsreader := 65536
FUZZ_MAXLEN_http     := 16384
FUZZ_MAXLEN_utf8     := 4096
FUZZ_MAXLEN_json     := 16384

.PHONY: fuzz fuzz-short fuzz-seeds fuzz-crashes fuzz-build

fuzz-build: $(FUZZ_BINS)

# One build rule per harness (an eval'd template rather than .SECONDEXPANSION, which would
# change how the including Makefile's own rules are read).
define fuzz_build_rule
build/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(FUZZ_SRCS_$(1)) \
		$$(wildcard include/*.h tests/fuzz/*.h tests/unit/tls_peer.h)
	@mkdir -p build/fuzz
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $$< $$(FUZZ_SRCS_$(1)) $$(FUZZ_LIBS_$(1))
endef
$(foreach name,$(FUZZ_NAMES),$(eval $(call fuzz_build_rule,$(name))))

# $(1): seconds per harness. Every harness runs, one after another (two at once would
# halve each one's speed on a small machine); the target fails at the end if any crashed.
define fuzz_run
	@failed=; for name in $(FUZZ_NAMES); do \
		corpus=build/fuzz/corpus-$$name; artifacts=build/fuzz/artifacts-$$name; \
		log=build/fuzz/fuzz_$$name.log; \
		mkdir -p $$corpus $$artifacts; \
		cp tests/fuzz/corpus/$$name/* $$corpus/; \
		case $$name in \
		wsreader) max_len=$(FUZZ_MAXLEN_wsreader);; \
		http) max_len=$(FUZZ_MAXLEN_http);; \
		json) max_len=$(FUZZ_MAXLEN_json);; \
		tls) max_len=$(FUZZ_MAXLEN_tls);; \
		*) max_len=$(FUZZ_MAXLEN_utf8);; \
		esac; \
		echo "== fuzz_$$name for $(1) s"; \
		if build/fuzz/fuzz_$$name $(FUZZ_RUNFLAGS) -max_len=$$max_len \
			-max_total_time=$(1) -artifact_prefix=$$artifacts/ $$corpus 2>$$log; then \
			grep -E '^#[0-9]+ +DONE' $$log || true; \
		else \
			grep -E -A40 '^==[0-9]+== ?ERROR|^fuzz_[a-z0-9]+:|^SUMMARY' $$log | head -n 60; \
			echo "fuzz_$$name FAILED: see $$log and $$artifacts/"; \
			failed="$$failed $$name"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzzing found crashes in:$$failed"; exit 1; fi
endef

fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-short: $(FUZZ_BINS)
	$(call fuzz_run,10)

# Files given one by one are only executed: nothing is written anywhere.
fuzz-seeds: $(FUZZ_BINS)
	@failed=; for name in $(FUZZ_NAMES); do \
		echo "== fuzz_$$name: $$(ls tests/fuzz/corpus/$$name | wc -l) seeds"; \
		build/fuzz/fuzz_$$name tests/fuzz/corpus/$$name/* 2>build/fuzz/seeds-$$name.log || \
			{ tail -n 60 build/fuzz/seeds-$$name.log; failed="$$failed $$name"; }; \
	done; \
	if [ -n "$$failed" ]; then echo "seeds crashed:$$failed"; exit 1; fi

fuzz-crashes: $(FUZZ_BINS)
	@failed=; for name in $(FUZZ_NAMES); do \
		set -- tests/fuzz/crashes/$$name-*.bin; \
		[ -e "$$1" ] || continue; \
		echo "== fuzz_$$name: $$# recorded inputs"; \
		build/fuzz/fuzz_$$name "$$@" 2>build/fuzz/crashes-$$name.log || \
			{ grep -E '^Running:|^fuzz_|^SUMMARY' build/fuzz/crashes-$$name.log | tail -n 5; \
			  failed="$$failed $$name"; }; \
	done; \
	if [ -n "$$failed" ]; then echo "recorded crashes still crash in:$$failed"; exit 1; fi
