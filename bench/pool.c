/*
 * The client connections: connect, handshake, read frames, write batched output.
 *
 * The read path, per read() (one per readiness event unless the socket holds more than the
 * buffer): one clock read, then a walk over the frames in the buffer. A frame that is whole
 * in the buffer costs a header parse and a call to the handler; nothing is copied or
 * allocated. Only a frame cut by the end of a read keeps state: its header bytes, and the
 * first CLIENT_HEAD_MAX payload bytes of its message.
 */
#include "pool.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsclient.h"

#ifndef READ_BUF_SIZE /* overridable to test the reader with frames cut at every byte */
#define READ_BUF_SIZE (256 * 1024)
#endif
/* Bytes read from one client per readiness event, so one busy socket cannot starve the rest
 * (epoll is level-triggered: the rest is read next pass). */
#define READ_BUDGET     (1024 * 1024)
#define POOL_MAX_EVENTS 1024

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A benchmark that ran out of memory has no result worth saving: stop at once. */
static void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size);
	if (p == NULL) {
		fprintf(stderr, "chatbench: out of memory\n");
		exit(1);
	}
	return p;
}

/* xorshift64*. RFC 6455 section 10.3 wants mask keys that a hostile script cannot predict,
 * to protect proxies from cache poisoning; a load generator talking to its own loopback has
 * no such adversary, and its keys only need to vary from frame to frame. */
static uint64_t next_random(struct pool *p)
{
	uint64_t x = p->pl_rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->pl_rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

int pool_init(struct pool *p, const struct target *t, size_t count, size_t max_pending,
	      const struct pool_handlers *h, uint64_t seed)
{
	memset(p, 0, sizeof *p);
	p->pl_target = t;
	p->pl_handlers = h;
	p->pl_count = count;
	p->pl_max_pending = max_pending ? max_pending : 1;
	p->pl_rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
	p->pl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->pl_epfd < 0)
		return -1;
	p->pl_clients = xrealloc(NULL, count * sizeof *p->pl_clients);
	memset(p->pl_clients, 0, count * sizeof *p->pl_clients);
	for (size_t i = 0; i < count; i++) {
		p->pl_clients[i].cl_fd = -1;
		p->pl_clients[i].cl_id = (uint32_t)i;
	}
	p->pl_dirty = xrealloc(NULL, (count ? count : 1) * sizeof *p->pl_dirty);
	p->pl_read_cap = READ_BUF_SIZE;
	p->pl_read_buf = xrealloc(NULL, READ_BUF_SIZE);
	p->pl_now_ns = mono_ns();
	return 0;
}

static void client_release(struct client *c)
{
	if (c->cl_fd >= 0)
		close(c->cl_fd); /* also leaves the epoll set: the descriptor is never duplicated */
	c->cl_fd = -1;
	if (c->cl_tls != NULL)
		tlsclient_free(c->cl_tls);
	c->cl_tls = NULL;
	free(c->cl_out);
	free(c->cl_response);
	free(c->cl_control);
	c->cl_out = NULL;
	c->cl_response = NULL;
	c->cl_control = NULL;
	c->cl_out_len = c->cl_out_sent = c->cl_out_cap = 0;
}

void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->pl_count; i++)
		client_release(&p->pl_clients[i]);
	free(p->pl_clients);
	free(p->pl_dirty);
	free(p->pl_read_buf);
	if (p->pl_epfd >= 0)
		close(p->pl_epfd);
	memset(p, 0, sizeof *p);
	p->pl_epfd = -1;
}

/* Ends a client for good and tells the mode. Its slot stays, so an event for it still
 * waiting in this pass's batch finds it dead rather than reused. */
