/*
 * addrlimit: how many connections each source address holds, so that one address cannot
 * take every descriptor (--max-per-ip). IPv4 addresses count one by one; IPv6 addresses
 * are grouped by their /64 (what one subscriber, or one host choosing random interface
 * ids, is given); an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket
 * reports for IPv4 peers) counts as its IPv4 address. Pure: no I/O, no clock.
 */
#ifndef CHATD_ADDRLIMIT_H
#define CHATD_ADDRLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The group an address counts in. */
struct addrlimit_key {
	uint64_t ak_bits; /* the IPv4 address, or the IPv6 /64 prefix, in host order */
	bool ak_ipv6;     /* which of the two ak_bits holds */
};

struct addrlimit_slot {
	struct addrlimit_key as_key;
	uint32_t as_count; /* 0: the slot is empty */
};

/* An open-addressing hash table of the addresses that hold connections. Addresses are the
 * peer's choice, so the hash is keyed with a per-process secret (al_seed): a peer cannot
 * choose addresses that collide. Memory: at most twice the slots of the addresses that
 * hold connections at the peak, 16 bytes each. */
struct addrlimit {
	struct addrlimit_slot *al_slots; /* owned */
	size_t al_cap;                   /* a power of two, or 0 before the first use */
	size_t al_used;                  /* addresses holding at least one connection */
	uint64_t al_seed;
};

enum addrlimit_result {
	ADDRLIMIT_OK,     /* counted */
	ADDRLIMIT_FULL,   /* the address already holds max connections: not counted */
	ADDRLIMIT_NO_MEM, /* the table could not grow: not counted */
};

/* seed: a secret random value (the server reads it from getrandom). */
void addrlimit_init(struct addrlimit *t, uint64_t seed);
void addrlimit_free(struct addrlimit *t);

/* The group of a peer's address (AF_INET or AF_INET6). False for another family. */
bool addrlimit_key_of(const struct sockaddr *sa, struct addrlimit_key *out);

/* Counts one more connection for key unless it already holds max (0: no limit). */
enum addrlimit_result addrlimit_acquire(struct addrlimit *t, const struct addrlimit_key *key,
					uint32_t max);
/* Gives back a connection acquire counted. */
void addrlimit_release(struct addrlimit *t, const struct addrlimit_key *key);

/* The connections key holds now. */
uint32_t addrlimit_count(const struct addrlimit *t, const struct addrlimit_key *key);

#endif
