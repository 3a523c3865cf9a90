/*
 * chatd.v1 (docs/PROTOCOL.md): JSON frames with names the server vouches for, presence
 * and history, for clients that ask for the subprotocol "chatd.v1". Its raw face, the
 * default handler for clients that ask for none, is src/handler_v1_raw.c; with --redis
 * the rooms' messages and history live in Redis (src/handler_v1_log.c).
 *
 * Written against chatd.h alone (and the pure JSON codec). chatd's rooms deliver; the
 * handler keeps its own view of the rooms that have v1 clients (src/handler_v1_room.c),
 * keyed by name: who is in each (with their names) and its history, freed with the
 * room's last v1 client. Each client is tagged with its kind, so one broadcast reaches
 * only the clients of one encoding.
 */
#include "handler_v1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler_v1_log.h"
#include "handler_v1_out.h"
#include "handler_v1_roster.h"
#include "percent.h"

#define V1_PROTOCOL   "chatd.v1"
#define V1_FRAME_MAX  16384 /* a client frame longer than this is not parsed */
#define V1_ERRORS_MAX 10    /* errors in a row before the connection is closed (1008) */

/* --- the room's frames --- */

long v1_broadcast_v1(struct v1_room *r, const struct chatd_conn *except)
{
	if (v1_out.vo_failed || r->vr_v1 == 0)
		return 0;
	return chatd_broadcast_tag(r->vr_server, r->vr_name, except, V1_TAG_V1, CHATD_TEXT,
				   v1_out.vo_buf, v1_out.vo_len);
}

void v1_write_presence(const char *type, const struct v1_person *p)
{
	v1_out_start();
	v1_out_text("{\"type\":\"");
	v1_out_text(type);
	v1_out_text("\",\"id\":");
	v1_out_number(p->vp_id);
	v1_out_text(",\"name\":");
	v1_out_string(p->vp_name, strlen(p->vp_name));
	v1_out_text(",\"count\":");
	v1_out_number(v1_room_count(p->vp_room));
	v1_out_text("}");
}

void v1_send_error_frame(struct v1_person *p, const char *code, const char *message, bool counted)
{
	v1_out_start();
	v1_out_text("{\"type\":\"error\",\"code\":\"");
	v1_out_text(code);
	v1_out_text("\",\"message\":");
	v1_out_string(message, strlen(message));
	v1_out_text("}");
	v1_out_send(p->vp_conn);
	if (counted && ++p->vp_errors >= V1_ERRORS_MAX)
		chatd_close(p->vp_conn, 1008, "too many errors in a row");
}

static void send_error(struct v1_person *p, const char *code, const char *message)
{
	v1_send_error_frame(p, code, message, true);
}

/* --redis: the other nodes' people, after this node's (listed of them), up to the list's
 * bound: each is an object whose name holds no brace. */
static void others_list(const struct v1_person *p, size_t listed)
{
	size_t len = 0;

	for (; len < p->vp_others_len; len++)
		if (p->vp_others[len] == '{' && listed++ >= V1_ONLINE_MAX)
			break;
	while (len > 0 && p->vp_others[len - 1] == ',')
		len--;
	if (len == 0 || v1_out.vo_failed)
		return;
	if (v1_out.vo_buf[v1_out.vo_len - 1] != '[')
		v1_out_text(",");
	v1_out_bytes(p->vp_others, len);
}

/* The room's welcome to a v1 client: who it is, where, who is there, and how much
 * history follows. */
