/*
 * echo mode: one client sends a message and waits for the server to send it back (the
 * server runs with --echo), --count times. The round trip is the server's whole per-message
 * path with no fan-out: read, unmask, validate, encode, write. The first ECHO_WARMUP round
 * trips are not recorded (caches, the allocator and the TCP stack warm up).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "payload.h"

#define ECHO_WARMUP 100
/* A server that does not echo (no --echo) is reported after this long, not waited for. */
#define ECHO_SILENCE_NS (5 * 1000000000ULL)

struct echo {
	const struct options *e_opt;
	struct pool e_pool;
	uint8_t *e_payload; /* owned */
	uint64_t e_sent, e_received, e_foreign;
	uint64_t e_first_ns; /* when the first recorded round trip started */
	struct hist e_rtt;
};

static void send_next(struct echo *e)
{
	struct payload pl = {.pl_kind = PAYLOAD_MESSAGE, .pl_sender = 0, .pl_seq = e->e_sent};

	pl.pl_time_ns = mono_ns();
	if (e->e_sent == ECHO_WARMUP)
		e->e_first_ns = pl.pl_time_ns;
	payload_write_header(e->e_payload, &pl);
	pool_send(&e->e_pool, &e->e_pool.pl_clients[0], WSP_OP_TEXT, e->e_payload,
		  e->e_opt->o_size);
	e->e_sent++;
}

static void on_message(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *head,
		       size_t head_len, uint64_t len)
{
	struct echo *e = p->pl_handlers->ph_arg;
	struct payload pl;
	(void)c;
	(void)opcode;

	if (len != e->e_opt->o_size || !payload_parse(head, head_len, &pl) ||
	    pl.pl_seq != e->e_received) {
		e->e_foreign++;
		return;
	}
	if (e->e_received >= ECHO_WARMUP)
		hist_record(&e->e_rtt, pool_now(p) - pl.pl_time_ns);
	e->e_received++;
	if (e->e_sent < ECHO_WARMUP + e->e_opt->o_count)
		send_next(e);
}

int echo_run(const struct options *o)
{
	struct echo e = {.e_opt = o};
	struct pool_handlers handlers = {.ph_message = on_message, .ph_arg = &e};
	uint64_t total = ECHO_WARMUP + o->o_count;
	int rc = 1;

	if (pool_init(&e.e_pool, &o->o_target, 1, 1, &handlers, o->o_seed) < 0) {
		perror("chatbench: epoll_create1");
		return 1;
	}
	hist_init(&e.e_rtt);
	e.e_payload = calloc(1, o->o_size);
	if (e.e_payload == NULL)
		goto done;
	payload_write(e.e_payload, o->o_size, &(struct payload){.pl_kind = PAYLOAD_MESSAGE});
	printf("echo: %s, 1 client, %zu round trips of %zu bytes (after %d unrecorded)\n",
	       o->o_target.t_url, o->o_count, o->o_size, ECHO_WARMUP);
	if (bench_connect_all(o, &e.e_pool, 1) < 0)
		goto done;

	uint64_t deadline = mono_ns() + (uint64_t)(o->o_timeout * 1e9);
	uint64_t last_received = 0, last_progress = mono_ns();
	struct cpu_mark from, to;
	double server_cpu, self_cpu;
	cpu_mark_take(o, &from);
	send_next(&e);
	while (e.e_received < total && e.e_pool.pl_lost == 0) {
		uint64_t now = mono_ns();
		if (e.e_received != last_received) {
			last_received = e.e_received;
			last_progress = now;
		}
		if (now >= deadline || now - last_progress > ECHO_SILENCE_NS)
			break;
		if (pool_run_once(&e.e_pool, 50) < 0)
			break;
	}
	cpu_mark_take(o, &to);
	double secs = seconds_between(e.e_first_ns, pool_now(&e.e_pool));
	uint64_t recorded = e.e_rtt.h_total;

	if (e.e_received == 0)
		printf("  nothing came back: is the server running with --echo?\n");
	printf("  round trips  %llu recorded, %.0f per second\n", (unsigned long long)recorded,
	       secs > 0 ? (double)recorded / secs : 0.0);
	print_latency("round trip", &e.e_rtt);
	print_cpu(&from, &to, "during the round trips", &server_cpu, &self_cpu);
	result_begin(o, "echo");
	printf(" count=%llu size=%zu round_trips_per_s=%.0f", (unsigned long long)recorded,
	       o->o_size, secs > 0 ? (double)recorded / secs : 0.0);
	result_latency("rtt", &e.e_rtt);
	printf(" lost_connections=%zu server_cpu_pct=%.0f bench_cpu_pct=%.0f\n", e.e_pool.pl_lost,
	       server_cpu, self_cpu);
	rc = e.e_received == total && e.e_foreign == 0 && e.e_pool.pl_lost == 0 ? 0 : 1;
	if (rc != 0)
		fprintf(stderr, "chatbench: echo FAILED: %llu of %llu round trips completed%s%s\n",
			(unsigned long long)e.e_received, (unsigned long long)total,
			e.e_pool.pl_error[0] ? "; " : "", e.e_pool.pl_error);
done:
	pool_free(&e.e_pool);
	free(e.e_payload);
	return rc;
}
