/*
 * The broadcast hub: rooms in a chained hash table, each room an array of members walked
 * once per message.
 *
 * Per message: one encode into an sbuf (from a free list for chat-sized messages), one
 * memcpy of the payload, then per recipient one call that queues a reference. Members
 * leaving during a walk (a recipient cut off for backpressure, say) leave a hole that is
 * compacted when the walk ends, so a walk never skips or repeats anyone, and a room is
 * never freed under its own walk.
 */
#include "hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "frame.h"
#include "siphash.h"

struct hub_room {
	struct hub_room *hr_next_in_bucket;
	struct hub_member **hr_members; /* owned array; members belong to their owners */
	size_t hr_count;                /* slots in use, holes included */
	size_t hr_cap;
	size_t hr_live;    /* members, holes excluded */
	unsigned hr_walks; /* walks under way */
	bool hr_holes;
	size_t hr_name_len;
	char hr_name[HUB_ROOM_NAME_MAX + 1];
};

struct hub {
	struct hub_room **hb_buckets; /* owned, as are the rooms in them */
	size_t hb_bucket_count;       /* a power of two */
	size_t hb_rooms;
	size_t hb_members;
	hub_deliver_fn hb_deliver;
	struct hub_observer hb_observer; /* all NULL: nobody listens */
	struct siphash_key hb_key;       /* secret, drawn at creation: see hash_name */
};

#define HUB_INITIAL_BUCKETS 64

/* 16 bytes from the kernel's generator. getrandom(2) blocks only until the generator is
 * first seeded, early in boot; a short read happens only on a signal. */
static int draw_key(struct siphash_key *key)
{
	uint8_t bytes[SIPHASH_KEY_BYTES];
	size_t got = 0;

	while (got < sizeof bytes) {
		ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	siphash_key_from_bytes(key, bytes);
	return 0;
}

struct hub *hub_new(hub_deliver_fn deliver)
{
	struct hub *h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->hb_buckets = calloc(HUB_INITIAL_BUCKETS, sizeof(struct hub_room *));
	if (h->hb_buckets == NULL) {
		free(h);
		return NULL;
	}
	h->hb_bucket_count = HUB_INITIAL_BUCKETS;
	h->hb_deliver = deliver;
	if (draw_key(&h->hb_key) < 0) {
		free(h->hb_buckets);
		free(h);
		return NULL;
	}
	return h;
}

static void room_free(struct hub_room *r)
{
	free(r->hr_members);
	free(r);
}

void hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->hb_bucket_count; i++) {
		while (h->hb_buckets[i] != NULL) {
			struct hub_room *r = h->hb_buckets[i];
			h->hb_buckets[i] = r->hr_next_in_bucket;
			room_free(r);
		}
	}
	free(h->hb_buckets);
	free(h);
}

size_t hub_member_count(const struct hub *h)
{
	return h->hb_members;
}

size_t hub_room_count(const struct hub *h)
{
	return h->hb_rooms;
}

/* Room names are chosen by clients. With an unkeyed hash anyone can compute names that
 * share a bucket, and every join, leave and hub_publish_room on them walks one long chain
 * (hash flooding). SipHash keyed with a secret drawn per process makes the bucket of a
 * name unpredictable: chains stay short on average however the names are chosen. */
static size_t hash_name(const struct hub *h, const char *name, size_t len)
{
	return (size_t)siphash24(&h->hb_key, name, len);
}

static struct hub_room **bucket_of(const struct hub *h, const char *name, size_t len)
{
	return &h->hb_buckets[hash_name(h, name, len) & (h->hb_bucket_count - 1)];
}

static struct hub_room *find_room(const struct hub *h, const char *name, size_t len)
{
	for (struct hub_room *r = *bucket_of(h, name, len); r != NULL; r = r->hr_next_in_bucket)
		if (r->hr_name_len == len && memcmp(r->hr_name, name, len) == 0)
			return r;
	return NULL;
}

/* Doubles the table when rooms outnumber buckets; on failure the table stays as it is. */
static void maybe_grow(struct hub *h)
{
	if (h->hb_rooms < h->hb_bucket_count)
		return;
	size_t count = h->hb_bucket_count * 2;
	struct hub_room **buckets = calloc(count, sizeof(struct hub_room *));
	if (buckets == NULL)
		return;
	for (size_t i = 0; i < h->hb_bucket_count; i++) {
		while (h->hb_buckets[i] != NULL) {
			struct hub_room *r = h->hb_buckets[i];
			h->hb_buckets[i] = r->hr_next_in_bucket;
			size_t b = hash_name(h, r->hr_name, r->hr_name_len) & (count - 1);
			r->hr_next_in_bucket = buckets[b];
			buckets[b] = r;
		}
	}
	free(h->hb_buckets);
	h->hb_buckets = buckets;
	h->hb_bucket_count = count;
}

