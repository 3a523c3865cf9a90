/*
 * Unit tests for the event loop (include/loop.h), written from the header: the timer
 * wheel driven by a clock of the test's own through loop_timeout_at and loop_advance (the
 * two steps loop_run takes around each wait), so that minutes of timers run in no time;
 * and loop_watch_set's answer when the kernel refuses a change.
 *
 * The wheel's tick is 50 ms: a timer fires at the first tick at or after its expiry, so
 * "on time" below means no earlier than its expiry and less than one tick after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "loop.h"

#define TICK_MS 50
#define TURN_MS (1024 * TICK_MS) /* one turn of the wheel */

/* A timer that remembers when it should fire and when it did. */
struct probe {
	struct loop_timer p_timer;
	uint64_t p_expires; /* loop time it was armed for */
	uint64_t p_fired_at;
	int p_fired; /* times fired */
	int p_order; /* position among all firings, from 1 */
	void (*p_then)(struct probe *p);
	struct probe *p_other; /* what p_then acts on */
	uint64_t p_delay;      /* what p_then uses */
};

static struct loop *loop;
static int firings;

static void on_probe(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, p_timer);
	uint64_t now = loop_now(loop);

	assert_false(loop_timer_armed(t)); /* disarmed before its callback runs */
	assert_true(now >= p->p_expires);  /* never early */
	p->p_fired++;
	p->p_fired_at = now;
	p->p_order = ++firings;
	if (p->p_then != NULL)
		p->p_then(p);
}

static void arm(struct probe *p, uint64_t delay_ms)
{
	p->p_expires = loop_now(loop) + delay_ms;
	loop_timer_start(loop, &p->p_timer, delay_ms, on_probe);
}

/* Fired once, at its tick: at most a tick after its expiry (a whole tick when it was
 * armed for a tick already processed: a delay of 0 on a tick boundary), plus the clock's
 * step (a clock that jumps by `step` ms may pass the tick by step - 1 ms). */
static void assert_fired_on_time(const struct probe *p, uint64_t step)
{
	assert_int_equal(p->p_fired, 1);
	assert_true(p->p_fired_at >= p->p_expires);
	assert_true(p->p_fired_at <= p->p_expires + TICK_MS + step - 1);
}

static void assert_on_time(const struct probe *p)
{
	assert_fired_on_time(p, 1);
}

/* What loop_run does, with the test's clock: sleep for the computed timeout (or until
 * end), advance, repeat. Returns the number of wake-ups that ended a sleep early, that
 * is, all of them but a final one cut short by end. */
static int run_until(uint64_t end)
{
	int wakeups = 0;
	for (;;) {
		uint64_t now = loop_now(loop);
		int timeout = loop_timeout_at(loop, now);
		assert_true(timeout >= -1);
		if (timeout < 0 || now + (uint64_t)timeout >= end) {
			loop_advance(loop, end);
			return wakeups;
		}
		loop_advance(loop, now + (uint64_t)timeout);
		wakeups++;
		/* A timeout of 0 is for a timer already due: it must have fired by now. */
		assert_true(timeout > 0 || loop_timeout_at(loop, loop_now(loop)) != 0);
	}
}

static int setup(void **state)
{
	(void)state;
	loop = loop_new();
	assert_non_null(loop);
	firings = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	loop_free(loop);
	loop = NULL;
	return 0;
}

static void test_timers_fire_in_expiry_order(void **state)
{
	static const uint64_t delays[] = {700, 0, 3000, 120, 51, 49, 50, 1999, 1, 2500};
	enum { N = sizeof delays / sizeof delays[0] };
	struct probe p[N];
	(void)state;

	memset(p, 0, sizeof p);
	uint64_t start = loop_now(loop);
	for (size_t i = 0; i < N; i++)
		arm(&p[i], delays[i]);
	/* A real clock moves in uneven steps: 7 ms at a time. */
	for (uint64_t t = start; t <= start + 3100; t += 7)
		loop_advance(loop, t);
	for (size_t i = 0; i < N; i++) {
		assert_fired_on_time(&p[i], 7);
		/* A tick or more apart: certainly in different ticks, so in order. */
		for (size_t j = 0; j < N; j++)
			if (p[i].p_expires + TICK_MS <= p[j].p_expires)
				assert_true(p[i].p_order < p[j].p_order);
	}
	assert_int_equal(loop_timeout_at(loop, loop_now(loop)), -1);
}

