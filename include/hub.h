/*
 * hub: the broadcast hub, organised in rooms. A room is named by the request path
 * ("/" or "/lobby"); its members hear only each other. A room exists while it has members.
 *
 * The hub knows its members and, of bytes on the wire, only "one shared encoded frame":
 * publishing encodes a message once and hands the same sbuf to every member of the room
 * but the one excepted (the sender, usually).
 *
 * Messages can come from outside this process too (the Redis backplane between chatd
 * nodes): hub_publish_room takes a room name and no sender, and reaches every member. An
 * observer (hub_set_observer) hears rooms open and close and every local publication, so
 * a bridge can follow the hub without the hub knowing about it.
 */
#ifndef CHATD_HUB_H
#define CHATD_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* Longest room name, the leading slash included. */
#define HUB_ROOM_NAME_MAX 64

struct hub;
struct hub_room;
struct hub_member;

/* Called once per recipient. The frame is borrowed: take a reference to keep it. */
typedef void (*hub_deliver_fn)(struct hub_member *m, struct sbuf *frame);

/* Embedded in whatever receives messages (a connection); the hub owns hm_room and
 * hm_index. Every member of a hub is delivered to by the one function given to hub_new,
 * so a member costs two words, not three. */
struct hub_member {
	struct hub_room *hm_room; /* NULL while not joined */
	uint32_t hm_index;        /* position in the room's member array */
	/* The owner's label (0 until set), kept across rooms: hub_publish_tag reaches only
	 * the members that carry a given one. */
	uint8_t hm_tag;
};

struct hub_room_info {
	char ri_name[HUB_ROOM_NAME_MAX + 1];
	size_t ri_members;
};

/* What an observer hears. Every callback is optional (NULL) and borrows its arguments for
 * the call. Callbacks must not call back into the hub. ho_room_closed follows exactly one
 * ho_room_opened for the same name. */
struct hub_observer {
	/* A room was made (its first member is joining). */
	void (*ho_room_opened)(void *arg, const char *room, size_t len);
	/* A room was freed (its last member left). */
	void (*ho_room_closed)(void *arg, const char *room, size_t len);
	/* hub_publish delivered a message from this process (to the local members first;
	 * called even when the room has no members here). Not called for hub_publish_room:
	 * a message from outside is never sent back out. */
	void (*ho_published)(void *arg, const char *room, size_t len, uint8_t opcode,
			     const uint8_t *payload, size_t plen);
	void *ho_arg;
};

/* One deliver function for every member. NULL (errno) when memory runs out or the kernel
 * gives no random key for the room-name hash (getrandom(2)). */
struct hub *hub_new(hub_deliver_fn deliver);
/* Frees the hub and its rooms; members must have left. */
void hub_free(struct hub *h);

/* Joins the room of that name (made on first use). 0, or -1 when memory runs out. */
int hub_join(struct hub *h, struct hub_member *m, const char *room, size_t room_len);
/* Leaves the member's room; a room left empty is freed. No-op when not joined. */
void hub_leave(struct hub *h, struct hub_member *m);

/* Sets (or, with NULL, clears) the observer; the hub copies it. Set it before any member
 * joins: rooms already open are not announced. */
void hub_set_observer(struct hub *h, const struct hub_observer *obs);

size_t hub_member_count(const struct hub *h);
size_t hub_room_count(const struct hub *h);

/* The name of the member's room ("/" or "/name", NUL-terminated, owned by the hub and
 * valid while the member stays in it), or NULL while not joined. */
const char *hub_member_room(const struct hub_member *m);

/* Delivers one complete message (WS_OP_TEXT or WS_OP_BINARY) from this process to every
 * member of the named room but except (NULL: all), then tells the observer. The payload
 * is copied once into the shared frame; the caller keeps ownership. Returns the number of
 * recipients (0 when the room has no members), or -1 when memory runs out (nobody got
 * it). */
long hub_publish(struct hub *h, const char *room, size_t room_len, const struct hub_member *except,
		 uint8_t opcode, const uint8_t *payload, size_t len);

/* The same, for the members of the room that carry tag alone. The observer hears only
 * what is published to tag 0 (the encoding untagged members share on every node). */
long hub_publish_tag(struct hub *h, const char *room, size_t room_len,
		     const struct hub_member *except, uint8_t tag, uint8_t opcode,
		     const uint8_t *payload, size_t len);

/* The same for a message from outside this process: every member of the named room with
 * tag 0 (a tagged member's handler encodes for it). Returns 0 when the room has no members
 * here. */
long hub_publish_room(struct hub *h, const char *room, size_t room_len, uint8_t opcode,
		      const uint8_t *payload, size_t len);

/* The members of the named room here; 0 when it has none. A hash lookup, no walk. */
size_t hub_room_members(const struct hub *h, const char *room, size_t room_len);

/* Called once per member by hub_room_each; returning false ends the walk. */
typedef bool (*hub_visit_fn)(struct hub_member *m, void *arg);

/* Calls visit for each member of the named room here, until it returns false, without
 * allocating. visit may publish and members may leave meanwhile (they are skipped from
 * then on); members who join are not visited. Returns how many were visited. */
size_t hub_room_each(struct hub *h, const char *room, size_t room_len, hub_visit_fn visit,
		     void *arg);

/* Fills out with up to max rooms, the most populated first. Returns how many. */
size_t hub_top_rooms(const struct hub *h, struct hub_room_info *out, size_t max);

#endif
