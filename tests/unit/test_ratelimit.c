/*
 * Unit tests for ratelimit (include/ratelimit.h), written from the header: full buckets at
 * the start, refill by elapsed time up to the burst, byte debt, the wait until a client may
 * go on, wrapping millisecond stamps, and "off".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

static const struct ratelimit_policy policy = {
	.rp_messages = {.rr_per_sec = 10, .rr_burst = 5},
	.rp_bytes = {.rr_per_sec = 1000, .rr_burst = 4000},
};

static void test_burst_then_stop(void **state)
{
	struct ratelimit rl;
	(void)state;
	ratelimit_init(&rl, &policy, 0);
	assert_true(ratelimit_full(&rl, &policy));
	for (int i = 0; i < 5; i++) {
		assert_true(ratelimit_ready(&rl, &policy));
		ratelimit_take_message(&rl, &policy);
	}
	assert_false(ratelimit_ready(&rl, &policy));
	/* One message a tenth of a second: 100 ms to the next. */
	assert_int_equal(ratelimit_wait_ms(&rl, &policy), 100);
	ratelimit_refill(&rl, &policy, 99);
	assert_false(ratelimit_ready(&rl, &policy));
	ratelimit_refill(&rl, &policy, 101);
	assert_true(ratelimit_ready(&rl, &policy));
	assert_false(ratelimit_full(&rl, &policy));
}

static void test_refill_caps_at_burst(void **state)
{
	struct ratelimit rl;
	(void)state;
	ratelimit_init(&rl, &policy, 1000);
	ratelimit_take_message(&rl, &policy);
	ratelimit_refill(&rl, &policy, 1000 + 3600 * 1000);
	assert_true(ratelimit_full(&rl, &policy));
	for (int i = 0; i < 5; i++)
		ratelimit_take_message(&rl, &policy);
	assert_false(ratelimit_ready(&rl, &policy)); /* never more than the burst at once */
}

static void test_byte_debt(void **state)
{
	struct ratelimit rl;
	(void)state;
	ratelimit_init(&rl, &policy, 0);
	ratelimit_take_bytes(&rl, &policy, 6000); /* a read takes what came: 2000 in debt */
	assert_false(ratelimit_ready(&rl, &policy));
	/* 2000 bytes at 1000 a second, plus one to be above zero. */
	assert_int_equal(ratelimit_wait_ms(&rl, &policy), 2001);
	ratelimit_refill(&rl, &policy, 2000);
	assert_false(ratelimit_ready(&rl, &policy));
	ratelimit_refill(&rl, &policy, 2001);
	assert_true(ratelimit_ready(&rl, &policy));
}

static void test_stamp_wraps(void **state)
{
	struct ratelimit rl;
	(void)state;
	ratelimit_init(&rl, &policy, UINT32_MAX - 50);
	for (int i = 0; i < 5; i++)
		ratelimit_take_message(&rl, &policy);
	ratelimit_refill(&rl, &policy, 50); /* 101 ms later, across the wrap */
	assert_true(ratelimit_ready(&rl, &policy));
}

static void test_off(void **state)
{
	static const struct ratelimit_policy off = {{0, 0}, {0, 0}};
	struct ratelimit rl;
	(void)state;
	ratelimit_init(&rl, &off, 0);
	for (int i = 0; i < 100000; i++)
		ratelimit_take_message(&rl, &off);
	ratelimit_take_bytes(&rl, &off, UINT32_MAX);
	assert_true(ratelimit_ready(&rl, &off));
	assert_int_equal(ratelimit_wait_ms(&rl, &off), 0);
}

static void test_low_rate_refills_smoothly(void **state)
{
	/* One message a second: thousandths keep 1 ms steps from rounding to nothing. */
	static const struct ratelimit_policy slow = {{1, 1}, {0, 0}};
	struct ratelimit rl;
	(void)state;
	ratelimit_init(&rl, &slow, 0);
	ratelimit_take_message(&rl, &slow);
	for (uint32_t t = 1; t < 1000; t++) {
		ratelimit_refill(&rl, &slow, t);
		assert_false(ratelimit_ready(&rl, &slow));
	}
	ratelimit_refill(&rl, &slow, 1001);
	assert_true(ratelimit_ready(&rl, &slow));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_stop),
		cmocka_unit_test(test_refill_caps_at_burst),
		cmocka_unit_test(test_byte_debt),
		cmocka_unit_test(test_stamp_wraps),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_low_rate_refills_smoothly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
