/*
 * What to answer to a request: the opening handshake of RFC 6455 section 4.2.1 (every
 * check below is one of its numbered requirements), or the plain HTTP that shares the port.
 */
#include "handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

/* Section 1.3: the GUID appended to the key before hashing. */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool handshake_init(void)
{
	char accept[HANDSHAKE_ACCEPT_LEN + 1];

	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		return false;
	/* The RFC's own example (section 1.3): proves SHA-1 works before a client needs it. */
	return handshake_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept) &&
	       strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0;
}

static bool is_base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

bool handshake_accept_key(const char *key, size_t key_len, char *out)
{
	/* 16 bytes encode to 22 base64 characters and "==" (section 4.2.1 item 5). */
	char joined[24 + sizeof WS_GUID];
	unsigned char digest[SHA_DIGEST_LENGTH];

	if (key_len != 24 || key[22] != '=' || key[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!is_base64_char(key[i]))
			return false;
	memcpy(joined, key, 24);
	memcpy(joined + 24, WS_GUID, sizeof WS_GUID - 1);
	SHA1((const unsigned char *)joined, 24 + sizeof WS_GUID - 1, digest);
	EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
	out[HANDSHAKE_ACCEPT_LEN] = '\0';
	return true;
}

static void refuse(struct handshake_answer *out, int status, const char *reason)
{
	out->ha_kind = HANDSHAKE_REFUSE;
	out->ha_status = status;
	out->ha_reason = reason;
}

/* The path part of the target, without the query. */
static struct http_slice target_path(struct http_slice target)
{
	const char *q = memchr(target.s_ptr, '?', target.s_len);
	if (q != NULL)
		target.s_len = (size_t)(q - target.s_ptr);
	return target;
}

bool handshake_room_valid(struct http_slice path)
{
	if (path.s_len == 0 || path.s_len > HANDSHAKE_ROOM_MAX || path.s_ptr[0] != '/')
		return false;
	for (size_t i = 1; i < path.s_len; i++) {
		char c = path.s_ptr[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '~' || c == '-'))
			return false;
	}
	return true;
}

static bool origin_allowed(const struct http_request *req, const struct handshake_policy *p)
{
	const struct http_header *h;

	if (p == NULL || p->hp_origin_count == 0)
		return true;
	if (http_count_headers(req, "Origin") != 1)
		return false;
	h = http_find_header(req, "Origin");
	for (size_t i = 0; i < p->hp_origin_count; i++)
		if (http_slice_equals(h->h_value, p->hp_origins[i]))
			return true;
	return false;
}

static void check_upgrade(const struct http_request *req, const struct handshake_policy *policy,
			  struct handshake_answer *out)
{
	const struct http_header *h;
	bool connection_upgrade = false;

	if (!http_slice_is(req->rq_method, "GET"))
		return refuse(out, 405, "a WebSocket upgrade must be a GET request");
	if (req->rq_version_minor < 1)
		return refuse(out, 400, "a WebSocket upgrade needs HTTP/1.1");
	if (req->rq_target.s_ptr[0] != '/')
		return refuse(out, 400, "the request target must be a path");
	out->ha_room = target_path(req->rq_target);
	if (!handshake_room_valid(out->ha_room))
		return refuse(out, 400, "a room is / or / and up to 63 of A-Z a-z 0-9 . _ ~ -");
	if (http_count_headers(req, "Host") != 1)
		return refuse(out, 400, "exactly one Host header is required");
	h = http_find_header(req, "Upgrade");
	if (h == NULL || !http_list_has_token(h->h_value, "websocket"))
		return refuse(out, 400, "the Upgrade header must name websocket");
	for (size_t i = 0; i < req->rq_header_count; i++)
		if (http_slice_equals(req->rq_headers[i].h_name, "Connection") &&
		    http_list_has_token(req->rq_headers[i].h_value, "Upgrade"))
			connection_upgrade = true;
	if (!connection_upgrade)
		return refuse(out, 400, "the Connection header must include Upgrade");
	if (http_count_headers(req, "Sec-WebSocket-Key") != 1)
		return refuse(out, 400, "exactly one Sec-WebSocket-Key header is required");
	h = http_find_header(req, "Sec-WebSocket-Key");
	if (!handshake_accept_key(h->h_value.s_ptr, h->h_value.s_len, out->ha_accept))
		return refuse(out, 400, "Sec-WebSocket-Key must be base64 of 16 bytes");
	/* Section 4.4: a version we do not speak gets 426 and the versions we do. */
	h = http_find_header(req, "Sec-WebSocket-Version");
	if (h == NULL)
		return refuse(out, 400, "the Sec-WebSocket-Version header is missing");
	if (http_count_headers(req, "Sec-WebSocket-Version") != 1 ||
	    !http_slice_equals(h->h_value, "13"))
		return refuse(out, 426, "unsupported WebSocket version; this server speaks 13");
	/* Last, so a malformed request gets its precise 400 whatever its origin. */
	if (!origin_allowed(req, policy))
		return refuse(out, 403, "origin not allowed");
	out->ha_kind = HANDSHAKE_UPGRADE;
	out->ha_status = 101;
	out->ha_reason = "switching to WebSocket";
}

void handshake_answer(const struct http_request *req, const struct handshake_policy *policy,
		      struct handshake_answer *out)
{
	bool is_get = http_slice_is(req->rq_method, "GET");
	bool is_head = http_slice_is(req->rq_method, "HEAD");
	struct http_slice path;

	memset(out, 0, sizeof *out);
	/* A response to HEAD never has a body, refusals included (RFC 9110 section 9.3.2). */
	out->ha_head_only = is_head;
	/* Any of the upgrade headers makes this an upgrade attempt, judged by the RFC's
	 * rules; a plain request is judged as HTTP. */
	if (http_find_header(req, "Upgrade") != NULL ||
	    http_find_header(req, "Sec-WebSocket-Key") != NULL ||
	    http_find_header(req, "Sec-WebSocket-Version") != NULL)
		return check_upgrade(req, policy, out);
	if (!is_get && !is_head)
		return refuse(out, 405, "method not allowed");
	if (req->rq_version_minor >= 1 && http_count_headers(req, "Host") != 1)
		return refuse(out, 400, "exactly one Host header is required");
	out->ha_status = 200;
	path = target_path(req->rq_target);
	if (http_slice_is(path, "/healthz")) {
		out->ha_kind = HANDSHAKE_HEALTHZ;
		out->ha_reason = "health";
	} else if (http_slice_is(path, "/metrics")) {
		out->ha_kind = HANDSHAKE_METRICS;
		out->ha_reason = "metrics";
	} else if (http_slice_is(path, "/stats")) {
		out->ha_kind = HANDSHAKE_STATS;
		out->ha_reason = "stats";
	} else if (http_slice_is(path, "/favicon.ico")) {
		/* A valid room name, but browsers ask for it by themselves: the chat page is no
		 * icon (the page carries its own). */
		refuse(out, 404, "no /favicon.ico; the page carries its own icon");
	} else if (handshake_room_valid(path)) {
		/* Every room's address serves the page, so a link to a room can be shared. */
		out->ha_kind = HANDSHAKE_PAGE;
		out->ha_reason = "the chat page";
	} else {
		refuse(out, 404, "not found");
	}
}

size_t handshake_format_upgrade(const struct handshake_answer *a, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
			 "HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "\r\n",
			 a->ha_accept);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}
