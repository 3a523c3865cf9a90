/*
 * server: wires the modules together for one run: the loop, the listener, the hub and the
 * connections; signals (read from a signalfd inside the loop, never in a handler); the
 * descriptor limit; and the graceful shutdown.
 */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include "chatd.h"
#include "config.h"

struct server;

/* What a run serves: the program's handlers (count of them, borrowed for the run; one has
 * no subprotocol and is the default) and the public handle their callbacks see. */
struct server_app {
	const struct chatd_handler *sa_handlers;
	size_t sa_count;
	struct chatd *sa_api;
	/* Set to the running server for the run's duration (for server_stop), NULL after. */
	struct server **sa_running;
};

/* Runs until SIGINT, SIGTERM or server_stop. Returns the process exit status: 0 after a
 * clean shutdown, 1 when the server could not start (the reason is on stderr). */
int server_run(const struct config *cf, const struct server_app *app);

/* Begins a graceful shutdown, as SIGTERM does. */
void server_stop(struct server *sv);

/* The connections' shared state of a running server (for the public API's calls). */
struct conn_env *server_env(struct server *sv);

#endif
