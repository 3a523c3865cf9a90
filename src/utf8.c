/*
 * UTF-8 validation as a small state machine: the state is "how many continuation bytes are
 * still due" plus the range the next one must fall in. The narrowed ranges after E0, ED,
 * F0 and F4 are what reject overlong forms, UTF-16 surrogates (U+D800-DFFF) and code points
 * above U+10FFFF (RFC 3629 section 4); C0, C1 and F5-FF can never start a sequence.
 */
#include "utf8.h"

#include <string.h>

#define UTF8_FAILED 0xFF /* u8_pending value once an invalid byte was seen */

void utf8_reset(struct utf8_validator *v)
{
	v->u8_pending = 0;
	v->u8_lo = 0x80;
	v->u8_hi = 0xBF;
}

bool utf8_feed(struct utf8_validator *v, const uint8_t *buf, size_t len)
{
	uint8_t pending = v->u8_pending, lo = v->u8_lo, hi = v->u8_hi;
	size_t i = 0;

	if (pending == UTF8_FAILED)
		return false;
	while (i < len) {
		if (pending == 0) {
			/* Chat text is mostly ASCII: skip it eight bytes per step. */
			while (len - i >= 8) {
				uint64_t word;
				memcpy(&word, buf + i, sizeof word);
				if (word & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			if (i == len)
				break;
			uint8_t b = buf[i++];
			if (b < 0x80)
				continue;
			lo = 0x80;
			hi = 0xBF;
			if (b < 0xC2 ||
			    b > 0xF4)      /* a stray continuation, an overlong C0/C1 lead, */
				goto fail; /* or a lead for code points past U+10FFFF */
			if (b < 0xE0) {
				pending = 1;
			} else if (b < 0xF0) {
				pending = 2;
				if (b == 0xE0)
					lo = 0xA0; /* below is overlong */
				else if (b == 0xED)
					hi = 0x9F; /* above is a surrogate */
			} else {
				pending = 3;
				if (b == 0xF0)
					lo = 0x90; /* below is overlong */
				else if (b == 0xF4)
					hi = 0x8F; /* above is past U+10FFFF */
			}
		} else {
			uint8_t b = buf[i++];
			if (b < lo || b > hi)
				goto fail;
			pending--;
			lo = 0x80;
			hi = 0xBF;
		}
	}
	v->u8_pending = pending;
	v->u8_lo = lo;
	v->u8_hi = hi;
	return true;
fail:
	v->u8_pending = UTF8_FAILED;
	return false;
}

bool utf8_at_boundary(const struct utf8_validator *v)
{
	return v->u8_pending == 0;
}

bool utf8_valid(const uint8_t *buf, size_t len)
{
	struct utf8_validator v;

	utf8_reset(&v);
	return utf8_feed(&v, buf, len) && utf8_at_boundary(&v);
}
