/*
 * hist: a latency histogram in fixed memory. Values (nanoseconds) fall in buckets that are
 * linear within each power of two, HIST_SUB_BUCKETS per octave, so a percentile is reported
 * within 1/HIST_SUB_BUCKETS (0.8%) of the true sample, however many samples there are: a
 * fan-out run records tens of millions of deliveries, too many to keep and sort.
 */
#ifndef CHATBENCH_HIST_H
#define CHATBENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS    7
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS)
/* Octave 0 holds 0..2*HIST_SUB_BUCKETS-1 one by one; each octave after it, one more bit. */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB_BUCKETS)

struct hist {
	uint64_t h_counts[HIST_BUCKETS];
	uint64_t h_total;
	uint64_t h_min, h_max; /* exact */
	double h_sum;          /* for the mean */
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t value);

/* The value at percentile pct (0-100]: the highest value of the bucket holding the sample of
 * that rank, capped at the exact maximum. 0 when the histogram is empty. */
uint64_t hist_percentile(const struct hist *h, double pct);
double hist_mean(const struct hist *h);

#endif
