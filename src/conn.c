/*
 * A client connection: its state machine, its reads, its corked writes.
 *
 * The per-message path, and what it costs:
 *   read()            one syscall per readiness event (more only for large bursts)
 *   ws_reader_next    unmask + UTF-8 check in place, 8 bytes per step; no copy, no malloc
 *   hub_publish       one encode and one memcpy, shared by every recipient
 *   deliver           per recipient: one queue entry (recycled) and a dirty mark
 *   conn_flush_dirty  per recipient and pass: one sendmsg of all its queued frames
 * No connection holds a read buffer: every read lands in the env's scratch buffer, and
 * only bytes that must outlive the read (a request head or a message in pieces) are kept.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "handshake.h"
#include "http.h"
#include "http_response.h"
#include "listener.h"
#include "log.h"
#include "page.h"

#define READ_BUF_SIZE (128 * 1024)
/* Bytes read per readiness event before yielding to the other connections. */
#define READ_BUDGET (512 * 1024)
/* Bytes written per flush, and iovecs per sendmsg. */
#define WRITE_BUDGET (1024 * 1024)
#define FLUSH_IOV 64
/* A close frame's reason is at most 123 bytes (125 minus the code). */
#define CLOSE_REASON_MAX 123
_Static_assert(HANDSHAKE_ROOM_MAX <= HUB_ROOM_NAME_MAX, "the hub must hold every valid room");

/* Rooms listed by /stats: the most populated. */
#define STATS_MAX_ROOMS 50

static void on_event(struct loop_watch *w, uint32_t events);
static void deliver(struct hub_member *m, struct sbuf *frame);
static void flush(struct conn *c);
static void ws_input(struct conn *c, uint8_t *data, size_t len);

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
	env->ce_policy.hp_origins = cf->cf_origins;
	env->ce_policy.hp_origin_count = cf->cf_origin_count;
	env->ce_read_cap = READ_BUF_SIZE;
	env->ce_read_buf = malloc(READ_BUF_SIZE);
	n = http_response_head(head, sizeof head, 200, "text/html; charset=utf-8", page_html_len,
	                       NULL);
	env->ce_page_head = sbuf_from(head, n);
	env->ce_page_body = sbuf_from(page_html, page_html_len);
	if (env->ce_read_buf == NULL || env->ce_page_head == NULL || env->ce_page_body == NULL) {
		conn_env_free(env);
		return -1;
	}
	return 0;
}

static const char *peer_name(const struct conn *c, char *buf, size_t len)
{
	listener_format_addr(&c->c_peer, buf, len);
	return buf;
}

static void mark_dirty(struct conn *c)
{
	if (c->c_dirty)
		return;
	c->c_dirty = true;
	c->c_next_dirty = c->c_env->ce_dirty;
	c->c_env->ce_dirty = c;
}

/* Read while the peer may still send; write while anything is queued. */
static void update_interest(struct conn *c)
{
	uint32_t events = c->c_peer_eof ? 0 : EPOLLIN;
	if (!outq_empty(&c->c_out))
		events |= EPOLLOUT;
	loop_watch_set(c->c_env->ce_loop, &c->c_watch, events);
}

/* Releases everything the connection holds. Every "opened" gets exactly one "closed". */
static void destroy(struct conn *c, const char *cause)
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
		          peer_name(c, peer, sizeof peer), cause);
	}
	if (c->c_state == CONN_OPEN) {
		hub_leave(env->ce_hub, &c->c_member);
		env->ce_open_count--;
	}
	loop_timer_stop(env->ce_loop, &c->c_timer);
	loop_watch_del(env->ce_loop, &c->c_watch);
	transport_close(&c->c_transport);
	outq_clear(&c->c_out);
	ws_reader_free(&c->c_reader);
	free(c->c_request);
	c->c_request = NULL;

	/* Off the live list, onto the dead one: an event for this connection may still be
	 * waiting in the current epoll batch, so the struct lives until the pass ends. */
	if (c->c_prev != NULL)
		c->c_prev->c_next = c->c_next;
	else
		env->ce_all = c->c_next;
	if (c->c_next != NULL)
		c->c_next->c_prev = c->c_prev;
	env->ce_conn_count--;
	c->c_state = CONN_DEAD;
	c->c_prev = NULL;
	c->c_next = env->ce_dead;
	env->ce_dead = c;
}

