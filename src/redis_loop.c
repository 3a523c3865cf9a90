/*
 * The hiredis adapter. Level-triggered like the rest of the loop: hiredis reads one
 * buffer's worth per call and is called again on the next pass while more is waiting.
 *
 * hiredis may free the context (and so call our cleanup) from inside a read or write
 * call, or while another context's callback runs: the state then stays, marked, and a
 * readiness event still queued for it in this pass is ignored.
 */
#include "redis_loop.h"

#include <string.h>
#include <sys/socket.h>

#include "container.h"
#include "log.h"

static void update(struct redis_loop_event *ev, uint32_t events)
{
	if (ev->re_context == NULL)
		return;
	ev->re_events = events;
	if (ev->re_added) {
		(void)loop_watch_set(ev->re_loop, &ev->re_watch, events);
		return;
	}
	if (loop_watch_add(ev->re_loop, &ev->re_watch, ev->re_context->c.fd, events,
			   ev->re_watch.lw_fn) == 0)
		ev->re_added = true;
	else
		log_error("redis: cannot watch the connection's socket");
}

static void add_read(void *p)
{
	struct redis_loop_event *ev = p;
	update(ev, ev->re_events | EPOLLIN);
}

static void del_read(void *p)
{
	struct redis_loop_event *ev = p;
	update(ev, ev->re_events & ~(uint32_t)EPOLLIN);
}

static void add_write(void *p)
{
	struct redis_loop_event *ev = p;
	update(ev, ev->re_events | EPOLLOUT);
}

static void del_write(void *p)
{
	struct redis_loop_event *ev = p;
	update(ev, ev->re_events & ~(uint32_t)EPOLLOUT);
}

static void cleanup(void *p)
{
	struct redis_loop_event *ev = p;

	if (ev->re_added)
		loop_watch_del(ev->re_loop, &ev->re_watch);
	ev->re_added = false;
	ev->re_events = 0;
	ev->re_context->ev.data = NULL;
	ev->re_context = NULL;
}

/* What stays buffered after a read is at most one partial reply and one read's worth. */
static void check_buffered(struct redis_loop_event *ev)
{
	const redisReader *r = ev->re_context->c.reader;

	if (ev->re_oversized || r == NULL || r->len - r->pos <= ev->re_max_reply)
		return;
	ev->re_oversized = true;
	log_warn("redis: a reply larger than %zu bytes is arriving (a node with a larger "
		 "--max-message?); closing the connection",
		 ev->re_max_reply);
	/* hiredis has no public "close now": after this its next read sees the end of the
	 * stream and takes its usual disconnect path. */
	(void)shutdown(ev->re_context->c.fd, SHUT_RDWR);
}

static void on_ready(struct loop_watch *w, uint32_t events)
{
	struct redis_loop_event *ev = container_of(w, struct redis_loop_event, re_watch);

	if (ev->re_context == NULL)
		return; /* freed earlier in this pass */
	/* Errors and hang-ups come even without read interest: reading is how hiredis
	 * learns of them (or of a failed connect). */
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		redisAsyncHandleRead(ev->re_context);
		if (ev->re_context != NULL)
			check_buffered(ev);
	}
	if (ev->re_context != NULL && (events & EPOLLOUT) && (ev->re_events & EPOLLOUT))
		redisAsyncHandleWrite(ev->re_context);
}

int redis_loop_attach(redisAsyncContext *ac, struct loop *l, struct redis_loop_event *ev,
		      size_t max_reply)
{
	if (ac->ev.data != NULL)
		return -1;
	memset(ev, 0, sizeof *ev);
	ev->re_loop = l;
	ev->re_context = ac;
	ev->re_max_reply = max_reply;
	ev->re_watch.lw_fn = on_ready;
	ac->ev.data = ev;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	return 0;
}
