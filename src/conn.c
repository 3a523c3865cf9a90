/*
 * A client connection: its life from accept to close, and its reads. Its corked writes are
 * in conn_write.c, the HTTP phase in conn_http.c, the WebSocket phase in conn_ws.c, the
 * limits in conn_limits.c.
 *
 * The per-message path, and what it costs:
 *   read()            one syscall per readiness event (more only for large bursts)
 *   ws_reader_next    unmask + UTF-8 check in place, 8 bytes per step; no copy, no malloc
 *   hub_publish       one encode and one memcpy, shared by every recipient
 *   deliver           per recipient: one queue entry (recycled) and a dirty mark; behind a
 *                     backlog, a small frame is copied into the recipient's own buffer
 *   conn_flush_dirty  per recipient and pass: one sendmsg of all its queued frames
 * No connection holds a read buffer: every read lands in the env's scratch buffer, and
 * only bytes that must outlive the read (a request head, a message in pieces, input left
 * for the next pass) are kept.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "conn_internal.h"
#include "container.h"
#include "http_response.h"
#include "log.h"
#include "membudget.h"
#include "transport_tls.h"

/* One read: a pass's worth of one client's input at most. Smaller than the old 128 KiB:
 * whatever a read brings and the pass cannot handle is held in memory, so this also
 * bounds what one client can make chatd hold. */
#define READ_BUF_SIZE ((size_t)64 * 1024)
/* Bytes read per readiness event before yielding to the other connections. */
#define READ_BUDGET ((size_t)256 * 1024)
static void on_event(struct loop_watch *w, uint32_t events);

/* A secret for the per-address table's hash. Should the kernel have no entropy to give
 * yet (early boot), the time and the stack's address are a weaker secret, not none. */
static uint64_t hash_seed(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)(uintptr_t)&seed;
}

int conn_env_init(struct conn_env *env, struct loop *l, struct hub *h, const struct config *cf,
		  size_t max_clients)
{
	char head[512];
	size_t n;

	memset(env, 0, sizeof *env);
	env->ce_loop = l;
	env->ce_hub = h;
	env->ce_config = cf;
	env->ce_max_clients = max_clients;
	env->ce_max_memory = cf->cf_max_memory ? cf->cf_max_memory : membudget_default_limit();
	env->ce_policy.hp_origins = cf->cf_origins;
	env->ce_policy.hp_origin_count = cf->cf_origin_count;
	env->ce_admin_policy.hp_admin = true;
	addrlimit_init(&env->ce_addrs, hash_seed());
	env->ce_read_cap = READ_BUF_SIZE;
	env->ce_read_buf = malloc(READ_BUF_SIZE);
	env->ce_page_body = conn_http_page_body(cf->cf_max_message);
	n = http_response_head(head, sizeof head, 200, "text/html; charset=utf-8",
			       env->ce_page_body ? env->ce_page_body->sb_len : 0, NULL);
	env->ce_page_head = sbuf_from(head, n);
	if (env->ce_read_buf == NULL || env->ce_page_head == NULL || env->ce_page_body == NULL) {
		conn_env_free(env);
		return -1;
	}
	return 0;
}

void conn_env_set_handlers(struct conn_env *env, const struct chatd_handler *handlers, size_t count,
			   struct chatd *api)
{
	size_t protocols = 0;

	env->ce_handlers = handlers;
	env->ce_api = api;
	env->ce_default = 0;
	for (size_t i = 0; i < count && i < CONN_MAX_HANDLERS; i++) {
		if (handlers[i].h_subprotocol != NULL) {
			env->ce_protocol_handler[protocols] = (uint8_t)i;
			env->ce_protocols[protocols++] = handlers[i].h_subprotocol;
		} else {
			env->ce_default = i;
		}
	}
	env->ce_policy.hp_protocols = env->ce_protocols;
	env->ce_policy.hp_protocol_count = protocols;
}

