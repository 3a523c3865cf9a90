/*
 * chatd.v1 (docs/PROTOCOL.md): JSON frames with names the server vouches for, presence
 * and history, for clients that ask for the subprotocol "chatd.v1"; and its raw face, the
 * default handler for clients that ask for none, which chats exactly as the raw broadcast
 * does while the v1 clients of the same room see its messages and presence, and v1
 * messages reach it as "name: text" lines.
 *
 * Written against chatd.h alone (and the pure JSON codec). chatd's rooms deliver; this
 * file keeps its own view of the rooms that have v1 clients, keyed by name: who is in
 * each (with their names) and its history, freed with the room's last v1 client. Raw
 * clients keep nothing here. Each client is tagged with its kind, so one broadcast
 * reaches only the clients of one encoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chatd.h"
#include "handler_v1_room.h"
#include "json.h"
#include "percent.h"

#define V1_PROTOCOL  "chatd.v1"
#define V1_TEXT_MAX  4096  /* a message's text, bytes of UTF-8 */
#define V1_FRAME_MAX 16384 /* a client frame longer than this is not parsed */
/* A frame of ours is an object of a few strings: 32 values and 8 levels are plenty, and
 * bound the parser's work on anything else. */
#define V1_TOKENS     32
#define V1_DEPTH      8
#define V1_ERRORS_MAX 10   /* errors in a row before the connection is closed (1008) */
#define V1_ONLINE_MAX 1000 /* people a welcome lists; its count is exact */

/* The tags that choose who a broadcast reaches. Raw is 0, chatd's default for every
 * connection; a v1 client is pending, reached by nothing, until it has a name. */
enum { V1_TAG_RAW = 0, V1_TAG_V1 = 1, V1_TAG_PENDING = 2 };

/* The frame being written: one buffer reused by every frame (owned, charged). */
static char *out_buf;
static size_t out_len, out_cap;
static bool out_failed;

/* --- the frame writer --- */

static bool out_reserve(size_t n)
{
	if (out_failed)
		return false;
	if (out_buf != NULL && out_cap - out_len >= n)
		return true;
	size_t cap = out_cap ? out_cap : 1024;
	while (cap - out_len < n)
		cap *= 2;
	char *p = realloc(out_buf, cap);
	if (p == NULL) {
		out_failed = true;
		return false;
	}
	if (out_cap != 0)
		chatd_memory_release(out_cap);
	chatd_memory_charge(cap);
	out_buf = p;
	out_cap = cap;
	return true;
}

/* A buffer grown past this for one large frame (a raw client's long message, a crowded
 * room's welcome) is freed rather than kept. */
#define V1_OUT_KEEP ((size_t)64 << 10)

static void out_start(void)
{
	out_len = 0;
	out_failed = false;
	if (out_cap > V1_OUT_KEEP) {
		free(out_buf);
		chatd_memory_release(out_cap);
		out_buf = NULL;
		out_cap = 0;
	}
}

static void out_bytes(const char *s, size_t n)
{
	if (n > 0 && out_reserve(n)) {
		memcpy(out_buf + out_len, s, n);
		out_len += n;
	}
}

static void out_text(const char *s)
{
	out_bytes(s, strlen(s));
}

static void out_number(uint64_t v)
{
	char tmp[24];
	size_t n = sizeof tmp;

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_bytes(tmp + n, sizeof tmp - n);
}

