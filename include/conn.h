/*
 * conn: one client connection from accept to close. It owns the socket (through its
 * transport), the handshake buffer, the WebSocket reader and the output queue, and runs
 * the connection's state machine:
 *
 *   HANDSHAKE --101--> OPEN --close queued--> CLOSING --flushed--> LINGER --EOF/timer--> gone
 *       \--HTTP response queued (page, error)--^
 *
 * In CLOSING and LINGER every byte read is discarded. LINGER means our write side is shut
 * (the peer saw our last byte and a FIN) and we wait for the peer's FIN before closing, so
 * unread input never turns our close into a reset that could destroy the close frame.
 *
 * Output is corked: frames are queued and the connection is marked dirty; conn_flush_dirty,
 * run once per loop pass, writes each dirty connection's queue with one writev.
 */
#ifndef CHATD_CONN_H
#define CHATD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "handshake.h"
#include "hub.h"
#include "listener.h"
#include "loop.h"
#include "metrics.h"
#include "outq.h"
#include "sbuf.h"
#include "transport.h"
#include "wsreader.h"

/* A request head larger than this gets 431. */
#define HANDSHAKE_MAX_BYTES 8192
/* How long we wait for the peer after our close frame, or for its FIN. */
#define CLOSE_TIMEOUT_MS 2000

enum conn_state {
	CONN_HANDSHAKE,
	CONN_OPEN,
	CONN_CLOSING,
	CONN_LINGER,
	CONN_DEAD, /* released; the struct waits for the end of the pass to be freed */
};

/* What all connections share: the loop, the hub, the settings and the bookkeeping.
 * Owned by the server; the connection lists own their connections. */
struct conn_env {
	struct loop *ce_loop;
	struct hub *ce_hub;
	const struct config *ce_config;
	struct sbuf *ce_page_head; /* the bundled client's 200 response head and body, */
	struct sbuf *ce_page_body; /* built once and shared by every response; owned */
	size_t ce_max_clients;
	struct handshake_policy ce_policy;
	struct metrics ce_metrics;

	uint8_t *ce_read_buf; /* scratch for every read; no connection keeps a read buffer */
	size_t ce_read_cap;

	struct conn *ce_all;   /* every live connection (doubly linked) */
	struct conn *ce_dirty; /* connections with output to flush this pass */
	struct conn *ce_dead;  /* released connections, freed at the end of the pass */
	size_t ce_conn_count;  /* live connections */
	size_t ce_open_count;  /* connections in CONN_OPEN */
	uint64_t ce_next_id;

	/* Set by the server when a Redis backplane runs (NULL otherwise): /healthz asks
	 * ce_health, which writes why into why when it answers false; /metrics shows
	 * ce_redis_metrics. Both borrowed. */
	bool (*ce_health)(const void *arg, char *why, size_t len);
	const void *ce_health_arg;
	const struct metrics_redis *ce_redis_metrics;
};

struct conn {
	struct loop_watch c_watch;
	struct transport c_transport;
	struct hub_member c_member;
	/* One timer per connection, by state: the handshake deadline, then keepalive, then
	 * the close deadline. */
	struct loop_timer c_timer;
	struct conn_env *c_env;
	struct conn *c_prev, *c_next; /* ce_all, or ce_dead once released */
	struct conn *c_next_dirty;
	uint64_t c_id;
	enum conn_state c_state;
	bool c_dirty;
	bool c_opened;             /* the upgrade succeeded: "opened" was logged */
	bool c_peer_eof;           /* the peer shut its side: read nothing more */
	bool c_ping_sent;          /* a keepalive ping is out since the last frame */
	bool c_cut_off;            /* being closed for backpressure */
	uint16_t c_close_code;     /* the code we sent or echoed, for the log; 0 none */
	uint64_t c_last_rx;        /* loop time of the last bytes received */
	const char *c_close_cause; /* static text for the log */

	char *c_request; /* the request head so far; owned, freed after the handshake */
	size_t c_request_len;

	struct ws_reader c_reader;
	struct outq c_out;
	union net_addr c_peer;
};

/* 0, or -1 when memory runs out. */
int conn_env_init(struct conn_env *env, struct loop *l, struct hub *h, const struct config *cf,
		  size_t max_clients);
/* Releases every connection, then the env's own buffers. */
void conn_env_free(struct conn_env *env);

/* Adopts an accepted socket (the env owns it from now on, even on failure). */
void conn_accept(struct conn_env *env, int fd, const union net_addr *peer);

/* The before-wait hook: flushes every dirty connection, then frees released ones. */
void conn_flush_dirty(struct conn_env *env);

/* Server shutdown: sends close code to every open client, drops the rest. */
void conn_shutdown_all(struct conn_env *env, uint16_t code);

#endif
