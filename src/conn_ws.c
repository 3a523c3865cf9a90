/*
 * The WebSocket phase of a connection: the reader's events, control frames, the close
 * handshake and keepalive. Input arrives from conn.c's reads (or from input held for a
 * later pass, conn_limits.c) and is handled within the pass's budget.
 */
#include <string.h>

#include "conn_internal.h"
#include "container.h"
#include "log.h"

/* A close frame's reason is at most 123 bytes (125 minus the code). */
#define CLOSE_REASON_MAX 123
/* Unsent bytes past which a client counts as behind, and owes pongs instead of getting
 * one per ping: more than any pass of a client that reads gets queued for it. */
#define PONG_BACKLOG ((size_t)16 * 1024)

static const struct chatd_handler *handler_of(const struct conn *c)
{
	return &c->c_env->ce_handlers[c->c_handler];
}

/* The handler's own calls can make deliveries; they count against the pass of whichever
 * client's input caused them (ce_deliveries, read by conn_ws_feed). */
void conn_app_open(struct conn *c)
{
	const struct chatd_handler *h = handler_of(c);
	if (h->h_open != NULL)
		h->h_open((struct chatd_conn *)c, h->h_user);
}

static void conn_app_message(struct conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
	const struct chatd_handler *h = handler_of(c);
	if (h->h_message != NULL)
		h->h_message((struct chatd_conn *)c,
			     opcode == WS_OP_TEXT ? CHATD_TEXT : CHATD_BINARY, data, len,
			     h->h_user);
}

void conn_app_closed(struct conn *c)
{
	const struct chatd_handler *h = handler_of(c);
	if (h->h_close != NULL)
		h->h_close((struct chatd_conn *)c, c->c_close_code ? c->c_close_code : 1006,
			   h->h_user);
}

void conn_app_error(struct conn *c, enum chatd_error error, const char *detail)
{
	const struct chatd_handler *h;

	if (c->c_state != CONN_OPEN)
		return;
	h = handler_of(c);
	if (h->h_error != NULL)
		h->h_error((struct chatd_conn *)c, error, detail, h->h_user);
}

static struct sbuf *control_frame(uint8_t opcode, const uint8_t *payload, size_t len)
{
	struct sbuf *b = sbuf_new(2 + len);
	if (b != NULL) {
		size_t h = frame_encode_header(b->sb_data, true, opcode, len);
		if (len > 0)
			memcpy(b->sb_data + h, payload, len);
	}
	return b;
}

/* Sends a close frame (code 0: none) after everything already queued, and starts closing.
 * The reason goes in the frame and the cause in the log. */
void conn_send_close(struct conn *c, uint16_t code, const char *reason, const char *cause)
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
	conn_queue_new(c, control_frame(WS_OP_CLOSE, payload, len));
	if (c->c_state == CONN_OPEN)
		conn_begin_close(c);
}

/* A recipient that does not read while others chat. Drop what it has not received (memory
 * stays bounded) and close with 1008 (policy violation). Everyone else is unaffected:
 * their queues are their own. */
void conn_cut_off(struct conn *c, enum chatd_error error, const char *why, const char *cause)
{
	char peer[64];

	conn_app_error(c, error, why);
	c->c_cut_off = true;
	log_warn("connection %llu from %s cut off: %zu bytes unsent holding %zu bytes of memory: "
		 "%s",
		 (unsigned long long)c->c_id, conn_peer_name(c, peer, sizeof peer),
		 c->c_out.oq_bytes, c->c_out.oq_cost, cause);
	outq_drop_unsent(&c->c_out);
	conn_send_close(c, WS_CLOSE_POLICY, why, cause);
}

/* A ping is answered in turn while the client keeps up. Behind a backlog the pong would
 * wait anyway, so only the latest ping's is kept until the queue drains (RFC 6455 section
 * 5.5.3 allows answering only the most recent): a client pinging a server it never reads
 * from is owed one pong, in one small buffer, however many pings it sends. */
