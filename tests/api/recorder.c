/*
 * recorder: a chatd program for the API tests (tests/integration/test_api.py). It writes
 * one line to stdout for every callback, so the test can check their order and that
 * on_close follows every on_open exactly once, and it obeys commands sent as text
 * messages, so the test can drive every call a handler can make:
 *   !close CODE REASON   chatd_close        !join ROOM   chatd_join
 *   !echo TEXT           chatd_send to self !all TEXT    chatd_broadcast to the whole room
 *   !data                checks the per-connection data  !stop        chatd_stop
 *   !who N               chatd_room_each, stopping after N clients (0: all of them)
 * Anything else is broadcast to the rest of the room, as the default handler does.
 * Two handlers: "rec" for clients that ask for no subprotocol, "rec.v2" for rec.v2.
 * Written against include/chatd.h alone.
 */
#include <chatd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tag {
	uint64_t t_id; /* the connection's id, to prove the data pointer round-trips */
	unsigned t_magic;
};

#define MAGIC 0xC0FFEEu

static const char *error_name(enum chatd_error e)
{
	switch (e) {
	case CHATD_ERROR_PROTOCOL: return "protocol";
	case CHATD_ERROR_TOO_LARGE: return "too_large";
	case CHATD_ERROR_TOO_SLOW: return "too_slow";
	case CHATD_ERROR_FLOODING: return "flooding";
	case CHATD_ERROR_IDLE: return "idle";
	case CHATD_ERROR_OUT_OF_MEMORY: return "out_of_memory";
	case CHATD_ERROR_CONNECTION: return "connection";
	case CHATD_ERROR_BACKPLANE_LOST: return "backplane_lost";
	}
	return "unknown";
}

static unsigned long long id(const struct chatd_conn *c)
{
	return (unsigned long long)chatd_conn_id(c);
}

struct who {
	char w_line[1024];
	size_t w_len;
	unsigned long w_stop_after;
	unsigned long w_called;
};

static bool list_client(struct chatd_conn *c, void *arg)
{
	struct who *w = arg;
	int n = snprintf(w->w_line + w->w_len, sizeof w->w_line - w->w_len, " %llu", id(c));

	if (n > 0 && (size_t)n < sizeof w->w_line - w->w_len)
		w->w_len += (size_t)n;
	return ++w->w_called != w->w_stop_after;
}

static void on_open(struct chatd_conn *c, void *user)
{
	struct tag *t = malloc(sizeof *t);
	char peer[64];

	if (t != NULL) {
		t->t_id = chatd_conn_id(c);
		t->t_magic = MAGIC;
	}
	chatd_conn_set_data(c, t);
	printf("open %llu %s %s %s %s\n", id(c), (const char *)user, chatd_conn_room(c),
	       chatd_conn_subprotocol(c) ? chatd_conn_subprotocol(c) : "-",
	       chatd_conn_peer(c, peer, sizeof peer));
}

static void on_message(struct chatd_conn *c, enum chatd_type type, const void *data, size_t len,
		       void *user)
{
	const char *text = data;
	char arg[256];
	(void)user;

	printf("message %llu %s %zu\n", id(c), type == CHATD_TEXT ? "text" : "binary", len);
	if (type != CHATD_TEXT || len == 0 || text[0] != '!' || len >= sizeof arg) {
		chatd_broadcast(chatd_conn_server(c), chatd_conn_room(c), c, type, data, len);
		return;
	}
	memcpy(arg, text, len);
	arg[len] = '\0';
	if (strncmp(arg, "!close ", 7) == 0) {
		char *reason = strchr(arg + 7, ' ');
		chatd_close(c, (uint16_t)atoi(arg + 7), reason ? reason + 1 : NULL);
	} else if (strncmp(arg, "!join ", 6) == 0) {
		int rc = chatd_join(c, arg + 6);
		printf("join %llu %d %s\n", id(c), rc, chatd_conn_room(c));
	} else if (strncmp(arg, "!echo ", 6) == 0) {
		chatd_send(c, CHATD_TEXT, arg + 6, len - 6);
	} else if (strncmp(arg, "!all ", 5) == 0) {
		long n = chatd_broadcast(chatd_conn_server(c), chatd_conn_room(c), NULL, CHATD_TEXT,
					 arg + 5, len - 5);
		printf("all %llu %ld\n", id(c), n);
	} else if (strcmp(arg, "!data") == 0) {
		const struct tag *t = chatd_conn_data(c);
		printf("data %llu %s\n", id(c),
		       t != NULL && t->t_magic == MAGIC && t->t_id == chatd_conn_id(c) ? "ok"
										       : "bad");
	} else if (strncmp(arg, "!who ", 5) == 0) {
		struct who w = {.w_stop_after = strtoul(arg + 5, NULL, 10)};
		size_t n =
			chatd_room_each(chatd_conn_server(c), chatd_conn_room(c), list_client, &w);
		printf("who %llu %zu%s\n", id(c), n, w.w_line);
	} else if (strcmp(arg, "!stop") == 0) {
		chatd_stop(chatd_conn_server(c));
	}
	fflush(stdout);
}

static void on_close(struct chatd_conn *c, uint16_t code, void *user)
{
	/* After on_close begins, sending to c must be refused. */
	int rc = chatd_send(c, CHATD_TEXT, "late", 4);
	(void)user;
	printf("close %llu %u send=%d\n", id(c), code, rc);
	fflush(stdout);
	free(chatd_conn_data(c));
	chatd_conn_set_data(c, NULL);
}

static void on_error(struct chatd_conn *c, enum chatd_error error, const char *detail, void *user)
{
	(void)user;
	printf("error %llu %s %s\n", id(c), error_name(error), detail);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct chatd_handler plain = {.h_open = on_open,
				      .h_message = on_message,
				      .h_close = on_close,
				      .h_error = on_error,
				      .h_user = "rec"};
	struct chatd_handler v2 = plain;
	struct chatd *s = chatd_new();
	char err[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	v2.h_subprotocol = "rec.v2";
	v2.h_user = "rec.v2";
	if (s == NULL || chatd_configure(s, argc, (const char *const *)argv, err, sizeof err) < 0) {
		fprintf(stderr, "recorder: %s\n", s ? err : "out of memory");
		return 2;
	}
	if (chatd_add_handler(s, &plain) < 0 || chatd_add_handler(s, &v2) < 0 ||
	    chatd_add_handler(s, &plain) == 0) { /* a second default must be refused */
		fprintf(stderr, "recorder: chatd_add_handler misbehaved\n");
		return 1;
	}
	int status = chatd_run(s);
	chatd_free(s);
	printf("exit %d\n", status);
	return status;
}
