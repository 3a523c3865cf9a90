/*
 * fanout mode: N clients, the first S of them senders. Every message goes to every other
 * client, so each message makes N-1 deliveries.
 *
 * Closed loop (the default): each sender keeps K messages outstanding; a message stops
 * being outstanding when the observer, the last client (never a sender), has received it.
 * The load then adjusts itself to what the server sustains. Open loop (--rate R): the
 * senders send R messages per second in all, in turn, whatever happens to them.
 *
 * Phases: warm-up, then the measured window, then each sender sends an end marker and we
 * wait for every marker to reach every other client. Only deliveries received in the window
 * count towards deliveries/s, and only messages sent in it towards latency; every message
 * counts towards "missing": each receiver tracks the next sequence number it expects from
 * each sender, so a gap, or a tail never received by the end, is a lost delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "payload.h"
#include "sysinfo.h"

/* How long the end markers may take to reach everyone once sending stops. */
#define DRAIN_TIMEOUT_NS (15 * 1000000000ULL)

enum fanout_phase {
	PHASE_CONNECTING,
	PHASE_SENDING,
	PHASE_DRAINING,
};

struct fanout {
	const struct options *f_opt;
	struct pool f_pool;
	size_t f_senders;
	uint32_t f_observer; /* closed loop: whose receipt completes a message */
	uint8_t *f_payload;  /* scratch message; owned */
	enum fanout_phase f_phase;
	uint64_t f_start_ns, f_window_start_ns, f_window_end_ns;

	uint64_t *f_sent;        /* per sender: messages sent, which is the next sequence number */
	uint32_t *f_outstanding; /* per sender, closed loop: sent but not yet at the observer */
	uint64_t *f_expect;      /* [receiver * senders + sender]: next sequence number expected */
	uint64_t f_ends_seen, f_ends_expected;
	uint64_t f_open_loop_sent; /* open loop: messages sent so far, to pace against */

	uint64_t f_sent_in_window, f_delivered_in_window, f_delivered_total;
	uint64_t f_gaps, f_reordered, f_foreign;
	struct hist f_latency; /* one-way, for messages sent inside the window */
};

static void send_one(struct fanout *f, uint32_t sender, enum payload_kind kind)
{
	struct payload pl = {
		.pl_kind = (char)kind,
		/* Read the clock here, not at the pass's start: the frame is written within
		 * microseconds, before the next wait. */
		.pl_time_ns = mono_ns(),
		.pl_sender = sender,
		.pl_seq = f->f_sent[sender],
	};

	payload_write_header(f->f_payload, &pl);
	pool_send(&f->f_pool, &f->f_pool.pl_clients[sender], WSP_OP_TEXT, f->f_payload,
		  f->f_opt->o_size);
	if (kind != PAYLOAD_MESSAGE)
		return;
	f->f_sent[sender]++;
	f->f_outstanding[sender]++;
	if (pl.pl_time_ns >= f->f_window_start_ns && pl.pl_time_ns < f->f_window_end_ns)
		f->f_sent_in_window++;
}

/* Closed loop: tops the sender up to K messages outstanding. */
static void refill(struct fanout *f, uint32_t sender)
{
	while (f->f_phase == PHASE_SENDING && f->f_outstanding[sender] < f->f_opt->o_inflight)
		send_one(f, sender, PAYLOAD_MESSAGE);
}

/* Open loop: sends whatever the schedule says is due by now, senders taking turns. Returns
 * the milliseconds until the next message is due. */
static int pace(struct fanout *f)
{
	double elapsed = seconds_between(f->f_start_ns, mono_ns());
	uint64_t due = (uint64_t)(elapsed * f->f_opt->o_rate);

	while (f->f_open_loop_sent < due) {
		send_one(f, (uint32_t)(f->f_open_loop_sent % f->f_senders), PAYLOAD_MESSAGE);
		f->f_open_loop_sent++;
	}
	double next = (double)(f->f_open_loop_sent + 1) / f->f_opt->o_rate - elapsed;
	int ms = (int)(next * 1000.0 + 0.999);
	return ms < 0 ? 0 : ms;
}

/* Sequence bookkeeping for one delivery of a measured message. */
static void track_sequence(struct fanout *f, uint64_t *expect, uint64_t seq)
{
	if (seq == *expect) {
		(*expect)++;
	} else if (seq > *expect) {
		f->f_gaps += seq - *expect; /* never comes: one connection is delivered in order */
		*expect = seq + 1;
	} else {
		f->f_reordered++;
	}
}

