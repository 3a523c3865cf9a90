/*
 * backplane: rooms shared by every chatd node pointed at the same Redis (--redis). Each
 * room is one Redis pub/sub channel (the prefix, then the room: "chatd:/lobby"). A node
 * subscribes to a room's channel while the room has local members, publishes each local
 * message once in an envelope (envelope.h), and hands what other nodes publish to the hub.
 *
 * It follows the hub through the hub's observer and talks to Redis through hiredis's
 * asynchronous API on chatd's own loop (redis_loop.h): two connections, one subscribed
 * and one for pipelined PUBLISHes (a subscribed Redis connection can do nothing else).
 * Either one failing takes both down; they come back with capped exponential backoff
 * plus jitter, and every room is subscribed again.
 */
#ifndef CHATD_BACKPLANE_H
#define CHATD_BACKPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "loop.h"
#include "metrics.h"
#include "redis_url.h"

/* Longest --redis-prefix. */
#define BACKPLANE_PREFIX_MAX 64

struct backplane;

/* Makes the backplane, installs it as h's observer and starts connecting. url and prefix
 * are copied. max_message bounds what is accepted from Redis. NULL when memory runs out.
 */
struct backplane *backplane_new(struct loop *l, struct hub *h, const struct redis_url *url,
				const char *prefix, size_t max_message);
/* Closes the connections (unsent publications are lost) and frees everything. The hub's
 * observer is cleared. */
void backplane_free(struct backplane *bp);

/* True while both connections are up. Otherwise writes a sentence for people (why, and
 * since when) into buf. */
bool backplane_healthy(const struct backplane *bp, char *buf, size_t len);

/* fn(arg, why) runs once each time the backplane goes from up to down (the program's
 * handlers hear CHATD_ERROR_BACKPLANE_LOST through it). */
void backplane_on_lost(struct backplane *bp, void (*fn)(void *arg, const char *why), void *arg);

/* The counters and gauges for /metrics; valid as long as bp. */
const struct metrics_redis *backplane_metrics(const struct backplane *bp);

#endif
