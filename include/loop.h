/*
 * loop: the event loop. The only module that calls epoll. It knows descriptors, timers and
 * a hook that runs once per pass right before the loop waits again (where connections
 * flush their corked output). It knows nothing of WebSocket.
 *
 * Watches and timers are intrusive: the owner embeds them in its own struct, so adding
 * one never allocates.
 */
#ifndef CHATD_LOOP_H
#define CHATD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_watch;
struct loop_timer;

typedef void (*loop_watch_fn)(struct loop_watch *w, uint32_t events);
typedef void (*loop_timer_fn)(struct loop_timer *t);
typedef void (*loop_hook_fn)(void *arg);

struct loop_watch {
	int lw_fd;
	uint32_t lw_events; /* EPOLLIN, EPOLLOUT, ... as registered */
	loop_watch_fn lw_fn;
};

/* A one-shot timer on a hashed wheel: start, stop and expiry are O(1). */
struct loop_timer {
	struct loop_timer *lt_prev, *lt_next; /* wheel slot list; NULL when not armed */
	uint64_t lt_expires;                  /* loop time, milliseconds */
	loop_timer_fn lt_fn;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Registers w->lw_fd for events, calling w->lw_fn when any is ready. 0 or -1 (errno). */
int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_watch_fn fn);
/* Changes the events of interest; a no-op (no syscall) when they are unchanged. 0, or -1
 * (errno) with the old events still registered and still in w->lw_events. */
int loop_watch_set(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_watch_del(struct loop *l, struct loop_watch *w);

/* Arms (or re-arms) t to fire once after delay_ms. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms, loop_timer_fn fn);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
	return t->lt_prev != NULL;
}

/* After a pass that had events, poll for up to us microseconds before sleeping (0: never).
 * Trades a little CPU for the wake-up latency of a sleeping process. */
void loop_set_busy_poll(struct loop *l, unsigned us);

/* fn(arg) runs once per pass, after the ready events and timers, before waiting. */
void loop_set_before_wait(struct loop *l, loop_hook_fn fn, void *arg);

/* The next wait does not sleep: work is left that the before-wait hook will do. */
void loop_keep_awake(struct loop *l);

/* Whether this pass's wait found nothing ready and slept (LOOP_IDLE_NS or more) before
 * its events came: the loop was idle, not busy. */
bool loop_was_idle(const struct loop *l);

/* Milliseconds on the monotonic clock, as of the start of this pass. */
uint64_t loop_now(const struct loop *l);

/* The two steps loop_run takes around each wait, exported so that tests can drive the
 * timer wheel with a clock of their own. loop_timeout_at: how long the loop would sleep at
 * monotonic time now (ms), until the first timer due; -1 when none is armed.
 * loop_advance: moves the loop's time to now (never backwards) and fires the timers due. */
int loop_timeout_at(struct loop *l, uint64_t now);
void loop_advance(struct loop *l, uint64_t now);

/* Runs until loop_stop. Returns 0, or -1 when epoll_wait fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
