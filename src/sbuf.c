/*
 * Reference-counted buffers. Buffers up to SBUF_SMALL bytes (every chat-sized frame) are
 * recycled through a free list, so broadcasting a message allocates nothing once the list
 * is warm; larger ones go back to malloc, which handles them well.
 */
#include "sbuf.h"

#include <stdlib.h>
#include <string.h>

#define SBUF_SMALL 512
/* Enough for a burst of messages in flight, small enough to be noise in RSS. */
#define SBUF_CACHE_MAX 1024

static struct sbuf *free_list;
static size_t free_count;

struct sbuf *sbuf_new(size_t len)
{
	struct sbuf *b;

	if (len > UINT32_MAX)
		return NULL;
	if (len <= SBUF_SMALL && free_list != NULL) {
		b = free_list;
		free_list = b->sb_next_free;
		free_count--;
	} else {
		size_t cap = len <= SBUF_SMALL ? SBUF_SMALL : len;
		b = malloc(sizeof *b + cap);
		if (b == NULL)
			return NULL;
		b->sb_cap = (uint32_t)cap;
	}
	b->sb_refs = 1;
	b->sb_len = len;
	b->sb_next_free = NULL;
	return b;
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
	if (--b->sb_refs > 0)
		return;
	if (b->sb_cap == SBUF_SMALL && free_count < SBUF_CACHE_MAX) {
		b->sb_next_free = free_list;
		free_list = b;
		free_count++;
		return;
	}
	free(b);
}

void sbuf_release_cache(void)
{
	while (free_list != NULL) {
		struct sbuf *b = free_list;
		free_list = b->sb_next_free;
		free(b);
	}
	free_count = 0;
}