void hub_set_observer(struct hub *h, const struct hub_observer *obs)
{
	if (obs != NULL)
		h->hb_observer = *obs;
	else
		memset(&h->hb_observer, 0, sizeof h->hb_observer);
}

static void unlink_room(struct hub *h, struct hub_room *room)
{
	struct hub_room **p = bucket_of(h, room->hr_name, room->hr_name_len);
	while (*p != room)
		p = &(*p)->hr_next_in_bucket;
	*p = room->hr_next_in_bucket;
	h->hb_rooms--;
	if (h->hb_observer.ho_room_closed != NULL)
		h->hb_observer.ho_room_closed(h->hb_observer.ho_arg, room->hr_name,
					      room->hr_name_len);
	room_free(room);
}

int hub_join(struct hub *h, struct hub_member *m, const char *name, size_t len)
{
	struct hub_room *r;

	if (len == 0 || len > HUB_ROOM_NAME_MAX)
		return -1;
	r = find_room(h, name, len);
	if (r == NULL) {
		r = calloc(1, sizeof *r);
		if (r == NULL)
			return -1;
		memcpy(r->hr_name, name, len);
		r->hr_name_len = len;
		maybe_grow(h);
		struct hub_room **b = bucket_of(h, name, len);
		r->hr_next_in_bucket = *b;
		*b = r;
		h->hb_rooms++;
		if (h->hb_observer.ho_room_opened != NULL)
			h->hb_observer.ho_room_opened(h->hb_observer.ho_arg, name, len);
	}
	if (r->hr_count == r->hr_cap) {
		if (r->hr_cap >= UINT32_MAX / 2) {
			if (r->hr_live == 0 && r->hr_walks == 0)
				unlink_room(h, r);
			return -1; /* an index past 32 bits; memory runs out long before */
		}
		size_t cap = r->hr_cap ? r->hr_cap * 2 : 4;
		struct hub_member **p = realloc(r->hr_members, cap * sizeof(struct hub_member *));
		if (p == NULL) {
			if (r->hr_live == 0 && r->hr_walks == 0)
				unlink_room(h, r);
			return -1;
		}
		r->hr_members = p;
		r->hr_cap = cap;
	}
	m->hm_room = r;
	m->hm_index = (uint32_t)r->hr_count;
	r->hr_members[r->hr_count++] = m;
	r->hr_live++;
	h->hb_members++;
	return 0;
}

static void compact(struct hub_room *r)
{
	size_t out = 0;
	for (size_t i = 0; i < r->hr_count; i++) {
		struct hub_member *m = r->hr_members[i];
		if (m == NULL)
			continue;
		m->hm_index = (uint32_t)out;
		r->hr_members[out++] = m;
	}
	r->hr_count = out;
	r->hr_holes = false;
}

void hub_leave(struct hub *h, struct hub_member *m)
{
	struct hub_room *r = m->hm_room;

	if (r == NULL)
		return;
	m->hm_room = NULL;
	r->hr_live--;
	h->hb_members--;
	if (r->hr_walks > 0) {
		r->hr_members[m->hm_index] = NULL;
		r->hr_holes = true;
		return; /* the walk's end compacts, or frees the room */
	}
	/* Swap the last member into the slot: O(1); order does not matter. */
	struct hub_member *last = r->hr_members[--r->hr_count];
	r->hr_members[m->hm_index] = last;
	last->hm_index = m->hm_index;
	if (r->hr_live == 0)
		unlink_room(h, r);
}

/* Ends a walk over r's members: the last walk out compacts the holes that members who
 * left during it made, or frees the room they left empty. */
static void walk_end(struct hub *h, struct hub_room *r)
{
	if (--r->hr_walks == 0) {
		if (r->hr_live == 0)
			unlink_room(h, r);
		else if (r->hr_holes)
			compact(r);
	}
}

/* Any member, whatever its tag. */
#define HUB_ANY_TAG (-1)

static long room_publish(struct hub *h, struct hub_room *r, const struct hub_member *except,
			 int tag, uint8_t opcode, const uint8_t *payload, size_t len)
{
	size_t header = frame_header_size(len);
	struct sbuf *frame;
	long delivered = 0;

	/* A sender alone in its room reaches nobody: skip the encode. */
	if (r->hr_live == (except != NULL && except->hm_room == r ? 1u : 0u))
		return 0;
	frame = sbuf_new(header + len);
	if (frame == NULL)
		return -1;
	frame_encode_header(frame->sb_data, true, opcode, len);
	if (len > 0)
		memcpy(frame->sb_data + header, payload, len);

	r->hr_walks++;
	for (size_t i = 0, n = r->hr_count; i < n; i++) {
		struct hub_member *m = r->hr_members[i];
		if (m == NULL || m == except || (tag != HUB_ANY_TAG && m->hm_tag != tag))
			continue;
		h->hb_deliver(m, frame);
		delivered++;
	}
	walk_end(h, r);
	sbuf_unref(frame);
	return delivered;
}

