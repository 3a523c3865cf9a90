/*
 * chatd.v1's rooms (src/handler_v1_room.h): a chained table by name that doubles with the
 * rooms, each with its list of named people and its history, a ring of messages. Every
 * block is charged to chatd's memory budget at its malloc'd size and released with it.
 */
#include "handler_v1_room.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chatd.h"

/* Rooms by name in a chained table that doubles with them. */
static struct v1_room **rooms;
static size_t room_buckets, room_count;

/* FNV-1a: room names are short and valid by chatd's rule; a collision costs a longer
 * chain, and the table grows with the rooms. */
static size_t hash_name(const char *name)
{
	size_t x = 14695981039346656037ULL & SIZE_MAX;
	for (; *name != '\0'; name++)
		x = (x ^ (unsigned char)*name) * (1099511628211ULL & SIZE_MAX);
	return x;
}

static struct v1_room **bucket_of(const char *name)
{
	return &rooms[hash_name(name) & (room_buckets - 1)];
}

/* Doubles the table when rooms outnumber buckets; keeps it as it is when memory runs out. */
static bool rooms_grow(void)
{
	size_t count = room_buckets ? room_buckets * 2 : 64;
	struct v1_room **b = calloc(count, sizeof(struct v1_room *));

	if (b == NULL)
		return room_buckets != 0;
	for (size_t i = 0; i < room_buckets; i++) {
		while (rooms[i] != NULL) {
			struct v1_room *r = rooms[i];
			rooms[i] = r->vr_next_in_bucket;
			size_t k = hash_name(r->vr_name) & (count - 1);
			r->vr_next_in_bucket = b[k];
			b[k] = r;
		}
	}
	free(rooms);
	if (room_buckets != 0)
		chatd_memory_release(room_buckets * sizeof(struct v1_room *));
	chatd_memory_charge(count * sizeof(struct v1_room *));
	rooms = b;
	room_buckets = count;
	return true;
}

/* A raw client's every message asks, so a process with no chatd.v1 room answers at
 * once: raw-only chat costs one comparison. */
struct v1_room *v1_room_find(struct chatd *s, const char *name)
{
	if (room_count == 0)
		return NULL;
	for (struct v1_room *r = *bucket_of(name); r != NULL; r = r->vr_next_in_bucket)
		if (r->vr_server == s && strcmp(r->vr_name, name) == 0)
			return r;
	return NULL;
}

/* The room of that name on server s, made on first use; NULL when memory runs out. */
struct v1_room *v1_room_get(struct chatd *s, const char *name)
{
	struct v1_room *r;

	if (room_buckets == 0 && !rooms_grow())
		return NULL;
	if ((r = v1_room_find(s, name)) != NULL)
		return r;
	if (room_count >= room_buckets)
		rooms_grow();
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	chatd_memory_charge(sizeof *r);
	r->vr_server = s;
	snprintf(r->vr_name, sizeof r->vr_name, "%s", name);
	r->vr_next_in_bucket = *bucket_of(name);
	*bucket_of(name) = r;
	room_count++;
	return r;
}

static void history_drop_oldest(struct v1_room *r)
{
	struct v1_entry *e = r->vr_hist[r->vr_hist_head];
	size_t size = sizeof *e + e->ve_name_len + e->ve_text_len;

	r->vr_hist_bytes -= size;
	chatd_memory_release(size);
	free(e);
	r->vr_hist_head = (r->vr_hist_head + 1) % r->vr_hist_cap;
	r->vr_hist_len--;
}

/* A room with nobody left goes, its history with it. */
void v1_room_free(struct v1_room *r)
{
	struct v1_room **p = bucket_of(r->vr_name);

	while (*p != r)
		p = &(*p)->vr_next_in_bucket;
	*p = r->vr_next_in_bucket;
	room_count--;
	/* --redis: its raw clients were counted in the cluster while it had v1 clients. */
	if (r->vr_raw > 0 && chatd_log_shared(r->vr_server))
		chatd_roster_raw(r->vr_server, r->vr_name, 0, -(long)r->vr_raw);
	while (r->vr_hist_len > 0)
		history_drop_oldest(r);
	if (r->vr_hist != NULL)
		chatd_memory_release(r->vr_hist_cap * sizeof(struct v1_entry *));
	free(r->vr_hist);
	chatd_memory_release(sizeof *r);
	free(r);
}

void v1_room_each(void (*fn)(struct v1_room *r, void *arg), void *arg)
{
	for (size_t i = 0; i < room_buckets; i++)
		for (struct v1_room *r = rooms[i]; r != NULL; r = r->vr_next_in_bucket)
			fn(r, arg);
}

void v1_room_hold(struct v1_room *r)
{
	r->vr_members++;
}

void v1_room_release(struct v1_room *r)
{
	if (--r->vr_members == 0)
		v1_room_free(r);
}

size_t v1_room_count(const struct v1_room *r)
{
	return r->vr_named - r->vr_joining + r->vr_raw; /* joiners: not announced yet */
}

/* The i-th oldest message kept. */
const struct v1_entry *v1_history_at(const struct v1_room *r, size_t i)
{
	return r->vr_hist[(r->vr_hist_head + i) % r->vr_hist_cap];
}

/* Keeps a message, dropping the oldest while the room is over --history or
 * --history-bytes. A message larger than the byte bound alone is not kept. */