void v1_send_welcome(struct v1_person *p, const char *requested, size_t history)
{
	struct v1_room *r = p->vp_room;
	size_t listed = 0;

	v1_out_start();
	v1_out_text("{\"type\":\"welcome\",\"id\":");
	v1_out_number(p->vp_id);
	v1_out_text(",\"name\":");
	v1_out_string(p->vp_name, strlen(p->vp_name));
	if (strcmp(requested, p->vp_name) != 0) {
		v1_out_text(",\"requested\":");
		v1_out_string(requested, strlen(requested));
	}
	v1_out_text(",\"room\":");
	v1_out_string(r->vr_name, strlen(r->vr_name));
	v1_out_text(",\"online\":[");
	for (const struct v1_person *o = r->vr_people; o != NULL && listed < V1_ONLINE_MAX;
	     o = o->vp_next) {
		if (o->vp_joining && !o->vp_rostered)
			continue; /* --redis: not announced yet; its join comes */
		v1_out_text(listed++ ? ",{\"id\":" : "{\"id\":");
		v1_out_number(o->vp_id);
		v1_out_text(",\"name\":");
		v1_out_string(o->vp_name, strlen(o->vp_name));
		v1_out_text("}");
	}
	v1_raw_list(r, &listed);
	others_list(p, listed);
	v1_out_text("],\"count\":");
	v1_out_number(p->vp_rostered && p->vp_count > 0 ? p->vp_count : v1_room_count(r));
	v1_out_text(",\"history\":");
	v1_out_number(history);
	v1_out_text(",\"max_text\":");
	v1_out_number(V1_TEXT_MAX);
	v1_out_text("}");
	v1_out_send(p->vp_conn);
}

/* --- a v1 client's life --- */

void v1_person_live(struct v1_person *p)
{
	struct v1_room *r = p->vp_room;

	chatd_conn_set_tag(p->vp_conn, V1_TAG_V1);
	r->vr_v1++;
	if (p->vp_rostered)
		return; /* Redis told every node, this one too */
	v1_write_presence("join", p);
	v1_broadcast_v1(r, p->vp_conn);
}

/* Gives p its name and its place in the room's list, and announces it. A v1 client gets
 * its welcome and the history before the tag that lets live traffic reach it. */
static void person_name(struct v1_person *p, const char *requested)
{
	struct v1_room *r = p->vp_room;

	v1_name_pick(r, requested, p->vp_id, p->vp_name);
	p->vp_named = true;
	v1_room_link(r, p);
	if (chatd_log_shared(r->vr_server))
		return v1_log_join(p, requested); /* the history is in Redis */
	v1_send_welcome(p, requested, r->vr_hist_len);
	for (size_t i = 0; i < r->vr_hist_len && !p->vp_gone; i++) {
		const struct v1_entry *e = v1_history_at(r, i);
		v1_out_message(e->ve_id, e->ve_time, e->ve_data, e->ve_name_len,
			       e->ve_data + e->ve_name_len, e->ve_text_len, true);
		v1_out_send(p->vp_conn);
	}
	if (!p->vp_gone)
		v1_person_live(p);
}

/* on_close: p leaves the room's list, and the v1 clients hear of it. The room still
 * counts p as a member until p is freed. */
static void person_leave(struct v1_person *p)
{
	struct v1_room *r = p->vp_room;

	p->vp_gone = true;
	if (!p->vp_named)
		return;
	v1_room_unlink(r, p);
	if (chatd_conn_tag(p->vp_conn) == V1_TAG_V1)
		r->vr_v1--;
	p->vp_named = false;
	if (p->vp_joining) { /* its claim or read still holds it */
		v1_joiner_remove(r, p);
		v1_roster_leave(p); /* its claim is in: every node heard it join */
		return;
	}
	if (v1_roster_leave(p))
		return; /* Redis tells every node */
	v1_write_presence("leave", p);
	v1_broadcast_v1(r, NULL); /* p itself is closing: chatd sends it nothing more */
}

static void person_free(struct v1_person *p)
{
	v1_hold_clear(p);
	v1_roster_clear(p);
	if (p->vp_room->vr_named == 0 && p->vp_room->vr_raw == 0)
		v1_roster_expire(p->vp_room, true); /* nobody left here to keep it for */
	v1_room_release(p->vp_room);
	chatd_memory_release(sizeof *p);
	free(p);
}

void v1_person_hold(struct v1_person *p)
{
	p->vp_busy++;
}

void v1_person_release(struct v1_person *p)
{
	if (--p->vp_busy == 0 && p->vp_gone)
		person_free(p);
}

static struct v1_person *person_open(struct chatd_conn *c)
{
	struct v1_person *p = calloc(1, sizeof *p);
	struct v1_room *r;

	if (p == NULL || (r = v1_room_get(chatd_conn_server(c), chatd_conn_room(c))) == NULL) {
		free(p);
		chatd_close(c, 1011, "out of memory");
		return NULL;
	}
	chatd_memory_charge(sizeof *p);
	if (r->vr_members == 0 && (v1_raw_count(r), r->vr_raw > 0)) /* made just now */
		v1_roster_raw(r, 0, (long)r->vr_raw);
	p->vp_room = r;
	p->vp_conn = c;
	p->vp_id = v1_conn_id(c);
	v1_room_hold(r);
	chatd_conn_set_data(c, p);
	return p;
}