const char *conn_peer_name(const struct conn *c, char *buf, size_t len)
{
	listener_format_addr(&c->c_peer, buf, len);
	return buf;
}

/* Read while the peer may still send; write while anything is queued; and whatever the
 * transport needs besides (TLS: a handshake write, a record still to push). */
void conn_update_interest(struct conn *c)
{
	uint32_t events = c->c_peer_eof || conn_input_held(c) ? 0 : EPOLLIN;
	if (!outq_empty(&c->c_out))
		events |= EPOLLOUT;
	events |= transport_wants(&c->c_transport);
	if (loop_watch_set(c->c_env->ce_loop, &c->c_watch, events) < 0)
		conn_destroy(c, "cannot change the events watched");
}

void conn_handshake_done(struct conn *c)
{
	if (c->c_state == CONN_HANDSHAKE && !c->c_admin)
		c->c_env->ce_handshake_count--;
}

/* Gives back what admit (below) counted for a connection but its handshake. */
static void release_limits(struct conn_env *env, const union net_addr *peer, bool admin)
{
	struct addrlimit_key key;

	if (admin)
		env->ce_admin_count--;
	else if (addrlimit_key_of(&peer->sa, &key))
		addrlimit_release(&env->ce_addrs, &key);
}

/* Releases everything the connection holds. Every "opened" gets exactly one "closed". */
void conn_destroy(struct conn *c, const char *cause)
{
	struct conn_env *env = c->c_env;
	char peer[64];

	if (c->c_state == CONN_DEAD)
		return;
	if (c->c_opened) {
		uint16_t code = c->c_close_code ? c->c_close_code : 1006;
		log_info("connection %llu closed: code %u, %s", (unsigned long long)c->c_id, code,
			 c->c_close_cause ? c->c_close_cause : cause);
	} else {
		log_debug("connection %llu from %s ended: %s", (unsigned long long)c->c_id,
			  conn_peer_name(c, peer, sizeof peer), cause);
	}
	if (c->c_state == CONN_OPEN) {
		/* Closing, for the handler's on_close: its calls on c are refused from now,
		 * while the room is still c's to read. */
		c->c_state = CONN_CLOSING;
		conn_app_closed(c);
		hub_leave(env->ce_hub, &c->c_member);
		env->ce_open_count--;
	}
	conn_handshake_done(c);
	release_limits(env, &c->c_peer, c->c_admin);
	c->c_state = CONN_DEAD; /* from here on nothing re-enters this connection */
	loop_timer_stop(env->ce_loop, &c->c_timer);
	loop_watch_del(env->ce_loop, &c->c_watch);
	transport_close(&c->c_transport);
	outq_clear(&c->c_out);
	ws_reader_free(&c->c_reader);
	conn_extra_free(c);
	conn_http_free_request(c);

	/* Off the live list, onto the dead one: an event for this connection may still be
	 * waiting in the current epoll batch, so the struct lives until the pass ends. */
	if (c->c_prev != NULL)
		c->c_prev->c_next = c->c_next;
	else
		env->ce_all = c->c_next;
	if (c->c_next != NULL)
		c->c_next->c_prev = c->c_prev;
	env->ce_conn_count--;
	c->c_prev = NULL;
	c->c_next = env->ce_dead;
	env->ce_dead = c;
}

static void on_close_timeout(struct loop_timer *t)
{
	struct conn *c = container_of(t, struct conn, c_timer);
	conn_destroy(c, "the peer did not finish closing within 2 s");
}

/* Moves to CLOSING: nothing more is read or queued; once the queue is flushed our write
 * side is shut, and the connection ends at the peer's FIN or after CLOSE_TIMEOUT_MS. */