static void client_fail(struct pool *p, struct client *c, const char *why)
{
	enum client_state was = c->cl_state;

	if (was == CLIENT_DEAD)
		return;
	client_release(c);
	c->cl_state = CLIENT_DEAD;
	if (was == CLIENT_CONNECTING || was == CLIENT_HANDSHAKE)
		p->pl_pending--;
	else if (was == CLIENT_OPEN)
		p->pl_open--;
	p->pl_lost++;
	if (p->pl_error[0] == '\0')
		snprintf(p->pl_error, sizeof p->pl_error, "client %u: %s", c->cl_id, why);
	if (p->pl_handlers->ph_lost != NULL)
		p->pl_handlers->ph_lost(p, c, why);
}

static void client_fail_errno(struct pool *p, struct client *c, const char *what)
{
	char why[128];
	snprintf(why, sizeof why, "%s: %s", what, strerror(errno));
	client_fail(p, c, why);
}

static void set_interest(struct pool *p, struct client *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = c->cl_id};

	if (c->cl_events == events)
		return;
	c->cl_events = events;
	if (epoll_ctl(p->pl_epfd, EPOLL_CTL_MOD, c->cl_fd, &ev) < 0)
		client_fail_errno(p, c, "epoll_ctl");
}

static void mark_dirty(struct pool *p, struct client *c)
{
	if (c->cl_dirty)
		return;
	c->cl_dirty = true;
	p->pl_dirty[p->pl_dirty_len++] = c->cl_id;
}

/* Makes room for n more bytes of output, first moving unsent bytes to the front. */
static uint8_t *output_room(struct client *c, size_t n)
{
	if (c->cl_out_sent > 0) {
		memmove(c->cl_out, c->cl_out + c->cl_out_sent, c->cl_out_len - c->cl_out_sent);
		c->cl_out_len -= c->cl_out_sent;
		c->cl_out_sent = 0;
	}
	if (c->cl_out_len + n > c->cl_out_cap) {
		size_t cap = c->cl_out_cap ? c->cl_out_cap : 4096;
		while (cap < c->cl_out_len + n)
			cap *= 2;
		c->cl_out = xrealloc(c->cl_out, cap);
		c->cl_out_cap = cap;
	}
	return c->cl_out + c->cl_out_len;
}

void pool_send(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
	uint32_t mask = (uint32_t)next_random(p);
	uint8_t *out;
	size_t h;

	if (c->cl_state != CLIENT_OPEN)
		return;
	out = output_room(c, wsp_client_header_size(len) + len);
	h = wsp_encode_client_header(out, opcode, len, mask);
	wsp_mask_copy(out + h, payload, len, mask);
	c->cl_out_len += h + len;
	mark_dirty(p, c);
}

static ssize_t client_send(struct client *c, const uint8_t *data, size_t len)
{
	if (c->cl_tls != NULL)
		return tlsclient_write(c->cl_tls, data, len, &c->cl_tls_wait_read);
	return send(c->cl_fd, data, len, MSG_NOSIGNAL);
}

/* Writes as much queued output as the socket takes; asks for EPOLLOUT only while some is
 * left, so an idle client costs epoll nothing. */
static void client_flush(struct pool *p, struct client *c)
{
	while (c->cl_out_sent < c->cl_out_len) {
		ssize_t n = client_send(c, c->cl_out + c->cl_out_sent, c->cl_out_len - c->cl_out_sent);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return client_fail_errno(p, c, "send");
		}
		p->pl_writes++;
		c->cl_out_sent += (size_t)n;
	}
	if (c->cl_out_sent == c->cl_out_len) {
		c->cl_out_sent = c->cl_out_len = 0;
		/* Most clients never send after their request: give its buffer back, or 19,000
		 * idle clients would keep 19,000 pages. */
		if (c->cl_state == CLIENT_HANDSHAKE) {
			free(c->cl_out);
			c->cl_out = NULL;
			c->cl_out_cap = 0;
		}
	}
	set_interest(p, c, EPOLLIN | (c->cl_out_len > 0 && !c->cl_tls_wait_read ? EPOLLOUT : 0));
}