static void out_string(const char *s, size_t n)
{
	size_t size = json_string_size(s, n);

	if (out_reserve(size))
		out_len += json_write_string(out_buf + out_len, out_cap - out_len, s, n);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_out(struct chatd_conn *c)
{
	if (!out_failed)
		chatd_send(c, CHATD_TEXT, out_buf, out_len);
}

/* --- who is in a room: v1 clients have a person each, raw clients nothing --- */

/* The room's count, exact: its named v1 clients and its raw ones. */
static size_t room_count(const struct v1_room *r)
{
	return r->vr_named - r->vr_joining + r->vr_raw; /* joiners: not announced yet */
}

/* A callback of a raw client's, which has no person to keep the room alive, holds it:
 * what it sends can cut off v1 clients, and the last of them would free the room. */
static void room_hold(struct v1_room *r)
{
	r->vr_members++;
}

static void room_release(struct v1_room *r)
{
	if (--r->vr_members == 0)
		v1_room_free(r);
}

static bool count_raw(struct chatd_conn *c, void *arg)
{
	if (chatd_conn_tag(c) == V1_TAG_RAW)
		(*(size_t *)arg)++;
	return true;
}

/* The raw clients already in a room whose v1 state is being made (a raw client's
 * on_open and on_close keep the count from then on). Once per room, not per message. */
static void raw_count(struct v1_room *r)
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
	uint64_t id = chatd_conn_id(c);

	if (chatd_conn_tag(c) != V1_TAG_RAW)
		return true;
	out_text(l->rl_listed++ ? ",{\"id\":" : "{\"id\":");
	out_number(id);
	out_text(",\"name\":\"raw-");
	out_number(id);
	out_text("\",\"raw\":true}");
	return ++l->rl_raw < l->rl_total && l->rl_listed < V1_ONLINE_MAX;
}

/* The raw clients of the welcome's online list, after the v1 ones (*listed of them). */
static void raw_list(const struct v1_room *r, size_t *listed)
{
	struct raw_listing l = {*listed, 0, r->vr_raw};

	if (l.rl_total > 0 && l.rl_listed < V1_ONLINE_MAX)
		chatd_room_each(r->vr_server, r->vr_name, list_raw, &l);
	*listed = l.rl_listed;
}

/* An event for the room's v1 clients but except. */
static long broadcast_v1(struct v1_room *r, const struct chatd_conn *except)
{
	if (out_failed || r->vr_v1 == 0)
		return 0;
	return chatd_broadcast_tag(r->vr_server, r->vr_name, except, V1_TAG_V1, CHATD_TEXT, out_buf,
				   out_len);
}

static void write_presence(const char *type, const struct v1_person *p)
{
	out_start();
	out_text("{\"type\":\"");
	out_text(type);
	out_text("\",\"id\":");
	out_number(p->vp_id);
	out_text(",\"name\":");
	out_string(p->vp_name, strlen(p->vp_name));
	out_text(",\"count\":");
	out_number(room_count(p->vp_room));
	out_text("}");
}

/* A message frame is written in two parts around its id: with --redis, Redis puts the id
 * between them (chatd_log_append). */
static void write_message_tail(uint64_t time, const char *name, size_t name_len, const char *text,
			       size_t text_len, bool history)
{
	out_text(",\"time\":");
	out_number(time);
	out_text(",\"name\":");
	out_string(name, name_len);
	out_text(",\"text\":");
	out_string(text, text_len);
	out_text(history ? ",\"history\":true}" : "}");
}

#define V1_MESSAGE_HEAD "{\"type\":\"message\",\"id\":"

static void write_message(uint64_t id, uint64_t time, const char *name, size_t name_len,
			  const char *text, size_t text_len, bool history)
{
	out_start();
	out_text(V1_MESSAGE_HEAD);
	out_number(id);
	write_message_tail(time, name, name_len, text, text_len, history);
}

/* An error frame; counted: the client's own error (too many in a row close it). */
static void send_error_frame(struct v1_person *p, const char *code, const char *message,
			     bool counted)
{
	out_start();
	out_text("{\"type\":\"error\",\"code\":\"");
	out_text(code);
	out_text("\",\"message\":");
	out_string(message, strlen(message));
	out_text("}");
	send_out(p->vp_conn);
	if (counted && ++p->vp_errors >= V1_ERRORS_MAX)
		chatd_close(p->vp_conn, 1008, "too many errors in a row");
}

static void send_error(struct v1_person *p, const char *code, const char *message)
{
	send_error_frame(p, code, message, true);
}

/* The room's welcome to a v1 client: who it is, where, who is there, and how much
 * history follows. */
