/*
 * chatbench: a WebSocket load generator for chatd (and anything that broadcasts like it).
 * main parses the command line, sets the process up (descriptor limit, SIGPIPE, a hard
 * time limit) and runs one mode. The helpers every mode shares are here too.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "payload.h"
#include "sysinfo.h"
#include "tlsclient.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: chatbench MODE [options] ws://HOST:PORT/PATH [ws://...]... (or wss://)\n"
		"\n"
		"Loads a WebSocket broadcast server on this machine (HOST must be in 127.0.0.0/8,\n"
		"::1 or localhost) and prints a report ending in one machine-readable RESULT "
		"line.\n"
		"\n"
		"modes:\n"
		"  fanout  N clients, S of them senders; every message must reach the N-1 others.\n"
		"          Closed loop (K messages in flight per sender, done when an observer\n"
		"          client got them) or open loop (--rate). Deliveries/s, one-way latency,\n"
		"          missing deliveries. Several URLs (chatd nodes sharing rooms through\n"
		"          Redis): clients are spread over them in turn.\n"
		"  idle    N connections as fast as possible: handshakes/s, and with --server-pid\n"
		"          the server's memory per connection; --verify broadcasts one message.\n"
		"  echo    one client, round trips of its own message (server run with --echo).\n"
		"  large   one sender, C receivers, large binary messages: MB/s delivered.\n"
		"\n"
		"options (defaults per mode in brackets):\n"
		"  -c, --clients N      connections; in large mode, receivers [fanout 100,\n"
		"                       idle 1000, large 100]\n"
		"  -s, --senders S      fanout senders [10]\n"
		"      --size BYTES     message size, K and M suffixes [64; large 1M]; at least "
		"%d\n"
		"      --inflight K     messages outstanding per sender [fanout 4, large 2]\n"
		"      --rate R         fanout open loop: R messages/s from all senders together\n"
		"  -d, --duration SEC   fanout: seconds measured [10]\n"
		"  -w, --warmup SEC     fanout: seconds of load before measuring [2]\n"
		"  -n, --count N        echo: round trips [10000]; large: messages [20]\n"
		"      --concurrency N  handshakes in progress at once [256]\n"
		"      --server-pid PID read the server's RSS and CPU time from /proc\n"
		"      --verify         idle: one client broadcasts once; count who receives it\n"
		"      --timeout SEC    hard limit for the whole run [depends on the mode]\n"
		"      --seed N         seed for mask keys and handshake nonces\n"
		"      --label NAME     add server=NAME to the RESULT line\n"
		"      --tls-resume     wss://: each connection resumes the last one's session\n"
		"  -h, --help\n"
		"\n"
		"Exit status: 0 when the run completed, 1 when something failed (a connection,\n"
		"a missing delivery, the time limit), 2 for a usage error.\n",
		PAYLOAD_HEADER_LEN);
}

/* --- shared helpers -------------------------------------------------------------------- */

double ns_to_us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

double seconds_between(uint64_t from_ns, uint64_t to_ns)
{
	return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e9 : 0.0;
}

int bench_connect_all(const struct options *o, struct pool *p, size_t n)
{
	pool_connect(p, n);
	size_t open = pool_wait_connected(p, (uint64_t)(o->o_timeout * 1e9));
	double secs = seconds_between(p->pl_first_start_ns, p->pl_last_open_ns);

	if (open < n) {
		fprintf(stderr, "chatbench: only %zu of %zu clients connected: %s\n", open, n,
			p->pl_error[0] ? p->pl_error : "timed out");
		return -1;
	}
	printf("connected %zu clients in %.2f s (%.0f handshakes/s, %zu at a time)\n", n, secs,
	       secs > 0 ? (double)n / secs : 0.0, o->o_concurrency);
	return 0;
}

void cpu_mark_take(const struct options *o, struct cpu_mark *m)
{
	m->cm_time_ns = mono_ns();
	m->cm_server_s = sys_cpu_seconds(o->o_server_pid);
	m->cm_self_s = sys_self_cpu_seconds();
}

