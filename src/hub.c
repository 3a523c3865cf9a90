/*
 * The broadcast hub: an array of members, walked once per message.
 *
 * Per message: one allocation-free encode (the sbuf comes from a free list for chat-sized
 * messages), one memcpy of the payload, then per recipient one call that queues a
 * reference. Members leaving while a walk is under way (a recipient cut off for
 * backpressure, say) leave a hole that is compacted when the walk ends, so the walk never
 * skips or repeats anyone.
 */
#include "hub.h"

#include <stdlib.h>
#include <string.h>

#include "frame.h"

struct hub {
	struct hub_member **hb_members; /* owned array; the members belong to their owners */
	size_t hb_count;                /* slots in use, holes included */
	size_t hb_cap;
	size_t hb_live;    /* members, holes excluded */
	unsigned hb_walks; /* walks under way; leaving during one leaves a hole */
	bool hb_holes;
	bool hb_echo;
};

struct hub *hub_new(bool echo)
{
	struct hub *h = calloc(1, sizeof *h);
	if (h != NULL)
		h->hb_echo = echo;
	return h;
}

void hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	free(h->hb_members);
	free(h);
}

size_t hub_count(const struct hub *h)
{
	return h->hb_live;
}

int hub_join(struct hub *h, struct hub_member *m)
{
	if (h->hb_count == h->hb_cap) {
		size_t cap = h->hb_cap ? h->hb_cap * 2 : 64;
		struct hub_member **p = realloc(h->hb_members, cap * sizeof *p);
		if (p == NULL)
			return -1;
		h->hb_members = p;
		h->hb_cap = cap;
	}
	m->hm_index = h->hb_count;
	m->hm_joined = true;
	h->hb_members[h->hb_count++] = m;
	h->hb_live++;
	return 0;
}

void hub_leave(struct hub *h, struct hub_member *m)
{
	if (!m->hm_joined)
		return;
	m->hm_joined = false;
	h->hb_live--;
	if (h->hb_walks > 0) {
		h->hb_members[m->hm_index] = NULL;
		h->hb_holes = true;
		return;
	}
	/* Swap the last member into the slot: O(1), order does not matter. */
	struct hub_member *last = h->hb_members[--h->hb_count];
	h->hb_members[m->hm_index] = last;
	last->hm_index = m->hm_index;
}

static void compact(struct hub *h)
{
	size_t out = 0;
	for (size_t i = 0; i < h->hb_count; i++) {
		struct hub_member *m = h->hb_members[i];
		if (m == NULL)
			continue;
		m->hm_index = out;
		h->hb_members[out++] = m;
	}
	h->hb_count = out;
	h->hb_holes = false;
}

static void end_walk(struct hub *h)
{
	if (--h->hb_walks == 0 && h->hb_holes)
		compact(h);
}

long hub_publish(struct hub *h, const struct hub_member *from, uint8_t opcode,
                 const uint8_t *payload, size_t len)
{
	size_t header = frame_header_size(len);
	struct sbuf *frame = sbuf_new(header + len);
	long delivered = 0;

	if (frame == NULL)
		return -1;
	frame_encode_header(frame->sb_data, true, opcode, len);
	if (len > 0)
		memcpy(frame->sb_data + header, payload, len);

	h->hb_walks++;
	/* Members joining during the walk (none do today) would not get this message. */
	for (size_t i = 0, n = h->hb_count; i < n; i++) {
		struct hub_member *m = h->hb_members[i];
		if (m == NULL || (m == from && !h->hb_echo))
			continue;
		m->hm_deliver(m, frame);
		delivered++;
	}
	end_walk(h);
	sbuf_unref(frame);
	return delivered;
}

void hub_each(struct hub *h, void (*fn)(struct hub_member *m, void *arg), void *arg)
{
	h->hb_walks++;
	for (size_t i = 0, n = h->hb_count; i < n; i++)
		if (h->hb_members[i] != NULL)
			fn(h->hb_members[i], arg);
	end_walk(h);
}