static void flush_dirty(struct pool *p)
{
	for (size_t i = 0; i < p->pl_dirty_len; i++) {
		struct client *c = &p->pl_clients[p->pl_dirty[i]];
		c->cl_dirty = false;
		if (c->cl_state == CLIENT_HANDSHAKE || c->cl_state == CLIENT_OPEN)
			client_flush(p, c);
	}
	p->pl_dirty_len = 0;
}

/* --- connecting ------------------------------------------------------------------------ */

/* An IPv4 loopback target: each client connects from one of SOURCE_ADDRESSES addresses in
 * 127.0.0.0/8, so that no source address needs more than a few hundred ports to reach the
 * server. From a single one, connect() must find a free port among ~28,000 (the default
 * ip_local_port_range) by scanning; with 19,000 connections open that scan took 78% of
 * chatbench's time and capped handshakes at ~3,000/s. IP_BIND_ADDRESS_NO_PORT leaves the
 * port to connect(), which then picks it knowing the destination. The server sees nothing
 * but other peer addresses. */
#define SOURCE_ADDRESSES 64

static int spread_source(const struct client *c, const struct target *t)
{
	struct sockaddr_in src = {.sin_family = AF_INET};
	int one = 1;

	if (t->t_addr.ss_family != AF_INET)
		return 0; /* ::1 is the only IPv6 loopback address */
	src.sin_addr.s_addr = htonl(0x7F000002u + c->cl_id % SOURCE_ADDRESSES); /* 127.0.0.2+ */
	(void)setsockopt(c->cl_fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	return bind(c->cl_fd, (const struct sockaddr *)&src, sizeof src);
}

void pool_spread_targets(struct pool *p, const struct target *extra, size_t n)
{
	p->pl_extra = extra;
	p->pl_extra_count = n;
}

static const struct target *target_of(const struct pool *p, const struct client *c)
{
	size_t i = c->cl_id % (p->pl_extra_count + 1);
	return i == 0 ? p->pl_target : &p->pl_extra[i - 1];
}

static void client_start(struct pool *p, struct client *c)
{
	const struct target *t = target_of(p, c);
	struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = c->cl_id};
	int one = 1;

	c->cl_started_ns = mono_ns();
	if (p->pl_started == 0)
		p->pl_first_start_ns = c->cl_started_ns;
	p->pl_started++;
	p->pl_pending++;
	c->cl_state = CLIENT_CONNECTING;
	c->cl_fd = socket(t->t_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->cl_fd < 0)
		return client_fail_errno(p, c, "socket");
	/* We batch our own writes; Nagle would only add delay to a lone message. */
	(void)setsockopt(c->cl_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (spread_source(c, t) < 0)
		return client_fail_errno(p, c, "bind");
	c->cl_events = EPOLLOUT;
	if (epoll_ctl(p->pl_epfd, EPOLL_CTL_ADD, c->cl_fd, &ev) < 0)
		return client_fail_errno(p, c, "epoll_ctl");
	/* Success or EINPROGRESS alike: the socket turns writable once connected. */
	if (connect(c->cl_fd, (const struct sockaddr *)&t->t_addr, t->t_addrlen) < 0 &&
	    errno != EINPROGRESS)
		return client_fail_errno(p, c, "connect");
}

/* connect() finished: send the upgrade request. */
static void client_connected(struct pool *p, struct client *c)
{
	uint8_t nonce[16];
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->cl_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		errno = err;
		return client_fail_errno(p, c, "connect");
	}
	if (p->pl_target->t_tls) {
		/* The request waits in cl_out while the TLS handshake runs inside the writes. */
		c->cl_tls = tlsclient_new(c->cl_fd);
		if (c->cl_tls == NULL)
			return client_fail(p, c, "cannot start a TLS session");
	}
	uint64_t r1 = next_random(p), r2 = next_random(p);
	memcpy(nonce, &r1, 8);
	memcpy(nonce + 8, &r2, 8);
	wsp_make_key(nonce, c->cl_key);

	char *out = (char *)output_room(c, 1024);
	const struct target *t = target_of(p, c);
	size_t n = wsp_format_request(out, 1024, t->t_host, t->t_path, c->cl_key);
	if (n == 0)
		return client_fail(p, c, "the upgrade request does not fit in 1 KiB");
	c->cl_out_len += n;
	c->cl_state = CLIENT_HANDSHAKE;
	client_flush(p, c);
}

