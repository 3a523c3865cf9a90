/*
 * Output queues as rings of buffer references. A flush walks consecutive pointers, not a
 * linked list: at 64-byte fan-out the list's pointer chasing was a third of chatd's CPU
 * (docs/BENCHMARKS.md). Rings of OUTQ_SMALL slots, enough for the frames a client gets
 * in one loop pass, are recycled, so the steady state calls no malloc.
 */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#define OUTQ_SMALL 8
/* Recycled small rings kept at most: 64 bytes each. */
#define OUTQ_CACHE_MAX 16384

static struct sbuf ***free_rings; /* a stack of small rings */
static size_t free_count, free_cap;

static size_t ring_cost(uint32_t cap)
{
	return membudget_block(cap * sizeof(struct sbuf *));
}

static struct sbuf **ring_alloc(uint32_t cap)
{
	struct sbuf **ring = cap > 0 ? malloc(cap * sizeof(struct sbuf *)) : NULL;
	if (ring != NULL)
		membudget_charge(ring_cost(cap));
	return ring;
}

static void ring_free(struct sbuf **ring, uint32_t cap)
{
	membudget_release(ring_cost(cap));
	free(ring);
}

static struct sbuf **ring_get_small(void)
{
	if (free_count > 0)
		return free_rings[--free_count];
	return ring_alloc(OUTQ_SMALL);
}

static void ring_put(struct sbuf **ring, uint32_t cap)
{
	if (cap == OUTQ_SMALL) {
		if (free_count == free_cap && free_cap < OUTQ_CACHE_MAX) {
			size_t n = free_cap ? free_cap * 2 : 256;
			struct sbuf ***p = realloc(free_rings, n * sizeof *p);
			if (p != NULL) {
				free_rings = p;
				free_cap = n;
			}
		}
		if (free_count < free_cap) {
			free_rings[free_count++] = ring;
			return;
		}
	}
	ring_free(ring, cap);
}

/* The queue became empty: give its ring back. */
static void release_ring(struct outq *q)
{
	q->oq_cost -= ring_cost(q->oq_cap);
	ring_put(q->oq_ring, q->oq_cap);
	q->oq_ring = NULL;
	q->oq_cap = 0;
	q->oq_head = 0;
	q->oq_head_offset = 0;
}

static int grow(struct outq *q)
{
	if (q->oq_ring == NULL) {
		q->oq_ring = ring_get_small();
		if (q->oq_ring == NULL)
			return -1;
		q->oq_cap = OUTQ_SMALL;
		q->oq_head = 0;
		q->oq_cost += ring_cost(OUTQ_SMALL);
		return 0;
	}
	if (q->oq_cap > UINT32_MAX / 2)
		return -1;
	uint32_t cap = q->oq_cap * 2;
	struct sbuf **ring = ring_alloc(cap);
	if (ring == NULL)
		return -1;
	q->oq_cost += ring_cost(cap) - ring_cost(q->oq_cap);
	/* Unwrap into the new ring, oldest first. */
	for (uint32_t i = 0; i < q->oq_count; i++)
		ring[i] = q->oq_ring[(q->oq_head + i) & (q->oq_cap - 1)];
	ring_put(q->oq_ring, q->oq_cap);
	q->oq_ring = ring;
	q->oq_cap = cap;
	q->oq_head = 0;
	return 0;
}

int outq_push(struct outq *q, struct sbuf *buf)
{
	if (q->oq_count == q->oq_cap && grow(q) < 0)
		return -1;
	q->oq_ring[(q->oq_head + q->oq_count) & (q->oq_cap - 1)] = sbuf_ref(buf);
	q->oq_count++;
	q->oq_bytes += buf->sb_len;
	q->oq_cost += sbuf_cost(buf);
	return 0;
}

int outq_append(struct outq *q, struct sbuf *frame)
{
	struct sbuf *tail, *own;

	/* An empty queue will likely be written whole this pass: share, don't copy. */
	if (q->oq_count == 0 || frame->sb_len > OUTQ_COPY_MAX)
		return outq_push(q, frame);
	/* A tail buffer nobody else holds may take more bytes, even once partly written:
	 * outq_iov reads each buffer's length when the flush comes. */
	tail = q->oq_ring[(q->oq_head + q->oq_count - 1) & (q->oq_cap - 1)];
	if (tail->sb_refs == 1 && tail->sb_cap - tail->sb_len >= frame->sb_len) {
		memcpy(tail->sb_data + tail->sb_len, frame->sb_data, frame->sb_len);
		tail->sb_len += frame->sb_len;
		q->oq_bytes += frame->sb_len;
		return 0;
	}
	own = sbuf_new_empty(SBUF_MEDIUM);
	if (own == NULL)
		return -1;
	memcpy(own->sb_data, frame->sb_data, frame->sb_len);
	own->sb_len = frame->sb_len;
	int rc = outq_push(q, own);
	sbuf_unref(own); /* the queue holds the only reference now */
	return rc;
}

int outq_iov(const struct outq *q, struct iovec *iov, int max, size_t budget)
{
	size_t offset = q->oq_head_offset;
	int n = 0;

	for (uint32_t i = 0; i < q->oq_count && n < max && budget > 0; i++) {
		const struct sbuf *b = q->oq_ring[(q->oq_head + i) & (q->oq_cap - 1)];
		size_t len = b->sb_len - offset;
		if (len > budget)
			len = budget;
		iov[n].iov_base = (void *)(b->sb_data + offset);
		iov[n].iov_len = len;
		budget -= len;
		n++;
		offset = 0;
	}
	return n;
}

/* Drops the first buffer. */
static void pop(struct outq *q)
{
	q->oq_cost -= sbuf_cost(q->oq_ring[q->oq_head]);
	sbuf_unref(q->oq_ring[q->oq_head]);
	q->oq_head = (q->oq_head + 1) & (q->oq_cap - 1);
	q->oq_count--;
	q->oq_head_offset = 0;
}

void outq_consume(struct outq *q, size_t n)
{
	q->oq_bytes -= n;
	/* n never exceeds what is queued: it counts bytes the kernel took from outq_iov. */
	while (q->oq_count > 0) {
		size_t left = q->oq_ring[q->oq_head]->sb_len - q->oq_head_offset;
		if (n < left) {
			q->oq_head_offset += (uint32_t)n;
			return;
		}
		n -= left;
		pop(q);
	}
	if (q->oq_ring != NULL)
		release_ring(q);
}

void outq_drop_unsent(struct outq *q)
{
	/* A partly written first buffer stays: cutting it would corrupt the framing. */
	uint32_t keep = q->oq_head_offset > 0 ? 1 : 0;

	while (q->oq_count > keep) {
		uint32_t last = (q->oq_head + q->oq_count - 1) & (q->oq_cap - 1);
		q->oq_bytes -= q->oq_ring[last]->sb_len;
		q->oq_cost -= sbuf_cost(q->oq_ring[last]);
		sbuf_unref(q->oq_ring[last]);
		q->oq_count--;
	}
	if (q->oq_count == 0 && q->oq_ring != NULL)
		release_ring(q);
}

void outq_clear(struct outq *q)
{
	while (q->oq_count > 0)
		pop(q);
	if (q->oq_ring != NULL)
		release_ring(q);
	q->oq_bytes = 0;
}

void outq_release_cache(void)
{
	while (free_count > 0)
		ring_free(free_rings[--free_count], OUTQ_SMALL);
	free(free_rings);
	free_rings = NULL;
	free_cap = 0;
}
