/* Two token buckets per client, refilled lazily from the time passed in. */
#include "ratelimit.h"

#define MILLI 1000

static int32_t cap_of(const struct ratelimit_rate *r, int64_t scale)
{
	int64_t c = (int64_t)r->rr_burst * scale;
	return c > INT32_MAX ? INT32_MAX : (int32_t)c;
}

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_policy *p, uint32_t now_ms)
{
	rl->rl_milli_messages = cap_of(&p->rp_messages, MILLI);
	rl->rl_bytes = cap_of(&p->rp_bytes, 1);
	rl->rl_stamp = now_ms;
}

/* per_sec tokens a second is per_sec thousandths a millisecond. */
static int32_t refill_one(int32_t have, const struct ratelimit_rate *r, int64_t scale,
			  uint32_t elapsed_ms)
{
	int64_t cap = cap_of(r, scale);
	int64_t add = (int64_t)elapsed_ms * r->rr_per_sec * scale / MILLI;
	int64_t v = (int64_t)have + add;
	return (int32_t)(v > cap ? cap : v);
}

void ratelimit_refill(struct ratelimit *rl, const struct ratelimit_policy *p, uint32_t now_ms)
{
	uint32_t elapsed = now_ms - rl->rl_stamp; /* unsigned: correct across the wrap */

	if (elapsed == 0)
		return;
	if (p->rp_messages.rr_per_sec != 0)
		rl->rl_milli_messages =
			refill_one(rl->rl_milli_messages, &p->rp_messages, MILLI, elapsed);
	if (p->rp_bytes.rr_per_sec != 0)
		rl->rl_bytes = refill_one(rl->rl_bytes, &p->rp_bytes, 1, elapsed);
	rl->rl_stamp = now_ms;
}

bool ratelimit_take_message(struct ratelimit *rl, const struct ratelimit_policy *p)
{
	if (p->rp_messages.rr_per_sec == 0)
		return true;
	if (rl->rl_milli_messages < MILLI)
		return false;
	rl->rl_milli_messages -= MILLI;
	return true;
}

void ratelimit_take_bytes(struct ratelimit *rl, const struct ratelimit_policy *p, uint32_t n)
{
	if (p->rp_bytes.rr_per_sec == 0)
		return;
	/* The debt is bounded by one read, far from INT32_MIN. */
	int64_t v = (int64_t)rl->rl_bytes - n;
	rl->rl_bytes = (int32_t)(v < INT32_MIN / 2 ? INT32_MIN / 2 : v);
}

bool ratelimit_ready(const struct ratelimit *rl, const struct ratelimit_policy *p)
{
	return (p->rp_messages.rr_per_sec == 0 || rl->rl_milli_messages >= MILLI) &&
	       (p->rp_bytes.rr_per_sec == 0 || rl->rl_bytes > 0);
}

/* Milliseconds until a bucket holding have reaches want, rounded up. */
static uint32_t wait_for(int32_t have, int64_t want, const struct ratelimit_rate *r, int64_t scale)
{
	if (r->rr_per_sec == 0 || have >= want)
		return 0;
	int64_t per_ms_scaled = (int64_t)r->rr_per_sec * scale; /* tokens x MILLI a ms */
	int64_t ms = ((want - have) * MILLI + per_ms_scaled - 1) / per_ms_scaled;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)(ms < 1 ? 1 : ms);
}

uint32_t ratelimit_wait_ms(const struct ratelimit *rl, const struct ratelimit_policy *p)
{
	uint32_t a = wait_for(rl->rl_milli_messages, MILLI, &p->rp_messages, MILLI);
	uint32_t b = wait_for(rl->rl_bytes, 1, &p->rp_bytes, 1);
	return a > b ? a : b;
}

bool ratelimit_full(const struct ratelimit *rl, const struct ratelimit_policy *p)
{
	return (p->rp_messages.rr_per_sec == 0 ||
		rl->rl_milli_messages >= cap_of(&p->rp_messages, MILLI)) &&
	       (p->rp_bytes.rr_per_sec == 0 || rl->rl_bytes >= cap_of(&p->rp_bytes, 1));
}
