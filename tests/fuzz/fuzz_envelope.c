/*
 * libFuzzer harness for envelope (include/envelope.h), the check of every message that
 * arrives from Redis. The input, copied into an exactly sized heap block (a read past it
 * is an ASan error), is decoded; the verdict is compared with a model written here from
 * the layout in envelope.h and with the UTF-8 reference (utf8_ref.h); an accepted input
 * must come back byte for byte from envelope_encode of what was decoded, and the payload
 * slice must lie inside the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FUZZ_NAME "fuzz_envelope"
#include "envelope.h"
#include "fuzz_common.h"
#include "utf8_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum envelope_status model(const uint8_t *p, size_t n)
{
	if (n < 10)
		return ENVELOPE_SHORT;
	if (p[0] != 0xC1)
		return ENVELOPE_BAD_MAGIC;
	if (p[1] != 1 && p[1] != 2)
		return ENVELOPE_BAD_OPCODE;
	if (p[1] == 1 && !utf8_ref_valid(p + 10, n - 10))
		return ENVELOPE_BAD_UTF8;
	return ENVELOPE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = fuzz_malloc(size ? size : 1);
	struct envelope env;
	enum envelope_status st;

	memcpy(in, data, size);
	st = envelope_decode(in, size, &env);
	if (st != model(in, size))
		fuzz_fail("verdict differs from the model");
	if (st == ENVELOPE_OK) {
		if (env.en_payload != in + ENVELOPE_HEADER_SIZE ||
		    env.en_len != size - ENVELOPE_HEADER_SIZE)
			fuzz_fail("payload slice is not the rest of the input");
		uint64_t origin = 0;
		for (int i = 0; i < 8; i++)
			origin = origin << 8 | in[2 + i];
		if (env.en_origin != origin || env.en_opcode != in[1])
			fuzz_fail("origin or opcode misread");
		uint8_t *out = fuzz_malloc(size);
		/* One byte short must be refused, the exact size must reproduce the input. */
		if (envelope_encode(out, size - 1, env.en_origin, env.en_opcode, env.en_payload,
				    env.en_len) != 0)
			fuzz_fail("encode wrote past its capacity");
		if (envelope_encode(out, size, env.en_origin, env.en_opcode, env.en_payload,
				    env.en_len) != size ||
		    memcmp(out, in, size) != 0)
			fuzz_fail("re-encoding differs from the input");
		free(out);
	}
	free(in);
	return 0;
}
