/* The backplane envelope: a fixed 10-byte header, then the payload unchanged. */
#include "envelope.h"

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "utf8.h"

static bool opcode_ok(uint8_t opcode)
{
	return opcode == WS_OP_TEXT || opcode == WS_OP_BINARY;
}

size_t envelope_encode(uint8_t *out, size_t cap, uint64_t origin, uint8_t opcode,
		       const uint8_t *payload, size_t len)
{
	if (!opcode_ok(opcode) || cap < ENVELOPE_HEADER_SIZE || len > cap - ENVELOPE_HEADER_SIZE)
		return 0;
	out[0] = ENVELOPE_MAGIC;
	out[1] = opcode;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(origin >> (56 - 8 * i));
	if (len > 0)
		memcpy(out + ENVELOPE_HEADER_SIZE, payload, len);
	return ENVELOPE_HEADER_SIZE + len;
}

enum envelope_status envelope_decode(const uint8_t *buf, size_t len, struct envelope *out)
{
	uint64_t origin = 0, id = 0;
	size_t skip = ENVELOPE_HEADER_SIZE;
	bool logged;
	uint8_t opcode;

	if (len < ENVELOPE_HEADER_SIZE)
		return ENVELOPE_SHORT;
	if (buf[0] != ENVELOPE_MAGIC)
		return ENVELOPE_BAD_MAGIC;
	logged = (buf[1] & ENVELOPE_LOGGED) != 0;
	opcode = buf[1] & (uint8_t)~ENVELOPE_LOGGED;
	if (!opcode_ok(opcode))
		return ENVELOPE_BAD_OPCODE;
	if (logged) {
		if (len < ENVELOPE_HEADER_SIZE + ENVELOPE_ID_SIZE)
			return ENVELOPE_NO_ID;
		for (int i = 0; i < ENVELOPE_ID_SIZE; i++)
			id = id << 8 | buf[ENVELOPE_HEADER_SIZE + i];
		skip += ENVELOPE_ID_SIZE;
	}
	/* Redis is another process on the network: a text message must be UTF-8 before a
	 * browser sees it, or the browser closes its connection with 1007. */
	if (opcode == WS_OP_TEXT && !utf8_valid(buf + skip, len - skip))
		return ENVELOPE_BAD_UTF8;
	for (int i = 0; i < 8; i++)
		origin = origin << 8 | buf[2 + i];
	out->en_origin = origin;
	out->en_opcode = opcode;
	out->en_logged = logged;
	out->en_id = id;
	out->en_payload = buf + skip;
	out->en_len = len - skip;
	return ENVELOPE_OK;
}

const char *envelope_status_text(enum envelope_status st)
{
	switch (st) {
	case ENVELOPE_OK: return "ok";
	case ENVELOPE_SHORT: return "shorter than a header";
	case ENVELOPE_BAD_MAGIC: return "bad magic byte";
	case ENVELOPE_BAD_OPCODE: return "bad opcode";
	case ENVELOPE_BAD_UTF8: return "text that is not UTF-8";
	case ENVELOPE_NO_ID: return "a logged entry without its id";
	}
	return "?";
}
