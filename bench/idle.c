/*
 * idle mode: opens N connections as fast as the server takes them (at most --concurrency
 * handshakes in progress), then measures what they cost at rest:
 *   handshakes/s    from the first connect() to the last 101
 *   RSS growth      the server's VmRSS before and after, per connection (--server-pid)
 *   kernel memory   /proc/meminfo's Slab and /proc/net/sockstat before and after; these
 *                   count both ends of each connection, ours and the server's
 * With --verify, client 0 then broadcasts one message and we count who receives it: a
 * server that holds N connections but cannot deliver to them is not holding them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "payload.h"
#include "sysinfo.h"

/* How long the verifying broadcast may take to reach everyone. */
#define VERIFY_TIMEOUT_NS (20 * 1000000000ULL)
/* A pause after the last handshake before reading the server's memory, so the figure does
 * not depend on work the server had not quite finished. */
#define SETTLE_MS 300

struct idle {
	const struct options *i_opt;
	struct pool i_pool;
	struct hist i_handshake; /* connect() to 101, per client */
	uint64_t i_verify_sent_ns, i_verify_last_ns;
	size_t i_verify_received;
	uint64_t i_foreign;
};

struct memory_mark {
	long mm_rss_kb;
	long mm_slab_kb;
	struct sys_sockstat mm_sockstat;
	bool mm_sockstat_ok;
};

static void memory_mark_take(const struct options *o, struct memory_mark *m)
{
	m->mm_rss_kb = sys_rss_kb(o->o_server_pid);
	m->mm_slab_kb = sys_slab_kb();
	m->mm_sockstat_ok = sys_read_sockstat(&m->mm_sockstat);
}

static void on_open(struct pool *p, struct client *c)
{
	struct idle *s = p->pl_handlers->ph_arg;
	hist_record(&s->i_handshake, pool_now(p) - c->cl_started_ns);
}

static void on_message(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *head,
		       size_t head_len, uint64_t len)
{
	struct idle *s = p->pl_handlers->ph_arg;
	struct payload pl;
	(void)opcode;
	(void)len;

	if (!payload_parse(head, head_len, &pl) || pl.pl_sender != 0 || c->cl_id == 0) {
		s->i_foreign++;
		return;
	}
	s->i_verify_received++;
	s->i_verify_last_ns = pool_now(p);
}

/* Runs passes for ms milliseconds (the server may still be sending something). */
static void settle(struct pool *p, int ms)
{
	uint64_t until = mono_ns() + (uint64_t)ms * 1000000u;
	while (mono_ns() < until && pool_run_once(p, 10) == 0)
		;
}

/* Client 0 sends one message; waits until every other client has it. Returns 0 when all
 * did. */
static int verify_broadcast(struct idle *s)
{
	struct pool *p = &s->i_pool;
	size_t want = p->pl_open - 1;
	uint8_t msg[PAYLOAD_HEADER_LEN + 19];
	struct payload pl = {.pl_kind = PAYLOAD_MESSAGE, .pl_sender = 0, .pl_seq = 0};

	pl.pl_time_ns = s->i_verify_sent_ns = mono_ns();
	payload_write(msg, sizeof msg, &pl);
	pool_send(p, &p->pl_clients[0], WSP_OP_TEXT, msg, sizeof msg);
	uint64_t deadline = s->i_verify_sent_ns + VERIFY_TIMEOUT_NS;
	while (s->i_verify_received < want && mono_ns() < deadline && p->pl_lost == 0)
		if (pool_run_once(p, 50) < 0)
			break;
	printf("  broadcast    1 message reached %zu of %zu other clients in %.1f ms\n",
	       s->i_verify_received, want,
	       seconds_between(s->i_verify_sent_ns, s->i_verify_last_ns) * 1000.0);
	return s->i_verify_received == want ? 0 : -1;
}

/* Per-connection growth in bytes between two marks, or -1 when either is unknown. */
static double per_connection(long before_kb, long after_kb, size_t n)
{
	if (before_kb < 0 || after_kb < 0 || n == 0)
		return -1;
	return (double)(after_kb - before_kb) * 1024.0 / (double)n;
}

static void report_memory(const struct memory_mark *a, const struct memory_mark *b, size_t n,
			  double *rss_per_conn, double *slab_per_conn)
{
	*rss_per_conn = per_connection(a->mm_rss_kb, b->mm_rss_kb, n);
	*slab_per_conn = per_connection(a->mm_slab_kb, b->mm_slab_kb, n);
	if (*rss_per_conn >= 0)
		printf("  server RSS   %ld KiB -> %ld KiB: %.0f bytes per connection\n",
		       a->mm_rss_kb, b->mm_rss_kb, *rss_per_conn);
	else
		printf("  server RSS   unknown (pass --server-pid)\n");
	if (*slab_per_conn >= 0)
		printf("  kernel slab  %ld KiB -> %ld KiB: %.0f bytes per connection, both ends\n",
		       a->mm_slab_kb, b->mm_slab_kb, *slab_per_conn);
	if (a->mm_sockstat_ok && b->mm_sockstat_ok)
		printf("  sockstat     TCP sockets in use %ld -> %ld, buffer pages %ld -> %ld\n",
		       a->mm_sockstat.ss_tcp_inuse, b->mm_sockstat.ss_tcp_inuse,
		       a->mm_sockstat.ss_tcp_mem_pages, b->mm_sockstat.ss_tcp_mem_pages);
}