static void on_message(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *head,
		       size_t head_len, uint64_t len)
{
	struct fanout *f = p->pl_handlers->ph_arg;
	struct payload pl;
	uint64_t now = pool_now(p);
	(void)opcode;

	if (len != f->f_opt->o_size || !payload_parse(head, head_len, &pl) ||
	    pl.pl_sender >= f->f_senders) {
		f->f_foreign++;
		return;
	}
	if (pl.pl_sender == c->cl_id)
		return; /* our own message, from a server run with --echo */
	if (pl.pl_kind == PAYLOAD_END) {
		f->f_ends_seen++;
		return;
	}
	track_sequence(f, &f->f_expect[(size_t)c->cl_id * f->f_senders + pl.pl_sender], pl.pl_seq);
	f->f_delivered_total++;
	if (now >= f->f_window_start_ns && now < f->f_window_end_ns)
		f->f_delivered_in_window++;
	if (pl.pl_time_ns >= f->f_window_start_ns && pl.pl_time_ns < f->f_window_end_ns)
		hist_record(&f->f_latency, now > pl.pl_time_ns ? now - pl.pl_time_ns : 0);
	if (c->cl_id == f->f_observer) {
		f->f_outstanding[pl.pl_sender]--;
		if (f->f_opt->o_rate == 0)
			refill(f, pl.pl_sender);
	}
}

/* Messages that never reached a receiver by the end: the tail after its last receipt. */
static uint64_t tail_missing(const struct fanout *f)
{
	uint64_t missing = 0;
	size_t clients = f->f_opt->o_clients;

	for (size_t r = 0; r < clients; r++) {
		for (size_t s = 0; s < f->f_senders; s++) {
			uint64_t expect = f->f_expect[r * f->f_senders + s];
			if (r != s && expect < f->f_sent[s])
				missing += f->f_sent[s] - expect;
		}
	}
	return missing;
}

static int check_options(const struct options *o)
{
	if (o->o_senders == 0 || o->o_senders >= o->o_clients) {
		fprintf(stderr,
			"chatbench: fanout needs more clients than senders (one observes)\n");
		return -1;
	}
	if (o->o_senders > UINT32_MAX || o->o_clients > UINT32_MAX) {
		fprintf(stderr, "chatbench: too many clients\n");
		return -1;
	}
	return 0;
}

static void describe(const struct options *o)
{
	printf("fanout: %s", o->o_target.t_url);
	for (size_t i = 0; i < o->o_extra_count; i++)
		printf(" + %s", o->o_extra[i].t_url);
	printf(", %zu clients, %zu senders, %zu-byte text messages, ", o->o_clients, o->o_senders,
	       o->o_size);
	if (o->o_rate > 0)
		printf("open loop at %.0f messages/s in all", o->o_rate);
	else
		printf("closed loop with %zu in flight per sender", o->o_inflight);
	printf(", %.1f s measured after %.1f s of warm-up\n", o->o_duration, o->o_warmup);
}

/* Sends until the window ends: the closed loop runs from the handlers, the open loop here. */
static int send_phase(struct fanout *f, struct cpu_mark *from, struct cpu_mark *to)
{
	const struct options *o = f->f_opt;
	bool marked = false;

	f->f_phase = PHASE_SENDING;
	for (uint32_t s = 0; s < f->f_senders && o->o_rate == 0; s++)
		refill(f, s);
	for (;;) {
		uint64_t now = mono_ns();
		if (!marked && now >= f->f_window_start_ns) {
			cpu_mark_take(o, from);
			marked = true;
		}
		if (now >= f->f_window_end_ns)
			break;
		int timeout = o->o_rate > 0 ? pace(f) : 50;
		if (pool_run_once(&f->f_pool, timeout) < 0 || f->f_pool.pl_lost > 0)
			break;
	}
	if (!marked)
		cpu_mark_take(o, from);
	cpu_mark_take(o, to);
	return f->f_pool.pl_lost > 0 || mono_ns() < f->f_window_end_ns ? -1 : 0;
}

/* Every sender sends its end marker; waits until all have reached every other client. */
static void drain_phase(struct fanout *f)
{
	f->f_phase = PHASE_DRAINING;
	for (uint32_t s = 0; s < f->f_senders; s++)
		send_one(f, s, PAYLOAD_END);
	uint64_t deadline = mono_ns() + DRAIN_TIMEOUT_NS;
	while (f->f_ends_seen < f->f_ends_expected && mono_ns() < deadline)
		if (pool_run_once(&f->f_pool, 50) < 0 || f->f_pool.pl_lost > 0)
			break;
}

