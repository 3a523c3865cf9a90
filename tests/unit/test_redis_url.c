/*
 * Unit tests for redis_url (include/redis_url.h): every form of the --redis address, the
 * credentials (percent-encoded, a user without a password), and the refusals, each with
 * the words a user would look for; the log form never shows the password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "redis_url.h"

static struct redis_url parse_ok(const char *s)
{
	struct redis_url u;
	char err[256] = "";
	bool ok = redis_url_parse(s, &u, err, sizeof err);
	if (!ok)
		fail_msg("%s: %s", s, err);
	return u;
}

static void test_tcp_forms(void **state)
{
	struct redis_url u;
	(void)state;

	u = parse_ok("redis://localhost");
	assert_false(u.ru_unix);
	assert_string_equal(u.ru_host, "localhost");
	assert_int_equal(u.ru_port, 6379);
	assert_int_equal(u.ru_db, -1);
	assert_string_equal(u.ru_password, "");

	u = parse_ok("redis://10.0.0.5:7000/3");
	assert_string_equal(u.ru_host, "10.0.0.5");
	assert_int_equal(u.ru_port, 7000);
	assert_int_equal(u.ru_db, 3);

	u = parse_ok("redis://[::1]:6380/");
	assert_string_equal(u.ru_host, "::1");
	assert_int_equal(u.ru_port, 6380);

	u = parse_ok("redis://");
	assert_string_equal(u.ru_host, "127.0.0.1");
}

static void test_credentials(void **state)
{
	struct redis_url u;
	(void)state;

	u = parse_ok("redis://:secret@h");
	assert_string_equal(u.ru_user, "");
	assert_string_equal(u.ru_password, "secret");

	u = parse_ok("redis://alice:p%40ss%3Aword@h:1");
	assert_string_equal(u.ru_user, "alice");
	assert_string_equal(u.ru_password, "p@ss:word");
	assert_string_equal(u.ru_host, "h");

	/* The last '@' ends the credentials: an unencoded '@' in a password works. */
	u = parse_ok("redis://:a@b@h");
	assert_string_equal(u.ru_password, "a@b");
	assert_string_equal(u.ru_host, "h");

	u = parse_ok("redis://justpassword@h");
	assert_string_equal(u.ru_password, "justpassword");

	u = parse_ok("unix://:pw@/run/redis.sock");
	assert_true(u.ru_unix);
	assert_string_equal(u.ru_path, "/run/redis.sock");
	assert_string_equal(u.ru_password, "pw");
}

static void test_unix(void **state)
{
	struct redis_url u = parse_ok("unix:///var/run/redis/redis.sock");
	(void)state;

	assert_true(u.ru_unix);
	assert_string_equal(u.ru_path, "/var/run/redis/redis.sock");
}

static void test_refusals(void **state)
{
	static const struct {
		const char *url, *said;
	} cases[] = {
		{"http://h", "invalid Redis URL"},
		{"rediss://h", "TLS"},
		{"redis://h:0", "port"},
		{"redis://h:65536", "port"},
		{"redis://h:12x", "port"},
		{"redis://h:", "port"},
		{"redis://h/x", "database"},
		{"redis://h/1?timeout=1", "database"},
		{"redis://h?x", "query"},
		{"redis://[::1", "unclosed"},
		{"redis://[]:1", "host"},
		{"redis://[::1]x", "after ']'"},
		{"redis://alice:@h", "no password"},
		{"redis://:%zz@h", "password"},
		{"redis://:%4@h", "password"},
		{"redis://:%00@h", "password"},
		{"unix://", "absolute path"},
		{"unix://relative/path", "absolute path"},
		{"unix:///", "absolute path"},
		{"unix://pw@x/sock", "unix://"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct redis_url u;
		char err[256] = "";
		if (redis_url_parse(cases[i].url, &u, err, sizeof err))
			fail_msg("accepted %s", cases[i].url);
		if (strstr(err, cases[i].said) == NULL)
			fail_msg("%s: '%s' does not say '%s'", cases[i].url, err, cases[i].said);
	}
}

static void test_too_long_parts(void **state)
{
	char url[2048], err[256];
	struct redis_url u;
	(void)state;

	memset(url, 0, sizeof url);
	strcpy(url, "redis://");
	memset(url + 8, 'h', 300);
	assert_false(redis_url_parse(url, &u, err, sizeof err));
	strcpy(url, "unix:///");
	memset(url + 8, 's', 200);
	assert_false(redis_url_parse(url, &u, err, sizeof err));
	strcpy(url, "redis://:");
	memset(url + 9, 'p', 300);
	strcpy(url + 309, "@h");
	assert_false(redis_url_parse(url, &u, err, sizeof err));
}

static void test_format_hides_the_password(void **state)
{
	char buf[512];
	struct redis_url u = parse_ok("redis://bob:hunter2@[::1]:7/2");
	(void)state;

	redis_url_format(&u, buf, sizeof buf);
	assert_string_equal(buf, "redis://bob:***@[::1]:7/2");
	u = parse_ok("unix://:hunter2@/s.sock");
	redis_url_format(&u, buf, sizeof buf);
	assert_string_equal(buf, "unix://***@/s.sock");
	u = parse_ok("redis://h");
	redis_url_format(&u, buf, sizeof buf);
	assert_string_equal(buf, "redis://h:6379");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_forms),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_too_long_parts),
		cmocka_unit_test(test_format_hides_the_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
