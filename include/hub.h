/*
 * hub: the broadcast hub. It knows its members and, of bytes on the wire, only "one shared
 * encoded frame". hub_publish encodes a message once and hands the same sbuf to every
 * member but the sender (and to the sender too in echo mode).
 *
 * A message's source is a member or NULL: NULL is a message from outside this process
 * (a future Redis bridge between chatd nodes), delivered to every member.
 */
#ifndef CHATD_HUB_H
#define CHATD_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

struct hub;
struct hub_member;

/* Called once per recipient. The frame is borrowed: take a reference to keep it. */
typedef void (*hub_deliver_fn)(struct hub_member *m, struct sbuf *frame);

/* Embedded in whatever receives messages (a connection). */
struct hub_member {
	hub_deliver_fn hm_deliver;
	size_t hm_index; /* position in the hub's member array; owned by the hub */
	bool hm_joined;
};

struct hub *hub_new(bool echo);
void hub_free(struct hub *h);

/* 0, or -1 when memory runs out. */
int hub_join(struct hub *h, struct hub_member *m);
void hub_leave(struct hub *h, struct hub_member *m);
size_t hub_count(const struct hub *h);

/* Delivers one complete message (opcode WS_OP_TEXT or WS_OP_BINARY) to every member but
 * from. The payload is copied once into the encoded frame; the caller keeps ownership.
 * Returns -1 when memory runs out (nobody got it), else the number of recipients. */
long hub_publish(struct hub *h, const struct hub_member *from, uint8_t opcode,
                 const uint8_t *payload, size_t len);

/* Calls fn on every member (shutdown uses it to say goodbye). fn may leave the hub. */
void hub_each(struct hub *h, void (*fn)(struct hub_member *m, void *arg), void *arg);

#endif
