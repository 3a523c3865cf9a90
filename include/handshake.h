/*
 * handshake: decides what to answer to a parsed HTTP request: the opening handshake of
 * RFC 6455 section 4.2 for upgrades (the path names the room), and for plain requests the
 * bundled page, the health and per-room count endpoints, 404 or 405; on the operator's
 * listener, the metrics and stats endpoints. Computes Sec-WebSocket-Accept. Pure: the
 * caller owns every buffer and does the I/O.
 */
#ifndef CHATD_HANDSHAKE_H
#define CHATD_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* base64 of a 20-byte SHA-1 digest. */
#define HANDSHAKE_ACCEPT_LEN 28
/* Longest room path, the slash included (the hub stores names this long). */
#define HANDSHAKE_ROOM_MAX 64
/* GET /online/ROOM (/online/ for the room /) answers how many clients ROOM has, and
 * nothing about any other room: what the bundled page shows. */
#define HANDSHAKE_ONLINE_PREFIX "/online"

enum handshake_kind {
	HANDSHAKE_UPGRADE, /* answer 101 and switch to WebSocket */
	HANDSHAKE_PAGE,    /* answer 200 with the bundled client page */
	HANDSHAKE_HEALTHZ, /* GET /healthz */
	HANDSHAKE_ONLINE,  /* GET /online/ROOM: ha_room's client count */
	HANDSHAKE_METRICS, /* GET /metrics, on the operator's listener only */
	HANDSHAKE_STATS,   /* GET /stats, on the operator's listener only */
	HANDSHAKE_REFUSE,  /* answer ha_status with ha_reason, then close */
};

/* What the operator allows. */
struct handshake_policy {
	const char *const *hp_origins; /* accepted Origin values; none: any origin */
	size_t hp_origin_count;
	/* The subprotocols this server speaks (Sec-WebSocket-Protocol), in any order. */
	const char *const *hp_protocols;
	size_t hp_protocol_count;
	/* The operator's listener (--admin-listen): /metrics, /stats and /healthz and
	 * nothing else, upgrade headers ignored. The public one never serves those two. */
	bool hp_admin;
};

struct handshake_answer {
	enum handshake_kind ha_kind;
	int ha_status;         /* 101, 200, 400, 403, 404, 405 or 426 */
	const char *ha_reason; /* static text: the error body and the log's cause */
	bool ha_head_only;     /* a HEAD request: the response, whatever it is, has no body */
	/* HANDSHAKE_UPGRADE and HANDSHAKE_ONLINE: the room, a slice of the request (or of a
	 * static "/" for an absolute-form target with an empty path) */
	struct http_slice ha_room;
	/* The target's authority (RFC 9112 section 3.2.3): an absolute-form target's, which
	 * then replaces the Host header's value, or else the Host header's; may be empty */
	struct http_slice ha_authority;
	char ha_accept[HANDSHAKE_ACCEPT_LEN + 1]; /* HANDSHAKE_UPGRADE: NUL-terminated */
	/* HANDSHAKE_UPGRADE: the subprotocol chosen, the first the client offers that the
	 * policy has (section 4.2.2 item 5.4), as its index there; -1 and NULL for none. */
	int ha_protocol_index;
	const char *ha_protocol;
};

/* Loads the hash and encoding code once at start-up, without reading OpenSSL's
 * configuration file: nothing in chatd needs it, and the first client should not wait
 * for a file read. Returns false when libcrypto cannot start. */
bool handshake_init(void);

void handshake_answer(const struct http_request *req, const struct handshake_policy *policy,
		      struct handshake_answer *out);

/* True for a valid room path: "/" or "/" and 1 to 63 of A-Z a-z 0-9 . _ ~ - */
bool handshake_room_valid(struct http_slice path);

/* Computes Sec-WebSocket-Accept for a client key. out receives HANDSHAKE_ACCEPT_LEN
 * characters and a NUL. Returns false when the key is not the canonical base64 of exactly
 * 16 bytes (22 characters, the last with its 4 padding bits zero, then "=="). */
bool handshake_accept_key(const char *key, size_t key_len, char *out);

/* Splits a request target (RFC 9112 section 3.2) into its path, query removed, and its
 * authority: origin-form "/p?q" gives "/p" and no authority; absolute-form
 * "http://host:port/p?q" (http or https, any case) gives "/p" ("/" when the path is empty)
 * and "host:port". False for any other form, or an absolute URI with an empty host or
 * userinfo (RFC 9110 section 4.2.4). The slices point into target, or at a static "/". */
bool handshake_split_target(struct http_slice target, struct http_slice *path,
			    struct http_slice *authority);

/* Writes the 101 response for an accepted upgrade into buf. Returns its length, or 0 when
 * cap is too small. */
size_t handshake_format_upgrade(const struct handshake_answer *a, char *buf, size_t cap);

#endif
