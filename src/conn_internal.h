/*
 * conn_internal.h: what conn.c (the connection's life and its WebSocket phase) and
 * conn_http.c (its HTTP phase: the request, the answer, the upgrade) share. Private to
 * those two files; everything else uses include/conn.h.
 */
#ifndef CHATD_CONN_INTERNAL_H
#define CHATD_CONN_INTERNAL_H

#include "conn.h"

/* Releases everything the connection holds; the struct is freed at the end of the pass. */
void conn_destroy(struct conn *c, const char *cause);

/* The connection leaves CONN_HANDSHAKE (call before changing c_state): it no longer
 * counts against --max-handshakes. No-op in any other state. */
void conn_handshake_done(struct conn *c);

/* Queues b (borrowed), or ends the connection when b is NULL (a failed allocation). */
void conn_queue(struct conn *c, struct sbuf *b);
/* The same for a buffer the caller just made: its reference is handed over. */
void conn_queue_new(struct conn *c, struct sbuf *b);

/* Stops reading and queuing; the connection ends once its queue is flushed and the peer
 * has closed, or after CLOSE_TIMEOUT_MS. */
void conn_begin_close(struct conn *c);

/* Feeds bytes received on an open WebSocket to its reader and acts on the events. */
void conn_ws_input(struct conn *c, uint8_t *data, size_t len);

/* Arms the keepalive timer (ping, then idle deadline) for an open WebSocket. */
void conn_arm_keepalive(struct conn *c);

/* The peer's address as text, for the log. */
const char *conn_peer_name(const struct conn *c, char *buf, size_t len);

/* conn_http.c: request bytes arrived; the handshake deadline passed. */
void conn_http_input(struct conn *c, uint8_t *data, size_t len);
void conn_http_timeout(struct loop_timer *t);

#endif
