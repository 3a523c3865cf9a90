/*
 * Unit tests for handshake (include/handshake.h) and http_response (include/http_response.h):
 * Sec-WebSocket-Accept, what each request gets answered (RFC 6455 section 4.2.1 for
 * upgrades, the origin policy, rooms; the page, the health and per-room count endpoints,
 * 404 and 405 for plain requests; /metrics and /stats on the admin listener only; request
 * targets in origin- and absolute-form), and the exact bytes of the responses.
 * Requests are written as raw text and parsed with http.c, as the server does.
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

#include "handshake.h"
#include "http.h"
#include "http_response.h"

#define RFC_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* --- Sec-WebSocket-Accept ----------------------------------------------------------------- */

/* handshake_init checks SHA-1 against the RFC's example before any client comes. */
static void test_init(void **state)
{
	(void)state;
	assert_true(handshake_init());
	assert_true(handshake_init()); /* harmless twice */
}

static void test_accept_key_rfc_example(void **state)
{
	char out[HANDSHAKE_ACCEPT_LEN + 1];
	(void)state;

	memset(out, 'X', sizeof out);
	assert_true(handshake_accept_key(RFC_KEY, strlen(RFC_KEY), out));
	assert_string_equal(out, RFC_ACCEPT);
	/* A second known pair (computed with Python's hashlib and base64). */
	assert_true(handshake_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out));
	assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	/* Only key_len bytes are read: the key need not be NUL-terminated. */
	assert_true(handshake_accept_key(RFC_KEY "trailing junk", 24, out));
	assert_string_equal(out, RFC_ACCEPT);
}

static void test_accept_key_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "dGhlIHNhbXBsZSBub25jZQ=",    /* 23 characters */
	    "dGhlIHNhbXBsZSBub25jZQ===",  /* 25 */
	    "dGhlIHNhbXBsZSBub25jZQ",     /* no padding */
	    "dGhlIHNhbXBsZSBub25j",       /* 15 bytes: 20 characters */
	    "AAAAAAAAAAAAAAAAAAAAAAA=",   /* 17 bytes: one '=' */
	    "AAAAAAAAAAAAAAAAAAAAAAAA",   /* 18 bytes: no '=' */
	    "dGhlIHNhbXBsZSBub25j!Q==",   /* not base64 */
	    "!GhlIHNhbXBsZSBub25jZQ==",   /* ...in the first position */
	    "dGhlIHNhbXBsZSBub25jZ!==",   /* ...in the last position before the padding */
	    "dGhlIHNhbXBsZSBub25 jZQ==",  /* space inside */
	    "dGhlIHNhbXBsZSBub25\tjZQ==", /* tab inside */
	    "dGhlIHNhbXBsZSBub25jZQ=A",   /* '=' in the middle of the padding */
	    "=GhlIHNhbXBsZSBub25jZQ==",   /* '=' at the start */
	    "dGhlIHNhbXBsZSBub25j-_==",   /* base64url alphabet */
	    "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==", /* twice */
	    /* Non-zero padding bits: the 22nd character must be one of A, Q, g, w. */
	    "AAAAAAAAAAAAAAAAAAAAAB==",
	    "AAAAAAAAAAAAAAAAAAAAAP==",
	    "AAAAAAAAAAAAAAAAAAAAAR==",
	    "AAAAAAAAAAAAAAAAAAAAA/==",
	    "dGhlIHNhbXBsZSBub25jZR==", /* the RFC's key with one padding bit set */
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char out[HANDSHAKE_ACCEPT_LEN + 1];
		if (handshake_accept_key(bad[i], strlen(bad[i]), out))
			fail_msg("accepted key \"%s\"", bad[i]);
	}
	/* The four canonical endings are accepted. */
	for (const char *end = "AQgw"; *end != '\0'; end++) {
		char key[25] = "AAAAAAAAAAAAAAAAAAAAAA==", out[HANDSHAKE_ACCEPT_LEN + 1];
		key[21] = *end;
		assert_true(handshake_accept_key(key, 24, out));
	}
	/* A NUL inside the 24 bytes is not base64 either. */
	char out[HANDSHAKE_ACCEPT_LEN + 1];
	assert_false(handshake_accept_key("dGhlIHNhbXBsZSBub25j\0Q==", 24, out));
}

