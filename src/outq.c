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

static struct sbuf **ring_get_small(void)
{
	if (free_count > 0)
		return free_rings[--free_count];
	return malloc(OUTQ_SMALL * sizeof(struct sbuf *));
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
	free(ring);
}

/* The queue became empty: give its ring back. */
static void release_ring(struct outq *q)
{
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
		return 0;
	}
	if (q->oq_cap > UINT32_MAX / 2)
		return -1;
	uint32_t cap = q->oq_cap * 2;
	struct sbuf **ring = malloc(cap * sizeof(struct sbuf *));
	if (ring == NULL)
		return -1;
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
	return 0;
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
			q->oq_head_offset += n;
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
		free(free_rings[--free_count]);
	free(free_rings);
	free_rings = NULL;
	free_cap = 0;
}
