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
 * run once per loop pass, writes each dirty connection's queue with one writev. At light
 * load a long round of writes is cut into slices, and the loop reads what arrived
 * meanwhile between two slices (a message that comes during another's fan-out joins the
 * writes not yet made instead of waiting for the round to end); under load the round is
 * written whole, so each write carries all that was queued.
 *
 * The resource model (conn_limits.c): every connection's memory is counted at what it
 * costs (conn_memory) and charged to the process budget; one connection's input causes a
 * bounded amount of work per pass (messages handled, deliveries made), the rest is held
 * and resumed next pass; a client over its rate is simply not read for a while.
 */
#ifndef CHATD_CONN_H
#define CHATD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addrlimit.h"
#include "chatd.h"
#include "config.h"
#include "handshake.h"
#include "hub.h"
#include "listener.h"
#include "loop.h"
#include "metrics.h"
#include "outq.h"
#include "ratelimit.h"
#include "sbuf.h"
#include "transport.h"
#include "wsreader.h"

/* A request head larger than this gets 431. */
#define HANDSHAKE_MAX_BYTES 8192
/* How long we wait for the peer after our close frame, or for its FIN. */
#define CLOSE_TIMEOUT_MS 2000
/* Connections at once on the operator's listener: a scraper and a person or two. Its own
 * allowance, so a flood on the public port never blinds the operator. */
#define CONN_ADMIN_MAX 16

enum conn_state {
	CONN_HANDSHAKE,
	CONN_OPEN,
	CONN_CLOSING,
	CONN_LINGER,
	CONN_DEAD, /* released; the struct waits for the end of the pass to be freed */
};

/* Handlers a server can hold: one per subprotocol, and the default. */
#define CONN_MAX_HANDLERS 16

/* What all connections share: the loop, the hub, the settings and the bookkeeping.
 * Owned by the server; the connection lists own their connections. */
struct conn_env {
	/* The program's handlers (borrowed from the server). ce_protocols lists their
	 * subprotocols for the handshake; ce_protocol_handler[k] is the handler of the k-th;
	 * ce_default the one for clients that ask for none. */
	const struct chatd_handler *ce_handlers;
	size_t ce_default;
	const char *ce_protocols[CONN_MAX_HANDLERS];
	uint8_t ce_protocol_handler[CONN_MAX_HANDLERS];
	struct chatd *ce_api; /* what chatd_conn_server returns */
	/* During a handler's on_open: the connection, and its request's query string
	 * (chatd_conn_query), NUL-terminated; a request head holds less than this. */
	const struct conn *ce_opening;
	bool ce_opening_has_query;
	char ce_opening_query[HANDSHAKE_MAX_BYTES];
	/* Deliveries made by handlers' calls, read around each callback to charge the
	 * pass's budget. */
	unsigned long ce_deliveries;
	struct loop *ce_loop;
	struct hub *ce_hub;
	const struct config *ce_config;
	struct sbuf *ce_page_head; /* the bundled client's 200 response head and body, */
	struct sbuf *ce_page_body; /* built once and shared by every response; owned */
	size_t ce_max_clients;
	struct handshake_policy ce_policy;       /* the public listener's */
	struct handshake_policy ce_admin_policy; /* the operator's listener's */
	struct metrics ce_metrics;
	struct transport_tls_context *ce_tls; /* NULL: plain TCP; owned by the server */

	/* Connections from each source address (--max-per-ip), public listener only. */
	struct addrlimit ce_addrs;
	size_t ce_handshake_count;     /* public connections in CONN_HANDSHAKE (--max-handshakes) */
	size_t ce_admin_count;         /* connections accepted on the operator's listener */
	size_t ce_base_fds;            /* descriptors open before any connection, for /metrics */
	uint64_t ce_refusal_log_at;    /* loop time before which no refusal is logged */
	uint64_t ce_refusals_unlogged; /* refusals since the last logged one */

	uint8_t *ce_read_buf; /* scratch for every read; no connection keeps a read buffer */
	size_t ce_read_cap;

	struct conn *ce_all; /* every live connection (doubly linked) */
	/* Connections with output to flush. Those dirtied this pass are a stack (the most
	 * recently written to first: their queues are still in the cache), and
	 * ce_dirty_bottom the first pushed. What a cut round left (conn_flush_dirty) waits
	 * on ce_carry, oldest first, and goes before anything dirtied since. */
	struct conn *ce_dirty, *ce_dirty_bottom;
	struct conn *ce_carry, *ce_carry_tail;
	unsigned long ce_round_from; /* ce_deliveries when the current flush round began */
	bool ce_round_sliced;        /* it may be cut: it began after the loop was idle */
	struct conn *ce_dead; /* released connections, freed at the end of the pass (or of the
			       * round, for one still on the dirty list) */
	struct conn_extra *ce_ready; /* connections with held input to resume next pass */
	size_t ce_max_memory;        /* the process budget for every client's buffers */
	size_t ce_conn_count;        /* live connections */
	size_t ce_open_count;        /* connections in CONN_OPEN */
	uint64_t ce_next_id;

