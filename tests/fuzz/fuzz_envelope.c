/*
 * libFuzzer harness for envelope (include/envelope.h), the check of every message that
 * arrives from Redis. The input, copied into an exactly sized heap block (a read past it
 * is an ASan error), is decoded; the verdict is compared with a model written here from
 * the layout in envelope.h and with the UTF-8 reference (utf8_ref.h); an accepted input
 * must come back byte for byte from envelope_encode of what was decoded (a logged entry's
 * id and entry as its payload, the flag set again), and the payload slice must lie inside
 * the input.
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
	uint8_t op = p[1] & (uint8_t)~0x40;
	size_t skip = 10;
	if (op != 1 && op != 2)
		return ENVELOPE_BAD_OPCODE;
	if (p[1] & 0x40) {
		if (n < 18)
			return ENVELOPE_NO_ID;
		skip = 18;
	}
	if (op == 1 && !utf8_ref_valid(p + skip, n - skip))
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
		bool logged = (in[1] & ENVELOPE_LOGGED) != 0;
		size_t skip = ENVELOPE_HEADER_SIZE + (logged ? ENVELOPE_ID_SIZE : 0);
		if (env.en_payload != in + skip || env.en_len != size - skip)
			fuzz_fail("payload slice is not the rest of the input");
		uint64_t origin = 0, id = 0;
		for (int i = 0; i < 8; i++)
			origin = origin << 8 | in[2 + i];
		for (size_t i = 0; logged && i < ENVELOPE_ID_SIZE; i++)
			id = id << 8 | in[ENVELOPE_HEADER_SIZE + i];
		if (env.en_origin != origin || env.en_opcode != (in[1] & ~ENVELOPE_LOGGED) ||
		    env.en_logged != logged || env.en_id != id)
			fuzz_fail("origin, opcode, flag or id misread");
		uint8_t *out = fuzz_malloc(size);
		const uint8_t *body = in + ENVELOPE_HEADER_SIZE;
		size_t body_len = size - ENVELOPE_HEADER_SIZE;
		/* One byte short must be refused, the exact size must reproduce the input. */
		if (envelope_encode(out, size - 1, env.en_origin, env.en_opcode, body, body_len) != 0)
			fuzz_fail("encode wrote past its capacity");
		if (envelope_encode(out, size, env.en_origin, env.en_opcode, body, body_len) != size)
			fuzz_fail("encode refused what was decoded");
		if (logged)
			out[1] |= ENVELOPE_LOGGED;
		if (memcmp(out, in, size) != 0)
			fuzz_fail("re-encoding differs from the input");
		free(out);
	}
	free(in);
	return 0;
}
