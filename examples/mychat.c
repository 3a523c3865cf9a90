/*
 * mychat.c: the Ratchet tutorial's MyChat class, in C on chatd. Every message goes to
 * every other client; chatd keeps the client list (the room), so onOpen and onClose have
 * nothing to do. Build: make examples, or
 *     cc mychat.c $(pkg-config --cflags --libs chatd)
 * Run: build/examples/mychat --port 8080 (any chatd option works).
 */
#include <chatd.h>
#include <stdio.h>

static void on_message(struct chatd_conn *from, enum chatd_type type, const void *msg, size_t len,
		       void *user)
{
	(void)user;
	chatd_broadcast(chatd_conn_server(from), chatd_conn_room(from), from, type, msg, len);
}

static void on_error(struct chatd_conn *conn, enum chatd_error error, const char *detail,
		     void *user)
{
	(void)user;
	fprintf(stderr, "connection %llu: error %d: %s\n", (unsigned long long)chatd_conn_id(conn),
		(int)error, detail);
}

int main(int argc, char **argv)
{
	struct chatd_handler my_chat = {.h_message = on_message, .h_error = on_error};
	struct chatd *server = chatd_new();
	char err[256];

	if (server == NULL ||
	    chatd_configure(server, argc, (const char *const *)argv, err, sizeof err) < 0) {
		fprintf(stderr, "mychat: %s\n", server ? err : "out of memory");
		return 2;
	}
	chatd_add_handler(server, &my_chat);
	int status = chatd_run(server);
	chatd_free(server);
	return status;
}
