/*
 * libFuzzer harness for wsreader (include/wsreader.h), and through it frame and utf8.
 *
 * Input layout (tests/fuzz/make_corpus.py writes seeds in it):
 *   bytes 0-1  max_message: big-endian v; v & 0x8000 gives the 1 MiB default, else v % 4097
 *   byte 2     split pattern: low 3 bits the kind, high 5 bits its parameter
 *   byte 3     seed of the pseudo-random piece sizes
 *   the rest   the client's byte stream, fed to three decoders:
 *     - a reader given the whole stream in one call sequence, as one big read;
 *     - a second reader given it in pieces, each in its own exactly sized heap block so
 *       that ASan catches a read one byte past a piece;
 *     - a naive model of RFC 6455's receive rules written here, frame by frame over the
 *       whole stream, with chatd's documented choices of close code.
 * The three event sequences (types, opcodes, codes, payload bytes) must be identical: the
 * whole read takes wsreader's in-place fast path, the pieces its copying slow path, and the
 * model neither. Every event is also checked on its own (see fuzz_ws_check_event), and any
 * failed property abort()s so that libFuzzer records the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "utf8.h"
#include "utf8_ref.h"
#include "wsreader.h"

#define FUZZ_WS_PREFIX          4
#define FUZZ_WS_DEFAULT_MAX     ((size_t)1 << 20) /* CONFIG_DEFAULT_MAX_MESSAGE */
#define FUZZ_WS_SMALL_MAX_LIMIT 4096

#define FUZZ_NAME "fuzz_wsreader"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* --- event logs ----------------------------------------------------------------------------
 * One record per event other than NONE: type, opcode (messages only), code (close and error
 * only), payload length, payload bytes. Two logs are equal when their bytes are. */

struct fuzz_log {
	uint8_t *fl_buf; /* owned */
	size_t fl_len;
	size_t fl_cap;
	size_t fl_events;
};

#define FUZZ_LOG_RECORD_HEADER 12