static void send_welcome(struct v1_person *p, const char *requested, size_t history)
{
	struct v1_room *r = p->vp_room;
	size_t listed = 0;

	out_start();
	out_text("{\"type\":\"welcome\",\"id\":");
	out_number(p->vp_id);
	out_text(",\"name\":");
	out_string(p->vp_name, strlen(p->vp_name));
	if (strcmp(requested, p->vp_name) != 0) {
		out_text(",\"requested\":");
		out_string(requested, strlen(requested));
	}
	out_text(",\"room\":");
	out_string(r->vr_name, strlen(r->vr_name));
	out_text(",\"online\":[");
	for (const struct v1_person *o = r->vr_people; o != NULL && listed < V1_ONLINE_MAX;
	     o = o->vp_next) {
		if (o->vp_joining)
			continue; /* --redis: not announced yet; its join comes */
		out_text(listed++ ? ",{\"id\":" : "{\"id\":");
		out_number(o->vp_id);
		out_text(",\"name\":");
		out_string(o->vp_name, strlen(o->vp_name));
		out_text("}");
	}
	raw_list(r, &listed);
	out_text("],\"count\":");
	out_number(room_count(r));
	out_text(",\"history\":");
	out_number(history);
	out_text(",\"max_text\":");
	out_number(V1_TEXT_MAX);
	out_text("}");
	send_out(p->vp_conn);
}

static void v1_log_join(struct v1_person *p, const char *requested);

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
	send_welcome(p, requested, r->vr_hist_len);
	for (size_t i = 0; i < r->vr_hist_len && !p->vp_gone; i++) {
		const struct v1_entry *e = v1_history_at(r, i);
		write_message(e->ve_id, e->ve_time, e->ve_data, e->ve_name_len,
			      e->ve_data + e->ve_name_len, e->ve_text_len, true);
		send_out(p->vp_conn);
	}
	if (p->vp_gone)
		return;
	chatd_conn_set_tag(p->vp_conn, V1_TAG_V1);
	r->vr_v1++;
	write_presence("join", p);
	broadcast_v1(r, p->vp_conn);
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
	if (p->vp_joining) { /* nobody heard it join; its read still holds it */
		v1_joiner_remove(r, p);
		return;
	}
	write_presence("leave", p);
	broadcast_v1(r, NULL); /* p itself is closing: chatd sends it nothing more */
}

static void person_free(struct v1_person *p)
{
	v1_hold_clear(p);
	room_release(p->vp_room);
	chatd_memory_release(sizeof *p);
	free(p);
}

/* Every callback holds its person, so that an on_close running inside it (a send that
 * cuts the client off, a close of ours) leaves it valid until the callback is done. */
static void person_hold(struct v1_person *p)
{
	p->vp_busy++;
}

static void person_release(struct v1_person *p)
{
	if (--p->vp_busy == 0 && p->vp_gone)
		person_free(p);
}

/* --- with --redis: the rooms' log in Redis (chatd_log_*) ---
 *
 * Every node's v1 clients get a room's messages from Redis, which gives each its id; the
 * log there is the history a joining client gets. A joining client is held (tag pending)
 * while its history is read; what arrives meanwhile waits in its vp_held, and once the
 * history is in, what is newer than it follows, then the client hears live traffic. */

static bool token_is(const char *buf, const struct json_token *t, const char *word);

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
	return type >= 0 && token_is(e, &t[type], "message") && *time >= 0 &&
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

/* h_log: an entry of a room's log, from any node (this one too), in id order. */
static void v1_log(struct chatd *s, const char *room, uint64_t id, const void *entry, size_t len,
		   void *user)
{
	struct v1_room *r = v1_room_find(s, room);
	struct json_token t[V1_TOKENS];
	int time, name, text;
	(void)user;

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
	out_start();
	out_bytes(e, len - 1);
	out_text(",\"history\":true}");
	send_out(p->vp_conn);
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
		chatd_close(p->vp_conn, 1013, "too much traffic while joining: try again");
		v1_hold_clear(p);
		person_release(p);
		return;
	}
	for (size_t i = 0; i < count; i++)
		valid += log_entry_parse(entries[i].le_data, entries[i].le_len, t, &time, &name,
					 &text);
	if (!p->vp_gone)
		send_welcome(p, p->vp_requested, valid);
	for (size_t i = 0; i < count && !p->vp_gone; i++) {
		const struct chatd_log_entry *e = &entries[i];
		if (!log_entry_parse(e->le_data, e->le_len, t, &time, &name, &text))
			continue;
		send_history(p, e->le_data, e->le_len);
		last = e->le_id;
		if (last > r->vr_last_id)
			r->vr_last_id = last;
	}
	for (const struct v1_held *h = p->vp_held; h != NULL && !p->vp_gone; h = h->vh_next)
		if (h->vh_id > last)
			chatd_send(p->vp_conn, CHATD_TEXT, h->vh_data, h->vh_len);
	v1_hold_clear(p);
	if (!p->vp_gone) {
		chatd_conn_set_tag(p->vp_conn, V1_TAG_V1);
		r->vr_v1++;
		write_presence("join", p);
		broadcast_v1(r, p->vp_conn);
	}
	person_release(p);
}

