/*
 * A connection's output: frames queued (corked) as they are delivered, and written with one
 * sendmsg per connection and round.
 *
 * Why a light round is cut into slices (conn_flush_dirty), as measured with bench/latprof
 * (docs/BENCHMARKS.md, "Tail latency"): at 100 clients a round is some 99 writes of 4-5 us
 * each, almost all of it the kernel's loopback path, and a message that came during
 * another's fan-out used to wait for the whole round before it was even read.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "conn_internal.h"
#include "container.h"
#include "membudget.h"
#include "transport.h"

/* Bytes written per flush, and iovecs per sendmsg. */
#define WRITE_BUDGET ((size_t)1024 * 1024)
#define FLUSH_IOV    64
/* A light round of writes is cut every FLUSH_SLICE_NS (the clock read every
 * FLUSH_SLICE_CHECK writes) to read what arrived meanwhile, until the round has admitted
 * FLUSH_SLICED_DELIVERIES deliveries (conn_flush_dirty). Each cut costs a pass of the loop
 * (an epoll_wait and its bookkeeping): cut every 50 us, a 1,000-client round (some 5 ms)
 * took about 10% longer at the p99 (14 runs each); every 200 us there are a quarter as
 * many cuts, and a message arriving during a round still waits at most that long. */
#define FLUSH_SLICE_NS          ((uint64_t)200 * 1000)
#define FLUSH_SLICE_CHECK       8
#define FLUSH_SLICED_DELIVERIES CONN_PASS_DELIVERIES

static void mark_dirty(struct conn *c)
{
	if (c->c_dirty)
		return;
	c->c_dirty = true;
	if (c->c_env->ce_dirty == NULL)
		c->c_env->ce_dirty_bottom = c;
	c->c_next_dirty = c->c_env->ce_dirty;
	c->c_env->ce_dirty = c;
}

/* Queues b (borrowed: the queue takes its own reference or a copy). NULL means a failed
 * allocation upstream, which ends the connection. A client whose queue holds more memory
 * than --max-backlog is cut off: this is the one place that bound is checked, and it
 * counts what the queue costs, not the bytes it will put on the wire. */
void conn_queue(struct conn *c, struct sbuf *b)
{
	if (outq_empty(&c->c_out))
		c->c_last_tx = conn_now32(c);
	if (b == NULL || outq_append(&c->c_out, b) < 0) {
		conn_destroy(c, "out of memory");
		return;
	}
	mark_dirty(c);
	if (c->c_out.oq_cost > c->c_env->ce_config->cf_max_backlog && c->c_state == CONN_OPEN &&
	    !c->c_cut_off) {
		c->c_env->ce_metrics.mt_backpressure++;
		conn_cut_off(c, CHATD_ERROR_TOO_SLOW,
			     "too slow: unsent data over the server's limit",
			     "cut off for backpressure (--max-backlog)");
	}
}

/* Queues a buffer the caller just made, handing over the caller's reference. */
void conn_queue_new(struct conn *c, struct sbuf *b)
{
	conn_queue(c, b);
	if (b != NULL)
		sbuf_unref(b);
}

void conn_flush(struct conn *c)
{
	struct iovec iov[FLUSH_IOV];
	size_t budget = WRITE_BUDGET;

	while (budget > 0 && (!outq_empty(&c->c_out) || conn_ws_pong_due(c))) {
		int n = outq_iov(&c->c_out, iov, FLUSH_IOV, budget);
		size_t want = 0;
		for (int i = 0; i < n; i++)
			want += iov[i].iov_len;
		ssize_t w = transport_writev(&c->c_transport, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_app_error(c, CHATD_ERROR_CONNECTION, "connection lost while writing");
			return conn_destroy(c, c->c_state == CONN_OPEN
						       ? "connection lost while writing"
						       : "closed");
		}
		outq_consume(&c->c_out, (size_t)w);
		c->c_env->ce_metrics.mt_bytes_out += (size_t)w;
		if (w > 0)
			c->c_last_tx = conn_now32(c);
		budget -= (size_t)w < budget ? (size_t)w : budget;
		if ((size_t)w < want)
			break; /* the socket buffer is full */
	}
	/* The queue may be empty while the transport still holds bytes (a TLS record the
	 * socket had no room for): push them, and close only once they are out. */
	if (outq_empty(&c->c_out) && transport_wants(&c->c_transport) != 0 &&
	    transport_writev(&c->c_transport, NULL, 0) < 0 && errno != EAGAIN)
		return conn_destroy(c, "closed");
	if (outq_empty(&c->c_out) && c->c_state == CONN_CLOSING &&
	    transport_wants(&c->c_transport) == 0) {
		if (c->c_peer_eof)
			return conn_destroy(c, "closed");
		/* Everything, our close included, is out: send our FIN and wait for theirs. */
		transport_shutdown_write(&c->c_transport);
		c->c_state = CONN_LINGER;
	}
	/* Output is stuck: make sure the timer comes back by the send timeout's deadline
	 * (it may be set for a ping due much later). */
	uint32_t send_timeout = c->c_env->ce_config->cf_send_timeout_ms;
	if (c->c_state == CONN_OPEN && !outq_empty(&c->c_out) && send_timeout != 0 &&
	    (!loop_timer_armed(&c->c_timer) ||
	     c->c_timer.lt_expires >
		     loop_now(c->c_env->ce_loop) - conn_since(c, c->c_last_tx) + send_timeout))
		conn_arm_keepalive(c);
	conn_update_interest(c);
}

