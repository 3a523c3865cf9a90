/*
 * The resource model of a connection: what it costs, what it may hold back, how fast it
 * may talk. One function computes a connection's cost (conn_memory) and every limit reads
 * it or the process-wide sum kept by membudget.
 *
 *   per client   --max-backlog bounds the memory its queue holds (conn.c, conn_queue);
 *   per process  --max-memory bounds every client's buffers together: past it, the clients
 *                holding the most are cut off first (conn_enforce_budget), the way Redis 7
 *                evicts clients under maxmemory-clients. Clients that keep up lose nothing.
 *   per pass     one client's input causes at most CONN_PASS_FRAMES frames and
 *                CONN_PASS_DELIVERIES deliveries; the rest is held and resumed next pass;
 *   per second   --rate-limit and --rate-limit-bytes: a client over its rate is parked,
 *                its socket left unread until its buckets refill ("fake lag"), so TCP
 *                pushes back on that sender alone; only one kept over its rate for
 *                --flood-timeout is closed.
 */
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "log.h"
#include "membudget.h"

/* Clients cut off per pass at most while over the budget; the rest waits a pass, so one
 * pass never walks the connections more than once. */
#define EVICT_PER_PASS 16

static size_t extra_cost(const struct conn_extra *x)
{
	return membudget_block(sizeof *x) + (x->cx_held ? membudget_block(x->cx_held_cap) : 0) +
	       (x->cx_pong ? sbuf_cost(x->cx_pong) : 0);
}

size_t conn_memory(const struct conn *c)
{
	size_t n = membudget_block(sizeof *c) + c->c_out.oq_cost + ws_reader_memory(&c->c_reader);

	if (c->c_request != NULL)
		n += membudget_block(c->c_request_cap);
	if (c->c_extra != NULL)
		n += extra_cost(c->c_extra);
	/* A TLS session's own buffers and state (0 for plain TCP). */
	return n + transport_memory(&c->c_transport);
}

struct conn_extra *conn_extra_get(struct conn *c)
{
	struct conn_extra *x = c->c_extra;

	if (x != NULL)
		return x;
	x = calloc(1, sizeof *x);
	if (x == NULL)
		return NULL;
	membudget_charge(membudget_block(sizeof *x));
	x->cx_conn = c;
	c->c_extra = x;
	return x;
}

static void free_held(struct conn_extra *x)
{
	if (x->cx_held != NULL)
		membudget_release(membudget_block(x->cx_held_cap));
	free(x->cx_held);
	x->cx_held = NULL;
	x->cx_held_len = x->cx_held_off = x->cx_held_cap = 0;
}

static void free_extra(struct conn_extra *x)
{
	free_held(x);
	if (x->cx_pong != NULL)
		sbuf_unref(x->cx_pong);
	membudget_release(membudget_block(sizeof *x));
	free(x);
}

void conn_extra_free(struct conn *c)
{
	struct conn_extra *x = c->c_extra;

	if (x == NULL)
		return;
	c->c_extra = NULL;
	if (x->cx_on_ready) {
		/* Still linked from the ready list: empty it and leave it for the walk. */
		free_held(x);
		if (x->cx_pong != NULL)
			sbuf_unref(x->cx_pong);
		x->cx_pong = NULL;
		x->cx_conn = NULL;
		return;
	}
	free_extra(x);
}

void conn_extra_trim(struct conn *c)
{
	struct conn_extra *x = c->c_extra;

	if (x != NULL && !x->cx_on_ready && !x->cx_parked && x->cx_pong == NULL &&
	    x->cx_held_len == x->cx_held_off && x->cx_flood_since == 0) {
		c->c_extra = NULL;
		free_extra(x);
	}
}

static void ready_add(struct conn_env *env, struct conn_extra *x)
{
	if (x->cx_on_ready)
		return;
	x->cx_on_ready = true;
	x->cx_next_ready = env->ce_ready;
	env->ce_ready = x;
}