static void on_close_timeout(struct loop_timer *t)
{
	struct conn *c = container_of(t, struct conn, c_timer);
	destroy(c, "the peer did not finish closing within 2 s");
}

static void cut_off(struct conn *c);

/* Queues b (borrowed: the queue takes its own reference). NULL means a failed
 * allocation upstream, which ends the connection. A client whose unsent queue passes
 * --max-backlog is cut off: this is the one place that bound is checked. */
static void queue(struct conn *c, struct sbuf *b)
{
	if (b == NULL || outq_push(&c->c_out, b) < 0) {
		destroy(c, "out of memory");
		return;
	}
	mark_dirty(c);
	if (c->c_out.oq_bytes > c->c_env->ce_config->cf_max_backlog && c->c_state == CONN_OPEN &&
	    !c->c_cut_off)
		cut_off(c);
}

/* Queues a buffer the caller just made, handing over the caller's reference. */
static void queue_new(struct conn *c, struct sbuf *b)
{
	queue(c, b);
	if (b != NULL)
		sbuf_unref(b);
}

/* Moves to CLOSING: nothing more is read or queued; once the queue is flushed our write
 * side is shut, and the connection ends at the peer's FIN or after CLOSE_TIMEOUT_MS. */
static void begin_close(struct conn *c)
{
	struct conn_env *env = c->c_env;

	if (c->c_state == CONN_OPEN) {
		hub_leave(env->ce_hub, &c->c_member);
		env->ce_open_count--;
	}
	c->c_state = CONN_CLOSING;
	ws_reader_free(&c->c_reader);
	free(c->c_request);
	c->c_request = NULL;
	loop_timer_start(env->ce_loop, &c->c_timer, CLOSE_TIMEOUT_MS, on_close_timeout);
}

/* Queues a control frame (payload at most 125 bytes). */
static void queue_control(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
	struct sbuf *b = sbuf_new(2 + len);
	if (b != NULL) {
		size_t h = frame_encode_header(b->sb_data, true, opcode, len);
		if (len > 0)
			memcpy(b->sb_data + h, payload, len);
	}
	queue_new(c, b);
}

/* Sends a close frame (code 0: none) after everything already queued, and starts closing.
 * The reason goes in the frame and the cause in the log. */
static void send_close(struct conn *c, uint16_t code, const char *reason, const char *cause)
{
	uint8_t payload[2 + CLOSE_REASON_MAX];
	size_t len = 0;

	if (c->c_state != CONN_OPEN)
		return;
	if (code != 0) {
		size_t rlen = reason ? strlen(reason) : 0;
		if (rlen > CLOSE_REASON_MAX)
			rlen = CLOSE_REASON_MAX;
		payload[0] = (uint8_t)(code >> 8);
		payload[1] = (uint8_t)code;
		if (rlen > 0)
			memcpy(payload + 2, reason, rlen);
		len = 2 + rlen;
	}
	/* 1005: "no status code was present" (section 7.4.1), used only in our log. */
	c->c_close_code = code ? code : 1005;
	c->c_close_cause = cause;
	metrics_count_close(&c->c_env->ce_metrics, c->c_close_code);
	queue_control(c, WS_OP_CLOSE, payload, len);
	if (c->c_state == CONN_OPEN)
		begin_close(c);
}

/* A recipient that does not read while others chat: its queue passed --max-backlog. Drop
 * what it has not received (memory stays bounded) and close with 1008 (policy violation).
 * Everyone else is unaffected: their queues are their own. */
static void cut_off(struct conn *c)
{
	struct conn_env *env = c->c_env;
	char peer[64];

	c->c_cut_off = true;
	env->ce_metrics.mt_backpressure++;
	log_warn("connection %llu from %s cut off: %zu bytes unsent, over --max-backlog %zu",
	         (unsigned long long)c->c_id, peer_name(c, peer, sizeof peer), c->c_out.oq_bytes,
	         env->ce_config->cf_max_backlog);
	outq_drop_unsent(&c->c_out);
	send_close(c, WS_CLOSE_POLICY, "too slow: unsent data over the server's limit",
	           "cut off for backpressure (--max-backlog)");
}