static void answer_ping(struct conn *c, const uint8_t *payload, size_t len)
{
	struct conn_extra *x;
	struct sbuf *pong;

	if (c->c_out.oq_bytes < PONG_BACKLOG && (c->c_extra == NULL || c->c_extra->cx_pong == NULL))
		return conn_queue_new(c, control_frame(WS_OP_PONG, payload, len));
	x = conn_extra_get(c);
	pong = control_frame(WS_OP_PONG, payload, len);
	if (x == NULL || pong == NULL) {
		if (pong != NULL)
			sbuf_unref(pong);
		conn_app_error(c, CHATD_ERROR_OUT_OF_MEMORY, "out of memory");
		return conn_send_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory",
				       "out of memory");
	}
	if (x->cx_pong != NULL)
		sbuf_unref(x->cx_pong);
	x->cx_pong = pong;
}

bool conn_ws_pong_due(struct conn *c)
{
	struct conn_extra *x = c->c_extra;
	struct sbuf *pong;

	if (x == NULL || x->cx_pong == NULL || !outq_empty(&c->c_out) || c->c_state != CONN_OPEN)
		return false;
	pong = x->cx_pong;
	x->cx_pong = NULL;
	conn_queue_new(c, pong);
	if (c->c_state == CONN_OPEN)
		conn_extra_trim(c);
	return !outq_empty(&c->c_out);
}

size_t conn_ws_feed(struct conn *c, uint8_t *data, size_t len)
{
	struct conn_env *env = c->c_env;
	struct ws_event ev;
	size_t used = 0;
	unsigned frames = 0;
	unsigned long deliveries_before = env->ce_deliveries;

	/* Until NONE: the final call (with nothing left) also releases a reassembled
	 * message's buffer, so an idle connection holds none. */
	for (;;) {
		used += ws_reader_next(&c->c_reader, data + used, len - used, &ev);
		switch (ev.ev_type) {
		case WS_EVENT_NONE:
		case WS_EVENT_PONG: /* unsolicited or not, a pong needs no answer */ break;
		case WS_EVENT_MESSAGE:
			env->ce_metrics.mt_messages_in++;
			log_debug("connection %llu: %s message, %zu bytes",
				  (unsigned long long)c->c_id,
				  ev.ev_opcode == WS_OP_TEXT ? "text" : "binary", ev.ev_len);
			conn_app_message(c, ev.ev_opcode, ev.ev_data, ev.ev_len);
			break;
		case WS_EVENT_PING: answer_ping(c, ev.ev_data, ev.ev_len); break;
		case WS_EVENT_CLOSE:
			/* Echo the code (section 5.5.1), or send none if none came. */
			conn_send_close(c, ev.ev_close_code, NULL, "closed by the client");
			break;
		case WS_EVENT_ERROR:
			conn_app_error(c,
				       ev.ev_close_code == WS_CLOSE_TOO_BIG ? CHATD_ERROR_TOO_LARGE
				       : ev.ev_close_code == WS_CLOSE_INTERNAL_ERROR
					       ? CHATD_ERROR_OUT_OF_MEMORY
					       : CHATD_ERROR_PROTOCOL,
				       ev.ev_error);
			conn_send_close(c, ev.ev_close_code, ev.ev_error, ev.ev_error);
			break;
		}
		if (ev.ev_type == WS_EVENT_NONE || c->c_state != CONN_OPEN)
			return len; /* all handled, or the rest is discarded after a close */
		/* Every frame event counts against the pass and the client's rate, pings as
		 * much as messages. With input left, stop here when either says so. */
		frames++;
		bool over_rate = conn_rate_frame(c);
		if (used < len && (over_rate || frames >= CONN_PASS_FRAMES ||
				   env->ce_deliveries - deliveries_before >= CONN_PASS_DELIVERIES))
			return used;
	}
}