void conn_hold_input(struct conn *c, const uint8_t *data, size_t len)
{
	struct conn_extra *x;
	size_t have;

	if (len == 0)
		return;
	x = conn_extra_get(c);
	if (x == NULL)
		goto oom;
	have = x->cx_held_len - x->cx_held_off;
	if (have + len > x->cx_held_cap) {
		/* At most one read's worth plus a pass's remainder: small, and freed as soon
		 * as it is handled. */
		uint8_t *p = malloc(have + len);
		if (p == NULL)
			goto oom;
		if (have > 0)
			memcpy(p, x->cx_held + x->cx_held_off, have);
		free_held(x);
		x->cx_held = p;
		x->cx_held_cap = have + len;
		membudget_charge(membudget_block(x->cx_held_cap));
	} else if (x->cx_held_off > 0) {
		memmove(x->cx_held, x->cx_held + x->cx_held_off, have);
	}
	memcpy(x->cx_held + have, data, len);
	x->cx_held_off = 0;
	x->cx_held_len = have + len;
	if (!conn_rate_exceeded(c))
		ready_add(c->c_env, x);
	conn_update_interest(c);
	return;
oom:
	conn_app_error(c, CHATD_ERROR_OUT_OF_MEMORY, "out of memory");
	conn_send_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory", "out of memory");
}

bool conn_resume_held(struct conn_env *env)
{
	struct conn_extra *list = env->ce_ready;

	env->ce_ready = NULL;
	while (list != NULL) {
		struct conn_extra *x = list;
		struct conn *c = x->cx_conn;
		size_t used;

		list = x->cx_next_ready;
		x->cx_on_ready = false;
		if (c == NULL) {
			free_extra(x); /* its connection ended while it waited */
			continue;
		}
		if (c->c_state != CONN_OPEN || x->cx_parked)
			continue; /* a parked client is resumed by its timer */
		used = conn_ws_feed(c, x->cx_held + x->cx_held_off,
				    x->cx_held_len - x->cx_held_off);
		if (c->c_state != CONN_OPEN)
			continue; /* closing freed the extra state */
		x->cx_held_off += used;
		if (x->cx_held_off == x->cx_held_len)
			free_held(x);
		if (conn_rate_exceeded(c))
			continue; /* parked; the timer brings it back */
		if (x->cx_held != NULL) {
			ready_add(env, x);
			continue;
		}
		conn_update_interest(c); /* read the socket again */
		conn_extra_trim(c);
	}
	return env->ce_ready != NULL;
}

