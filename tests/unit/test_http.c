/*
 * Unit tests for http (include/http.h), in the manner of picohttpparser's own tests: every
 * input sits at the very end of a page followed by an unreadable guard page, so a parser
 * that looks one byte too far faults. Covers complete heads (CRLF and bare LF), every
 * incomplete prefix, malformed request and header lines, the header cap, and the lookup
 * helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "http.h"

static struct guard page;

static int setup(void **state)
{
	(void)state;
	guard_open(&page, 16384);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guard_close(&page);
	return 0;
}

/* Parses len bytes of s placed against the guard page. The slices in *req point into the
 * guarded copy, which stays valid until the next parse. */
static enum http_parse_status parse_n(const char *s, size_t len, struct http_request *req,
                                      size_t *consumed)
{
	const char *at = (const char *)guard_put(&page, s, len);
	return http_parse_request(at, len, req, consumed);
}

static enum http_parse_status parse(const char *s, struct http_request *req, size_t *consumed)
{
	return parse_n(s, strlen(s), req, consumed);
}

static void assert_slice(struct http_slice sl, const char *want)
{
	if (sl.s_len != strlen(want) || memcmp(sl.s_ptr, want, sl.s_len) != 0)
		fail_msg("slice \"%.*s\" != \"%s\"", (int)sl.s_len, sl.s_ptr, want);
}

static struct http_slice slice(const char *s)
{
	return (struct http_slice){s, strlen(s)};
}

static const char upgrade_crlf[] = "GET /chat HTTP/1.1\r\n"
                                   "Host: example.com:8080\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "\r\n";

static const char upgrade_lf[] = "GET /chat HTTP/1.1\n"
                                 "Host: example.com:8080\n"
                                 "Upgrade: websocket\n"
                                 "Connection: Upgrade\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
                                 "Sec-WebSocket-Version: 13\n"
                                 "\n";

