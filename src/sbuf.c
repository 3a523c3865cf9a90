/*
 * Reference-counted buffers. Buffers of the two pooled sizes are recycled through free
 * lists, so broadcasting a message allocates nothing once the lists are warm; other sizes
 * go back to malloc, which handles them well.
 */
#include "sbuf.h"

#include <stdlib.h>
#include <string.h>

/* Enough for a burst of messages in flight, small enough to be noise in RSS: 1024 small
 * buffers are 0.5 MiB, 256 medium ones 1 MiB. */
#define SBUF_SMALL_CACHE_MAX  1024
#define SBUF_MEDIUM_CACHE_MAX 256

struct pool {
	struct sbuf *p_free;
	size_t p_count, p_max;
	uint32_t p_cap;
};

static struct pool pools[2] = {
	{NULL, 0, SBUF_SMALL_CACHE_MAX, SBUF_SMALL},
	{NULL, 0, SBUF_MEDIUM_CACHE_MAX, SBUF_MEDIUM},
};

static struct pool *pool_for_cap(uint32_t cap)
{
	for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
		if (pools[i].p_cap == cap)
			return &pools[i];
	return NULL;
}

/* A buffer of capacity cap (a pooled size, or exactly what is asked), refs 1, len 0. */
static struct sbuf *alloc_cap(size_t cap)
{
	struct pool *p;
	struct sbuf *b;

	if (cap > UINT32_MAX)
		return NULL;
	p = pool_for_cap((uint32_t)cap);
	if (p != NULL && p->p_free != NULL) {
		b = p->p_free;
		p->p_free = b->sb_next_free;
		p->p_count--;
	} else {
		b = malloc(sizeof *b + cap);
		if (b == NULL)
			return NULL;
		b->sb_cap = (uint32_t)cap;
		membudget_charge(sbuf_cost(b));
	}
	b->sb_refs = 1;
	b->sb_len = 0;
	b->sb_next_free = NULL;
	return b;
}

struct sbuf *sbuf_new(size_t len)
{
	struct sbuf *b = alloc_cap(len <= SBUF_SMALL ? SBUF_SMALL : len);
	if (b != NULL)
		b->sb_len = len;
	return b;
}

struct sbuf *sbuf_new_empty(size_t cap)
{
	if (cap <= SBUF_SMALL)
		cap = SBUF_SMALL;
	else if (cap <= SBUF_MEDIUM)
		cap = SBUF_MEDIUM;
	return alloc_cap(cap);
}

struct sbuf *sbuf_from(const void *data, size_t len)
{
	struct sbuf *b = sbuf_new(len);
	if (b != NULL && len > 0)
		memcpy(b->sb_data, data, len);
	return b;
}

void sbuf_unref(struct sbuf *b)
{
	struct pool *p;

	if (--b->sb_refs > 0)
		return;
	p = pool_for_cap(b->sb_cap);
	if (p != NULL && p->p_count < p->p_max) {
		b->sb_next_free = p->p_free;
		p->p_free = b;
		p->p_count++;
		return;
	}
	membudget_release(sbuf_cost(b));
	free(b);
}

void sbuf_release_cache(void)
{
	for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
		while (pools[i].p_free != NULL) {
			struct sbuf *b = pools[i].p_free;
			pools[i].p_free = b->sb_next_free;
			membudget_release(sbuf_cost(b));
			free(b);
		}
		pools[i].p_count = 0;
	}
}
