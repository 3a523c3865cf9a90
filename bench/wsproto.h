/*
 * wsproto: the client's side of RFC 6455 as pure functions: the opening request, the check
 * of the server's 101 answer, frame headers and masking. No sockets, no allocation, no
 * state between calls; the caller owns every buffer. chatbench deliberately shares no code
 * with chatd, so a bug in one cannot hide the same bug in the other.
 */
#ifndef CHATBENCH_WSPROTO_H
#define CHATBENCH_WSPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sec-WebSocket-Key: 16 random bytes in base64, 24 characters. */
#define WSP_KEY_LEN 24
/* 2 bytes of flags and length, 8 of extended length, 4 of mask key. */
#define WSP_MAX_HEADER 14
/* Control frames carry at most 125 bytes (section 5.5). */
#define WSP_MAX_CONTROL 125
/* The longest 101 answer we wait for before calling it malformed. */
#define WSP_MAX_RESPONSE 4096

enum wsp_opcode {
	WSP_OP_CONTINUATION = 0x0,
	WSP_OP_TEXT = 0x1,
	WSP_OP_BINARY = 0x2,
	WSP_OP_CLOSE = 0x8,
	WSP_OP_PING = 0x9,
	WSP_OP_PONG = 0xA,
};

struct wsp_header {
	bool wh_fin;
	uint8_t wh_rsv; /* RSV1-3 as the three low bits */
	uint8_t wh_opcode;
	bool wh_masked;
	uint64_t wh_payload_len;
	size_t wh_header_len; /* bytes the header took on the wire */
};

enum wsp_result {
	WSP_OK,
	WSP_INCOMPLETE, /* call again with more bytes */
	WSP_BAD,        /* malformed: the reason is in the error buffer or obvious */
};

/* Turns 16 random bytes into a Sec-WebSocket-Key (out: WSP_KEY_LEN + 1 bytes). */
void wsp_make_key(const uint8_t nonce[16], char *out);

/* Writes the upgrade request for path on host (as "host:port") into out; returns its length,
 * or 0 when cap is too small. */
size_t wsp_format_request(char *out, size_t cap, const char *host, const char *path,
			  const char *key);

/* Checks a server's answer to the request made with key: status 101, Upgrade: websocket,
 * Connection: upgrade and the right Sec-WebSocket-Accept (section 4.1, items 1-4 of the
 * client's checks). On WSP_OK *consumed is the length of the response head; bytes after it
 * are already frames. On WSP_BAD err says why. */
enum wsp_result wsp_check_response(const char *buf, size_t len, const char *key, size_t *consumed,
				   char *err, size_t errlen);

/* Decodes the frame header at buf (any length; reads at most WSP_MAX_HEADER bytes). */
enum wsp_result wsp_parse_header(const uint8_t *buf, size_t len, struct wsp_header *out);

/* Length of a masked client frame header for this payload length. */
size_t wsp_client_header_size(uint64_t payload_len);

/* Writes a complete (FIN) masked frame header with the given mask key into out, which has
 * room for WSP_MAX_HEADER bytes. Returns its length. */
size_t wsp_encode_client_header(uint8_t *out, uint8_t opcode, uint64_t payload_len, uint32_t mask);

/* Copies len bytes from src to dst XORed with the mask key (section 5.3): masking costs
 * no pass of its own over the payload. */
void wsp_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, uint32_t mask);

#endif