/* Pseudo-random delays and clock steps (xorshift, fixed seed: reproducible). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_timers_never_fire_early_and_never_late(void **state)
{
	enum { N = 500 };
	struct probe *p = calloc(N, sizeof *p);
	(void)state;

	assert_non_null(p);
	uint64_t start = loop_now(loop);
	for (size_t i = 0; i < N; i++)
		arm(&p[i], rng() % 120000); /* up to two turns and more */
	uint64_t now = start;
	while (now < start + 121000) {
		now += rng() % 97;
		loop_advance(loop, now);
		for (size_t i = 0; i < N; i++) {
			if (p[i].p_fired == 0)
				assert_true(now < p[i].p_expires + TICK_MS);
		}
	}
	for (size_t i = 0; i < N; i++)
		assert_fired_on_time(&p[i], 97);
	free(p);
}

static void stop_other(struct probe *p)
{
	loop_timer_stop(loop, &p->p_other->p_timer);
}

static void restart_other(struct probe *p)
{
	arm(p->p_other, p->p_delay);
}

static void restart_self(struct probe *p)
{
	if (p->p_fired < 5)
		arm(p, p->p_delay);
}

/* Callbacks stop and re-arm timers that are due in the same pass, and themselves. */
static void test_stop_and_restart_inside_callbacks(void **state)
{
	struct probe stopper = {0}, stopped = {0}, mover = {0}, moved = {0}, periodic = {0};
	(void)state;

	uint64_t start = loop_now(loop);
	stopper.p_then = stop_other;
	stopper.p_other = &stopped;
	mover.p_then = restart_other;
	mover.p_other = &moved;
	mover.p_delay = 1000;
	periodic.p_then = restart_self;
	periodic.p_delay = 300;
	/* All due at the same tick: whichever order they fire in, a stopped or moved timer
	 * must not fire in that pass. */
	arm(&stopped, 100);
	arm(&stopper, 100);
	arm(&moved, 100);
	arm(&mover, 100);
	arm(&periodic, 100);
	loop_advance(loop, start + 100 + TICK_MS - 1); /* their tick has come */
	assert_int_equal(stopper.p_fired, 1);
	assert_int_equal(mover.p_fired, 1);
	assert_int_equal(periodic.p_fired, 1);
	/* Each pair fired in an order the test does not fix: the one that went first won. */
	if (stopped.p_fired == 1)
		assert_true(stopped.p_order < stopper.p_order);
	else
		assert_false(loop_timer_armed(&stopped.p_timer));
	if (moved.p_fired == 1) {
		assert_true(moved.p_order < mover.p_order);
		assert_true(loop_timer_armed(&moved.p_timer)); /* re-armed for later */
		moved.p_fired = 0;
	}
	assert_true(loop_timer_armed(&moved.p_timer));
	assert_int_equal(moved.p_expires, loop_now(loop) + 1000);

	run_until(start + 5000);
	assert_on_time(&moved);
	assert_true(stopped.p_fired <= 1);
	assert_int_equal(periodic.p_fired, 5);
	assert_true(periodic.p_fired_at >= start + 100 + 4 * 300);
	assert_false(loop_timer_armed(&periodic.p_timer));
	assert_int_equal(loop_timeout_at(loop, loop_now(loop)), -1);
}