void cpu_usage(const struct cpu_mark *a, const struct cpu_mark *b, double *server, double *self)
{
	double wall = seconds_between(a->cm_time_ns, b->cm_time_ns);

	*server = -1;
	*self = 0;
	if (wall <= 0)
		return;
	if (a->cm_server_s >= 0 && b->cm_server_s >= 0)
		*server = 100.0 * (b->cm_server_s - a->cm_server_s) / wall;
	*self = 100.0 * (b->cm_self_s - a->cm_self_s) / wall;
}

void print_cpu(const struct cpu_mark *a, const struct cpu_mark *b, const char *when, double *server,
	       double *self)
{
	cpu_usage(a, b, server, self);
	if (*server >= 0)
		printf("  cpu          server %.0f%%, chatbench %.0f%% of one core %s\n", *server,
		       *self, when);
	else
		printf("  cpu          chatbench %.0f%% of one core %s (server: pass "
		       "--server-pid)\n",
		       *self, when);
}

void print_latency(const char *label, const struct hist *h)
{
	printf("  %-12s p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us "
	       "(%llu samples)\n",
	       label, ns_to_us(hist_percentile(h, 50)), ns_to_us(hist_percentile(h, 90)),
	       ns_to_us(hist_percentile(h, 99)), ns_to_us(hist_percentile(h, 99.9)),
	       ns_to_us(h->h_max), (unsigned long long)h->h_total);
}

void result_begin(const struct options *o, const char *mode)
{
	printf("RESULT mode=%s", mode);
	if (o->o_label != NULL)
		printf(" server=%s", o->o_label);
}

void result_latency(const char *name, const struct hist *h)
{
	const char *sep = name[0] ? "_" : "";
	printf(" %s%sp50_us=%.1f %s%sp90_us=%.1f %s%sp99_us=%.1f %s%sp999_us=%.1f %s%smax_us=%.1f",
	       name, sep, ns_to_us(hist_percentile(h, 50)), name, sep,
	       ns_to_us(hist_percentile(h, 90)), name, sep, ns_to_us(hist_percentile(h, 99)), name,
	       sep, ns_to_us(hist_percentile(h, 99.9)), name, sep, ns_to_us(h->h_max));
}

/* --- command line ---------------------------------------------------------------------- */

enum {
	OPT_SIZE = 256,
	OPT_INFLIGHT,
	OPT_RATE,
	OPT_CONCURRENCY,
	OPT_SERVER_PID,
	OPT_VERIFY,
	OPT_TIMEOUT,
	OPT_SEED,
	OPT_LABEL,
	OPT_TLS_RESUME,
};

static const struct option long_options[] = {
	{"clients", required_argument, NULL, 'c'},
	{"senders", required_argument, NULL, 's'},
	{"size", required_argument, NULL, OPT_SIZE},
	{"inflight", required_argument, NULL, OPT_INFLIGHT},
	{"rate", required_argument, NULL, OPT_RATE},
	{"duration", required_argument, NULL, 'd'},
	{"warmup", required_argument, NULL, 'w'},
	{"count", required_argument, NULL, 'n'},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"server-pid", required_argument, NULL, OPT_SERVER_PID},
	{"verify", no_argument, NULL, OPT_VERIFY},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"label", required_argument, NULL, OPT_LABEL},
	{"tls-resume", no_argument, NULL, OPT_TLS_RESUME},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* A count with an optional K or M suffix (powers of 1024); false for anything else or 0. */
static bool parse_count(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v == 0)
		return false;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end != '\0' || v > (1ULL << 40))
		return false;
	*out = (size_t)v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0) || v > 86400)
		return false;
	*out = v;
	return true;
}

static bool parse_mode(const char *s, enum bench_mode *out)
{
	static const char *const names[] = {"fanout", "idle", "echo", "large"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum bench_mode)i;
			return true;
		}
	}
	return false;
}

/* The defaults a mode gets for whatever the command line left unset (0). */
static void apply_defaults(struct options *o)
{
	bool large = o->o_mode == MODE_LARGE;

	if (o->o_clients == 0)
		o->o_clients = o->o_mode == MODE_IDLE ? 1000 : 100;
	if (o->o_senders == 0)
		o->o_senders = 10;
	if (o->o_size == 0)
		o->o_size = large ? (size_t)1 << 20 : 64;
	if (o->o_inflight == 0)
		o->o_inflight = large ? 2 : 4;
	if (o->o_count == 0)
		o->o_count = large ? 20 : 10000;
	if (o->o_concurrency == 0)
		o->o_concurrency = 256;
	if (o->o_timeout == 0)
		o->o_timeout = o->o_mode == MODE_FANOUT ? o->o_warmup + o->o_duration + 60 : 120;
}

