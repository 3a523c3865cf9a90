/*
 * What hiredis 0.14's async.c asserts (redisProcessCallbacks, __redisGetSubscribeCallback):
 *  - a reply with no pending callback comes only on a subscribed connection, or is an
 *    error;
 *  - on a subscribed connection such a reply, when it is an array, has at least two
 *    elements, both strings, and an "unsubscribe" one has an integer third.
 * The checks run as each object is made, so a refused reply is never completed.
 */
#include "redis_guard.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Whether hiredis takes this kind for an unsubscribe push. It compares C strings
 * (strcasecmp, after skipping a leading 'p'), so a kind with a NUL inside counts by what
 * precedes the NUL: "unsubscribe\0x" is an unsubscribe to hiredis, and so to us. */
static bool is_unsubscribe(const char *s, size_t len)
{
	size_t n = strnlen(s, len);

	if (n > 0 && (s[0] == 'p' || s[0] == 'P')) {
		s++;
		n--;
	}
	return n == 11 && strncasecmp(s, "unsubscribe", 11) == 0;
}

/* A reply that hiredis will hand to its pub/sub dispatch rather than to a callback. */
static bool unsolicited(const redisAsyncContext *ac)
{
	return ac->replies.head == NULL;
}

/* elements: for an array being made, its size (task->elements is set only afterwards). */
/* Elements a reply may have: chatd's largest is a pub/sub pmessage, 4. */
#define REDIS_GUARD_MAX_ELEMENTS 16

static const char *check(const redisReadTask *task, int type, const char *str, size_t len,
			 int elements)
{
	const struct redis_guard *g = task->privdata;
	const redisAsyncContext *ac = g->rg_context;

	/* Nothing chatd asks for has more than 4 elements (a pmessage); hiredis would
	 * allocate what the header announces before a byte of it arrives, so a reply of
	 * "*355555555" cost 2.8 GB (found by fuzz_redis_guard). */
	size_t max = g->rg_max_elements != 0 ? g->rg_max_elements : REDIS_GUARD_MAX_ELEMENTS;
	if (type == REDIS_REPLY_ARRAY && elements > 0 && (size_t)elements > max)
		return "an array larger than any reply chatd asks for";
	if (task->parent == NULL) {
		if (type == REDIS_REPLY_ERROR || !unsolicited(ac))
			return NULL;
		if (!(ac->c.flags & REDIS_SUBSCRIBED))
			return "a reply to no command";
		if (type == REDIS_REPLY_ARRAY && elements < 2)
			return "a pub/sub push with fewer than 2 elements";
		return NULL;
	}
	/* Only the elements of a top-level push matter to hiredis. */
	if (task->parent->parent != NULL || !unsolicited(ac) || !(ac->c.flags & REDIS_SUBSCRIBED))
		return NULL;
	if (task->idx <= 1 && type != REDIS_REPLY_STRING)
		return "a pub/sub push whose kind or channel is not a string";
	if (task->idx == 0) {
		if (is_unsubscribe(str, len) && task->parent->elements < 3)
			return "an unsubscribe push without a count";
	}
	if (task->idx == 2 && type != REDIS_REPLY_INTEGER) {
		const redisReply *array = task->parent->obj;
		const redisReply *kind = array->element[0];
		if (kind != NULL && kind->type == REDIS_REPLY_STRING &&
		    is_unsubscribe(kind->str, kind->len))
			return "an unsubscribe push whose count is not an integer";
	}
	return NULL;
}

/* Links obj into its parent array, as hiredis's own object functions do. */
static void *attach(const redisReadTask *task, redisReply *r)
{
	if (task->parent != NULL) {
		redisReply *parent = task->parent->obj;
		parent->element[task->idx] = r;
	}
	return r;
}

static redisReply *refuse_or_new(const redisReadTask *task, int type, const char *str, size_t len,
				 int elements)
{
	struct redis_guard *g = task->privdata;
	const char *why = check(task, type, str, len, elements);

	if (why != NULL) {
		g->rg_reason = why;
		return NULL;
	}
	redisReply *r = calloc(1, sizeof *r);
	if (r != NULL)
		r->type = type;
	return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
	redisReply *r = refuse_or_new(task, task->type, str, len, 0);

	if (r == NULL)
		return NULL;
	r->str = malloc(len + 1);
	if (r->str == NULL) {
		free(r);
		return NULL;
	}
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return attach(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
	redisReply *r = refuse_or_new(task, REDIS_REPLY_ARRAY, NULL, 0, elements);

	if (r == NULL)
		return NULL;
	if (elements > 0) {
		r->element = calloc((size_t)elements, sizeof(redisReply *));
		if (r->element == NULL) {
			free(r);
			return NULL;
		}
	}
	r->elements = (size_t)elements;
	return attach(task, r);
}

static void *create_integer(const redisReadTask *task, long long value)
{
	redisReply *r = refuse_or_new(task, REDIS_REPLY_INTEGER, NULL, 0, 0);

	if (r == NULL)
		return NULL;
	r->integer = value;
	return attach(task, r);
}

static void *create_nil(const redisReadTask *task)
{
	redisReply *r = refuse_or_new(task, REDIS_REPLY_NIL, NULL, 0, 0);

	if (r == NULL)
		return NULL;
	return attach(task, r);
}

static redisReplyObjectFunctions guard_functions = {
	.createString = create_string,
	.createArray = create_array,
	.createInteger = create_integer,
	.createNil = create_nil,
	.freeObject = freeReplyObject,
};

void redis_guard_install(redisAsyncContext *ac, struct redis_guard *g)
{
	g->rg_context = ac;
	g->rg_reason = NULL;
	ac->c.reader->fn = &guard_functions;
	ac->c.reader->privdata = g;
}