const char *hub_member_room(const struct hub_member *m)
{
	return m->hm_room != NULL ? m->hm_room->hr_name : NULL;
}

/* Publishes from this process. tag: the members it reaches (HUB_ANY_TAG: all). The
 * observer (the backplane) hears what reaches tag 0, the encoding every node's untagged
 * members share; a tag of a handler's own is this process's business. */
static long publish(struct hub *h, const char *room, size_t room_len,
		    const struct hub_member *except, int tag, uint8_t opcode,
		    const uint8_t *payload, size_t len)
{
	const struct hub_observer *obs = &h->hb_observer;
	char name[HUB_ROOM_NAME_MAX];
	long delivered = 0;

	/* The usual case, a message to the sender's own room named by the sender's own
	 * hub_member_room pointer, needs no lookup. */
	struct hub_room *r =
		except != NULL && except->hm_room != NULL && room == except->hm_room->hr_name
			? except->hm_room
			: find_room(h, room, room_len);
	/* A name no room can have (over HUB_ROOM_NAME_MAX) is nobody's, here or elsewhere. */
	if (obs->ho_published == NULL || tag > 0 || room_len == 0 || room_len > sizeof name)
		return r != NULL ? room_publish(h, r, except, tag, opcode, payload, len) : 0;
	/* The walk may free the room, and room may be its name (a sender cut off while
	 * receiving its own echo): keep a copy. Local members first, so a slow backplane
	 * never delays them; a room with no members here may have some on other nodes. */
	memcpy(name, room, room_len);
	if (r != NULL)
		delivered = room_publish(h, r, except, tag, opcode, payload, len);
	obs->ho_published(obs->ho_arg, name, room_len, opcode, payload, len);
	return delivered;
}

long hub_publish(struct hub *h, const char *room, size_t room_len, const struct hub_member *except,
		 uint8_t opcode, const uint8_t *payload, size_t len)
{
	return publish(h, room, room_len, except, HUB_ANY_TAG, opcode, payload, len);
}

long hub_publish_tag(struct hub *h, const char *room, size_t room_len,
		     const struct hub_member *except, uint8_t tag, uint8_t opcode,
		     const uint8_t *payload, size_t len)
{
	return publish(h, room, room_len, except, tag, opcode, payload, len);
}

/* From another node: the members with tag 0 alone, since a member a handler tagged wants
 * its own encoding, which only its handler can make. */
long hub_publish_room(struct hub *h, const char *room, size_t room_len, uint8_t opcode,
		      const uint8_t *payload, size_t len)
{
	struct hub_room *r = find_room(h, room, room_len);
	if (r == NULL)
		return 0;
	return room_publish(h, r, NULL, 0, opcode, payload, len);
}

size_t hub_top_rooms(const struct hub *h, struct hub_room_info *out, size_t max)
{
	size_t n = 0;

	/* Insertion into a small sorted array: max is a few dozen, rooms may be many. */
	for (size_t b = 0; b < h->hb_bucket_count && max > 0; b++) {
		for (const struct hub_room *r = h->hb_buckets[b]; r != NULL;
		     r = r->hr_next_in_bucket) {
			if (n == max && r->hr_live <= out[n - 1].ri_members)
				continue;
			size_t i = n < max ? n++ : n - 1;
			while (i > 0 && out[i - 1].ri_members < r->hr_live) {
				out[i] = out[i - 1];
				i--;
			}
			memcpy(out[i].ri_name, r->hr_name, r->hr_name_len);
			out[i].ri_name[r->hr_name_len] = '\0';
			out[i].ri_members = r->hr_live;
		}
	}
	return n;
}

size_t hub_room_members(const struct hub *h, const char *room, size_t room_len)
{
	const struct hub_room *r = find_room(h, room, room_len);
	return r != NULL ? r->hr_live : 0;
}

/* A walk like a publication's: members who leave during it leave holes (never visited),
 * those who join are not visited, and the room outlives the walk. */
size_t hub_room_each(struct hub *h, const char *room, size_t room_len, hub_visit_fn visit,
		     void *arg)
{
	struct hub_room *r = find_room(h, room, room_len);
	size_t visited = 0;

	if (r == NULL)
		return 0;
	r->hr_walks++;
	for (size_t i = 0, n = r->hr_count; i < n; i++) {
		struct hub_member *m = r->hr_members[i];
		if (m == NULL)
			continue;
		visited++;
		if (!visit(m, arg))
			break;
	}
	walk_end(h, r);
	return visited;
}
