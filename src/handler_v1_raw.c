/*
 * chatd.v1's raw face: the default handler, for clients that ask for no subprotocol.
 *
 * A raw client keeps nothing here: no person, its name (raw-<id>) made when needed. In a
 * room with no v1 client it has the plain raw broadcast, nothing more; in one with v1
 * clients its lines become v1 messages (ids, history) and its coming and going presence.
 * It never changes rooms (chatd_join), which keeps vr_raw right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd.h"
#include "handler_v1.h"
#include "handler_v1_out.h"
#include "handler_v1_room.h"
#include "handler_v1_roster.h"

static bool count_raw(struct chatd_conn *c, void *arg)
{
	if (chatd_conn_tag(c) == V1_TAG_RAW)
		(*(size_t *)arg)++;
	return true;
}

/* Once per room, not per message. */
void v1_raw_count(struct v1_room *r)
{
	r->vr_raw = 0;
	chatd_room_each(r->vr_server, r->vr_name, count_raw, &r->vr_raw);
}

struct raw_listing {
	size_t rl_listed; /* entries in the welcome's online list so far */
	size_t rl_raw;    /* raw clients seen */
	size_t rl_total;  /* the room's raw clients: the walk stops at the last */
};

static bool list_raw(struct chatd_conn *c, void *arg)
{
	struct raw_listing *l = arg;
	uint64_t id = v1_conn_id(c);

	if (chatd_conn_tag(c) != V1_TAG_RAW)
		return true;
	v1_out_text(l->rl_listed++ ? ",{\"id\":" : "{\"id\":");
	v1_out_number(id);
	v1_out_text(",\"name\":\"raw-");
	v1_out_number(id);
	v1_out_text("\",\"raw\":true}");
	return ++l->rl_raw < l->rl_total && l->rl_listed < V1_ONLINE_MAX;
}

void v1_raw_list(const struct v1_room *r, size_t *listed)
{
	struct raw_listing l = {*listed, 0, r->vr_raw};

	if (l.rl_total > 0 && l.rl_listed < V1_ONLINE_MAX)
		chatd_room_each(r->vr_server, r->vr_name, list_raw, &l);
	*listed = l.rl_listed;
}

/* A raw client as publish and presence see one: a person on the caller's stack. */
static void raw_person(struct v1_person *p, struct v1_room *r, struct chatd_conn *c)
{
	memset(p, 0, sizeof *p);
	p->vp_room = r;
	p->vp_conn = c;
	p->vp_id = v1_conn_id(c);
	p->vp_named = true;
	snprintf(p->vp_name, sizeof p->vp_name, "raw-%llu", (unsigned long long)p->vp_id);
}

static void raw_presence(struct v1_room *r, struct chatd_conn *c, const char *type)
{
	struct v1_person p;

	raw_person(&p, r, c);
	v1_write_presence(type, &p);
	v1_broadcast_v1(r, NULL);
}

/* The last n messages of r's history as "name: text" lines, until c is cut off. */
static void raw_history(struct v1_room *r, struct chatd_conn *c, unsigned long n)
{
	for (size_t i = n < r->vr_hist_len ? r->vr_hist_len - n : 0; i < r->vr_hist_len; i++) {
		const struct v1_entry *e = v1_history_at(r, i);
		v1_out_start();
		v1_out_bytes(e->ve_data, e->ve_name_len);
		v1_out_bytes(": ", 2);
		v1_out_bytes(e->ve_data + e->ve_name_len, e->ve_text_len);
		if (v1_out.vo_failed || chatd_send(c, CHATD_TEXT, v1_out.vo_buf, v1_out.vo_len) < 0)
			return;
	}
}

static void raw_open(struct chatd_conn *c, void *user)
{
	struct v1_room *r = v1_room_find(chatd_conn_server(c), chatd_conn_room(c));
	const char *query = chatd_conn_query(c);
	char want[16];
	(void)user;

	if (r == NULL)
		return; /* no v1 client here: nobody to tell, no history to give */
	v1_room_hold(r);
	r->vr_raw++;
	if (!v1_roster_raw(r, v1_conn_id(c), 1))
		raw_presence(r, c, "join");
	/* History only when asked for: a script reading lines must not be surprised. */
	if (query != NULL && v1_query_param(query, "history", want, sizeof want) > 0)
		raw_history(r, c, strtoul(want, NULL, 10));
	v1_room_release(r);
}

/* Text in a room with v1 clients is a message of the room's; anything else (binary,
 * which v1 has no frame for, or any message in a raw-only room) is the plain broadcast,
 * no JSON and no copy. */
static void raw_message(struct chatd_conn *c, enum chatd_type type, const void *data, size_t len,
			void *user)
{
	struct v1_room *r;
	struct v1_person p;

	if (type != CHATD_TEXT ||
	    (r = v1_room_find(chatd_conn_server(c), chatd_conn_room(c))) == NULL ||
	    (r = v1_roster_expire(r, false)) == NULL)
		return chatd_broadcast_handler.h_message(c, type, data, len, user);
	raw_person(&p, r, c);
	v1_room_hold(r);
	v1_publish(&p, data, len, true);
	v1_room_release(r);
}

static void raw_close(struct chatd_conn *c, uint16_t code, void *user)
{
	struct v1_room *r = v1_room_find(chatd_conn_server(c), chatd_conn_room(c));
	(void)code;
	(void)user;

	if (r == NULL)
		return;
	v1_room_hold(r);
	r->vr_raw--;
	if (!v1_roster_raw(r, v1_conn_id(c), -1))
		raw_presence(r, c, "leave");
	if (r->vr_raw == 0 && r->vr_named == 0) /* nobody here to keep it for */
		v1_roster_expire(r, true);
	v1_room_release(r);
}

const struct chatd_handler chatd_v1_raw_handler = {
	.h_subprotocol = NULL,
	.h_open = raw_open,
	.h_message = raw_message,
	.h_close = raw_close,
};
