/*
 * pool: many WebSocket client connections driven by one epoll loop. It connects them (a
 * bounded number of handshakes at a time), checks each 101, reads frames and hands every
 * complete message to the mode's handler, and writes what the mode queued.
 *
 * Built not to be the bottleneck:
 *   reads     one shared 256 KiB buffer for every client; a frame that arrived whole is
 *             handed to the handler as a slice of it (no copy); a frame split across reads
 *             keeps only its first CLIENT_HEAD_MAX bytes, which is all a handler looks at
 *   writes    pool_send only appends a masked frame to the client's buffer; the buffers are
 *             written once per loop pass, one send() per client, however many frames
 *   time      one clock read per read(), not per frame
 */
#ifndef CHATBENCH_POOL_H
#define CHATBENCH_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"
#include "wsproto.h"

/* Bytes of each message's payload a handler gets to see (our payload header fits). */
#define CLIENT_HEAD_MAX 64

struct pool;
struct client;

struct pool_handlers {
	/* The handshake succeeded (optional). */
	void (*ph_open)(struct pool *p, struct client *c);
	/* A complete message arrived: head holds its first head_len bytes (all of them when it
	 * arrived in one read, else at most CLIENT_HEAD_MAX), len is its full length. head is
	 * borrowed until the handler returns. */
	void (*ph_message)(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *head,
			   size_t head_len, uint64_t len);
	/* The connection failed or the server closed it (optional); why is static text or the
	 * pool's error buffer. */
	void (*ph_lost)(struct pool *p, struct client *c, const char *why);
	void *ph_arg; /* the mode's state */
};

enum client_state {
	CLIENT_IDLE,       /* not started */
	CLIENT_CONNECTING, /* connect() in progress */
	CLIENT_HANDSHAKE,  /* request sent, waiting for the 101 */
	CLIENT_OPEN,
	CLIENT_DEAD,
};

struct client {
	int cl_fd;
	uint32_t cl_id; /* index in the pool, 0..count-1 */
	enum client_state cl_state;
	uint32_t cl_events;     /* epoll interest as registered */
	bool cl_dirty;          /* on the pool's dirty list */
	uint64_t cl_started_ns; /* when connect() was called */
	char cl_key[WSP_KEY_LEN + 1];
	void *cl_tls;          /* the TLS session (tlsclient.h) for wss://; owned; else NULL */
	bool cl_tls_wait_read; /* a TLS write waits for input (the handshake), not POLLOUT */
	char *cl_response; /* the 101 head when it spans reads; owned, freed once open */
	size_t cl_response_len;

	/* Output not yet written: masked frames (or the request). Owned. */
	uint8_t *cl_out;
	size_t cl_out_len, cl_out_sent, cl_out_cap;

	/* The frame reader's state between reads. */
	uint8_t cl_hdr[WSP_MAX_HEADER]; /* a header split across reads */
	uint8_t cl_hdr_have;
	bool cl_in_frame;
	struct wsp_header cl_frame;
	uint64_t cl_frame_left; /* payload bytes of the current frame still to come */
	uint8_t cl_msg_opcode;  /* of the data message in progress, 0 when none */
	uint64_t cl_msg_len;
	uint8_t cl_msg_head[CLIENT_HEAD_MAX];
	uint8_t cl_msg_head_len;
	uint8_t *cl_control; /* a control frame split across reads; owned, allocated then */
	uint8_t cl_control_len;
};

struct pool {
	int pl_epfd;
	const struct target *pl_target;
	const struct target *pl_extra; /* pool_spread_targets; borrowed */
	size_t pl_extra_count;
	const struct pool_handlers *pl_handlers;
	struct client *pl_clients; /* owned array */
	size_t pl_count;
	size_t pl_max_pending; /* handshakes in progress at once */

	size_t pl_goal;    /* pool_connect's target: clients [0, pl_goal) are to be started */
	size_t pl_started; /* clients [0, pl_started) have been started */
	size_t pl_pending; /* connecting or waiting for the 101 */
	size_t pl_open;
	size_t pl_lost;
	uint64_t pl_first_start_ns, pl_last_open_ns;

	uint8_t *pl_read_buf; /* shared by every read; owned */
	size_t pl_read_cap;
	uint32_t *pl_dirty; /* clients with output queued this pass; owned */
	size_t pl_dirty_len;

	uint64_t pl_now_ns; /* CLOCK_MONOTONIC, as of the last epoll_wait return or read */
	uint64_t pl_rng;    /* xorshift64* state: mask keys and handshake nonces */

	/* Counters for the report. */
	uint64_t pl_reads, pl_writes, pl_messages_in, pl_bytes_in;
	uint64_t pl_tls_resumed; /* wss:// handshakes that resumed a session */
	char pl_error[256]; /* the first connection failure, for the report */
};

/* Spreads clients over t and n more targets (client i to number i % (n + 1)); extra must
 * outlive the pool. Call before pool_connect. */
void pool_spread_targets(struct pool *p, const struct target *extra, size_t n);

/* 0, or -1 with errno set. The target and handlers must outlive the pool. */
int pool_init(struct pool *p, const struct target *t, size_t count, size_t max_pending,
	      const struct pool_handlers *h, uint64_t seed);
void pool_free(struct pool *p);

/* Starts connecting clients until `upto` have been started (at most max_pending at once;
 * the rest are started by later passes as handshakes finish). */
void pool_connect(struct pool *p, size_t upto);

/* Runs passes until every started client is open or dead, or timeout_ns passes. Returns
 * the number open. */
size_t pool_wait_connected(struct pool *p, uint64_t timeout_ns);

/* One pass: start pending connects, write queued output, wait up to timeout_ms for events,
 * handle them. Returns -1 only when epoll itself fails. */
int pool_run_once(struct pool *p, int timeout_ms);

/* Queues one complete masked frame. Written at the start of the next pass. */
void pool_send(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *payload,
	       size_t len);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);

static inline uint64_t pool_now(const struct pool *p)
{
	return p->pl_now_ns;
}

#endif
