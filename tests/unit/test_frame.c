/*
 * Unit tests for frame (include/frame.h): header parsing of every length form, masked and
 * not, every incomplete prefix (at the end of a guarded page, so an over-read faults), the
 * 64-bit top-bit rule, encode/parse round trips, unmasking against a byte-by-byte reference,
 * close-code validity and the opcode helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "guard.h"

static const uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};

/* Builds a header by hand (independently of frame_encode_header), choosing the length form
 * explicitly: 7 for the 7-bit field, 16 or 64 for the extended ones. */
static size_t build_header(uint8_t *out, uint8_t byte0, int form, uint64_t len, bool masked)
{
	size_t n = 2;

	out[0] = byte0;
	out[1] = masked ? 0x80 : 0;
	if (form == 7) {
		out[1] |= (uint8_t)len;
	} else if (form == 16) {
		out[1] |= 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[1] |= 127;
		for (int shift = 56; shift >= 0; shift -= 8)
			out[n++] = (uint8_t)(len >> shift);
	}
	if (masked) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	return n;
}

struct header_case {
	uint8_t hc_byte0;
	int hc_form;
	uint64_t hc_len;
	bool hc_masked;
	size_t hc_header_len;
};

static const struct header_case header_cases[] = {
    {0x81, 7, 0, false, 2},
    {0x81, 7, 5, false, 2},
    {0x82, 7, 125, true, 6},
    {0x01, 16, 126, false, 4},
    {0x80, 16, 65535, true, 8},
    {0x02, 64, 65536, false, 10},
    {0x89, 64, UINT64_C(1) << 32, true, 14},
    {0x82, 64, UINT64_MAX >> 1, true, 14}, /* the largest legal length */
    /* Non-minimal forms are accepted (frame.c explains why). */
    {0x81, 16, 5, true, 8},
    {0x81, 64, 5, true, 14},
};

static void expect_header(const struct frame_header *fh, const struct header_case *hc)
{
	assert_int_equal(fh->fh_fin, (hc->hc_byte0 & 0x80) != 0);
	assert_int_equal(fh->fh_rsv, (hc->hc_byte0 >> 4) & 7);
	assert_int_equal(fh->fh_opcode, hc->hc_byte0 & 0x0F);
	assert_int_equal(fh->fh_masked, hc->hc_masked);
	assert_true(fh->fh_payload_len == hc->hc_len);
	assert_int_equal(fh->fh_header_len, hc->hc_header_len);
	if (hc->hc_masked)
		assert_memory_equal(fh->fh_mask, key, 4);
}

static void test_parse_length_forms(void **state)
{
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
		const struct header_case *hc = &header_cases[i];
		uint8_t raw[32];
		struct frame_header fh;
		size_t n = build_header(raw, hc->hc_byte0, hc->hc_form, hc->hc_len, hc->hc_masked);

		assert_int_equal(n, hc->hc_header_len);
		/* Exactly the header, ending at the guard page. */
		memset(&fh, 0xA5, sizeof fh);
		assert_int_equal(frame_parse_header(guard_put(&g, raw, n), n, &fh), FRAME_PARSE_OK);
		expect_header(&fh, hc);
		/* Followed by payload bytes, which must not change anything. */
		memset(raw + n, 0xEE, 8);
		memset(&fh, 0x5A, sizeof fh);
		assert_int_equal(frame_parse_header(guard_put(&g, raw, n + 8), n + 8, &fh),
		                 FRAME_PARSE_OK);
		expect_header(&fh, hc);
	}
	guard_close(&g);
}

static void test_unmasked_mask_is_zero(void **state)
{
	struct frame_header fh;
	(void)state;

	memset(&fh, 0xFF, sizeof fh);
	assert_int_equal(frame_parse_header((const uint8_t *)"\x81\x00", 2, &fh), FRAME_PARSE_OK);
	assert_false(fh.fh_masked);
	assert_memory_equal(fh.fh_mask, "\0\0\0\0", 4);
}

static void test_flags(void **state)
{
	struct frame_header fh;
	(void)state;

	assert_int_equal(frame_parse_header((const uint8_t *)"\x7A\x00", 2, &fh), FRAME_PARSE_OK);
	assert_false(fh.fh_fin);
	assert_int_equal(fh.fh_rsv, 7);
	assert_int_equal(fh.fh_opcode, 0xA);
	/* Each RSV bit on its own shows up, and distinctly. */
	uint8_t seen = 0;
	for (uint8_t bit = 0x10; bit <= 0x40; bit <<= 1) {
		uint8_t raw[2] = {(uint8_t)(0x80 | bit | 0x1), 0};
		assert_int_equal(frame_parse_header(raw, 2, &fh), FRAME_PARSE_OK);
		assert_true(fh.fh_fin);
		assert_int_equal(fh.fh_opcode, 1);
		assert_int_not_equal(fh.fh_rsv, 0);
		assert_int_equal(fh.fh_rsv & seen, 0);
		seen |= fh.fh_rsv;
	}
	assert_int_equal(seen, 7);
}

