/*
 * chatbench's modes and what they share: the parsed command line, connecting every client,
 * CPU accounting and the report's formatting. Each mode lives in its own file and returns
 * the process's exit status: 0 when it ran, 1 when something failed (a connection, a missing
 * delivery, the time limit); never because a figure was slow.
 */
#ifndef CHATBENCH_BENCH_H
#define CHATBENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "pool.h"
#include "target.h"

enum bench_mode {
	MODE_FANOUT,
	MODE_IDLE,
	MODE_ECHO,
	MODE_LARGE,
};

#define BENCH_MAX_TARGETS 8

struct options {
	enum bench_mode o_mode;
	struct target o_target;
	/* More targets (several chatd nodes sharing rooms through Redis): client i connects
	 * to target i % (1 + o_extra_count), o_target being number 0. */
	struct target o_extra[BENCH_MAX_TARGETS - 1];
	size_t o_extra_count;
	const char *o_label;  /* "server=LABEL" in the RESULT line, when set */
	size_t o_clients;     /* fanout, idle: connections; large: receivers */
	size_t o_senders;     /* fanout */
	size_t o_size;        /* message bytes */
	size_t o_inflight;    /* closed loop: messages outstanding per sender */
	double o_rate;        /* fanout open loop: messages/s from all senders; 0: closed loop */
	double o_duration;    /* fanout: measured seconds */
	double o_warmup;      /* fanout: seconds before measuring */
	size_t o_count;       /* echo: round trips; large: messages */
	size_t o_concurrency; /* handshakes in progress at once */
	pid_t o_server_pid;   /* 0: unknown (no RSS or server CPU figures) */
	bool o_verify;        /* idle: check that a broadcast reaches everyone */
	double o_timeout;     /* seconds the whole run may take */
	uint64_t o_seed;
	bool o_tls_resume; /* wss://: offer the last session to every new connection */
};

int fanout_run(const struct options *o);
int idle_run(const struct options *o);
int echo_run(const struct options *o);
int large_run(const struct options *o);

/* Connects clients [0, n) of p and prints how long it took. Returns 0 when all are open,
 * else -1 after printing why. */
int bench_connect_all(const struct options *o, struct pool *p, size_t n);

/* CPU time of the server and of chatbench at one instant, to report CPU use over a window:
 * whichever process is near 100% of its core is the bottleneck. */
struct cpu_mark {
	uint64_t cm_time_ns;
	double cm_server_s; /* -1 when the server's pid is unknown */
	double cm_self_s;
};
void cpu_mark_take(const struct options *o, struct cpu_mark *m);
/* Percent of one core used between a and b: *server (or -1) and *self. */
void cpu_usage(const struct cpu_mark *a, const struct cpu_mark *b, double *server, double *self);

/* Prints the CPU line for a human ("while" says when) and fills *server and *self. */
void print_cpu(const struct cpu_mark *a, const struct cpu_mark *b, const char *when, double *server,
	       double *self);

/* Prints "  label  p50 .. max" in microseconds for a human. */
void print_latency(const char *label, const struct hist *h);

/* Starts the RESULT line: "RESULT mode=NAME[ server=LABEL]"; the mode appends key=value
 * pairs and a newline. */
void result_begin(const struct options *o, const char *mode);
/* Appends " name_p50_us=... name_p90_us=... p99 p999 max" (name may be ""). */
void result_latency(const char *name, const struct hist *h);

double ns_to_us(uint64_t ns);
double seconds_between(uint64_t from_ns, uint64_t to_ns);

#endif