static void refuse(struct conn *c, int status, const char *reason)
{
	char buf[1024], peer[64];
	size_t n = http_response_error(buf, sizeof buf, status, reason);

	metrics_count_refusal(&c->c_env->ce_metrics, status);
	log_info("connection %llu from %s refused: %d %s", (unsigned long long)c->c_id,
	         peer_name(c, peer, sizeof peer), status, reason);
	queue_new(c, n ? sbuf_from(buf, n) : NULL);
	if (c->c_state != CONN_DEAD)
		begin_close(c);
}

static void on_handshake_timeout(struct loop_timer *t)
{
	struct conn *c = container_of(t, struct conn, c_timer);
	refuse(c, 408, "the request took too long");
}

static void serve_page(struct conn *c, bool head_only)
{
	struct conn_env *env = c->c_env;

	queue(c, env->ce_page_head);
	if (c->c_state != CONN_DEAD && !head_only)
		queue(c, env->ce_page_body);
	if (c->c_state != CONN_DEAD)
		begin_close(c);
}

/* Answers /healthz, /metrics and /stats; the body is rendered for this request. */
static void serve_status(struct conn *c, enum handshake_kind kind, bool head_only)
{
	struct conn_env *env = c->c_env;
	struct metrics_gauges g = {
		.mg_connections = env->ce_conn_count,
		.mg_clients = env->ce_open_count,
		.mg_rooms = hub_room_count(env->ce_hub),
	};
	struct hub_room_info rooms[STATS_MAX_ROOMS];
	const char *type = "text/plain; charset=utf-8";
	char *body = NULL, head[512];
	size_t len = 0, hlen;

	switch (kind) {
	case HANDSHAKE_METRICS:
		type = "text/plain; version=0.0.4; charset=utf-8";
		len = metrics_render_prometheus(&env->ce_metrics, &g, &body);
		break;
	case HANDSHAKE_STATS:
		type = "application/json";
		len = metrics_render_stats(&g, rooms, hub_top_rooms(env->ce_hub, rooms, STATS_MAX_ROOMS),
		                           &body);
		break;
	default:
		body = strdup("ok\n");
		len = body ? 3 : 0;
		break;
	}
	if (len == 0) {
		free(body);
		return refuse(c, 500, "out of memory");
	}
	hlen = http_response_head(head, sizeof head, 200, type, len, NULL);
	queue_new(c, sbuf_from(head, hlen));
	if (c->c_state != CONN_DEAD && !head_only)
		queue_new(c, sbuf_from(body, len));
	free(body);
	if (c->c_state != CONN_DEAD)
		begin_close(c);
}

static void on_keepalive(struct loop_timer *t);

/* Arms the keepalive timer for whichever comes first: the ping (if none is out yet) or
 * the idle deadline. Reads do not touch the timer; they only stamp c_last_rx, and the
 * timer, when it fires early, re-arms itself for the remainder. */
static void arm_keepalive(struct conn *c)
{
	const struct config *cf = c->c_env->ce_config;
	uint64_t now = loop_now(c->c_env->ce_loop), due = UINT64_MAX;

	if (cf->cf_ping_interval_ms != 0 && !c->c_ping_sent)
		due = c->c_last_rx + cf->cf_ping_interval_ms;
	if (cf->cf_idle_timeout_ms != 0 && c->c_last_rx + cf->cf_idle_timeout_ms < due)
		due = c->c_last_rx + cf->cf_idle_timeout_ms;
	if (due == UINT64_MAX)
		return;
	loop_timer_start(c->c_env->ce_loop, &c->c_timer, due > now ? due - now : 1, on_keepalive);
}