/* --- handshake_answer --------------------------------------------------------------------- */

static struct http_slice slice(const char *s)
{
	return (struct http_slice){s, strlen(s)};
}

static void assert_slice(struct http_slice sl, const char *want)
{
	if (sl.s_len != strlen(want) || memcmp(sl.s_ptr, want, sl.s_len) != 0)
		fail_msg("slice \"%.*s\" != \"%s\"", (int)sl.s_len, sl.s_ptr, want);
}

static char request_buf[4096];

static const struct handshake_policy any_origin = {.hp_admin = false};
static const struct handshake_policy admin_listener = {.hp_admin = true};
static const struct handshake_policy *policy = &any_origin;

/* Parses a raw request (which must be a complete head) and answers it under *policy. */
static void answer(const char *raw, struct handshake_answer *a)
{
	static struct http_request req; /* static: the slices point into request_buf */
	size_t consumed;
	size_t len = strlen(raw);

	assert_true(len < sizeof request_buf);
	memcpy(request_buf, raw, len);
	enum http_parse_status st = http_parse_request(request_buf, len, &req, &consumed);
	if (st != HTTP_PARSE_OK)
		fail_msg("test request does not parse (%d): %s", st, raw);
	memset(a, 0x7E, sizeof *a);
	handshake_answer(&req, policy, a);
}

static void expect_answer(const char *raw, enum handshake_kind kind, int status)
{
	struct handshake_answer a;
	answer(raw, &a);
	if (a.ha_kind != kind || a.ha_status != status)
		fail_msg("kind %d status %d, want kind %d status %d for:\n%s", a.ha_kind,
		         a.ha_status, kind, status, raw);
	assert_non_null(a.ha_reason);
	assert_true(strlen(a.ha_reason) > 0);
}

#define UPGRADE_TAIL                                                                               \
	"Sec-WebSocket-Key: " RFC_KEY "\r\n"                                                       \
	"Sec-WebSocket-Version: 13\r\n"                                                            \
	"\r\n"

static void test_valid_upgrade(void **state)
{
	struct handshake_answer a;
	(void)state;

	answer("GET / HTTP/1.1\r\n"
	       "Host: localhost:8080\r\n"
	       "Upgrade: websocket\r\n"
	       "Connection: Upgrade\r\n" UPGRADE_TAIL,
	       &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_UPGRADE);
	assert_int_equal(a.ha_status, 101);
	assert_string_equal(a.ha_accept, RFC_ACCEPT);
	assert_false(a.ha_head_only);
	assert_slice(a.ha_room, "/");
}

