/*
 * The HTTP phase of a connection: gather the request head, decide the answer (handshake.c
 * does that), then send the page, a status endpoint or an error and close, or switch to
 * WebSocket and join the room.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "container.h"
#include "handshake.h"
#include "http.h"
#include "http_response.h"
#include "log.h"
#include "membudget.h"
#include "page.h"

/* Rooms listed by /stats: the most populated. */
#define STATS_MAX_ROOMS 50
/* The first allocation for a request head that did not arrive in one read. */
#define REQUEST_MIN_CAP 256

_Static_assert(HANDSHAKE_ROOM_MAX <= HUB_ROOM_NAME_MAX, "the hub must hold every valid room");

/* Answers status and closes. head_only: the request was HEAD, so the head alone. */
static void refuse_request(struct conn *c, int status, const char *reason, bool head_only)
{
	char buf[1024], peer[64];
	size_t n = head_only ? http_response_error_head(buf, sizeof buf, status, reason)
			     : http_response_error(buf, sizeof buf, status, reason);

	metrics_count_refusal(&c->c_env->ce_metrics, status);
	log_info("connection %llu from %s refused: %d %s", (unsigned long long)c->c_id,
		 conn_peer_name(c, peer, sizeof peer), status, reason);
	conn_queue_new(c, n ? sbuf_from(buf, n) : NULL);
	if (c->c_state != CONN_DEAD)
		conn_begin_close(c);
}

/* A refusal before the method is known (or of a request that is not HEAD). */
static void refuse(struct conn *c, int status, const char *reason)
{
	refuse_request(c, status, reason, false);
}

void conn_http_timeout(struct loop_timer *t)
{
	struct conn *c = container_of(t, struct conn, c_timer);
	refuse(c, 408, "the request took too long");
}

struct sbuf *conn_http_page_body(size_t max_message)
{
	static const char marker[] = "<meta name=\"chatd-max-message\" content=\"";
	const char *page = (const char *)page_html, *at, *end = NULL;
	char value[24];
	size_t head, tail, vlen;
	struct sbuf *b;

	at = memmem(page, page_html_len, marker, sizeof marker - 1);
	if (at != NULL) {
		head = (size_t)(at - page) + sizeof marker - 1;
		end = memchr(page + head, '"', page_html_len - head);
	}
	if (end == NULL) /* a page without the meta: served as it is */
		return sbuf_from(page_html, page_html_len);
	tail = page_html_len - (size_t)(end - page);
	vlen = (size_t)snprintf(value, sizeof value, "%zu", max_message);
	b = sbuf_new(head + vlen + tail);
	if (b != NULL) {
		memcpy(b->sb_data, page, head);
		memcpy(b->sb_data + head, value, vlen);
		memcpy(b->sb_data + head + vlen, end, tail);
	}
	return b;
}

static void serve_page(struct conn *c, bool head_only)
{
	struct conn_env *env = c->c_env;

	conn_queue(c, env->ce_page_head);
	if (c->c_state != CONN_DEAD && !head_only)
		conn_queue(c, env->ce_page_body);
	if (c->c_state != CONN_DEAD)
		conn_begin_close(c);
}

/* /healthz with a backplane: 503 and the reason while it is down, for load balancers to
 * route around this node and for people to read. Not a refusal: not logged, not counted. */
static void serve_health(struct conn *c, bool head_only)
{
	struct conn_env *env = c->c_env;
	char why[400], buf[1024];
	bool up = env->ce_health(env->ce_health_arg, why, sizeof why - 1);
	size_t len = up ? 3 : strlen(why) + 1;
	size_t hlen = http_response_head(buf, sizeof buf, up ? 200 : 503,
					 "text/plain; charset=utf-8", len, NULL);

	if (!up)
		memcpy(why + len - 1, "\n", 2); /* the byte kept back above */
	conn_queue_new(c, sbuf_from(buf, hlen));
	if (c->c_state != CONN_DEAD && !head_only)
		conn_queue_new(c, sbuf_from(up ? "ok\n" : why, len));
	if (c->c_state != CONN_DEAD)
		conn_begin_close(c);
}

/* Answers /healthz, /online/ROOM, /metrics and /stats; the body is rendered for this
 * request. */
