/*
 * envelope: the binary wrapper a chatd node puts around a message it publishes to the
 * other nodes through Redis, and the check of what arrives from them. Pure: no I/O, no
 * allocation; the decoder trusts nothing and hands back a slice of the caller's buffer.
 *
 *   byte 0     ENVELOPE_MAGIC (version 1; any other value is refused)
 *   byte 1     the WebSocket opcode: 1 text, 2 binary; ENVELOPE_LOGGED added for an entry
 *              of a room's log (roomlog.h), which is for the handlers, not the hub
 *   bytes 2-9  the origin node's id, big-endian
 *   bytes 10-  the payload, as the sender's client sent it; a logged entry's payload
 *              starts with its id, 8 bytes big-endian (Redis gave it), then the entry
 */
#ifndef CHATD_ENVELOPE_H
#define CHATD_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_MAGIC       0xC1
#define ENVELOPE_HEADER_SIZE 10
#define ENVELOPE_LOGGED      0x40 /* or'ed into byte 1 */
#define ENVELOPE_ID_SIZE     8

enum envelope_status {
	ENVELOPE_OK,
	ENVELOPE_SHORT,      /* fewer bytes than a header */
	ENVELOPE_BAD_MAGIC,  /* not ours, or a version this node does not speak */
	ENVELOPE_BAD_OPCODE, /* neither text nor binary */
	ENVELOPE_BAD_UTF8,   /* a text payload that is not UTF-8 */
	ENVELOPE_NO_ID,      /* a logged entry too short for its id */
};

struct envelope {
	uint64_t en_origin;
	uint8_t en_opcode;
	bool en_logged; /* an entry of a room's log: en_id is its id, en_payload the entry */
	uint64_t en_id;
	const uint8_t *en_payload; /* points into the decoded buffer; borrowed */
	size_t en_len;
};

/* Writes the envelope of payload into out (cap bytes). Returns its length
 * (ENVELOPE_HEADER_SIZE + len), or 0 when cap is too small or the opcode is neither text
 * nor binary. out and payload must not overlap. */
size_t envelope_encode(uint8_t *out, size_t cap, uint64_t origin, uint8_t opcode,
		       const uint8_t *payload, size_t len);

/* Checks buf[0..len) and, when it is a well-formed envelope, fills out. Reads nothing
 * past buf + len. */
enum envelope_status envelope_decode(const uint8_t *buf, size_t len, struct envelope *out);

/* A short name for a status, for logs ("bad magic"). */
const char *envelope_status_text(enum envelope_status st);

#endif
