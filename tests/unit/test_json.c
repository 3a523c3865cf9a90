/*
 * Unit tests for json (include/json.h): the token layout of documents, RFC 8259's
 * grammar at its edges (numbers, escapes, whitespace, scalars at the top), every error
 * status, the bounds (depth, tokens), strings that are not UTF-8 or leave a surrogate
 * alone, decoding, and the writer round-tripping through the parser. Every input sits at
 * the end of a page followed by a guard page, so a read past its end crashes the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "json.h"

#define MAX_TOKENS 64

static struct guard g;
static struct json_token tok[256]; /* MAX_TOKENS unless a test asks for more */

static int parse_n(const char *s, size_t len, size_t max_tokens, unsigned depth)
{
	const char *at = (const char *)guard_put(&g, s, len);
	return json_parse(at, len, tok, max_tokens, depth);
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s), MAX_TOKENS, 16);
}

static const char *last_buf(size_t len)
{
	return (const char *)g.g_map + g.g_room - len;
}

static void test_object_layout(void **state)
{
	const char *doc = " {\"type\": \"message\", \"n\": [1, 2.5e3, {}], \"ok\" : true} ";
	(void)state;
	assert_int_equal(parse(doc), 10);
	assert_int_equal(tok[0].jt_kind, JSON_OBJECT);
	assert_int_equal(tok[0].jt_count, 3);
	assert_int_equal(tok[0].jt_next, 10);
	assert_int_equal(tok[0].jt_start, 1);
	assert_int_equal(tok[0].jt_len, strlen(doc) - 2);
	assert_int_equal(tok[1].jt_kind, JSON_STRING); /* "type" */
	assert_int_equal(tok[2].jt_kind, JSON_STRING); /* "message" */
	assert_int_equal(tok[4].jt_kind, JSON_ARRAY);
	assert_int_equal(tok[4].jt_count, 3);
	assert_int_equal(tok[4].jt_next, 8);
	assert_int_equal(tok[6].jt_kind, JSON_NUMBER);
	assert_int_equal(tok[6].jt_len, 5);
	assert_int_equal(tok[7].jt_kind, JSON_OBJECT);
	assert_int_equal(tok[7].jt_count, 0);
	assert_int_equal(tok[9].jt_kind, JSON_TRUE);

	const char *buf = last_buf(strlen(doc));
	assert_int_equal(json_object_get(buf, tok, 0, "type"), 2);
	assert_int_equal(json_object_get(buf, tok, 0, "n"), 4);
	assert_int_equal(json_object_get(buf, tok, 0, "ok"), 9);
	assert_int_equal(json_object_get(buf, tok, 0, "missing"), -1);
	assert_int_equal(json_object_get(buf, tok, 4, "n"), -1); /* not an object */
	assert_int_equal(tok[2].jt_len, 7);
	assert_memory_equal(buf + tok[2].jt_start, "message", 7);
}

static void test_scalars_at_top(void **state)
{
	(void)state;
	assert_int_equal(parse("0"), 1);
	assert_int_equal(parse("-0.5E-7"), 1);
	assert_int_equal(parse("\"\""), 1);
	assert_int_equal(tok[0].jt_count, 0);
	assert_int_equal(parse("null"), 1);
	assert_int_equal(parse("false\n"), 1);
	assert_int_equal(parse("[]"), 1);
	assert_int_equal(parse("[[[]]]"), 3);
	assert_int_equal(tok[0].jt_next, 3);
	assert_int_equal(tok[1].jt_next, 3);
}

static void test_syntax_errors(void **state)
{
	static const char *bad[] = {
		"",           " ",
		"{",          "}",
		"[1,]",       "[,1]",
		"{\"a\"}",    "{\"a\":}",
		"{\"a\":1,}", "{a:1}",
		"{'a':1}",    "01",
		"1.",         ".5",
		"1e",         "+1",
		"-",          "tru",
		"nul",        "True",
		"[1 2]",      "{} {}",
		"1 x",        "\"abc",
		"\"\t\"",     "[\"a\":1]",
		"{\"a\" 1}",  "NaN",
		"\"\\",       "{\"a\":1 \"b\":2}",
		"[1]]",       "\xef\xbb\xbf{}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = parse(bad[i]);
		if (st != JSON_ERR_SYNTAX)
			fail_msg("'%s': %d", bad[i], st);
	}
}

static void test_escapes(void **state)
{
	const char *doc = "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u0000\"";
	const char want[] = "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	char out[64];
	(void)state;
	assert_int_equal(parse(doc), 1);
	assert_int_equal(tok[0].jt_count, sizeof want); /* with the decoded NUL */
	assert_int_equal(json_string_decode(last_buf(strlen(doc)), &tok[0], out), sizeof want);
	assert_memory_equal(out, want, sizeof want);
}

static void test_bad_escapes(void **state)
{
	static const char *bad[] = {
		"\"\\ud800\"",        /* a high surrogate alone */
		"\"\\udc00\"",        /* a low one alone */
		"\"\\ud800\\u0041\"", /* a high one followed by something else */
		"\"\\ud800x\"",       "\"\\udbff\\ud800\"", "\"\\x41\"",     "\"\\u12\"",
		"\"\\u12g4\"",        "\"\\U0041\"",        "\"\\ud800\\\"",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = parse(bad[i]);
		if (st != JSON_ERR_ESCAPE)
			fail_msg("'%s': %d", bad[i], st);
	}
}

