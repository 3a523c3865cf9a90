/* The client's side of the WebSocket handshake (RFC 6455 section 4.1) and framing (5.2, 5.3). */
#include "wsproto.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Section 1.3: appended to the key before hashing. */
static const char WSP_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/* base64 of a 20-byte SHA-1 digest: 28 characters. */
#define WSP_ACCEPT_LEN 28

void wsp_make_key(const uint8_t nonce[16], char *out)
{
	EVP_EncodeBlock((unsigned char *)out, nonce, 16);
	out[WSP_KEY_LEN] = '\0';
}

size_t wsp_format_request(char *out, size_t cap, const char *host, const char *path,
			  const char *key)
{
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "\r\n",
			 path, host, key);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void expected_accept(const char *key, char *out)
{
	char joined[WSP_KEY_LEN + sizeof WSP_GUID];
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	memcpy(joined, key, WSP_KEY_LEN);
	memcpy(joined + WSP_KEY_LEN, WSP_GUID, sizeof WSP_GUID - 1);
	EVP_Digest(joined, WSP_KEY_LEN + sizeof WSP_GUID - 1, digest, &digest_len, EVP_sha1(),
		   NULL);
	EVP_EncodeBlock((unsigned char *)out, digest, (int)digest_len);
	out[WSP_ACCEPT_LEN] = '\0';
}

/* Finds the end of the head ("\r\n\r\n"); returns its length including that, or 0. */
static size_t head_length(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* True when the comma-separated header value contains token, compared without case
 * ("Connection: keep-alive, Upgrade" is a valid answer). */
static bool has_token(const char *value, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < len) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		size_t start = i;
		while (i < len && value[i] != ',')
			i++;
		size_t end = i;
		while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
			end--;
		if (end - start == tlen && strncasecmp(value + start, token, tlen) == 0)
			return true;
	}
	return false;
}

struct response_checks {
	bool rc_upgrade, rc_connection, rc_accept;
};

/* Looks at one header line; name and value are trimmed slices of the head. */
static void check_header_line(const char *name, size_t name_len, const char *value,
			      size_t value_len, const char *accept, struct response_checks *rc)
{
	if (name_len == 7 && strncasecmp(name, "Upgrade", 7) == 0)
		rc->rc_upgrade = has_token(value, value_len, "websocket");
	else if (name_len == 10 && strncasecmp(name, "Connection", 10) == 0)
		rc->rc_connection = has_token(value, value_len, "upgrade");
	else if (name_len == 20 && strncasecmp(name, "Sec-WebSocket-Accept", 20) == 0)
		rc->rc_accept =
			value_len == WSP_ACCEPT_LEN && memcmp(value, accept, value_len) == 0;
}

enum wsp_result wsp_check_response(const char *buf, size_t len, const char *key, size_t *consumed,
				   char *err, size_t errlen)
{
	struct response_checks rc = {false, false, false};
	char accept[WSP_ACCEPT_LEN + 1];
	size_t head = head_length(buf, len);

	if (head == 0) {
		if (len >= WSP_MAX_RESPONSE) {
			snprintf(err, errlen, "response head longer than %d bytes",
				 WSP_MAX_RESPONSE);
			return WSP_BAD;
		}
		return WSP_INCOMPLETE;
	}
	if (head < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
		size_t line = strcspn(buf, "\r");
		snprintf(err, errlen, "expected 101, got '%.*s'", (int)(line < 60 ? line : 60),
			 buf);
		return WSP_BAD;
	}
	expected_accept(key, accept);

	/* One header per line after the status line; the head ends with an empty line. */
	const char *p = (const char *)memchr(buf, '\n', head) + 1, *end = buf + head;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon != NULL) {
			const char *v = colon + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			check_header_line(p, (size_t)(colon - p), v, (size_t)(ve - v), accept, &rc);
		}
		p = eol + 1;
	}
	if (!rc.rc_upgrade || !rc.rc_connection || !rc.rc_accept) {
		snprintf(err, errlen, "101 without %s",
			 !rc.rc_accept    ? "the right Sec-WebSocket-Accept"
			 : !rc.rc_upgrade ? "Upgrade: websocket"
					  : "Connection: upgrade");
		return WSP_BAD;
	}
	*consumed = head;
	return WSP_OK;
}

enum wsp_result wsp_parse_header(const uint8_t *buf, size_t len, struct wsp_header *out)
{
	size_t need = 2;
	uint64_t plen;

	if (len < need)
		return WSP_INCOMPLETE;
	plen = buf[1] & 0x7F;
	if (plen == 126)
		need += 2;
	else if (plen == 127)
		need += 8;
	if (buf[1] & 0x80)
		need += 4;
	if (len < need)
		return WSP_INCOMPLETE;
	if (plen == 126) {
		plen = (uint64_t)buf[2] << 8 | buf[3];
	} else if (plen == 127) {
		if (buf[2] & 0x80)
			return WSP_BAD; /* the most significant bit must be 0 */
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
	}
	out->wh_fin = (buf[0] & 0x80) != 0;
	out->wh_rsv = (buf[0] >> 4) & 0x7;
	out->wh_opcode = buf[0] & 0x0F;
	out->wh_masked = (buf[1] & 0x80) != 0;
	out->wh_payload_len = plen;
	out->wh_header_len = need;
	return WSP_OK;
}

size_t wsp_client_header_size(uint64_t payload_len)
{
	if (payload_len < 126)
		return 2 + 4;
	if (payload_len <= 0xFFFF)
		return 4 + 4;
	return 10 + 4;
}

size_t wsp_encode_client_header(uint8_t *out, uint8_t opcode, uint64_t payload_len, uint32_t mask)
{
	size_t n = 2;

	out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
	if (payload_len < 126) {
		out[1] = (uint8_t)(0x80 | payload_len);
	} else if (payload_len <= 0xFFFF) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		n = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		n = 10;
	}
	/* The key's bytes on the wire are its bytes in memory, as wsp_mask_copy reads them. */
	memcpy(out + n, &mask, 4);
	return n + 4;
}

void wsp_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, uint32_t mask)
{
	/* Eight bytes per step: the key repeated twice lines up with payload offsets 0 mod 4. */
	uint64_t wide = (uint64_t)mask << 32 | mask;
	uint8_t key[4];
	size_t i = 0;

	memcpy(key, &mask, 4);
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, src + i, 8);
		w ^= wide;
		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ key[i & 3];
}