static void connect_more(struct pool *p)
{
	while (p->pl_started < p->pl_goal && p->pl_pending < p->pl_max_pending)
		client_start(p, &p->pl_clients[p->pl_started]);
}

void pool_connect(struct pool *p, size_t upto)
{
	p->pl_goal = upto < p->pl_count ? upto : p->pl_count;
	connect_more(p);
}

size_t pool_wait_connected(struct pool *p, uint64_t timeout_ns)
{
	uint64_t deadline = mono_ns() + timeout_ns;

	while ((p->pl_pending > 0 || p->pl_started < p->pl_goal) && mono_ns() < deadline)
		if (pool_run_once(p, 100) < 0)
			break;
	return p->pl_open;
}

/* Bytes of the server's answer arrived. Returns how many of data belong to the 101 head;
 * the rest are frames. The head is checked straight from the read buffer when it came in
 * one piece, and gathered in cl_response only when it did not. */
static size_t handshake_input(struct pool *p, struct client *c, const uint8_t *data, size_t len)
{
	const char *head = (const char *)data;
	size_t have = len, old = c->cl_response_len, consumed = 0;
	char err[160];

	if (c->cl_response != NULL) {
		size_t take = WSP_MAX_RESPONSE - old < len ? WSP_MAX_RESPONSE - old : len;
		memcpy(c->cl_response + old, data, take);
		c->cl_response_len += take;
		head = c->cl_response;
		have = c->cl_response_len;
	}
	switch (wsp_check_response(head, have, c->cl_key, &consumed, err, sizeof err)) {
	case WSP_INCOMPLETE:
		if (c->cl_response == NULL) {
			c->cl_response = xrealloc(NULL, WSP_MAX_RESPONSE);
			memcpy(c->cl_response, data, len);
			c->cl_response_len = len;
		}
		return len;
	case WSP_BAD: client_fail(p, c, err); return len;
	case WSP_OK: break;
	}
	free(c->cl_response);
	c->cl_response = NULL;
	c->cl_response_len = 0;
	c->cl_state = CLIENT_OPEN;
	if (c->cl_tls != NULL && tlsclient_resumed(c->cl_tls))
		p->pl_tls_resumed++;
	p->pl_pending--;
	p->pl_open++;
	p->pl_last_open_ns = p->pl_now_ns;
	if (p->pl_handlers->ph_open != NULL)
		p->pl_handlers->ph_open(p, c);
	return consumed - old;
}

/* --- reading frames ---------------------------------------------------------------------- */

/* Section 5.2's rules for a frame from a server; NULL when the header is acceptable. */
static const char *header_error(const struct client *c, const struct wsp_header *h)
{
	if (h->wh_masked)
		return "the server masked a frame (section 5.1)";
	if (h->wh_rsv != 0)
		return "reserved bits set in a frame";
	switch (h->wh_opcode) {
	case WSP_OP_CONTINUATION:
		return c->cl_msg_opcode != 0 ? NULL : "continuation frame without a message";
	case WSP_OP_TEXT:
	case WSP_OP_BINARY:
		return c->cl_msg_opcode == 0 ? NULL : "new message inside a fragmented one";
	case WSP_OP_CLOSE:
	case WSP_OP_PING:
	case WSP_OP_PONG:
		return h->wh_fin && h->wh_payload_len <= WSP_MAX_CONTROL
			       ? NULL
			       : "malformed control frame";
	default: return "reserved opcode";
	}
}

/* Reads a frame header from data, joined to the part kept from the last read if any.
 * Returns the bytes consumed; cl_in_frame is set once the header is complete and valid. */
