/*
 * latprof: where a message's time goes inside a WebSocket server, measured from outside it.
 *
 * An LD_PRELOAD library for the server under chatbench's fixed-load scenario. It wraps the
 * server's epoll_wait, read and sendmsg, finds chatbench's payloads in the bytes they carry
 * (client frames unmasked on the way in, server frames on the way out) and, since the
 * payload holds the send time on this machine's CLOCK_MONOTONIC, splits each message's life:
 *
 *   sent --inbound--> read by the server --queued--> first sendmsg --fan-out--> last sendmsg
 *
 * What is left of chatbench's one-way figure after the last sendmsg is the kernel's delivery
 * and chatbench's own reading. It also counts the loop's passes: events per epoll_wait, time
 * awake per pass, sendmsg calls and their cost. The report goes to $LATPROF_OUT (default
 * stderr) when the server exits. Messages of the first $LATPROF_SKIP_S seconds (default 2,
 * chatbench's warm-up) are left out. Not part of chatd: a measuring instrument, built by
 * `make -f bench/bench.mk build/latprof.so`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../hist.h"
#include "../payload.h"

#define MSG_SLOTS (1u << 17) /* messages tracked by (sender, seq); enough for minutes */

struct msg {
	uint64_t m_key; /* 0: free */
	uint64_t m_sent, m_read, m_first, m_last;
	uint32_t m_out;
};

static struct msg *msgs;
static struct hist h_inbound, h_queued, h_fanout, h_delivery, h_last;
static struct hist h_events, h_awake, h_sleep, h_sendmsg, h_sendmsg_per_pass, h_frames_per_call;
static uint64_t first_seen, skip_ns, wake_at, sleep_from, pass_sendmsg, sendmsg_calls;
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct msg *lookup(const struct payload *p)
{
	uint64_t key = ((uint64_t)p->pl_sender << 40 ^ p->pl_seq) + 1;
	uint64_t h = key * 0x9e3779b97f4a7c15u;

	for (uint32_t i = 0; i < MSG_SLOTS; i++) {
		struct msg *m = &msgs[(h + i) & (MSG_SLOTS - 1)];
		if (m->m_key == key)
			return m;
		if (m->m_key == 0) {
			m->m_key = key;
			m->m_sent = p->pl_time_ns;
			return m;
		}
	}
	return NULL;
}

/* Pass statistics count from the end of the warm-up, as the messages do. */
static bool measuring(uint64_t t)
{
	return first_seen != 0 && t >= first_seen + skip_ns;
}

static bool counted(const struct payload *p)
{
	if (p->pl_kind != PAYLOAD_MESSAGE)
		return false;
	if (first_seen == 0)
		first_seen = p->pl_time_ns;
	return p->pl_time_ns >= first_seen + skip_ns;
}

__attribute__((constructor)) static void init(void)
{
	real_epoll_wait = dlsym(RTLD_NEXT, "epoll_wait");
	real_read = dlsym(RTLD_NEXT, "read");
	real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	msgs = calloc(MSG_SLOTS, sizeof *msgs);
	const char *skip = getenv("LATPROF_SKIP_S");
	skip_ns = (uint64_t)((skip ? atof(skip) : 2.0) * 1e9);
	struct hist *all[] = {&h_inbound, &h_queued, &h_fanout, &h_delivery, &h_last, &h_events,
			      &h_awake, &h_sleep, &h_sendmsg, &h_sendmsg_per_pass,
			      &h_frames_per_call};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		hist_init(all[i]);
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	uint64_t t = now_ns();
	if (wake_at != 0 && measuring(t)) {
		hist_record(&h_awake, t - wake_at);
		hist_record(&h_sendmsg_per_pass, pass_sendmsg);
	}
	pass_sendmsg = 0;
	int n = real_epoll_wait(epfd, ev, max, timeout);
	wake_at = now_ns();
	if (n > 0 && measuring(wake_at)) {
		hist_record(&h_events, (uint64_t)n);
		hist_record(&h_sleep, wake_at - (sleep_from ? sleep_from : t));
	}
	sleep_from = n > 0 ? 0 : (sleep_from ? sleep_from : t);
	return n;
}

/* Client frames: FIN+opcode, MASK|len (7, 16 or 64 bits), a 4-byte mask, the payload. */
ssize_t read(int fd, void *buf, size_t len)
{
	ssize_t n = real_read(fd, buf, len);
	uint64_t t = now_ns();
	const uint8_t *b = buf;
	size_t off = 0;

	while (n > 0 && off + 6 <= (size_t)n) {
		uint64_t plen = b[off + 1] & 0x7f;
		size_t hdr = 2;
		if ((b[off + 1] & 0x80) == 0)
			break;
		if (plen == 126) {
			if (off + 8 > (size_t)n)
				break;
			plen = (uint64_t)b[off + 2] << 8 | b[off + 3];
			hdr = 4;
		} else if (plen == 127) {
			break;
		}
		const uint8_t *mask = b + off + hdr;
		const uint8_t *pl = mask + 4;
		if (off + hdr + 4 + plen > (size_t)n)
			break;
		uint8_t head[PAYLOAD_HEADER_LEN];
		struct payload p;
		if (plen >= PAYLOAD_HEADER_LEN) {
			for (size_t i = 0; i < PAYLOAD_HEADER_LEN; i++)
				head[i] = pl[i] ^ mask[i & 3];
			if (payload_parse(head, sizeof head, &p) && counted(&p)) {
				struct msg *m = lookup(&p);
				if (m != NULL && m->m_read == 0)
					m->m_read = t;
			}
		}
		off += hdr + 4 + plen;
	}
	return n;
}