void conn_begin_close(struct conn *c)
{
	struct conn_env *env = c->c_env;
	bool was_open = c->c_state == CONN_OPEN;

	conn_handshake_done(c);
	c->c_state = CONN_CLOSING;
	if (was_open) {
		conn_app_closed(c);
		hub_leave(env->ce_hub, &c->c_member);
		env->ce_open_count--;
	}
	ws_reader_free(&c->c_reader);
	conn_extra_free(c); /* held input and an owed pong go unanswered after a close */
	conn_http_free_request(c);
	loop_timer_start(env->ce_loop, &c->c_timer, CLOSE_TIMEOUT_MS, on_close_timeout);
}

/* The peer's side of the stream ended (read returned 0) or failed. */
static void input_ended(struct conn *c, const char *cause)
{
	if (c->c_state == CONN_CLOSING && !outq_empty(&c->c_out)) {
		/* A peer may shut its writing side and still read our reply: finish sending. */
		c->c_peer_eof = true;
		conn_update_interest(c);
		return;
	}
	conn_destroy(c, cause);
}

static void handle_readable(struct conn *c)
{
	struct conn_env *env = c->c_env;
	size_t budget = READ_BUDGET;

	while (budget > 0 && c->c_state != CONN_DEAD && !c->c_peer_eof && !conn_input_held(c)) {
		ssize_t n = transport_read(&c->c_transport, env->ce_read_buf, env->ce_read_cap);
		if (n == 0)
			return input_ended(c, c->c_state == CONN_LINGER
						      ? "closed"
						      : "connection closed by the peer");
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			char cause[96];
			snprintf(cause, sizeof cause, "connection lost: %s", strerror(errno));
			conn_app_error(c, CHATD_ERROR_CONNECTION, cause);
			return input_ended(c, c->c_state == CONN_OPEN ? cause : "closed");
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		env->ce_metrics.mt_bytes_in += (size_t)n;
		switch (c->c_state) {
		case CONN_HANDSHAKE: conn_http_input(c, env->ce_read_buf, (size_t)n); break;
		case CONN_OPEN:
			/* Any bytes show the peer is alive (section 5.5.2 allows a pong or any
			 * frame); stamping a time is all a read costs the keepalive. */
			c->c_last_rx = conn_now32(c);
			c->c_pings_out = 0;
			conn_rate_bytes(c, (size_t)n);
			conn_ws_input(c, env->ce_read_buf, (size_t)n);
			break;
		case CONN_CLOSING:
		case CONN_LINGER:
		case CONN_DEAD: break; /* after a close, input is read and discarded */
		}
		/* A short read means the socket is drained for now; level-triggered epoll will
		 * report it again if more arrives. Saves the read that would say EAGAIN. */
		if ((size_t)n < env->ce_read_cap)
			break;
	}
	/* Held input or a pause changes what we wait for. */
	if (c->c_state != CONN_DEAD && conn_input_held(c))
		conn_update_interest(c);
}

static void on_event(struct loop_watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, c_watch);
	bool transport_waits;

	if (c->c_state == CONN_DEAD)
		return;
	/* A transport waiting for a readiness of its own (TLS) gets both directions retried
	 * on any event: a read may have been waiting to write, a write to read. */
	transport_waits = transport_wants(&c->c_transport) != 0;
	/* A reset or error is reported even while input is held back; level-triggered, it
	 * would be reported every pass: the connection is gone, so end it. */
	if ((events & (EPOLLHUP | EPOLLERR)) && conn_input_held(c))
		return conn_destroy(c, "connection lost");
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) || transport_waits)
		handle_readable(c);
	if (c->c_state != CONN_DEAD && (events & EPOLLOUT || transport_waits))
		conn_flush(c);
	/* A dirty connection's interest is set by its flush at the end of the pass. */
	if (c->c_state != CONN_DEAD && !c->c_dirty)
		conn_update_interest(c);
}

/* One line a second at most: a flood of refused connections must not become a flood of
 * log lines. The count of those not logged goes in the next line (and all are in
 * chatd_connections_refused_total). */