static void test_stop_before_expiry_never_fires(void **state)
{
	struct probe a = {0}, b = {0};
	(void)state;

	uint64_t start = loop_now(loop);
	arm(&a, 500);
	arm(&b, 500);
	loop_timer_stop(loop, &a.p_timer);
	loop_timer_stop(loop, &a.p_timer); /* twice: harmless */
	assert_false(loop_timer_armed(&a.p_timer));
	run_until(start + 2000);
	assert_int_equal(a.p_fired, 0);
	assert_on_time(&b);
	/* Re-arming an armed timer moves it; it fires once. */
	arm(&a, 300);
	arm(&a, 900);
	run_until(start + 4000);
	assert_on_time(&a);
}

/* Timers due more than a turn of the wheel ahead share slots with nearer ones; they must
 * wait for their own turn, also across a clock jump of several turns. */
static void test_timers_more_than_a_turn_ahead(void **state)
{
	struct probe near = {0}, far = {0}, farther = {0}, same_slot = {0};
	(void)state;

	uint64_t start = loop_now(loop);
	arm(&far, TURN_MS + 1000);
	arm(&same_slot, 1000);                    /* the slot far sits in, a turn earlier */
	arm(&farther, 3 * (uint64_t)TURN_MS + 7); /* three turns and a bit */
	arm(&near, 10);
	int wakeups = run_until(start + TURN_MS);
	assert_on_time(&near);
	assert_on_time(&same_slot);
	assert_int_equal(far.p_fired, 0);
	assert_int_equal(farther.p_fired, 0);
	assert_true(wakeups <= 2); /* near and same_slot: no wake-up per tick, none per turn */

	/* The sleep is computed to far's own tick, a turn ahead, not to the next turn. */
	int timeout = loop_timeout_at(loop, loop_now(loop));
	assert_true(timeout > 0);
	assert_true(loop_now(loop) + (uint64_t)timeout >= far.p_expires);
	assert_true(loop_now(loop) + (uint64_t)timeout < far.p_expires + TICK_MS);
	run_until(start + TURN_MS + 2000);
	assert_on_time(&far);
	assert_int_equal(farther.p_fired, 0);

	/* A stall: the clock jumps past farther's expiry by several turns at once. */
	loop_advance(loop, start + 7 * (uint64_t)TURN_MS);
	assert_int_equal(farther.p_fired, 1);
	assert_true(farther.p_fired_at >= farther.p_expires);
}

static void arm_other_now(struct probe *p)
{
	arm(p->p_other, 0);
}

/* A callback arms a timer for "now": it fires at the next tick, not in the same pass
 * (which could loop forever) and not never. */
static void test_timer_armed_by_callback_for_the_same_tick(void **state)
{
	struct probe first = {0}, second = {0};
	(void)state;

	uint64_t start = loop_now(loop);
	first.p_then = arm_other_now;
	first.p_other = &second;
	arm(&first, 200);
	loop_advance(loop, start + 200 + TICK_MS - 1);
	assert_int_equal(first.p_fired, 1);
	assert_int_equal(second.p_fired, 0);
	assert_true(loop_timer_armed(&second.p_timer));
	int timeout = loop_timeout_at(loop, loop_now(loop));
	assert_true(timeout >= 0 && timeout <= TICK_MS);
	loop_advance(loop, loop_now(loop) + (uint64_t)timeout);
	assert_int_equal(second.p_fired, 1);
	assert_true(second.p_fired_at <= start + 200 + 2 * TICK_MS);
}