static void on_keepalive(struct loop_timer *t)
{
	struct conn *c = container_of(t, struct conn, c_timer);
	const struct config *cf = c->c_env->ce_config;
	uint64_t silent = loop_now(c->c_env->ce_loop) - c->c_last_rx;

	if (cf->cf_idle_timeout_ms != 0 && silent >= cf->cf_idle_timeout_ms) {
		c->c_env->ce_metrics.mt_idle_drops++;
		return destroy(c, "dropped: no frame within --idle-timeout");
	}
	if (cf->cf_ping_interval_ms != 0 && silent >= cf->cf_ping_interval_ms && !c->c_ping_sent) {
		c->c_ping_sent = true;
		queue_control(c, WS_OP_PING, NULL, 0);
		if (c->c_state != CONN_OPEN)
			return;
	}
	arm_keepalive(c);
}

static void upgrade(struct conn *c, const struct handshake_answer *ans)
{
	struct conn_env *env = c->c_env;
	char buf[256], peer[64];
	size_t n;

	if (env->ce_max_clients != 0 && env->ce_open_count >= env->ce_max_clients)
		return refuse(c, 503, "the server is full (--max-clients)");
	n = handshake_format_upgrade(ans, buf, sizeof buf);
	queue_new(c, n ? sbuf_from(buf, n) : NULL);
	if (c->c_state == CONN_DEAD)
		return;
	if (hub_join(env->ce_hub, &c->c_member, ans->ha_room.s_ptr, ans->ha_room.s_len) < 0)
		return destroy(c, "out of memory");
	loop_timer_stop(env->ce_loop, &c->c_timer);
	ws_reader_init(&c->c_reader, env->ce_config->cf_max_message);
	c->c_state = CONN_OPEN;
	c->c_opened = true;
	c->c_last_rx = loop_now(env->ce_loop);
	env->ce_open_count++;
	env->ce_metrics.mt_handshakes++;
	log_info("connection %llu opened from %s, room %.*s", (unsigned long long)c->c_id,
	         peer_name(c, peer, sizeof peer), (int)ans->ha_room.s_len, ans->ha_room.s_ptr);
	arm_keepalive(c);
}

/* Request bytes arrived. The head is parsed straight from the read buffer when it came in
 * one piece (the usual case) and gathered in c_request only when it did not. Bytes after
 * the head (frames a client sent without waiting for our 101) are passed on. */
static void handshake_input(struct conn *c, uint8_t *data, size_t len)
{
	struct http_request req;
	struct handshake_answer ans;
	size_t consumed = 0, spill = 0;
	char *head = (char *)data;
	size_t head_len = len;
	enum http_parse_status st;

	if (c->c_request != NULL || len > HANDSHAKE_MAX_BYTES) {
		if (c->c_request == NULL) {
			c->c_request = malloc(HANDSHAKE_MAX_BYTES);
			if (c->c_request == NULL)
				return destroy(c, "out of memory");
		}
		size_t take = HANDSHAKE_MAX_BYTES - c->c_request_len;
		if (take > len)
			take = len;
		memcpy(c->c_request + c->c_request_len, data, take);
		c->c_request_len += take;
		spill = take; /* data[spill..len) did not fit */
		head = c->c_request;
		head_len = c->c_request_len;
	}

	st = http_parse_request(head, head_len, &req, &consumed);
	switch (st) {
	case HTTP_PARSE_INCOMPLETE:
		if (head_len >= HANDSHAKE_MAX_BYTES)
			return refuse(c, 431, "the request head is larger than 8 KiB");
		if (c->c_request == NULL) {
			c->c_request = malloc(HANDSHAKE_MAX_BYTES);
			if (c->c_request == NULL)
				return destroy(c, "out of memory");
			memcpy(c->c_request, data, len);
			c->c_request_len = len;
		}
		return;
	case HTTP_PARSE_BAD_REQUEST_LINE:
		return refuse(c, 400, "malformed request line");
	case HTTP_PARSE_BAD_HEADER:
		return refuse(c, 400, "malformed header line");
	case HTTP_PARSE_TOO_MANY_HEADERS:
		return refuse(c, 431, "too many header lines");
	case HTTP_PARSE_OK:
		break;
	}

	handshake_answer(&req, &c->c_env->ce_policy, &ans);
	switch (ans.ha_kind) {
	case HANDSHAKE_REFUSE:
		return refuse(c, ans.ha_status, ans.ha_reason);
	case HANDSHAKE_PAGE:
		return serve_page(c, ans.ha_head_only);
	case HANDSHAKE_HEALTHZ:
	case HANDSHAKE_METRICS:
	case HANDSHAKE_STATS:
		return serve_status(c, ans.ha_kind, ans.ha_head_only);
	case HANDSHAKE_UPGRADE:
		break;
	}
	upgrade(c, &ans);
	if (c->c_state != CONN_OPEN)
		return;

	/* Pipelined frames: what followed the head in the gathered bytes, then what did not
	 * fit in them. */
	if (head_len > consumed)
		ws_input(c, (uint8_t *)head + consumed, head_len - consumed);
	if (c->c_state == CONN_OPEN && head == c->c_request && spill < len)
		ws_input(c, data + spill, len - spill);
	free(c->c_request);
	c->c_request = NULL;
	c->c_request_len = 0;
}

