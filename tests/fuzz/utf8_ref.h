/*
 * utf8_ref.h: a naive UTF-8 reference for the fuzz harnesses, written from RFC 3629's
 * definition in code points rather than from the byte ranges src/utf8.c uses, so that the
 * two are unlikely to share a mistake. After each byte of a sequence it asks whether any
 * completion could still give a code point that is minimal for its length, not a UTF-16
 * surrogate and at most U+10FFFF; the first byte after which none can is where a fail-fast
 * validator (RFC 6455 section 8.1) must stop. Header-only: everything is static inline.
 */
#ifndef CHATD_FUZZ_UTF8_REF_H
#define CHATD_FUZZ_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct utf8_ref {
	uint32_t ur_bits; /* code point bits gathered so far in the open sequence */
	int ur_len;       /* length of the open sequence, 0 when none is open */
	int ur_have;      /* bytes of it seen */
	bool ur_failed;
};

static inline void utf8_ref_reset(struct utf8_ref *u)
{
	u->ur_bits = 0;
	u->ur_len = 0;
	u->ur_have = 0;
	u->ur_failed = false;
}

/* Can a sequence of seq_len bytes whose first have bytes gave these bits still encode an
 * allowed code point? The completions span one contiguous range of code points. */
static inline bool utf8_ref_viable(uint32_t bits, int seq_len, int have)
{
	static const uint32_t lowest[5] = {0, 0, 0x80, 0x800, 0x10000};
	static const uint32_t highest[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
	int missing = 6 * (seq_len - have);
	uint32_t lo = bits << missing, hi = lo | ((UINT32_C(1) << missing) - 1);

	if (lo < lowest[seq_len])
		lo = lowest[seq_len];
	if (hi > highest[seq_len])
		hi = highest[seq_len];
	if (lo > hi)
		return false;
	return !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* Feeds one byte; false once the input can no longer be valid (and from then on). */
static inline bool utf8_ref_step(struct utf8_ref *u, uint8_t b)
{
	if (u->ur_failed)
		return false;
	if (u->ur_len == 0) {
		if (b < 0x80)
			return true;
		if ((b & 0xE0) == 0xC0) {
			u->ur_len = 2;
			u->ur_bits = b & 0x1F;
		} else if ((b & 0xF0) == 0xE0) {
			u->ur_len = 3;
			u->ur_bits = b & 0x0F;
		} else if ((b & 0xF8) == 0xF0) {
			u->ur_len = 4;
			u->ur_bits = b & 0x07;
		} else {
			u->ur_failed = true; /* a continuation byte or 0xF8-0xFF */
			return false;
		}
		u->ur_have = 1;
	} else {
		if ((b & 0xC0) != 0x80) {
			u->ur_failed = true;
			return false;
		}
		u->ur_bits = u->ur_bits << 6 | (b & 0x3F);
		u->ur_have++;
	}
	if (!utf8_ref_viable(u->ur_bits, u->ur_len, u->ur_have)) {
		u->ur_failed = true;
		return false;
	}
	if (u->ur_have == u->ur_len)
		u->ur_len = 0;
	return true;
}

static inline bool utf8_ref_at_boundary(const struct utf8_ref *u)
{
	return !u->ur_failed && u->ur_len == 0;
}

/* Index of the first byte that makes buf invalid, or len when there is none. */
static inline size_t utf8_ref_first_bad(const uint8_t *buf, size_t len, bool *at_boundary)
{
	struct utf8_ref u;

	utf8_ref_reset(&u);
	for (size_t i = 0; i < len; i++)
		if (!utf8_ref_step(&u, buf[i])) {
			*at_boundary = false;
			return i;
		}
	*at_boundary = utf8_ref_at_boundary(&u);
	return len;
}

static inline bool utf8_ref_valid(const uint8_t *buf, size_t len)
{
	bool boundary;
	return utf8_ref_first_bad(buf, len, &boundary) == len && boundary;
}

#endif
