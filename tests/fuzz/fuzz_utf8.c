/*
 * libFuzzer harness for utf8 (include/utf8.h). Compares utf8_valid with the independent
 * reference in utf8_ref.h, checks that utf8_feed fails at exactly the first byte the
 * reference rejects when fed one byte per call, and that feeding the input split in two at
 * any position gives the same answer as utf8_valid (the state that survives between calls
 * is what a text message spread over frames and reads relies on). Every failed property
 * abort()s so libFuzzer records the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "utf8_ref.h"

/* Inputs longer than this are split at a sample of positions, not at every one, so one
 * execution stays well under a millisecond or so. */
#define FUZZ_UTF8_ALL_SPLITS_MAX 512
#define FUZZ_UTF8_SAMPLED_SPLITS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, size_t at)
{
	fprintf(stderr, "fuzz_utf8: %s (at %zu)\n", what, at);
	abort();
}

/* Feeds data[0..k) from a buffer that ends right after it (so ASan sees a read past k),
 * then data[k..size). */
static void fuzz_utf8_check_split(const uint8_t *data, size_t size, uint8_t *tail_buf, size_t k,
                                  size_t first_bad, const bool *boundary_at, bool valid)
{
	struct utf8_validator v;
	uint8_t *head = tail_buf + size - k;
	bool ok_head, ok_rest;

	memcpy(head, data, k);
	utf8_reset(&v);
	ok_head = utf8_feed(&v, head, k);
	if (ok_head != (first_bad >= k))
		fuzz_fail("utf8_feed on a prefix disagrees with the reference", k);
	if (ok_head && utf8_at_boundary(&v) != boundary_at[k])
		fuzz_fail("utf8_at_boundary on a prefix disagrees with the reference", k);
	ok_rest = utf8_feed(&v, data + k, size - k);
	if (!ok_head && ok_rest)
		fuzz_fail("utf8_feed accepted more input after failing", k);
	if ((ok_head && ok_rest && utf8_at_boundary(&v)) != valid)
		fuzz_fail("split feed disagrees with utf8_valid", k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct utf8_ref ref;
	struct utf8_validator v;
	size_t first_bad = size;
	bool *boundary_at; /* boundary_at[k]: the reference is at a boundary after k bytes */
	uint8_t *tail_buf;
	bool valid, ref_boundary;

	/* The reference, once, recording where each prefix ends. */
	boundary_at = malloc(size + 1);
	tail_buf = malloc(size + 1);
	if (boundary_at == NULL || tail_buf == NULL)
		abort();
	utf8_ref_reset(&ref);
	boundary_at[0] = true;
	for (size_t i = 0; i < size; i++) {
		if (first_bad == size && !utf8_ref_step(&ref, data[i]))
			first_bad = i;
		boundary_at[i + 1] = first_bad == size && utf8_ref_at_boundary(&ref);
	}
	ref_boundary = boundary_at[size];
	valid = first_bad == size && ref_boundary;

	if (utf8_valid(data, size) != valid)
		fuzz_fail(valid ? "utf8_valid rejected valid UTF-8"
		                : "utf8_valid accepted invalid UTF-8",
		          first_bad);
	if (utf8_ref_valid(data, size) != valid)
		fuzz_fail("the reference disagrees with itself", 0);

	/* One byte per call: fail fast at exactly the first bad byte, and stay failed. */
	utf8_reset(&v);
	for (size_t i = 0; i < size; i++) {
		bool ok = utf8_feed(&v, data + i, 1);
		if (ok != (i < first_bad))
			fuzz_fail("byte-at-a-time utf8_feed fails at the wrong byte", i);
		if (ok && utf8_at_boundary(&v) != boundary_at[i + 1])
			fuzz_fail("byte-at-a-time utf8_at_boundary is wrong", i);
	}
	if (first_bad < size && utf8_feed(&v, (const uint8_t *)"a", 1))
		fuzz_fail("a failed validator accepted more input", first_bad);
	/* An empty feed changes nothing. */
	utf8_reset(&v);
	if (!utf8_feed(&v, data, 0) || !utf8_at_boundary(&v))
		fuzz_fail("an empty feed changed the state", 0);

	/* Two pieces, split at every position (or a sample of them). */
	if (size <= FUZZ_UTF8_ALL_SPLITS_MAX) {
		for (size_t k = 0; k <= size; k++)
			fuzz_utf8_check_split(data, size, tail_buf, k, first_bad, boundary_at,
			                      valid);
	} else {
		for (size_t s = 0; s <= FUZZ_UTF8_SAMPLED_SPLITS; s++) {
			size_t k = size * s / FUZZ_UTF8_SAMPLED_SPLITS;
			fuzz_utf8_check_split(data, size, tail_buf, k, first_bad, boundary_at,
			                      valid);
		}
		/* Around the first bad byte is where an off-by-one would show. */
		for (size_t k = first_bad > 4 ? first_bad - 4 : 0; k <= size && k <= first_bad + 4;
		     k++)
			fuzz_utf8_check_split(data, size, tail_buf, k, first_bad, boundary_at,
			                      valid);
	}

	free(tail_buf);
	free(boundary_at);
	return 0;
}