static void serve_status(struct conn *c, const struct handshake_answer *ans)
{
	struct conn_env *env = c->c_env;
	struct metrics_gauges g;
	struct hub_room_info rooms[STATS_MAX_ROOMS];
	const char *type = "application/json", *text = "ok\n";
	char *body = NULL, head[512], count[HUB_ROOM_NAME_MAX + 64];
	size_t len = 3, hlen;

	if (ans->ha_kind == HANDSHAKE_HEALTHZ && env->ce_health != NULL)
		return serve_health(c, ans->ha_head_only);
	conn_env_gauges(env, &g);
	switch (ans->ha_kind) {
	case HANDSHAKE_METRICS:
		type = "text/plain; version=0.0.4; charset=utf-8";
		len = metrics_render_prometheus(&env->ce_metrics, &g, &body);
		text = body;
		break;
	case HANDSHAKE_STATS:
		len = metrics_render_stats(
			&g, rooms, hub_top_rooms(env->ce_hub, rooms, STATS_MAX_ROOMS), &body);
		text = body;
		break;
	case HANDSHAKE_ONLINE:
		/* One room, looked up by name: no other room's name or size is revealed. */
		len = metrics_render_room(
			ans->ha_room.s_ptr, ans->ha_room.s_len,
			hub_room_members(env->ce_hub, ans->ha_room.s_ptr, ans->ha_room.s_len),
			count, sizeof count);
		text = count;
		break;
	default: type = "text/plain; charset=utf-8"; break;
	}
	if (len == 0)
		return refuse(c, 500, "out of memory");
	hlen = http_response_head(head, sizeof head, 200, type, len, NULL);
	conn_queue_new(c, sbuf_from(head, hlen));
	if (c->c_state != CONN_DEAD && !ans->ha_head_only)
		conn_queue_new(c, sbuf_from(text, len));
	free(body);
	if (c->c_state != CONN_DEAD)
		conn_begin_close(c);
}

/* The handler's on_open, with the request's query string at hand (chatd_conn_query):
 * copied to be NUL-terminated into the env's buffer, which any head fits, and only for as
 * long as on_open runs, since the request is gone after it. */
static void open_handler(struct conn *c, const struct handshake_answer *ans)
{
	struct conn_env *env = c->c_env;
	size_t n = ans->ha_query.s_len < HANDSHAKE_MAX_BYTES ? ans->ha_query.s_len : 0;

	env->ce_opening = c;
	env->ce_opening_has_query = ans->ha_query.s_ptr != NULL;
	if (ans->ha_query.s_ptr != NULL && n > 0)
		memcpy(env->ce_opening_query, ans->ha_query.s_ptr, n);
	env->ce_opening_query[n] = '\0';
	conn_app_open(c);
	env->ce_opening = NULL;
}

static void upgrade(struct conn *c, const struct handshake_answer *ans)
{
	struct conn_env *env = c->c_env;
	char buf[256], peer[64];
	size_t n;

	if (env->ce_max_clients != 0 && env->ce_open_count >= env->ce_max_clients)
		return refuse(c, 503, "the server is full (--max-clients)");
	n = handshake_format_upgrade(ans, buf, sizeof buf);
	conn_queue_new(c, n ? sbuf_from(buf, n) : NULL);
	/* The 101 goes out now, not with the pass's other writes: a handler's on_open may
	 * queue more than --max-backlog (a long history), and the cut-off that follows drops
	 * what is unsent, which must not include the answer the client is waiting for. */
	if (c->c_state != CONN_DEAD)
		conn_flush(c);
	if (c->c_state == CONN_DEAD)
		return;
	if (hub_join(env->ce_hub, &c->c_member, ans->ha_room.s_ptr, ans->ha_room.s_len) < 0)
		return conn_destroy(c, "out of memory");
	loop_timer_stop(env->ce_loop, &c->c_timer);
	ws_reader_init(&c->c_reader, env->ce_config->cf_max_message);
	c->c_handler = ans->ha_protocol_index >= 0
			       ? env->ce_protocol_handler[ans->ha_protocol_index]
			       : (uint8_t)env->ce_default;
	conn_handshake_done(c);
	c->c_state = CONN_OPEN;
	c->c_opened = true;
	c->c_last_rx = c->c_last_tx = conn_now32(c);
	ratelimit_init(&c->c_rate, &env->ce_config->cf_rate, c->c_last_rx);
	env->ce_open_count++;
	env->ce_metrics.mt_handshakes++;
	log_info("connection %llu opened from %s, room %.*s%s%s", (unsigned long long)c->c_id,
		 conn_peer_name(c, peer, sizeof peer), (int)ans->ha_room.s_len, ans->ha_room.s_ptr,
		 ans->ha_protocol ? ", subprotocol " : "",
		 ans->ha_protocol ? ans->ha_protocol : "");
	conn_arm_keepalive(c);
	open_handler(c, ans);
}

/* Makes room for need bytes of request head (at most HANDSHAKE_MAX_BYTES). The buffer
 * grows by doubling from REQUEST_MIN_CAP: a connection that sent half a request line
 * holds a few hundred bytes, not 8 KiB, and a head trickled a byte at a time costs six
 * reallocations. 0, or -1 when memory runs out. */
