/*
 * payload: what chatbench puts in a message, so a receiver knows who sent it, when, and
 * which one it is. Fixed-width lowercase hex in printable ASCII (valid UTF-8 for text
 * frames), padded with '.' to the message size:
 *
 *   "M tttttttttttttttt ssssssss qqqqqqqqqqqqqqqq ......"
 *    kind, send time (CLOCK_MONOTONIC ns), sender id, sequence number
 *
 * Kind 'M' is a measured message; 'E' is a sender's end marker, whose sequence number is
 * the count of messages it sent before it.
 */
#ifndef CHATBENCH_PAYLOAD_H
#define CHATBENCH_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_HEADER_LEN 45

enum payload_kind {
	PAYLOAD_MESSAGE = 'M',
	PAYLOAD_END = 'E',
};

struct payload {
	char pl_kind;
	uint64_t pl_time_ns;
	uint32_t pl_sender;
	uint64_t pl_seq;
};

/* Writes the header and fills out[PAYLOAD_HEADER_LEN..len) with '.'; len must be at least
 * PAYLOAD_HEADER_LEN. */
void payload_write(uint8_t *out, size_t len, const struct payload *p);

/* Rewrites only the header of a payload written before (the padding stays). */
void payload_write_header(uint8_t *out, const struct payload *p);

/* Reads the header from the first len bytes; false when they are not one of ours. */
bool payload_parse(const uint8_t *in, size_t len, struct payload *p);

#endif
