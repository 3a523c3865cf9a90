/*
 * Unit tests for wsreader (include/wsreader.h), the receive-side rules of RFC 6455.
 * Most tests are scenarios: a byte stream of client frames built here (independently of
 * frame.c) and the events it must produce. Each scenario is fed whole, one byte at a time,
 * cut in two at every position and cut at random, each piece copied to the end of a guarded
 * page (the reader unmasks in place, and an over-read faults), and every way of feeding it
 * must give the same events. A few tests then check *when* an event comes: fail-fast UTF-8
 * and size errors arrive with the offending bytes, not at the end of the message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "wsreader.h"

#define MIB ((size_t)1 << 20)

/* --- building client frames --------------------------------------------------------------- */

struct bytes {
	uint8_t *b_data; /* owned, malloc'd */
	size_t b_len;
	size_t b_cap;
};

static void bytes_append(struct bytes *b, const void *p, size_t n)
{
	if (b->b_len + n > b->b_cap) {
		size_t cap = b->b_cap ? b->b_cap : 256;
		while (cap < b->b_len + n)
			cap *= 2;
		b->b_data = realloc(b->b_data, cap);
		assert_non_null(b->b_data);
		b->b_cap = cap;
	}
	if (n > 0)
		memcpy(b->b_data + b->b_len, p, n);
	b->b_len += n;
}

static void bytes_free(struct bytes *b)
{
	free(b->b_data);
	memset(b, 0, sizeof *b);
}

#define FIN     true
#define MORE    false
#define USE_LEN UINT64_MAX

static unsigned key_counter;

/* Appends one frame. byte0_extra carries RSV bits; announced overrides the length field
 * (USE_LEN: the payload's length), in which case only the given payload bytes follow.
 * Every frame gets a different mask key, so a reader that reuses a stale key is caught. */
static void add_frame_ex(struct bytes *b, bool fin, uint8_t byte0_extra, uint8_t opcode,
                         bool masked, const void *payload, size_t len, uint64_t announced)
{
	uint8_t head[14];
	size_t n = 2;
	uint64_t wire_len = announced == USE_LEN ? len : announced;
	uint8_t mkey[4];

	key_counter++;
	mkey[0] = (uint8_t)(0x5A ^ key_counter);
	mkey[1] = (uint8_t)(0xC3 + 7 * key_counter);
	mkey[2] = (uint8_t)(key_counter >> 3);
	mkey[3] = 0xF1;
	head[0] = (uint8_t)((fin ? 0x80 : 0) | byte0_extra | opcode);
	head[1] = masked ? 0x80 : 0;
	if (wire_len < 126) {
		head[1] |= (uint8_t)wire_len;
	} else if (wire_len <= 0xFFFF) {
		head[1] |= 126;
		head[n++] = (uint8_t)(wire_len >> 8);
		head[n++] = (uint8_t)wire_len;
	} else {
		head[1] |= 127;
		for (int shift = 56; shift >= 0; shift -= 8)
			head[n++] = (uint8_t)(wire_len >> shift);
	}
	if (masked) {
		memcpy(head + n, mkey, 4);
		n += 4;
	}
	bytes_append(b, head, n);
	size_t start = b->b_len;
	bytes_append(b, payload, len);
	if (masked)
		for (size_t i = 0; i < len; i++)
			b->b_data[start + i] ^= mkey[i % 4];
}

static void add_frame(struct bytes *b, bool fin, uint8_t opcode, const void *payload, size_t len)
{
	add_frame_ex(b, fin, 0, opcode, true, payload, len, USE_LEN);
}

static void add_text(struct bytes *b, bool fin, uint8_t opcode, const char *s)
{
	add_frame(b, fin, opcode, s, strlen(s));
}

static void add_close(struct bytes *b, uint16_t code, const void *reason, size_t reason_len)
{
	uint8_t p[FRAME_MAX_CONTROL_PAYLOAD + 8];
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	memcpy(p + 2, reason, reason_len);
	add_frame(b, FIN, WS_OP_CLOSE, p, reason_len + 2);
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* --- recording events --------------------------------------------------------------------- */

struct rec {
	enum ws_event_type rc_type;
	uint8_t rc_opcode;
	uint16_t rc_code;
	uint8_t *rc_data; /* owned copy */
	size_t rc_len;
};

#define MAX_RECS 64

struct recs {
	struct rec rs_ev[MAX_RECS];
	size_t rs_n;
};

static void recs_add(struct recs *rs, enum ws_event_type type, uint8_t opcode, uint16_t code,
                     const void *data, size_t len)
{
	assert_true(rs->rs_n < MAX_RECS);
	struct rec *r = &rs->rs_ev[rs->rs_n++];
	r->rc_type = type;
	r->rc_opcode = opcode;
	r->rc_code = code;
	r->rc_len = len;
	r->rc_data = malloc(len + 1);
	assert_non_null(r->rc_data);
	if (len > 0)
		memcpy(r->rc_data, data, len);
}

static void recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->rs_n; i++)
		free(rs->rs_ev[i].rc_data);
	rs->rs_n = 0;
}

static void expect_msg(struct recs *rs, uint8_t opcode, const void *data, size_t len)
{
	recs_add(rs, WS_EVENT_MESSAGE, opcode, 0, data, len);
}

static void expect_ctl(struct recs *rs, enum ws_event_type type, const void *data, size_t len)
{
	recs_add(rs, type, 0, 0, data, len);
}

static void expect_close(struct recs *rs, uint16_t code, const void *reason, size_t len)
{
	recs_add(rs, WS_EVENT_CLOSE, 0, code, reason, len);
}

static void expect_error(struct recs *rs, uint16_t code)
{
	recs_add(rs, WS_EVENT_ERROR, 0, code, NULL, 0);
}

