/*
 * handler_v1_room.h: chatd.v1's view of its rooms: who is in each, under which name, and
 * what was said. Private to the chatd.v1 handler (src/handler_v1*.c), which sees chatd
 * through chatd.h alone; chatd's own rooms do the delivering. A room is kept by name
 * while it has members and freed, its history with it, after the last one.
 */
#ifndef CHATD_HANDLER_V1_ROOM_H
#define CHATD_HANDLER_V1_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chatd.h"

#define V1_NAME_MAX  24 /* a name's characters, all ASCII */
#define V1_ROOM_NAME 64 /* chatd's longest room name */

struct v1_entry { /* one message of a room's history */
	uint64_t ve_id;
	uint64_t ve_time;
	size_t ve_name_len;
	size_t ve_text_len;
	char ve_data[]; /* the name, then the text */
};

struct v1_person;

/* With --redis, a message that arrived while a client waited for its history (owned by
 * the client, charged). */
struct v1_held {
	struct v1_held *vh_next;
	uint64_t vh_id;
	size_t vh_len;
	char vh_data[];
};

/* What one joining client may hold: the round trip of a history read, at a busy room's
 * pace, with room to spare. Past it the client is closed (1013: try again). */
#define V1_HOLD_MAX ((size_t)256 << 10)

struct v1_room {
	struct v1_room *vr_next_in_bucket;
	struct chatd *vr_server;
	struct v1_person *vr_people; /* the v1 clients with a name (doubly linked) */
	size_t vr_named;             /* on vr_people */
	size_t vr_v1;                /* of them, those live traffic reaches (welcomed) */
	size_t vr_raw;               /* raw clients, who have no person: see handler_v1.c */
	size_t vr_members;           /* persons, named or pending, and holds: the room's life */
	uint64_t vr_last_id;         /* the id of the latest message */
	/* --redis: the room has v1 clients on some node (handler_v1_roster.c), which holds
	 * it here until vr_remote_until (ms) unless told again. */
	bool vr_remote;
	uint64_t vr_remote_until;
	size_t vr_joining;            /* --redis: v1 clients waiting for their history, */
	struct v1_person *vr_joiners; /* listed here (by vp_next_joiner) */
	/* History: a ring of vr_hist_cap entries (owned, as is each entry), the oldest at
	 * vr_hist_head; vr_hist_bytes is what the entries take, bounded per room. */
	struct v1_entry **vr_hist;
	size_t vr_hist_cap, vr_hist_head, vr_hist_len, vr_hist_bytes;
	char vr_name[V1_ROOM_NAME + 1];
};

struct v1_person { /* a v1 client's data (chatd_conn_set_data), freed after on_close */
	struct v1_person *vp_prev, *vp_next; /* vr_people */
	struct v1_room *vp_room;
	struct chatd_conn *vp_conn;
	uint64_t vp_id;
	unsigned vp_busy;   /* our callbacks for it on the stack: its freeing waits for them */
	unsigned vp_errors; /* errors in a row */
	bool vp_named;
	bool vp_gone; /* on_close came: it has left the room; freed once not busy */
	/* --redis: its history read is out; live messages wait in vp_held meanwhile. */
	bool vp_joining;
	bool vp_overflow; /* held more than V1_HOLD_MAX: closed once its history is in */
	struct v1_person *vp_next_joiner; /* vr_joiners */
	struct v1_held *vp_held, *vp_held_last;
	size_t vp_held_bytes;
	char vp_requested[V1_NAME_MAX + 1]; /* the name it asked for, for its welcome */
	/* --redis: registered in Redis's roster of the room (chatd_roster_join), which then
	 * announces its join and leave to every node. Its welcome lists vp_others, the people
	 * of other nodes as JSON objects with commas (owned, charged; NULL for none, and once
	 * the welcome is sent), and says vp_count. */
	bool vp_rostered;
	size_t vp_count;
	char *vp_others;
	size_t vp_others_len, vp_others_cap;
	char vp_name[V1_NAME_MAX + 1];
};

/* The room of that name on server s, made on first use (with no members: the caller
 * counts its own in vr_members); NULL when memory runs out. */
struct v1_room *v1_room_get(struct chatd *s, const char *name);
/* The room of that name on server s, or NULL when it has no chatd.v1 client: at once,
 * without hashing, while no room has one. */
struct v1_room *v1_room_find(struct chatd *s, const char *name);
/* Calls fn for every room (which fn must not free). */
void v1_room_each(void (*fn)(struct v1_room *r, void *arg), void *arg);
/* Frees a room and its history; its last member has gone. */
void v1_room_free(struct v1_room *r);
/* A callback of a raw client's, which has no person to keep the room alive, holds it:
 * what it sends can cut off v1 clients, and the last of them would free the room. */
void v1_room_hold(struct v1_room *r);
void v1_room_release(struct v1_room *r); /* frees it after its last member */
/* The room's count, exact: its named v1 clients and its raw ones. */
size_t v1_room_count(const struct v1_room *r);

/* Puts p on, or takes it off, the room's list of named people. */
void v1_room_link(struct v1_room *r, struct v1_person *p);
void v1_room_unlink(struct v1_room *r, struct v1_person *p);

/* Keeps a message (name and text are copied), dropping the oldest while the room is
 * over --history or --history-bytes. One larger than the byte bound alone is not kept. */
void v1_history_add(struct v1_room *r, uint64_t id, uint64_t time, const char *name,
		    size_t name_len, const char *text, size_t text_len);
/* The i-th oldest message kept (i < vr_hist_len). */
const struct v1_entry *v1_history_at(const struct v1_room *r, size_t i);

/* Puts p on (or takes it off) the room's joiners: vp_joining, vr_joining, vr_joiners. */
void v1_joiner_add(struct v1_room *r, struct v1_person *p);
void v1_joiner_remove(struct v1_room *r, struct v1_person *p);

/* Keeps a copy of a live message for a joining client, up to V1_HOLD_MAX (then drops
 * what it held and marks it vp_overflow). */
void v1_hold(struct v1_person *p, uint64_t id, const char *data, size_t len);
/* Frees what p holds. */
void v1_hold_clear(struct v1_person *p);

/* 1 to V1_NAME_MAX of A-Z a-z 0-9 _ - . and not "raw-..." (raw clients' names). */
bool v1_name_valid(const char *s, size_t len);
/* Writes into out (V1_NAME_MAX + 1 bytes) the first name free in r of: want, want2 to
 * want9, then want and a number from id up; the stem is cut short to fit. Names compare
 * without case, so "Ann" cannot pass for "ann". */
void v1_name_pick(const struct v1_room *r, const char *want, uint64_t id, char *out);
/* The first max names of that sequence free in r, into out; returns how many (max). */
size_t v1_name_candidates(const struct v1_room *r, const char *want, uint64_t id,
			  char (*out)[V1_NAME_MAX + 1], size_t max);

#endif