/* --- messages --- */

/* JSON to the v1 clients (the sender too: its copy carries the id and time the server
 * gave it), a line to the raw ones. raw is the raw client's own bytes, which raw clients
 * get unchanged. */
void v1_publish(struct v1_person *p, const char *text, size_t len, bool raw)
{
	struct v1_room *r = p->vp_room;
	struct chatd *s = r->vr_server;
	uint64_t id = 0, time = v1_now_ms();
	size_t name_len = strlen(p->vp_name);
	bool shared = chatd_log_shared(s);
	long sent = 0;

	if (shared) { /* every node's v1 clients get it from Redis, with its id */
		v1_log_append(p, time, text, len, raw);
		if (p->vp_gone)
			return;
	} else {
		id = ++r->vr_last_id;
		v1_history_add(r, id, time, p->vp_name, name_len, text, len);
	}
	if (r->vr_v1 > 0 && !shared) {
		v1_out_message(id, time, p->vp_name, name_len, text, len, false);
		sent = v1_broadcast_v1(r, NULL);
		if (p->vp_gone)
			return; /* cut off by its own copy: its on_close has run */
	}
	/* Raw clients' encoding goes out even with none of them here: with a backplane,
	 * other nodes' raw clients hear it (the hub skips the local walk when nobody here
	 * could get it). */
	if (sent >= 0 && raw) {
		sent = chatd_broadcast_tag(s, chatd_conn_room(p->vp_conn),
					   chatd_echo(s) ? NULL : p->vp_conn, V1_TAG_RAW,
					   CHATD_TEXT, text, len);
	} else if (sent >= 0) {
		v1_out_start();
		v1_out_bytes(p->vp_name, name_len);
		v1_out_bytes(": ", 2);
		v1_out_bytes(text, len);
		sent = v1_out.vo_failed
			       ? -1
			       : chatd_broadcast_tag(s, r->vr_name, NULL, V1_TAG_RAW, CHATD_TEXT,
						     v1_out.vo_buf, v1_out.vo_len);
	}
	if ((sent < 0 || v1_out.vo_failed) && !p->vp_gone)
		chatd_close(p->vp_conn, 1011, "out of memory");
}

uint64_t v1_conn_id(const struct chatd_conn *c)
{
	uint64_t tag = chatd_node_tag(chatd_conn_server(c));

	return tag == 0 ? chatd_conn_id(c) : tag << 32 | (chatd_conn_id(c) & 0xFFFFFFFFu);
}

long v1_query_param(const char *query, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);

	for (const char *s = query; s != NULL && *s != '\0';) {
		const char *end = strchr(s, '&');
		if (end == NULL)
			end = s + strlen(s);
		if ((size_t)(end - s) > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
			const char *v = s + klen + 1;
			size_t n;
			return percent_decode(v, (size_t)(end - v), true, out, cap, &n) ? (long)n
											: -2;
		}
		s = *end != '\0' ? end + 1 : end;
	}
	return -1;
}

bool v1_token_is(const char *buf, const struct json_token *t, const char *word)
{
	char tmp[16];
	size_t n = strlen(word);

	if (t->jt_kind != JSON_STRING || t->jt_count != n || t->jt_len > sizeof tmp)
		return false;
	json_string_decode(buf, t, tmp);
	return memcmp(tmp, word, n) == 0;
}

/* --- chatd.v1 clients' callbacks --- */

static void v1_open(struct chatd_conn *c, void *user)
{
	const char *query = chatd_conn_query(c);
	char want[3 * V1_NAME_MAX + 1];
	struct v1_person *p;
	long n;
	(void)user;

	/* Tagged first: a room made for it counts its raw clients, by their tag. */
	chatd_conn_set_tag(c, V1_TAG_PENDING);
	if ((p = person_open(c)) == NULL)
		return;
	v1_person_hold(p);
	n = query != NULL ? v1_query_param(query, "name", want, sizeof want) : -1;
	if (n > 0 && v1_name_valid(want, (size_t)n))
		person_name(p, want);
	else if (n > 0 || n == -2)
		send_error(p, "bad_name",
			   "a name is 1 to 24 of A-Z a-z 0-9 _ - . and does not begin with raw-: "
			   "send a hello");
	v1_person_release(p);
}

