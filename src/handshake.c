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

/* What a room's path may be (handshake_room_valid), in the words the answers use. */
#define ROOM_RULE "a room is / or / and up to 63 of A-Z a-z 0-9 . _ ~ -"

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

/* The value of a base64 character, or -1. */
static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == '/' ? 63 : -1;
}

bool handshake_accept_key(const char *key, size_t key_len, char *out)
{
	/* 16 bytes encode to 22 base64 characters and "==" (section 4.2.1 item 5). */
	char joined[24 + sizeof WS_GUID];
	unsigned char digest[SHA_DIGEST_LENGTH];

	if (key_len != 24 || key[22] != '=' || key[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (base64_value(key[i]) < 0)
			return false;
	/* The 22nd character holds the last 2 bits of byte 16 and 4 padding bits, which
	 * RFC 4648 section 3.5 says an encoder sets to zero: "...AB==" decodes to 16 bytes
	 * only by ignoring bits, so it is not a 16-byte nonce's encoding. */
	if ((base64_value(key[21]) & 0x0F) != 0)
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

/* Whether the slice starts with prefix, ASCII case-insensitive (URI schemes, RFC 3986
 * section 3.1). */
static bool starts_with_nocase(struct http_slice s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.s_len >= n && http_slice_equals((struct http_slice){s.s_ptr, n}, prefix);
}

bool handshake_split_target(struct http_slice target, struct http_slice *path,
			    struct http_slice *authority)
{
	static const char root[] = "/";
	const char *p = target.s_ptr, *end = target.s_ptr + target.s_len;

	*authority = (struct http_slice){p, 0};
	if (p < end && *p != '/') {
		/* Absolute-form, which RFC 9112 section 3.2.2 says a server MUST accept. */
		if (starts_with_nocase(target, "http://"))
			p += 7;
		else if (starts_with_nocase(target, "https://"))
			p += 8;
		else
			return false;
		const char *a = p;
		while (p < end && *p != '/' && *p != '?')
			p++;
		*authority = (struct http_slice){a, (size_t)(p - a)};
		/* An empty host is invalid (RFC 9110 section 4.2.1), and so is userinfo,
		 * which a recipient should treat as an error (section 4.2.4). */
		if (p == a || *a == ':' || memchr(a, '@', (size_t)(p - a)) != NULL)
			return false;
	} else if (p == end) {
		return false;
	}
	const char *q = memchr(p, '?', (size_t)(end - p));
	*path = (struct http_slice){p, (size_t)((q ? q : end) - p)};
	if (path->s_len == 0) /* "http://host" or "http://host?q": the path is "/" */
		*path = (struct http_slice){root, 1};
	return true;
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

/* The index in the policy of the first subprotocol the client offers that we speak, or
 * -1. Offers come in Sec-WebSocket-Protocol headers as comma-separated tokens, in the
 * client's order of preference; they are compared exactly (section 11.5: the names are
 * case-sensitive). */
static int choose_protocol(const struct http_request *req, const struct handshake_policy *p)
{
	if (p == NULL || p->hp_protocol_count == 0)
		return -1;
	for (size_t i = 0; i < req->rq_header_count; i++) {
		const struct http_header *h = &req->rq_headers[i];
		const char *s = h->h_value.s_ptr, *end = s + h->h_value.s_len;
		if (!http_slice_equals(h->h_name, "Sec-WebSocket-Protocol"))
			continue;
		while (s < end) {
			const char *t = s, *e;
			while (t < end && (*t == ' ' || *t == '\t' || *t == ','))
				t++;
			e = t;
			while (e < end && *e != ',' && *e != ' ' && *e != '\t')
				e++;
			for (size_t k = 0; k < p->hp_protocol_count && e > t; k++)
				if (strlen(p->hp_protocols[k]) == (size_t)(e - t) &&
				    memcmp(p->hp_protocols[k], t, (size_t)(e - t)) == 0)
					return (int)k;
			s = e;
		}
	}
	return -1;
}

static void check_upgrade(const struct http_request *req, const struct handshake_policy *policy,
			  struct http_slice path, struct handshake_answer *out)
{
	const struct http_header *h;
	const char *q;

	if (!http_slice_is(req->rq_method, "GET"))
		return refuse(out, 405, "a WebSocket upgrade must be a GET request");
	if (req->rq_version_minor < 1)
		return refuse(out, 400, "a WebSocket upgrade needs HTTP/1.1");
	out->ha_room = path;
	/* The query, whatever the target's form: what follows its '?'. */
	q = memchr(req->rq_target.s_ptr, '?', req->rq_target.s_len);
	out->ha_query.s_ptr = q != NULL ? q + 1 : NULL;
	out->ha_query.s_len =
		q != NULL ? req->rq_target.s_len - (size_t)(q + 1 - req->rq_target.s_ptr) : 0;
	if (!handshake_room_valid(out->ha_room))
		return refuse(out, 400, ROOM_RULE);
	if (http_count_headers(req, "Host") != 1)
		return refuse(out, 400, "exactly one Host header is required");
	if (!http_headers_have_token(req, "Upgrade", "websocket"))
		return refuse(out, 400, "the Upgrade header must name websocket");
	if (!http_headers_have_token(req, "Connection", "Upgrade"))
		return refuse(out, 400, "the Connection header must include Upgrade");
	if (http_count_headers(req, "Sec-WebSocket-Key") != 1)
		return refuse(out, 400, "exactly one Sec-WebSocket-Key header is required");
	h = http_find_header(req, "Sec-WebSocket-Key");
	if (!handshake_accept_key(h->h_value.s_ptr, h->h_value.s_len, out->ha_accept))
		return refuse(out, 400, "Sec-WebSocket-Key must be base64 of 16 bytes");
	/* The header must not appear more than once in a request (section 11.3.5): two of
	 * them is a malformed request, not a version we do not speak. */
	h = http_find_header(req, "Sec-WebSocket-Version");
	if (h == NULL)
		return refuse(out, 400, "the Sec-WebSocket-Version header is missing");
	if (http_count_headers(req, "Sec-WebSocket-Version") != 1)
		return refuse(out, 400, "exactly one Sec-WebSocket-Version header is required");
	/* Section 4.4: a version we do not speak gets 426 and the versions we do. */
	if (!http_slice_equals(h->h_value, "13"))
		return refuse(out, 426, "unsupported WebSocket version; this server speaks 13");
	/* Last, so a malformed request gets its precise 400 whatever its origin. */
	if (!origin_allowed(req, policy))
		return refuse(out, 403, "origin not allowed");
	out->ha_kind = HANDSHAKE_UPGRADE;
	out->ha_status = 101;
	out->ha_reason = "switching to WebSocket";
	out->ha_protocol_index = choose_protocol(req, policy);
	/* choose_protocol answers -1 without a policy. */
	out->ha_protocol = out->ha_protocol_index >= 0 && policy != NULL
				   ? policy->hp_protocols[out->ha_protocol_index]
				   : NULL;
}

/* The operator's listener: its three endpoints, nothing else. */
static void answer_admin(struct http_slice path, struct handshake_answer *out)
{
	out->ha_status = 200;
	if (http_slice_is(path, "/healthz")) {
		out->ha_kind = HANDSHAKE_HEALTHZ;
		out->ha_reason = "health";
	} else if (http_slice_is(path, "/metrics")) {
		out->ha_kind = HANDSHAKE_METRICS;
		out->ha_reason = "metrics";
	} else if (http_slice_is(path, "/stats")) {
		out->ha_kind = HANDSHAKE_STATS;
		out->ha_reason = "stats";
	} else {
		refuse(out, 404, "the admin listener serves /metrics, /stats and /healthz only");
	}
}

/* The public listener: the page for every room, the health check and a room's count. */
static void answer_public(struct http_slice path, struct handshake_answer *out)
{
	size_t n = strlen(HANDSHAKE_ONLINE_PREFIX);

	out->ha_status = 200;
	if (http_slice_is(path, "/healthz")) {
		out->ha_kind = HANDSHAKE_HEALTHZ;
		out->ha_reason = "health";
	} else if (http_slice_is(path, "/metrics") || http_slice_is(path, "/stats")) {
		/* Not the page of a room so named: a scraper pointed at the old address should
		 * see why it gets nothing. */
		refuse(out, 404, "served on the admin listener (--admin-listen) only");
	} else if (path.s_len > n && memcmp(path.s_ptr, HANDSHAKE_ONLINE_PREFIX, n) == 0 &&
		   handshake_room_valid((struct http_slice){path.s_ptr + n, path.s_len - n})) {
		out->ha_kind = HANDSHAKE_ONLINE;
		out->ha_reason = "a room's count";
		out->ha_room = (struct http_slice){path.s_ptr + n, path.s_len - n};
	} else if (http_slice_is(path, "/favicon.ico")) {
		/* A valid room name, but browsers ask for it by themselves: the chat page is no
		 * icon (the page carries its own). */
		refuse(out, 404, "no /favicon.ico; the page carries its own icon");
	} else if (handshake_room_valid(path)) {
		/* Every room's address serves the page, so a link to a room can be shared. */
		out->ha_kind = HANDSHAKE_PAGE;
		out->ha_reason = "the chat page";
	} else {
		/* Most often a room typed into the address bar ("/my room", "/café"): say why. */
		refuse(out, 404, "not found: no page here, and not a room (" ROOM_RULE ")");
	}
}

void handshake_answer(const struct http_request *req, const struct handshake_policy *policy,
		      struct handshake_answer *out)
{
	bool is_get = http_slice_is(req->rq_method, "GET");
	bool is_head = http_slice_is(req->rq_method, "HEAD");
	bool admin = policy != NULL && policy->hp_admin;
	struct http_slice path;
	const struct http_header *host;

	memset(out, 0, sizeof *out);
	out->ha_protocol_index = -1;
	/* A response to HEAD never has a body, refusals included (RFC 9110 section 9.3.2). */
	out->ha_head_only = is_head;
	if (!handshake_split_target(req->rq_target, &path, &out->ha_authority))
		return refuse(out, 400, "the request target must be a path or an http URI");
	/* Section 3.2.3 of RFC 9112: with an absolute-form target the authority is the
	 * target's and the Host header's value is ignored (it must still be there, once). */
	host = http_find_header(req, "Host");
	if (out->ha_authority.s_len == 0 && host != NULL)
		out->ha_authority = host->h_value;
	/* An Upgrade naming websocket, or either Sec-WebSocket header, makes this a
	 * WebSocket upgrade attempt, judged by RFC 6455's rules. Any other Upgrade (h2c,
	 * say) is one a server may ignore (RFC 9110 section 7.8): the request is plain. */
	if (!admin && (http_headers_have_token(req, "Upgrade", "websocket") ||
		       http_find_header(req, "Sec-WebSocket-Key") != NULL ||
		       http_find_header(req, "Sec-WebSocket-Version") != NULL))
		return check_upgrade(req, policy, path, out);
	if (!is_get && !is_head)
		return refuse(out, 405, "method not allowed");
	if (req->rq_version_minor >= 1 && http_count_headers(req, "Host") != 1)
		return refuse(out, 400, "exactly one Host header is required");
	if (admin)
		answer_admin(path, out);
	else
		answer_public(path, out);
}

size_t handshake_format_upgrade(const struct handshake_answer *a, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
			 "HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "%s%s%s"
			 "\r\n",
			 a->ha_accept, a->ha_protocol ? "Sec-WebSocket-Protocol: " : "",
			 a->ha_protocol ? a->ha_protocol : "", a->ha_protocol ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}