	/* Set by the server when a Redis backplane runs (NULL otherwise): /healthz asks
	 * ce_health, which writes why into why when it answers false; /metrics shows
	 * ce_redis_metrics. Both borrowed. */
	bool (*ce_health)(const void *arg, char *why, size_t len);
	const void *ce_health_arg;
	const struct metrics_redis *ce_redis_metrics;
	struct roomlog *ce_roomlog; /* the rooms' log in Redis (chatd_log_*); NULL without */
};

/* What a connection needs only while it is behind or over a limit: made on demand and
 * freed once the connection is back to normal, so a quiet connection pays one pointer. */
struct conn_extra {
	/* The env's ready list. An entry whose connection ended stays on it, with cx_conn
	 * NULL, until the list is next walked and frees it. */
	struct conn_extra *cx_next_ready;
	struct conn *cx_conn;
	/* Input read but not handled yet (the pass's budget ran out, or the rate limit):
	 * bytes [cx_held_off, cx_held_len) of cx_held, which is owned. */
	uint8_t *cx_held;
	size_t cx_held_len, cx_held_off, cx_held_cap;
	struct sbuf *cx_pong; /* owned: the pong for the latest ping, owed until the queue drains */
	uint64_t cx_flood_since; /* loop time this client went over its rate; 0: it is not */
	bool cx_parked;          /* over its rate: not read until the buckets refill */
	bool cx_on_ready;        /* on the env's ready list */
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
	bool c_opened;         /* the upgrade succeeded: "opened" was logged */
	bool c_admin;          /* accepted on the operator's listener (--admin-listen) */
	bool c_peer_eof;       /* the peer shut its side: read nothing more */
	bool c_cut_off;        /* being closed for backpressure */
	uint8_t c_handler;     /* its handler: an index in ce_handlers */
	uint16_t c_close_code; /* the code we sent or echoed, for the log; 0 none */
	uint32_t c_pings_out;  /* keepalive pings sent since the last bytes received */
	/* Loop times in wrapping 32-bit milliseconds (conn_since reads them): the last bytes
	 * received, and the last time the queue moved or began to fill. */
	uint32_t c_last_rx;
	uint32_t c_last_tx;
	const char *c_close_cause;  /* static text for the log */
	struct conn_extra *c_extra; /* owned; NULL while nothing is held */
	struct ratelimit c_rate;
	uint32_t c_request_len;
	void *c_data;    /* the handler's own (chatd_conn_set_data); never touched by chatd */
	char *c_request; /* the request head so far; owned, freed after the handshake */

	struct ws_reader c_reader;
	struct outq c_out;
	union net_addr c_peer;
	/* c_request's size: it grows with what arrives, up to HANDSHAKE_MAX_BYTES. Last, in
	 * what would be the struct's tail padding. */
	uint32_t c_request_cap;
};

/* 0, or -1 when memory runs out. */
int conn_env_init(struct conn_env *env, struct loop *l, struct hub *h, const struct config *cf,
		  size_t max_clients);

/* Installs the handlers (count of them, at most CONN_MAX_HANDLERS; the array must outlive
 * the env): those with a subprotocol are offered in the handshake, the one without is the
 * default. api is what chatd_conn_server returns. */
void conn_env_set_handlers(struct conn_env *env, const struct chatd_handler *handlers, size_t count,
			   struct chatd *api);

/* Tells every open connection's handler about an error that does not close it (the
 * backplane lost): on_error, once each. */
void conn_notify_all(struct conn_env *env, enum chatd_error error, const char *detail);

/* The hub's delivery function: queues a frame on the member's connection. */
void conn_deliver(struct hub_member *m, struct sbuf *frame);
/* Releases every connection, then the env's own buffers. */
void conn_env_free(struct conn_env *env);

/* Adopts an accepted socket (the env owns it from now on, even on failure). admin: it came
 * to the operator's listener. A connection over a limit (--max-per-ip, --max-handshakes)
 * is closed at once, after a 503 if its request is already there. */
void conn_accept(struct conn_env *env, int fd, const union net_addr *peer, bool admin);

/* The gauges /metrics shows, each read from a counter: no walk over the connections. */
void conn_env_gauges(const struct conn_env *env, struct metrics_gauges *g);

/* The before-wait hook: resumes held input, flushes the dirty connections (all, or a
 * slice of a light round), enforces the memory budget, then frees released ones. Returns
 * true when work is left for the next pass (held input, a round unfinished), so the loop
 * must not sleep. */
bool conn_flush_dirty(struct conn_env *env);

/* What the connection costs in memory now: its struct and everything it holds. */
size_t conn_memory(const struct conn *c);

/* Server shutdown: sends close code to every open client, drops the rest. */
void conn_shutdown_all(struct conn_env *env, uint16_t code);

#endif