static void ws_input(struct conn *c, uint8_t *data, size_t len)
{
	struct ws_event ev;
	size_t used = 0;

	/* Loop until NONE: the final call (with nothing left) also releases a reassembled
	 * message's buffer, so an idle connection holds none. */
	do {
		used += ws_reader_next(&c->c_reader, data + used, len - used, &ev);
		switch (ev.ev_type) {
		case WS_EVENT_NONE:
		case WS_EVENT_PONG: /* unsolicited or not, a pong needs no answer */
			break;
		case WS_EVENT_MESSAGE:
			c->c_env->ce_metrics.mt_messages_in++;
			log_debug("connection %llu: %s message, %zu bytes", (unsigned long long)c->c_id,
			          ev.ev_opcode == WS_OP_TEXT ? "text" : "binary", ev.ev_len);
			if (hub_publish(c->c_env->ce_hub, &c->c_member, ev.ev_opcode, ev.ev_data,
			                ev.ev_len) < 0)
				send_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory", "out of memory");
			break;
		case WS_EVENT_PING:
			queue_control(c, WS_OP_PONG, ev.ev_data, ev.ev_len);
			break;
		case WS_EVENT_CLOSE:
			/* Echo the code (section 5.5.1), or send none if none came. */
			send_close(c, ev.ev_close_code, NULL, "closed by the client");
			break;
		case WS_EVENT_ERROR:
			send_close(c, ev.ev_close_code, ev.ev_error, ev.ev_error);
			break;
		}
	} while (ev.ev_type != WS_EVENT_NONE && c->c_state == CONN_OPEN);
}

/* The peer's side of the stream ended (read returned 0) or failed. */
static void input_ended(struct conn *c, const char *cause)
{
	if (c->c_state == CONN_CLOSING && !outq_empty(&c->c_out)) {
		/* A peer may shut its writing side and still read our reply: finish sending. */
		c->c_peer_eof = true;
		update_interest(c);
		return;
	}
	destroy(c, cause);
}

static void handle_readable(struct conn *c)
{
	struct conn_env *env = c->c_env;
	size_t budget = READ_BUDGET;

	while (budget > 0 && c->c_state != CONN_DEAD && !c->c_peer_eof) {
		ssize_t n = transport_read(&c->c_transport, env->ce_read_buf, env->ce_read_cap);
		if (n == 0)
			return input_ended(c, c->c_state == CONN_LINGER ? "closed"
			                                                : "connection closed by the peer");
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			char cause[96];
			snprintf(cause, sizeof cause, "connection lost: %s", strerror(errno));
			return input_ended(c, c->c_state == CONN_OPEN ? cause : "closed");
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		env->ce_metrics.mt_bytes_in += (size_t)n;
		switch (c->c_state) {
		case CONN_HANDSHAKE:
			handshake_input(c, env->ce_read_buf, (size_t)n);
			break;
		case CONN_OPEN:
			/* Any bytes show the peer is alive (section 5.5.2 allows a pong or any
			 * frame); stamping a time is all a read costs the keepalive. */
			c->c_last_rx = loop_now(env->ce_loop);
			c->c_ping_sent = false;
			ws_input(c, env->ce_read_buf, (size_t)n);
			break;
		case CONN_CLOSING:
		case CONN_LINGER:
		case CONN_DEAD:
			break; /* after a close, input is read and discarded */
		}
		/* A short read means the socket is drained for now; level-triggered epoll will
		 * report it again if more arrives. Saves the read that would say EAGAIN. */
		if ((size_t)n < env->ce_read_cap)
			return;
	}
}