/* Records one event. ERROR carries no payload worth comparing, only its code. */
static void record(struct recs *rs, const struct ws_event *ev)
{
	switch (ev->ev_type) {
	case WS_EVENT_NONE: return;
	case WS_EVENT_MESSAGE:
		assert_true(ev->ev_opcode == WS_OP_TEXT || ev->ev_opcode == WS_OP_BINARY);
		if (ev->ev_len > 0)
			assert_non_null(ev->ev_data);
		recs_add(rs, ev->ev_type, ev->ev_opcode, 0, ev->ev_data, ev->ev_len);
		return;
	case WS_EVENT_PING:
	case WS_EVENT_PONG:
		assert_true(ev->ev_len <= FRAME_MAX_CONTROL_PAYLOAD);
		recs_add(rs, ev->ev_type, 0, 0, ev->ev_data, ev->ev_len);
		return;
	case WS_EVENT_CLOSE:
		recs_add(rs, ev->ev_type, 0, ev->ev_close_code, ev->ev_data, ev->ev_len);
		return;
	case WS_EVENT_ERROR:
		assert_non_null(ev->ev_error);
		assert_true(ev->ev_close_code == WS_CLOSE_PROTOCOL_ERROR ||
		            ev->ev_close_code == WS_CLOSE_INVALID_DATA ||
		            ev->ev_close_code == WS_CLOSE_TOO_BIG ||
		            ev->ev_close_code == WS_CLOSE_INTERNAL_ERROR);
		recs_add(rs, ev->ev_type, 0, ev->ev_close_code, NULL, 0);
		return;
	}
	fail_msg("unknown event type %d", (int)ev->ev_type);
}

static const char *type_name(enum ws_event_type t)
{
	static const char *const names[] = {"NONE", "MESSAGE", "PING", "PONG", "CLOSE", "ERROR"};
	return (unsigned)t < 6 ? names[t] : "?";
}

static void recs_compare(const struct recs *got, const struct recs *want, const char *how)
{
	for (size_t i = 0; i < got->rs_n || i < want->rs_n; i++) {
		if (i >= got->rs_n)
			fail_msg("%s: event %zu missing (want %s)", how, i,
			         type_name(want->rs_ev[i].rc_type));
		if (i >= want->rs_n)
			fail_msg("%s: unexpected event %zu %s code %u", how, i,
			         type_name(got->rs_ev[i].rc_type), got->rs_ev[i].rc_code);
		const struct rec *g = &got->rs_ev[i], *w = &want->rs_ev[i];
		if (g->rc_type != w->rc_type || g->rc_opcode != w->rc_opcode ||
		    g->rc_code != w->rc_code)
			fail_msg("%s: event %zu is %s op %u code %u, want %s op %u code %u", how, i,
			         type_name(g->rc_type), g->rc_opcode, g->rc_code,
			         type_name(w->rc_type), w->rc_opcode, w->rc_code);
		if (w->rc_type != WS_EVENT_ERROR &&
		    (g->rc_len != w->rc_len || memcmp(g->rc_data, w->rc_data, w->rc_len) != 0))
			fail_msg("%s: event %zu (%s) payload differs: %zu bytes, want %zu", how, i,
			         type_name(g->rc_type), g->rc_len, w->rc_len);
	}
}

/* --- feeding ------------------------------------------------------------------------------ */

/* Feeds wire[0..len) to a fresh reader in pieces that end at cuts[] and at len; each piece is
 * copied to the end of the guarded page first. Checks the API's invariants on every call. */
static void feed_pieces(size_t max_message, const struct bytes *wire, const size_t *cuts,
                        size_t ncuts, struct guard *g, struct recs *out)
{
	struct ws_reader r;
	size_t start = 0;

	ws_reader_init(&r, max_message);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : wire->b_len;
		uint8_t *piece = guard_put(g, wire->b_data + start, end - start);
		size_t off = 0, left = end - start;

		while (off < left) {
			struct ws_event ev;
			size_t n = ws_reader_next(&r, piece + off, left - off, &ev);
			assert_true(n <= left - off);
			/* NONE means "everything given was consumed"; anything else made progress
			 * or is an event, so this loop always terminates. */
			if (ev.ev_type == WS_EVENT_NONE)
				assert_int_equal(n, left - off);
			record(out, &ev);
			off += n;
		}
		start = end;
	}
	ws_reader_free(&r);
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint32_t rng_below(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Feeds the stream every way the tests care about and compares each run with want. */
static void check_stream(size_t max_message, const struct bytes *wire, const struct recs *want,
                         const char *name)
{
	struct guard g;
	struct recs got = {0};
	char how[128];
	size_t len = wire->b_len;
	size_t *cuts = malloc((len + 1) * sizeof *cuts);

	assert_non_null(cuts);
	guard_open(&g, len + 1);

	snprintf(how, sizeof how, "%s, whole", name);
	feed_pieces(max_message, wire, NULL, 0, &g, &got);
	recs_compare(&got, want, how);
	recs_free(&got);

	/* Fixed-size pieces: one byte at a time, then 2..7. */
	for (size_t step = 1; step <= 7; step++) {
		size_t n = 0;
		for (size_t at = step; at < len; at += step)
			cuts[n++] = at;
		snprintf(how, sizeof how, "%s, %zu bytes at a time", name, step);
		feed_pieces(max_message, wire, cuts, n, &g, &got);
		recs_compare(&got, want, how);
		recs_free(&got);
	}

	/* Two pieces, cut at every position (at a sample of them for big streams). */
	size_t stride = len <= 4096 ? 1 : len / 997;
	for (size_t cut = 0; cut <= len; cut += stride) {
		snprintf(how, sizeof how, "%s, cut at %zu", name, cut);
		feed_pieces(max_message, wire, &cut, 1, &g, &got);
		recs_compare(&got, want, how);
		recs_free(&got);
	}

	/* Random pieces. */
	for (int iter = 0; iter < 100; iter++) {
		size_t n = 0, at = 0;
		for (;;) {
			at += 1 + rng_below(iter % 2 ? 20 : (uint32_t)len / 3 + 1);
			if (at >= len)
				break;
			cuts[n++] = at;
		}
		snprintf(how, sizeof how, "%s, random cuts #%d", name, iter);
		feed_pieces(max_message, wire, cuts, n, &g, &got);
		recs_compare(&got, want, how);
		recs_free(&got);
	}
	guard_close(&g);
	free(cuts);
}

/* --- scenarios ---------------------------------------------------------------------------- */

struct scenario {
	const char *sc_name;
	size_t sc_max_message;
	void (*sc_build)(struct bytes *wire, struct recs *want);
};

/* A valid text message to put after a failing frame: it must never be seen. */
static void add_ignored_tail(struct bytes *w)
{
	add_text(w, FIN, WS_OP_TEXT, "after the end");
	add_frame(w, FIN, WS_OP_PING, "x", 1);
}

static void sc_text(struct bytes *w, struct recs *want)
{
	add_text(w, FIN, WS_OP_TEXT, "hello");
	expect_msg(want, WS_OP_TEXT, "hello", 5);
	static const char mixed[] = "w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80";
	add_text(w, FIN, WS_OP_TEXT, mixed);
	expect_msg(want, WS_OP_TEXT, mixed, sizeof mixed - 1);
	add_text(w, FIN, WS_OP_TEXT, "");
	expect_msg(want, WS_OP_TEXT, "", 0);
}

static void sc_binary_lengths(struct bytes *w, struct recs *want)
{
	static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
	uint8_t *p = malloc(70000);
	assert_non_null(p);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		fill_pattern(p, lens[i], (unsigned)i);
		p[0] = 0xFF; /* not UTF-8, and binary does not care */
		add_frame(w, FIN, WS_OP_BINARY, p, lens[i]);
		expect_msg(want, WS_OP_BINARY, p, lens[i]);
	}
	free(p);
}

