/*
 * Unit tests for addrlimit (include/addrlimit.h), written from the header: which addresses
 * count together (IPv4 one by one, IPv6 by /64, IPv4-mapped IPv6 as IPv4), the limit, the
 * release, and the table under churn and many addresses (checked against a plain array),
 * including seeds that are all zero or all ones. Leaks are ASan's to find.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addrlimit.h"

static struct addrlimit_key key(const char *text)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct addrlimit_key k;

	if (inet_pton(AF_INET, text, &s4.sin_addr) == 1) {
		assert_true(addrlimit_key_of((struct sockaddr *)&s4, &k));
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
		s6.sin6_port = htons(1234);
		assert_true(addrlimit_key_of((struct sockaddr *)&s6, &k));
	}
	return k;
}

static bool same_group(const char *a, const char *b)
{
	struct addrlimit_key ka = key(a), kb = key(b);
	return ka.ak_bits == kb.ak_bits && ka.ak_ipv6 == kb.ak_ipv6;
}

static void test_grouping(void **state)
{
	(void)state;
	/* IPv4: every address on its own. */
	assert_false(same_group("127.0.0.1", "127.0.0.2"));
	assert_false(same_group("10.0.0.1", "10.0.1.1"));
	assert_true(same_group("192.0.2.7", "192.0.2.7"));
	/* IPv4-mapped IPv6 is the IPv4 address. */
	assert_true(same_group("::ffff:127.0.0.1", "127.0.0.1"));
	assert_false(same_group("::ffff:127.0.0.1", "127.0.0.2"));
	/* IPv6 by /64: the interface id does not matter, the prefix does. */
	assert_true(same_group("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	assert_true(same_group("2001:db8:1:2:aaaa::", "2001:db8:1:2:0:0:0:1"));
	assert_false(same_group("2001:db8:1:2::1", "2001:db8:1:3::1"));
	assert_false(same_group("2001:db8::1", "2001:db9::1"));
	/* An IPv6 prefix whose 64 bits equal an IPv4 address's is another group. */
	assert_false(same_group("::7f00:1", "127.0.0.1")); /* /64 is all zero */
	assert_false(same_group("0:0:0:7f00::1", "::"));
	/* ::1 and the IPv4-compatible ::127.0.0.1 are plain IPv6 (prefix 0), not IPv4. */
	assert_true(same_group("::1", "::127.0.0.1"));
	assert_false(same_group("::1", "127.0.0.1"));

	struct sockaddr_un_like {
		sa_family_t family;
		char path[32];
	} other = {AF_UNIX, "x"};
	struct addrlimit_key k;
	assert_false(addrlimit_key_of((struct sockaddr *)(void *)&other, &k));
}

static void test_limit_and_release(void **state)
{
	struct addrlimit t;
	struct addrlimit_key a = key("127.0.0.1"), b = key("127.0.0.2");
	struct addrlimit_key v6 = key("2001:db8::1"), v6b = key("2001:db8::2");
	(void)state;

	addrlimit_init(&t, 0x1234);
	assert_int_equal(addrlimit_count(&t, &a), 0); /* before any allocation */
	addrlimit_release(&t, &a);                    /* harmless on an empty table */
	for (int i = 0; i < 5; i++)
		assert_int_equal(addrlimit_acquire(&t, &a, 5), ADDRLIMIT_OK);
	assert_int_equal(addrlimit_acquire(&t, &a, 5), ADDRLIMIT_FULL);
	assert_int_equal(addrlimit_count(&t, &a), 5);
	/* Another address is not affected. */
	assert_int_equal(addrlimit_acquire(&t, &b, 5), ADDRLIMIT_OK);
	assert_int_equal(addrlimit_count(&t, &b), 1);
	/* One /64 shares one allowance. */
	assert_int_equal(addrlimit_acquire(&t, &v6, 2), ADDRLIMIT_OK);
	assert_int_equal(addrlimit_acquire(&t, &v6b, 2), ADDRLIMIT_OK);
	assert_int_equal(addrlimit_acquire(&t, &v6, 2), ADDRLIMIT_FULL);
	assert_int_equal(t.al_used, 3);
	/* A release makes room for exactly one more. */
	addrlimit_release(&t, &a);
	assert_int_equal(addrlimit_count(&t, &a), 4);
	assert_int_equal(addrlimit_acquire(&t, &a, 5), ADDRLIMIT_OK);
	assert_int_equal(addrlimit_acquire(&t, &a, 5), ADDRLIMIT_FULL);
	/* 0: no limit. */
	assert_int_equal(addrlimit_acquire(&t, &a, 0), ADDRLIMIT_OK);
	assert_int_equal(addrlimit_count(&t, &a), 6);
	for (int i = 0; i < 6; i++)
		addrlimit_release(&t, &a);
	assert_int_equal(addrlimit_count(&t, &a), 0);
	assert_int_equal(t.al_used, 2);
	/* Releasing an address that holds nothing changes nothing. */
	addrlimit_release(&t, &a);
	assert_int_equal(addrlimit_count(&t, &b), 1);
	assert_int_equal(t.al_used, 2);
	addrlimit_free(&t);
	addrlimit_free(&t); /* twice is harmless */
}

/* Many addresses acquired and released in a scrambled order, checked against a plain
 * array after every step: growth, shrinking and backward-shift deletion keep every
 * count where it belongs. */
static void churn(uint64_t seed)
{
	enum { N = 3000 };
	static uint32_t want[N];
	struct addrlimit t;
	uint32_t rng = 12345;

	memset(want, 0, sizeof want);
	addrlimit_init(&t, seed);
	for (int step = 0; step < 60000; step++) {
		rng = rng * 1103515245u + 12345u;
		uint32_t i = (rng >> 8) % N;
		/* Clustered keys (consecutive addresses) and IPv6 prefixes both. */
		struct addrlimit_key k = {(uint64_t)i * (i % 2 ? 1 : 0x100000000ULL), i % 3 == 0};
		if (step < 30000 ? (rng & 0x10000) != 0 : (rng & 0x30000) == 0) {
			enum addrlimit_result r = addrlimit_acquire(&t, &k, 3);
			assert_int_equal(r, want[i] < 3 ? ADDRLIMIT_OK : ADDRLIMIT_FULL);
			if (r == ADDRLIMIT_OK)
				want[i]++;
		} else {
			addrlimit_release(&t, &k);
			if (want[i] > 0)
				want[i]--;
		}
		if (step % 997 == 0 || step == 59999) {
			size_t used = 0;
			for (uint32_t j = 0; j < N; j++) {
				struct addrlimit_key kj = {
					(uint64_t)j * (j % 2 ? 1 : 0x100000000ULL), j % 3 == 0};
				assert_int_equal(addrlimit_count(&t, &kj), want[j]);
				used += want[j] != 0;
			}
			assert_int_equal(t.al_used, used);
			assert_true(t.al_cap == 0 || t.al_used * 2 <= t.al_cap);
		}
	}
	/* Everything released: the table is back to its smallest size. */
	for (uint32_t j = 0; j < N; j++) {
		struct addrlimit_key kj = {(uint64_t)j * (j % 2 ? 1 : 0x100000000ULL), j % 3 == 0};
		while (want[j]-- > 0)
			addrlimit_release(&t, &kj);
	}
	assert_int_equal(t.al_used, 0);
	assert_true(t.al_cap <= 64);
	addrlimit_free(&t);
}

static void test_churn(void **state)
{
	(void)state;
	churn(0);
	churn(UINT64_MAX);
	churn(0x9E3779B97F4A7C15ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_limit_and_release),
		cmocka_unit_test(test_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