static void v1_log_join(struct v1_person *p, const char *requested)
{
	struct v1_room *r = p->vp_room;
	struct chatd *s = r->vr_server;

	snprintf(p->vp_requested, sizeof p->vp_requested, "%s", requested);
	v1_joiner_add(r, p);
	person_hold(p);
	if (chatd_log_read(s, r->vr_name, chatd_history_messages(s), log_joined, p) < 0)
		log_joined(p, NULL, 0, false);
}

/* A message into the room's log. v1 clients hear of a failure (nothing was sent); raw
 * ones, who cannot be told, only miss the v1 clients. */
static void v1_log_append(struct v1_person *p, uint64_t time, const char *text, size_t len,
			  bool raw)
{
	struct v1_room *r = p->vp_room;
	size_t head;

	out_start();
	out_text(V1_MESSAGE_HEAD);
	head = out_len;
	write_message_tail(time, p->vp_name, strlen(p->vp_name), text, len, false);
	if (out_failed) {
		chatd_close(p->vp_conn, 1011, "out of memory");
		return;
	}
	if (chatd_log_append(r->vr_server, r->vr_name, r->vr_last_id, out_buf, head, out_buf + head,
			     out_len - head) == 0 ||
	    raw)
		return;
	send_error_frame(p, "unavailable",
			 "the server cannot reach Redis, where this room is kept: the message was "
			 "not sent; try again in a moment",
			 false);
}

/* --- the query string --- */

/* The value of key in a query string ("a=1&b=2"), percent-decoded into out (cap bytes
 * with the NUL). Returns its length, -1 when absent, or -2 when too long or badly
 * encoded. */
static long query_param(const char *query, const char *key, char *out, size_t cap)
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

/* --- chatd.v1 clients --- */

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
	if (r->vr_members == 0) /* made just now */
		raw_count(r);
	p->vp_room = r;
	p->vp_conn = c;
	p->vp_id = chatd_conn_id(c);
	room_hold(r);
	chatd_conn_set_data(c, p);
	return p;
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

/* A message from p, to everyone in its room: JSON to the v1 clients (the sender too:
 * its copy carries the id and time the server gave it), a line to the raw ones. raw is
 * the raw client's own bytes, which raw clients get unchanged. */
static void publish(struct v1_person *p, const char *text, size_t len, bool raw)
{
	struct v1_room *r = p->vp_room;
	struct chatd *s = r->vr_server;
	uint64_t id = 0, time = now_ms();
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
		write_message(id, time, p->vp_name, name_len, text, len, false);
		sent = broadcast_v1(r, NULL);
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
		out_start();
		out_bytes(p->vp_name, name_len);
		out_bytes(": ", 2);
		out_bytes(text, len);
		sent = out_failed ? -1
				  : chatd_broadcast_tag(s, r->vr_name, NULL, V1_TAG_RAW, CHATD_TEXT,
							out_buf, out_len);
	}
	if ((sent < 0 || out_failed) && !p->vp_gone)
		chatd_close(p->vp_conn, 1011, "out of memory");
}

/* --- the raw face: clients that asked for no subprotocol ---
 *
 * A raw client keeps nothing here: no person, its name (raw-<id>) made when needed. In a
 * room with no v1 client it has the plain raw broadcast, nothing more; in one with v1
 * clients its lines become v1 messages (ids, history) and its coming and going presence.
 * It never changes rooms (chatd_join), which keeps vr_raw right. */

