/* WebSocket frame headers (RFC 6455 section 5.2) and masking (section 5.3). */
#include "frame.h"

#include <string.h>

enum frame_parse_result frame_parse_header(const uint8_t *buf, size_t len, struct frame_header *out)
{
	size_t need = 2;
	uint64_t payload_len;

	if (len < need)
		return FRAME_PARSE_INCOMPLETE;
	payload_len = buf[1] & 0x7F;
	if (payload_len == 126)
		need += 2;
	else if (payload_len == 127)
		need += 8;
	if (buf[1] & 0x80)
		need += 4;
	if (len < need)
		return FRAME_PARSE_INCOMPLETE;

	if (payload_len == 126) {
		payload_len = (uint64_t)buf[2] << 8 | buf[3];
	} else if (payload_len == 127) {
		if (buf[2] & 0x80)
			return FRAME_PARSE_BAD_LENGTH;
		payload_len = 0;
		for (int i = 0; i < 8; i++)
			payload_len = payload_len << 8 | buf[2 + i];
	}
	/* Non-minimal length encodings (a 5-byte payload in the 16-bit form) are legal: the
	 * RFC says the minimal form MUST be used, but names no error for a peer that doesn't,
	 * and browsers never send them. They are accepted. */
	out->fh_fin = (buf[0] & 0x80) != 0;
	out->fh_rsv = (buf[0] >> 4) & 0x7;
	out->fh_opcode = buf[0] & 0x0F;
	out->fh_masked = (buf[1] & 0x80) != 0;
	if (out->fh_masked)
		memcpy(out->fh_mask, buf + need - 4, 4);
	else
		memset(out->fh_mask, 0, 4);
	out->fh_payload_len = payload_len;
	out->fh_header_len = need;
	return FRAME_PARSE_OK;
}

size_t frame_header_size(uint64_t payload_len)
{
	if (payload_len < 126)
		return 2;
	if (payload_len <= 0xFFFF)
		return 4;
	return 10;
}

size_t frame_encode_header(uint8_t *out, bool fin, uint8_t opcode, uint64_t payload_len)
{
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
	if (payload_len < 126) {
		out[1] = (uint8_t)payload_len;
		return 2;
	}
	if (payload_len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
	return 10;
}

void frame_unmask(uint8_t *buf, size_t len, const uint8_t key[4], uint64_t offset)
{
	uint8_t rotated[8];
	uint64_t mask;
	size_t i = 0;

	for (int k = 0; k < 8; k++)
		rotated[k] = key[(offset + (uint64_t)k) & 3];
	memcpy(&mask, rotated, sizeof mask);
	/* Eight bytes per step; memcpy keeps unaligned access defined and compiles to plain
	 * loads and stores (and vector code at -O2). */
	for (; len - i >= 8; i += 8) {
		uint64_t word;
		memcpy(&word, buf + i, sizeof word);
		word ^= mask;
		memcpy(buf + i, &word, sizeof word);
	}
	for (; i < len; i++)
		buf[i] ^= rotated[i & 7];
}

bool frame_opcode_known(uint8_t opcode)
{
	return opcode <= WS_OP_BINARY || (opcode >= WS_OP_CLOSE && opcode <= WS_OP_PONG);
}

bool frame_opcode_is_control(uint8_t opcode)
{
	return (opcode & 0x8) != 0;
}

bool frame_close_code_valid(uint16_t code)
{
	if (code >= 3000 && code <= 4999)
		return true; /* registered (3000-3999) and private (4000-4999) codes */
	if (code < 1000 || code > 1014)
		return false;
	/* 1004 is reserved; 1005 and 1006 mean "no code" and "no close frame" and must never
	 * be sent (section 7.4.1). 1012-1014 were registered with IANA after the RFC. */
	return code != 1004 && code != 1005 && code != 1006;
}
