/*
 * Unit tests for utf8 (include/utf8.h): RFC 3629 boundaries, the forms it forbids
 * (overlongs, surrogates, past U+10FFFF), fail-fast across utf8_feed calls, the 8-byte
 * ASCII fast path, and a comparison with an independent reference over random input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "utf8.h"

/* --- an independent reference ------------------------------------------------------------
 * It works on code points, not on the byte ranges src/utf8.c uses: after each byte of a
 * sequence it asks whether any completion could still give a code point that is minimal
 * for its length, not a surrogate and at most U+10FFFF. The first byte after which no
 * completion can is where a fail-fast validator must stop. */

struct ref_result {
	size_t rr_first_bad; /* index of the first byte that makes the input invalid, or len */
	bool rr_at_boundary; /* no sequence left open at the end (meaningless when bad) */
};

static bool ref_viable(uint32_t prefix_bits, int seq_len, int have)
{
	static const uint32_t lowest[5] = {0, 0, 0x80, 0x800, 0x10000};
	static const uint32_t highest[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
	int missing_bits = 6 * (seq_len - have);
	uint32_t min = prefix_bits << missing_bits;
	uint32_t max = min | ((UINT32_C(1) << missing_bits) - 1);

	if (max < lowest[seq_len] || min > highest[seq_len])
		return false;
	return !(min >= 0xD800 && max <= 0xDFFF);
}

static struct ref_result ref_scan(const uint8_t *s, size_t len)
{
	struct ref_result rr = {len, true};
	size_t i = 0;

	while (i < len) {
		uint8_t b = s[i];
		int n;
		uint32_t bits;

		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xE0) == 0xC0) {
			n = 2;
			bits = b & 0x1F;
		} else if ((b & 0xF0) == 0xE0) {
			n = 3;
			bits = b & 0x0F;
		} else if ((b & 0xF8) == 0xF0) {
			n = 4;
			bits = b & 0x07;
		} else {
			rr.rr_first_bad = i;
			return rr;
		}
		if (!ref_viable(bits, n, 1)) {
			rr.rr_first_bad = i;
			return rr;
		}
		for (int k = 1; k < n; k++) {
			if (i + (size_t)k >= len) {
				rr.rr_at_boundary = false;
				return rr;
			}
			uint8_t c = s[i + (size_t)k];
			if ((c & 0xC0) != 0x80) {
				rr.rr_first_bad = i + (size_t)k;
				return rr;
			}
			bits = bits << 6 | (c & 0x3F);
			if (!ref_viable(bits, n, k + 1)) {
				rr.rr_first_bad = i + (size_t)k;
				return rr;
			}
		}
		i += (size_t)n;
	}
	return rr;
}

static size_t encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* xorshift64: a fixed seed makes every run check the same cases. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng_next() % n);
}

/* Feeds s in pieces ending at cuts[0..ncuts) and len; checks every call against the
 * reference: calls before the first bad byte succeed, the call holding it and every later
 * one fail, and a successful end says at_boundary exactly when the reference does. */
static void check_split(const uint8_t *s, size_t len, const size_t *cuts, size_t ncuts)
{
	struct ref_result rr = ref_scan(s, len);
	struct utf8_validator v;
	size_t start = 0;

	utf8_reset(&v);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		bool expect_ok = rr.rr_first_bad >= end;
		bool got = utf8_feed(&v, s + start, end - start);
		if (got != expect_ok)
			fail_msg("len %zu piece [%zu,%zu): feed returned %d, first bad byte at %zu",
			         len, start, end, got, rr.rr_first_bad);
		start = end;
	}
	if (rr.rr_first_bad == len)
		assert_int_equal(utf8_at_boundary(&v), rr.rr_at_boundary);
	else
		assert_false(utf8_at_boundary(&v));
	assert_int_equal(utf8_valid(s, len), rr.rr_first_bad == len && rr.rr_at_boundary);
}