static void check_upgrade_request(const struct http_request *req)
{
	assert_slice(req->rq_method, "GET");
	assert_slice(req->rq_target, "/chat");
	assert_int_equal(req->rq_version_minor, 1);
	assert_int_equal(req->rq_header_count, 5);
	assert_slice(req->rq_headers[0].h_name, "Host");
	assert_slice(req->rq_headers[0].h_value, "example.com:8080");
	assert_slice(req->rq_headers[1].h_name, "Upgrade");
	assert_slice(req->rq_headers[1].h_value, "websocket");
	assert_slice(req->rq_headers[2].h_name, "Connection");
	assert_slice(req->rq_headers[2].h_value, "Upgrade");
	assert_slice(req->rq_headers[3].h_name, "Sec-WebSocket-Key");
	assert_slice(req->rq_headers[3].h_value, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_slice(req->rq_headers[4].h_name, "Sec-WebSocket-Version");
	assert_slice(req->rq_headers[4].h_value, "13");
}

static void test_complete_crlf(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	assert_int_equal(parse(upgrade_crlf, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, strlen(upgrade_crlf));
	check_upgrade_request(&req);
	/* Slices point into the buffer that was parsed, not into a copy. */
	const char *buf = (const char *)page.g_map + page.g_room - strlen(upgrade_crlf);
	assert_ptr_equal(req.rq_method.s_ptr, buf);
	assert_ptr_equal(req.rq_target.s_ptr, buf + 4);
}

static void test_complete_bare_lf(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	assert_int_equal(parse(upgrade_lf, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, strlen(upgrade_lf));
	check_upgrade_request(&req);
}

static void test_mixed_line_ends(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	static const char s[] = "GET / HTTP/1.1\nHost: a\r\nX: y\n\r\n";
	(void)state;

	assert_int_equal(parse(s, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, strlen(s));
	assert_int_equal(req.rq_header_count, 2);
	assert_slice(req.rq_headers[1].h_value, "y");
}

static void test_no_headers_and_versions(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, 18);
	assert_int_equal(req.rq_version_minor, 0);
	assert_int_equal(req.rq_header_count, 0);
	assert_int_equal(parse("OPTIONS * HTTP/1.9\r\n\r\n", &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(req.rq_version_minor, 9);
	assert_slice(req.rq_method, "OPTIONS");
	assert_slice(req.rq_target, "*");
}

/* Every prefix of a valid head is INCOMPLETE (never an error, never a read past the end). */
static void test_every_prefix_incomplete(void **state)
{
	const char *const heads[] = {upgrade_crlf, upgrade_lf, "GET / HTTP/1.1\r\n\r\n",
	                             "GET /?q=a%20b HTTP/1.1\r\nX-Empty:\r\nX-Sp:  v  \r\n\r\n"};
	(void)state;

	for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
		size_t len = strlen(heads[h]);
		for (size_t cut = 0; cut < len; cut++) {
			struct http_request req;
			size_t consumed = 12345;
			enum http_parse_status st = parse_n(heads[h], cut, &req, &consumed);
			if (st != HTTP_PARSE_INCOMPLETE)
				fail_msg("head %zu, prefix of %zu bytes: status %d", h, cut, st);
		}
		struct http_request req;
		size_t consumed = 0;
		assert_int_equal(parse_n(heads[h], len, &req, &consumed), HTTP_PARSE_OK);
		assert_int_equal(consumed, len);
	}
}

/* With bytes after the head (a client that pipelines its first frame), *consumed is the
 * head's length, and the trailing bytes are not read as headers. */
static void test_consumed_with_trailing_bytes(void **state)
{
	char buf[256];
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	size_t head = strlen(upgrade_crlf);
	memcpy(buf, upgrade_crlf, head);
	memcpy(buf + head, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	assert_int_equal(parse_n(buf, head + 11, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, head);
	assert_int_equal(req.rq_header_count, 5);

	/* Even when what follows looks like a whole other request. */
	snprintf(buf, sizeof buf, "GET /a HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\nHost: y\n\n");
	assert_int_equal(parse(buf, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, 25);
	assert_slice(req.rq_target, "/a");
	assert_int_equal(req.rq_header_count, 1);
}

/* RFC 9112 section 2.2: an empty line before the request-line is ignored. */
static void test_leading_empty_line(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	assert_int_equal(parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &req, &consumed),
	                 HTTP_PARSE_OK);
	assert_int_equal(consumed, 29);
	assert_slice(req.rq_method, "GET");
	assert_int_equal(parse("\nGET / HTTP/1.1\nHost: a\n\n", &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(consumed, 25);
}

/* A bare CR is not a line end (RFC 9112 section 2.2: a recipient must treat a bare CR as
 * invalid or as SP, and a leading SP before the method is invalid too), including before
 * the request-line, where the parser skips an optional empty line. */
static void test_bare_cr_before_request_line(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	assert_int_equal(parse("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", &req, &consumed),
	                 HTTP_PARSE_BAD_REQUEST_LINE);
}

static void test_value_trimming(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	static const char s[] = "GET / HTTP/1.1\r\n"
	                        "A:   spaced   \r\n"
	                        "B:\t\ttabbed\t \r\n"
	                        "C:\r\n"
	                        "D:    \r\n"
	                        "E:inner  space\r\n"
	                        "F: caf\xc3\xa9\r\n" /* obs-text is allowed in values */
	                        "\r\n";
	(void)state;

	assert_int_equal(parse(s, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(req.rq_header_count, 6);
	assert_slice(req.rq_headers[0].h_value, "spaced");
	assert_slice(req.rq_headers[1].h_value, "tabbed");
	assert_slice(req.rq_headers[2].h_value, "");
	assert_slice(req.rq_headers[3].h_value, "");
	assert_slice(req.rq_headers[4].h_value, "inner  space");
	assert_slice(req.rq_headers[5].h_value, "caf\xc3\xa9");
}

static void test_lookup_case_insensitive(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	static const char s[] = "GET / HTTP/1.1\r\n"
	                        "host: one\r\n"
	                        "X-Dup: a\r\n"
	                        "x-dup: b\r\n"
	                        "X-DUP: c\r\n"
	                        "\r\n";
	(void)state;

	assert_int_equal(parse(s, &req, &consumed), HTTP_PARSE_OK);
	const struct http_header *h = http_find_header(&req, "HOST");
	assert_non_null(h);
	assert_slice(h->h_value, "one");
	assert_ptr_equal(http_find_header(&req, "Host"), &req.rq_headers[0]);
	/* The first of several. */
	h = http_find_header(&req, "x-Dup");
	assert_non_null(h);
	assert_slice(h->h_value, "a");
	assert_int_equal(http_count_headers(&req, "X-DUP"), 3);
	assert_int_equal(http_count_headers(&req, "host"), 1);
	assert_int_equal(http_count_headers(&req, "Upgrade"), 0);
	assert_null(http_find_header(&req, "Upgrade"));
	/* No prefix matches. */
	assert_null(http_find_header(&req, "hos"));
	assert_null(http_find_header(&req, "hostx"));
	assert_null(http_find_header(&req, "X-Du"));
}

/* A list may be split over several lines of the same header (RFC 9110 section 5.3): every
 * line and every element of each is looked at. */
static void test_headers_have_token(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	static const char s[] = "GET / HTTP/1.1\r\n"
	                        "Upgrade: h2c\r\n"
	                        "Connection: keep-alive\r\n"
	                        "upgrade: foo/1, WebSocket ,bar\r\n"
	                        "X-Other: websocket\r\n"
	                        "\r\n";
	(void)state;

	assert_int_equal(parse(s, &req, &consumed), HTTP_PARSE_OK);
	assert_true(http_headers_have_token(&req, "Upgrade", "websocket"));
	assert_true(http_headers_have_token(&req, "UPGRADE", "h2c"));
	assert_true(http_headers_have_token(&req, "upgrade", "bar"));
	assert_false(http_headers_have_token(&req, "Upgrade", "foo")); /* the token is foo/1 */
	assert_false(http_headers_have_token(&req, "Upgrade", "keep-alive"));
	assert_false(http_headers_have_token(&req, "Connection", "websocket"));
	assert_false(http_headers_have_token(&req, "Sec-WebSocket-Key", "websocket"));
}

static void test_slice_equals(void **state)
{
	(void)state;
	assert_true(http_slice_equals(slice("WebSocket"), "websocket"));
	assert_true(http_slice_equals(slice("websocket"), "WEBSOCKET"));
	assert_true(http_slice_equals(slice(""), ""));
	assert_false(http_slice_equals(slice("websocket"), "websockets"));
	assert_false(http_slice_equals(slice("websockets"), "websocket"));
	assert_false(http_slice_equals(slice("web"), "websocket"));
	/* Only ASCII letters fold: '@' (0x40) is not '`' (0x60), '[' is not '{'. */
	assert_false(http_slice_equals(slice("@"), "`"));
	assert_false(http_slice_equals(slice("["), "{"));
	/* The slice's length counts, not a NUL. */
	assert_true(http_slice_equals((struct http_slice){"GETX", 3}, "get"));
}

static void test_list_has_token(void **state)
{
	(void)state;
	assert_true(http_list_has_token(slice("keep-alive, Upgrade"), "upgrade"));
	assert_true(http_list_has_token(slice("Upgrade, keep-alive"), "upgrade"));
	assert_true(http_list_has_token(slice(" upgrade "), "upgrade"));
	assert_true(http_list_has_token(slice("UPGRADE"), "upgrade"));
	assert_true(http_list_has_token(slice("a,upgrade,b"), "upgrade"));
	assert_true(http_list_has_token(slice("a ,\tupgrade\t, b"), "upgrade"));
	assert_true(http_list_has_token(slice(",,upgrade,,"), "upgrade"));
	assert_false(http_list_has_token(slice("Upgrade2"), "upgrade"));
	assert_false(http_list_has_token(slice("xupgrade"), "upgrade"));
	assert_false(http_list_has_token(slice("upgrad"), "upgrade"));
	assert_false(http_list_has_token(slice("keep-alive"), "upgrade"));
	assert_false(http_list_has_token(slice(""), "upgrade"));
	assert_false(http_list_has_token(slice(" , ,"), "upgrade"));
	assert_false(http_list_has_token(slice("up grade"), "upgrade"));
	/* The value's length bounds the search, not a NUL. */
	assert_false(
	    http_list_has_token((struct http_slice){"keep-alive, upgrade", 11}, "upgrade"));
	assert_true(http_list_has_token((struct http_slice){"upgradeX", 7}, "upgrade"));
}

struct bad_case {
	const char *bc_input;
	size_t bc_len; /* 0: strlen */
	enum http_parse_status bc_want;
	const char *bc_what;
};

static const struct bad_case bad_cases[] = {
    /* Request lines. */
    {"GET /\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "missing version"},
    {"GET / \r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "empty version"},
    {"GET\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "method only"},
    {"GET / HTTP/2.0\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "HTTP/2.0"},
    {"GET / HTTP/1.1x\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "junk after version"},
    {"GET / HTTP/1.\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "no minor version"},
    {"GET / HTTP/1.x\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "non-digit minor"},
    {"GET / http/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "lowercase http"},
    {"GET / HTTP/1.1 \r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "trailing space"},
    {"GET  / HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "double space"},
    {"GET /  HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "double space 2"},
    {" GET / HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "leading space"},
    {"GET\t/ HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "tab separator"},
    {"GET /a\x01 HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "control char in target"},
    {"GET /a\x7f HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "DEL in target"},
    {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "raw UTF-8 in target"},
    {"GET /a\0 HTTP/1.1\r\n\r\n", 20, HTTP_PARSE_BAD_REQUEST_LINE, "NUL in target"},
    {"G(T / HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "non-token method"},
    {"\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "two empty lines"},
    {"GET / HTTP/1.1\r\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "CR CR LF"},
    {"GET /\rX HTTP/1.1\r\n\r\n", 0, HTTP_PARSE_BAD_REQUEST_LINE, "bare CR in line"},
    /* Header lines. */
    {"GET / HTTP/1.1\r\nHost\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "no colon"},
    {"GET / HTTP/1.1\r\nHost example.com\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "no colon 2"},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "space before colon"},
    {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "tab before colon"},
    {"GET / HTTP/1.1\r\n: a\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "empty name"},
    {"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "non-token name"},
    {"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "obs-fold space"},
    {"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "obs-fold tab"},
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "first header folded"},
    {"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26, HTTP_PARSE_BAD_HEADER, "NUL in value"},
    {"GET / HTTP/1.1\r\nX: a\x01 b\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "SOH in value"},
    {"GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "ESC in value"},
    {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "DEL in value"},
    {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "CR inside value"},
    {"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 0, HTTP_PARSE_BAD_HEADER, "CR CR LF"},
    {"GET / HTTP/1.1\r\nX: a\r\n\rY\r\n", 0, HTTP_PARSE_BAD_HEADER, "CR then text"},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];
		size_t len = bc->bc_len ? bc->bc_len : strlen(bc->bc_input);
		struct http_request req;
		size_t consumed = 0;
		enum http_parse_status st = parse_n(bc->bc_input, len, &req, &consumed);
		if (st != bc->bc_want)
			fail_msg("%s: status %d, want %d", bc->bc_what, st, bc->bc_want);
	}
}

/* A CR followed by anything but LF is an error as soon as the byte after it arrives, before
 * the line ends; a CR that is the last byte so far may still be followed by LF. */
static void test_bare_cr_reported_early(void **state)
{
	struct http_request req;
	size_t consumed;
	(void)state;

	assert_int_equal(parse("GET / HTTP/1.1\r\nX: a\rb", &req, &consumed),
	                 HTTP_PARSE_BAD_HEADER);
	assert_int_equal(parse("GET / HTTP/1.1\r\nX: a\r", &req, &consumed), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse("GET / HTTP/1.1\rX", &req, &consumed), HTTP_PARSE_BAD_REQUEST_LINE);
}

/* Binary garbage (a TLS ClientHello, say) is refused at once, without waiting for a newline
 * that may never come. */
static void test_binary_garbage_rejected_early(void **state)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	struct http_request req;
	size_t consumed;
	(void)state;

	for (size_t len = 1; len < sizeof hello; len++) {
		enum http_parse_status st = parse_n(hello, len, &req, &consumed);
		if (st != HTTP_PARSE_BAD_REQUEST_LINE)
			fail_msg("%zu bytes of a TLS hello: status %d", len, st);
	}
	assert_int_equal(parse("\x80", &req, &consumed), HTTP_PARSE_BAD_REQUEST_LINE);
	assert_int_equal(parse("GE\x01", &req, &consumed), HTTP_PARSE_BAD_REQUEST_LINE);
	/* A plausible method is still just incomplete. */
	assert_int_equal(parse("GET", &req, &consumed), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse("GET /", &req, &consumed), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse("", &req, &consumed), HTTP_PARSE_INCOMPLETE);
}

static size_t build_headers(char *buf, size_t cap, size_t count)
{
	size_t n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");
	for (size_t i = 0; i < count; i++)
		n += (size_t)snprintf(buf + n, cap - n, "X-H%zu: v%zu\r\n", i, i);
	n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	assert_true(n < cap);
	return n;
}

static void test_header_cap(void **state)
{
	char buf[4096];
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	size_t n = build_headers(buf, sizeof buf, HTTP_MAX_HEADERS);
	assert_int_equal(parse_n(buf, n, &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(req.rq_header_count, HTTP_MAX_HEADERS);
	assert_int_equal(consumed, n);
	assert_slice(req.rq_headers[HTTP_MAX_HEADERS - 1].h_name, "X-H63");

	n = build_headers(buf, sizeof buf, HTTP_MAX_HEADERS + 1);
	assert_int_equal(parse_n(buf, n, &req, &consumed), HTTP_PARSE_TOO_MANY_HEADERS);
	n = build_headers(buf, sizeof buf, HTTP_MAX_HEADERS + 20);
	assert_int_equal(parse_n(buf, n, &req, &consumed), HTTP_PARSE_TOO_MANY_HEADERS);
}

/* The parser keeps no state: a failed or incomplete parse does not affect the next one. */
static void test_stateless(void **state)
{
	struct http_request req;
	size_t consumed = 0;
	(void)state;

	assert_int_equal(parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n", &req, &consumed),
	                 HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &req, &consumed), HTTP_PARSE_OK);
	assert_int_equal(req.rq_header_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_complete_crlf),
	    cmocka_unit_test(test_complete_bare_lf),
	    cmocka_unit_test(test_mixed_line_ends),
	    cmocka_unit_test(test_no_headers_and_versions),
	    cmocka_unit_test(test_every_prefix_incomplete),
	    cmocka_unit_test(test_consumed_with_trailing_bytes),
	    cmocka_unit_test(test_leading_empty_line),
	    cmocka_unit_test(test_bare_cr_before_request_line),
	    cmocka_unit_test(test_value_trimming),
	    cmocka_unit_test(test_lookup_case_insensitive),
	    cmocka_unit_test(test_headers_have_token),
	    cmocka_unit_test(test_slice_equals),
	    cmocka_unit_test(test_list_has_token),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_bare_cr_reported_early),
	    cmocka_unit_test(test_binary_garbage_rejected_early),
	    cmocka_unit_test(test_header_cap),
	    cmocka_unit_test(test_stateless),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