static void sc_fragments_with_controls(struct bytes *w, struct recs *want)
{
	uint8_t big_ping[FRAME_MAX_CONTROL_PAYLOAD];
	fill_pattern(big_ping, sizeof big_ping, 9);

	add_text(w, MORE, WS_OP_TEXT, "Hel");
	add_text(w, FIN, WS_OP_PING, "p1");
	expect_ctl(want, WS_EVENT_PING, "p1", 2);
	add_text(w, MORE, WS_OP_CONTINUATION, "lo, ");
	add_text(w, FIN, WS_OP_PONG, "");
	expect_ctl(want, WS_EVENT_PONG, "", 0);
	add_text(w, MORE, WS_OP_CONTINUATION, "");
	add_frame(w, FIN, WS_OP_PING, big_ping, sizeof big_ping);
	expect_ctl(want, WS_EVENT_PING, big_ping, sizeof big_ping);
	/* A UTF-8 sequence split across two fragments is fine. */
	add_text(w, MORE, WS_OP_CONTINUATION, "w\xc3");
	add_text(w, FIN, WS_OP_CONTINUATION, "\xb6rld");
	expect_msg(want, WS_OP_TEXT, "Hello, w\xc3\xb6rld", 13);

	/* A binary message in fragments, some empty, then a one-frame text. */
	add_frame(w, MORE, WS_OP_BINARY, "\x00\xff\x80", 3);
	add_frame(w, MORE, WS_OP_CONTINUATION, "", 0);
	add_frame(w, FIN, WS_OP_CONTINUATION, "\xc0", 1);
	expect_msg(want, WS_OP_BINARY, "\x00\xff\x80\xc0", 4);
	add_frame(w, MORE, WS_OP_TEXT, "", 0);
	add_frame(w, FIN, WS_OP_CONTINUATION, "", 0);
	expect_msg(want, WS_OP_TEXT, "", 0);
	add_text(w, FIN, WS_OP_TEXT, "last");
	expect_msg(want, WS_OP_TEXT, "last", 4);

	add_close(w, 1000, "bye", 3);
	expect_close(want, 1000, "bye", 3);
	add_ignored_tail(w);
}

/* Fragments long enough that the message buffer must grow several times. */
static void sc_big_fragmented(struct bytes *w, struct recs *want)
{
	size_t total = 0;
	uint8_t *all = malloc(40000);
	assert_non_null(all);
	fill_pattern(all, 40000, 77);
	for (size_t i = 0; i < 40000; i++)
		all[i] &= 0x7F; /* ASCII, so it is valid text */
	static const size_t parts[] = {1, 300, 0, 5000, 126, 20000, 14573};
	for (size_t i = 0; i < 7; i++) {
		add_frame(w, i == 6, i == 0 ? WS_OP_TEXT : WS_OP_CONTINUATION, all + total,
		          parts[i]);
		total += parts[i];
		if (i == 3)
			add_frame(w, FIN, WS_OP_PING, "mid", 3);
	}
	assert_int_equal(total, 40000);
	expect_ctl(want, WS_EVENT_PING, "mid", 3);
	expect_msg(want, WS_OP_TEXT, all, total);
	free(all);
}