void conn_rate_bytes(struct conn *c, size_t n)
{
	const struct ratelimit_policy *p = &c->c_env->ce_config->cf_rate;

	ratelimit_refill(&c->c_rate, p, conn_now32(c));
	/* Full buckets mean the client has been within its rate for a while: a flood
	 * episode, if there was one, is over. */
	if (c->c_extra != NULL && c->c_extra->cx_flood_since != 0 &&
	    ratelimit_full(&c->c_rate, p)) {
		c->c_extra->cx_flood_since = 0;
		conn_extra_trim(c);
	}
	ratelimit_take_bytes(&c->c_rate, p, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
}

bool conn_rate_frame(struct conn *c)
{
	const struct ratelimit_policy *p = &c->c_env->ce_config->cf_rate;

	ratelimit_take_message(&c->c_rate, p);
	return !ratelimit_ready(&c->c_rate, p);
}

bool conn_rate_exceeded(struct conn *c)
{
	struct conn_env *env = c->c_env;
	const struct config *cf = env->ce_config;
	struct conn_extra *x;
	uint64_t now = loop_now(env->ce_loop);

	ratelimit_refill(&c->c_rate, &cf->cf_rate, conn_now32(c));
	if (ratelimit_ready(&c->c_rate, &cf->cf_rate))
		return false;
	x = conn_extra_get(c);
	if (x == NULL) {
		conn_app_error(c, CHATD_ERROR_OUT_OF_MEMORY, "out of memory");
		conn_send_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory", "out of memory");
		return true;
	}
	if (x->cx_flood_since == 0)
		x->cx_flood_since = now ? now : 1;
	if (cf->cf_flood_timeout_ms != 0 && now - x->cx_flood_since >= cf->cf_flood_timeout_ms) {
		env->ce_metrics.mt_flood_closes++;
		conn_app_error(c, CHATD_ERROR_FLOODING, "over the rate limit for too long");
		conn_send_close(c, WS_CLOSE_POLICY, "flooding: over the rate limit for too long",
				"closed for flooding (over --rate-limit for --flood-timeout)");
		return true;
	}
	if (!x->cx_parked) {
		x->cx_parked = true;
		env->ce_metrics.mt_rate_limited++;
		conn_update_interest(c);
	}
	conn_arm_keepalive(c);
	return true;
}

uint32_t conn_rate_wait_ms(const struct conn *c)
{
	if (c->c_extra == NULL || !c->c_extra->cx_parked)
		return 0;
	return ratelimit_wait_ms(&c->c_rate, &c->c_env->ce_config->cf_rate);
}

void conn_rate_resume(struct conn *c)
{
	struct conn_extra *x = c->c_extra;
	const struct ratelimit_policy *p = &c->c_env->ce_config->cf_rate;

	if (x == NULL || c->c_state != CONN_OPEN)
		return;
	ratelimit_refill(&c->c_rate, p, conn_now32(c));
	if (x->cx_parked) {
		if (!ratelimit_ready(&c->c_rate, p))
			return;
		x->cx_parked = false;
		if (x->cx_held != NULL)
			ready_add(c->c_env, x); /* resumed this pass, before the flush */
		else
			conn_update_interest(c);
	}
	if (x->cx_flood_since != 0 && ratelimit_full(&c->c_rate, p))
		x->cx_flood_since = 0;
	conn_extra_trim(c);
}

/* Inserts c into top (sorted by cost, largest first, n of max used). */
static size_t keep_largest(struct conn **top, size_t *cost, size_t n, size_t max, struct conn *c,
			   size_t m)
{
	size_t i;

	if (n == max && m <= cost[n - 1])
		return n;
	i = n < max ? n++ : n - 1;
	while (i > 0 && cost[i - 1] < m) {
		top[i] = top[i - 1];
		cost[i] = cost[i - 1];
		i--;
	}
	top[i] = c;
	cost[i] = m;
	return n;
}

void conn_enforce_budget(struct conn_env *env)
{
	struct conn *top[EVICT_PER_PASS];
	size_t cost[EVICT_PER_PASS], n = 0, base = membudget_block(sizeof(struct conn));

	if (membudget_used() <= env->ce_max_memory)
		return;
	/* One walk, only while over the budget: a rare state, and Redis's eviction walks
	 * too. A connection that holds nothing but its struct is never a candidate. */
	for (struct conn *c = env->ce_all; c != NULL; c = c->c_next) {
		size_t m = conn_memory(c);
		if (m > base && c->c_state != CONN_LINGER)
			n = keep_largest(top, cost, n, EVICT_PER_PASS, c, m);
	}
	for (size_t i = 0; i < n && membudget_used() > env->ce_max_memory; i++) {
		struct conn *c = top[i];
		char peer[64];
		env->ce_metrics.mt_evictions++;
		log_warn("connection %llu from %s holds %zu bytes, the most while chatd is over "
			 "--max-memory (%zu of %zu bytes used): cut off",
			 (unsigned long long)c->c_id, conn_peer_name(c, peer, sizeof peer), cost[i],
			 membudget_used(), env->ce_max_memory);
		if (c->c_state == CONN_OPEN)
			conn_cut_off(c, CHATD_ERROR_OUT_OF_MEMORY, "server memory budget exceeded",
				     "cut off: over --max-memory, holding the most");
		else
			conn_destroy(c, "evicted: over --max-memory, holding the most");
	}
}
