/*
 * sbuf: a reference-counted byte buffer. An outgoing frame is encoded once into an sbuf
 * and queued on every recipient by reference; the last unref frees it. Buffers of the two
 * common sizes (a chat-sized frame, a client's coalescing buffer) come from free lists so
 * the steady-state message path does not call malloc. Every buffer, cached or in use, is
 * charged to membudget at what it costs.
 * Single-threaded by design (chatd runs one event loop): the count is a plain integer.
 */
#ifndef CHATD_SBUF_H
#define CHATD_SBUF_H

#include <stddef.h>
#include <stdint.h>

#include "membudget.h"

/* The two pooled capacities: every frame up to SBUF_SMALL bytes gets that much room. */
#define SBUF_SMALL  512
#define SBUF_MEDIUM 4064 /* with the header, one 4 KiB malloc block */

struct sbuf {
	uint32_t sb_refs;
	uint32_t sb_cap; /* bytes allocated for sb_data */
	size_t sb_len;   /* bytes in use */
	struct sbuf *sb_next_free;
	uint8_t sb_data[];
};

/* A buffer with room for len bytes, sb_len set to len and one reference held by the
 * caller. Returns NULL when memory runs out. */
struct sbuf *sbuf_new(size_t len);

/* An empty buffer (sb_len 0) with room for at least cap bytes. */
struct sbuf *sbuf_new_empty(size_t cap);

/* Copies len bytes into a new buffer. */
struct sbuf *sbuf_from(const void *data, size_t len);

static inline struct sbuf *sbuf_ref(struct sbuf *b)
{
	b->sb_refs++;
	return b;
}

/* What the buffer costs in memory, whoever holds it. */
static inline size_t sbuf_cost(const struct sbuf *b)
{
	return membudget_block(sizeof *b + b->sb_cap);
}

/* Drops one reference; frees (or recycles) the buffer with the last. */
void sbuf_unref(struct sbuf *b);

/* Returns the free lists to malloc (at shutdown, so leak checkers see a clean exit). */
void sbuf_release_cache(void);

#endif
