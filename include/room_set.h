/*
 * room_set: the names of the rooms a node serves, as the Redis backplane keeps them to
 * subscribe them all again after a reconnect. A chained hash set of short names; adding
 * and removing are O(1), walking visits every name once.
 */
#ifndef CHATD_ROOM_SET_H
#define CHATD_ROOM_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "hub.h"

#define ROOM_SET_BUCKETS 1024

struct room_set_entry;

/* Zero-initialised is empty. The entries are owned (room_set_clear frees them). */
struct room_set {
	struct room_set_entry *rs_buckets[ROOM_SET_BUCKETS];
	size_t rs_count;
};

/* 1 when added, 0 when it was there already, -1 when memory runs out. len is 1 to
 * HUB_ROOM_NAME_MAX. */
int room_set_add(struct room_set *s, const char *name, size_t len);
/* True when it was there. */
bool room_set_remove(struct room_set *s, const char *name, size_t len);

/* Calls fn for every name (borrowed for the call; fn must not change the set). */
void room_set_each(const struct room_set *s, void (*fn)(void *arg, const char *name, size_t len),
		   void *arg);

void room_set_clear(struct room_set *s);

#endif
