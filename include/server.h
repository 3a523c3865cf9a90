/*
 * server: wires the modules together for one run: the loop, the listener, the hub and the
 * connections; signals (read from a signalfd inside the loop, never in a handler); the
 * descriptor limit; and the graceful shutdown.
 */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include "config.h"

/* Runs until SIGINT or SIGTERM. Returns the process exit status: 0 after a clean
 * shutdown, 1 when the server could not start (the reason is on stderr). */
int server_run(const struct config *cf);

#endif
