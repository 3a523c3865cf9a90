/*
 * handler_v1_roster.h: with --redis, who is in a chatd.v1 room on every node (chatd_roster_*
 * in chatd.h): a v1 client's name is claimed against the whole cluster, its welcome lists
 * and counts everyone, and joins and leaves reach every node's v1 clients with the
 * cluster's count. Private to src/handler_v1*.c.
 */
#ifndef CHATD_HANDLER_V1_ROSTER_H
#define CHATD_HANDLER_V1_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chatd.h"
#include "handler_v1_room.h"

/* p, named locally, a joiner and held, claims its name in Redis, then reads its history
 * (v1_log_read, which takes over the hold). Without Redis it keeps its local name. */
void v1_roster_join(struct v1_person *p);
/* p leaves: true when Redis announces it (to every node), false when the caller must. */
bool v1_roster_leave(struct v1_person *p);
/* A raw client of id came (delta 1) or went (-1) in r, or r's raw clients were counted
 * (id 0): true when Redis announces it, false when the caller must. */
bool v1_roster_raw(struct v1_room *r, uint64_t id, long delta);
/* A join or leave from Redis (a log entry of id 0) for room's v1 clients here (r, NULL
 * when it has none), or the word that it has v1 clients somewhere: the room is then
 * kept here too, so that its raw clients' lines go through the log. */
void v1_roster_event(struct chatd *s, const char *room, struct v1_room *r, const char *e,
		     size_t len);
/* r as its raw clients should see it now: NULL when it was held only for v1 clients
 * elsewhere and that is stale (or, force, whatever its age), and it is freed. */
struct v1_room *v1_roster_expire(struct v1_room *r, bool force);
/* h_redis_up: every room's people and raw clients registered again, in case Redis or
 * the other nodes lost them. */
void v1_roster_restore(struct chatd *s, void *user);
/* Frees what p keeps of the roster. */
void v1_roster_clear(struct v1_person *p);

#endif
