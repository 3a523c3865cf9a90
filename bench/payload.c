/* The message payload: fixed offsets, so writing and reading it is a few dozen byte moves. */
#include "payload.h"

#include <string.h>

#define OFF_TIME   2
#define OFF_SENDER 19
#define OFF_SEQ    28

static const char hex_digits[] = "0123456789abcdef";

static void put_hex(uint8_t *out, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		out[i] = (uint8_t)hex_digits[v & 0xF];
		v >>= 4;
	}
}

static bool get_hex(const uint8_t *in, int digits, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < digits; i++) {
		uint8_t c = in[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

void payload_write_header(uint8_t *out, const struct payload *p)
{
	out[0] = (uint8_t)p->pl_kind;
	out[1] = out[OFF_SENDER - 1] = out[OFF_SEQ - 1] = out[PAYLOAD_HEADER_LEN - 1] = ' ';
	put_hex(out + OFF_TIME, p->pl_time_ns, 16);
	put_hex(out + OFF_SENDER, p->pl_sender, 8);
	put_hex(out + OFF_SEQ, p->pl_seq, 16);
}

void payload_write(uint8_t *out, size_t len, const struct payload *p)
{
	payload_write_header(out, p);
	memset(out + PAYLOAD_HEADER_LEN, '.', len - PAYLOAD_HEADER_LEN);
}

bool payload_parse(const uint8_t *in, size_t len, struct payload *p)
{
	uint64_t sender;

	if (len < PAYLOAD_HEADER_LEN || (in[0] != PAYLOAD_MESSAGE && in[0] != PAYLOAD_END))
		return false;
	if (!get_hex(in + OFF_TIME, 16, &p->pl_time_ns) || !get_hex(in + OFF_SENDER, 8, &sender) ||
	    !get_hex(in + OFF_SEQ, 16, &p->pl_seq))
		return false;
	p->pl_kind = (char)in[0];
	p->pl_sender = (uint32_t)sender;
	return true;
}