static void log_refusal(struct conn_env *env, const union net_addr *peer, const char *why)
{
	uint64_t now = loop_now(env->ce_loop);
	char name[64];

	if (now < env->ce_refusal_log_at) {
		env->ce_refusals_unlogged++;
		return;
	}
	listener_format_addr(peer, name, sizeof name);
	if (env->ce_refusals_unlogged > 0)
		log_warn("connection from %s refused: %s (and %llu more refused, not logged, "
			 "since the last such line)",
			 name, why, (unsigned long long)env->ce_refusals_unlogged);
	else
		log_warn("connection from %s refused: %s", name, why);
	env->ce_refusal_log_at = now + 1000;
	env->ce_refusals_unlogged = 0;
}

/* Closes a connection over a limit before it costs anything. A client that already sent
 * its request (it was queued while chatd was busy) is told why with a 503; what it sent is
 * read first, so closing does not turn into a reset that would destroy that answer. */
static void refuse_connection(struct conn_env *env, int fd, const union net_addr *peer,
			      enum metrics_limit limit, const char *why)
{
	struct transport t;
	char buf[512];

	env->ce_metrics.mt_limit_refused[limit]++;
	log_refusal(env, peer, why);
	transport_init_tcp(&t, fd);
	if (transport_read(&t, env->ce_read_buf, env->ce_read_cap) > 0) {
		struct iovec iov = {buf, http_response_error(buf, sizeof buf, 503, why)};
		if (iov.iov_len > 0)
			(void)transport_writev(&t, &iov, 1);
		metrics_count_refusal(&env->ce_metrics, 503);
	}
	transport_close(&t);
}

/* Counts the connection against its limits; false when it is over one (and closed). */
static bool admit(struct conn_env *env, int fd, const union net_addr *peer, bool admin)
{
	const struct config *cf = env->ce_config;
	struct addrlimit_key key;
	char why[96];

	if (admin) {
		if (env->ce_admin_count >= CONN_ADMIN_MAX) {
			refuse_connection(env, fd, peer, METRICS_LIMIT_ADMIN,
					  "the admin listener is busy");
			return false;
		}
		env->ce_admin_count++;
		return true;
	}
	if (cf->cf_max_handshakes != 0 && env->ce_handshake_count >= cf->cf_max_handshakes) {
		snprintf(why, sizeof why, "%zu connections in their handshake (--max-handshakes)",
			 env->ce_handshake_count);
		refuse_connection(env, fd, peer, METRICS_LIMIT_HANDSHAKES, why);
		return false;
	}
	if (addrlimit_key_of(&peer->sa, &key)) {
		switch (addrlimit_acquire(&env->ce_addrs, &key, (uint32_t)cf->cf_max_per_ip)) {
		case ADDRLIMIT_OK: break;
		case ADDRLIMIT_FULL:
			snprintf(why, sizeof why,
				 "%zu connections from this address (--max-per-ip)",
				 cf->cf_max_per_ip);
			refuse_connection(env, fd, peer, METRICS_LIMIT_PER_IP, why);
			return false;
		case ADDRLIMIT_NO_MEM:
			refuse_connection(env, fd, peer, METRICS_LIMIT_NO_MEMORY, "out of memory");
			return false;
		}
	}
	env->ce_handshake_count++;
	return true;
}

