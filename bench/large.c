/*
 * large mode: one sender (client 0) and C receivers; the sender sends --count binary
 * messages of --size bytes (1 MiB by default), keeping --inflight of them outstanding, where
 * a message is done when all C receivers have all of it. Measures bulk delivery: MB/s of
 * payload received by all receivers together, from the first send to the last completion.
 * The receivers look only at each message's first bytes and its length; the rest of every
 * megabyte is counted, never copied.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "payload.h"

struct large {
	const struct options *l_opt;
	struct pool l_pool;
	size_t l_receivers;
	uint8_t *l_payload; /* owned */
	uint32_t *l_done;   /* per message: receivers that have it all; owned */
	uint64_t l_sent, l_completed, l_bytes, l_foreign;
	uint64_t l_first_send_ns, l_last_done_ns;
	struct hist l_fanout_time; /* send to the last receiver's receipt, per message */
};

static void send_more(struct large *l)
{
	const struct options *o = l->l_opt;

	while (l->l_sent < o->o_count && l->l_sent - l->l_completed < o->o_inflight) {
		struct payload pl = {
			.pl_kind = PAYLOAD_MESSAGE, .pl_sender = 0, .pl_seq = l->l_sent};
		pl.pl_time_ns = mono_ns();
		if (l->l_sent == 0)
			l->l_first_send_ns = pl.pl_time_ns;
		payload_write_header(l->l_payload, &pl);
		pool_send(&l->l_pool, &l->l_pool.pl_clients[0], WSP_OP_BINARY, l->l_payload,
			  o->o_size);
		l->l_sent++;
	}
}

static void on_message(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *head,
		       size_t head_len, uint64_t len)
{
	struct large *l = p->pl_handlers->ph_arg;
	struct payload pl;

	if (c->cl_id == 0)
		return; /* the sender's own message, from a server run with --echo */
	if (opcode != WSP_OP_BINARY || len != l->l_opt->o_size ||
	    !payload_parse(head, head_len, &pl) || pl.pl_seq >= l->l_sent) {
		l->l_foreign++;
		return;
	}
	l->l_bytes += len;
	if (++l->l_done[pl.pl_seq] < l->l_receivers)
		return;
	l->l_completed++;
	l->l_last_done_ns = pool_now(p);
	hist_record(&l->l_fanout_time, l->l_last_done_ns - pl.pl_time_ns);
	send_more(l);
}

static int run(struct large *l)
{
	const struct options *o = l->l_opt;
	uint64_t deadline = mono_ns() + (uint64_t)(o->o_timeout * 1e9);

	send_more(l);
	while (l->l_completed < o->o_count && l->l_pool.pl_lost == 0 && mono_ns() < deadline)
		if (pool_run_once(&l->l_pool, 50) < 0)
			break;
	return l->l_completed == o->o_count && l->l_pool.pl_lost == 0 && l->l_foreign == 0 ? 0 : -1;
}

int large_run(const struct options *o)
{
	struct large l = {.l_opt = o, .l_receivers = o->o_clients};
	struct pool_handlers handlers = {.ph_message = on_message, .ph_arg = &l};
	int rc = 1;

	if (pool_init(&l.l_pool, &o->o_target, o->o_clients + 1, o->o_concurrency, &handlers,
		      o->o_seed) < 0) {
		perror("chatbench: epoll_create1");
		return 1;
	}
	hist_init(&l.l_fanout_time);
	l.l_payload = calloc(1, o->o_size);
	l.l_done = calloc(o->o_count, sizeof *l.l_done);
	if (l.l_payload == NULL || l.l_done == NULL)
		goto done;
	payload_write(l.l_payload, o->o_size, &(struct payload){.pl_kind = PAYLOAD_MESSAGE});
	printf("large: %s, 1 sender, %zu receivers, %zu messages of %zu bytes, %zu in flight\n",
	       o->o_target.t_url, o->o_clients, o->o_count, o->o_size, o->o_inflight);
	if (bench_connect_all(o, &l.l_pool, o->o_clients + 1) < 0)
		goto done;

	struct cpu_mark from, to;
	double server_cpu, self_cpu;
	cpu_mark_take(o, &from);
	rc = run(&l) == 0 ? 0 : 1;
	cpu_mark_take(o, &to);
	double secs = seconds_between(l.l_first_send_ns, l.l_last_done_ns);
	double mbps = secs > 0 ? (double)l.l_bytes / secs / 1e6 : 0;
	printf("  delivered    %llu of %zu messages to all, %.1f MB/s of payload in all "
	       "(%.1f messages/s)\n",
	       (unsigned long long)l.l_completed, o->o_count, mbps,
	       secs > 0 ? (double)l.l_completed / secs : 0.0);
	print_latency("fan-out", &l.l_fanout_time);
	print_cpu(&from, &to, "while sending", &server_cpu, &self_cpu);
	if (rc != 0)
		fprintf(stderr,
			"chatbench: large FAILED: %llu of %zu messages reached everyone, %llu "
			"unexpected messages%s%s\n",
			(unsigned long long)l.l_completed, o->o_count,
			(unsigned long long)l.l_foreign, l.l_pool.pl_error[0] ? "; " : "",
			l.l_pool.pl_error);
	result_begin(o, "large");
	printf(" receivers=%zu size=%zu count=%llu mb_per_s=%.1f", o->o_clients, o->o_size,
	       (unsigned long long)l.l_completed, mbps);
	result_latency("fanout", &l.l_fanout_time);
	printf(" lost_connections=%zu server_cpu_pct=%.0f bench_cpu_pct=%.0f\n", l.l_pool.pl_lost,
	       server_cpu, self_cpu);
done:
	pool_free(&l.l_pool);
	free(l.l_payload);
	free(l.l_done);
	return rc;
}