static int request_reserve(struct conn *c, size_t need)
{
	size_t cap = REQUEST_MIN_CAP;
	char *p;

	if (c->c_request != NULL) {
		if (need <= c->c_request_cap)
			return 0;
		cap = c->c_request_cap;
	}
	while (cap < need)
		cap *= 2;
	if (cap > HANDSHAKE_MAX_BYTES)
		cap = HANDSHAKE_MAX_BYTES;
	p = realloc(c->c_request, cap);
	if (p == NULL)
		return -1;
	/* Charged to the budget at what it costs, as it grows. */
	if (c->c_request != NULL)
		membudget_release(membudget_block(c->c_request_cap));
	membudget_charge(membudget_block(cap));
	c->c_request = p;
	c->c_request_cap = (uint32_t)cap;
	return 0;
}

void conn_http_free_request(struct conn *c)
{
	if (c->c_request == NULL)
		return;
	membudget_release(membudget_block(c->c_request_cap));
	free(c->c_request);
	c->c_request = NULL;
	c->c_request_len = 0;
	c->c_request_cap = 0;
}

/* Request bytes arrived. The head is parsed straight from the read buffer when it came in
 * one piece (the usual case) and gathered in c_request only when it did not. Bytes after
 * the head (frames a client sent without waiting for our 101) are passed on. */
void conn_http_input(struct conn *c, uint8_t *data, size_t len)
{
	struct http_request req;
	struct handshake_answer ans;
	size_t consumed = 0, spill = 0;
	char *head = (char *)data;
	size_t head_len = len;
	enum http_parse_status st;

	if (c->c_request != NULL || len > HANDSHAKE_MAX_BYTES) {
		size_t take = HANDSHAKE_MAX_BYTES - c->c_request_len;
		if (take > len)
			take = len;
		if (request_reserve(c, c->c_request_len + take) < 0)
			return conn_destroy(c, "out of memory");
		memcpy(c->c_request + c->c_request_len, data, take);
		c->c_request_len += (uint32_t)take;
		spill = take; /* data[spill..len) did not fit */
		head = c->c_request;
		head_len = c->c_request_len;
		/* Nothing can complete the head without a line end: parse again only when one
		 * arrives, so a request trickled a byte at a time costs O(lines x size), not
		 * O(size^2). The first read is always parsed, which reports garbage at once. */
		if (memchr(data, '\n', len) == NULL && head_len < HANDSHAKE_MAX_BYTES)
			return;
	}

	st = http_parse_request(head, head_len, &req, &consumed);
	switch (st) {
	case HTTP_PARSE_INCOMPLETE:
		if (head_len >= HANDSHAKE_MAX_BYTES)
			return refuse(c, 431, "the request head is larger than 8 KiB");
		if (c->c_request == NULL) {
			if (request_reserve(c, len) < 0)
				return conn_destroy(c, "out of memory");
			memcpy(c->c_request, data, len);
			c->c_request_len = (uint32_t)len;
		}
		return;
	case HTTP_PARSE_BAD_REQUEST_LINE: return refuse(c, 400, "malformed request line");
	case HTTP_PARSE_BAD_HEADER: return refuse(c, 400, "malformed header line");
	case HTTP_PARSE_TOO_MANY_HEADERS: return refuse(c, 431, "too many header lines");
	case HTTP_PARSE_OK: break;
	}

	handshake_answer(&req, c->c_admin ? &c->c_env->ce_admin_policy : &c->c_env->ce_policy,
			 &ans);
	switch (ans.ha_kind) {
	case HANDSHAKE_REFUSE:
		return refuse_request(c, ans.ha_status, ans.ha_reason, ans.ha_head_only);
	case HANDSHAKE_PAGE: return serve_page(c, ans.ha_head_only);
	case HANDSHAKE_HEALTHZ:
	case HANDSHAKE_ONLINE:
	case HANDSHAKE_METRICS:
	case HANDSHAKE_STATS: return serve_status(c, &ans);
	case HANDSHAKE_UPGRADE: break;
	}
	upgrade(c, &ans);
	if (c->c_state != CONN_OPEN)
		return;

	/* Pipelined frames: what followed the head in the gathered bytes, then what did not
	 * fit in them. */
	if (head_len > consumed)
		conn_ws_input(c, (uint8_t *)head + consumed, head_len - consumed);
	if (c->c_state == CONN_OPEN && head == c->c_request && spill < len)
		conn_ws_input(c, data + spill, len - spill);
	conn_http_free_request(c);
}
