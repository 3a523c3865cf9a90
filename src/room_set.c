/* A chained hash set of room names (FNV-1a into a fixed table: a node serves thousands of
 * rooms at most, and a longer chain costs only on join and leave). */
#include "room_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct room_set_entry {
	struct room_set_entry *re_next;
	size_t re_len;
	char re_name[HUB_ROOM_NAME_MAX];
};

static struct room_set_entry **find(struct room_set *s, const char *name, size_t len)
{
	uint32_t x = 2166136261u;
	for (size_t i = 0; i < len; i++)
		x = (x ^ (unsigned char)name[i]) * 16777619u;
	struct room_set_entry **p = &s->rs_buckets[x % ROOM_SET_BUCKETS];
	while (*p != NULL && ((*p)->re_len != len || memcmp((*p)->re_name, name, len) != 0))
		p = &(*p)->re_next;
	return p;
}

int room_set_add(struct room_set *s, const char *name, size_t len)
{
	struct room_set_entry **p, *e;

	if (len == 0 || len > HUB_ROOM_NAME_MAX)
		return -1;
	p = find(s, name, len);
	if (*p != NULL)
		return 0;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return -1;
	memcpy(e->re_name, name, len);
	e->re_len = len;
	*p = e;
	s->rs_count++;
	return 1;
}

bool room_set_remove(struct room_set *s, const char *name, size_t len)
{
	struct room_set_entry **p, *e;

	if (len == 0 || len > HUB_ROOM_NAME_MAX)
		return false;
	p = find(s, name, len);
	e = *p;
	if (e == NULL)
		return false;
	*p = e->re_next;
	free(e);
	s->rs_count--;
	return true;
}

void room_set_each(const struct room_set *s, void (*fn)(void *arg, const char *name, size_t len),
		   void *arg)
{
	for (size_t b = 0; b < ROOM_SET_BUCKETS; b++)
		for (const struct room_set_entry *e = s->rs_buckets[b]; e != NULL; e = e->re_next)
			fn(arg, e->re_name, e->re_len);
}

void room_set_clear(struct room_set *s)
{
	for (size_t b = 0; b < ROOM_SET_BUCKETS; b++) {
		while (s->rs_buckets[b] != NULL) {
			struct room_set_entry *e = s->rs_buckets[b];
			s->rs_buckets[b] = e->re_next;
			free(e);
		}
	}
	s->rs_count = 0;
}
