/*
 * libFuzzer harness for the handshake path: http_parse_request (src/http.c), then
 * handshake_answer and the response it leads to (src/handshake.c, src/http_response.c).
 * The whole input is the bytes a client sent before the server answers.
 *
 * Properties, each abort()ing when broken so that libFuzzer records the input:
 *  - every slice lies within the head, and is what the grammar says it is;
 *  - the head parses the same on its own and with other bytes after it (pipelined frames);
 *  - the parser is monotonic: once a prefix of the input gives a verdict (OK or an error),
 *    every longer prefix gives the same one, so reading more can never turn an error
 *    into success or move the end of the head;
 *  - handshake_answer's status is 101, 200, 400, 404, 405 or 426 (403 only under an origin
 *    policy) and agrees with checks written here from RFC 6455 section 4.2.1, RFC 9112
 *    section 3.2 (origin- and absolute-form targets), the room rule and the endpoints of
 *    each listener, public and admin (Sec-WebSocket-Accept is recomputed); an origin list
 *    changes nothing but turning an upgrade from an unlisted origin into 403;
 *  - the responses fit the buffers src/conn.c uses, and a smaller buffer gives 0 or the
 *    same response, never a truncated one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "handshake_ref.h"
#include "http.h"
#include "http_response.h"

/* Inputs up to this long are checked at every prefix; longer ones at a sample. */
#define FUZZ_HTTP_ALL_PREFIXES_MAX 256
#define FUZZ_HTTP_SAMPLED_PREFIXES 256
/* The buffers src/conn.c formats into. */
#define FUZZ_HTTP_UPGRADE_BUF 256
#define FUZZ_HTTP_ERROR_BUF   1024

#define FUZZ_NAME "fuzz_http"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* --- the request ------------------------------------------------------------------------- */

static bool fuzz_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void fuzz_check_slice(struct http_slice sl, const char *head, size_t head_len,
                             bool may_be_empty)
{
	static volatile char sink;
	char sum = 0;

	(void)sink;

	if (sl.s_len == 0) {
		if (!may_be_empty)
			fuzz_fail("an empty slice where the grammar needs one character");
		if (sl.s_ptr != NULL && (sl.s_ptr < head || sl.s_ptr > head + head_len))
			fuzz_fail("an empty slice pointing outside the head");
		return;
	}
	if (sl.s_ptr < head || sl.s_ptr >= head + head_len ||
	    sl.s_len > (size_t)(head + head_len - sl.s_ptr))
		fuzz_fail("a slice outside the head");
	for (size_t i = 0; i < sl.s_len; i++)
		sum = (char)(sum + sl.s_ptr[i]);
	sink = sum;
}

/* What an OK result must look like: slices inside buf[0..consumed), in order, each made of
 * the characters its production allows, and the head ending in an empty line. */
