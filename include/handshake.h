/*
 * handshake: decides what to answer to a parsed HTTP request (RFC 6455 section 4.2 for
 * upgrades; the bundled page, 404 and 405 for plain requests) and computes
 * Sec-WebSocket-Accept. Pure: the caller owns every buffer and does the I/O.
 */
#ifndef CHATD_HANDSHAKE_H
#define CHATD_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* base64 of a 20-byte SHA-1 digest. */
#define HANDSHAKE_ACCEPT_LEN 28

enum handshake_kind {
	HANDSHAKE_UPGRADE, /* answer 101 and switch to WebSocket */
	HANDSHAKE_PAGE,    /* answer 200 with the bundled client page */
	HANDSHAKE_REFUSE,  /* answer ha_status with ha_reason, then close */
};

struct handshake_answer {
	enum handshake_kind ha_kind;
	int ha_status;         /* 101, 200, 400, 404, 405 or 426 */
	const char *ha_reason; /* static text: the error body and the log's cause */
	bool ha_head_only;     /* a HEAD request: the response has no body */
	char ha_accept[HANDSHAKE_ACCEPT_LEN + 1]; /* HANDSHAKE_UPGRADE: NUL-terminated */
};

void handshake_answer(const struct http_request *req, struct handshake_answer *out);

/* Computes Sec-WebSocket-Accept for a client key. out receives HANDSHAKE_ACCEPT_LEN
 * characters and a NUL. Returns false when the key is not base64 of exactly 16 bytes. */
bool handshake_accept_key(const char *key, size_t key_len, char *out);

/* Writes the 101 response for an accepted upgrade into buf. Returns its length, or 0 when
 * cap is too small. */
size_t handshake_format_upgrade(const struct handshake_answer *a, char *buf, size_t cap);

#endif