/* Every way to cut s into two and into three pieces (empty pieces included). */
static void check_all_splits(const uint8_t *s, size_t len)
{
	size_t cuts[2];

	for (cuts[0] = 0; cuts[0] <= len; cuts[0]++) {
		check_split(s, len, cuts, 1);
		for (cuts[1] = cuts[0]; cuts[1] <= len; cuts[1]++)
			check_split(s, len, cuts, 2);
	}
}

/* --- tests ------------------------------------------------------------------------------- */

static const uint32_t boundary_code_points[] = {
    0x0000, 0x007F, 0x0080,  0x07FF,  0x0800,   0xD7FF,   0xE000,
    0xFFFD, 0xFFFF, 0x10000, 0xFFFFF, 0x100000, 0x10FFFF,
};

static void test_valid_boundaries(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof boundary_code_points / sizeof boundary_code_points[0]; i++) {
		uint8_t buf[16];
		size_t n = encode(boundary_code_points[i], buf);
		struct utf8_validator v;

		assert_true(utf8_valid(buf, n));
		utf8_reset(&v);
		assert_true(utf8_feed(&v, buf, n));
		assert_true(utf8_at_boundary(&v));

		/* Between ASCII, long enough for the 8-byte fast path on both sides. */
		uint8_t wide[32];
		memset(wide, 'a', sizeof wide);
		memcpy(wide + 9, buf, n);
		assert_true(utf8_valid(wide, sizeof wide));
	}
}

/* Every valid encoded code point at the range edges agrees with the reference. */
static void test_reference_agrees_on_encoder(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof boundary_code_points / sizeof boundary_code_points[0]; i++) {
		uint8_t buf[4];
		size_t n = encode(boundary_code_points[i], buf);
		struct ref_result rr = ref_scan(buf, n);
		assert_int_equal(rr.rr_first_bad, n);
		assert_true(rr.rr_at_boundary);
	}
}

struct bad_case {
	const char *bc_bytes;
	size_t bc_len;
	size_t bc_first_bad; /* index of the byte at which a fail-fast validator stops */
	const char *bc_what;
};

#define BAD(s, at, what)                                                                           \
	{                                                                                          \
		s, sizeof(s) - 1, at, what                                                         \
	}

static const struct bad_case bad_cases[] = {
    BAD("\xc0\x80", 0, "overlong U+0000"),
    BAD("\xc1\xbf", 0, "overlong U+007F"),
    BAD("\xe0\x80\x80", 1, "overlong U+0000 in 3"),
    BAD("\xe0\x9f\xbf", 1, "overlong U+07FF"),
    BAD("\xf0\x80\x80\x80", 1, "overlong U+0000 in 4"),
    BAD("\xf0\x8f\xbf\xbf", 1, "overlong U+FFFF"),
    BAD("\xed\xa0\x80", 1, "surrogate U+D800"),
    BAD("\xed\xbf\xbf", 1, "surrogate U+DFFF"),
    BAD("\xed\xb0\x80", 1, "surrogate U+DC00"),
    BAD("\xf4\x90\x80\x80", 1, "U+110000"),
    BAD("\xf4\xbf\xbf\xbf", 1, "U+13FFFF"),
    BAD("\xf5\x80\x80\x80", 0, "lead F5"),
    BAD("\xf6", 0, "lead F6"),
    BAD("\xf7\xbf\xbf\xbf", 0, "lead F7"),
    BAD("\xf8\x88\x80\x80\x80", 0, "5-byte lead"),
    BAD("\xfc\x84\x80\x80\x80\x80", 0, "6-byte lead"),
    BAD("\xfe", 0, "FE"),
    BAD("\xff", 0, "FF"),
    BAD("\x80", 0, "lone continuation 80"),
    BAD("\xbf", 0, "lone continuation BF"),
    BAD("a\x80", 1, "continuation after ASCII"),
    BAD("\xc2\x80\x80", 2, "one continuation too many"),
    BAD("\xc2\x41", 1, "ASCII where a continuation is due"),
    BAD("\xe2\x82\x41", 2, "ASCII as third byte"),
    BAD("\xf0\x9f\x98\x41", 3, "ASCII as fourth byte"),
    BAD("\xe2\x82\xc2\xa2", 2, "new lead inside a sequence"),
    BAD("\xc2\xc2", 1, "two leads"),
    BAD("\xed\xa0\x80\xed\xb0\x80", 1, "surrogate pair (CESU-8)"),
};