static void test_invalid_utf8(void **state)
{
	static const char *bad[] = {
		"\"\xff\"",     "\"\xc0\xaf\"",         "\"\xed\xa0\x80\"",
		"\"\xe2\x82\"", "\"\xf4\x90\x80\x80\"", "{\"k\xc3\":1}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse(bad[i]), JSON_ERR_UTF8);
	assert_int_equal(parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""), 1);
	assert_int_equal(tok[0].jt_count, 10);
}

static void test_depth_bound(void **state)
{
	char doc[200];
	(void)state;
	memset(doc, '[', 100);
	memset(doc + 100, ']', 100);
	assert_int_equal(parse_n(doc, 200, MAX_TOKENS, 16), JSON_ERR_DEPTH);
	/* Exactly at the bound is fine, one more is not. */
	assert_int_equal(parse_n(doc + 84, 32, MAX_TOKENS, 16), 16);
	assert_int_equal(parse_n(doc + 83, 34, MAX_TOKENS, 16), JSON_ERR_DEPTH);
	/* The caller cannot ask for more than JSON_MAX_DEPTH. */
	assert_int_equal(parse_n(doc, 200, 200, 1000), JSON_ERR_DEPTH);
	assert_int_equal(parse_n(doc + 100 - JSON_MAX_DEPTH, 2 * JSON_MAX_DEPTH, 200, 1000),
			 JSON_MAX_DEPTH);
}

static void test_token_bound(void **state)
{
	(void)state;
	assert_int_equal(parse_n("[1,2,3]", 7, 4, 4), 4);
	assert_int_equal(parse_n("[1,2,3]", 7, 3, 4), JSON_ERR_TOKENS);
	assert_int_equal(parse_n("{\"a\":1}", 7, 2, 4), JSON_ERR_TOKENS);
	assert_int_equal(parse_n("1", 1, 0, 4), JSON_ERR_TOKENS);
}

/* Every proper prefix of a valid document is refused, and none reads past its end. */
static void test_every_prefix(void **state)
{
	const char *doc =
		"{\"type\":\"message\",\"text\":\"h\\u00e9 \\ud83d\\ude00\",\"n\":[-1.5e+3,"
		"true,false,null]}";
	size_t len = strlen(doc);
	(void)state;
	assert_true(parse(doc) > 0);
	for (size_t k = 0; k < len; k++) {
		int st = parse_n(doc, k, MAX_TOKENS, 16);
		if (st >= 0 && !(k > 0 && doc[k - 1] >= '0' && doc[k - 1] <= '9'))
			fail_msg("prefix of %zu accepted", k);
		assert_true(st < 0);
	}
}

static void test_writer_round_trip(void **state)
{
	char in[256], out[JSON_STRING_MAX(256)], back[256];
	size_t n;
	(void)state;
	for (int i = 0; i < 128; i++)
		in[i] = (char)i;
	memcpy(in + 128, "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80", 15);
	n = json_write_string(out, sizeof out, in, 143);
	assert_true(n > 0);
	assert_int_equal(parse_n(out, n, MAX_TOKENS, 4), 1);
	assert_int_equal(tok[0].jt_count, 143);
	assert_int_equal(json_string_decode(last_buf(n), &tok[0], back), 143);
	assert_memory_equal(back, in, 143);
	assert_int_equal(json_write_string(out, sizeof out, "a\"b", 3), 6);
	assert_memory_equal(out, "\"a\\\"b\"", 6);
	/* The worst case fits JSON_STRING_MAX exactly; one byte less does not. */
	assert_int_equal(json_write_string(out, JSON_STRING_MAX(3), "\x01\x02\x03", 3), 20);
	assert_int_equal(json_write_string(out, JSON_STRING_MAX(3) - 1, "\x01\x02\x03", 3), 0);
	assert_int_equal(json_write_string(out, 1, "", 0), 0);
	assert_int_equal(json_string_size(in, 143), json_write_string(out, sizeof out, in, 143));
	assert_int_equal(json_string_size("\x01\x02\x03", 3), 20);
	/* Exactly its size fits; one byte less does not. */
	n = json_string_size(in, 143);
	assert_int_equal(json_write_string(out, n, in, 143), n);
	assert_int_equal(json_write_string(out, n - 1, in, 143), 0);
	assert_int_equal(json_write_string(out, 2, "", 0), 2);
}

static void test_first_duplicate_key_wins(void **state)
{
	const char *doc = "{\"type\":\"a\",\"ty\\u0070e\":\"b\"}";
	(void)state;
	assert_int_equal(parse(doc), 5);
	assert_int_equal(json_object_get(last_buf(strlen(doc)), tok, 0, "type"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_layout),
		cmocka_unit_test(test_scalars_at_top),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_bad_escapes),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_token_bound),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_writer_round_trip),
		cmocka_unit_test(test_first_duplicate_key_wins),
	};
	int rc;

	guard_open(&g, 4096);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	guard_close(&g);
	return rc;
}
