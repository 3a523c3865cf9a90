/*
 * metrics: the counters behind GET /metrics (Prometheus text format 0.0.4) and the JSON
 * of GET /stats. Counters only go up. One instance per process, updated from the single
 * event-loop thread, so plain integers suffice.
 */
#ifndef CHATD_METRICS_H
#define CHATD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"

/* The statuses a refused request can get, in a fixed order for the exposition. */
#define METRICS_REFUSAL_STATUSES                                                                   \
	{                                                                                          \
		400, 403, 404, 405, 408, 426, 431, 500, 503                                        \
	}
#define METRICS_REFUSAL_KINDS 9
/* Close codes counted one by one; others are counted as "other". */
#define METRICS_CLOSE_CODES                                                                        \
	{                                                                                          \
		1000, 1001, 1002, 1005, 1007, 1008, 1009, 1011                                     \
	}
#define METRICS_CLOSE_KINDS 8

/* Why a connection was closed as soon as it was accepted. */
enum metrics_limit {
	METRICS_LIMIT_PER_IP,     /* its address held --max-per-ip connections */
	METRICS_LIMIT_HANDSHAKES, /* --max-handshakes connections were in their handshake */
	METRICS_LIMIT_ADMIN,      /* the operator's listener had its few connections */
	METRICS_LIMIT_NO_MEMORY,  /* the per-address table could not grow */
	METRICS_LIMIT_KINDS,
};

struct metrics {
	uint64_t mt_accepted;   /* TCP connections accepted */
	uint64_t mt_handshakes; /* upgrades completed */
	uint64_t mt_refused[METRICS_REFUSAL_KINDS];
	uint64_t mt_messages_in;   /* complete messages received */
	uint64_t mt_bytes_in;      /* bytes read from clients, every byte counted */
	uint64_t mt_frames_out;    /* broadcast frames queued to recipients */
	uint64_t mt_bytes_out;     /* bytes written to clients */
	uint64_t mt_backpressure;  /* clients cut off for a full queue */
	uint64_t mt_rounds_split;  /* write rounds paused to read input that came meanwhile */
	uint64_t mt_idle_drops;    /* clients dropped after --idle-timeout */
	uint64_t mt_send_timeouts; /* clients cut off after --send-timeout */
	uint64_t mt_evictions;     /* clients cut off for the process's --max-memory */
	uint64_t mt_rate_limited;  /* times a client was paused for its --rate-limit */
	uint64_t mt_flood_closes;  /* clients closed after --flood-timeout */
	uint64_t mt_close_sent[METRICS_CLOSE_KINDS + 1]; /* the last: other codes */
	uint64_t mt_limit_refused[METRICS_LIMIT_KINDS];  /* connections closed at accept */
};

/* The Redis backplane's figures (--redis), kept by the backplane. Messages count one per
 * chat message, whatever the number of recipients. */
struct metrics_redis {
	uint64_t mr_published;       /* local messages Redis acknowledged */
	uint64_t mr_received;        /* messages from other nodes handed to the hub */
	uint64_t mr_dropped_down;    /* not sent to other nodes: Redis was down (or the link
				      * broke with them in flight) */
	uint64_t mr_dropped_backlog; /* not sent: too much unacknowledged (Redis too slow) */
	uint64_t mr_invalid;         /* from Redis and refused: bad envelope or channel */
	uint64_t mr_reconnects;      /* connections made after the first one */
	uint64_t mr_pending_bytes;   /* published, not yet acknowledged */
	uint64_t mr_subscribed_rooms;
	int mr_up; /* 1 while both links are ready */
};

/* Values read when the page is rendered: each one kept up to date as it changes, so a
 * scrape costs the same with one client or a hundred thousand. */
struct metrics_gauges {
	size_t mg_connections; /* every connection, handshaking and closing ones included */
	size_t mg_clients;     /* WebSocket clients open */
	size_t mg_rooms;
	const struct metrics_redis *mg_redis; /* NULL: no --redis, no redis families */
	size_t mg_handshaking;  /* connections still in their handshake (public listener) */
	size_t mg_addresses;    /* source addresses holding at least one connection */
	size_t mg_open_fds;     /* descriptors: those open at start-up, plus one a connection */
	size_t mg_memory_limit; /* --max-memory, as derived */
};

void metrics_count_refusal(struct metrics *m, int status);

/* Descriptors open now, counted by listing /proc/self/fd: a walk as long as the number of
 * descriptors, so it is done once at start-up and /metrics adds connections to it. */
size_t metrics_count_open_fds(void);
void metrics_count_close(struct metrics *m, uint16_t code);

/* Renders the Prometheus text exposition into a new buffer the caller owns (free()).
 * Returns its length, or 0 when memory runs out. */
size_t metrics_render_prometheus(const struct metrics *m, const struct metrics_gauges *g,
				 char **out);

/* Renders {"clients":N,"rooms":[{"name":"/lobby","clients":3},...]} for the n rooms given,
 * into a new buffer the caller owns (free()). Returns its length, or 0. */
size_t metrics_render_stats(const struct metrics_gauges *g, const struct hub_room_info *rooms,
			    size_t n, char **out);

/* Writes {"room":"/lobby","clients":3} into buf (room names need no JSON escaping).
 * Returns its length, or 0 when cap is too small. */
size_t metrics_render_room(const char *room, size_t room_len, size_t clients, char *buf,
			   size_t cap);

#endif