static void v1_close(struct chatd_conn *c, uint16_t code, void *user)
{
	struct v1_person *p = chatd_conn_data(c);
	(void)code;
	(void)user;

	if (p == NULL)
		return;
	person_leave(p);
	if (p->vp_busy == 0)
		person_free(p);
}

static void v1_hello(struct v1_person *p, const char *buf, const struct json_token *t, int name)
{
	char want[V1_NAME_MAX + 1];

	if (p->vp_named)
		return send_error(p, "already_named", "hello comes once, before anything else");
	if (name < 0 || t[name].jt_kind != JSON_STRING)
		return send_error(p, "bad_frame", "hello needs a string \"name\"");
	if (t[name].jt_count > V1_NAME_MAX || json_string_decode(buf, &t[name], want) == 0 ||
	    !v1_name_valid(want, t[name].jt_count))
		return send_error(p, "bad_name",
				  "a name is 1 to 24 of A-Z a-z 0-9 _ - . and does not begin "
				  "with raw-");
	want[t[name].jt_count] = '\0';
	p->vp_errors = 0;
	person_name(p, want);
}

static void v1_text(struct v1_person *p, const char *buf, const struct json_token *t, int text)
{
	char decoded[V1_TEXT_MAX];

	if (!p->vp_named)
		return send_error(p, "not_named", "send a hello with your name first");
	if (text < 0 || t[text].jt_kind != JSON_STRING)
		return send_error(p, "bad_frame", "a message needs a string \"text\"");
	if (t[text].jt_count > V1_TEXT_MAX)
		return send_error(p, "too_long", "a message's text is at most 4096 bytes");
	if (t[text].jt_count == 0)
		return send_error(p, "bad_frame", "a message's text is empty");
	json_string_decode(buf, &t[text], decoded);
	p->vp_errors = 0;
	v1_publish(p, decoded, t[text].jt_count, false);
}

static void v1_frame(struct v1_person *p, enum chatd_type type, const char *buf, size_t len)
{
	struct json_token t[V1_TOKENS];
	int n, kind;

	if (type != CHATD_TEXT)
		return send_error(p, "bad_frame", "chatd.v1 frames are JSON in text frames");
	if (len > V1_FRAME_MAX)
		return send_error(p, "too_long", "a frame is at most 16384 bytes");
	n = json_parse(buf, len, t, V1_TOKENS, V1_DEPTH);
	if (n < 0)
		return send_error(p, "bad_json",
				  n == JSON_ERR_DEPTH    ? "nested too deep"
				  : n == JSON_ERR_TOKENS ? "too many values"
				  : n == JSON_ERR_ESCAPE ? "a bad escape, or a lone surrogate"
				  : n == JSON_ERR_UTF8   ? "a string that is not UTF-8"
							 : "not JSON");
	kind = json_object_get(buf, t, 0, "type");
	if (kind < 0 || t[kind].jt_kind != JSON_STRING)
		return send_error(p, "bad_frame", "a frame is an object with a string \"type\"");
	if (v1_token_is(buf, &t[kind], "hello"))
		return v1_hello(p, buf, t, json_object_get(buf, t, 0, "name"));
	if (v1_token_is(buf, &t[kind], "message"))
		return v1_text(p, buf, t, json_object_get(buf, t, 0, "text"));
	send_error(p, "unknown_type", "the types are hello and message");
}

static void v1_message(struct chatd_conn *c, enum chatd_type type, const void *data, size_t len,
		       void *user)
{
	struct v1_person *p = chatd_conn_data(c);
	(void)user;

	if (p == NULL)
		return;
	v1_person_hold(p);
	v1_frame(p, type, data, len);
	v1_person_release(p);
}

const struct chatd_handler chatd_v1_handler = {
	.h_subprotocol = V1_PROTOCOL,
	.h_open = v1_open,
	.h_message = v1_message,
	.h_close = v1_close,
	.h_log = v1_log,
	.h_redis_up = v1_roster_restore,
};