/* A raw client as publish and presence see one: a person on the caller's stack. */
static void raw_person(struct v1_person *p, struct v1_room *r, struct chatd_conn *c)
{
	memset(p, 0, sizeof *p);
	p->vp_room = r;
	p->vp_conn = c;
	p->vp_id = chatd_conn_id(c);
	p->vp_named = true;
	snprintf(p->vp_name, sizeof p->vp_name, "raw-%llu", (unsigned long long)p->vp_id);
}

static void raw_presence(struct v1_room *r, struct chatd_conn *c, const char *type)
{
	struct v1_person p;

	raw_person(&p, r, c);
	write_presence(type, &p);
	broadcast_v1(r, NULL);
}

/* The last n messages of r's history as "name: text" lines, until c is cut off. */
static void raw_history(struct v1_room *r, struct chatd_conn *c, unsigned long n)
{
	for (size_t i = n < r->vr_hist_len ? r->vr_hist_len - n : 0; i < r->vr_hist_len; i++) {
		const struct v1_entry *e = v1_history_at(r, i);
		out_start();
		out_bytes(e->ve_data, e->ve_name_len);
		out_bytes(": ", 2);
		out_bytes(e->ve_data + e->ve_name_len, e->ve_text_len);
		if (out_failed || chatd_send(c, CHATD_TEXT, out_buf, out_len) < 0)
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
	room_hold(r);
	r->vr_raw++;
	raw_presence(r, c, "join");
	/* History only when asked for: a script reading lines must not be surprised. */
	if (query != NULL && query_param(query, "history", want, sizeof want) > 0)
		raw_history(r, c, strtoul(want, NULL, 10));
	room_release(r);
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
	    (r = v1_room_find(chatd_conn_server(c), chatd_conn_room(c))) == NULL)
		return chatd_broadcast_handler.h_message(c, type, data, len, user);
	raw_person(&p, r, c);
	room_hold(r);
	publish(&p, data, len, true);
	room_release(r);
}

static void raw_close(struct chatd_conn *c, uint16_t code, void *user)
{
	struct v1_room *r = v1_room_find(chatd_conn_server(c), chatd_conn_room(c));
	(void)code;
	(void)user;

	if (r == NULL)
		return;
	room_hold(r);
	r->vr_raw--;
	raw_presence(r, c, "leave");
	room_release(r);
}

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
	person_hold(p);
	n = query != NULL ? query_param(query, "name", want, sizeof want) : -1;
	if (n > 0 && v1_name_valid(want, (size_t)n))
		person_name(p, want);
	else if (n > 0 || n == -2)
		send_error(p, "bad_name",
			   "a name is 1 to 24 of A-Z a-z 0-9 _ - . and does not begin with raw-: "
			   "send a hello");
	person_release(p);
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
	publish(p, decoded, t[text].jt_count, false);
}

/* True when the string token decodes to word (short: the frame's type). */
static bool token_is(const char *buf, const struct json_token *t, const char *word)
{
	char tmp[16];
	size_t n = strlen(word);

	if (t->jt_kind != JSON_STRING || t->jt_count != n || t->jt_len > sizeof tmp)
		return false;
	json_string_decode(buf, t, tmp);
	return memcmp(tmp, word, n) == 0;
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
	if (token_is(buf, &t[kind], "hello"))
		return v1_hello(p, buf, t, json_object_get(buf, t, 0, "name"));
	if (token_is(buf, &t[kind], "message"))
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
	person_hold(p);
	v1_frame(p, type, data, len);
	person_release(p);
}

const struct chatd_handler chatd_v1_handler = {
	.h_subprotocol = V1_PROTOCOL,
	.h_open = v1_open,
	.h_message = v1_message,
	.h_close = v1_close,
	.h_log = v1_log,
};

const struct chatd_handler chatd_v1_raw_handler = {
	.h_subprotocol = NULL,
	.h_open = raw_open,
	.h_message = raw_message,
	.h_close = raw_close,
};
