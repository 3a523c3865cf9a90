/*
 * membudget: what chatd's buffers really cost, summed for the whole process. Every module
 * that allocates memory on a client's behalf (shared frames, queue rings, reassembly and
 * request buffers, held input) charges it here at its allocated size, header included, and
 * releases it on free; the server compares the sum with --max-memory and evicts the
 * clients holding the most when it is passed. Single-threaded, like the rest of chatd.
 */
#ifndef CHATD_MEMBUDGET_H
#define CHATD_MEMBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMBUDGET_RETURN_MIN      ((size_t)1 << 20)
#define MEMBUDGET_RETURN_EVERY_MS 1000

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

/* Asked once per loop pass with the loop's clock: true when what clients hold has fallen
 * to half its high-water mark, and by at least MEMBUDGET_RETURN_MIN bytes, at most once
 * a second. The caller then empties its buffer caches and calls membudget_trim. Without
 * it a burst's buffers, freed below the top of the heap and pinned there by the ones kept
 * for reuse, kept chatd's RSS at the burst's peak for good (test_abuse.py, tests/soak). */
bool membudget_should_return(uint64_t now_ms);
/* Gives malloc's free pages back to the kernel (glibc's malloc_trim) and starts a new
 * high-water mark. */
void membudget_trim(void);

/* The default process budget: a quarter of the memory this process may use (physical
 * memory, or the cgroup's memory.max when that is lower), at least 64 MiB. */
size_t membudget_default_limit(void);

#endif