/* What real clients send: names and tokens in any case, extra tokens and headers. */
static void test_upgrade_variants(void **state)
{
	static const char *const ok[] = {
	    "GET / HTTP/1.1\r\nhost: a\r\nupgrade: WebSocket\r\nconnection: upgrade\r\n"
	    "sec-websocket-key: " RFC_KEY "\r\nsec-websocket-version: 13\r\n\r\n",
	    "GET / HTTP/1.1\r\nHOST: a\r\nUPGRADE: WEBSOCKET\r\nCONNECTION: UPGRADE\r\n"
	    "SEC-WEBSOCKET-KEY: " RFC_KEY "\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n",
	    /* Firefox */
	    "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\n"
	    "Sec-WebSocket-Version: 13\r\nOrigin: http://a\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
	    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade, "
	    "keep-alive\r\n" UPGRADE_TAIL,
	    /* Connection given twice, the token in the second. */
	    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
	    "Connection: Upgrade\r\n" UPGRADE_TAIL,
	    /* A later HTTP/1.x minor version. */
	    "GET / HTTP/1.2\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	    "Upgrade\r\n" UPGRADE_TAIL,
	    /* A query string. */
	    "GET /?room=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	    "Upgrade\r\n" UPGRADE_TAIL,
	    /* websocket in a later Upgrade header, or as a later token of one. */
	    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n" UPGRADE_TAIL,
	    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n"
	    "Connection: Upgrade\r\n" UPGRADE_TAIL,
	    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, foo/2 ,WebSocket\r\n"
	    "Connection: Upgrade\r\n" UPGRADE_TAIL,
	    /* Absolute-form (RFC 9112 section 3.2.2); the Host value does not matter. */
	    "GET http://a/ HTTP/1.1\r\nHost: elsewhere\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n" UPGRADE_TAIL,
	    "GET HTTPS://a:8443 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n" UPGRADE_TAIL,
	};
	(void)state;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct handshake_answer a;
		answer(ok[i], &a);
		if (a.ha_kind != HANDSHAKE_UPGRADE || a.ha_status != 101)
			fail_msg("variant %zu: kind %d status %d (%s)", i, a.ha_kind, a.ha_status,
			         a.ha_reason);
		assert_string_equal(a.ha_accept, RFC_ACCEPT);
	}
}