static size_t read_header(struct pool *p, struct client *c, const uint8_t *data, size_t len)
{
	const uint8_t *hp = data;
	size_t hlen = len, had = c->cl_hdr_have;
	struct wsp_header *h = &c->cl_frame;

	if (had > 0) {
		size_t take = WSP_MAX_HEADER - had < len ? WSP_MAX_HEADER - had : len;
		memcpy(c->cl_hdr + had, data, take);
		hp = c->cl_hdr;
		hlen = had + take;
	}
	switch (wsp_parse_header(hp, hlen, h)) {
	case WSP_INCOMPLETE: /* fewer than WSP_MAX_HEADER bytes in all: keep them */
		if (had == 0)
			memcpy(c->cl_hdr, data, len);
		c->cl_hdr_have = (uint8_t)hlen;
		return len;
	case WSP_BAD: client_fail(p, c, "64-bit frame length with the top bit set"); return len;
	case WSP_OK: break;
	}
	c->cl_hdr_have = 0;
	const char *why = header_error(c, h);
	if (why != NULL) {
		client_fail(p, c, why);
		return len;
	}
	if (h->wh_opcode == WSP_OP_TEXT || h->wh_opcode == WSP_OP_BINARY) {
		c->cl_msg_opcode = h->wh_opcode;
		c->cl_msg_len = 0;
		c->cl_msg_head_len = 0;
	}
	c->cl_control_len = 0;
	c->cl_frame_left = h->wh_payload_len;
	c->cl_in_frame = true;
	return h->wh_header_len - had;
}

static void deliver(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *head,
		    size_t head_len, uint64_t len)
{
	p->pl_messages_in++;
	p->pl_handlers->ph_message(p, c, opcode, head, head_len, len);
}

static void control_frame(struct pool *p, struct client *c, uint8_t opcode, const uint8_t *data,
			  size_t len)
{
	char why[64];

	switch (opcode) {
	case WSP_OP_PING: pool_send(p, c, WSP_OP_PONG, data, len); break;
	case WSP_OP_PONG: break;
	case WSP_OP_CLOSE:
		snprintf(why, sizeof why, "the server closed the connection (code %u)",
			 len >= 2 ? (unsigned)(data[0] << 8 | data[1]) : 1005u);
		client_fail(p, c, why);
		break;
	}
}

/* True when the current frame is entirely in the avail bytes ahead and needs no state: a
 * control frame, or a data frame that is a whole message. */
static bool frame_whole_here(const struct client *c, size_t avail)
{
	const struct wsp_header *h = &c->cl_frame;
	bool standalone =
		h->wh_opcode >= WSP_OP_CLOSE || (h->wh_fin && h->wh_opcode != WSP_OP_CONTINUATION);
	return standalone && c->cl_frame_left <= avail;
}

/* The fast path: hand out a slice of the read buffer. */
static void frame_whole(struct pool *p, struct client *c, const uint8_t *payload, size_t len)
{
	uint8_t opcode = c->cl_frame.wh_opcode;

	c->cl_in_frame = false;
	if (opcode >= WSP_OP_CLOSE)
		return control_frame(p, c, opcode, payload, len);
	c->cl_msg_opcode = 0;
	deliver(p, c, opcode, payload, len, len);
}

/* The slow path: part of a frame's payload. Keeps what a handler will look at and counts
 * the rest. Returns the bytes consumed. */