static void fuzz_check_request(const struct http_request *req, const char *buf, size_t consumed)
{
	const char *prev_end;

	if (consumed < 2 || buf[consumed - 1] != '\n' ||
	    !(buf[consumed - 2] == '\n' ||
	      (consumed >= 3 && buf[consumed - 2] == '\r' && buf[consumed - 3] == '\n')))
		fuzz_fail("the head does not end in an empty line");
	fuzz_check_slice(req->rq_method, buf, consumed, false);
	fuzz_check_slice(req->rq_target, buf, consumed, false);
	for (size_t i = 0; i < req->rq_method.s_len; i++)
		if (!fuzz_is_tchar((unsigned char)req->rq_method.s_ptr[i]))
			fuzz_fail("a method that is not a token");
	for (size_t i = 0; i < req->rq_target.s_len; i++) {
		unsigned char c = (unsigned char)req->rq_target.s_ptr[i];
		if (c <= 0x20 || c >= 0x7F)
			fuzz_fail("a target with a space, control or non-ASCII character");
	}
	if (req->rq_target.s_ptr < req->rq_method.s_ptr + req->rq_method.s_len)
		fuzz_fail("the target overlaps the method");
	if (req->rq_version_minor < 0 || req->rq_version_minor > 9)
		fuzz_fail("an HTTP/1.x minor version outside 0-9");
	if (req->rq_header_count > HTTP_MAX_HEADERS)
		fuzz_fail("more headers than HTTP_MAX_HEADERS");

	prev_end = req->rq_target.s_ptr + req->rq_target.s_len;
	for (size_t i = 0; i < req->rq_header_count; i++) {
		const struct http_header *h = &req->rq_headers[i];
		fuzz_check_slice(h->h_name, buf, consumed, false);
		fuzz_check_slice(h->h_value, buf, consumed, true);
		if (h->h_name.s_ptr < prev_end)
			fuzz_fail("headers out of order or overlapping");
		for (size_t k = 0; k < h->h_name.s_len; k++)
			if (!fuzz_is_tchar((unsigned char)h->h_name.s_ptr[k]))
				fuzz_fail("a header name that is not a token");
		if (h->h_name.s_ptr + h->h_name.s_len >= buf + consumed ||
		    h->h_name.s_ptr[h->h_name.s_len] != ':')
			fuzz_fail("a header name not followed by a colon");
		if (h->h_value.s_len > 0) {
			const char *v = h->h_value.s_ptr;
			size_t n = h->h_value.s_len;
			if (v <= h->h_name.s_ptr + h->h_name.s_len)
				fuzz_fail("a header value before its colon");
			if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t')
				fuzz_fail("a header value with surrounding whitespace");
			for (size_t k = 0; k < n; k++) {
				unsigned char c = (unsigned char)v[k];
				if (c != '\t' && (c < 0x20 || c == 0x7F))
					fuzz_fail("a control character in a header value");
			}
			prev_end = v + n;
		} else {
			prev_end = h->h_name.s_ptr + h->h_name.s_len;
		}
	}
}

/* Same result, as offsets from each request's own buffer. */
static bool fuzz_slice_same(struct http_slice a, const char *abase, struct http_slice b,
                            const char *bbase)
{
	if (a.s_len != b.s_len)
		return false;
	return a.s_len == 0 || a.s_ptr - abase == b.s_ptr - bbase;
}

static bool fuzz_request_same(const struct http_request *a, const char *abase,
                              const struct http_request *b, const char *bbase)
{
	if (!fuzz_slice_same(a->rq_method, abase, b->rq_method, bbase) ||
	    !fuzz_slice_same(a->rq_target, abase, b->rq_target, bbase) ||
	    a->rq_version_minor != b->rq_version_minor || a->rq_header_count != b->rq_header_count)
		return false;
	for (size_t i = 0; i < a->rq_header_count; i++)
		if (!fuzz_slice_same(a->rq_headers[i].h_name, abase, b->rq_headers[i].h_name,
		                     bbase) ||
		    !fuzz_slice_same(a->rq_headers[i].h_value, abase, b->rq_headers[i].h_value,
		                     bbase))
			return false;
	return true;
}

/* The head alone, and followed by bytes a client may pipeline, in exactly sized blocks. */
static void fuzz_check_reparse(const struct http_request *req, const char *buf, size_t consumed)
{
	static const char *const suffixes[] = {
	    "",
	    "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", /* a masked "Hello" (RFC 6455 5.7) */
	    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	    "\r\n",
	    "\n",
	    "\r",
	    " x",
	};
	/* A NUL byte and a lone CR after the head as well, which no C string can hold. */
	static const char nul_suffix[] = {'\0', '\r', 'x'};

	for (size_t i = 0; i <= sizeof suffixes / sizeof suffixes[0]; i++) {
		const char *sfx =
		    i < sizeof suffixes / sizeof suffixes[0] ? suffixes[i] : nul_suffix;
		size_t sfx_len =
		    i < sizeof suffixes / sizeof suffixes[0] ? strlen(sfx) : sizeof nul_suffix;
		char *copy = fuzz_malloc(consumed + sfx_len);
		struct http_request again;
		size_t consumed_again = 0;

		memcpy(copy, buf, consumed);
		memcpy(copy + consumed, sfx, sfx_len);
		if (http_parse_request(copy, consumed + sfx_len, &again, &consumed_again) !=
		        HTTP_PARSE_OK ||
		    consumed_again != consumed)
			fuzz_fail("the head parses differently with other bytes after it");
		if (!fuzz_request_same(req, buf, &again, copy))
			fuzz_fail("the head gives other slices with other bytes after it");
		free(copy);
	}
}