/* The computed sleep: until the first timer due, whatever the number of ticks between. */
static void test_sleep_time(void **state)
{
	struct probe a = {0}, b = {0}, c = {0};
	(void)state;

	uint64_t start = loop_now(loop);
	assert_int_equal(loop_timeout_at(loop, start), -1); /* nothing armed: sleep for good */

	arm(&a, 10000);
	int timeout = loop_timeout_at(loop, start);
	assert_true(start + (uint64_t)timeout >= a.p_expires);
	assert_true(start + (uint64_t)timeout < a.p_expires + TICK_MS);
	/* Asked later, the remainder; asked past the expiry, 0. */
	assert_int_equal(loop_timeout_at(loop, start + 4000), timeout - 4000);
	assert_int_equal(loop_timeout_at(loop, start + 20000), 0);

	/* An earlier timer shortens the sleep at once. */
	arm(&b, 3000);
	timeout = loop_timeout_at(loop, start);
	assert_true(start + (uint64_t)timeout >= b.p_expires);
	assert_true(start + (uint64_t)timeout < b.p_expires + TICK_MS);

	/* Stopping it may leave one early wake-up, never a late one, and after that
	 * wake-up the sleep is to a again. */
	loop_timer_stop(loop, &b.p_timer);
	timeout = loop_timeout_at(loop, start);
	assert_true(start + (uint64_t)timeout < a.p_expires + TICK_MS);
	loop_advance(loop, start + (uint64_t)timeout);
	assert_int_equal(a.p_fired, 0);
	uint64_t now = loop_now(loop);
	timeout = loop_timeout_at(loop, now);
	assert_true(now + (uint64_t)timeout >= a.p_expires);
	assert_true(now + (uint64_t)timeout < a.p_expires + TICK_MS);
	loop_timer_stop(loop, &a.p_timer);
	assert_int_equal(loop_timeout_at(loop, now), -1);

	/* A timer far away: one sleep, however long. */
	arm(&c, 3600 * 1000);
	assert_int_equal(run_until(loop_now(loop) + 3601 * 1000), 1);
	assert_on_time(&c);
}

static void rearm_in_30s(struct probe *p)
{
	arm(p, 30000);
}

/* The idle server of the issue: 1,000 clients whose keepalive timers (30 s) were armed
 * within one second. Ten seconds with nothing due cost no wake-up at all; a minute costs
 * a wake-up per distinct tick of the timers, not one per tick of the wheel. */
static void test_idle_timers_do_not_wake_every_tick(void **state)
{
	enum { N = 1000 };
	struct probe *p = calloc(N, sizeof *p);
	(void)state;

	assert_non_null(p);
	uint64_t start = loop_now(loop);
	for (size_t i = 0; i < N; i++) {
		loop_advance(loop, start + i); /* one client a millisecond */
		p[i].p_then = rearm_in_30s;
		arm(&p[i], 30000);
	}
	assert_int_equal(run_until(start + 11000), 0);
	/* Over a minute the keepalives fire twice each; their expiries span 1 s, 20 ticks. */
	int wakeups = run_until(start + 71000);
	assert_true(wakeups <= 2 * 21);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(p[i].p_fired, 2);
	free(p);
}

static void on_watch(struct loop_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
}

/* A change the kernel refuses is not recorded: the old events stay, and the same call is
 * made again (not skipped as "unchanged") next time. */
static void test_watch_set_failure_keeps_the_old_events(void **state)
{
	struct loop_watch w;
	int fds[2];
	(void)state;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(loop_watch_add(loop, &w, fds[0], EPOLLIN, on_watch), 0);
	assert_int_equal(loop_watch_set(loop, &w, EPOLLIN | EPOLLOUT), 0);
	assert_int_equal(w.lw_events, EPOLLIN | EPOLLOUT);
	assert_int_equal(loop_watch_set(loop, &w, EPOLLIN), 0);
	assert_int_equal(w.lw_events, EPOLLIN);

	/* Closing the descriptor drops it from epoll: every change now fails. */
	close(fds[0]);
	errno = 0;
	assert_int_equal(loop_watch_set(loop, &w, EPOLLOUT), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(w.lw_events, EPOLLIN);
	errno = 0;
	assert_int_equal(loop_watch_set(loop, &w, EPOLLOUT), -1); /* tried again, not skipped */
	assert_int_equal(errno, EBADF);
	assert_int_equal(loop_watch_set(loop, &w, EPOLLIN), 0); /* unchanged: no call */
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_timers_fire_in_expiry_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timers_never_fire_early_and_never_late, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_and_restart_inside_callbacks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_before_expiry_never_fires, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timers_more_than_a_turn_ahead, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timer_armed_by_callback_for_the_same_tick,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sleep_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timers_do_not_wake_every_tick, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watch_set_failure_keeps_the_old_events, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
