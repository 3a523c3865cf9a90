/*
 * redis_loop: drives a hiredis (0.14) asynchronous context from chatd's event loop, the
 * way hiredis's own adapters (adapters/ae.h, adapters/libevent.h) drive it from theirs:
 * hiredis asks to add or remove read and write interest and to clean up; we turn that
 * into a loop watch on the context's socket and call hiredis back when it is ready.
 *
 * One bound of our own: a Redis that sends one reply larger than max_reply bytes (a
 * hostile or broken peer, since our replies are at most a message in an envelope) gets
 * its connection shut down, so hiredis's read buffer cannot grow without limit.
 */
#ifndef CHATD_REDIS_LOOP_H
#define CHATD_REDIS_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/async.h>

#include "loop.h"

/* The adapter's state, embedded by its owner (who must keep it until the context is
 * gone). Not freed by hiredis: a context freed while the loop still holds a readiness
 * event for it would otherwise leave that event pointing at freed memory. */
struct redis_loop_event {
	struct loop_watch re_watch;
	struct loop *re_loop;
	redisAsyncContext *re_context; /* NULL once hiredis has cleaned up */
	size_t re_max_reply;
	uint32_t re_events; /* EPOLLIN, EPOLLOUT as hiredis asked */
	bool re_added;      /* the watch is registered */
	bool re_oversized;  /* shut down for an oversized reply */
};

/* Attaches ac (just created, not yet attached) to l through ev. 0, or -1 when ac is
 * already attached. */
int redis_loop_attach(redisAsyncContext *ac, struct loop *l, struct redis_loop_event *ev,
		      size_t max_reply);

#endif
