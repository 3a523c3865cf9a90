/* Output queues: singly linked entries, each holding one reference on a shared buffer. */
#include "outq.h"

#include <stdlib.h>

struct outq_entry {
	struct outq_entry *oe_next;
	struct sbuf *oe_buf; /* one reference, dropped when the entry is consumed */
};

/* Entries are recycled: queuing a frame on a client costs no malloc in the steady state. */
#define OUTQ_CACHE_MAX 65536
static struct outq_entry *free_entries;
static size_t free_count;

static struct outq_entry *entry_get(void)
{
	struct outq_entry *e = free_entries;
	if (e != NULL) {
		free_entries = e->oe_next;
		free_count--;
		return e;
	}
	return malloc(sizeof *e);
}

static void entry_put(struct outq_entry *e)
{
	if (free_count >= OUTQ_CACHE_MAX) {
		free(e);
		return;
	}
	e->oe_next = free_entries;
	free_entries = e;
	free_count++;
}

int outq_push(struct outq *q, struct sbuf *buf)
{
	struct outq_entry *e = entry_get();
	if (e == NULL)
		return -1;
	e->oe_next = NULL;
	e->oe_buf = sbuf_ref(buf);
	if (q->oq_tail != NULL)
		q->oq_tail->oe_next = e;
	else
		q->oq_head = e;
	q->oq_tail = e;
	q->oq_bytes += buf->sb_len;
	return 0;
}

int outq_iov(const struct outq *q, struct iovec *iov, int max, size_t budget)
{
	size_t offset = q->oq_head_offset;
	int n = 0;

	for (const struct outq_entry *e = q->oq_head; e != NULL && n < max && budget > 0;
	     e = e->oe_next) {
		size_t len = e->oe_buf->sb_len - offset;
		if (len > budget)
			len = budget;
		iov[n].iov_base = e->oe_buf->sb_data + offset;
		iov[n].iov_len = len;
		budget -= len;
		n++;
		offset = 0;
	}
	return n;
}

void outq_consume(struct outq *q, size_t n)
{
	q->oq_bytes -= n;
	/* n never exceeds what is queued: it counts bytes the kernel took from outq_iov. */
	while (q->oq_head != NULL && (n > 0 || q->oq_head->oe_buf->sb_len == q->oq_head_offset)) {
		struct outq_entry *e = q->oq_head;
		size_t left = e->oe_buf->sb_len - q->oq_head_offset;
		if (n < left) {
			q->oq_head_offset += n;
			return;
		}
		n -= left;
		q->oq_head = e->oe_next;
		if (q->oq_head == NULL)
			q->oq_tail = NULL;
		q->oq_head_offset = 0;
		sbuf_unref(e->oe_buf);
		entry_put(e);
	}
}

void outq_clear(struct outq *q)
{
	while (q->oq_head != NULL) {
		struct outq_entry *e = q->oq_head;
		q->oq_head = e->oe_next;
		sbuf_unref(e->oe_buf);
		entry_put(e);
	}
	q->oq_tail = NULL;
	q->oq_head_offset = 0;
	q->oq_bytes = 0;
}

void outq_drop_unsent(struct outq *q)
{
	struct outq_entry *keep = q->oq_head_offset > 0 ? q->oq_head : NULL;
	struct outq_entry *e = keep ? keep->oe_next : q->oq_head;

	while (e != NULL) {
		struct outq_entry *next = e->oe_next;
		q->oq_bytes -= e->oe_buf->sb_len;
		sbuf_unref(e->oe_buf);
		entry_put(e);
		e = next;
	}
	if (keep != NULL)
		keep->oe_next = NULL;
	q->oq_head = q->oq_tail = keep;
	if (keep == NULL)
		q->oq_head_offset = 0;
}

void outq_release_cache(void)
{
	while (free_entries != NULL) {
		struct outq_entry *e = free_entries;
		free_entries = e->oe_next;
		free(e);
	}
	free_count = 0;
}
