/*
 * roster: who is in each room on every chatd node sharing a Redis (--redis), so that a
 * handler's counts, online lists and names hold for the whole cluster (chatd_roster_* in
 * chatd.h are its face to handlers). Part of the rooms' log (roomlog.h), whose session and
 * heartbeat it follows.
 *
 * Each node keeps in Redis, per room, a hash of its own people (id -> name) and the count
 * of its raw clients, and a key saying it is alive, refreshed every second and gone five
 * seconds after its last refresh. Every change is one Lua script, one round trip: it first
 * clears the rooms' entries of nodes no longer alive (publishing their people's leaves),
 * then makes the change and publishes the join or leave, with the cluster's count, on the
 * room's channel as a log entry of id 0, which every node's h_log hears.
 */
#ifndef CHATD_ROSTER_H
#define CHATD_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "chatd.h"

struct backplane;
struct roster;

/* Most people of other nodes a join's answer lists. */
#define ROSTER_LIST_MAX 1000
/* Most people one restore carries (a larger room takes several). */
#define ROSTER_RESTORE_MAX 500

/* Makes bp's roster; NULL when memory runs out. */
struct roster *roster_new(struct backplane *bp);
void roster_free(struct roster *ro);

/* chatd_roster_join, chatd_roster_leave, chatd_roster_raw (chatd.h). */
int roster_join(struct roster *ro, const char *room, uint64_t id, const char *const *names,
		size_t n, chatd_roster_fn fn, void *arg);
int roster_leave(struct roster *ro, const char *room, uint64_t id, const char *name);
int roster_raw(struct roster *ro, const char *room, uint64_t id, long delta);
int roster_restore(struct roster *ro, const char *room, size_t raw,
		   const struct chatd_roster_person *people, size_t n);
/* A small number for this node, the same for its life, that a handler can make its
 * clients' ids unique across nodes with (1 to 2^20 - 1). */
uint64_t roster_node_tag(const struct roster *ro);

/* For the rooms' log (src/roomlog.c). */
void roster_on_up(struct roster *ro);   /* a session is up: the script is loaded */
void roster_on_tick(struct roster *ro); /* the heartbeat, once a second */

#endif
