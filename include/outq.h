/*
 * outq: a connection's queue of outgoing buffers, written with one writev per flush.
 * The queue is a ring of references to shared sbufs, so queuing a broadcast frame on N
 * clients costs N pointer stores and no copies. The ring exists only while something is
 * queued (an idle connection holds none), and small rings are recycled. Pure: no I/O; the
 * connection asks for an iovec array, writes it, and reports how much went out.
 *
 * The queue knows what it costs: oq_cost is the memory it pins, each buffer counted whole
 * (a slow client alone keeps a shared frame alive), plus its ring. Behind a backlog, small
 * frames are copied into a buffer of the queue's own instead of referenced: a 6-byte frame
 * then costs 6 bytes, not a 512-byte buffer and a ring slot.
 */
#ifndef CHATD_OUTQ_H
#define CHATD_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sbuf.h"

struct outq {
	/* Owned; each slot from oq_head on, oq_count of them, holds one reference. NULL while
	 * the queue is empty. */
	struct sbuf **oq_ring;
	uint32_t oq_cap; /* slots, a power of two */
	uint32_t oq_head;
	uint32_t oq_count;
	uint32_t oq_head_offset; /* bytes of the first buffer already written */
	size_t oq_bytes;         /* bytes queued and not yet written */
	size_t oq_cost;          /* memory the queue holds: its buffers, whole, and its ring */
};

/* Frames up to this size are copied behind a backlog rather than referenced. */
#define OUTQ_COPY_MAX 256

static inline bool outq_empty(const struct outq *q)
{
	return q->oq_count == 0;
}

/* Appends buf to the queue, taking a new reference on it. Returns -1 when memory runs out. */
int outq_push(struct outq *q, struct sbuf *buf);

/* Queues a frame the cheapest way: by reference when the queue is empty or the frame is
 * large, else copied into the queue's own tail buffer (made when needed). The caller keeps
 * its reference either way. Returns -1 when memory runs out. */
int outq_append(struct outq *q, struct sbuf *frame);

/* Fills up to max iovecs with the queued bytes, at most budget bytes in all.
 * Returns the number of iovecs filled. */
int outq_iov(const struct outq *q, struct iovec *iov, int max, size_t budget);

/* Drops n written bytes from the front of the queue. */
void outq_consume(struct outq *q, size_t n);

/* Drops every byte not yet written but a partly written first buffer (cutting that would
 * corrupt the stream's framing). */
void outq_drop_unsent(struct outq *q);

/* Drops everything queued. */
void outq_clear(struct outq *q);

/* Returns the recycled rings to malloc. */
void outq_release_cache(void);

#endif
