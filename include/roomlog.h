/*
 * roomlog: a log per room kept in Redis and shared by every chatd node on it (--redis), so
 * that a handler gets one id sequence per room and one history for the whole cluster
 * (chatd_log_append and chatd_log_read in chatd.h are its face to handlers).
 *
 * An append is one Lua script, one round trip: it takes the room's next id, stores the
 * entry in the room's capped list (--history entries, --history-bytes bytes) and publishes
 * it on the room's channel, so every node hears every entry in id order, its own too. A
 * read is another script: the newest entries within the bounds, and a marker published
 * on this node's own channel; the read completes when both its reply and its marker are
 * in, so every entry older than the reply has been delivered before it completes, and
 * every newer one after. A read also waits for the room's subscription to be in effect,
 * and for its turn when reads in flight fill the bound on what may wait for Redis.
 */
#ifndef CHATD_ROOMLOG_H
#define CHATD_ROOMLOG_H

#include <stddef.h>
#include <stdint.h>

#include "chatd.h"
#include "envelope.h"

struct backplane;
struct roomlog;

/* Hears every entry of every room this node has members in (borrowed for the call). */
typedef void (*roomlog_deliver_fn)(void *arg, const char *room, uint64_t id, const void *entry,
				   size_t len);

/* Makes bp's log (bp owns it from now on: backplane_free frees it). max_entries and
 * max_bytes bound what an append keeps and what a read brings; max_entry bounds one entry
 * (what the other nodes accept: their --max-message). NULL when memory runs out. */
struct roomlog *roomlog_new(struct backplane *bp, size_t max_entries, size_t max_bytes,
			    size_t max_entry, roomlog_deliver_fn fn, void *arg);

/* chatd_log_append and chatd_log_read (chatd.h). */
int roomlog_append(struct roomlog *rl, const char *room, uint64_t after, const void *head,
		   size_t head_len, const void *tail, size_t tail_len);
int roomlog_read(struct roomlog *rl, const char *room, size_t max, chatd_log_read_fn fn, void *arg);

/* Who is in the rooms (roster.h), which the log owns and drives. */
struct roster *roomlog_roster(const struct roomlog *rl);
/* fn(arg) runs each time a session with Redis is up, once its scripts are loaded. */
void roomlog_set_on_up(struct roomlog *rl, void (*fn)(void *arg), void *arg);

/* For the backplane (src/backplane.c), which owns the log. */
void roomlog_free(struct roomlog *rl);
void roomlog_on_up(struct roomlog *rl);   /* a session is up: scripts are loaded */
void roomlog_on_down(struct roomlog *rl); /* the session is gone: every read completes */
void roomlog_on_tick(struct roomlog *rl); /* the heartbeat, once a second */
void roomlog_on_subscribed(struct roomlog *rl);
void roomlog_on_entry(struct roomlog *rl, const char *room, size_t len, const struct envelope *env);
void roomlog_on_marker(struct roomlog *rl, const uint8_t *payload, size_t len);

#endif