/* Parses data[0..k) from the end of a block of size bytes, so that reading byte k faults. */
static enum http_parse_status fuzz_parse_prefix(const uint8_t *data, size_t size, char *block,
                                                size_t k, struct http_request *req,
                                                size_t *consumed, const char **base)
{
	*base = block + size - k;
	memcpy(block + size - k, data, k);
	return http_parse_request(*base, k, req, consumed);
}

static int fuzz_cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static void fuzz_check_prefixes(const uint8_t *data, size_t size, enum http_parse_status full,
                                const struct http_request *full_req, size_t full_consumed)
{
	size_t *ks, nk = 0, cap;
	char *block = fuzz_malloc(size);
	enum http_parse_status verdict = HTTP_PARSE_INCOMPLETE;

	/* Which prefixes: all of them for short inputs; else those ending around a CR or LF
	 * (where a line or the head ends) and an even sample. */
	if (size <= FUZZ_HTTP_ALL_PREFIXES_MAX) {
		cap = size;
		ks = fuzz_malloc((cap + 1) * sizeof *ks);
		for (size_t k = 0; k < size; k++)
			ks[nk++] = k;
	} else {
		cap = 2 * FUZZ_HTTP_SAMPLED_PREFIXES + 8;
		ks = fuzz_malloc(cap * sizeof *ks);
		for (size_t i = 0; i < size && nk + 3 <= FUZZ_HTTP_SAMPLED_PREFIXES; i++)
			if (data[i] == '\n' || data[i] == '\r')
				for (size_t d = 0; d < 3 && i + d < size; d++)
					ks[nk++] = i + d;
		for (size_t s = 0; s < FUZZ_HTTP_SAMPLED_PREFIXES; s++)
			ks[nk++] = size * s / FUZZ_HTTP_SAMPLED_PREFIXES;
		if (full == HTTP_PARSE_OK)
			for (size_t d = 0; d < 3 && d < full_consumed; d++)
				ks[nk++] = full_consumed - 1 - d;
		qsort(ks, nk, sizeof *ks, fuzz_cmp_size);
	}

	for (size_t i = 0; i < nk; i++) {
		struct http_request req;
		size_t consumed = 0;
		const char *base;
		enum http_parse_status st =
		    fuzz_parse_prefix(data, size, block, ks[i], &req, &consumed, &base);
		if (st > HTTP_PARSE_TOO_MANY_HEADERS)
			fuzz_fail("an unknown parse status");
		if ((st != HTTP_PARSE_INCOMPLETE && st != full) ||
		    (verdict != HTTP_PARSE_INCOMPLETE && st != verdict))
			fprintf(stderr,
			        "fuzz_http: the %zu-byte prefix gives status %d, the whole %zu "
			        "bytes give %d\n",
			        ks[i], (int)st, size, (int)full);
		if (st == HTTP_PARSE_INCOMPLETE) {
			if (verdict != HTTP_PARSE_INCOMPLETE)
				fuzz_fail("a longer prefix is INCOMPLETE after a verdict");
			continue;
		}
		if (verdict != HTTP_PARSE_INCOMPLETE && st != verdict)
			fuzz_fail("a longer prefix changes the verdict");
		verdict = st;
		if (st != full)
			fuzz_fail("a prefix gives a verdict the whole input does not");
		if (st == HTTP_PARSE_OK &&
		    (consumed != full_consumed ||
		     !fuzz_request_same(full_req, (const char *)data, &req, base)))
			fuzz_fail("a prefix parses OK with another head");
	}
	free(ks);
	free(block);
}

/* --- the answer ------------------------------------------------------------------------- */

