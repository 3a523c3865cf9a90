/*
 * guard.h: test input placed at the very end of a readable page that is followed by an
 * unreadable (PROT_NONE) page, as picohttpparser's tests do. A parser that reads even one
 * byte past the length it was given faults at once (cmocka reports the SIGSEGV as a failed
 * test) instead of quietly reading whatever happens to follow in memory.
 * Header-only so each test program stays one file plus this; everything is static inline.
 */
#ifndef CHATD_TESTS_GUARD_H
#define CHATD_TESTS_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
	uint8_t *g_map; /* owned: the whole mapping, readable pages then the guard page */
	size_t g_map_len;
	size_t g_room; /* readable bytes before the guard page */
};

/* Maps room for at least cap bytes of input followed by a guard page. Aborts on failure:
 * a test that cannot get memory has nothing useful left to say. */
static inline void guard_open(struct guard *g, size_t cap)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t room = (cap + page - 1) / page * page;

	if (room == 0)
		room = page;
	g->g_map_len = room + page;
	g->g_map =
	    mmap(NULL, g->g_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->g_map == MAP_FAILED || mprotect(g->g_map + room, page, PROT_NONE) != 0)
		abort();
	g->g_room = room;
}

/* Copies len bytes so that the last one sits just before the guard page and returns where
 * they start. The copy is writable (wsreader unmasks in place). Replaces any earlier copy. */
static inline uint8_t *guard_put(struct guard *g, const void *data, size_t len)
{
	uint8_t *at;

	if (len > g->g_room)
		abort();
	at = g->g_map + g->g_room - len;
	if (len > 0)
		memcpy(at, data, len);
	return at;
}

static inline void guard_close(struct guard *g)
{
	munmap(g->g_map, g->g_map_len);
	g->g_map = NULL;
}

#endif
