/*
 * The public API (include/chatd.h): a server's settings and handlers before the run, and
 * the calls a handler makes during it. A struct chatd_conn is a struct conn seen from
 * outside: the cast is the whole translation, so a call costs what the internal one does.
 */
#include "chatd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "conn_internal.h"
#include "container.h"
#include "handshake.h"
#include "log.h"
#include "membudget.h"
#include "roomlog.h"
#include "roster.h"
#include "server.h"

/* Strings given to chatd_configure and chatd_set, kept for the config that points at
 * them: a few per program, freed with the server. */
#define CHATD_MAX_STRINGS 256

struct chatd {
	struct config ch_config;
	struct chatd_handler ch_handlers[CONN_MAX_HANDLERS];
	size_t ch_handler_count;
	char *ch_strings[CHATD_MAX_STRINGS]; /* owned */
	size_t ch_string_count;
	struct server *ch_running; /* while chatd_run runs */
};

static struct conn *conn_of(const struct chatd_conn *c)
{
	return (struct conn *)c;
}

struct chatd *chatd_new(void)
{
	struct chatd *s = calloc(1, sizeof *s);
	if (s != NULL)
		config_defaults(&s->ch_config);
	return s;
}

void chatd_free(struct chatd *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ch_string_count; i++)
		free(s->ch_strings[i]);
	free(s);
}

static char *keep(struct chatd *s, const char *str)
{
	char *copy;

	if (s->ch_string_count == CHATD_MAX_STRINGS || (copy = strdup(str)) == NULL)
		return NULL;
	s->ch_strings[s->ch_string_count++] = copy;
	return copy;
}

int chatd_configure(struct chatd *s, int argc, const char *const *argv, char *err, size_t errlen)
{
	char *args[64];

	if (argc < 1 || argc > (int)(sizeof args / sizeof args[0])) {
		snprintf(err, errlen, "between 1 and 64 arguments, argv[0] first");
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		args[i] = keep(s, argv[i]);
		if (args[i] == NULL) {
			snprintf(err, errlen, "out of memory, or too many options");
			return -1;
		}
	}
	switch (config_parse(&s->ch_config, argc, args, err, errlen)) {
	case CONFIG_RUN: return 0;
	case CONFIG_USAGE_ERROR: return -1;
	case CONFIG_HELP:
	case CONFIG_VERSION: break;
	}
	snprintf(err, errlen, "--help and --version are for the command line");
	return -1;
}

int chatd_set(struct chatd *s, const char *option, const char *value, char *err, size_t errlen)
{
	char flag[64];
	const char *argv[3] = {"chatd", flag, value};

	if (snprintf(flag, sizeof flag, "--%s", option) >= (int)sizeof flag) {
		snprintf(err, errlen, "unknown option '%s'", option);
		return -1;
	}
	return chatd_configure(s, value != NULL ? 3 : 2, argv, err, errlen);
}

int chatd_add_handler(struct chatd *s, const struct chatd_handler *h)
{
	/* The running server reads the table in place: it is fixed once chatd_run starts. */
	if (s->ch_running != NULL || s->ch_handler_count == CONN_MAX_HANDLERS)
		return -1;
	for (size_t i = 0; i < s->ch_handler_count; i++) {
		const char *p = s->ch_handlers[i].h_subprotocol;
		if ((p == NULL && h->h_subprotocol == NULL) ||
		    (p != NULL && h->h_subprotocol != NULL && strcmp(p, h->h_subprotocol) == 0))
			return -1;
	}
	s->ch_handlers[s->ch_handler_count++] = *h;
	return 0;
}

int chatd_run(struct chatd *s)
{
	struct server_app app = {
		.sa_handlers = s->ch_handlers,
		.sa_api = s,
		.sa_running = &s->ch_running,
	};
	bool has_default = false;

	for (size_t i = 0; i < s->ch_handler_count; i++)
		has_default |= s->ch_handlers[i].h_subprotocol == NULL;
	if (!has_default) {
		if (chatd_add_handler(s, &chatd_broadcast_handler) < 0) {
			fprintf(stderr, "chatd: no room for the default handler\n");
			return 1;
		}
	}
	app.sa_count = s->ch_handler_count;
	log_set_level(s->ch_config.cf_log_level);
	log_set_format(s->ch_config.cf_log_format);
	return server_run(&s->ch_config, &app);
}