/* A response formatted into a buffer of cap bytes is either refused (0) or whole. */
static void fuzz_check_capped(const char *full, size_t full_len, size_t got, const char *buf,
                              size_t cap)
{
	if (got == 0)
		return;
	if (got != full_len || got >= cap || memcmp(buf, full, full_len) != 0)
		fuzz_fail("a response formatted into a small buffer is not the whole response");
}

static void fuzz_check_error_response(int status, const char *reason, size_t small_cap)
{
	char buf[FUZZ_HTTP_ERROR_BUF], small[FUZZ_HTTP_ERROR_BUF];
	char status_line[32], length[48];
	size_t n = http_response_error(buf, sizeof buf, status, reason);
	size_t body = strlen(reason) + 1;
	const char *blank;

	if (n == 0 || n >= sizeof buf || strlen(buf) != n)
		fuzz_fail("an error response does not fit the 1 KiB buffer src/conn.c uses");
	snprintf(status_line, sizeof status_line, "HTTP/1.1 %d ", status);
	snprintf(length, sizeof length, "\r\nContent-Length: %zu\r\n", body);
	blank = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, status_line, strlen(status_line)) != 0 || strstr(buf, length) == NULL ||
	    blank == NULL || (size_t)(buf + n - (blank + 4)) != body ||
	    strncmp(blank + 4, reason, body - 1) != 0 || buf[n - 1] != '\n')
		fuzz_fail("a malformed error response");
	if (status == 405 && strstr(buf, "\r\nAllow: GET, HEAD\r\n") == NULL)
		fuzz_fail("a 405 without Allow");
	if (status == 426 && strstr(buf, "\r\nSec-WebSocket-Version: 13\r\n") == NULL)
		fuzz_fail("a 426 without Sec-WebSocket-Version");
	fuzz_check_capped(buf, n, http_response_error(small, small_cap, status, reason), small,
	                  small_cap);
}

static bool fuzz_answer_same(const struct handshake_answer *a, const struct handshake_answer *b)
{
	return a->ha_kind == b->ha_kind && a->ha_status == b->ha_status &&
	       strcmp(a->ha_reason, b->ha_reason) == 0 && a->ha_head_only == b->ha_head_only &&
	       (a->ha_kind != HANDSHAKE_UPGRADE ||
	        (a->ha_room.s_ptr == b->ha_room.s_ptr && a->ha_room.s_len == b->ha_room.s_len &&
	         strcmp(a->ha_accept, b->ha_accept) == 0)) &&
	       (a->ha_kind != HANDSHAKE_ONLINE ||
	        (a->ha_room.s_ptr == b->ha_room.s_ptr && a->ha_room.s_len == b->ha_room.s_len));
}

/* handshake_answer, and what holds for any answer. */
static void fuzz_answer(const struct http_request *req, const struct handshake_policy *policy,
                        struct handshake_answer *ans)
{
	memset(ans, 0xA5, sizeof *ans);
	handshake_answer(req, policy, ans);
	switch (ans->ha_status) {
	case 101:
	case 200:
	case 400:
	case 404:
	case 405:
	case 426: break;
	case 403:
		if (policy != NULL && policy->hp_origin_count > 0)
			break;
		fuzz_fail("403 without an origin policy");
		break;
	default: fuzz_fail("an answer status outside 101, 200, 400, 403, 404, 405, 426");
	}
	switch (ans->ha_kind) {
	case HANDSHAKE_UPGRADE:
		if (ans->ha_status != 101)
			fuzz_fail("an upgrade whose status is not 101");
		break;
	case HANDSHAKE_PAGE:
	case HANDSHAKE_HEALTHZ:
	case HANDSHAKE_ONLINE:
	case HANDSHAKE_METRICS:
	case HANDSHAKE_STATS:
		if (ans->ha_status != 200)
			fuzz_fail("a page or endpoint whose status is not 200");
		break;
	case HANDSHAKE_REFUSE:
		if (ans->ha_status < 400)
			fuzz_fail("a refusal whose status is not an error");
		break;
	default: fuzz_fail("an unknown answer kind");
	}
	if (ans->ha_reason == NULL || ans->ha_reason[0] == '\0' || strlen(ans->ha_reason) > 200)
		fuzz_fail("an answer without a reason");
}

