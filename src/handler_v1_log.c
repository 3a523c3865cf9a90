/*
 * chatd.v1 with --redis: the rooms' log in Redis (src/handler_v1_log.h, chatd_log_*).
 *
 * Every node's v1 clients get a room's messages from Redis, which gives each its id; the
 * log there is the history a joining client gets. A joining client is held (tag pending)
 * while its history is read; what arrives meanwhile waits in its vp_held, and once the
 * history is in, what is newer than it follows, then the client hears live traffic.
 */
#include "handler_v1_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler_v1.h"
#include "handler_v1_out.h"
#include "handler_v1_roster.h"
#include "json.h"

/* A message frame as the log keeps it: checked, since it came through Redis. Fills t
 * (V1_TOKENS) and returns the indexes of its time, name and text in *time, *name, *text. */
static bool log_entry_parse(const char *e, size_t len, struct json_token *t, int *time, int *name,
			    int *text)
{
	int type;

	if (len < 2 || e[len - 1] != '}' || json_parse(e, len, t, V1_TOKENS, V1_DEPTH) < 1 ||
	    t[0].jt_kind != JSON_OBJECT)
		return false;
	type = json_object_get(e, t, 0, "type");
	*time = json_object_get(e, t, 0, "time");
	*name = json_object_get(e, t, 0, "name");
	*text = json_object_get(e, t, 0, "text");
	return type >= 0 && v1_token_is(e, &t[type], "message") && *time >= 0 &&
	       t[*time].jt_kind == JSON_NUMBER && *name >= 0 && t[*name].jt_kind == JSON_STRING &&
	       t[*name].jt_count <= V1_NAME_MAX && *text >= 0 && t[*text].jt_kind == JSON_STRING;
}

/* Keeps an entry of the log in the room's own history too, which raw clients' ?history
 * reads: what was said since the room opened on this node. */
static void log_keep(struct v1_room *r, uint64_t id, const char *e, const struct json_token *t,
		     int time, int name, int text)
{
	char who[V1_NAME_MAX];
	uint64_t ms = 0;
	char *what;

	if (chatd_history_messages(r->vr_server) == 0 ||
	    (what = malloc(t[text].jt_count + 1)) == NULL)
		return;
	for (uint32_t i = 0; i < t[time].jt_len && ms < UINT64_MAX / 10; i++)
		if (e[t[time].jt_start + i] >= '0' && e[t[time].jt_start + i] <= '9')
			ms = ms * 10 + (uint64_t)(e[t[time].jt_start + i] - '0');
	json_string_decode(e, &t[name], who);
	json_string_decode(e, &t[text], what);
	v1_history_add(r, id, ms, who, t[name].jt_count, what, t[text].jt_count);
	free(what);
}

void v1_log(struct chatd *s, const char *room, uint64_t id, const void *entry, size_t len,
	    void *user)
{
	struct v1_room *r = v1_room_find(s, room);
	struct json_token t[V1_TOKENS];
	int time, name, text;
	(void)user;

	if (id == 0) /* not a message: presence (handler_v1_roster.h) */
		return v1_roster_event(s, room, r, entry, len);
	if (r == NULL || !log_entry_parse(entry, len, t, &time, &name, &text))
		return;
	if (id > r->vr_last_id)
		r->vr_last_id = id;
	log_keep(r, id, entry, t, time, name, text);
	if (r->vr_v1 > 0)
		chatd_broadcast_tag(s, room, NULL, V1_TAG_V1, CHATD_TEXT, entry, len);
	for (struct v1_person *p = r->vr_joiners; p != NULL; p = p->vp_next_joiner)
		v1_hold(p, id, entry, len);
}

/* A message of the history, marked as such: its last '}' becomes ,"history":true}. */
static void send_history(struct v1_person *p, const char *e, size_t len)
{
	v1_out_start();
	v1_out_bytes(e, len - 1);
	v1_out_text(",\"history\":true}");
	v1_out_send(p->vp_conn);
}

/* The history is in (or Redis failed: none): the welcome, the history, what was held
 * that is newer, then live traffic. */
static void log_joined(void *arg, const struct chatd_log_entry *entries, size_t count, bool ok)
{
	struct v1_person *p = arg;
	struct v1_room *r = p->vp_room;
	struct json_token t[V1_TOKENS];
	int time, name, text;
	uint64_t last = 0;
	size_t valid = 0;
	(void)ok; /* without its history, a client still chats */

	v1_joiner_remove(r, p);              /* unless it left meanwhile (person_leave did) */
	if (!p->vp_gone && p->vp_overflow) { /* never announced; its on_close follows */
		v1_room_unlink(r, p);
		p->vp_named = false;
		v1_roster_leave(p); /* the other nodes heard its claim */
		chatd_close(p->vp_conn, 1013, "too much traffic while joining: try again");
		v1_hold_clear(p);
		v1_person_release(p);
		return;
	}
	for (size_t i = 0; i < count; i++)
		valid += log_entry_parse(entries[i].le_data, entries[i].le_len, t, &time, &name,
					 &text);
	if (!p->vp_gone)
		v1_send_welcome(p, p->vp_requested, valid);
	v1_roster_clear(p); /* the welcome had the other nodes' people */
	for (size_t i = 0; i < count && !p->vp_gone; i++) {
		const struct chatd_log_entry *e = &entries[i];
		if (!log_entry_parse(e->le_data, e->le_len, t, &time, &name, &text))
			continue;
		send_history(p, e->le_data, e->le_len);
		last = e->le_id;
		if (last > r->vr_last_id)
			r->vr_last_id = last;
	}
	/* Presence held is marked with the largest id: it always follows. */
	for (const struct v1_held *h = p->vp_held; h != NULL && !p->vp_gone; h = h->vh_next)
		if (h->vh_id > last)
			chatd_send(p->vp_conn, CHATD_TEXT, h->vh_data, h->vh_len);
	v1_hold_clear(p);
	if (!p->vp_gone)
		v1_person_live(p);
	v1_person_release(p);
}

void v1_log_join(struct v1_person *p, const char *requested)
{
	struct v1_room *r = p->vp_room;

	snprintf(p->vp_requested, sizeof p->vp_requested, "%s", requested);
	v1_joiner_add(r, p);
	v1_person_hold(p);
	v1_roster_join(p);
}

void v1_log_read(struct v1_person *p)
{
	struct chatd *s = p->vp_room->vr_server;

	if (chatd_log_read(s, p->vp_room->vr_name, chatd_history_messages(s), log_joined, p) < 0)
		log_joined(p, NULL, 0, false);
}

/* v1 clients hear of a failure (nothing was sent); raw ones, who cannot be told, only
 * miss the v1 clients. */
void v1_log_append(struct v1_person *p, uint64_t time, const char *text, size_t len, bool raw)
{
	struct v1_room *r = p->vp_room;
	size_t head;

	v1_out_start();
	v1_out_text(V1_MESSAGE_HEAD);
	head = v1_out.vo_len;
	v1_out_message_tail(time, p->vp_name, strlen(p->vp_name), text, len, false);
	if (v1_out.vo_failed) {
		chatd_close(p->vp_conn, 1011, "out of memory");
		return;
	}
	if (chatd_log_append(r->vr_server, r->vr_name, r->vr_last_id, v1_out.vo_buf, head,
			     v1_out.vo_buf + head, v1_out.vo_len - head) == 0 ||
	    raw)
		return;
	v1_send_error_frame(p, "unavailable",
			    "the server cannot reach Redis, where this room is kept: the message "
			    "was not sent; try again in a moment",
			    false);
}