static int report(struct fanout *f, const struct cpu_mark *from, const struct cpu_mark *to)
{
	const struct options *o = f->f_opt;
	/* The window is exact (messages are counted by their timestamps); the CPU marks are
	 * taken within a pass of its edges. */
	double secs = o->o_duration;
	double sent_rate = secs > 0 ? (double)f->f_sent_in_window / secs : 0;
	double deliv_rate = secs > 0 ? (double)f->f_delivered_in_window / secs : 0;
	uint64_t missing = f->f_gaps + tail_missing(f);
	double server_cpu, self_cpu;
	struct pool *p = &f->f_pool;

	printf("  sent         %.0f messages/s (%llu in the window)\n", sent_rate,
	       (unsigned long long)f->f_sent_in_window);
	printf("  delivered    %.0f frames/s to all clients (%llu in the window), %.1f MB/s of "
	       "payload\n",
	       deliv_rate, (unsigned long long)f->f_delivered_in_window,
	       deliv_rate * (double)o->o_size / 1e6);
	print_latency("latency", &f->f_latency);
	printf("  missing      %llu deliveries (%llu/%llu end markers arrived, %llu out of order, "
	       "%llu not ours)\n",
	       (unsigned long long)missing, (unsigned long long)f->f_ends_seen,
	       (unsigned long long)f->f_ends_expected, (unsigned long long)f->f_reordered,
	       (unsigned long long)f->f_foreign);
	print_cpu(from, to, "in the window", &server_cpu, &self_cpu);
	printf("  chatbench    %.1f frames per read, %llu reads, %llu writes\n",
	       p->pl_reads ? (double)p->pl_messages_in / (double)p->pl_reads : 0.0,
	       (unsigned long long)p->pl_reads, (unsigned long long)p->pl_writes);
	if (p->pl_lost > 0)
		printf("  FAILED       %zu connections lost; first: %s\n", p->pl_lost, p->pl_error);

	result_begin(o, "fanout");
	printf(" clients=%zu senders=%zu size=%zu inflight=%zu rate=%.0f duration_s=%.1f"
	       " sent_per_s=%.0f deliveries_per_s=%.0f",
	       o->o_clients, o->o_senders, o->o_size, o->o_rate > 0 ? 0 : o->o_inflight, o->o_rate,
	       secs, sent_rate, deliv_rate);
	result_latency("", &f->f_latency);
	printf(" missing=%llu reordered=%llu lost_connections=%zu server_cpu_pct=%.0f"
	       " bench_cpu_pct=%.0f\n",
	       (unsigned long long)missing, (unsigned long long)f->f_reordered, p->pl_lost,
	       server_cpu, self_cpu);

	bool ok = missing == 0 && f->f_reordered == 0 && f->f_foreign == 0 && p->pl_lost == 0 &&
		  f->f_delivered_in_window > 0;
	if (!ok)
		fprintf(stderr, "chatbench: fanout FAILED (%s)\n",
			f->f_delivered_in_window == 0 ? "nothing was delivered"
						      : "deliveries missing or connections lost");
	return ok ? 0 : 1;
}

int fanout_run(const struct options *o)
{
	struct fanout f = {.f_opt = o, .f_senders = o->o_senders};
	struct pool_handlers handlers = {.ph_message = on_message, .ph_arg = &f};
	struct cpu_mark from = {0}, to = {0};
	int rc = 1;

	if (check_options(o) < 0)
		return 2;
	describe(o);
	if (pool_init(&f.f_pool, &o->o_target, o->o_clients, o->o_concurrency, &handlers,
		      o->o_seed) < 0) {
		perror("chatbench: epoll_create1");
		return 1;
	}
	pool_spread_targets(&f.f_pool, o->o_extra, o->o_extra_count);
	hist_init(&f.f_latency);
	f.f_observer = (uint32_t)(o->o_clients - 1);
	f.f_payload = calloc(1, o->o_size);
	f.f_sent = calloc(o->o_senders, sizeof *f.f_sent);
	f.f_outstanding = calloc(o->o_senders, sizeof *f.f_outstanding);
	f.f_expect = calloc(o->o_clients * o->o_senders, sizeof *f.f_expect);
	f.f_ends_expected = (uint64_t)o->o_senders * (o->o_clients - 1);
	if (f.f_payload == NULL || f.f_sent == NULL || f.f_outstanding == NULL ||
	    f.f_expect == NULL) {
		fprintf(stderr, "chatbench: out of memory\n");
		goto done;
	}
	payload_write(f.f_payload, o->o_size, &(struct payload){.pl_kind = PAYLOAD_MESSAGE});

	if (bench_connect_all(o, &f.f_pool, o->o_clients) < 0)
		goto done;
	f.f_start_ns = mono_ns();
	f.f_window_start_ns = f.f_start_ns + (uint64_t)(o->o_warmup * 1e9);
	f.f_window_end_ns = f.f_window_start_ns + (uint64_t)(o->o_duration * 1e9);
	if (send_phase(&f, &from, &to) == 0)
		drain_phase(&f);
	rc = report(&f, &from, &to);
done:
	pool_free(&f.f_pool);
	free(f.f_payload);
	free(f.f_sent);
	free(f.f_outstanding);
	free(f.f_expect);
	return rc;
}
