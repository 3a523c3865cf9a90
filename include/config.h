/*
 * config: the command line. Parsing is separate from acting on it: config_parse fills a
 * struct and reports what the caller should do (run, print help, print the version, or
 * exit 2 with the message it wrote).
 */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "redis_url.h"
#include "ratelimit.h"

#define CONFIG_DEFAULT_PORT                 8080
#define CONFIG_DEFAULT_MAX_MESSAGE          ((size_t)1 << 20)
#define CONFIG_DEFAULT_MAX_BACKLOG          ((size_t)4 << 20)
#define CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define CONFIG_DEFAULT_PING_INTERVAL_MS     30000
#define CONFIG_DEFAULT_IDLE_TIMEOUT_MS      60000
#define CONFIG_MAX_ORIGINS                  32
#define CONFIG_DEFAULT_REDIS_PREFIX         "chatd:"
/* The operator's listener: loopback only, so /metrics and /stats are not public. */
#define CONFIG_DEFAULT_ADMIN_HOST "127.0.0.1"
#define CONFIG_DEFAULT_ADMIN_PORT 9181
/* Connections still in their handshake, process-wide. A client's request normally
 * arrives with its connection, so honest handshakes last about one round trip: 1024
 * admits over 10,000 new clients a second at a 100 ms round trip, and bounds what
 * stalled handshakes can hold to about 1024 x (8 KiB + a connection) = 9 MiB. */
#define CONFIG_DEFAULT_MAX_HANDSHAKES 1024
/* Connections per source address (IPv6: per /64): a household or office behind one
 * NAT with a few tabs each, not one host holding every descriptor. */
#define CONFIG_DEFAULT_MAX_PER_IP 64
/* Flood control: enough for a person typing, a pasted page of lines or a bot posting a
 * few messages a second; a sender past it is slowed, not cut off (README, "Limits"). */
#define CONFIG_DEFAULT_RATE_MESSAGES       50
#define CONFIG_DEFAULT_RATE_MESSAGES_BURST 200
#define CONFIG_DEFAULT_RATE_BYTES          ((uint32_t)1 << 20)
#define CONFIG_DEFAULT_RATE_BYTES_BURST    ((uint32_t)4 << 20)
#define CONFIG_DEFAULT_FLOOD_TIMEOUT_MS    60000
#define CONFIG_DEFAULT_SEND_TIMEOUT_MS     30000
/* History a handler keeps per room (chatd.v1): messages, and bytes of them. */
#define CONFIG_DEFAULT_HISTORY       50
#define CONFIG_DEFAULT_HISTORY_BYTES ((size_t)64 << 10)
#define CONFIG_MAX_HISTORY           10000

struct config {
	uint16_t cf_port;
	const char *cf_bind; /* NULL: every interface, IPv6 and IPv4 */
	bool cf_echo;
	size_t cf_max_message; /* reassembled message size limit, bytes */
	size_t cf_max_clients; /* 0: as many as the descriptor limit allows */
	/* A client's queue of unsent frames may hold this much; past it the client is cut
	 * off. config_parse raises it to twice cf_max_message when it is less. */
	size_t cf_max_backlog;
	uint32_t cf_handshake_timeout_ms;
	uint32_t cf_ping_interval_ms; /* 0: never ping */
	uint32_t cf_idle_timeout_ms;  /* 0: never drop a silent client */
	uint32_t cf_busy_poll_us;     /* poll this long before sleeping; 0: off */
	/* --admin-listen: where /metrics and /stats are served; cf_admin_host NULL: off. */
	const char *cf_admin_host; /* points into argv or at a constant */
	uint16_t cf_admin_port;
	char cf_admin_buf[256];   /* the host part of --admin-listen, when given */
	size_t cf_max_handshakes; /* 0: no limit */
	size_t cf_max_per_ip;     /* 0: no limit */
	/* Every buffer of every client together; 0 until the server derives the default. */
	size_t cf_max_memory;
	struct ratelimit_policy cf_rate; /* per client; a rate of 0 is no limit */
	uint32_t cf_flood_timeout_ms;    /* over the rate this long: closed; 0: never */
	uint32_t cf_send_timeout_ms;     /* output stuck this long: cut off; 0: never */
	size_t cf_history;               /* messages kept per room; 0: none */
	size_t cf_history_bytes;         /* and at most this many bytes of them */
	/* --allow-origin values (pointing into argv); none given: every origin is allowed. */
	const char *cf_origins[CONFIG_MAX_ORIGINS];
	size_t cf_origin_count;
	/* --tls-cert and --tls-key (pointing into argv): both or neither; with them the
	 * listener speaks TLS only. */
	const char *cf_tls_cert;
	const char *cf_tls_key;
	enum log_level cf_log_level;
	enum log_format cf_log_format;
	/* Several nodes, one set of rooms. */
	bool cf_reuseport; /* SO_REUSEPORT: several processes share the port */
	bool cf_redis_on;  /* --redis given; cf_redis holds it, parsed */
	struct redis_url cf_redis;
	const char *cf_redis_prefix; /* points into argv or at the default */
};

enum config_action {
	CONFIG_RUN,
	CONFIG_HELP,
	CONFIG_VERSION,
	CONFIG_USAGE_ERROR, /* err holds a one-line message */
};

void config_defaults(struct config *cf);

/* Parses argv into cf (strings in cf point into argv). */
enum config_action config_parse(struct config *cf, int argc, char **argv, char *err, size_t errlen);

/* Parses a byte count with an optional K, M or G suffix (powers of 1024).
 * Returns false for anything else, zero, or an overflow. */
bool config_parse_size(const char *s, size_t *out);

/* Parses a positive decimal count. */
bool config_parse_count(const char *s, size_t *out);

/* Parses "off" (a rate of 0) or RATE[:BURST]; sizes: both take K, M, G suffixes. */
bool config_parse_rate(const char *s, bool sizes, struct ratelimit_rate *out);

/* Parses a duration: a number of seconds, or a number with an ms, s or m suffix.
 * Returns false for anything else or more than a day. */
bool config_parse_duration(const char *s, uint32_t *out_ms);

/* Writes the usage text to f. */
void config_usage(FILE *f);

#endif
