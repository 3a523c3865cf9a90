/*
 * Unit tests for room_set (include/room_set.h): add and remove with many names (more
 * names than buckets, so chains form), duplicates, names that differ only in length or
 * in their last byte, the walk visiting each name exactly once, and the refused lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "room_set.h"

#define NAMES 5000

static int visits[NAMES];

static void count_visit(void *arg, const char *name, size_t len)
{
	int i;
	(void)arg;
	assert_true(len > 2 && name[0] == '/' && name[1] == 'r');
	assert_int_equal(sscanf(name + 2, "%d", &i), 1);
	visits[i]++;
}

static size_t make_name(char *buf, int i)
{
	return (size_t)snprintf(buf, 16, "/r%d", i);
}

static void test_many_names(void **state)
{
	struct room_set s = {0};
	char name[16];
	(void)state;

	for (int i = 0; i < NAMES; i++)
		assert_int_equal(room_set_add(&s, name, make_name(name, i)), 1);
	for (int i = 0; i < NAMES; i++)
		assert_int_equal(room_set_add(&s, name, make_name(name, i)), 0);
	assert_int_equal(s.rs_count, NAMES);
	memset(visits, 0, sizeof visits);
	room_set_each(&s, count_visit, NULL);
	for (int i = 0; i < NAMES; i++)
		assert_int_equal(visits[i], 1);
	for (int i = 0; i < NAMES; i += 2)
		assert_true(room_set_remove(&s, name, make_name(name, i)));
	for (int i = 0; i < NAMES; i += 2)
		assert_false(room_set_remove(&s, name, make_name(name, i)));
	assert_int_equal(s.rs_count, NAMES / 2);
	memset(visits, 0, sizeof visits);
	room_set_each(&s, count_visit, NULL);
	for (int i = 0; i < NAMES; i++)
		assert_int_equal(visits[i], i % 2);
	room_set_clear(&s);
	assert_int_equal(s.rs_count, 0);
	memset(visits, 0, sizeof visits);
	room_set_each(&s, count_visit, NULL);
	for (int i = 0; i < NAMES; i++)
		assert_int_equal(visits[i], 0);
}

static void test_near_names_are_distinct(void **state)
{
	struct room_set s = {0};
	(void)state;

	assert_int_equal(room_set_add(&s, "/ab", 3), 1);
	assert_int_equal(room_set_add(&s, "/ab", 2), 1); /* "/a" */
	assert_int_equal(room_set_add(&s, "/ac", 3), 1);
	assert_false(room_set_remove(&s, "/abc", 4));
	assert_true(room_set_remove(&s, "/a", 2));
	assert_true(room_set_remove(&s, "/ab", 3));
	assert_int_equal(s.rs_count, 1);
	room_set_clear(&s);
}

static void test_refused_lengths(void **state)
{
	struct room_set s = {0};
	char long_name[HUB_ROOM_NAME_MAX + 1];
	(void)state;

	memset(long_name, 'x', sizeof long_name);
	long_name[0] = '/';
	assert_int_equal(room_set_add(&s, long_name, 0), -1);
	assert_int_equal(room_set_add(&s, long_name, HUB_ROOM_NAME_MAX + 1), -1);
	assert_int_equal(room_set_add(&s, long_name, HUB_ROOM_NAME_MAX), 1);
	assert_false(room_set_remove(&s, long_name, HUB_ROOM_NAME_MAX + 1));
	assert_true(room_set_remove(&s, long_name, HUB_ROOM_NAME_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_near_names_are_distinct),
		cmocka_unit_test(test_refused_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
