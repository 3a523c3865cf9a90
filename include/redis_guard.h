/*
 * redis_guard: reply objects for a hiredis 0.14 asynchronous context that refuse, while
 * they are being parsed, the replies hiredis's pub/sub dispatch would assert on (and so
 * abort chatd): a reply nobody asked for, or a pub/sub push whose first elements are not
 * strings. A refused reply is a protocol error: hiredis closes the connection the usual
 * way and chatd reconnects. Every other reply is built exactly as hiredis builds it
 * (freeReplyObject frees it).
 */
#ifndef CHATD_REDIS_GUARD_H
#define CHATD_REDIS_GUARD_H

#include <hiredis/async.h>

/* Owned by the caller; must outlive the context it is installed on. */
struct redis_guard {
	redisAsyncContext *rg_context;
	const char *rg_reason; /* static text: why the last reply was refused; NULL none */
	/* The most elements an array may have; 0: REDIS_GUARD_MAX_ELEMENTS (16). A link
	 * whose replies are lists (the rooms' log) sets its own, kept across installs. */
	size_t rg_max_elements;
};

/* Installs g on ac's reader (hiredis's own object functions are replaced). */
void redis_guard_install(redisAsyncContext *ac, struct redis_guard *g);

#endif
