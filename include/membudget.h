/*
 * membudget: what chatd's buffers really cost, summed for the whole process. Every module
 * that allocates memory on a client's behalf (shared frames, queue rings, reassembly and
 * request buffers, held input) charges it here at its allocated size, header included, and
 * releases it on free; the server compares the sum with --max-memory and evicts the
 * clients holding the most when it is passed. Single-threaded, like the rest of chatd.
 */
#ifndef CHATD_MEMBUDGET_H
#define CHATD_MEMBUDGET_H

#include <stddef.h>

/* What malloc really spends on a block of n bytes: glibc rounds a request up to 16 bytes
 * and adds an 8-byte size word. Charging this, not n, is what makes many tiny buffers
 * count at what they cost. */
static inline size_t membudget_block(size_t n)
{
	size_t with_header = n + 8;
	return with_header < 32 ? 32 : (with_header + 15) & ~(size_t)15;
}

void membudget_charge(size_t bytes);
void membudget_release(size_t bytes);

/* Bytes charged and not yet released. */
size_t membudget_used(void);
/* The largest membudget_used() has been since the start. */
size_t membudget_peak(void);

/* The default process budget: a quarter of the memory this process may use (physical
 * memory, or the cgroup's memory.max when that is lower), at least 64 MiB. */
size_t membudget_default_limit(void);

#endif
