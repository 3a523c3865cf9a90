/*
 * Unit tests for envelope (include/envelope.h): the layout byte by byte, round trips of
 * text and binary of every small size, every prefix of a valid envelope at the end of a
 * guarded page (an over-read faults), and each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "envelope.h"
#include "frame.h"
#include "guard.h"

static void test_layout(void **state)
{
	uint8_t out[32];
	const uint8_t payload[] = {'h', 'i'};
	(void)state;

	assert_int_equal(
		envelope_encode(out, sizeof out, 0x0102030405060708ULL, WS_OP_TEXT, payload, 2),
		12);
	const uint8_t want[] = {0xC1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 'h', 'i'};
	assert_memory_equal(out, want, sizeof want);
}

static void test_encode_refuses_small_buffer_and_control_opcodes(void **state)
{
	uint8_t out[16];
	(void)state;

	assert_int_equal(envelope_encode(out, 11, 1, WS_OP_BINARY, (const uint8_t *)"ab", 2), 0);
	assert_int_equal(envelope_encode(out, 12, 1, WS_OP_BINARY, (const uint8_t *)"ab", 2), 12);
	assert_int_equal(envelope_encode(out, sizeof out, 1, WS_OP_PING, NULL, 0), 0);
	assert_int_equal(envelope_encode(out, sizeof out, 1, WS_OP_CLOSE, NULL, 0), 0);
	assert_int_equal(envelope_encode(out, sizeof out, 1, 0, NULL, 0), 0);
	assert_int_equal(envelope_encode(out, 9, 1, WS_OP_TEXT, NULL, 0), 0);
}

static void test_round_trip_every_size(void **state)
{
	uint8_t payload[300], buf[400];
	struct envelope env;
	(void)state;

	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	for (size_t len = 0; len <= sizeof payload; len++) {
		size_t n = envelope_encode(buf, sizeof buf, UINT64_MAX - len, WS_OP_BINARY, payload,
					   len);
		assert_int_equal(n, ENVELOPE_HEADER_SIZE + len);
		assert_int_equal(envelope_decode(buf, n, &env), ENVELOPE_OK);
		assert_true(env.en_origin == UINT64_MAX - len);
		assert_int_equal(env.en_opcode, WS_OP_BINARY);
		assert_int_equal(env.en_len, len);
		assert_ptr_equal(env.en_payload, buf + ENVELOPE_HEADER_SIZE);
		if (len > 0)
			assert_memory_equal(env.en_payload, payload, len);
	}
}

static void test_every_prefix_is_short_or_valid_at_a_guard_page(void **state)
{
	uint8_t src[64];
	struct guard g;
	struct envelope env;
	size_t n = envelope_encode(src, sizeof src, 42, WS_OP_TEXT, (const uint8_t *)"abc", 3);
	(void)state;

	guard_open(&g, sizeof src);
	for (size_t len = 0; len <= n; len++) {
		const uint8_t *p = guard_put(&g, src, len);
		enum envelope_status st = envelope_decode(p, len, &env);
		if (len < ENVELOPE_HEADER_SIZE)
			assert_int_equal(st, ENVELOPE_SHORT);
		else
			assert_int_equal(st, ENVELOPE_OK);
	}
	guard_close(&g);
}

static void test_refusals(void **state)
{
	uint8_t buf[32];
	struct envelope env;
	(void)state;

	size_t n = envelope_encode(buf, sizeof buf, 1, WS_OP_TEXT, (const uint8_t *)"ok", 2);
	buf[0] = 0xC2;
	assert_int_equal(envelope_decode(buf, n, &env), ENVELOPE_BAD_MAGIC);
	buf[0] = ENVELOPE_MAGIC;
	for (int op = 0; op < 256; op++) {
		buf[1] = (uint8_t)op;
		enum envelope_status st = envelope_decode(buf, n, &env);
		if (op == WS_OP_TEXT || op == WS_OP_BINARY)
			assert_int_equal(st, ENVELOPE_OK);
		else if (op == (WS_OP_TEXT | ENVELOPE_LOGGED) ||
			 op == (WS_OP_BINARY | ENVELOPE_LOGGED))
			assert_int_equal(st, ENVELOPE_NO_ID); /* 2 bytes cannot hold an id */
		else
			assert_int_equal(st, ENVELOPE_BAD_OPCODE);
	}
	/* Not UTF-8 as text (an overlong form, a lone continuation, a cut sequence), fine
	 * as binary. */
	const char *bad[] = {"\xC0\xAF", "\x80", "\xE2\x82", "\xED\xA0\x80"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t len = strlen(bad[i]);
		n = envelope_encode(buf, sizeof buf, 1, WS_OP_TEXT, (const uint8_t *)bad[i], len);
		assert_int_equal(envelope_decode(buf, n, &env), ENVELOPE_BAD_UTF8);
		buf[1] = WS_OP_BINARY;
		assert_int_equal(envelope_decode(buf, n, &env), ENVELOPE_OK);
	}
	assert_string_equal(envelope_status_text(ENVELOPE_BAD_UTF8), "text that is not UTF-8");
}

/* A logged entry, as roomlog's script writes it: the header with ENVELOPE_LOGGED, the id
 * in 8 bytes, the entry. Every prefix is refused or decodes, at a guard page. */
static void test_logged_entry(void **state)
{
	uint8_t src[64];
	struct guard g;
	struct envelope env;
	size_t n = envelope_encode(src, sizeof src, 7, WS_OP_TEXT,
				   (const uint8_t *)"\0\0\0\0\0\x01\x02\x03{}", 10);
	(void)state;

	src[1] |= ENVELOPE_LOGGED;
	assert_int_equal(envelope_decode(src, n, &env), ENVELOPE_OK);
	assert_true(env.en_logged);
	assert_true(env.en_id == 0x010203);
	assert_int_equal(env.en_len, 2);
	assert_memory_equal(env.en_payload, "{}", 2);
	guard_open(&g, sizeof src);
	for (size_t len = 0; len <= n; len++) {
		const uint8_t *p = guard_put(&g, src, len);
		enum envelope_status st = envelope_decode(p, len, &env);
		assert_int_equal(st, len < ENVELOPE_HEADER_SIZE ? ENVELOPE_SHORT
				     : len < ENVELOPE_HEADER_SIZE + ENVELOPE_ID_SIZE
					     ? ENVELOPE_NO_ID
					     : ENVELOPE_OK);
	}
	guard_close(&g);
	/* An unlogged message keeps its first 8 bytes as payload. */
	src[1] = WS_OP_TEXT;
	assert_int_equal(envelope_decode(src, n, &env), ENVELOPE_OK);
	assert_false(env.en_logged);
	assert_int_equal(env.en_len, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_encode_refuses_small_buffer_and_control_opcodes),
		cmocka_unit_test(test_round_trip_every_size),
		cmocka_unit_test(test_every_prefix_is_short_or_valid_at_a_guard_page),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_logged_entry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
