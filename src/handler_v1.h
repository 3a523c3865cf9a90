/*
 * handler_v1.h: what the parts of the chatd.v1 handler share: a v1 client's life and the
 * room's frames (handler_v1.c), which the raw face (handler_v1_raw.c) and, with --redis,
 * the shared log (handler_v1_log.c) use too. Private to src/handler_v1*.c.
 */
#ifndef CHATD_HANDLER_V1_H
#define CHATD_HANDLER_V1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chatd.h"
#include "handler_v1_room.h"
#include "json.h"

#define V1_TEXT_MAX 4096 /* a message's text, bytes of UTF-8 */
/* A frame of ours is an object of a few strings: 32 values and 8 levels are plenty, and
 * bound the parser's work on anything else. */
#define V1_TOKENS     32
#define V1_DEPTH      8
#define V1_ONLINE_MAX 1000 /* people a welcome lists; its count is exact */

/* The tags that choose who a broadcast reaches. Raw is 0, chatd's default for every
 * connection; a v1 client is pending, reached by nothing, until it has a name. */
enum { V1_TAG_RAW = 0, V1_TAG_V1 = 1, V1_TAG_PENDING = 2 };

/* The frame being written (handler_v1_out.h), as an event for the room's v1 clients but
 * except. Returns chatd_broadcast_tag's count, 0 when there is nothing to send. */
long v1_broadcast_v1(struct v1_room *r, const struct chatd_conn *except);
/* Writes a join or leave of p (type) with the room's count. */
void v1_write_presence(const char *type, const struct v1_person *p);
/* Sends p its welcome, saying that history messages follow. */
void v1_send_welcome(struct v1_person *p, const char *requested, size_t history);
/* An error frame; counted: the client's own error (too many in a row close it). */
void v1_send_error_frame(struct v1_person *p, const char *code, const char *message, bool counted);
/* p, welcomed and given its history, hears live traffic from now on, and the room hears
 * it joined. */
void v1_person_live(struct v1_person *p);
/* Every callback holds its person, so that an on_close running inside it (a send that
 * cuts the client off, a close of ours) leaves it valid until the callback is done. */
void v1_person_hold(struct v1_person *p);
void v1_person_release(struct v1_person *p);

/* A message from p, to everyone in its room. raw: text is a raw client's own bytes. */
void v1_publish(struct v1_person *p, const char *text, size_t len, bool raw);

/* A client's id in chatd.v1's frames: its connection's, made unique across nodes with
 * --redis (the node's tag in the high bits, below 2^53 for JavaScript). */
uint64_t v1_conn_id(const struct chatd_conn *c);

/* The value of key in a query string ("a=1&b=2"), percent-decoded into out (cap bytes
 * with the NUL). Returns its length, -1 when absent, or -2 when too long or badly
 * encoded. */
long v1_query_param(const char *query, const char *key, char *out, size_t cap);
/* True when the string token decodes to word (short: the frame's type). */
bool v1_token_is(const char *buf, const struct json_token *t, const char *word);

/* The raw face (handler_v1_raw.c). The raw clients already in a room whose v1 state is
 * being made (a raw client's on_open and on_close keep vr_raw from then on). */
void v1_raw_count(struct v1_room *r);
/* The raw clients of a welcome's online list, after the v1 ones (*listed of them). */
void v1_raw_list(const struct v1_room *r, size_t *listed);

#endif