static void fuzz_log_add(struct fuzz_log *l, uint8_t type, uint8_t opcode, uint16_t code,
                         const uint8_t *payload, size_t len)
{
	size_t need = l->fl_len + FUZZ_LOG_RECORD_HEADER + len;

	if (need > l->fl_cap) {
		size_t cap = l->fl_cap ? l->fl_cap : 256;
		while (cap < need)
			cap *= 2;
		l->fl_buf = realloc(l->fl_buf, cap);
		if (l->fl_buf == NULL)
			abort();
		l->fl_cap = cap;
	}
	uint8_t *p = l->fl_buf + l->fl_len;
	p[0] = type;
	p[1] = type == WS_EVENT_MESSAGE ? opcode : 0;
	p[2] = (uint8_t)(code >> 8);
	p[3] = (uint8_t)code;
	for (int i = 0; i < 8; i++)
		p[4 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	if (len > 0)
		memcpy(p + FUZZ_LOG_RECORD_HEADER, payload, len);
	l->fl_len = need;
	l->fl_events++;
}

static void fuzz_log_print(const char *name, const struct fuzz_log *l)
{
	static const char *const types[] = {"NONE", "MESSAGE", "PING", "PONG", "CLOSE", "ERROR"};
	size_t at = 0;

	fprintf(stderr, "  %s: %zu events\n", name, l->fl_events);
	while (at < l->fl_len) {
		const uint8_t *p = l->fl_buf + at;
		uint64_t len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[4 + i];
		fprintf(stderr, "    %s opcode=%u code=%u len=%llu:", p[0] <= 5 ? types[p[0]] : "?",
		        p[1], (unsigned)(p[2] << 8 | p[3]), (unsigned long long)len);
		for (uint64_t i = 0; i < len && i < 24; i++)
			fprintf(stderr, " %02x", p[FUZZ_LOG_RECORD_HEADER + i]);
		fprintf(stderr, "%s\n", len > 24 ? " ..." : "");
		at += FUZZ_LOG_RECORD_HEADER + (size_t)len;
	}
}

static bool fuzz_log_equal(const struct fuzz_log *a, const struct fuzz_log *b)
{
	return a->fl_len == b->fl_len &&
	       (a->fl_len == 0 || memcmp(a->fl_buf, b->fl_buf, a->fl_len) == 0);
}

/* The header chatd would put in front of this payload when it sends it on (src/hub.c
 * encodes each message once for every receiver) must parse back to the same frame. */
static void fuzz_ws_check_encode(uint8_t opcode, uint64_t len)
{
	uint8_t out[FRAME_MAX_HEADER];
	struct frame_header fh;
	size_t n = frame_encode_header(out, true, opcode, len);

	if (n != frame_header_size(len) || n > FRAME_MAX_SERVER_HEADER)
		fuzz_fail("frame_encode_header and frame_header_size disagree");
	if (frame_parse_header(out, n, &fh) != FRAME_PARSE_OK || !fh.fh_fin || fh.fh_rsv != 0 ||
	    fh.fh_opcode != opcode || fh.fh_masked || fh.fh_payload_len != len ||
	    fh.fh_header_len != n)
		fuzz_fail("an encoded server header does not parse back");
	if (frame_parse_header(out, n - 1, &fh) != FRAME_PARSE_INCOMPLETE)
		fuzz_fail("a truncated server header does not parse as incomplete");
}

/* --- the reader under test ------------------------------------------------------------- */

struct fuzz_feed {
	struct ws_reader ff_reader;
	struct fuzz_log ff_log;
	size_t ff_max;
	bool ff_ended; /* a CLOSE or an ERROR came back */
};

/* Close codes a peer may send (RFC 6455 section 7.4 and the IANA registry), written out
 * again here rather than calling frame_close_code_valid, which is under test. */
static bool fuzz_close_code_allowed(uint16_t code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static bool fuzz_within(const uint8_t *p, size_t len, const uint8_t *base, size_t base_len)
{
	return base != NULL && p >= base && p <= base + base_len &&
	       len <= (size_t)(base + base_len - p);
}

/* The event ws_reader_next returned after being given in[0..avail) and consuming used. */
static void fuzz_ws_check_event(struct fuzz_feed *f, const struct ws_event *ev, const uint8_t *in,
                                size_t avail, size_t used)
{
	const struct ws_reader *r = &f->ff_reader;
	static volatile uint8_t sink;
	uint8_t sum = 0;

	(void)sink;

	if (used > avail)
		fuzz_fail("ws_reader_next consumed more bytes than it was given");
	if (ev->ev_type == WS_EVENT_NONE) {
		if (used != avail)
			fuzz_fail("NONE returned before every byte was consumed");
		if (ev->ev_len != 0)
			fuzz_fail("NONE with a payload");
		return;
	}
	if (f->ff_ended)
		fuzz_fail("an event after CLOSE or ERROR");
	if (ev->ev_type > WS_EVENT_ERROR)
		fuzz_fail("unknown event type");

	/* The payload must be part of what this call consumed, or the reader's own storage
	 * (a message or control frame gathered across calls). Reading every byte lets ASan
	 * check the whole range. */
	if (ev->ev_data == NULL) {
		if (ev->ev_len != 0)
			fuzz_fail("a NULL payload with a length");
	} else if (!fuzz_within(ev->ev_data, ev->ev_len, in, used) &&
	           !fuzz_within(ev->ev_data, ev->ev_len, r->wr_msg, r->wr_msg_cap) &&
	           !fuzz_within(ev->ev_data, ev->ev_len, r->wr_control,
	                        FRAME_MAX_CONTROL_PAYLOAD)) {
		fuzz_fail("event payload outside the bytes consumed and the reader's storage");
	}
	for (size_t i = 0; i < ev->ev_len; i++)
		sum = (uint8_t)(sum + ev->ev_data[i]);
	sink = sum;

	switch (ev->ev_type) {
	case WS_EVENT_MESSAGE:
		if (ev->ev_opcode != WS_OP_TEXT && ev->ev_opcode != WS_OP_BINARY)
			fuzz_fail("MESSAGE with an opcode other than text or binary");
		if (ev->ev_len > f->ff_max)
			fuzz_fail("MESSAGE longer than max_message");
		if (ev->ev_opcode == WS_OP_TEXT && (!utf8_valid(ev->ev_data, ev->ev_len) ||
		                                    !utf8_ref_valid(ev->ev_data, ev->ev_len)))
			fuzz_fail("text MESSAGE not valid UTF-8");
		break;
	case WS_EVENT_PING:
	case WS_EVENT_PONG:
		if (ev->ev_len > FRAME_MAX_CONTROL_PAYLOAD)
			fuzz_fail("PING or PONG payload over 125 bytes");
		break;
	case WS_EVENT_CLOSE:
		if (ev->ev_close_code == 0 ? ev->ev_len != 0
		                           : (!frame_close_code_valid(ev->ev_close_code) ||
		                              !fuzz_close_code_allowed(ev->ev_close_code)))
			fuzz_fail("CLOSE with a code a peer may not send");
		if (ev->ev_len > FRAME_MAX_CONTROL_PAYLOAD - 2)
			fuzz_fail("CLOSE reason over 123 bytes");
		if (!utf8_ref_valid(ev->ev_data, ev->ev_len))
			fuzz_fail("CLOSE reason not valid UTF-8");
		f->ff_ended = true;
		break;
	case WS_EVENT_ERROR:
		if (ev->ev_close_code != WS_CLOSE_PROTOCOL_ERROR &&
		    ev->ev_close_code != WS_CLOSE_INVALID_DATA &&
		    ev->ev_close_code != WS_CLOSE_TOO_BIG &&
		    ev->ev_close_code != WS_CLOSE_INTERNAL_ERROR)
			fuzz_fail("ERROR with a code other than 1002, 1007, 1009, 1011");
		if (ev->ev_error == NULL || ev->ev_error[0] == '\0')
			fuzz_fail("ERROR without a description");
		f->ff_ended = true;
		break;
	default: break;
	}
	if (ev->ev_type == WS_EVENT_MESSAGE)
		fuzz_ws_check_encode(ev->ev_opcode, ev->ev_len);
	else if (ev->ev_type == WS_EVENT_PING)
		fuzz_ws_check_encode(WS_OP_PONG, ev->ev_len);
	/* An error's payload is meaningless; a close's code is part of what is compared. */
	bool ends = ev->ev_type == WS_EVENT_CLOSE || ev->ev_type == WS_EVENT_ERROR;
	bool error = ev->ev_type == WS_EVENT_ERROR;
	fuzz_log_add(&f->ff_log, (uint8_t)ev->ev_type, ev->ev_opcode, ends ? ev->ev_close_code : 0,
	             error ? NULL : ev->ev_data, error ? 0 : ev->ev_len);
}

/* Feeds one piece the way src/conn.c does: call again on what is left until NONE (the
 * last call, given nothing, is the one that releases a delivered message's buffer). */
static void fuzz_ws_feed(struct fuzz_feed *f, uint8_t *piece, size_t len)
{
	struct ws_event ev;
	size_t used = 0, calls = 0;

	do {
		size_t n = ws_reader_next(&f->ff_reader, piece + used, len - used, &ev);
		fuzz_ws_check_event(f, &ev, piece + used, len - used, n);
		used += n;
		/* Each event completes a frame, so it consumes at least one byte. */
		if (++calls > 2 * len + 16)
			fuzz_fail("ws_reader_next makes no progress");
	} while (ev.ev_type != WS_EVENT_NONE);
}

/* --- piece sizes ------------------------------------------------------------------------ */

struct fuzz_split {
	uint8_t fs_kind;
	uint8_t fs_param;
	uint32_t fs_state; /* xorshift32 */
};

static uint32_t fuzz_split_random(struct fuzz_split *s)
{
	uint32_t x = s->fs_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->fs_state = x;
	return x;
}

/* The length of the next piece, at most left (which may be 0: then 0). The kinds:
 * 0 fixed pieces of 1-32 bytes; 1 a byte per read; 2 random, 1 to a power of two up to
 * 4096; 3 random 0-16 (empty reads too); 4 two pieces, split at a random point; 5 random
 * 1-64; 6 fixed pieces of 1-218 bytes (crossing headers at every offset); 7 random 0-3. */
static size_t fuzz_split_next(struct fuzz_split *s, size_t total, size_t left)
{
	size_t n;

	switch (s->fs_kind) {
	case 0: n = (size_t)s->fs_param + 1; break;
	case 1: n = 1; break;
	case 2: n = 1 + fuzz_split_random(s) % ((size_t)1 << (s->fs_param % 13)); break;
	case 3: n = fuzz_split_random(s) % 17; break;
	case 4: n = left == total ? fuzz_split_random(s) % (total + 1) : left; break;
	case 5: n = 1 + fuzz_split_random(s) % 64; break;
	case 6: n = (size_t)s->fs_param * 7 + 1; break;
	default: n = fuzz_split_random(s) % 4; break;
	}
	return n < left ? n : left;
}

/* --- the model --------------------------------------------------------------------------
 * RFC 6455 sections 5.2-5.5 and 8.1, applied frame by frame to the whole stream. It mirrors
 * choices chatd documents (wsreader.h, frame.c, conn.c) where the RFC leaves one open:
 * the order of header checks (protocol errors before size), 1002 for every bad close
 * frame, non-minimal length encodings accepted, and text failing at the first byte that
 * cannot start or continue valid UTF-8 even before the frame is complete. */

static void fuzz_model_run(const uint8_t *stream, size_t n, size_t max, struct fuzz_log *log,
                           bool *busy)
{
	uint8_t *buf = fuzz_malloc(n), *msg = fuzz_malloc(n + 1);
	size_t pos = 0, msg_len = 0;
	uint8_t msg_op = 0;
	struct utf8_ref text;
	uint16_t error = 0;

	if (n > 0)
		memcpy(buf, stream, n);
	utf8_ref_reset(&text);
	for (;;) {
		const uint8_t *h = buf + pos;
		size_t left = n - pos, need = 2;
		uint64_t plen;

		if (left < 2)
			break;
		plen = h[1] & 0x7F;
		if (plen == 126)
			need += 2;
		else if (plen == 127)
			need += 8;
		bool masked = (h[1] & 0x80) != 0;
		if (masked)
			need += 4;
		if (left < need)
			break; /* the header is not all here yet */
		if (plen == 126) {
			plen = (uint64_t)h[2] << 8 | h[3];
		} else if (plen == 127) {
			if (h[2] & 0x80) {
				error = WS_CLOSE_PROTOCOL_ERROR;
				break;
			}
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | h[2 + i];
		}
		bool fin = (h[0] & 0x80) != 0;
		uint8_t rsv = (h[0] >> 4) & 7, op = h[0] & 0x0F;
		bool control = op >= 8;
		bool known = op <= 2 || (op >= 8 && op <= 10);
		uint8_t key[4] = {0, 0, 0, 0};
		if (masked)
			memcpy(key, h + need - 4, 4);
		pos += need;

		if (rsv != 0 || !known || !masked) {
			error = WS_CLOSE_PROTOCOL_ERROR;
			break;
		}
		if (control && (!fin || plen > 125)) {
			error = WS_CLOSE_PROTOCOL_ERROR;
			break;
		}
		if (!control && ((op == 0 && msg_op == 0) || (op != 0 && msg_op != 0))) {
			error = WS_CLOSE_PROTOCOL_ERROR;
			break;
		}
		if (!control && plen > max - msg_len) {
			error = WS_CLOSE_TOO_BIG;
			break;
		}

		size_t avail = plen < n - pos ? (size_t)plen : n - pos;
		uint8_t *payload = buf + pos;
		for (size_t i = 0; i < avail; i++)
			payload[i] ^= key[i & 3];
		pos += avail;

		if (!control) {
			if (op != 0) {
				msg_op = op;
				msg_len = 0;
				utf8_ref_reset(&text);
			}
			if (msg_op == WS_OP_TEXT)
				for (size_t i = 0; i < avail && error == 0; i++)
					if (!utf8_ref_step(&text, payload[i]))
						error = WS_CLOSE_INVALID_DATA;
			if (error != 0)
				break;
			memcpy(msg + msg_len, payload, avail);
			msg_len += avail;
			if (avail < plen)
				break;
			if (fin) {
				if (msg_op == WS_OP_TEXT && !utf8_ref_at_boundary(&text)) {
					error = WS_CLOSE_INVALID_DATA;
					break;
				}
				fuzz_log_add(log, WS_EVENT_MESSAGE, msg_op, 0, msg, msg_len);
				msg_op = 0;
				msg_len = 0;
			}
			continue;
		}

		if (avail < plen)
			break;
		if (op == WS_OP_PING || op == WS_OP_PONG) {
			fuzz_log_add(log, op == WS_OP_PING ? WS_EVENT_PING : WS_EVENT_PONG, 0, 0,
			             payload, avail);
			continue;
		}
		/* Close: empty, or a code and a UTF-8 reason (section 5.5.1). */
		if (avail == 0) {
			fuzz_log_add(log, WS_EVENT_CLOSE, 0, 0, NULL, 0);
		} else {
			uint16_t code = avail >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : 0;
			if (avail == 1 || !fuzz_close_code_allowed(code) ||
			    !utf8_ref_valid(payload + 2, avail - 2))
				error = WS_CLOSE_PROTOCOL_ERROR;
			else
				fuzz_log_add(log, WS_EVENT_CLOSE, 0, code, payload + 2, avail - 2);
		}
		msg_op = 0; /* nothing more is read: not busy in the sense compared below */
		break;
	}
	if (error != 0)
		fuzz_log_add(log, WS_EVENT_ERROR, 0, error, NULL, 0);
	*busy = msg_op != 0;
	free(msg);
	free(buf);
}

/* --- the harness ------------------------------------------------------------------------ */

static void fuzz_compare(const char *what, const struct fuzz_log *a, const char *a_name,
                         const struct fuzz_log *b, const char *b_name)
{
	if (fuzz_log_equal(a, b))
		return;
	fprintf(stderr, "fuzz_wsreader: %s\n", what);
	fuzz_log_print(a_name, a);
	fuzz_log_print(b_name, b);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_feed whole, split;
	struct fuzz_log model;
	struct fuzz_split s;
	size_t max, n, fed = 0;
	const uint8_t *stream;
	uint8_t *copy;
	bool model_busy;

	if (size < FUZZ_WS_PREFIX)
		return -1; /* not worth keeping in the corpus */
	unsigned v = (unsigned)data[0] << 8 | data[1];
	max = (v & 0x8000) ? FUZZ_WS_DEFAULT_MAX : v % (FUZZ_WS_SMALL_MAX_LIMIT + 1);
	s.fs_kind = data[2] & 7;
	s.fs_param = data[2] >> 3;
	s.fs_state = 0x9E3779B9u ^ ((uint32_t)data[3] << 8) ^ (uint32_t)data[2];
	stream = data + FUZZ_WS_PREFIX;
	n = size - FUZZ_WS_PREFIX;

	memset(&whole, 0, sizeof whole);
	memset(&split, 0, sizeof split);
	memset(&model, 0, sizeof model);
	whole.ff_max = split.ff_max = max;
	ws_reader_init(&whole.ff_reader, max);
	ws_reader_init(&split.ff_reader, max);

	/* One read of everything, from a writable copy: the reader unmasks in place. */
	copy = fuzz_malloc(n);
	if (n > 0)
		memcpy(copy, stream, n);
	fuzz_ws_feed(&whole, copy, n);
	free(copy);

	/* The same bytes in pieces, each in its own block. */
	do {
		size_t len = fuzz_split_next(&s, n, n - fed);
		uint8_t *piece = fuzz_malloc(len);
		if (len > 0)
			memcpy(piece, stream + fed, len);
		fuzz_ws_feed(&split, piece, len);
		free(piece);
		fed += len;
	} while (fed < n);

	fuzz_model_run(stream, n, max, &model, &model_busy);
	/* Lengths no fuzz input can carry as payload: the 64-bit form of the encoder. */
	if (n >= 8) {
		uint64_t len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | stream[i];
		fuzz_ws_check_encode(WS_OP_BINARY, len >> 1);
		fuzz_ws_check_encode(WS_OP_TEXT, len & 0x1FFFF);
	}

#ifdef FUZZ_TRACE
	fprintf(stderr, "max_message %zu, split kind %u param %u, %zu stream bytes\n", max,
	        s.fs_kind, s.fs_param, n);
	fuzz_log_print("one read", &whole.ff_log);
#endif
	fuzz_compare("one read and many reads give different events", &whole.ff_log, "one read",
	             &split.ff_log, "pieces");
	fuzz_compare("wsreader and the model give different events", &model, "model", &whole.ff_log,
	             "wsreader");
	if (!whole.ff_ended) {
		if (ws_reader_busy(&whole.ff_reader) != ws_reader_busy(&split.ff_reader))
			fuzz_fail("one read and many reads end in different busy states");
		if (ws_reader_busy(&whole.ff_reader) != model_busy)
			fuzz_fail("ws_reader_busy disagrees with the model");
	}

	ws_reader_free(&whole.ff_reader);
	ws_reader_free(&split.ff_reader);
	free(whole.ff_log.fl_buf);
	free(split.ff_log.fl_buf);
	free(model.fl_buf);
	return 0;
}