void chatd_stop(struct chatd *s)
{
	if (s->ch_running != NULL)
		server_stop(s->ch_running);
}

bool chatd_echo(const struct chatd *s)
{
	return s->ch_config.cf_echo;
}

size_t chatd_history_messages(const struct chatd *s)
{
	return s->ch_config.cf_history;
}

size_t chatd_history_bytes(const struct chatd *s)
{
	return s->ch_config.cf_history_bytes;
}

bool chatd_log_shared(const struct chatd *s)
{
	return s->ch_config.cf_redis_on;
}

int chatd_log_append(struct chatd *s, const char *room, uint64_t after, const void *head,
		     size_t head_len, const void *tail, size_t tail_len)
{
	struct roomlog *rl = s->ch_running != NULL ? server_env(s->ch_running)->ce_roomlog : NULL;

	return rl == NULL || room == NULL
		       ? -1
		       : roomlog_append(rl, room, after, head, head_len, tail, tail_len);
}

int chatd_log_read(struct chatd *s, const char *room, size_t max, chatd_log_read_fn fn, void *arg)
{
	struct roomlog *rl = s->ch_running != NULL ? server_env(s->ch_running)->ce_roomlog : NULL;

	return rl == NULL || room == NULL ? -1 : roomlog_read(rl, room, max, fn, arg);
}

static struct roster *roster_of(const struct chatd *s)
{
	struct roomlog *rl = s->ch_running != NULL ? server_env(s->ch_running)->ce_roomlog : NULL;

	return rl != NULL ? roomlog_roster(rl) : NULL;
}

int chatd_roster_join(struct chatd *s, const char *room, uint64_t id, const char *const *names,
		      size_t n, chatd_roster_fn fn, void *arg)
{
	struct roster *ro = roster_of(s);

	return ro == NULL || room == NULL ? -1 : roster_join(ro, room, id, names, n, fn, arg);
}

int chatd_roster_leave(struct chatd *s, const char *room, uint64_t id, const char *name)
{
	struct roster *ro = roster_of(s);

	return ro == NULL || room == NULL || name == NULL ? -1 : roster_leave(ro, room, id, name);
}

int chatd_roster_raw(struct chatd *s, const char *room, uint64_t id, long delta)
{
	struct roster *ro = roster_of(s);

	return ro == NULL || room == NULL ? -1 : roster_raw(ro, room, id, delta);
}

int chatd_roster_restore(struct chatd *s, const char *room, size_t raw,
			 const struct chatd_roster_person *people, size_t n)
{
	struct roster *ro = roster_of(s);

	return ro == NULL || room == NULL ? -1 : roster_restore(ro, room, raw, people, n);
}

uint64_t chatd_node_tag(const struct chatd *s)
{
	struct roster *ro = roster_of(s);

	return ro != NULL ? roster_node_tag(ro) : 0;
}

void chatd_memory_charge(size_t bytes)
{
	membudget_charge(membudget_block(bytes));
}

void chatd_memory_release(size_t bytes)
{
	membudget_release(membudget_block(bytes));
}

int chatd_send(struct chatd_conn *cc, enum chatd_type type, const void *data, size_t len)
{
	struct conn *c = conn_of(cc);

	if (c->c_state != CONN_OPEN)
		return -1;
	conn_send_message(c, type == CHATD_BINARY ? WS_OP_BINARY : WS_OP_TEXT, data, len);
	return 0;
}

/* tag: a member's tag, or -1 for every member. */
static long broadcast(struct chatd *s, const char *room, const struct chatd_conn *except, int tag,
		      enum chatd_type type, const void *data, size_t len)
{
	const struct hub_member *skip = except != NULL ? &conn_of(except)->c_member : NULL;
	uint8_t opcode = type == CHATD_BINARY ? WS_OP_BINARY : WS_OP_TEXT;
	struct conn_env *env;
	long n;

	if (s->ch_running == NULL || room == NULL)
		return -1;
	env = server_env(s->ch_running);
	n = tag < 0 ? hub_publish(env->ce_hub, room, strlen(room), skip, opcode, data, len)
		    : hub_publish_tag(env->ce_hub, room, strlen(room), skip, (uint8_t)tag, opcode,
				      data, len);
	if (n > 0)
		env->ce_deliveries += (unsigned long)n;
	return n;
}