/* The admin listener: /metrics, /stats and /healthz to a GET or HEAD with a valid target
 * (and one Host in HTTP/1.1), 404 for any other path, whatever upgrade headers say. */
static void fuzz_check_admin(const struct http_request *req, bool target_ok,
                             struct http_slice path, size_t small_cap)
{
	struct handshake_policy admin = {.hp_admin = true};
	struct handshake_answer ans;
	const struct http_header *host;
	bool get_or_head = fuzz_slice_is(req->rq_method, "GET") || fuzz_slice_is(req->rq_method, "HEAD");
	size_t hosts = fuzz_count(req, "Host", &host);
	int want = !target_ok                                           ? 400
	           : !get_or_head                                       ? 405
	           : (req->rq_version_minor >= 1 && hosts != 1)         ? 400
	           : fuzz_slice_is(path, "/metrics") || fuzz_slice_is(path, "/stats") ||
	                     fuzz_slice_is(path, "/healthz")
	               ? 200
	               : 404;

	fuzz_answer(req, &admin, &ans);
	if (ans.ha_status != want)
		fuzz_fail("the admin listener's answer is not the expected one");
	if (want == 200 &&
	    ans.ha_kind != (fuzz_slice_is(path, "/metrics") ? HANDSHAKE_METRICS
	                    : fuzz_slice_is(path, "/stats") ? HANDSHAKE_STATS
	                                                    : HANDSHAKE_HEALTHZ))
		fuzz_fail("the admin listener served the wrong endpoint");
	if (want != 200)
		fuzz_check_error_response(ans.ha_status, ans.ha_reason,
		                          small_cap % (FUZZ_HTTP_ERROR_BUF + 1));
}

static const char *const fuzz_origins[] = {"https://chat.example.org", "http://localhost:8080"};

