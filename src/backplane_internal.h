/*
 * backplane_internal.h: the backplane's state, shared with the rooms' log (src/roomlog.c),
 * which sends its commands on the backplane's publish link and hears what arrives on its
 * subscribe link. Private to those two files.
 */
#ifndef CHATD_BACKPLANE_INTERNAL_H
#define CHATD_BACKPLANE_INTERNAL_H

#include <hiredis/async.h>

#include "backplane.h"
#include "redis_guard.h"
#include "redis_loop.h"
#include "room_set.h"

#define BACKPLANE_CHANNEL_MAX (BACKPLANE_PREFIX_MAX + HUB_ROOM_NAME_MAX)

struct bp_link {
	struct backplane *bl_bp;
	redisAsyncContext *bl_context; /* NULL while closed; freed with redisAsyncFree */
	struct redis_guard bl_guard;
	struct redis_loop_event bl_event;
	bool bl_ready;
	const char *bl_name; /* "publish" or "subscribe", for the log */
};

struct backplane {
	struct loop *bp_loop;
	struct hub *bp_hub;
	struct redis_url bp_url;
	char bp_url_text[400]; /* for the log; the password masked */
	char bp_prefix[BACKPLANE_PREFIX_MAX + 1];
	size_t bp_prefix_len;
	char bp_anchor[BACKPLANE_PREFIX_MAX + 32]; /* prefix "@node:" id */
	uint64_t bp_node;
	uint64_t bp_random; /* xorshift state for the jitter */
	size_t bp_max_message;
	size_t bp_max_pending;

	struct bp_link bp_pub, bp_sub;
	struct loop_timer bp_retry_timer;
	struct loop_timer bp_heartbeat;
	bool bp_up;
	bool bp_ever_up;
	unsigned bp_attempts;      /* sessions failed since the last one that came up */
	uint64_t bp_session_start; /* loop time the session began connecting */
	uint64_t bp_down_since;    /* loop time of the outage's start */
	void (*bp_on_lost)(void *arg, const char *why); /* up -> down; NULL: nobody asked */
	void *bp_on_lost_arg;
	uint64_t bp_dropped_before; /* mr_dropped_down at the outage's start */
	bool bp_outage_logged;
	char bp_reason[200]; /* why the backplane is down */

	size_t bp_pending_bytes;   /* PUBLISHed, not acknowledged */
	size_t bp_pending_cmds;    /* requests on the publish link, PINGs included */
	size_t bp_pending_msgs;    /* of which PUBLISHes */
	uint64_t bp_waiting_since; /* loop time of the last answer, or of the first request */
	bool bp_backlog_logged;

	uint8_t *bp_scratch; /* one envelope; owned */
	size_t bp_scratch_cap;
	struct room_set bp_rooms; /* the rooms with local members */
	struct metrics_redis bp_metrics;

	/* The rooms' shared log (roomlog.h); NULL until roomlog_new, owned after it. */
	struct roomlog *bp_log;
	/* Channels this session asked to (un)subscribe, and the confirmations back: Redis
	 * answers in order, so all asked before a moment are in effect once confirmed
	 * reaches what sent was then (roomlog's reads wait for that). */
	uint64_t bp_sub_sent, bp_sub_confirmed;
	size_t bp_pub_max_reply; /* the log's reads; 0: the publish link's replies are small */
};

/* A request on the publish link: pending_add when sent (bytes: what it holds until
 * answered, charged to the memory budget; 0 for a PING), pending_done when answered. */
void backplane_pending_add(struct backplane *bp, size_t bytes);
void backplane_pending_done(struct backplane *bp, size_t bytes);
/* Ends the session; safe from any callback. */
void backplane_session_fail(struct backplane *bp, const char *what, const char *detail);

/* The reply callback of a SCRIPT LOAD on the publish link (roomlog's, roster's). */
void backplane_script_loaded(redisAsyncContext *ac, void *r, void *privdata);
/* Writes prefix and room into out (BACKPLANE_CHANNEL_MAX bytes); returns the length. */
size_t backplane_channel(const struct backplane *bp, char *out, const char *room, size_t len);

#endif
