/*
 * handshake_ref.h: the rules of RFC 6455 section 4.2.1 and of chatd's rooms, written again
 * for fuzz_http.c from the RFC and include/handshake.h rather than from src/handshake.c,
 * so that the harness can tell whether an answer is right. Sec-WebSocket-Accept is hashed
 * with OpenSSL's EVP interface (src/handshake.c uses SHA1()) and base64-encoded by hand.
 * Header-only: everything is static inline.
 */
#ifndef CHATD_FUZZ_HANDSHAKE_REF_H
#define CHATD_FUZZ_HANDSHAKE_REF_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "http.h"

/* ASCII case-insensitive equality, as header names compare (RFC 9110 section 5.1). */
static inline bool fuzz_name_is(struct http_slice s, const char *name)
{
	size_t n = strlen(name);
	if (s.s_len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s.s_ptr[i], b = name[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (char)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

/* How many headers carry this name; *first is the first of them. */
static inline size_t fuzz_count(const struct http_request *req, const char *name,
                                const struct http_header **first)
{
	size_t n = 0;
	*first = NULL;
	for (size_t i = 0; i < req->rq_header_count; i++)
		if (fuzz_name_is(req->rq_headers[i].h_name, name) && n++ == 0)
			*first = &req->rq_headers[i];
	return n;
}

/* Whether a comma-separated list holds token, elements trimmed of SP and HTAB. */
static inline bool fuzz_list_has(struct http_slice list, const char *token)
{
	size_t i = 0;

	while (i <= list.s_len) {
		size_t j = i;
		while (j < list.s_len && list.s_ptr[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && (list.s_ptr[a] == ' ' || list.s_ptr[a] == '\t'))
			a++;
		while (b > a && (list.s_ptr[b - 1] == ' ' || list.s_ptr[b - 1] == '\t'))
			b--;
		if (b > a && fuzz_name_is((struct http_slice){list.s_ptr + a, b - a}, token))
			return true;
		i = j + 1;
	}
	return false;
}

/* Sec-WebSocket-Accept computed here (section 4.2.2 item 5.4), with base64 by hand. */
static inline void fuzz_accept(struct http_slice key, char out[HANDSHAKE_ACCEPT_LEN + 1])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t o = 0;

	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(ctx, key.s_ptr, key.s_len) ||
	    !EVP_DigestUpdate(ctx, guid, sizeof guid - 1) ||
	    !EVP_DigestFinal_ex(ctx, digest, &dlen) || dlen != 20)
		abort();
	EVP_MD_CTX_free(ctx);
	for (size_t i = 0; i < 21; i += 3) {
		uint32_t w = (uint32_t)digest[i] << 16 |
		             (i + 1 < 20 ? (uint32_t)digest[i + 1] << 8 : 0) |
		             (i + 2 < 20 ? digest[i + 2] : 0);
		out[o++] = b64[w >> 18 & 63];
		out[o++] = b64[w >> 12 & 63];
		out[o++] = i + 1 < 20 ? b64[w >> 6 & 63] : '=';
		out[o++] = i + 2 < 20 ? b64[w & 63] : '=';
	}
	out[HANDSHAKE_ACCEPT_LEN] = '\0';
}

static inline bool fuzz_key_well_formed(struct http_slice key)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (key.s_len != 24 || key.s_ptr[22] != '=' || key.s_ptr[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (key.s_ptr[i] == '\0' || strchr(b64, key.s_ptr[i]) == NULL)
			return false;
	/* 16 bytes leave 4 zero bits in the last character (RFC 4648 section 3.5): only the
	 * characters of values 0, 16, 32 and 48 can end the canonical encoding. */
	return key.s_ptr[21] == 'A' || key.s_ptr[21] == 'Q' || key.s_ptr[21] == 'g' ||
	       key.s_ptr[21] == 'w';
}

/* Whether any header of this name holds token in its list (RFC 9110 section 5.3). */
static inline bool fuzz_any_has(const struct http_request *req, const char *name,
                                const char *token)
{
	for (size_t i = 0; i < req->rq_header_count; i++)
		if (fuzz_name_is(req->rq_headers[i].h_name, name) &&
		    fuzz_list_has(req->rq_headers[i].h_value, token))
			return true;
	return false;
}

/* The target's path (RFC 9112 section 3.2), written from the RFC: origin-form "/p?q" is
 * "/p"; absolute-form http(s)://authority[/p][?q] is "/p", or "/" for an empty path, when
 * the authority has a host and no userinfo. *out_static is set when the path is the "/" of
 * an empty one (not a slice of the target). False: neither form. */
static inline bool fuzz_target_path(struct http_slice t, struct http_slice *path,
                                    bool *out_static)
{
	static const char root[] = "/";
	size_t start = 0, end;

	*out_static = false;
	if (t.s_len == 0)
		return false;
	if (t.s_ptr[0] != '/') {
		size_t scheme;
		if (t.s_len >= 7 && fuzz_name_is((struct http_slice){t.s_ptr, 7}, "http://"))
			scheme = 7;
		else if (t.s_len >= 8 && fuzz_name_is((struct http_slice){t.s_ptr, 8}, "https://"))
			scheme = 8;
		else
			return false;
		start = scheme;
		while (start < t.s_len && t.s_ptr[start] != '/' && t.s_ptr[start] != '?')
			start++;
		if (start == scheme || t.s_ptr[scheme] == ':' ||
		    memchr(t.s_ptr + scheme, '@', start - scheme) != NULL)
			return false;
	}
	end = start;
	while (end < t.s_len && t.s_ptr[end] != '?')
		end++;
	if (end == start) {
		*path = (struct http_slice){root, 1};
		*out_static = true;
	} else {
		*path = (struct http_slice){t.s_ptr + start, end - start};
	}
	return true;
}

/* "/" and at most 63 of A-Z a-z 0-9 . _ ~ - (include/handshake.h), written out again. */
static inline bool fuzz_room_ok(struct http_slice path)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._~-";

	if (path.s_len < 1 || path.s_len > 64 || path.s_ptr[0] != '/')
		return false;
	for (size_t i = 1; i < path.s_len; i++)
		if (path.s_ptr[i] == '\0' || strchr(allowed, path.s_ptr[i]) == NULL)
			return false;
	return true;
}

/* Exact, case-sensitive equality: paths (RFC 3986 section 6.2.2.1) and methods. */
static inline bool fuzz_slice_is(struct http_slice path, const char *s)
{
	return path.s_len == strlen(s) && memcmp(path.s_ptr, s, path.s_len) == 0;
}

#endif