static size_t frame_piece(struct pool *p, struct client *c, const uint8_t *data, size_t avail)
{
	size_t take = c->cl_frame_left < avail ? (size_t)c->cl_frame_left : avail;
	uint8_t opcode = c->cl_frame.wh_opcode;

	if (opcode >= WSP_OP_CLOSE) {
		if (c->cl_control == NULL)
			c->cl_control = xrealloc(NULL, WSP_MAX_CONTROL);
		memcpy(c->cl_control + c->cl_control_len, data, take);
		c->cl_control_len = (uint8_t)(c->cl_control_len + take);
	} else {
		size_t keep = CLIENT_HEAD_MAX - c->cl_msg_head_len;
		if (keep > take)
			keep = take;
		memcpy(c->cl_msg_head + c->cl_msg_head_len, data, keep);
		c->cl_msg_head_len = (uint8_t)(c->cl_msg_head_len + keep);
		c->cl_msg_len += take;
	}
	c->cl_frame_left -= take;
	if (c->cl_frame_left > 0)
		return take;
	c->cl_in_frame = false;
	if (opcode >= WSP_OP_CLOSE) {
		control_frame(p, c, opcode, c->cl_control, c->cl_control_len);
	} else if (c->cl_frame.wh_fin) {
		uint8_t msg_opcode = c->cl_msg_opcode;
		c->cl_msg_opcode = 0;
		deliver(p, c, msg_opcode, c->cl_msg_head, c->cl_msg_head_len, c->cl_msg_len);
	}
	return take;
}

static void frames_input(struct pool *p, struct client *c, const uint8_t *data, size_t len)
{
	size_t pos = 0;

	while (pos < len && c->cl_state == CLIENT_OPEN) {
		if (!c->cl_in_frame) {
			pos += read_header(p, c, data + pos, len - pos);
			if (!c->cl_in_frame)
				return; /* the header goes on in the next read, or the client failed
					 */
			if (frame_whole_here(c, len - pos)) {
				size_t n = (size_t)c->cl_frame_left;
				frame_whole(p, c, data + pos, n);
				pos += n;
				continue;
			}
		}
		pos += frame_piece(p, c, data + pos, len - pos);
	}
}

static void client_readable(struct pool *p, struct client *c)
{
	size_t budget = READ_BUDGET;

	while (budget > 0 && (c->cl_state == CLIENT_HANDSHAKE || c->cl_state == CLIENT_OPEN)) {
		bool wants_write = false;
		ssize_t n = c->cl_tls != NULL ? tlsclient_read(c->cl_tls, p->pl_read_buf,
							       p->pl_read_cap, &wants_write)
					      : read(c->cl_fd, p->pl_read_buf, p->pl_read_cap);
		/* A TLS write that waited for input (the handshake) can go on now. */
		if (c->cl_tls != NULL && c->cl_tls_wait_read && c->cl_out_len > c->cl_out_sent)
			mark_dirty(p, c);
		if (n == 0)
			return client_fail(p, c, "the server closed the connection");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_fail_errno(p, c, "read");
			return;
		}
		p->pl_now_ns = mono_ns();
		p->pl_reads++;
		p->pl_bytes_in += (uint64_t)n;
		const uint8_t *data = p->pl_read_buf;
		size_t len = (size_t)n;
		if (c->cl_state == CLIENT_HANDSHAKE) {
			size_t used = handshake_input(p, c, data, len);
			data += used;
			len -= used;
		}
		if (c->cl_state == CLIENT_OPEN && len > 0)
			frames_input(p, c, data, len);
		/* A short read drained the socket: skip the read that would say EAGAIN. */
		if ((size_t)n < p->pl_read_cap)
			return;
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
}

static void client_event(struct pool *p, struct client *c, uint32_t events)
{
	switch (c->cl_state) {
	case CLIENT_CONNECTING: client_connected(p, c); return;
	case CLIENT_HANDSHAKE:
	case CLIENT_OPEN:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			client_readable(p, c);
		if ((events & EPOLLOUT) && c->cl_state != CLIENT_DEAD)
			client_flush(p, c);
		return;
	case CLIENT_IDLE:
	case CLIENT_DEAD: return; /* died earlier in this batch */
	}
}

int pool_run_once(struct pool *p, int timeout_ms)
{
	struct epoll_event events[POOL_MAX_EVENTS];

	connect_more(p);
	flush_dirty(p);
	int n = epoll_wait(p->pl_epfd, events, POOL_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	p->pl_now_ns = mono_ns();
	for (int i = 0; i < n; i++)
		client_event(p, &p->pl_clients[events[i].data.u32], events[i].events);
	return 0;
}