/* Fills o from argv. Returns 0 to run, 1 when help was printed, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
	char err[400];
	int c;

	memset(o, 0, sizeof *o);
	o->o_duration = 10;
	o->o_warmup = 2;
	while ((c = getopt_long(argc, argv, "c:s:d:w:n:h", long_options, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case 'c': ok = parse_count(optarg, &o->o_clients); break;
		case 's': ok = parse_count(optarg, &o->o_senders); break;
		case OPT_SIZE: ok = parse_count(optarg, &o->o_size); break;
		case OPT_INFLIGHT: ok = parse_count(optarg, &o->o_inflight); break;
		case OPT_RATE: ok = parse_seconds(optarg, &o->o_rate) && o->o_rate > 0; break;
		case 'd': ok = parse_seconds(optarg, &o->o_duration) && o->o_duration > 0; break;
		case 'w': ok = parse_seconds(optarg, &o->o_warmup); break;
		case 'n': ok = parse_count(optarg, &o->o_count); break;
		case OPT_CONCURRENCY: ok = parse_count(optarg, &o->o_concurrency); break;
		case OPT_SERVER_PID:
			o->o_server_pid = (pid_t)atoi(optarg);
			ok = o->o_server_pid > 0;
			break;
		case OPT_VERIFY: o->o_verify = true; break;
		case OPT_TIMEOUT:
			ok = parse_seconds(optarg, &o->o_timeout) && o->o_timeout > 0;
			break;
		case OPT_SEED: o->o_seed = strtoull(optarg, NULL, 0); break;
		case OPT_LABEL: o->o_label = optarg; break;
		case OPT_TLS_RESUME: o->o_tls_resume = true; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
		if (!ok) {
			fprintf(stderr, "chatbench: invalid value '%s' for an option\n", optarg);
			return 2;
		}
	}
	if (argc - optind < 2 || argc - optind > 1 + BENCH_MAX_TARGETS ||
	    !parse_mode(argv[optind], &o->o_mode)) {
		usage(stderr);
		return 2;
	}
	if (target_parse(argv[optind + 1], &o->o_target, err, sizeof err) < 0) {
		fprintf(stderr, "chatbench: %s\n", err);
		return 2;
	}
	for (int i = optind + 2; i < argc; i++) {
		if (target_parse(argv[i], &o->o_extra[o->o_extra_count++], err, sizeof err) < 0) {
			fprintf(stderr, "chatbench: %s\n", err);
			return 2;
		}
	}
	apply_defaults(o);
	if (o->o_size < PAYLOAD_HEADER_LEN) {
		fprintf(stderr, "chatbench: --size must be at least %d bytes\n",
			PAYLOAD_HEADER_LEN);
		return 2;
	}
	return 0;
}

/* The last resort behind every mode's own deadlines: a run that hangs still ends. */
static void on_alarm(int sig)
{
	static const char msg[] = "chatbench: hard time limit reached, giving up\n";
	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(1);
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_args(argc, argv, &o);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (o.o_seed == 0)
		o.o_seed = mono_ns() ^ ((uint64_t)getpid() << 32);

	/* Thousands of sockets need thousands of descriptors (the hard limit is the ceiling). */
	long nofile = sys_raise_nofile();
	size_t need = o.o_mode == MODE_LARGE ? o.o_clients + 1 : o.o_clients;
	if (nofile > 0 && need + 16 > (size_t)nofile) {
		fprintf(stderr,
			"chatbench: %zu connections need more than the descriptor limit %ld\n",
			need, nofile);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)o.o_timeout + 5);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.o_target.t_tls && tlsclient_init(o.o_tls_resume) < 0)
		return 1;

	switch (o.o_mode) {
	case MODE_FANOUT: return fanout_run(&o);
	case MODE_IDLE: return idle_run(&o);
	case MODE_ECHO: return echo_run(&o);
	case MODE_LARGE: return large_run(&o);
	}
	return 2;
}