static void flush(struct conn *c)
{
	struct iovec iov[FLUSH_IOV];
	size_t budget = WRITE_BUDGET;

	while (!outq_empty(&c->c_out) && budget > 0) {
		int n = outq_iov(&c->c_out, iov, FLUSH_IOV, budget);
		size_t want = 0;
		for (int i = 0; i < n; i++)
			want += iov[i].iov_len;
		ssize_t w = transport_writev(&c->c_transport, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return destroy(c, c->c_state == CONN_OPEN ? "connection lost while writing"
			                                          : "closed");
		}
		outq_consume(&c->c_out, (size_t)w);
		c->c_env->ce_metrics.mt_bytes_out += (size_t)w;
		budget -= (size_t)w < budget ? (size_t)w : budget;
		if ((size_t)w < want)
			break; /* the socket buffer is full */
	}
	if (outq_empty(&c->c_out) && c->c_state == CONN_CLOSING) {
		if (c->c_peer_eof)
			return destroy(c, "closed");
		/* Everything, our close included, is out: send our FIN and wait for theirs. */
		transport_shutdown_write(&c->c_transport);
		c->c_state = CONN_LINGER;
	}
	update_interest(c);
}

static void on_event(struct loop_watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, c_watch);

	if (c->c_state == CONN_DEAD)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		handle_readable(c);
	if (c->c_state != CONN_DEAD && (events & EPOLLOUT))
		flush(c);
}

static void deliver(struct hub_member *m, struct sbuf *frame)
{
	struct conn *c = container_of(m, struct conn, c_member);

	c->c_env->ce_metrics.mt_frames_out++;
	queue(c, frame);
}

void conn_accept(struct conn_env *env, int fd, const union net_addr *peer)
{
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL) {
		log_error("out of memory: refusing a connection");
		close(fd);
		return;
	}
	transport_init_tcp(&c->c_transport, fd);
	c->c_env = env;
	c->c_id = ++env->ce_next_id;
	c->c_state = CONN_HANDSHAKE;
	c->c_peer = *peer;
	c->c_member.hm_deliver = deliver;
	if (loop_watch_add(env->ce_loop, &c->c_watch, fd, EPOLLIN, on_event) < 0) {
		log_error("cannot watch a new connection: %s", strerror(errno));
		close(fd);
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
	                 on_handshake_timeout);
}

void conn_flush_dirty(struct conn_env *env)
{
	while (env->ce_dirty != NULL) {
		struct conn *c = env->ce_dirty;
		env->ce_dirty = c->c_next_dirty;
		c->c_dirty = false;
		if (c->c_state != CONN_DEAD)
			flush(c);
	}
	while (env->ce_dead != NULL) {
		struct conn *c = env->ce_dead;
		env->ce_dead = c->c_next;
		free(c);
	}
}

void conn_shutdown_all(struct conn_env *env, uint16_t code)
{
	for (struct conn *c = env->ce_all, *next; c != NULL; c = next) {
		next = c->c_next;
		if (c->c_state == CONN_OPEN)
			send_close(c, code, "server shutting down", "server shutting down");
		else if (c->c_state == CONN_HANDSHAKE)
			destroy(c, "server shutting down");
	}
}

void conn_env_free(struct conn_env *env)
{
	while (env->ce_all != NULL)
		destroy(env->ce_all, "server stopped");
	env->ce_dirty = NULL;
	conn_flush_dirty(env);
	if (env->ce_page_head != NULL)
		sbuf_unref(env->ce_page_head);
	if (env->ce_page_body != NULL)
		sbuf_unref(env->ce_page_body);
	free(env->ce_read_buf);
	memset(env, 0, sizeof *env);
}
