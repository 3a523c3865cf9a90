/*
 * libFuzzer harness for json (include/json.h). On any input: json_parse stays inside the
 * buffer (ASan), within its token and depth bounds, and, when it accepts, its tokens are
 * well formed: every jt_next lies after its token and within the count, every container's
 * bytes lie inside the input, every string decodes to jt_count bytes of valid UTF-8, and
 * json_write_string of that decoding parses back to the same bytes. Every failed property
 * abort()s so libFuzzer records the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

#define FUZZ_JSON_TOKENS 256
#define FUZZ_JSON_DEPTH  16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, size_t at)
{
	fprintf(stderr, "fuzz_json: %s (token %zu)\n", what, at);
	abort();
}

static void check_string(const char *buf, const struct json_token *t, size_t i)
{
	char *decoded = malloc(t->jt_len + 1), *written;
	struct json_token back[1];
	size_t n, wn;

	if (decoded == NULL)
		abort();
	if (t->jt_count > t->jt_len)
		fuzz_fail("a string decodes longer than its raw bytes", i);
	n = json_string_decode(buf, t, decoded);
	if (n != t->jt_count)
		fuzz_fail("json_string_decode disagrees with jt_count", i);
	if (!utf8_valid((const uint8_t *)decoded, n))
		fuzz_fail("a decoded string is not UTF-8", i);
	written = malloc(JSON_STRING_MAX(n));
	if (written == NULL)
		abort();
	wn = json_write_string(written, JSON_STRING_MAX(n), decoded, n);
	if (wn != json_string_size(decoded, n))
		fuzz_fail("json_string_size disagrees with json_write_string", i);
	if (wn == 0 || json_parse(written, wn, back, 1, 1) != 1 || back[0].jt_count != n)
		fuzz_fail("json_write_string does not parse back", i);
	char *again = malloc(n + 1);
	if (again == NULL)
		abort();
	if (json_string_decode(written, &back[0], again) != n || memcmp(again, decoded, n) != 0)
		fuzz_fail("the round trip changed the string", i);
	free(again);
	free(written);
	free(decoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_token tokens[FUZZ_JSON_TOKENS];
	/* An exact-size copy, so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	int n;

	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	n = json_parse(buf, size, tokens, FUZZ_JSON_TOKENS, FUZZ_JSON_DEPTH);
	if (n == 0 || n > FUZZ_JSON_TOKENS || n < JSON_ERR_SIZE)
		fuzz_fail("json_parse returned an impossible count", (size_t)n);
	for (int i = 0; i < n; i++) {
		const struct json_token *t = &tokens[i];
		if (t->jt_next <= (uint32_t)i || t->jt_next > (uint32_t)n)
			fuzz_fail("jt_next out of order", (size_t)i);
		if ((size_t)t->jt_start + t->jt_len > size)
			fuzz_fail("a token's bytes pass the input's end", (size_t)i);
		if (t->jt_kind == JSON_STRING)
			check_string(buf, t, (size_t)i);
		if (t->jt_kind == JSON_OBJECT || t->jt_kind == JSON_ARRAY) {
			uint32_t child = (uint32_t)i + 1, members = 0;
			while (child < t->jt_next) {
				child = tokens[child].jt_next;
				members++;
			}
			if (members != (t->jt_kind == JSON_OBJECT ? 2 * t->jt_count : t->jt_count))
				fuzz_fail("a container's count disagrees with its children",
					  (size_t)i);
		}
	}
	if (n > 0 && tokens[0].jt_next != (uint32_t)n)
		fuzz_fail("the top value does not span every token", 0);
	free(buf);
	return 0;
}