static void test_invalid_sequences(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];
		const uint8_t *s = (const uint8_t *)bc->bc_bytes;
		struct utf8_validator v;
		struct ref_result rr = ref_scan(s, bc->bc_len);

		/* The table and the reference agree, so the reference is worth trusting below. */
		if (rr.rr_first_bad != bc->bc_first_bad)
			fail_msg("reference disagrees on %s", bc->bc_what);
		if (utf8_valid(s, bc->bc_len))
			fail_msg("accepted: %s", bc->bc_what);

		/* Fail fast: the prefix before the bad byte is fine, the one with it is not. */
		utf8_reset(&v);
		if (!utf8_feed(&v, s, bc->bc_first_bad))
			fail_msg("failed before the bad byte: %s", bc->bc_what);
		if (utf8_feed(&v, s + bc->bc_first_bad, 1))
			fail_msg("did not fail at the bad byte: %s", bc->bc_what);
		assert_false(utf8_at_boundary(&v));
	}
}

/* The two examples the RFC's fail-fast rule is about: two bytes already decide. */
static void test_fail_fast_two_byte_prefixes(void **state)
{
	struct utf8_validator v;
	(void)state;

	utf8_reset(&v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\xed\xa0", 2));
	utf8_reset(&v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\xf4\x90", 2));
	utf8_reset(&v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\xe0\x80", 2));
	utf8_reset(&v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\xf0\x8f", 2));
	/* ...while their valid neighbours stay open. */
	utf8_reset(&v);
	assert_true(utf8_feed(&v, (const uint8_t *)"\xed\x9f", 2));
	assert_false(utf8_at_boundary(&v));
	utf8_reset(&v);
	assert_true(utf8_feed(&v, (const uint8_t *)"\xf4\x8f", 2));
	assert_false(utf8_at_boundary(&v));
}

static void test_truncated_at_end(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof boundary_code_points / sizeof boundary_code_points[0]; i++) {
		uint8_t buf[8] = "ab";
		size_t n = encode(boundary_code_points[i], buf + 2) + 2;

		for (size_t cut = 3; cut < n; cut++) {
			struct utf8_validator v;
			utf8_reset(&v);
			assert_true(utf8_feed(&v, buf, cut));
			assert_false(utf8_at_boundary(&v));
			assert_false(utf8_valid(buf, cut));
			/* The rest completes it. */
			assert_true(utf8_feed(&v, buf + cut, n - cut));
			assert_true(utf8_at_boundary(&v));
		}
	}
}

/* A lead byte (or a valid prefix) at the very end of the input is not an error yet. */
static void test_open_sequence_is_not_an_error(void **state)
{
	static const char *const open[] = {"\xc2",     "\xe0",        "\xe0\xa0", "\xed",
	                                   "\xed\x9f", "\xf0",        "\xf0\x90", "\xf0\x90\x80",
	                                   "\xf4",     "\xf4\x8f\xbf"};
	(void)state;
	for (size_t i = 0; i < sizeof open / sizeof open[0]; i++) {
		struct utf8_validator v;
		utf8_reset(&v);
		assert_true(utf8_feed(&v, (const uint8_t *)open[i], strlen(open[i])));
		assert_false(utf8_at_boundary(&v));
		assert_false(utf8_valid((const uint8_t *)open[i], strlen(open[i])));
	}
}

/* Every valid and invalid case split across two and three utf8_feed calls, also embedded
 * in ASCII so the fast path hands over to the sequence logic mid-call. */
static void test_split_every_position(void **state)
{
	uint8_t buf[64];
	(void)state;

	for (size_t i = 0; i < sizeof boundary_code_points / sizeof boundary_code_points[0]; i++) {
		size_t n = encode(boundary_code_points[i], buf);
		n += encode(boundary_code_points[(i + 5) % 13], buf + n);
		check_all_splits(buf, n);
	}
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];
		check_all_splits((const uint8_t *)bc->bc_bytes, bc->bc_len);

		memset(buf, 'x', 11);
		memcpy(buf + 11, bc->bc_bytes, bc->bc_len);
		memset(buf + 11 + bc->bc_len, 'y', 9);
		check_all_splits(buf, 11 + bc->bc_len + 9);
	}
}

static void test_failure_is_sticky_until_reset(void **state)
{
	struct utf8_validator v;
	(void)state;

	utf8_reset(&v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\xff", 1));
	assert_false(utf8_feed(&v, (const uint8_t *)"plain ascii", 11));
	assert_false(utf8_feed(&v, (const uint8_t *)"", 0));
	assert_false(utf8_at_boundary(&v));
	utf8_reset(&v);
	assert_true(utf8_feed(&v, (const uint8_t *)"plain ascii", 11));
	assert_true(utf8_at_boundary(&v));

	/* A reset in the middle of a sequence forgets it. */
	assert_true(utf8_feed(&v, (const uint8_t *)"\xe2\x82", 2));
	utf8_reset(&v);
	assert_true(utf8_at_boundary(&v));
	assert_false(utf8_feed(&v, (const uint8_t *)"\xac", 1));
}

/* The header allows zero-initialising instead of calling utf8_reset. */
static void test_zero_initialised(void **state)
{
	struct utf8_validator v;
	(void)state;

	memset(&v, 0, sizeof v);
	assert_true(utf8_at_boundary(&v));
	assert_true(utf8_feed(&v, (const uint8_t *)"\xe2\x82\xac", 3));
	assert_true(utf8_at_boundary(&v));
	memset(&v, 0, sizeof v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\xe2\x41", 2));
	memset(&v, 0, sizeof v);
	assert_false(utf8_feed(&v, (const uint8_t *)"\x80", 1));
}

static void test_empty_input(void **state)
{
	struct utf8_validator v;
	uint8_t none[1] = {0};
	(void)state;

	assert_true(utf8_valid(none, 0));
	utf8_reset(&v);
	assert_true(utf8_feed(&v, none, 0));
	assert_true(utf8_at_boundary(&v));
	/* An empty feed inside a sequence changes nothing. */
	assert_true(utf8_feed(&v, (const uint8_t *)"\xc3", 1));
	assert_true(utf8_feed(&v, none, 0));
	assert_false(utf8_at_boundary(&v));
	assert_true(utf8_feed(&v, (const uint8_t *)"\xa9", 1));
	assert_true(utf8_at_boundary(&v));
}

/* The validator skips ASCII eight bytes at a time; a bad (or multi-byte) byte at any offset
 * and any alignment of the buffer must still be seen, and exactly when it arrives. */
static void test_ascii_runs_with_bad_byte_everywhere(void **state)
{
	static const uint8_t bad_bytes[] = {0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF};
	uint8_t storage[128];
	(void)state;

	for (size_t align = 0; align < 8; align++) {
		uint8_t *buf = storage + align;
		for (size_t total = 44; total <= 64; total += 20) {
			for (size_t at = 0; at <= 40; at++) {
				for (size_t b = 0; b < sizeof bad_bytes; b++) {
					struct utf8_validator v;
					memset(buf, 'A' + (int)(at % 26), total);
					buf[at] = bad_bytes[b];
					if (utf8_valid(buf, total))
						fail_msg("byte %02x at %zu of %zu accepted",
						         bad_bytes[b], at, total);
					utf8_reset(&v);
					assert_true(utf8_feed(&v, buf, at));
					assert_false(utf8_feed(&v, buf + at, total - at));
				}
				/* A valid 2-, 3- and 4-byte sequence at the same offset passes. */
				static const char *const good[] = {"\xc3\xa9", "\xe2\x82\xac",
				                                   "\xf0\x9f\x98\x80"};
				for (size_t g = 0; g < 3; g++) {
					memset(buf, 'z', total);
					memcpy(buf + at, good[g], strlen(good[g]));
					if (!utf8_valid(buf, total))
						fail_msg("valid sequence %zu at %zu rejected", g,
						         at);
					/* ...and truncated at the end of the input it leaves a
					 * boundary open. */
					struct utf8_validator v;
					utf8_reset(&v);
					assert_true(utf8_feed(&v, buf, at + 1));
					assert_false(utf8_at_boundary(&v));
				}
			}
		}
	}
}

/* A NUL byte is U+0000: valid, including in the middle of a fast-path word. */
static void test_nul_bytes_are_valid(void **state)
{
	uint8_t buf[40] = {0};
	(void)state;
	assert_true(utf8_valid(buf, sizeof buf));
	buf[17] = 0xC3;
	buf[18] = 0xA9;
	assert_true(utf8_valid(buf, sizeof buf));
}

/* Random strings, biased towards the bytes that matter, against the reference: whole,
 * one byte per call, and at random cuts. */
static void test_random_against_reference(void **state)
{
	uint8_t buf[96];
	(void)state;

	for (int iter = 0; iter < 6000; iter++) {
		size_t len = rng_below(sizeof buf - 4);
		size_t n = 0;

		while (n < len) {
			switch (rng_below(8)) {
			case 0:
			case 1: buf[n++] = (uint8_t)rng_below(0x80); break;
			case 2: /* continuation bytes */
				buf[n++] = (uint8_t)(0x80 + rng_below(0x40));
				break;
			case 3: /* the interesting lead bytes */
			{
				static const uint8_t leads[] = {0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
				                                0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
				                                0xF3, 0xF4, 0xF5, 0xF8, 0xFF};
				buf[n++] = leads[rng_below(sizeof leads)];
				break;
			}
			case 4: /* edge continuation values */
			{
				static const uint8_t edges[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF};
				buf[n++] = edges[rng_below(sizeof edges)];
				break;
			}
			default: /* a whole code point, valid or (surrogate) not */
			{
				uint32_t cp;
				switch (rng_below(4)) {
				case 0: cp = rng_below(0x800); break;
				case 1: cp = rng_below(0x10000); break;
				case 2: cp = 0xD700 + rng_below(0x1000); break;
				default: cp = 0x10000 + rng_below(0x100000); break;
				}
				n += encode(cp, buf + n);
			}
			}
		}
		len = n;

		struct ref_result rr = ref_scan(buf, len);
		assert_int_equal(utf8_valid(buf, len), rr.rr_first_bad == len && rr.rr_at_boundary);

		/* One byte per call. */
		struct utf8_validator v;
		utf8_reset(&v);
		for (size_t i = 0; i < len; i++) {
			bool got = utf8_feed(&v, buf + i, 1);
			if (got != (i < rr.rr_first_bad))
				fail_msg("iteration %d byte %zu: got %d, first bad %zu", iter, i,
				         got, rr.rr_first_bad);
		}
		if (rr.rr_first_bad == len)
			assert_int_equal(utf8_at_boundary(&v), rr.rr_at_boundary);

		/* Random cuts. */
		size_t cuts[2] = {rng_below((uint32_t)len + 1), 0};
		cuts[1] = cuts[0] + rng_below((uint32_t)(len - cuts[0]) + 1);
		check_split(buf, len, cuts, 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_boundaries),
	    cmocka_unit_test(test_reference_agrees_on_encoder),
	    cmocka_unit_test(test_invalid_sequences),
	    cmocka_unit_test(test_fail_fast_two_byte_prefixes),
	    cmocka_unit_test(test_truncated_at_end),
	    cmocka_unit_test(test_open_sequence_is_not_an_error),
	    cmocka_unit_test(test_split_every_position),
	    cmocka_unit_test(test_failure_is_sticky_until_reset),
	    cmocka_unit_test(test_zero_initialised),
	    cmocka_unit_test(test_empty_input),
	    cmocka_unit_test(test_ascii_runs_with_bad_byte_everywhere),
	    cmocka_unit_test(test_nul_bytes_are_valid),
	    cmocka_unit_test(test_random_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