void conn_send_message(struct conn *c, uint8_t opcode, const void *data, size_t len)
{
	size_t header = frame_header_size(len);
	struct sbuf *b = sbuf_new(header + len);

	if (b != NULL) {
		frame_encode_header(b->sb_data, true, opcode, len);
		if (len > 0)
			memcpy(b->sb_data + header, data, len);
	}
	conn_queue_new(c, b);
}

void conn_ws_input(struct conn *c, uint8_t *data, size_t len)
{
	size_t used;

	/* Input already waiting goes first: keep the order. */
	if (conn_input_held(c))
		return conn_hold_input(c, data, len);
	used = conn_ws_feed(c, data, len);
	if (c->c_state != CONN_OPEN)
		return;
	if (used < len)
		conn_hold_input(c, data + used, len - used);
	else
		(void)conn_rate_exceeded(c); /* parks the client when it is over its rate */
}

static void on_timer(struct loop_timer *t);

void conn_arm_keepalive(struct conn *c)
{
	const struct config *cf = c->c_env->ce_config;
	uint64_t now = loop_now(c->c_env->ce_loop), due = UINT64_MAX;
	uint64_t last_rx = now - conn_since(c, c->c_last_rx),
		 last_tx = now - conn_since(c, c->c_last_tx);
	uint32_t wait;

	if (c->c_state != CONN_OPEN)
		return;
	/* A ping each ping-interval of silence: the first after one, the next after two. */
	if (cf->cf_ping_interval_ms != 0)
		due = last_rx + (uint64_t)cf->cf_ping_interval_ms * (c->c_pings_out + 1);
	/* While we hold its input back the client is not silent, we are not listening. */
	if (cf->cf_idle_timeout_ms != 0 && !conn_input_held(c) &&
	    last_rx + cf->cf_idle_timeout_ms < due)
		due = last_rx + cf->cf_idle_timeout_ms;
	if (cf->cf_send_timeout_ms != 0 && !outq_empty(&c->c_out) &&
	    last_tx + cf->cf_send_timeout_ms < due)
		due = last_tx + cf->cf_send_timeout_ms;
	wait = conn_rate_wait_ms(c);
	if (wait != 0 && now + wait < due)
		due = now + wait;
	if (due == UINT64_MAX)
		return loop_timer_stop(c->c_env->ce_loop, &c->c_timer);
	loop_timer_start(c->c_env->ce_loop, &c->c_timer, due > now ? due - now : 1, on_timer);
}

static void on_timer(struct loop_timer *t)
{
	struct conn *c = container_of(t, struct conn, c_timer);
	struct conn_env *env = c->c_env;
	const struct config *cf = env->ce_config;
	uint64_t silent = conn_since(c, c->c_last_rx);

	conn_rate_resume(c);
	if (c->c_state != CONN_OPEN)
		return;
	if (cf->cf_send_timeout_ms != 0 && !outq_empty(&c->c_out) &&
	    conn_since(c, c->c_last_tx) >= cf->cf_send_timeout_ms) {
		env->ce_metrics.mt_send_timeouts++;
		return conn_cut_off(c, CHATD_ERROR_TOO_SLOW,
				    "too slow: nothing read within the server's send timeout",
				    "cut off: its queue did not move within --send-timeout");
	}
	if (cf->cf_idle_timeout_ms != 0 && !conn_input_held(c) &&
	    silent >= cf->cf_idle_timeout_ms) {
		env->ce_metrics.mt_idle_drops++;
		conn_app_error(c, CHATD_ERROR_IDLE, "no frame within the idle timeout");
		return conn_destroy(c, "dropped: no frame within --idle-timeout");
	}
	if (cf->cf_ping_interval_ms != 0 &&
	    silent >= (uint64_t)cf->cf_ping_interval_ms * (c->c_pings_out + 1)) {
		c->c_pings_out++;
		conn_queue_new(c, control_frame(WS_OP_PING, NULL, 0));
		if (c->c_state != CONN_OPEN)
			return;
	}
	conn_arm_keepalive(c);
}