/* Server frames: FIN+opcode, len (7 or 16 bits), the payload; the iovecs flattened first. */
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static uint8_t flat[1 << 16];
	uint64_t t0 = now_ns();
	ssize_t n = real_sendmsg(fd, msg, flags);
	uint64_t t = now_ns();
	size_t len = 0, frames = 0;

	pass_sendmsg++;
	sendmsg_calls++;
	if (measuring(t))
		hist_record(&h_sendmsg, t - t0);
	for (size_t i = 0; i < msg->msg_iovlen && n > 0 && len < (size_t)n; i++) {
		size_t take = msg->msg_iov[i].iov_len;
		if (take > (size_t)n - len)
			take = (size_t)n - len;
		if (take > sizeof flat - len)
			take = sizeof flat - len;
		memcpy(flat + len, msg->msg_iov[i].iov_base, take);
		len += take;
	}
	for (size_t off = 0; off + 2 <= len;) {
		uint64_t plen = flat[off + 1] & 0x7f;
		size_t hdr = 2;
		if (plen == 126) {
			if (off + 4 > len)
				break;
			plen = (uint64_t)flat[off + 2] << 8 | flat[off + 3];
			hdr = 4;
		} else if (plen == 127) {
			break;
		}
		struct payload p;
		if (off + hdr + plen <= len && payload_parse(flat + off + hdr, plen, &p) &&
		    counted(&p)) {
			struct msg *m = lookup(&p);
			if (m != NULL) {
				if (m->m_first == 0)
					m->m_first = t;
				m->m_last = t;
				m->m_out++;
				hist_record(&h_delivery, t - m->m_sent);
			}
		}
		frames++;
		off += hdr + plen;
	}
	if (measuring(t))
		hist_record(&h_frames_per_call, frames);
	return n;
}

static void row(FILE *f, const char *name, const struct hist *h, double scale, const char *unit)
{
	fprintf(f, "%-38s n=%-8llu p50=%-9.1f p90=%-9.1f p99=%-9.1f p99.9=%-9.1f max=%.1f %s\n",
		name, (unsigned long long)h->h_total, hist_percentile(h, 50) / scale,
		hist_percentile(h, 90) / scale, hist_percentile(h, 99) / scale,
		hist_percentile(h, 99.9) / scale, (double)h->h_max / scale, unit);
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("LATPROF_OUT");
	FILE *f = path ? fopen(path, "w") : stderr;
	uint64_t tail_at, tail_n = 0;
	double tail_in = 0, tail_q = 0, tail_fan = 0;

	if (f == NULL || msgs == NULL)
		return;
	for (uint32_t i = 0; i < MSG_SLOTS; i++) {
		const struct msg *m = &msgs[i];
		if (m->m_key == 0 || m->m_read == 0 || m->m_first == 0)
			continue;
		hist_record(&h_inbound, m->m_read - m->m_sent);
		hist_record(&h_queued, m->m_first - m->m_read);
		hist_record(&h_fanout, m->m_last - m->m_first);
		hist_record(&h_last, m->m_last - m->m_sent);
	}
	/* The slowest percent of messages by their last hand-off: what their time went to. */
	tail_at = hist_percentile(&h_last, 99);
	for (uint32_t i = 0; i < MSG_SLOTS; i++) {
		const struct msg *m = &msgs[i];
		if (m->m_key == 0 || m->m_read == 0 || m->m_first == 0 || m->m_last - m->m_sent < tail_at)
			continue;
		tail_n++;
		tail_in += (double)(m->m_read - m->m_sent);
		tail_q += (double)(m->m_first - m->m_read);
		tail_fan += (double)(m->m_last - m->m_first);
	}
	fprintf(f, "latprof: %llu sendmsg calls\n", (unsigned long long)sendmsg_calls);
	row(f, "inbound (sent -> read)", &h_inbound, 1e3, "us");
	row(f, "queued (read -> first sendmsg)", &h_queued, 1e3, "us");
	row(f, "fan-out (first -> last sendmsg)", &h_fanout, 1e3, "us");
	row(f, "last hand-off (sent -> last sendmsg)", &h_last, 1e3, "us");
	row(f, "each hand-off (sent -> its sendmsg)", &h_delivery, 1e3, "us");
	row(f, "events per epoll_wait", &h_events, 1, "");
	row(f, "awake per pass", &h_awake, 1e3, "us");
	row(f, "asleep before a pass", &h_sleep, 1e3, "us");
	row(f, "sendmsg calls per pass", &h_sendmsg_per_pass, 1, "");
	row(f, "sendmsg duration", &h_sendmsg, 1e3, "us");
	row(f, "frames per sendmsg", &h_frames_per_call, 1, "");
	if (tail_n > 0)
		fprintf(f,
			"slowest 1%% (%llu messages, last hand-off >= %.1f us): mean inbound %.1f us, "
			"queued %.1f us, fan-out %.1f us\n",
			(unsigned long long)tail_n, tail_at / 1e3, tail_in / tail_n / 1e3,
			tail_q / tail_n / 1e3, tail_fan / tail_n / 1e3);
	if (f != stderr)
		fclose(f);
}
