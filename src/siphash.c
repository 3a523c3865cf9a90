/*
 * SipHash-2-4, written from the paper's description (section 2): four 64-bit words of
 * state initialised from the key and four constants, each 8-byte message word mixed in
 * with two SipRounds, the last word carrying the length in its top byte, then four
 * rounds of finalisation. Pure: no state beyond the caller's key.
 */
#include "siphash.h"

#define SIPHASH_C_ROUNDS 2 /* per message word */
#define SIPHASH_D_ROUNDS 4 /* finalisation */

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < 8; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

void siphash_key_from_bytes(struct siphash_key *key, const uint8_t bytes[SIPHASH_KEY_BYTES])
{
	key->sk_k0 = load_le64(bytes);
	key->sk_k1 = load_le64(bytes + 8);
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	for (int i = 0; i < SIPHASH_C_ROUNDS; i++)
		sip_round(s);
	s->v0 ^= m;
}

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len)
{
	const uint8_t *p = data;
	/* The constants spell "somepseudorandomlygeneratedbytes" (paper, section 2.1). */
	struct sip_state s = {
		.v0 = key->sk_k0 ^ 0x736f6d6570736575ULL,
		.v1 = key->sk_k1 ^ 0x646f72616e646f6dULL,
		.v2 = key->sk_k0 ^ 0x6c7967656e657261ULL,
		.v3 = key->sk_k1 ^ 0x7465646279746573ULL,
	};
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8)
		sip_compress(&s, load_le64(p + i));
	/* The last word: the 0 to 7 bytes left, and len mod 256 in the top byte. */
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = whole; i < len; i++)
		last |= (uint64_t)p[i] << (8 * (i - whole));
	sip_compress(&s, last);
	s.v2 ^= 0xff;
	for (int i = 0; i < SIPHASH_D_ROUNDS; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