long chatd_broadcast(struct chatd *s, const char *room, const struct chatd_conn *except,
		     enum chatd_type type, const void *data, size_t len)
{
	return broadcast(s, room, except, -1, type, data, len);
}

long chatd_broadcast_tag(struct chatd *s, const char *room, const struct chatd_conn *except,
			 uint8_t tag, enum chatd_type type, const void *data, size_t len)
{
	return broadcast(s, room, except, tag, type, data, len);
}

struct room_walk {
	chatd_visit_fn rw_fn;
	void *rw_arg;
	size_t rw_called;
};

static bool visit_member(struct hub_member *m, void *arg)
{
	struct room_walk *w = arg;
	struct conn *c = container_of(m, struct conn, c_member);

	/* A client in its on_close is still in the room until on_close returns. */
	if (c->c_state != CONN_OPEN)
		return true;
	w->rw_called++;
	return w->rw_fn((struct chatd_conn *)c, w->rw_arg);
}

size_t chatd_room_each(struct chatd *s, const char *room, chatd_visit_fn fn, void *arg)
{
	struct room_walk w = {fn, arg, 0};

	if (s->ch_running == NULL || room == NULL)
		return 0;
	hub_room_each(server_env(s->ch_running)->ce_hub, room, strlen(room), visit_member, &w);
	return w.rw_called;
}

void chatd_close(struct chatd_conn *cc, uint16_t code, const char *reason)
{
	conn_send_close(conn_of(cc), code, reason, "closed by the handler");
}

int chatd_join(struct chatd_conn *cc, const char *room)
{
	struct conn *c = conn_of(cc);
	struct hub *hub = c->c_env->ce_hub;
	struct http_slice name = {room, room != NULL ? strlen(room) : 0};
	char old[HUB_ROOM_NAME_MAX + 1];
	const char *was = hub_member_room(&c->c_member);

	if (c->c_state != CONN_OPEN || room == NULL || !handshake_room_valid(name) || was == NULL)
		return -1;
	snprintf(old, sizeof old, "%s", was);
	hub_leave(hub, &c->c_member);
	if (hub_join(hub, &c->c_member, room, name.s_len) == 0)
		return 0;
	/* Back where it was; the room may have gone with its last member, so this too can
	 * fail for memory, and then the client cannot stay. */
	if (hub_join(hub, &c->c_member, old, strlen(old)) < 0) {
		conn_app_error(c, CHATD_ERROR_OUT_OF_MEMORY, "out of memory");
		conn_send_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory", "out of memory");
	}
	return -1;
}

uint64_t chatd_conn_id(const struct chatd_conn *c)
{
	return conn_of(c)->c_id;
}

const char *chatd_conn_room(const struct chatd_conn *c)
{
	return hub_member_room(&conn_of(c)->c_member);
}

const char *chatd_conn_query(const struct chatd_conn *cc)
{
	const struct conn *c = conn_of(cc);
	const struct conn_env *env = c->c_env;
	return env->ce_opening == c && env->ce_opening_has_query ? env->ce_opening_query : NULL;
}

void chatd_conn_set_tag(struct chatd_conn *c, uint8_t tag)
{
	conn_of(c)->c_member.hm_tag = tag;
}

uint8_t chatd_conn_tag(const struct chatd_conn *c)
{
	return conn_of(c)->c_member.hm_tag;
}

const char *chatd_conn_subprotocol(const struct chatd_conn *cc)
{
	const struct conn *c = conn_of(cc);
	return c->c_env->ce_handlers[c->c_handler].h_subprotocol;
}

const char *chatd_conn_peer(const struct chatd_conn *c, char *buf, size_t len)
{
	return conn_peer_name(conn_of(c), buf, len);
}

void chatd_conn_set_data(struct chatd_conn *c, void *data)
{
	conn_of(c)->c_data = data;
}

void *chatd_conn_data(const struct chatd_conn *c)
{
	return conn_of(c)->c_data;
}

struct chatd *chatd_conn_server(const struct chatd_conn *c)
{
	return conn_of(c)->c_env->ce_api;
}