void conn_accept(struct conn_env *env, int fd, const union net_addr *peer, bool admin)
{
	struct conn *c;

	if (!admit(env, fd, peer, admin))
		return;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		log_error("out of memory: refusing a connection");
		if (!admin)
			env->ce_handshake_count--;
		release_limits(env, peer, admin);
		close(fd);
		return;
	}
	/* The operator's listener stays plain HTTP: it is on loopback or a private network. */
	if (env->ce_tls == NULL || admin) {
		transport_init_tcp(&c->c_transport, fd);
	} else if (transport_init_tls(&c->c_transport, fd, env->ce_tls) < 0) {
		log_error("out of memory: refusing a TLS connection");
		env->ce_handshake_count--;
		release_limits(env, peer, admin);
		close(fd);
		free(c);
		return;
	}
	membudget_charge(membudget_block(sizeof *c));
	c->c_env = env;
	c->c_id = ++env->ce_next_id;
	c->c_state = CONN_HANDSHAKE;
	c->c_admin = admin;
	c->c_peer = *peer;
	if (loop_watch_add(env->ce_loop, &c->c_watch, fd, EPOLLIN, on_event) < 0) {
		log_error("cannot watch a new connection: %s", strerror(errno));
		conn_handshake_done(c);
		release_limits(env, peer, admin);
		transport_close(&c->c_transport);
		membudget_release(membudget_block(sizeof *c));
		free(c);
		return;
	}
	c->c_next = env->ce_all;
	if (env->ce_all != NULL)
		env->ce_all->c_prev = c;
	env->ce_all = c;
	env->ce_conn_count++;
	env->ce_metrics.mt_accepted++;
	loop_timer_start(env->ce_loop, &c->c_timer, env->ce_config->cf_handshake_timeout_ms,
			 conn_http_timeout);
}

void conn_env_gauges(const struct conn_env *env, struct metrics_gauges *g)
{
	g->mg_connections = env->ce_conn_count;
	g->mg_clients = env->ce_open_count;
	g->mg_rooms = hub_room_count(env->ce_hub);
	g->mg_memory_limit = env->ce_max_memory;
	g->mg_handshaking = env->ce_handshake_count;
	g->mg_addresses = env->ce_addrs.al_used;
	g->mg_open_fds = env->ce_base_fds + env->ce_conn_count;
	g->mg_redis = env->ce_redis_metrics;
}

/* Frees the released connections, except any still on the dirty list: the round that
 * reaches it frees it (it is skipped there, being dead). */
void conn_free_dead(struct conn_env *env)
{
	struct conn **link = &env->ce_dead;

	while (*link != NULL) {
		struct conn *c = *link;
		if (c->c_dirty) {
			link = &c->c_next;
			continue;
		}
		*link = c->c_next;
		membudget_release(membudget_block(sizeof *c));
		free(c);
	}
}

void conn_notify_all(struct conn_env *env, enum chatd_error error, const char *detail)
{
	for (struct conn *c = env->ce_all, *next; c != NULL; c = next) {
		next = c->c_next; /* a handler may close c, which stays listed until the pass ends
				   */
		conn_app_error(c, error, detail);
	}
}

void conn_shutdown_all(struct conn_env *env, uint16_t code)
{
	for (struct conn *c = env->ce_all, *next; c != NULL; c = next) {
		next = c->c_next;
		if (c->c_state == CONN_OPEN)
			conn_send_close(c, code, "server shutting down", "server shutting down");
		else if (c->c_state == CONN_HANDSHAKE)
			conn_destroy(c, "server shutting down");
	}
}

void conn_env_free(struct conn_env *env)
{
	while (env->ce_all != NULL)
		conn_destroy(env->ce_all, "server stopped");
	/* Every connection is dead: nothing to write. */
	for (struct conn *c = env->ce_carry; c != NULL; c = c->c_next_dirty)
		c->c_dirty = false;
	for (struct conn *c = env->ce_dirty; c != NULL; c = c->c_next_dirty)
		c->c_dirty = false;
	env->ce_carry = env->ce_dirty = NULL;
	env->ce_ready = NULL;
	conn_flush_dirty(env);
	if (env->ce_page_head != NULL)
		sbuf_unref(env->ce_page_head);
	if (env->ce_page_body != NULL)
		sbuf_unref(env->ce_page_body);
	free(env->ce_read_buf);
	addrlimit_free(&env->ce_addrs);
	memset(env, 0, sizeof *env);
}
