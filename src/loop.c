/*
 * The event loop: epoll (level-triggered), a hashed timer wheel, and a before-wait hook.
 *
 * Level-triggered so that a handler may stop early (a read or write budget used up) and
 * simply be called again next pass; nothing is lost by not draining to EAGAIN.
 *
 * Timers: a wheel of LOOP_WHEEL_SLOTS slots of LOOP_TICK_MS each. A timer sits in the slot
 * of its expiry tick; one due more than a turn ahead waits in its slot for the later turn
 * (the slot check compares ticks). Start and stop are O(1) list operations; each tick
 * visits one slot, so the cost per pass follows the timers due, not the timers armed.
 *
 * Sleeping: the loop sleeps until the first tick that holds a timer, not until the next
 * tick, so an idle server does not wake 20 times a second for nothing. lp_next_tick is a
 * lower bound on that tick, kept lazily so that start and stop stay O(1): a start lowers it
 * when its timer is earlier; a stop leaves it alone (the bound stays a bound, at worst one
 * wake-up comes early and finds nothing due). Once the loop has processed the bound's tick
 * the bound is used up, and the next wait finds the exact tick again by scanning the wheel
 * forward (next_tick): it stops at the first slot position at or past the earliest timer
 * seen so far, so it visits at most one turn of slot heads plus the timers in the slots it
 * passes, and runs at most once per wake-up that had timers due.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define LOOP_TICK_MS     50
#define LOOP_WHEEL_SLOTS 1024 /* one turn: 51.2 s */
#define LOOP_MAX_EVENTS  256
/* A wait this long or longer slept: one that finds events ready returns in a microsecond
 * or two, even on a virtual machine. */
#define LOOP_IDLE_NS 20000

struct loop {
	int lp_epfd;
	bool lp_stop;
	uint64_t lp_now;       /* ms, monotonic, as of this pass */
	uint64_t lp_tick_done; /* every tick up to this one has been processed */
	uint64_t lp_next_tick; /* no armed timer is due before this tick (a lower bound) */
	size_t lp_timers;      /* armed timers */
	struct loop_timer lp_slots[LOOP_WHEEL_SLOTS]; /* list heads (sentinels) */
	long lp_spin_us; /* how long to poll before sleeping after a busy pass */
	bool lp_busy;    /* the last wait returned events */
	bool lp_awake;   /* work is pending: the next wait polls without sleeping */
	bool lp_idle;    /* this pass's wait slept before its events came */
	loop_hook_fn lp_hook;
	void *lp_hook_arg;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t monotonic_ms(void)
{
	return monotonic_ns() / 1000000;
}

static void list_init(struct loop_timer *head)
{
	head->lt_prev = head->lt_next = head;
}

static void list_insert(struct loop_timer *head, struct loop_timer *t)
{
	t->lt_next = head->lt_next;
	t->lt_prev = head;
	head->lt_next->lt_prev = t;
	head->lt_next = t;
}

static void list_remove(struct loop_timer *t)
{
	t->lt_prev->lt_next = t->lt_next;
	t->lt_next->lt_prev = t->lt_prev;
	t->lt_prev = t->lt_next = NULL;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof *l);
	if (l == NULL)
		return NULL;
	l->lp_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->lp_epfd < 0) {
		free(l);
		return NULL;
	}
	for (size_t i = 0; i < LOOP_WHEEL_SLOTS; i++)
		list_init(&l->lp_slots[i]);
	l->lp_now = monotonic_ms();
	l->lp_tick_done = l->lp_now / LOOP_TICK_MS;
	l->lp_next_tick = UINT64_MAX;
	return l;
}

void loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->lp_epfd);
	free(l);
}

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_watch_fn fn)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	w->lw_fd = fd;
	w->lw_events = events;
	w->lw_fn = fn;
	return epoll_ctl(l->lp_epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_watch_set(struct loop *l, struct loop_watch *w, uint32_t events)
{
	if (w->lw_events == events)
		return 0;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	/* Recorded only once the kernel has them: on failure the old events stay in force
	 * and on record, so a caller that ignores the error gets the same call retried. */
	if (epoll_ctl(l->lp_epfd, EPOLL_CTL_MOD, w->lw_fd, &ev) < 0)
		return -1;
	w->lw_events = events;
	return 0;
}

void loop_watch_del(struct loop *l, struct loop_watch *w)
{
	(void)epoll_ctl(l->lp_epfd, EPOLL_CTL_DEL, w->lw_fd, NULL);
	w->lw_events = 0;
}

/* The tick whose processing fires t: its expiry rounded up, so a timer never fires early,
 * and never a tick already processed. Every armed timer sits in the slot of this tick: one
 * clamped at its start to lp_tick_done + 1 keeps that tick until it fires, because a
 * processed slot fires every timer whose expiry has passed. */
static uint64_t timer_tick(const struct loop *l, const struct loop_timer *t)
{
	uint64_t tick = (t->lt_expires + LOOP_TICK_MS - 1) / LOOP_TICK_MS;
	return tick > l->lp_tick_done ? tick : l->lp_tick_done + 1;
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms, loop_timer_fn fn)
{
	if (loop_timer_armed(t))
		loop_timer_stop(l, t);
	t->lt_fn = fn;
	t->lt_expires = l->lp_now + delay_ms;
	uint64_t tick = timer_tick(l, t);
	list_insert(&l->lp_slots[tick % LOOP_WHEEL_SLOTS], t);
	l->lp_timers++;
	if (tick < l->lp_next_tick)
		l->lp_next_tick = tick;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	if (!loop_timer_armed(t))
		return;
	list_remove(t);
	if (--l->lp_timers == 0)
		l->lp_next_tick = UINT64_MAX; /* exact again, for free */
}

/* The exact first tick holding a timer, UINT64_MAX when none is armed. A timer in the slot
 * at position k (counting from lp_tick_done + 1) is due at tick k or a whole number of
 * turns later, so once k reaches the earliest tick seen, no unvisited slot can hold an
 * earlier one. */
static uint64_t next_tick(const struct loop *l)
{
	uint64_t best = UINT64_MAX;

	if (l->lp_timers == 0)
		return best;
	for (uint64_t k = l->lp_tick_done + 1; k < best && k <= l->lp_tick_done + LOOP_WHEEL_SLOTS;
	     k++) {
		const struct loop_timer *head = &l->lp_slots[k % LOOP_WHEEL_SLOTS];
		for (const struct loop_timer *t = head->lt_next; t != head; t = t->lt_next) {
			uint64_t tick = timer_tick(l, t);
			if (tick < best)
				best = tick;
		}
	}
	return best;
}

int loop_timeout_at(struct loop *l, uint64_t now)
{
	if (l->lp_timers == 0)
		return -1;
	if (l->lp_next_tick <= l->lp_tick_done)
		l->lp_next_tick = next_tick(l);
	if (l->lp_next_tick > UINT64_MAX / LOOP_TICK_MS)
		return INT_MAX;
	uint64_t due = l->lp_next_tick * LOOP_TICK_MS;
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

void loop_advance(struct loop *l, uint64_t now)
{
	struct loop_timer due;

	if (now > l->lp_now)
		l->lp_now = now;
	uint64_t now_tick = l->lp_now / LOOP_TICK_MS;
	/* No timer is due before lp_next_tick: the slots before it are empty, skip them. */
	if (now_tick < l->lp_next_tick) {
		if (now_tick > l->lp_tick_done)
			l->lp_tick_done = now_tick;
		return;
	}
	if (l->lp_next_tick > l->lp_tick_done + 1)
		l->lp_tick_done = l->lp_next_tick - 1;
	/* After a long stall, one turn of the wheel visits every slot. */
	if (now_tick - l->lp_tick_done > LOOP_WHEEL_SLOTS)
		l->lp_tick_done = now_tick - LOOP_WHEEL_SLOTS;
	list_init(&due);
	while (l->lp_tick_done < now_tick) {
		struct loop_timer *head = &l->lp_slots[++l->lp_tick_done % LOOP_WHEEL_SLOTS];
		for (struct loop_timer *t = head->lt_next, *next; t != head; t = next) {
			next = t->lt_next;
			if (t->lt_expires <= l->lp_now) {
				list_remove(t);
				list_insert(&due, t);
			}
		}
	}
	/* Fire outside the scan: a callback may stop or start any timer, due ones included. */
	while (due.lt_next != &due) {
		struct loop_timer *t = due.lt_next;
		list_remove(t);
		if (--l->lp_timers == 0)
			l->lp_next_tick = UINT64_MAX;
		t->lt_fn(t);
	}
}

void loop_set_busy_poll(struct loop *l, unsigned us)
{
	l->lp_spin_us = us;
}

void loop_set_before_wait(struct loop *l, loop_hook_fn fn, void *arg)
{
	l->lp_hook = fn;
	l->lp_hook_arg = arg;
}

bool loop_was_idle(const struct loop *l)
{
	return l->lp_idle;
}

uint64_t loop_now(const struct loop *l)
{
	return l->lp_now;
}

void loop_keep_awake(struct loop *l)
{
	l->lp_awake = true;
}

void loop_stop(struct loop *l)
{
	l->lp_stop = true;
}

/* Polls without sleeping for a short while after a busy pass before blocking. Waking a
 * sleeping process costs tens of microseconds (more in a VM); a chat exchange's next frame
 * often comes within that, so a brief spin answers it sooner. An idle server spins once per
 * burst and then sleeps. */
static int wait_for_events(struct loop *l, struct epoll_event *events, int timeout)
{
	if (l->lp_spin_us > 0 && l->lp_busy) {
		struct timespec start, now;
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (;;) {
			int n = epoll_wait(l->lp_epfd, events, LOOP_MAX_EVENTS, 0);
			clock_gettime(CLOCK_MONOTONIC, &now);
			long us = (now.tv_sec - start.tv_sec) * 1000000L +
				  (now.tv_nsec - start.tv_nsec) / 1000;
			if (n != 0) {
				l->lp_idle = us * 1000 >= LOOP_IDLE_NS;
				return n;
			}
			if (us >= l->lp_spin_us)
				break;
		}
	}
	uint64_t from = monotonic_ns();
	int n = epoll_wait(l->lp_epfd, events, LOOP_MAX_EVENTS, timeout);
	l->lp_busy = n > 0;
	l->lp_idle = monotonic_ns() - from >= LOOP_IDLE_NS;
	return n;
}

int loop_run(struct loop *l)
{
	struct epoll_event events[LOOP_MAX_EVENTS];

	l->lp_stop = false;
	while (!l->lp_stop) {
		if (l->lp_hook != NULL)
			l->lp_hook(l->lp_hook_arg);
		if (l->lp_stop)
			break;
		int timeout = loop_timeout_at(l, monotonic_ms());
		if (l->lp_awake) {
			timeout = 0;
			l->lp_awake = false;
		}
		int n = wait_for_events(l, events, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		l->lp_now = monotonic_ms();
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = events[i].data.ptr;
			w->lw_fn(w, events[i].events);
		}
		loop_advance(l, l->lp_now);
	}
	return 0;
}
