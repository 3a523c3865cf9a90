/*
 * utf8: incremental UTF-8 validation (RFC 3629) for text messages and close reasons.
 * The validator's state survives across calls, so a text message that arrives in many
 * fragments (or one byte per read) is checked as it arrives and rejected at the first byte
 * that cannot belong to a well-formed sequence (RFC 6455 section 8.1: fail fast).
 * Pure: no allocation, no I/O.
 */
#ifndef CHATD_UTF8_H
#define CHATD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zero-initialise (or call utf8_reset) before the first byte of a string. */
struct utf8_validator {
	uint8_t u8_pending; /* continuation bytes still expected */
	uint8_t u8_lo;      /* allowed range for the next continuation byte */
	uint8_t u8_hi;
};

void utf8_reset(struct utf8_validator *v);

/* Feeds len bytes. Returns false at the first byte that makes the input invalid; the
 * validator is then stuck in a failed state until reset. A true result says only that no
 * error has been seen yet: the string may end in the middle of a sequence. */
bool utf8_feed(struct utf8_validator *v, const uint8_t *buf, size_t len);

/* True when the bytes fed so far end on a sequence boundary. */
bool utf8_at_boundary(const struct utf8_validator *v);

/* Validates a whole string in one call. */
bool utf8_valid(const uint8_t *buf, size_t len);

#endif
