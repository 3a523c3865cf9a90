/*
 * ratelimit: a client's allowance of messages and bytes, as two token buckets. Pure: the
 * caller passes the time and acts on the answer. chatd uses it for flood control in the
 * manner of IRC servers' "fake lag": a client over its rate is not disconnected, its input
 * is simply left unread until the buckets refill, so TCP slows the sender alone.
 *
 * The byte bucket may go into debt (a read takes what arrived, however much); the message
 * bucket is asked before each frame is handled and never goes below zero.
 */
#ifndef CHATD_RATELIMIT_H
#define CHATD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* One bucket's setting: per_sec tokens a second, up to burst. per_sec 0: no limit. */
struct ratelimit_rate {
	uint32_t rr_per_sec;
	uint32_t rr_burst;
};

struct ratelimit_policy {
	struct ratelimit_rate rp_messages; /* frames of any kind */
	struct ratelimit_rate rp_bytes;    /* bytes read */
};

/* 12 bytes per connection: messages are counted in thousandths so that low rates refill
 * smoothly at millisecond resolution. */
struct ratelimit {
	int32_t rl_milli_messages;
	int32_t rl_bytes;
	uint32_t rl_stamp; /* milliseconds, wrapping; only differences are used */
};

/* Full buckets. */
void ratelimit_init(struct ratelimit *rl, const struct ratelimit_policy *p, uint32_t now_ms);

/* Adds what elapsed since the last refill, up to each burst. */
void ratelimit_refill(struct ratelimit *rl, const struct ratelimit_policy *p, uint32_t now_ms);

/* Takes one message token; false (and nothing taken) when the bucket has none. */
bool ratelimit_take_message(struct ratelimit *rl, const struct ratelimit_policy *p);

/* Takes n bytes; the bucket may go into debt. */
void ratelimit_take_bytes(struct ratelimit *rl, const struct ratelimit_policy *p, uint32_t n);

/* True when the client may go on now: a message token and no byte debt. */
bool ratelimit_ready(const struct ratelimit *rl, const struct ratelimit_policy *p);

/* Milliseconds until ratelimit_ready will hold (0 when it does), at least 1 otherwise. */
uint32_t ratelimit_wait_ms(const struct ratelimit *rl, const struct ratelimit_policy *p);

/* True when both buckets are full: the client has been within its rate for a while. */
bool ratelimit_full(const struct ratelimit *rl, const struct ratelimit_policy *p);

#endif
