/* Unit tests for percent (include/percent.h): hex digits, decoding, '+' in queries, and
 * every way an input is refused (a short or bad escape, an encoded NUL, no room). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "percent.h"

static void test_hex_value(void **state)
{
	(void)state;
	assert_int_equal(percent_hex_value('0'), 0);
	assert_int_equal(percent_hex_value('9'), 9);
	assert_int_equal(percent_hex_value('a'), 10);
	assert_int_equal(percent_hex_value('F'), 15);
	assert_int_equal(percent_hex_value('g'), -1);
	assert_int_equal(percent_hex_value('/'), -1);
	assert_int_equal(percent_hex_value(':'), -1);
}

static void test_decode(void **state)
{
	char out[16];
	size_t n;
	(void)state;

	assert_true(percent_decode("p%40ss+w%2Fd", 12, false, out, sizeof out, &n));
	assert_string_equal(out, "p@ss+w/d");
	assert_int_equal(n, 8);
	assert_true(percent_decode("a+b%20c", 7, true, out, sizeof out, &n));
	assert_string_equal(out, "a b c");
	assert_true(percent_decode("", 0, true, out, sizeof out, &n));
	assert_int_equal(n, 0);
	/* Refused: a short escape, a bad digit, an encoded NUL, no room for the NUL. */
	assert_false(percent_decode("ab%4", 4, false, out, sizeof out, &n));
	assert_false(percent_decode("%zz", 3, false, out, sizeof out, &n));
	assert_false(percent_decode("a%00b", 5, false, out, sizeof out, &n));
	assert_false(percent_decode("abcd", 4, false, out, 4, &n));
	assert_true(percent_decode("abc", 3, false, out, 4, &n));
	assert_false(percent_decode("a", 1, false, out, 0, &n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_value),
		cmocka_unit_test(test_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