static void fuzz_check_answer(const struct http_request *req, size_t small_cap)
{
	struct handshake_policy any = {.hp_admin = false};
	struct handshake_policy strict = {.hp_origins = fuzz_origins,
	                                  .hp_origin_count = sizeof fuzz_origins / sizeof fuzz_origins[0]};
	struct handshake_answer ans, ans_any, ans_strict;
	const struct http_header *host, *key, *version, *upgrade, *origin;
	/* Methods are case-sensitive (RFC 9110 section 9.1): "get" is not GET. */
	bool is_get = fuzz_slice_is(req->rq_method, "GET");
	bool is_head = fuzz_slice_is(req->rq_method, "HEAD");
	size_t hosts = fuzz_count(req, "Host", &host);
	size_t keys = fuzz_count(req, "Sec-WebSocket-Key", &key);
	size_t versions = fuzz_count(req, "Sec-WebSocket-Version", &version);
	size_t origins = fuzz_count(req, "Origin", &origin);
	/* Only an Upgrade naming websocket (in any of its headers and tokens) or a
	 * Sec-WebSocket header makes a WebSocket attempt; h2c and the like are ignored. */
	bool wants_upgrade = keys + versions > 0 || fuzz_any_has(req, "Upgrade", "websocket");
	struct http_slice path = {NULL, 0};
	bool path_static = false;
	bool target_ok = fuzz_target_path(req->rq_target, &path, &path_static);

	(void)fuzz_count(req, "Upgrade", &upgrade);
	fuzz_check_admin(req, target_ok, path, small_cap);

	/* No policy and an empty list both mean any origin; a list can only turn an upgrade
	 * into 403, and only when the request lacks exactly one listed Origin. */
	fuzz_answer(req, NULL, &ans);
	fuzz_answer(req, &any, &ans_any);
	fuzz_answer(req, &strict, &ans_strict);
#ifdef FUZZ_TRACE
	fprintf(stderr, "answer: kind %d status %d (%s), with origin list %d\n", (int)ans.ha_kind,
	        ans.ha_status, ans.ha_reason, ans_strict.ha_status);
#endif
	if (!fuzz_answer_same(&ans, &ans_any))
		fuzz_fail("an empty origin list answers differently from no policy");
	if (!fuzz_answer_same(&ans, &ans_strict)) {
		bool listed = origins == 1 && (fuzz_name_is(origin->h_value, fuzz_origins[0]) ||
		                               fuzz_name_is(origin->h_value, fuzz_origins[1]));
		if (ans.ha_kind != HANDSHAKE_UPGRADE || ans_strict.ha_status != 403 || listed)
			fuzz_fail("the origin list changed an answer it should not have");
		fuzz_check_error_response(403, ans_strict.ha_reason,
		                          small_cap % (FUZZ_HTTP_ERROR_BUF + 1));
	} else if (ans.ha_kind == HANDSHAKE_UPGRADE &&
	           !(origins == 1 && (fuzz_name_is(origin->h_value, fuzz_origins[0]) ||
	                              fuzz_name_is(origin->h_value, fuzz_origins[1])))) {
		fuzz_fail("an upgrade from an origin not on the list");
	}
	/* A HEAD refused with 404 may say head-only too: no response to HEAD has a body. */
	if (ans.ha_head_only && (!is_head || ans.ha_kind == HANDSHAKE_UPGRADE))
		fuzz_fail("ha_head_only on something other than a HEAD");

	if (ans.ha_kind == HANDSHAKE_UPGRADE) {
		/* Section 4.2.1, items 1-6, checked again here. */
		char expect[HANDSHAKE_ACCEPT_LEN + 1], buf[FUZZ_HTTP_UPGRADE_BUF], line[80];
		char small[FUZZ_HTTP_UPGRADE_BUF];
		size_t cap = small_cap % (FUZZ_HTTP_UPGRADE_BUF + 1);
		bool connection_upgrade = false;

		for (size_t i = 0; i < req->rq_header_count; i++)
			if (fuzz_name_is(req->rq_headers[i].h_name, "Connection") &&
			    fuzz_list_has(req->rq_headers[i].h_value, "Upgrade"))
				connection_upgrade = true;
		if (!target_ok || !is_get || req->rq_version_minor < 1 || !fuzz_room_ok(path) ||
		    hosts != 1 || upgrade == NULL || !fuzz_any_has(req, "Upgrade", "websocket") ||
		    !connection_upgrade || keys != 1 || !fuzz_key_well_formed(key->h_value) ||
		    versions != 1 || !fuzz_name_is(version->h_value, "13"))
			fuzz_fail("an upgrade accepted against section 4.2.1");
		if (path_static ? !fuzz_slice_is(ans.ha_room, "/")
		                : ans.ha_room.s_ptr != path.s_ptr || ans.ha_room.s_len != path.s_len)
			fuzz_fail("the room is not the target's path");
		fuzz_accept(key->h_value, expect);
		if (strcmp(ans.ha_accept, expect) != 0)
			fuzz_fail("a wrong Sec-WebSocket-Accept");

		size_t n = handshake_format_upgrade(&ans, buf, sizeof buf);
		snprintf(line, sizeof line, "\r\nSec-WebSocket-Accept: %s\r\n", expect);
		if (n == 0 || strlen(buf) != n)
			fuzz_fail("the 101 response does not fit the buffer src/conn.c uses");
		if (strncmp(buf, "HTTP/1.1 101 Switching Protocols\r\n", 34) != 0 ||
		    strstr(buf, line) == NULL || n < 4 || strcmp(buf + n - 4, "\r\n\r\n") != 0)
			fuzz_fail("a malformed 101 response");
		fuzz_check_capped(buf, n, handshake_format_upgrade(&ans, small, cap), small, cap);
		return;
	}
	if (!target_ok && ans.ha_status != 400)
		fuzz_fail("a target neither path nor http URI not refused with 400");
	if (ans.ha_status == 200) {
		/* /online/ROOM: the room is what follows the prefix. */
		bool online = path.s_len > 7 && memcmp(path.s_ptr, "/online", 7) == 0 &&
		              fuzz_room_ok((struct http_slice){path.s_ptr + 7, path.s_len - 7});
		enum handshake_kind expect = fuzz_slice_is(path, "/healthz") ? HANDSHAKE_HEALTHZ
		                             : online                        ? HANDSHAKE_ONLINE
		                                                             : HANDSHAKE_PAGE;
		if (wants_upgrade || !(is_get || is_head) ||
		    (req->rq_version_minor >= 1 && hosts != 1))
			fuzz_fail("a 200 for a request that should not get one");
		if (ans.ha_kind != expect ||
		    (expect == HANDSHAKE_PAGE &&
		     (!fuzz_room_ok(path) || fuzz_slice_is(path, "/favicon.ico"))))
			fuzz_fail("a 200 with the wrong content for its path");
		if (online && (ans.ha_room.s_ptr != path.s_ptr + 7 || ans.ha_room.s_len != path.s_len - 7))
			fuzz_fail("/online/ROOM answered for another room");
		if (ans.ha_head_only != is_head)
			fuzz_fail("ha_head_only does not say HEAD");
		return;
	}
	/* Refused: the right family of refusal, then the response itself. */
	if (!wants_upgrade && ans.ha_status == 405 && (is_get || is_head))
		fuzz_fail("405 for a GET or HEAD");
	/* /favicon.ico is a valid room name, but a plain GET of it is no page (404). */
	if (!wants_upgrade && ans.ha_status == 404 && fuzz_room_ok(path) &&
	    !fuzz_slice_is(path, "/metrics") && !fuzz_slice_is(path, "/stats") &&
	    !fuzz_slice_is(path, "/favicon.ico"))
		fuzz_fail("404 for a room's page");
	/* 426 only for one Sec-WebSocket-Version naming another version; two are a malformed
	 * request (RFC 6455 section 11.3.5). */
	if (ans.ha_status == 426 && (versions != 1 || fuzz_name_is(version->h_value, "13")))
		fuzz_fail("426 without exactly one, wrong, Sec-WebSocket-Version");
	fuzz_check_error_response(ans.ha_status, ans.ha_reason,
	                          small_cap % (FUZZ_HTTP_ERROR_BUF + 1));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* What src/server.c does once at start-up. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!handshake_init())
		fuzz_fail("handshake_init failed");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	size_t consumed = (size_t)-1;
	const char *buf = (const char *)data;
	enum http_parse_status st = http_parse_request(buf, size, &req, &consumed);
	size_t small_cap = size > 0 ? (size_t)data[size - 1] * 5 + data[0] : 0;

	if (st > HTTP_PARSE_TOO_MANY_HEADERS)
		fuzz_fail("an unknown parse status");
