/*
 * libFuzzer harness for redis_guard (include/redis_guard.h), the reply builder that keeps
 * hiredis 0.14 from aborting chatd on what a broken or hostile Redis sends. Byte 0 sets
 * the connection's state as hiredis's dispatch sees it (bit 0: subscribed; bit 1: a
 * command awaits its reply); the rest is fed to a hiredis reader using the guard's
 * objects. Every reply the guard lets through is checked against the conditions that
 * hiredis's async.c asserts (redisProcessCallbacks, __redisGetSubscribeCallback), written
 * here from hiredis's behaviour: an accepted reply must never be one hiredis would abort
 * on. A refused one must leave the reader in its error state (hiredis then disconnects).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define FUZZ_NAME "fuzz_redis_guard"
#include "fuzz_common.h"
#include "redis_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What hiredis does with a reply that no callback waits for, reduced to "would it
 * assert". */
static bool hiredis_would_abort(const redisAsyncContext *ac, const redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR || ac->replies.head != NULL)
		return false;
	if (!(ac->c.flags & REDIS_SUBSCRIBED))
		return true;
	if (r->type != REDIS_REPLY_ARRAY)
		return false;
	if (r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return true;
	const char *kind = r->element[0]->str;
	int pvariant = tolower((unsigned char)kind[0]) == 'p';
	if (strcasecmp(kind + pvariant, "unsubscribe") == 0)
		return r->elements < 3 || r->element[2]->type != REDIS_REPLY_INTEGER;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static redisCallback waiting; /* only its address matters */
	redisAsyncContext ac;
	struct redis_guard guard = {0}; /* no cap of its own: the default 16 */
	redisReader *reader;
	void *reply;

	if (size < 1)
		return 0;
	memset(&ac, 0, sizeof ac);
	if (data[0] & 1)
		ac.c.flags |= REDIS_SUBSCRIBED;
	if (data[0] & 2)
		ac.replies.head = ac.replies.tail = &waiting;
	reader = redisReaderCreateWithFunctions(NULL);
	if (reader == NULL)
		fuzz_fail("no reader");
	ac.c.reader = reader;
	redis_guard_install(&ac, &guard);
	if (redisReaderFeed(reader, (const char *)data + 1, size - 1) != REDIS_OK)
		fuzz_fail("feed failed");
	for (;;) {
		reply = NULL;
		if (redisReaderGetReply(reader, &reply) != REDIS_OK)
			break; /* malformed, or refused by the guard: hiredis disconnects */
		if (reply == NULL)
			break; /* incomplete */
		if (hiredis_would_abort(&ac, reply))
			fuzz_fail("the guard let through a reply hiredis asserts on");
		freeReplyObject(reply);
	}
	redisReaderFree(reader);
	return 0;
}
