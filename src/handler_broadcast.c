/*
 * The raw broadcast chat: every message goes to everyone else in the sender's room, as
 * in the tutorial this project descends from. chatd's default handler, written against
 * the public header alone, like any program's (the layering check in the Makefile holds
 * it to that).
 */
#include "chatd.h"

static void broadcast_message(struct chatd_conn *c, enum chatd_type type, const void *data,
			      size_t len, void *user)
{
	struct chatd *s = chatd_conn_server(c);
	(void)user;

	/* The room pointer is the connection's own: the hub finds the room without a lookup.
	 * Tag 0 is every client no handler has labelled: the raw audience, which is everyone
	 * unless another handler (chatd.v1) serves some of the room in its own encoding. A
	 * message that cannot be queued for lack of memory ends the sender alone. */
	if (chatd_broadcast_tag(s, chatd_conn_room(c), chatd_echo(s) ? NULL : c, 0, type, data,
				len) < 0)
		chatd_close(c, 1011, "out of memory");
}

const struct chatd_handler chatd_broadcast_handler = {
	.h_subprotocol = NULL,
	.h_message = broadcast_message,
};