/* Every prefix shorter than the header is INCOMPLETE and is read without going past its end. */
static void test_every_prefix_incomplete(void **state)
{
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
		const struct header_case *hc = &header_cases[i];
		uint8_t raw[32];
		size_t n = build_header(raw, hc->hc_byte0, hc->hc_form, hc->hc_len, hc->hc_masked);

		for (size_t cut = 0; cut < n; cut++) {
			struct frame_header fh;
			if (frame_parse_header(guard_put(&g, raw, cut), cut, &fh) !=
			    FRAME_PARSE_INCOMPLETE)
				fail_msg("case %zu: prefix of %zu of %zu bytes not INCOMPLETE", i,
				         cut, n);
		}
	}
	guard_close(&g);
}

static void test_64bit_top_bit_is_bad_length(void **state)
{
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (int masked = 0; masked <= 1; masked++) {
		uint64_t lens[] = {UINT64_C(1) << 63, UINT64_MAX, (UINT64_C(1) << 63) | 5};
		for (size_t i = 0; i < 3; i++) {
			uint8_t raw[16];
			struct frame_header fh;
			size_t n = build_header(raw, 0x82, 64, lens[i], masked);
			assert_int_equal(frame_parse_header(guard_put(&g, raw, n), n, &fh),
			                 FRAME_PARSE_BAD_LENGTH);
			/* The prefixes are still just incomplete (nothing is wrong yet with 2
			 * bytes). */
			assert_int_equal(frame_parse_header(guard_put(&g, raw, 2), 2, &fh),
			                 FRAME_PARSE_INCOMPLETE);
		}
	}
	guard_close(&g);
}

static void test_encode_parse_round_trip(void **state)
{
	static const uint64_t lens[] = {
	    0, 1, 125, 126, 127, 65535, 65536, UINT64_C(1) << 32, UINT64_MAX >> 1};
	static const size_t sizes[] = {2, 2, 2, 4, 4, 4, 10, 10, 10};
	static const uint8_t opcodes[] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_CLOSE,
	                                  WS_OP_PING, WS_OP_PONG,   WS_OP_CONTINUATION};
	struct guard g;
	(void)state;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		for (size_t o = 0; o < sizeof opcodes; o++) {
			for (int fin = 0; fin <= 1; fin++) {
				uint8_t out[FRAME_MAX_SERVER_HEADER + 4];
				struct frame_header fh;

				memset(out, 0xCC, sizeof out);
				size_t n = frame_encode_header(out, fin, opcodes[o], lens[i]);
				assert_int_equal(n, sizes[i]);
				assert_int_equal(frame_header_size(lens[i]), n);
				/* Nothing written past the header. */
				for (size_t k = n; k < sizeof out; k++)
					assert_int_equal(out[k], 0xCC);
				/* A server frame: no mask bit, no RSV bits. */
				assert_int_equal(out[1] & 0x80, 0);
				assert_int_equal(out[0] & 0x70, 0);

				assert_int_equal(frame_parse_header(guard_put(&g, out, n), n, &fh),
				                 FRAME_PARSE_OK);
				assert_int_equal(fh.fh_fin, fin);
				assert_int_equal(fh.fh_rsv, 0);
				assert_int_equal(fh.fh_opcode, opcodes[o]);
				assert_false(fh.fh_masked);
				assert_true(fh.fh_payload_len == lens[i]);
				assert_int_equal(fh.fh_header_len, n);
			}
		}
	}
	guard_close(&g);
}

