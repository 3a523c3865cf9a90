/* fuzz_common.h: what every harness needs: a failure that stops the fuzzer with a message,
 * and an allocation that cannot fail silently. Define FUZZ_NAME before including. */
#ifndef CHATD_FUZZ_COMMON_H
#define CHATD_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", FUZZ_NAME, what);
	abort();
}

static inline void *fuzz_malloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL && n != 0)
		abort();
	return p;
}

#endif
