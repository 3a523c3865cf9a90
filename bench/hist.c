/* Log-linear latency buckets: the idea of HdrHistogram, in a few lines. */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->h_min = UINT64_MAX;
}

/* Values below 2*SUB map to themselves. Above, a value with its top bit at position msb keeps
 * its HIST_SUB_BITS+1 leading bits: shift = msb - HIST_SUB_BITS low bits are dropped, and
 * each shift owns the next HIST_SUB_BUCKETS buckets. */
static unsigned bucket_of(uint64_t v)
{
	if (v < 2 * HIST_SUB_BUCKETS)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB_BUCKETS + (unsigned)((v >> shift) - HIST_SUB_BUCKETS);
}

/* The highest value that falls in bucket b. */
static uint64_t bucket_high(unsigned b)
{
	if (b < 2 * HIST_SUB_BUCKETS)
		return b;
	unsigned shift = b / HIST_SUB_BUCKETS - 1;
	uint64_t mantissa = HIST_SUB_BUCKETS + b % HIST_SUB_BUCKETS;
	return (mantissa << shift) + ((uint64_t)1 << shift) - 1;
}

void hist_record(struct hist *h, uint64_t value)
{
	h->h_counts[bucket_of(value)]++;
	h->h_total++;
	h->h_sum += (double)value;
	if (value < h->h_min)
		h->h_min = value;
	if (value > h->h_max)
		h->h_max = value;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	if (h->h_total == 0)
		return 0;
	/* The rank of the sample at pct, counted from 1: ceil(pct/100 * total), at least 1. */
	uint64_t rank = (uint64_t)(pct / 100.0 * (double)h->h_total);
	if ((double)rank < pct / 100.0 * (double)h->h_total || rank == 0)
		rank++;
	uint64_t seen = 0;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->h_counts[b];
		if (seen >= rank) {
			uint64_t v = bucket_high(b);
			return v < h->h_max ? v : h->h_max;
		}
	}
	return h->h_max;
}

double hist_mean(const struct hist *h)
{
	return h->h_total ? h->h_sum / (double)h->h_total : 0.0;
}