/* The wire bytes themselves, for lengths at each form's edge (section 5.2: minimal form). */
static void test_encode_exact_bytes(void **state)
{
	uint8_t out[FRAME_MAX_SERVER_HEADER];
	(void)state;

	assert_int_equal(frame_encode_header(out, true, WS_OP_TEXT, 125), 2);
	assert_memory_equal(out, "\x81\x7d", 2);
	assert_int_equal(frame_encode_header(out, false, WS_OP_BINARY, 126), 4);
	assert_memory_equal(out, "\x02\x7e\x00\x7e", 4);
	assert_int_equal(frame_encode_header(out, true, WS_OP_TEXT, 65535), 4);
	assert_memory_equal(out, "\x81\x7e\xff\xff", 4);
	assert_int_equal(frame_encode_header(out, true, WS_OP_TEXT, 65536), 10);
	assert_memory_equal(out, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	assert_int_equal(frame_encode_header(out, true, WS_OP_CLOSE, UINT64_C(1) << 32), 10);
	assert_memory_equal(out, "\x88\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10);
	assert_int_equal(frame_encode_header(out, true, WS_OP_CLOSE, 0), 2);
	assert_memory_equal(out, "\x88\x00", 2);
}

static void ref_unmask(uint8_t *buf, size_t len, const uint8_t k[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		buf[i] ^= k[(offset + i) % 4];
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 29 + (i >> 3));
}

static void test_unmask_matches_reference(void **state)
{
	uint8_t storage[64], expect[64];
	(void)state;

	for (size_t align = 0; align < 8; align++) {
		uint8_t *buf = storage + align;
		for (uint64_t offset = 0; offset < 8; offset++) {
			for (size_t len = 0; len <= 40; len++) {
				fill_pattern(buf, len, (unsigned)(offset + len));
				memcpy(expect, buf, len);
				ref_unmask(expect, len, key, offset);
				/* Sentinel after the buffer: unmasking must stay inside len. */
				buf[len] = 0x5C;
				frame_unmask(buf, len, key, offset);
				if (memcmp(buf, expect, len) != 0)
					fail_msg("align %zu offset %llu len %zu differs", align,
					         (unsigned long long)offset, len);
				assert_int_equal(buf[len], 0x5C);
			}
		}
	}
	/* Large offsets wrap the same way (only offset mod 4 matters). */
	uint8_t a[19], b[19];
	fill_pattern(a, sizeof a, 7);
	memcpy(b, a, sizeof a);
	frame_unmask(a, sizeof a, key, (UINT64_C(1) << 40) + 3);
	ref_unmask(b, sizeof b, key, 3);
	assert_memory_equal(a, b, sizeof a);
}

static void test_unmask_in_pieces_equals_at_once(void **state)
{
	uint8_t whole[100], pieces[100], original[100];
	(void)state;

	fill_pattern(original, sizeof original, 3);
	memcpy(whole, original, sizeof whole);
	frame_unmask(whole, sizeof whole, key, 0);

	/* Two pieces, cut anywhere. */
	for (size_t cut = 0; cut <= sizeof pieces; cut++) {
		memcpy(pieces, original, sizeof pieces);
		frame_unmask(pieces, cut, key, 0);
		frame_unmask(pieces + cut, sizeof pieces - cut, key, cut);
		if (memcmp(pieces, whole, sizeof whole) != 0)
			fail_msg("cut at %zu differs", cut);
	}
	/* Pieces of every size from 1 to 13. */
	for (size_t step = 1; step <= 13; step++) {
		memcpy(pieces, original, sizeof pieces);
		for (size_t at = 0; at < sizeof pieces; at += step) {
			size_t n = sizeof pieces - at < step ? sizeof pieces - at : step;
			frame_unmask(pieces + at, n, key, at);
		}
		assert_memory_equal(pieces, whole, sizeof whole);
	}
	/* Masking is its own inverse. */
	frame_unmask(whole, sizeof whole, key, 0);
	assert_memory_equal(whole, original, sizeof whole);
}

/* The key from RFC 6455 section 5.7: a masked "Hello". */
static void test_unmask_rfc_example(void **state)
{
	uint8_t frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct frame_header fh;
	(void)state;

	assert_int_equal(frame_parse_header(frame, sizeof frame, &fh), FRAME_PARSE_OK);
	assert_int_equal(fh.fh_payload_len, 5);
	assert_int_equal(fh.fh_header_len, 6);
	frame_unmask(frame + 6, 5, fh.fh_mask, 0);
	assert_memory_equal(frame + 6, "Hello", 5);
}

static void test_close_code_valid_table(void **state)
{
	static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
	                                 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
	static const uint16_t invalid[] = {0,    1,    999,  1004, 1005, 1006, 1015,
	                                   1016, 1100, 2000, 2999, 5000, 6000, 65535};
	(void)state;

	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
		if (!frame_close_code_valid(valid[i]))
			fail_msg("%u should be valid", valid[i]);
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
		if (frame_close_code_valid(invalid[i]))
			fail_msg("%u should be invalid", invalid[i]);
	/* Exhaustively, against the rule written in the header. */
	for (uint32_t c = 0; c <= 0xFFFF; c++) {
		bool expect = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
		              (c >= 3000 && c <= 4999);
		if (frame_close_code_valid((uint16_t)c) != expect)
			fail_msg("code %u: expected %d", c, expect);
	}
}

static void test_opcode_helpers(void **state)
{
	(void)state;
	for (uint8_t op = 0; op < 16; op++) {
		bool known = op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 0xA;
		bool control = op >= 8;
		if (frame_opcode_known(op) != known)
			fail_msg("frame_opcode_known(%u)", op);
		if (frame_opcode_is_control(op) != control)
			fail_msg("frame_opcode_is_control(%u)", op);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_length_forms),
	    cmocka_unit_test(test_unmasked_mask_is_zero),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_every_prefix_incomplete),
	    cmocka_unit_test(test_64bit_top_bit_is_bad_length),
	    cmocka_unit_test(test_encode_parse_round_trip),
	    cmocka_unit_test(test_encode_exact_bytes),
	    cmocka_unit_test(test_unmask_matches_reference),
	    cmocka_unit_test(test_unmask_in_pieces_equals_at_once),
	    cmocka_unit_test(test_unmask_rfc_example),
	    cmocka_unit_test(test_close_code_valid_table),
	    cmocka_unit_test(test_opcode_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
