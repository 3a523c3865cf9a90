/*
 * Connections per source address: an open-addressing table with linear probing and
 * backward-shift deletion (no tombstones, so a table churned by connect/close never
 * degrades). It grows at half full and shrinks at an eighth, so a flood from many
 * addresses gives its memory back when it ends.
 */
#include "addrlimit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define ADDRLIMIT_MIN_CAP 64

void addrlimit_init(struct addrlimit *t, uint64_t seed)
{
	memset(t, 0, sizeof *t);
	t->al_seed = seed;
}

void addrlimit_free(struct addrlimit *t)
{
	free(t->al_slots);
	t->al_slots = NULL;
	t->al_cap = 0;
	t->al_used = 0;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

bool addrlimit_key_of(const struct sockaddr *sa, struct addrlimit_key *out)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		*out = (struct addrlimit_key){load_be((const uint8_t *)&s4->sin_addr, 4), false};
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *a = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			*out = (struct addrlimit_key){load_be(a + 12, 4), false};
		else
			*out = (struct addrlimit_key){load_be(a, 8), true};
		return true;
	}
	return false;
}

/* The key mixed with the secret seed, then through a bijective 64-bit finaliser (the
 * one MurmurHash3 ends with): without the seed, which slots two addresses land in cannot
 * be predicted, so a peer with many addresses (an IPv6 /48 has 65,536 /64s) cannot make
 * them collide. */
static size_t slot_of(const struct addrlimit *t, const struct addrlimit_key *k)
{
	uint64_t x = k->ak_bits ^ t->al_seed ^ (k->ak_ipv6 ? 0x9E3779B97F4A7C15ULL : 0);
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDULL;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ULL;
	x ^= x >> 33;
	return (size_t)x & (t->al_cap - 1);
}

static bool key_equal(const struct addrlimit_key *a, const struct addrlimit_key *b)
{
	return a->ak_bits == b->ak_bits && a->ak_ipv6 == b->ak_ipv6;
}

/* The slot holding key, or the empty slot where it would go. al_cap must be non-zero. */
static size_t find(const struct addrlimit *t, const struct addrlimit_key *k)
{
	size_t i = slot_of(t, k);
	while (t->al_slots[i].as_count != 0 && !key_equal(&t->al_slots[i].as_key, k))
		i = (i + 1) & (t->al_cap - 1);
	return i;
}

/* Moves every entry into a table of cap slots; on failure the table stays as it is. */
static bool resize(struct addrlimit *t, size_t cap)
{
	struct addrlimit_slot *old = t->al_slots;
	size_t old_cap = t->al_cap;
	struct addrlimit_slot *slots = calloc(cap, sizeof *slots);

	if (slots == NULL)
		return false;
	t->al_slots = slots;
	t->al_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].as_count != 0)
			t->al_slots[find(t, &old[i].as_key)] = old[i];
	free(old);
	return true;
}

enum addrlimit_result addrlimit_acquire(struct addrlimit *t, const struct addrlimit_key *key,
					uint32_t max)
{
	size_t i;

	if (t->al_cap == 0 && !resize(t, ADDRLIMIT_MIN_CAP))
		return ADDRLIMIT_NO_MEM;
	i = find(t, key);
	if (t->al_slots[i].as_count != 0) {
		if (max != 0 && t->al_slots[i].as_count >= max)
			return ADDRLIMIT_FULL;
		t->al_slots[i].as_count++;
		return ADDRLIMIT_OK;
	}
	/* A new address: keep the table at most half full, so probes stay short. */
	if ((t->al_used + 1) * 2 > t->al_cap) {
		if (!resize(t, t->al_cap * 2))
			return ADDRLIMIT_NO_MEM;
		i = find(t, key);
	}
	t->al_slots[i] = (struct addrlimit_slot){*key, 1};
	t->al_used++;
	return ADDRLIMIT_OK;
}

void addrlimit_release(struct addrlimit *t, const struct addrlimit_key *key)
{
	size_t mask = t->al_cap - 1, i, j;

	if (t->al_cap == 0)
		return;
	i = find(t, key);
	if (t->al_slots[i].as_count == 0 || --t->al_slots[i].as_count != 0)
		return;
	t->al_used--;
	/* Backward-shift deletion: pull later entries of the probe run into the hole when
	 * their home slot does not lie cyclically in (hole, their slot]. */
	for (j = (i + 1) & mask; t->al_slots[j].as_count != 0; j = (j + 1) & mask) {
		size_t home = slot_of(t, &t->al_slots[j].as_key);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->al_slots[i] = t->al_slots[j];
			i = j;
		}
	}
	t->al_slots[i].as_count = 0;
	if (t->al_cap > ADDRLIMIT_MIN_CAP && t->al_used * 8 < t->al_cap)
		(void)resize(t, t->al_cap / 2);
}

uint32_t addrlimit_count(const struct addrlimit *t, const struct addrlimit_key *key)
{
	if (t->al_cap == 0)
		return 0;
	return t->al_slots[find(t, key)].as_count;
}