void v1_history_add(struct v1_room *r, uint64_t id, uint64_t time, const char *name,
		    size_t name_len, const char *text, size_t text_len)
{
	size_t max = chatd_history_messages(r->vr_server),
	       bound = chatd_history_bytes(r->vr_server);
	size_t size = sizeof(struct v1_entry) + name_len + text_len;
	struct v1_entry *e;

	if (max == 0 || size > bound)
		return;
	if (r->vr_hist == NULL) {
		r->vr_hist = calloc(max, sizeof(struct v1_entry *));
		if (r->vr_hist == NULL)
			return;
		r->vr_hist_cap = max;
		chatd_memory_charge(max * sizeof(struct v1_entry *));
	}
	while (r->vr_hist_len > 0 &&
	       (r->vr_hist_len == r->vr_hist_cap || r->vr_hist_bytes + size > bound))
		history_drop_oldest(r);
	e = malloc(size);
	if (e == NULL)
		return;
	chatd_memory_charge(size);
	e->ve_id = id;
	e->ve_time = time;
	e->ve_name_len = name_len;
	e->ve_text_len = text_len;
	memcpy(e->ve_data, name, name_len);
	memcpy(e->ve_data + name_len, text, text_len);
	r->vr_hist[(r->vr_hist_head + r->vr_hist_len) % r->vr_hist_cap] = e;
	r->vr_hist_len++;
	r->vr_hist_bytes += size;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* 1 to V1_NAME_MAX of A-Z a-z 0-9 _ - . and not "raw-...", which names raw clients. */
bool v1_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > V1_NAME_MAX || (len >= 4 && strncasecmp(s, "raw-", 4) == 0))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* Names compare without case: "Ann" cannot pass for "ann". */
static bool name_taken(const struct v1_room *r, const char *name)
{
	for (const struct v1_person *p = r->vr_people; p != NULL; p = p->vp_next)
		if (strcasecmp(p->vp_name, name) == 0)
			return true;
	return false;
}

/* The names to try for want: want, want2 ... want9, then want followed by the
 * connection's id and up, the stem cut short to fit V1_NAME_MAX. The first max free in r
 * go into out. */
size_t v1_name_candidates(const struct v1_room *r, const char *want, uint64_t id,
			  char (*out)[V1_NAME_MAX + 1], size_t max)
{
	char suffix[24];
	size_t found = 0;

	snprintf(out[0], V1_NAME_MAX + 1, "%s", want);
	for (uint64_t k = 2; found < max; k++) {
		if (!name_taken(r, out[found]))
			found++;
		if (found == max)
			break;
		uint64_t n = k < 10 ? k : id + (k - 10);
		int sl = snprintf(suffix, sizeof suffix, "%llu", (unsigned long long)n);
		size_t stem = strlen(want);
		if (stem + (size_t)sl > V1_NAME_MAX)
			stem = V1_NAME_MAX - (size_t)sl;
		snprintf(out[found], V1_NAME_MAX + 1, "%.*s%s", (int)stem, want, suffix);
	}
	return found;
}

void v1_name_pick(const struct v1_room *r, const char *want, uint64_t id, char *out)
{
	char name[1][V1_NAME_MAX + 1];

	v1_name_candidates(r, want, id, name, 1);
	memcpy(out, name[0], V1_NAME_MAX + 1);
}

void v1_room_link(struct v1_room *r, struct v1_person *p)
{
	p->vp_prev = NULL;
	p->vp_next = r->vr_people;
	if (r->vr_people != NULL)
		r->vr_people->vp_prev = p;
	r->vr_people = p;
	r->vr_named++;
}

void v1_room_unlink(struct v1_room *r, struct v1_person *p)
{
	if (p->vp_prev != NULL)
		p->vp_prev->vp_next = p->vp_next;
	else
		r->vr_people = p->vp_next;
	if (p->vp_next != NULL)
		p->vp_next->vp_prev = p->vp_prev;
	r->vr_named--;
}

void v1_hold_clear(struct v1_person *p)
{
	while (p->vp_held != NULL) {
		struct v1_held *h = p->vp_held;
		p->vp_held = h->vh_next;
		chatd_memory_release(sizeof *h + h->vh_len);
		free(h);
	}
	p->vp_held_last = NULL;
	p->vp_held_bytes = 0;
}

void v1_hold(struct v1_person *p, uint64_t id, const char *data, size_t len)
{
	struct v1_held *h;

	if (p->vp_overflow)
		return;
	if (p->vp_held_bytes + sizeof *h + len > V1_HOLD_MAX ||
	    (h = malloc(sizeof *h + len)) == NULL) {
		v1_hold_clear(p);
		p->vp_overflow = true;
		return;
	}
	chatd_memory_charge(sizeof *h + len);
	h->vh_next = NULL;
	h->vh_id = id;
	h->vh_len = len;
	memcpy(h->vh_data, data, len);
	if (p->vp_held_last != NULL)
		p->vp_held_last->vh_next = h;
	else
		p->vp_held = h;
	p->vp_held_last = h;
	p->vp_held_bytes += sizeof *h + len;
}

void v1_joiner_add(struct v1_room *r, struct v1_person *p)
{
	p->vp_joining = true;
	p->vp_next_joiner = r->vr_joiners;
	r->vr_joiners = p;
	r->vr_joining++;
}

/* A walk of the joiners: a handful at a time, each there for one round trip to Redis. */
void v1_joiner_remove(struct v1_room *r, struct v1_person *p)
{
	struct v1_person **at = &r->vr_joiners;

	if (!p->vp_joining)
		return;
	while (*at != p)
		at = &(*at)->vp_next_joiner;
	*at = p->vp_next_joiner;
	p->vp_joining = false;
	r->vr_joining--;
}