/* Non-minimal length encodings are accepted (frame.c says why). */
static void sc_non_minimal_lengths(struct bytes *w, struct recs *want)
{
	uint8_t frame[] = {0x81, 0xFE, 0x00, 0x02, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
	bytes_append(w, frame, sizeof frame);
	expect_msg(want, WS_OP_TEXT, "hi", 2);
}

/* --- 1002 -------------------------------------------------------------------------------- */

static void sc_unmasked(struct bytes *w, struct recs *want)
{
	add_text(w, FIN, WS_OP_TEXT, "ok");
	expect_msg(want, WS_OP_TEXT, "ok", 2);
	add_frame_ex(w, FIN, 0, WS_OP_TEXT, false, "bad", 3, USE_LEN);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_unmasked_ping(struct bytes *w, struct recs *want)
{
	add_frame_ex(w, FIN, 0, WS_OP_PING, false, "", 0, USE_LEN);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_rsv1(struct bytes *w, struct recs *want)
{
	add_frame_ex(w, FIN, 0x40, WS_OP_TEXT, true, "x", 1, USE_LEN);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_rsv2(struct bytes *w, struct recs *want)
{
	add_frame_ex(w, FIN, 0x20, WS_OP_BINARY, true, "x", 1, USE_LEN);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_rsv3_on_ping(struct bytes *w, struct recs *want)
{
	add_frame_ex(w, FIN, 0x10, WS_OP_PING, true, "x", 1, USE_LEN);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_rsv_on_continuation(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "a");
	add_frame_ex(w, FIN, 0x40, WS_OP_CONTINUATION, true, "b", 1, USE_LEN);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_reserved_opcodes(struct bytes *w, struct recs *want)
{
	/* One stream per opcode would be tidier, but the first error ends the stream, so the
	 * opcode loop lives in test_reserved_opcodes; this one is opcode 3 with a payload. */
	add_text(w, FIN, 3, "data");
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_ping_not_fin(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_PING, "p");
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_close_not_fin(struct bytes *w, struct recs *want)
{
	add_frame(w, MORE, WS_OP_CLOSE, "\x03\xe8", 2);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_pong_not_fin_inside_message(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "a");
	add_text(w, MORE, WS_OP_PONG, "");
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_ping_126(struct bytes *w, struct recs *want)
{
	uint8_t p[126];
	memset(p, 'p', sizeof p);
	add_frame(w, FIN, WS_OP_PING, p, 125);
	expect_ctl(want, WS_EVENT_PING, p, 125);
	add_frame(w, FIN, WS_OP_PING, p, 126);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_close_126(struct bytes *w, struct recs *want)
{
	uint8_t p[126];
	memset(p, 'r', sizeof p);
	p[0] = 0x03;
	p[1] = 0xE8;
	add_frame(w, FIN, WS_OP_CLOSE, p, 126);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_continuation_without_start(struct bytes *w, struct recs *want)
{
	add_text(w, FIN, WS_OP_CONTINUATION, "orphan");
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_continuation_after_complete_message(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "a");
	add_text(w, FIN, WS_OP_CONTINUATION, "b");
	expect_msg(want, WS_OP_TEXT, "ab", 2);
	add_text(w, MORE, WS_OP_CONTINUATION, "c");
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_text_during_fragmented(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "first");
	add_text(w, FIN, WS_OP_TEXT, "second");
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_binary_during_fragmented(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "first");
	add_text(w, FIN, WS_OP_PING, "ok in between");
	expect_ctl(want, WS_EVENT_PING, "ok in between", 13);
	add_frame(w, MORE, WS_OP_BINARY, "b", 1);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_64bit_top_bit(struct bytes *w, struct recs *want)
{
	add_frame_ex(w, FIN, 0, WS_OP_BINARY, true, "x", 1, UINT64_C(1) << 63);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

/* --- 1007 -------------------------------------------------------------------------------- */

static void sc_bad_utf8_whole(struct bytes *w, struct recs *want)
{
	add_text(w, FIN, WS_OP_TEXT, "caf\xc3\xa9");
	expect_msg(want, WS_OP_TEXT, "caf\xc3\xa9", 5);
	add_text(w, FIN, WS_OP_TEXT, "bad \xed\xa0\x80 surrogate");
	expect_error(want, WS_CLOSE_INVALID_DATA);
	add_ignored_tail(w);
}

static void sc_bad_utf8_truncated(struct bytes *w, struct recs *want)
{
	add_text(w, FIN, WS_OP_TEXT, "ends in \xe2\x82");
	expect_error(want, WS_CLOSE_INVALID_DATA);
	add_ignored_tail(w);
}

static void sc_bad_utf8_in_fragment(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "ab");
	add_text(w, MORE, WS_OP_CONTINUATION, "\xf4\x90\x80\x80");
	add_text(w, FIN, WS_OP_CONTINUATION, "z");
	expect_error(want, WS_CLOSE_INVALID_DATA);
	add_ignored_tail(w);
}

static void sc_fragments_end_inside_sequence(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "a\xe2");
	add_text(w, FIN, WS_OP_CONTINUATION, "\x82");
	expect_error(want, WS_CLOSE_INVALID_DATA);
	add_ignored_tail(w);
}

static void sc_binary_is_not_checked(struct bytes *w, struct recs *want)
{
	add_frame(w, MORE, WS_OP_BINARY, "\xed\xa0", 2);
	add_frame(w, FIN, WS_OP_CONTINUATION, "\x80\xff", 2);
	expect_msg(want, WS_OP_BINARY, "\xed\xa0\x80\xff", 4);
	/* The validator state of a binary message must not leak into the next text one. */
	add_text(w, FIN, WS_OP_TEXT, "\xc3\xa9");
	expect_msg(want, WS_OP_TEXT, "\xc3\xa9", 2);
}

static void sc_utf8_state_reset_between_messages(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "x");
	add_text(w, FIN, WS_OP_CONTINUATION, "\xe2\x82\xac");
	expect_msg(want, WS_OP_TEXT, "x\xe2\x82\xac", 4);
	add_text(w, MORE, WS_OP_TEXT, "\xc3\xa9");
	add_text(w, FIN, WS_OP_CONTINUATION, "");
	expect_msg(want, WS_OP_TEXT, "\xc3\xa9", 2);
}

/* --- 1009 (max_message 100) -------------------------------------------------------------- */

static void sc_exactly_max(struct bytes *w, struct recs *want)
{
	uint8_t p[100];
	memset(p, 'm', sizeof p);
	add_frame(w, FIN, WS_OP_TEXT, p, 100);
	expect_msg(want, WS_OP_TEXT, p, 100);
	add_frame(w, MORE, WS_OP_BINARY, p, 60);
	add_frame(w, FIN, WS_OP_PING, p, 100); /* control frames do not count */
	expect_ctl(want, WS_EVENT_PING, p, 100);
	add_frame(w, MORE, WS_OP_CONTINUATION, p, 0);
	add_frame(w, FIN, WS_OP_CONTINUATION, p, 40);
	expect_msg(want, WS_OP_BINARY, p, 100);
	/* The limit applies per message: the next one starts from zero. */
	add_frame(w, FIN, WS_OP_TEXT, p, 100);
	expect_msg(want, WS_OP_TEXT, p, 100);
}

static void sc_one_over_max(struct bytes *w, struct recs *want)
{
	uint8_t p[101];
	memset(p, 'm', sizeof p);
	add_frame(w, FIN, WS_OP_TEXT, p, 101);
	expect_error(want, WS_CLOSE_TOO_BIG);
	add_ignored_tail(w);
}

static void sc_fragments_over_max(struct bytes *w, struct recs *want)
{
	uint8_t p[100];
	memset(p, 'm', sizeof p);
	add_frame(w, MORE, WS_OP_TEXT, p, 60);
	add_frame(w, MORE, WS_OP_CONTINUATION, p, 30);
	add_frame(w, FIN, WS_OP_CONTINUATION, p, 11);
	expect_error(want, WS_CLOSE_TOO_BIG);
	add_ignored_tail(w);
}

static void sc_huge_announcement(struct bytes *w, struct recs *want)
{
	add_frame_ex(w, FIN, 0, WS_OP_BINARY, true, "xyz", 3, UINT64_C(1) << 62);
	expect_error(want, WS_CLOSE_TOO_BIG);
}

static void sc_huge_continuation(struct bytes *w, struct recs *want)
{
	add_frame(w, MORE, WS_OP_BINARY, "ab", 2);
	add_frame_ex(w, FIN, 0, WS_OP_CONTINUATION, true, "", 0, UINT64_MAX >> 1);
	expect_error(want, WS_CLOSE_TOO_BIG);
}

/* --- close frames ------------------------------------------------------------------------ */

static void sc_close_empty(struct bytes *w, struct recs *want)
{
	add_frame(w, FIN, WS_OP_CLOSE, "", 0);
	expect_close(want, 0, "", 0);
	add_ignored_tail(w);
}

static void sc_close_code_reason(struct bytes *w, struct recs *want)
{
	add_text(w, MORE, WS_OP_TEXT, "unfinished");
	static const char reason[] = "going \xe2\x86\x92 away";
	add_close(w, 1001, reason, sizeof reason - 1);
	expect_close(want, 1001, reason, sizeof reason - 1);
	add_ignored_tail(w);
}

static void sc_close_code_only(struct bytes *w, struct recs *want)
{
	add_close(w, 4999, "", 0);
	expect_close(want, 4999, "", 0);
	add_ignored_tail(w);
}

static void sc_close_longest_reason(struct bytes *w, struct recs *want)
{
	char reason[123];
	memset(reason, 'r', sizeof reason);
	add_close(w, 3000, reason, sizeof reason);
	expect_close(want, 3000, reason, sizeof reason);
}

static void sc_close_bad_reason(struct bytes *w, struct recs *want)
{
	add_close(w, 1000, "bad \xff reason", 12);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static void sc_close_truncated_reason(struct bytes *w, struct recs *want)
{
	add_close(w, 1000, "\xe2\x82", 2);
	expect_error(want, WS_CLOSE_PROTOCOL_ERROR);
	add_ignored_tail(w);
}

static const struct scenario scenarios[] = {
    {"text", MIB, sc_text},
    {"binary lengths", MIB, sc_binary_lengths},
    {"fragments with controls", MIB, sc_fragments_with_controls},
    {"big fragmented", MIB, sc_big_fragmented},
    {"non-minimal lengths", MIB, sc_non_minimal_lengths},
    {"unmasked", MIB, sc_unmasked},
    {"unmasked ping", MIB, sc_unmasked_ping},
    {"rsv1", MIB, sc_rsv1},
    {"rsv2", MIB, sc_rsv2},
    {"rsv3 on ping", MIB, sc_rsv3_on_ping},
    {"rsv on continuation", MIB, sc_rsv_on_continuation},
    {"reserved opcode 3", MIB, sc_reserved_opcodes},
    {"ping not fin", MIB, sc_ping_not_fin},
    {"close not fin", MIB, sc_close_not_fin},
    {"pong not fin inside message", MIB, sc_pong_not_fin_inside_message},
    {"ping 126", MIB, sc_ping_126},
    {"close 126", MIB, sc_close_126},
    {"continuation without start", MIB, sc_continuation_without_start},
    {"continuation after complete message", MIB, sc_continuation_after_complete_message},
    {"text during fragmented", MIB, sc_text_during_fragmented},
    {"binary during fragmented", MIB, sc_binary_during_fragmented},
    {"64-bit top bit", MIB, sc_64bit_top_bit},
    {"bad utf8 whole", MIB, sc_bad_utf8_whole},
    {"bad utf8 truncated", MIB, sc_bad_utf8_truncated},
    {"bad utf8 in fragment", MIB, sc_bad_utf8_in_fragment},
    {"fragments end inside sequence", MIB, sc_fragments_end_inside_sequence},
    {"binary is not checked", MIB, sc_binary_is_not_checked},
    {"utf8 state reset between messages", MIB, sc_utf8_state_reset_between_messages},
    {"exactly max", 100, sc_exactly_max},
    {"one over max", 100, sc_one_over_max},
    {"fragments over max", 100, sc_fragments_over_max},
    {"2^62 announcement", 100, sc_huge_announcement},
    {"huge continuation", 100, sc_huge_continuation},
    {"close empty", MIB, sc_close_empty},
    {"close code and reason", MIB, sc_close_code_reason},
    {"close code only", MIB, sc_close_code_only},
    {"close longest reason", MIB, sc_close_longest_reason},
    {"close bad reason", MIB, sc_close_bad_reason},
    {"close truncated reason", MIB, sc_close_truncated_reason},
};

static void run_scenario(const struct scenario *sc)
{
	struct bytes wire = {0};
	struct recs want = {0};

	sc->sc_build(&wire, &want);
	check_stream(sc->sc_max_message, &wire, &want, sc->sc_name);
	recs_free(&want);
	bytes_free(&wire);
}

/* One cmocka test per scenario, so a failure names it. */
#define SCENARIO_TEST(fn, index)                                                                   \
	static void fn(void **state)                                                               \
	{                                                                                          \
		(void)state;                                                                       \
		run_scenario(&scenarios[index]);                                                   \
	}

SCENARIO_TEST(test_sc_text, 0)
SCENARIO_TEST(test_sc_binary_lengths, 1)
SCENARIO_TEST(test_sc_fragments_with_controls, 2)
SCENARIO_TEST(test_sc_big_fragmented, 3)
SCENARIO_TEST(test_sc_non_minimal_lengths, 4)
SCENARIO_TEST(test_sc_unmasked, 5)
SCENARIO_TEST(test_sc_unmasked_ping, 6)
SCENARIO_TEST(test_sc_rsv1, 7)
SCENARIO_TEST(test_sc_rsv2, 8)
SCENARIO_TEST(test_sc_rsv3_on_ping, 9)
SCENARIO_TEST(test_sc_rsv_on_continuation, 10)
SCENARIO_TEST(test_sc_reserved_opcode_3, 11)
SCENARIO_TEST(test_sc_ping_not_fin, 12)
SCENARIO_TEST(test_sc_close_not_fin, 13)
SCENARIO_TEST(test_sc_pong_not_fin_inside_message, 14)
SCENARIO_TEST(test_sc_ping_126, 15)
SCENARIO_TEST(test_sc_close_126, 16)
SCENARIO_TEST(test_sc_continuation_without_start, 17)
SCENARIO_TEST(test_sc_continuation_after_complete_message, 18)
SCENARIO_TEST(test_sc_text_during_fragmented, 19)
SCENARIO_TEST(test_sc_binary_during_fragmented, 20)
SCENARIO_TEST(test_sc_64bit_top_bit, 21)
SCENARIO_TEST(test_sc_bad_utf8_whole, 22)
SCENARIO_TEST(test_sc_bad_utf8_truncated, 23)
SCENARIO_TEST(test_sc_bad_utf8_in_fragment, 24)
SCENARIO_TEST(test_sc_fragments_end_inside_sequence, 25)
SCENARIO_TEST(test_sc_binary_is_not_checked, 26)
SCENARIO_TEST(test_sc_utf8_state_reset_between_messages, 27)
SCENARIO_TEST(test_sc_exactly_max, 28)
SCENARIO_TEST(test_sc_one_over_max, 29)
SCENARIO_TEST(test_sc_fragments_over_max, 30)
SCENARIO_TEST(test_sc_huge_announcement, 31)
SCENARIO_TEST(test_sc_huge_continuation, 32)
SCENARIO_TEST(test_sc_close_empty, 33)
SCENARIO_TEST(test_sc_close_code_and_reason, 34)
SCENARIO_TEST(test_sc_close_code_only, 35)
SCENARIO_TEST(test_sc_close_longest_reason, 36)
SCENARIO_TEST(test_sc_close_bad_reason, 37)
SCENARIO_TEST(test_sc_close_truncated_reason, 38)

/* --- tests of single calls: what comes when --------------------------------------------- */

#define FEED_ALL SIZE_MAX       /* the call must consume everything it was given */
#define FEED_ANY (SIZE_MAX - 1) /* an error: how much it consumed is not specified */

/* Feeds one piece to r (copied to the guard page) and returns the event, checking it
 * consumed exactly want_used bytes (or see FEED_ALL, FEED_ANY). */
static struct ws_event feed_once(struct ws_reader *r, struct guard *g, const uint8_t *p, size_t len,
                                 size_t want_used)
{
	struct ws_event ev;
	uint8_t *piece = guard_put(g, p, len);
	size_t n = ws_reader_next(r, piece, len, &ev);
	if (want_used == FEED_ANY)
		assert_true(n <= len);
	else
		assert_int_equal(n, want_used == FEED_ALL ? len : want_used);
	return ev;
}

static void test_reserved_opcodes(void **state)
{
	static const uint8_t reserved[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof reserved; i++) {
		for (int with_payload = 0; with_payload <= 1; with_payload++) {
			struct bytes w = {0};
			struct ws_reader r;
			add_frame(&w, FIN, reserved[i], "zz", with_payload ? 2 : 0);
			ws_reader_init(&r, MIB);
			struct ws_event ev = feed_once(&r, &g, w.b_data, w.b_len, FEED_ANY);
			if (ev.ev_type != WS_EVENT_ERROR ||
			    ev.ev_close_code != WS_CLOSE_PROTOCOL_ERROR)
				fail_msg("opcode %#x: got %s code %u", reserved[i],
				         type_name(ev.ev_type), ev.ev_close_code);
			ws_reader_free(&r);
			bytes_free(&w);
		}
	}
	guard_close(&g);
}

/* The simplest case in full detail: one frame, one call, exact consumption. */
static void test_two_messages_in_one_buffer(void **state)
{
	struct bytes w = {0};
	struct ws_reader r;
	struct ws_event ev;
	struct guard g;
	(void)state;

	add_text(&w, FIN, WS_OP_TEXT, "hello");
	size_t first = w.b_len;
	add_frame(&w, FIN, WS_OP_BINARY, "\x01\x02", 2);
	guard_open(&g, w.b_len);
	uint8_t *in = guard_put(&g, w.b_data, w.b_len);

	ws_reader_init(&r, MIB);
	assert_false(ws_reader_busy(&r));
	assert_int_equal(ws_reader_next(&r, in, w.b_len, &ev), first);
	assert_int_equal(ev.ev_type, WS_EVENT_MESSAGE);
	assert_int_equal(ev.ev_opcode, WS_OP_TEXT);
	assert_int_equal(ev.ev_len, 5);
	assert_memory_equal(ev.ev_data, "hello", 5);
	assert_int_equal(ws_reader_next(&r, in + first, w.b_len - first, &ev), w.b_len - first);
	assert_int_equal(ev.ev_type, WS_EVENT_MESSAGE);
	assert_int_equal(ev.ev_opcode, WS_OP_BINARY);
	assert_int_equal(ev.ev_len, 2);
	assert_memory_equal(ev.ev_data, "\x01\x02", 2);
	/* Nothing left: an empty call is NONE and consumes nothing. */
	assert_int_equal(ws_reader_next(&r, in + w.b_len, 0, &ev), 0);
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	assert_false(ws_reader_busy(&r));
	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&w);
}

static void test_busy_while_fragmented(void **state)
{
	struct bytes a = {0}, b = {0}, c = {0};
	struct ws_reader r;
	struct guard g;
	struct ws_event ev;
	(void)state;

	add_text(&a, MORE, WS_OP_TEXT, "one ");
	add_text(&b, FIN, WS_OP_PING, "");
	add_text(&c, FIN, WS_OP_CONTINUATION, "two");
	guard_open(&g, 64);
	ws_reader_init(&r, MIB);

	ev = feed_once(&r, &g, a.b_data, a.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	assert_true(ws_reader_busy(&r));
	ev = feed_once(&r, &g, b.b_data, b.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_PING);
	assert_true(ws_reader_busy(&r));
	ev = feed_once(&r, &g, c.b_data, c.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_MESSAGE);
	assert_int_equal(ev.ev_len, 7);
	assert_memory_equal(ev.ev_data, "one two", 7);
	assert_false(ws_reader_busy(&r));

	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&a);
	bytes_free(&b);
	bytes_free(&c);
}

/* RFC 6455 section 8.1: invalid UTF-8 fails the connection when it arrives, not when the
 * message ends. Here the message is fragmented and the bad fragment is not the last. */
static void test_utf8_fail_fast_in_unfinished_fragmented_message(void **state)
{
	struct bytes a = {0}, b = {0};
	struct ws_reader r;
	struct guard g;
	struct ws_event ev;
	(void)state;

	add_text(&a, MORE, WS_OP_TEXT, "ab");
	add_text(&b, MORE, WS_OP_CONTINUATION, "\xed\xa0"); /* a surrogate, two bytes decide */
	guard_open(&g, 64);
	ws_reader_init(&r, MIB);
	ev = feed_once(&r, &g, a.b_data, a.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	ev = feed_once(&r, &g, b.b_data, b.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
	assert_int_equal(ev.ev_close_code, WS_CLOSE_INVALID_DATA);
	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&a);
	bytes_free(&b);
}

/* The same inside one frame whose payload arrives over several reads: the error comes with
 * the read that holds the bad byte, byte by byte. */
static void test_utf8_fail_fast_inside_frame(void **state)
{
	static const char payload[] = "abc\xf4\x90 and much more text that never arrives";
	struct bytes w = {0};
	struct ws_reader r;
	struct guard g;
	struct ws_event ev;
	(void)state;

	add_text(&w, FIN, WS_OP_TEXT, payload);
	size_t header = w.b_len - (sizeof payload - 1);
	guard_open(&g, w.b_len);
	ws_reader_init(&r, MIB);
	ev = feed_once(&r, &g, w.b_data, header + 4, FEED_ALL); /* up to "abc\xf4" */
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	ev = feed_once(&r, &g, w.b_data + header + 4, 1, FEED_ALL); /* "\x90" */
	assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
	assert_int_equal(ev.ev_close_code, WS_CLOSE_INVALID_DATA);
	/* Everything after is ignored. */
	ev = feed_once(&r, &g, w.b_data + header + 5, w.b_len - header - 5, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&w);
}

/* A frame announcing more than max_message fails on its header alone, before any payload,
 * and nothing is allocated for it. */
static void test_too_big_fails_on_header(void **state)
{
	static const uint64_t announced[] = {101, 65536, UINT64_C(1) << 32, UINT64_C(1) << 62,
	                                     UINT64_MAX >> 1};
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof announced / sizeof announced[0]; i++) {
		struct bytes w = {0};
		struct ws_reader r;
		add_frame_ex(&w, FIN, 0, WS_OP_BINARY, true, "", 0, announced[i]);
		ws_reader_init(&r, 100);
		struct ws_event ev = feed_once(&r, &g, w.b_data, w.b_len, FEED_ALL);
		assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
		assert_int_equal(ev.ev_close_code, WS_CLOSE_TOO_BIG);
		assert_null(r.wr_msg);
		ws_reader_free(&r);
		bytes_free(&w);
	}
	guard_close(&g);
}

/* A continuation that would take the message past the limit fails on its header too. */
static void test_too_big_continuation_fails_on_header(void **state)
{
	struct bytes a = {0}, b = {0};
	struct ws_reader r;
	struct guard g;
	struct ws_event ev;
	uint8_t p[60] = {0};
	(void)state;

	add_frame(&a, MORE, WS_OP_BINARY, p, 60);
	add_frame_ex(&b, FIN, 0, WS_OP_CONTINUATION, true, "", 0, 41);
	guard_open(&g, 128);
	ws_reader_init(&r, 100);
	ev = feed_once(&r, &g, a.b_data, a.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	ev = feed_once(&r, &g, b.b_data, b.b_len, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
	assert_int_equal(ev.ev_close_code, WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&a);
	bytes_free(&b);
}

/* After CLOSE or ERROR every later byte is consumed and ignored. */
static void test_everything_ignored_after_close_and_error(void **state)
{
	struct bytes first = {0}, later = {0};
	struct guard g;
	(void)state;

	add_text(&later, FIN, WS_OP_TEXT, "ignored");
	add_frame(&later, FIN, WS_OP_CLOSE, "", 0);
	add_frame_ex(&later, FIN, 0x70, 0xF, false, "", 0, USE_LEN); /* would be an error */
	guard_open(&g, 256);
	for (int kind = 0; kind < 2; kind++) {
		struct ws_reader r;
		struct ws_event ev;
		first.b_len = 0;
		if (kind == 0)
			add_close(&first, 1000, "", 0);
		else
			add_frame_ex(&first, FIN, 0, WS_OP_TEXT, false, "", 0, USE_LEN);
		ws_reader_init(&r, MIB);
		ev = feed_once(&r, &g, first.b_data, first.b_len, FEED_ALL);
		assert_int_equal(ev.ev_type, kind == 0 ? WS_EVENT_CLOSE : WS_EVENT_ERROR);
		for (size_t i = 0; i < 3; i++) {
			ev = feed_once(&r, &g, later.b_data, later.b_len, FEED_ALL);
			assert_int_equal(ev.ev_type, WS_EVENT_NONE);
		}
		ws_reader_free(&r);
	}
	guard_close(&g);
	bytes_free(&first);
	bytes_free(&later);
}

static void test_close_invalid_codes(void **state)
{
	static const uint16_t invalid[] = {0,    999,  1004, 1005, 1006, 1015,
	                                   1016, 1100, 2000, 2999, 5000, 65535};
	static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999};
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0] + sizeof valid / sizeof valid[0];
	     i++) {
		bool is_valid = i >= sizeof invalid / sizeof invalid[0];
		uint16_t code =
		    is_valid ? valid[i - sizeof invalid / sizeof invalid[0]] : invalid[i];
		struct bytes w = {0};
		struct ws_reader r;
		add_close(&w, code, "why", 3);
		ws_reader_init(&r, MIB);
		struct ws_event ev = feed_once(&r, &g, w.b_data, w.b_len, FEED_ALL);
		if (is_valid) {
			if (ev.ev_type != WS_EVENT_CLOSE || ev.ev_close_code != code ||
			    ev.ev_len != 3 || memcmp(ev.ev_data, "why", 3) != 0)
				fail_msg("valid close code %u: got %s code %u", code,
				         type_name(ev.ev_type), ev.ev_close_code);
		} else if (ev.ev_type != WS_EVENT_ERROR ||
		           ev.ev_close_code != WS_CLOSE_PROTOCOL_ERROR) {
			fail_msg("invalid close code %u: got %s code %u", code,
			         type_name(ev.ev_type), ev.ev_close_code);
		}
		ws_reader_free(&r);
		bytes_free(&w);
	}
	guard_close(&g);
}

/* A close frame whose payload is one byte, as the last bytes of the input: the reader must
 * answer 1002 without reading the (missing) second byte of a close code. */
static void test_close_one_byte_at_end(void **state)
{
	/* Built on the stack so that, if the read faults, the failed test leaks nothing and
	 * the leak checker's report stays about the reader. */
	static const uint8_t frame[] = {0x88, 0x81, 0x11, 0x22, 0x33, 0x44, 0x03 ^ 0x11};
	struct ws_reader r;
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	ws_reader_init(&r, MIB);
	struct ws_event ev = feed_once(&r, &g, frame, sizeof frame, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
	assert_int_equal(ev.ev_close_code, WS_CLOSE_PROTOCOL_ERROR);
	ws_reader_free(&r);
	guard_close(&g);
}

/* The same frame followed by more input (the second code byte would be "there"). */
static void test_close_one_byte_followed_by_more(void **state)
{
	struct bytes w = {0};
	struct ws_reader r;
	struct guard g;
	(void)state;

	add_frame(&w, FIN, WS_OP_CLOSE, "\x03", 1);
	add_ignored_tail(&w);
	guard_open(&g, 64);
	ws_reader_init(&r, MIB);
	struct ws_event ev = feed_once(&r, &g, w.b_data, w.b_len, FEED_ANY);
	assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
	assert_int_equal(ev.ev_close_code, WS_CLOSE_PROTOCOL_ERROR);
	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&w);
}

/* The same, with the payload arriving in a later read than the header. */
static void test_close_one_byte_split(void **state)
{
	struct bytes w = {0};
	struct ws_reader r;
	struct guard g;
	struct ws_event ev;
	(void)state;

	add_frame(&w, FIN, WS_OP_CLOSE, "\x03", 1);
	guard_open(&g, 64);
	ws_reader_init(&r, MIB);
	ev = feed_once(&r, &g, w.b_data, w.b_len - 1, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_NONE);
	ev = feed_once(&r, &g, w.b_data + w.b_len - 1, 1, FEED_ALL);
	assert_int_equal(ev.ev_type, WS_EVENT_ERROR);
	assert_int_equal(ev.ev_close_code, WS_CLOSE_PROTOCOL_ERROR);
	ws_reader_free(&r);
	guard_close(&g);
	bytes_free(&w);
}

/* ws_reader_free releases whatever a partial message or control frame holds (ASan's leak
 * checker runs at exit), and the reader can be initialised and used again afterwards. */
static void test_free_after_partial_message(void **state)
{
	struct guard g;
	uint8_t big[3000];
	(void)state;

	memset(big, 'q', sizeof big);
	guard_open(&g, sizeof big + 64);
	for (int kind = 0; kind < 4; kind++) {
		struct bytes w = {0};
		struct ws_reader r;
		size_t feed;

		switch (kind) {
		case 0: /* one fragment complete, the next one half there */
			add_frame(&w, MORE, WS_OP_TEXT, big, 1000);
			add_frame(&w, FIN, WS_OP_CONTINUATION, big, 2000);
			feed = w.b_len - 1000;
			break;
		case 1: /* a single-frame message split across reads */
			add_frame(&w, FIN, WS_OP_BINARY, big, sizeof big);
			feed = w.b_len / 2;
			break;
		case 2: /* a control frame split inside a fragmented message */
			add_frame(&w, MORE, WS_OP_TEXT, big, 10);
			add_frame(&w, FIN, WS_OP_PING, big, 100);
			feed = w.b_len - 50;
			add_frame(&w, FIN, WS_OP_CONTINUATION, big, 5);
			break;
		default: /* a header split across reads, inside a fragmented message */
			add_frame(&w, MORE, WS_OP_BINARY, big, 300);
			add_frame(&w, FIN, WS_OP_CONTINUATION, big, 300);
			feed = w.b_len - 300 - 3;
			break;
		}
		for (int round = 0; round < 2; round++) {
			struct ws_event ev;
			ws_reader_init(&r, MIB);
			ev = feed_once(&r, &g, w.b_data, feed, FEED_ALL);
			assert_int_equal(ev.ev_type, WS_EVENT_NONE);
			ws_reader_free(&r);
		}
		/* After a free and a fresh init, the whole stream reads normally. */
		ws_reader_init(&r, MIB);
		struct recs got = {0};
		uint8_t *in = guard_put(&g, w.b_data, w.b_len);
		size_t off = 0;
		while (off < w.b_len) {
			struct ws_event ev;
			off += ws_reader_next(&r, in + off, w.b_len - off, &ev);
			record(&got, &ev);
		}
		assert_true(got.rs_n >= 1);
		assert_int_equal(got.rs_ev[got.rs_n - 1].rc_type, WS_EVENT_MESSAGE);
		recs_free(&got);
		ws_reader_free(&r);
		/* Freeing twice (the header allows re-initialising after a free) is harmless. */
		ws_reader_free(&r);
		bytes_free(&w);
	}
	guard_close(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sc_text),
	    cmocka_unit_test(test_sc_binary_lengths),
	    cmocka_unit_test(test_sc_fragments_with_controls),
	    cmocka_unit_test(test_sc_big_fragmented),
	    cmocka_unit_test(test_sc_non_minimal_lengths),
	    cmocka_unit_test(test_sc_unmasked),
	    cmocka_unit_test(test_sc_unmasked_ping),
	    cmocka_unit_test(test_sc_rsv1),
	    cmocka_unit_test(test_sc_rsv2),
	    cmocka_unit_test(test_sc_rsv3_on_ping),
	    cmocka_unit_test(test_sc_rsv_on_continuation),
	    cmocka_unit_test(test_sc_reserved_opcode_3),
	    cmocka_unit_test(test_sc_ping_not_fin),
	    cmocka_unit_test(test_sc_close_not_fin),
	    cmocka_unit_test(test_sc_pong_not_fin_inside_message),
	    cmocka_unit_test(test_sc_ping_126),
	    cmocka_unit_test(test_sc_close_126),
	    cmocka_unit_test(test_sc_continuation_without_start),
	    cmocka_unit_test(test_sc_continuation_after_complete_message),
	    cmocka_unit_test(test_sc_text_during_fragmented),
	    cmocka_unit_test(test_sc_binary_during_fragmented),
	    cmocka_unit_test(test_sc_64bit_top_bit),
	    cmocka_unit_test(test_sc_bad_utf8_whole),
	    cmocka_unit_test(test_sc_bad_utf8_truncated),
	    cmocka_unit_test(test_sc_bad_utf8_in_fragment),
	    cmocka_unit_test(test_sc_fragments_end_inside_sequence),
	    cmocka_unit_test(test_sc_binary_is_not_checked),
	    cmocka_unit_test(test_sc_utf8_state_reset_between_messages),
	    cmocka_unit_test(test_sc_exactly_max),
	    cmocka_unit_test(test_sc_one_over_max),
	    cmocka_unit_test(test_sc_fragments_over_max),
	    cmocka_unit_test(test_sc_huge_announcement),
	    cmocka_unit_test(test_sc_huge_continuation),
	    cmocka_unit_test(test_sc_close_empty),
	    cmocka_unit_test(test_sc_close_code_and_reason),
	    cmocka_unit_test(test_sc_close_code_only),
	    cmocka_unit_test(test_sc_close_longest_reason),
	    cmocka_unit_test(test_sc_close_bad_reason),
	    cmocka_unit_test(test_sc_close_truncated_reason),
	    cmocka_unit_test(test_reserved_opcodes),
	    cmocka_unit_test(test_two_messages_in_one_buffer),
	    cmocka_unit_test(test_busy_while_fragmented),
	    cmocka_unit_test(test_utf8_fail_fast_in_unfinished_fragmented_message),
	    cmocka_unit_test(test_utf8_fail_fast_inside_frame),
	    cmocka_unit_test(test_too_big_fails_on_header),
	    cmocka_unit_test(test_too_big_continuation_fails_on_header),
	    cmocka_unit_test(test_everything_ignored_after_close_and_error),
	    cmocka_unit_test(test_close_invalid_codes),
	    cmocka_unit_test(test_close_one_byte_at_end),
	    cmocka_unit_test(test_close_one_byte_followed_by_more),
	    cmocka_unit_test(test_close_one_byte_split),
	    cmocka_unit_test(test_free_after_partial_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