int idle_run(const struct options *o)
{
	struct idle s = {.i_opt = o};
	struct pool_handlers handlers = {
		.ph_open = on_open, .ph_message = on_message, .ph_arg = &s};
	struct memory_mark before, after, after_broadcast = {.mm_rss_kb = -1};
	double rss_per_conn, slab_per_conn, server_cpu, self_cpu;
	struct cpu_mark cpu_from, cpu_to;
	int verified = -1;

	if (o->o_clients < 2 && o->o_verify) {
		fprintf(stderr, "chatbench: --verify needs at least 2 clients\n");
		return 2;
	}
	if (pool_init(&s.i_pool, &o->o_target, o->o_clients, o->o_concurrency, &handlers,
		      o->o_seed) < 0) {
		perror("chatbench: epoll_create1");
		return 1;
	}
	hist_init(&s.i_handshake);
	printf("idle: %s, %zu connections, %zu handshakes at a time\n", o->o_target.t_url,
	       o->o_clients, o->o_concurrency);
	memory_mark_take(o, &before);

	cpu_mark_take(o, &cpu_from);
	pool_connect(&s.i_pool, o->o_clients);
	size_t open = pool_wait_connected(&s.i_pool, (uint64_t)(o->o_timeout * 1e9));
	cpu_mark_take(o, &cpu_to);
	double secs = seconds_between(s.i_pool.pl_first_start_ns, s.i_pool.pl_last_open_ns);
	double rate = secs > 0 ? (double)open / secs : 0;
	settle(&s.i_pool, SETTLE_MS);
	memory_mark_take(o, &after);

	printf("  connected    %zu of %zu in %.2f s: %.0f handshakes/s\n", open, o->o_clients, secs,
	       rate);
	if (o->o_target.t_tls)
		printf("  TLS          %llu of %zu sessions resumed\n",
		       (unsigned long long)s.i_pool.pl_tls_resumed, open);
	print_latency("handshake", &s.i_handshake);
	print_cpu(&cpu_from, &cpu_to, "while connecting", &server_cpu, &self_cpu);
	report_memory(&before, &after, open, &rss_per_conn, &slab_per_conn);
	if (o->o_verify && open >= 2 && s.i_pool.pl_lost == 0) {
		verified = verify_broadcast(&s);
		/* Whatever the broadcast made the server allocate per client (a TLS
		 * connection's write buffer, say) should be given back once it is sent. */
		settle(&s.i_pool, SETTLE_MS);
		memory_mark_take(o, &after_broadcast);
		if (after_broadcast.mm_rss_kb >= 0)
			printf("  after it     server RSS %ld KiB: %.0f bytes per connection more\n",
			       after_broadcast.mm_rss_kb,
			       per_connection(after.mm_rss_kb, after_broadcast.mm_rss_kb, open));
	}
	if (s.i_pool.pl_lost > 0)
		printf("  FAILED       %zu connections lost or refused; first: %s\n",
		       s.i_pool.pl_lost, s.i_pool.pl_error);

	result_begin(o, "idle");
	printf(" connections=%zu open=%zu handshakes_per_s=%.0f", o->o_clients, open, rate);
	result_latency("handshake", &s.i_handshake);
	printf(" rss_before_kb=%ld rss_after_kb=%ld rss_per_conn_bytes=%.0f"
	       " slab_per_conn_bytes=%.0f tcp_mem_pages_before=%ld tcp_mem_pages_after=%ld",
	       before.mm_rss_kb, after.mm_rss_kb, rss_per_conn, slab_per_conn,
	       before.mm_sockstat_ok ? before.mm_sockstat.ss_tcp_mem_pages : -1,
	       after.mm_sockstat_ok ? after.mm_sockstat.ss_tcp_mem_pages : -1);
	printf(" server_cpu_pct=%.0f bench_cpu_pct=%.0f", server_cpu, self_cpu);
	if (o->o_target.t_tls)
		printf(" tls_resumed=%llu", (unsigned long long)s.i_pool.pl_tls_resumed);
	if (o->o_verify)
		printf(" verify_receivers=%zu verify_expected=%zu verify_ms=%.1f"
		       " rss_after_broadcast_kb=%ld",
		       s.i_verify_received, open > 0 ? open - 1 : 0,
		       seconds_between(s.i_verify_sent_ns, s.i_verify_last_ns) * 1000.0,
		       after_broadcast.mm_rss_kb);
	printf("\n");

	bool ok = open == o->o_clients && s.i_pool.pl_lost == 0 && (!o->o_verify || verified == 0);
	pool_free(&s.i_pool);
	return ok ? 0 : 1;
}