#ifdef FUZZ_TRACE
	fprintf(stderr, "parse: status %d, consumed %zu of %zu\n", (int)st,
	        st == HTTP_PARSE_OK ? consumed : 0, size);
#endif
	if (st == HTTP_PARSE_OK) {
		if (consumed > size)
			fuzz_fail("consumed more bytes than given");
		fuzz_check_request(&req, buf, consumed);
		fuzz_check_reparse(&req, buf, consumed);
	}
	fuzz_check_prefixes(data, size, st, &req, consumed);

	if (st == HTTP_PARSE_OK) {
		fuzz_check_answer(&req, small_cap);
	} else if (st != HTTP_PARSE_INCOMPLETE) {
		/* What src/conn.c answers to the parse errors. */
		fuzz_check_error_response(st == HTTP_PARSE_TOO_MANY_HEADERS ? 431 : 400,
		                          st == HTTP_PARSE_BAD_HEADER ? "malformed header line"
		                                                      : "malformed request line",
		                          small_cap % (FUZZ_HTTP_ERROR_BUF + 1));
	} else {
		/* And to a head that never completes, or a client over --max-clients. */
		fuzz_check_error_response(size % 2 ? 408 : 503,
		                          size % 2 ? "the request took too long"
		                                   : "the server is full (--max-clients)",
		                          small_cap % (FUZZ_HTTP_ERROR_BUF + 1));
	}
	return 0;
}
