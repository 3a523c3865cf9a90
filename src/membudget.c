/*
 * The process-wide memory account. A plain counter: the modules that allocate for clients
 * call it beside malloc and free, so the sum is exact at every moment and reading it is
 * free (no walk over the connections).
 */
#include "membudget.h"

#include <stdio.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MEMBUDGET_MIN_DEFAULT ((size_t)64 << 20)

static size_t used, peak;
static size_t high; /* the most used since memory was last given back */

void membudget_charge(size_t bytes)
{
	used += bytes;
	if (used > peak)
		peak = used;
	if (used > high)
		high = used;
}

void membudget_release(size_t bytes)
{
	/* A release never exceeds what was charged; a mismatch is a bug, not input. */
	used = bytes <= used ? used - bytes : 0;
}

size_t membudget_used(void)
{
	return used;
}

size_t membudget_peak(void)
{
	return peak;
}

bool membudget_should_return(uint64_t now_ms)
{
	static uint64_t last_ms;

	if (high - used < MEMBUDGET_RETURN_MIN || used > high / 2)
		return false;
	if (last_ms != 0 && now_ms - last_ms < MEMBUDGET_RETURN_EVERY_MS)
		return false; /* a later pass returns it */
	/* Each return walks malloc's free chunks and costs page faults when the memory is used
	 * again: halving the mark, and once a second, keep that small beside what it returns
	 * (under 0.5 ms a call in the soak). In a steady state this never fires. */
	last_ms = now_ms ? now_ms : 1;
	return true;
}

void membudget_trim(void)
{
	high = used;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Reads one number from a cgroup file; 0 for "max", a missing file or anything else. */
static size_t read_limit(const char *path)
{
	unsigned long long v = 0;
	FILE *m = fopen(path, "r");

	if (m == NULL)
		return 0;
	if (fscanf(m, "%llu", &v) != 1)
		v = 0;
	fclose(m);
	/* cgroup v1 says "no limit" with a huge page-aligned number. */
	return v >= (1ULL << 60) ? 0 : (size_t)v;
}

/* The memory limit of this process's cgroup (v2 memory.max, or v1 memory.limit_in_bytes),
 * or 0 when there is none. chatd runs in a container or a systemd slice often enough that
 * physical memory alone would overstate what it may use. */
static size_t cgroup_limit(void)
{
	char path[512], line[512], rel[400];
	size_t limit = 0, v;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		v = 0;
		if (sscanf(line, "0::%399s", rel) == 1) {
			snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max",
				 rel[1] == '\0' ? "" : rel);
			v = read_limit(path);
		} else if (sscanf(line, "%*d:memory:%399s", rel) == 1) {
			snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes",
				 rel[1] == '\0' ? "" : rel);
			v = read_limit(path);
		}
		if (v != 0 && (limit == 0 || v < limit))
			limit = v;
	}
	fclose(f);
	return limit;
}

size_t membudget_default_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	size_t total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
	size_t cg = cgroup_limit();

	if (cg != 0 && (total == 0 || cg < total))
		total = cg;
	total /= 4;
	return total < MEMBUDGET_MIN_DEFAULT ? MEMBUDGET_MIN_DEFAULT : total;
}
