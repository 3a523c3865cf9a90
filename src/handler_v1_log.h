/*
 * handler_v1_log.h: with --redis, chatd.v1's rooms live in the log every node shares
 * (chatd_log_* in chatd.h): messages get their ids there, and joiners their history.
 * Private to src/handler_v1*.c.
 */
#ifndef CHATD_HANDLER_V1_LOG_H
#define CHATD_HANDLER_V1_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chatd.h"
#include "handler_v1_room.h"

/* h_log: an entry of a room's log, from any node (this one too), in id order. */
void v1_log(struct chatd *s, const char *room, uint64_t id, const void *entry, size_t len,
	    void *user);
/* p, named, joins: its name claimed in the cluster (handler_v1_roster.h), then its
 * history read from Redis; welcomed once it is in. */
void v1_log_join(struct v1_person *p, const char *requested);
/* Reads p's history, a joiner: welcomed once it is in. Takes over p's hold. */
void v1_log_read(struct v1_person *p);
/* A message of p's into the room's log; a v1 sender hears of a failure. */
void v1_log_append(struct v1_person *p, uint64_t time, const char *text, size_t len, bool raw);

#endif
