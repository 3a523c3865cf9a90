/*
 * tlsclient: the client side of wss:// for chatbench. One OpenSSL context per process; a
 * connection's reads and writes follow read(2)/send(2) (-1/EAGAIN when they must wait)
 * and say which readiness they wait for. A load generator on loopback checks no
 * certificate: it measures the server, it does not trust it.
 */
#ifndef CHATBENCH_TLSCLIENT_H
#define CHATBENCH_TLSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* resume: every connection offers the session of the last one that got a ticket.
 * 0, or -1 after printing why. */
int tlsclient_init(bool resume);

/* A client session on a connected non-blocking socket, or NULL. */
void *tlsclient_new(int fd);
void tlsclient_free(void *session);

/* *wants_write: the call must wait for POLLOUT (a handshake flight), not POLLIN. */
ssize_t tlsclient_read(void *session, void *buf, size_t len, bool *wants_write);
/* *wants_read: the call must wait for POLLIN (the handshake is not done), not POLLOUT. */
ssize_t tlsclient_write(void *session, const void *buf, size_t len, bool *wants_read);

/* Whether the session was resumed (valid once the handshake is done). */
bool tlsclient_resumed(void *session);

#endif