void conn_deliver(struct hub_member *m, struct sbuf *frame)
{
	struct conn *c = container_of(m, struct conn, c_member);

	/* A client closing (an on_close handler broadcasting to its own room) gets nothing
	 * after its close frame. */
	if (c->c_state != CONN_OPEN)
		return;
	c->c_env->ce_metrics.mt_frames_out++;
	conn_queue(c, frame);
}

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ends this pass's part of a round: the stack of connections not yet written goes behind
 * the round's older remainder, so that whatever the next pass dirties (pushed on a fresh
 * stack) is written after both. */
static void cut_round(struct conn_env *env)
{
	env->ce_metrics.mt_rounds_split++;
	if (env->ce_dirty == NULL)
		return;
	if (env->ce_carry == NULL)
		env->ce_carry = env->ce_dirty;
	else
		env->ce_carry_tail->c_next_dirty = env->ce_dirty;
	env->ce_carry_tail = env->ce_dirty_bottom;
	env->ce_dirty = NULL;
}

/* Writes the dirty connections' queues: what a cut round left first, then those dirtied
 * since, the most recently written to first (a stack: their queues are still in the cache;
 * in the order they were dirtied, fan-out at 1,000 clients fell from 7 to 4 million
 * deliveries/s). A round (one write for each
 * dirty connection) of a light load is cut into slices of FLUSH_SLICE_NS, and between two
 * slices the loop reads what arrived meanwhile: a message that comes in during another's
 * fan-out is read at once and rides in the same write to every recipient not yet reached,
 * instead of waiting for the whole round (at 100 recipients, some 400 us). Under load the
 * round is not cut, so each write still carries every frame queued since the last one:
 * slicing stops once the round has admitted FLUSH_SLICED_DELIVERIES deliveries, one pass's
 * worth of a client's input (CONN_PASS_DELIVERIES), which keeps the per-pass bound
 * meaningful. Returns true when the loop must not sleep: a round is unfinished or input is
 * held. */
bool conn_flush_dirty(struct conn_env *env)
{
	/* Input held from earlier passes first: its frames were read before anything this
	 * pass's flush could answer. */
	bool more = conn_resume_held(env);
	bool sliced;
	uint64_t start;
	unsigned flushed = 0;

	/* A round is cut only if it began when the loop was idle (its wait slept): a busy
	 * loop, whose waits find events ready, writes whole rounds and keeps its batches. */
	if (env->ce_carry == NULL && env->ce_dirty != NULL)
		env->ce_round_sliced = loop_was_idle(env->ce_loop);
	sliced = env->ce_round_sliced &&
		 env->ce_deliveries - env->ce_round_from <= FLUSH_SLICED_DELIVERIES;
	start = sliced ? clock_ns() : 0;

	for (;;) {
		struct conn *c;
		if (env->ce_carry != NULL) { /* what a cut round left goes first: it is older */
			c = env->ce_carry;
			env->ce_carry = c->c_next_dirty;
		} else if (env->ce_dirty != NULL) {
			c = env->ce_dirty;
			env->ce_dirty = c->c_next_dirty;
		} else {
			break;
		}
		c->c_dirty = false;
		if (c->c_state != CONN_DEAD)
			conn_flush(c);
		if (sliced && ++flushed % FLUSH_SLICE_CHECK == 0 &&
		    (env->ce_carry != NULL || env->ce_dirty != NULL) &&
		    clock_ns() - start >= FLUSH_SLICE_NS) {
			cut_round(env);
			more = true;
			break;
		}
	}
	if (env->ce_carry == NULL && env->ce_dirty == NULL)
		env->ce_round_from = env->ce_deliveries;
	conn_enforce_budget(env);
	conn_free_dead(env);
	if (membudget_should_return(loop_now(env->ce_loop))) {
		/* A burst is over. The buffers kept for reuse are scattered through the heap,
		 * each pinning its page: let them go too, the pools refill on demand. */
		sbuf_release_cache();
		outq_release_cache();
		membudget_trim();
	}
	return more;
}
