/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012),
 * a keyed 64-bit hash. Whoever does not know the key cannot choose inputs that collide, so
 * a hash table keyed with it cannot be flooded with one chain (room names, say).
 */
#ifndef CHATD_SIPHASH_H
#define CHATD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_BYTES 16

/* The 128-bit key as the paper's two 64-bit words, k0 the first 8 bytes little-endian. */
struct siphash_key {
	uint64_t sk_k0;
	uint64_t sk_k1;
};

void siphash_key_from_bytes(struct siphash_key *key, const uint8_t bytes[SIPHASH_KEY_BYTES]);

/* SipHash-2-4 of len bytes at data (borrowed, read only). */
uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);

#endif