static void test_upgrade_refusals(void **state)
{
	(void)state;
	/* Missing Host. */
	expect_answer(
	    "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" UPGRADE_TAIL,
	    HANDSHAKE_REFUSE, 400);
	/* Two Host headers. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\n"
	              "Connection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* Missing Upgrade (the key and version still make it an upgrade attempt). */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* Upgrade to something else. */
	expect_answer(
	    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" UPGRADE_TAIL,
	    HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websockets\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nUpgrade: web socket\r\n"
	              "Connection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* Sec-WebSocket-Version twice, even both 13: malformed (section 11.3.5), not 426. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
	              "Sec-WebSocket-Version: 13\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 8\r\n"
	              "Sec-WebSocket-Version: 13\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
	/* A key whose padding bits are not zero. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
	/* Absolute-form with an empty host, userinfo, or another scheme. */
	expect_answer("GET http:///x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	              "Connection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET http://u@a/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	              "Connection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET ws://a/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	              "Connection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* Absolute-form still needs exactly one Host header. */
	expect_answer("GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\n"
	              "Connection: Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* No Connection header, or one without the Upgrade token. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "keep-alive\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgraded\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* No key, a bad key, two keys. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Version: 13\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: " RFC_KEY "\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* No version: 400; a version other than 13: 426 (section 4.4). */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
	              HANDSHAKE_REFUSE, 426);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	              "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 14\r\n\r\n",
	              HANDSHAKE_REFUSE, 426);
	/* A POST with every upgrade header. */
	expect_answer("POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 405);
	/* HTTP/1.0 cannot upgrade. */
	expect_answer("GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	/* Only the Sec-WebSocket-Version header: still judged as an upgrade. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13\r\n\r\n",
	              HANDSHAKE_REFUSE, 400);
}

static void test_plain_requests(void **state)
{
	struct handshake_answer a;
	(void)state;

	answer("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_PAGE);
	assert_int_equal(a.ha_status, 200);
	assert_false(a.ha_head_only);

	answer("GET /?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_PAGE);
	assert_int_equal(a.ha_status, 200);

	answer("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_PAGE);
	assert_int_equal(a.ha_status, 200);
	assert_true(a.ha_head_only);

	/* Connection: keep-alive alone is not an upgrade attempt. */
	answer("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_PAGE);

	/* HTTP/1.0 needs no Host. */
	answer("GET / HTTP/1.0\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_PAGE);

	/* Every valid room path serves the page too, so a room's link can be shared. */
	expect_answer("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET /lobby?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	/* A path that cannot be a room is not found. */
	expect_answer("GET /a/b HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET //x HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET /%41 HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	/* ... and the answer says what a room may be: a room typed in the address bar. */
	answer("GET /my%20room HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_status, 404);
	assert_non_null(strstr(a.ha_reason, "not a room (a room is / or / and up to 63 of"));
	/* Absolute-form targets name the same paths (RFC 9112 section 3.2.2). */
	expect_answer("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET http://a?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET http://a:1/lobby HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET http://a/healthz HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_HEALTHZ, 200);
	expect_answer("GET http://a/a/b HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET http://a/ HTTP/1.0\r\n\r\n", HANDSHAKE_PAGE, 200);
	/* Neither origin- nor absolute-form: 400. */
	expect_answer("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 400);
	expect_answer("GET * HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 400);
	expect_answer("GET mailto:a@b HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 400);
	/* An Upgrade other than websocket is ignored (RFC 9110 section 7.8). */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
	              HANDSHAKE_PAGE, 200);
	expect_answer("GET /healthz HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, TLS/1.2\r\n\r\n",
	              HANDSHAKE_HEALTHZ, 200);
	expect_answer("HEAD /a/b HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", HANDSHAKE_REFUSE,
	              405);
	expect_answer("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 405);
	expect_answer("PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 405);
	/* HTTP/1.1 without Host. */
	expect_answer("GET / HTTP/1.1\r\n\r\n", HANDSHAKE_REFUSE, 400);
}

static void test_endpoints(void **state)
{
	struct handshake_answer a;
	(void)state;

	expect_answer("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_HEALTHZ, 200);
	expect_answer("GET /healthz?probe=1 HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_HEALTHZ, 200);
	/* The public listener never serves /metrics or /stats, nor the page of rooms so named. */
	expect_answer("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET /stats HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("HEAD /stats?x HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	/* A room's count: that room and no other. */
	answer("GET /online/lobby HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_ONLINE);
	assert_int_equal(a.ha_status, 200);
	assert_slice(a.ha_room, "/lobby");
	answer("HEAD /online/?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_ONLINE);
	assert_slice(a.ha_room, "/");
	assert_true(a.ha_head_only);
	expect_answer("GET /online HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET /online/a/b HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET /online//x HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET /onlinex HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	/* Paths are case-sensitive: /Healthz is just a room. */
	expect_answer("GET /Healthz HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_PAGE, 200);
	expect_answer("GET /healthz/ HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	/* Browsers ask for /favicon.ico themselves: no chat page for it. */
	expect_answer("GET /favicon.ico HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("HEAD /favicon.ico HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("POST /healthz HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 405);

	/* The admin listener: its three endpoints and nothing else. */
	policy = &admin_listener;
	expect_answer("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_METRICS, 200);
	expect_answer("GET /stats HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_STATS, 200);
	expect_answer("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_HEALTHZ, 200);
	expect_answer("GET http://a/metrics HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_METRICS, 200);
	answer("HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_METRICS);
	assert_true(a.ha_head_only);
	answer("GET /stats HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_false(a.ha_head_only);
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("GET /online/ HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 404);
	expect_answer("POST /metrics HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 405);
	expect_answer("GET /metrics HTTP/1.1\r\n\r\n", HANDSHAKE_REFUSE, 400);
	/* No WebSocket there: the upgrade headers are ignored. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 404);
	expect_answer("GET /stats HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_STATS, 200);
	policy = &any_origin;
}

/* The target's path and authority (RFC 9112 sections 3.2 and 3.2.3). */
static void test_split_target(void **state)
{
	static const struct {
		const char *target, *path, *authority; /* path NULL: refused */
	} cases[] = {
	    {"/", "/", ""},
	    {"/lobby?x=1", "/lobby", ""},
	    {"/?", "/", ""},
	    {"http://a/", "/", "a"},
	    {"http://a", "/", "a"},
	    {"http://a?q", "/", "a"},
	    {"HtTp://a:80/x/y?z", "/x/y", "a:80"},
	    {"https://[::1]:8443/r", "/r", "[::1]:8443"},
	    {"http://", NULL, NULL},
	    {"http:///", NULL, NULL},
	    {"http://:80/", NULL, NULL},
	    {"http://u:p@a/", NULL, NULL},
	    {"http:/a", NULL, NULL},
	    {"ws://a/", NULL, NULL},
	    {"a/b", NULL, NULL},
	    {"*", NULL, NULL},
	    {"", NULL, NULL},
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct http_slice path = {NULL, 0}, authority = {NULL, 0};
		bool ok = handshake_split_target(slice(cases[i].target), &path, &authority);
		if (ok != (cases[i].path != NULL))
			fail_msg("\"%s\": %s", cases[i].target, ok ? "accepted" : "refused");
		if (!ok)
			continue;
		assert_slice(path, cases[i].path);
		assert_slice(authority, cases[i].authority);
	}
}

/* The authority is the absolute-form target's, or else the Host header's. */
static void test_authority(void **state)
{
	struct handshake_answer a;
	(void)state;

	answer("GET /x HTTP/1.1\r\nHost: chat.example:8080\r\n\r\n", &a);
	assert_slice(a.ha_authority, "chat.example:8080");
	answer("GET http://other.example/x HTTP/1.1\r\nHost: chat.example\r\n\r\n", &a);
	assert_slice(a.ha_authority, "other.example");
	answer("GET / HTTP/1.0\r\n\r\n", &a);
	assert_int_equal(a.ha_authority.s_len, 0);
}

static void test_room_valid(void **state)
{
	char longest[65], too_long[66];
	(void)state;

	assert_true(handshake_room_valid(slice("/")));
	assert_true(handshake_room_valid(slice("/a")));
	assert_true(handshake_room_valid(slice("/Az09._~-")));
	assert_false(handshake_room_valid(slice("")));
	assert_false(handshake_room_valid(slice("a")));
	assert_false(handshake_room_valid(slice("//")));
	assert_false(handshake_room_valid(slice("/a/b")));
	assert_false(handshake_room_valid(slice("/a?b")));
	assert_false(handshake_room_valid(slice("/a%20b")));
	assert_false(handshake_room_valid(slice("/caf\xc3\xa9")));
	assert_false(handshake_room_valid(slice("/a+b")));
	longest[0] = '/';
	memset(longest + 1, 'r', 63);
	longest[64] = '\0';
	assert_true(handshake_room_valid(slice(longest)));
	too_long[0] = '/';
	memset(too_long + 1, 'r', 64);
	too_long[65] = '\0';
	assert_false(handshake_room_valid(slice(too_long)));
	/* The slice's length counts, not a NUL. */
	assert_true(handshake_room_valid((struct http_slice){"/ok/not", 3}));
}

/* The upgrade's path names the room; the query is not part of it. */
static void test_upgrade_rooms(void **state)
{
	struct handshake_answer a;
	(void)state;

	answer("GET /lobby HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	       "Upgrade\r\n" UPGRADE_TAIL,
	       &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_UPGRADE);
	assert_slice(a.ha_room, "/lobby");
	answer("GET /r-1?token=x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	       "Connection: Upgrade\r\n" UPGRADE_TAIL,
	       &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_UPGRADE);
	assert_slice(a.ha_room, "/r-1");
	answer("GET /?x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	       "Upgrade\r\n" UPGRADE_TAIL,
	       &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_UPGRADE);
	assert_slice(a.ha_room, "/");
	/* An upgrade to a path that is no room is a bad request. */
	expect_answer("GET /a/b HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
	expect_answer("GET * HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 400);
}

static void test_origin_policy(void **state)
{
	static const char *const origins[] = {"https://chat.example", "http://localhost:8080"};
	static const struct handshake_policy only = {.hp_origins = origins, .hp_origin_count = 2};
	static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	                           "Connection: Upgrade\r\n";
	char raw[1024];
	(void)state;

	policy = &only;
	snprintf(raw, sizeof raw, "%sOrigin: https://chat.example\r\n%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_UPGRADE, 101);
	snprintf(raw, sizeof raw, "%sOrigin: http://localhost:8080\r\n%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_UPGRADE, 101);
	snprintf(raw, sizeof raw, "%sOrigin: https://evil.example\r\n%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_REFUSE, 403);
	snprintf(raw, sizeof raw, "%sOrigin: https://chat.example.evil\r\n%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_REFUSE, 403);
	snprintf(raw, sizeof raw, "%sOrigin: null\r\n%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_REFUSE, 403);
	/* No Origin, or two, with a policy: refused. */
	snprintf(raw, sizeof raw, "%s%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_REFUSE, 403);
	snprintf(raw, sizeof raw,
	         "%sOrigin: https://chat.example\r\nOrigin: https://evil.example\r\n%s", head,
	         UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_REFUSE, 403);
	/* A malformed upgrade still gets its precise 400, whatever its origin. */
	snprintf(raw, sizeof raw,
	         "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nOrigin: https://evil.example"
	         "\r\n%s",
	         UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_REFUSE, 400);
	/* The policy is about upgrades; the page is served to anyone. */
	expect_answer("GET / HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n\r\n",
	              HANDSHAKE_PAGE, 200);
	policy = &any_origin;
	snprintf(raw, sizeof raw, "%sOrigin: https://evil.example\r\n%s", head, UPGRADE_TAIL);
	expect_answer(raw, HANDSHAKE_UPGRADE, 101);
}

/* Methods are case-sensitive (RFC 9110 section 9.1): "get" is not GET and "head" is not
 * HEAD, so neither gets the page (nor, for "get", an upgrade). */
static void test_method_is_case_sensitive(void **state)
{
	(void)state;
	expect_answer("get / HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 405);
	expect_answer("head / HTTP/1.1\r\nHost: a\r\n\r\n", HANDSHAKE_REFUSE, 405);
	expect_answer("get / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	              "Upgrade\r\n" UPGRADE_TAIL,
	              HANDSHAKE_REFUSE, 405);
}

static void test_format_upgrade(void **state)
{
	static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
	                           "Upgrade: websocket\r\n"
	                           "Connection: Upgrade\r\n"
	                           "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
	                           "\r\n";
	struct handshake_answer a;
	char buf[512];
	(void)state;

	answer("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
	       "Upgrade\r\n" UPGRADE_TAIL,
	       &a);
	assert_int_equal(a.ha_kind, HANDSHAKE_UPGRADE);
	size_t n = handshake_format_upgrade(&a, buf, sizeof buf);
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(buf, want, n);

	/* Too small: 0, and nothing written past cap. */
	for (size_t cap = 0; cap < sizeof want - 1; cap++) {
		memset(buf, '#', sizeof buf);
		if (handshake_format_upgrade(&a, buf, cap) != 0)
			fail_msg("cap %zu: nonzero", cap);
		for (size_t k = cap; k < sizeof buf; k++)
			if (buf[k] != '#')
				fail_msg("cap %zu: byte %zu written", cap, k);
	}
	/* Room for the response and a NUL is enough. */
	assert_int_equal(handshake_format_upgrade(&a, buf, sizeof want), sizeof want - 1);
}

/* --- http_response ------------------------------------------------------------------------ */

static void test_status_text(void **state)
{
	(void)state;
	assert_string_equal(http_status_text(101), "Switching Protocols");
	assert_string_equal(http_status_text(200), "OK");
	assert_string_equal(http_status_text(400), "Bad Request");
	assert_string_equal(http_status_text(404), "Not Found");
	assert_string_equal(http_status_text(405), "Method Not Allowed");
	assert_string_equal(http_status_text(426), "Upgrade Required");
	assert_string_equal(http_status_text(431), "Request Header Fields Too Large");
	assert_string_equal(http_status_text(503), "Service Unavailable");
	assert_non_null(http_status_text(599));
}

/* Splits a response into head and body and checks what every response must have. Returns
 * the head (NUL-terminated copy in head_out). */
static void check_response(const char *resp, size_t len, int status, const char *body,
                           char *head_out, size_t head_cap)
{
	char status_line[128];
	const char *blank = strstr(resp, "\r\n\r\n");

	assert_non_null(blank);
	size_t head_len = (size_t)(blank - resp) + 4;
	assert_true(head_len < head_cap);
	memcpy(head_out, resp, head_len);
	head_out[head_len] = '\0';

	snprintf(status_line, sizeof status_line, "HTTP/1.1 %d %s\r\n", status,
	         http_status_text(status));
	assert_memory_equal(resp, status_line, strlen(status_line));
	assert_non_null(strstr(head_out, "\r\nConnection: close\r\n"));

	/* Content-Length says exactly how long the body is, and the body is all that follows. */
	const char *cl = strstr(head_out, "\r\nContent-Length: ");
	assert_non_null(cl);
	size_t content_length = strtoul(cl + 18, NULL, 10);
	assert_int_equal(content_length, len - head_len);
	assert_int_equal(len - head_len, strlen(body));
	assert_memory_equal(resp + head_len, body, strlen(body));
	/* Every header line ends in CRLF: no bare LF in the head. */
	for (size_t i = 0; i < head_len; i++)
		if (head_out[i] == '\n')
			assert_true(i > 0 && head_out[i - 1] == '\r');
}

static void test_error_responses(void **state)
{
	struct {
		int status;
		const char *header; /* a header the status needs, or NULL */
	} cases[] = {
	    {400, NULL},          {404, NULL},
	    {405, "\r\nAllow: "}, {426, "\r\nSec-WebSocket-Version: 13\r\n"},
	    {431, NULL},          {503, NULL},
	};
	char buf[1024], head[1024], body[128];
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *reason = "the reason, with some words";
		size_t n = http_response_error(buf, sizeof buf, cases[i].status, reason);
		assert_true(n > 0 && n < sizeof buf);
		snprintf(body, sizeof body, "%s\n", reason);
		check_response(buf, n, cases[i].status, body, head, sizeof head);
		if (cases[i].header != NULL && strstr(head, cases[i].header) == NULL)
			fail_msg("%d: no \"%s\" in:\n%s", cases[i].status, cases[i].header + 2,
			         head);
		if (cases[i].status == 405) {
			/* Allow lists what the server does accept. */
			const char *allow = strstr(head, "\r\nAllow: ");
			const char *eol = strstr(allow + 2, "\r\n");
			assert_non_null(eol);
			assert_true(memmem(allow, (size_t)(eol - allow), "GET", 3) != NULL);
		}
		if (cases[i].status != 405)
			assert_null(strstr(head, "\r\nAllow:"));
		if (cases[i].status != 426)
			assert_null(strstr(head, "Sec-WebSocket-Version"));
	}
	/* An empty reason still has its newline. */
	size_t n = http_response_error(buf, sizeof buf, 400, "");
	check_response(buf, n, 400, "\n", head, sizeof head);
}

static void test_error_response_buffer_too_small(void **state)
{
	char buf[1024];
	int statuses[] = {400, 405, 426, 431, 503};
	(void)state;

	for (size_t s = 0; s < sizeof statuses / sizeof statuses[0]; s++) {
		size_t full = http_response_error(buf, sizeof buf, statuses[s], "why");
		assert_true(full > 0);
		for (size_t cap = 0; cap < full; cap++) {
			memset(buf, '#', sizeof buf);
			if (http_response_error(buf, cap, statuses[s], "why") != 0)
				fail_msg("%d with cap %zu of %zu: nonzero", statuses[s], cap, full);
			for (size_t k = cap; k < sizeof buf; k++)
				if (buf[k] != '#')
					fail_msg("%d with cap %zu: byte %zu written", statuses[s],
					         cap, k);
		}
		assert_int_equal(http_response_error(buf, full + 1, statuses[s], "why"), full);
	}
}

static void test_response_head(void **state)
{
	char buf[512], head[512];
	(void)state;

	size_t n = http_response_head(buf, sizeof buf, 200, "text/html; charset=utf-8", 0, NULL);
	assert_true(n > 0);
	check_response(buf, n, 200, "", head, sizeof head);
	assert_non_null(strstr(head, "\r\nContent-Type: text/html; charset=utf-8\r\n"));

	n = http_response_head(buf, sizeof buf, 200, "text/plain", 12345,
	                       "X-One: 1\r\nX-Two: 2\r\n");
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\r\nContent-Length: 12345\r\n"));
	assert_non_null(strstr(buf, "\r\nX-One: 1\r\nX-Two: 2\r\n"));
	assert_int_equal(memcmp(buf + n - 4, "\r\n\r\n", 4), 0);
	assert_int_equal(strstr(buf, "\r\n\r\n") - buf, (long)n - 4);

	assert_int_equal(http_response_head(buf, 10, 200, "text/plain", 0, NULL), 0);
}

/* Section 4.2.2 item 5.4: the first subprotocol the client offers that the server has,
 * across every Sec-WebSocket-Protocol header, compared exactly; none offered or none
 * known: no header in the answer. */
static void test_subprotocol_choice(void **state)
{
	static const char *const protocols[] = {"chatd.v1", "bot.v2"};
	static const struct handshake_policy with = {.hp_protocols = protocols,
						     .hp_protocol_count = 2};
	static const struct {
		const char *offer; /* header lines */
		int index;
	} cases[] = {
		{"", -1},
		{"Sec-WebSocket-Protocol: chatd.v1\r\n", 0},
		{"Sec-WebSocket-Protocol: other, bot.v2, chatd.v1\r\n", 1},
		{"Sec-WebSocket-Protocol: other\r\nSec-WebSocket-Protocol:  chatd.v1 \r\n", 0},
		{"Sec-WebSocket-Protocol: CHATD.V1\r\n", -1},
		{"Sec-WebSocket-Protocol: chatd.v1x, chatd\r\n", -1},
		{"Sec-WebSocket-Protocol: ,,\r\n", -1},
	};
	char raw[512], buf[512];
	struct handshake_answer a;
	(void)state;

	policy = &with;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(raw, sizeof raw,
			 "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\n%s" UPGRADE_TAIL,
			 cases[i].offer);
		answer(raw, &a);
		assert_int_equal(a.ha_kind, HANDSHAKE_UPGRADE);
		assert_int_equal(a.ha_protocol_index, cases[i].index);
		size_t n = handshake_format_upgrade(&a, buf, sizeof buf);
		assert_true(n > 0);
		buf[n] = '\0';
		if (cases[i].index < 0) {
			assert_null(a.ha_protocol);
			assert_null(strstr(buf, "Sec-WebSocket-Protocol"));
		} else {
			char want[64];
			snprintf(want, sizeof want, "\r\nSec-WebSocket-Protocol: %s\r\n",
				 protocols[cases[i].index]);
			assert_non_null(strstr(buf, want));
		}
	}
	policy = &any_origin;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),
	    cmocka_unit_test(test_accept_key_rfc_example),
	    cmocka_unit_test(test_accept_key_rejects),
	    cmocka_unit_test(test_valid_upgrade),
	    cmocka_unit_test(test_upgrade_variants),
	    cmocka_unit_test(test_upgrade_refusals),
	    cmocka_unit_test(test_plain_requests),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_split_target),
	    cmocka_unit_test(test_authority),
	    cmocka_unit_test(test_room_valid),
	    cmocka_unit_test(test_upgrade_rooms),
	    cmocka_unit_test(test_origin_policy),
	    cmocka_unit_test(test_method_is_case_sensitive),
	    cmocka_unit_test(test_format_upgrade),
	    cmocka_unit_test(test_status_text),
	    cmocka_unit_test(test_error_responses),
	    cmocka_unit_test(test_error_response_buffer_too_small),
	    cmocka_unit_test(test_response_head),
	    cmocka_unit_test(test_subprotocol_choice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
