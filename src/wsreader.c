/*
 * The receive side of RFC 6455: frames in, messages and control events out.
 *
 * Cost on the common path: a frame that arrived whole in one read (most chat messages) is
 * unmasked and validated in place in the caller's buffer and handed back as a slice:
 * no copy, no allocation. Only a message that spans reads or frames is copied, into one
 * buffer that grows to the message's size (never beyond the limit, which is checked
 * against the announced length before anything is allocated).
 */
#include "wsreader.h"

#include <stdlib.h>
#include <string.h>

#include "membudget.h"

/* The reader's two buffers, freed and uncharged. */
static void free_message(struct ws_reader *r)
{
	if (r->wr_msg != NULL)
		membudget_release(membudget_block(r->wr_msg_cap));
	free(r->wr_msg);
	r->wr_msg = NULL;
	r->wr_msg_cap = 0;
	r->wr_msg_len = 0;
}

static void free_control(struct ws_reader *r)
{
	if (r->wr_control != NULL)
		membudget_release(membudget_block(FRAME_MAX_CONTROL_PAYLOAD));
	free(r->wr_control);
	r->wr_control = NULL;
}

size_t ws_reader_memory(const struct ws_reader *r)
{
	return (r->wr_msg != NULL ? membudget_block(r->wr_msg_cap) : 0) +
	       (r->wr_control != NULL ? membudget_block(FRAME_MAX_CONTROL_PAYLOAD) : 0);
}

void ws_reader_init(struct ws_reader *r, size_t max_message)
{
	memset(r, 0, sizeof *r);
	r->wr_max_message = (uint32_t)(max_message < UINT32_MAX ? max_message : UINT32_MAX);
	utf8_reset(&r->wr_utf8);
}

void ws_reader_free(struct ws_reader *r)
{
	free_message(r);
	free_control(r);
}

bool ws_reader_busy(const struct ws_reader *r)
{
	return r->wr_msg_opcode != 0;
}

static size_t fail(struct ws_reader *r, struct ws_event *ev, size_t used, uint16_t code,
		   const char *why)
{
	r->wr_failed = true;
	ev->ev_type = WS_EVENT_ERROR;
	ev->ev_close_code = code;
	ev->ev_error = why;
	return used;
}

/* The rules a header must meet before any of its payload is looked at. Returns NULL when
 * it is acceptable, else the reason, with the close code in *code. */
static const char *check_header(const struct ws_reader *r, const struct frame_header *fh,
				uint16_t *code)
{
	*code = WS_CLOSE_PROTOCOL_ERROR;
	if (fh->fh_rsv != 0)
		return "reserved bits set without a negotiated extension";
	if (!frame_opcode_known(fh->fh_opcode))
		return "reserved opcode";
	if (!fh->fh_masked)
		return "client frame not masked";
	if (frame_opcode_is_control(fh->fh_opcode)) {
		if (!fh->fh_fin)
			return "fragmented control frame";
		if (fh->fh_payload_len > FRAME_MAX_CONTROL_PAYLOAD)
			return "control frame payload over 125 bytes";
		return NULL;
	}
	if (fh->fh_opcode == WS_OP_CONTINUATION && r->wr_msg_opcode == 0)
		return "continuation frame without a message to continue";
	if (fh->fh_opcode != WS_OP_CONTINUATION && r->wr_msg_opcode != 0)
		return "new message before the fragmented one ended";
	/* Compared without adding, so a 2^63-byte announcement cannot wrap around. */
	if (fh->fh_payload_len > r->wr_max_message - r->wr_msg_len) {
		*code = WS_CLOSE_TOO_BIG;
		return "message larger than --max-message";
	}
	return NULL;
}

/* Fills *ev for a complete control frame whose unmasked payload is data[0..len). */
static void control_event(struct ws_reader *r, uint8_t opcode, const uint8_t *data, size_t len,
			  struct ws_event *ev)
{
	ev->ev_data = data;
	ev->ev_len = len;
	if (opcode == WS_OP_PING) {
		ev->ev_type = WS_EVENT_PING;
		return;
	}
	if (opcode == WS_OP_PONG) {
		ev->ev_type = WS_EVENT_PONG;
		return;
	}
	/* Close (section 5.5.1): empty, or a 2-byte code and a UTF-8 reason. */
	r->wr_failed = true; /* nothing after a close frame is read */
	if (len == 0) {
		ev->ev_type = WS_EVENT_CLOSE;
		ev->ev_close_code = 0;
		return;
	}
	ev->ev_type = WS_EVENT_ERROR;
	ev->ev_close_code = WS_CLOSE_PROTOCOL_ERROR;
	if (len == 1) {
		ev->ev_error = "close frame with a 1-byte payload";
		return;
	}
	/* The analyzer pairs len >= 2 with an empty slow-path frame; it cannot happen (the
	 * bytes were copied into wr_control). */
	// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
	uint16_t code = (uint16_t)(data[0] << 8 | data[1]);
	if (!frame_close_code_valid(code)) {
		ev->ev_error = "close frame with a code not allowed on the wire";
		return;
	}
	if (!utf8_valid(data + 2, len - 2)) {
		ev->ev_error = "close reason not valid UTF-8";
		return;
	}
	ev->ev_type = WS_EVENT_CLOSE;
	ev->ev_close_code = code;
	ev->ev_data = data + 2;
	ev->ev_len = len - 2;
}

/* Makes room for the rest of the current frame in the message buffer. */
static bool reserve_message(struct ws_reader *r, uint64_t more)
{
	size_t need = r->wr_msg_len + (size_t)more; /* bounded by wr_max_message */
	if (need <= r->wr_msg_cap)
		return true;
	size_t cap = r->wr_msg_cap ? r->wr_msg_cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > r->wr_max_message)
		cap = need > r->wr_max_message ? need : r->wr_max_message;
	uint8_t *p = realloc(r->wr_msg, cap);
	if (p == NULL)
		return false;
	if (r->wr_msg != NULL)
		membudget_release(membudget_block(r->wr_msg_cap));
	membudget_charge(membudget_block(cap));
	r->wr_msg = p;
	r->wr_msg_cap = (uint32_t)cap; /* cap <= wr_max_message, or need, which is too */
	return true;
}

size_t ws_reader_next(struct ws_reader *r, uint8_t *in, size_t len, struct ws_event *ev)
{
	size_t used = 0;

	memset(ev, 0, sizeof *ev);
	ev->ev_type = WS_EVENT_NONE;
	if (r->wr_failed)
		return len;
	/* What the previous call handed out is no longer borrowed: an idle connection keeps
	 * no buffer. */
	if (r->wr_msg_opcode == 0 && r->wr_msg != NULL)
		free_message(r);
	if (r->wr_control != NULL && !r->wr_in_frame)
		free_control(r);

	for (;;) {
		struct frame_header *fh = &r->wr_frame;

		if (!r->wr_in_frame) {
			const uint8_t *hp = in + used;
			size_t hlen = len - used, had = r->wr_header_have;
			if (had > 0) {
				size_t take = FRAME_MAX_HEADER - had;
				if (take > len - used)
					take = len - used;
				memcpy(r->wr_header_buf + had, in + used, take);
				hp = r->wr_header_buf;
				hlen = had + take;
			}
			switch (frame_parse_header(hp, hlen, fh)) {
			case FRAME_PARSE_INCOMPLETE:
				if (had == 0)
					memcpy(r->wr_header_buf, in + used, hlen);
				r->wr_header_have = (uint8_t)hlen;
				return len;
			case FRAME_PARSE_BAD_LENGTH:
				return fail(r, ev, len, WS_CLOSE_PROTOCOL_ERROR,
					    "64-bit payload length with the top bit set");
			case FRAME_PARSE_OK: break;
			}
			used += fh->fh_header_len - had;
			r->wr_header_have = 0;

			uint16_t code;
			const char *why = check_header(r, fh, &code);
			if (why != NULL)
				return fail(r, ev, used, code, why);
			r->wr_in_frame = true;
			r->wr_frame_done = 0;
			if (fh->fh_opcode == WS_OP_TEXT || fh->fh_opcode == WS_OP_BINARY) {
				r->wr_msg_opcode = fh->fh_opcode;
				r->wr_msg_len = 0;
				utf8_reset(&r->wr_utf8);
			}

			/* Fast path: the whole frame is here and is a whole message or a control
			 * frame. Unmask in place and hand out a slice of the caller's buffer. */
			bool whole_message = fh->fh_fin && fh->fh_opcode != WS_OP_CONTINUATION;
			if (whole_message && fh->fh_payload_len <= len - used) {
				uint8_t *payload = in + used;
				size_t plen = (size_t)fh->fh_payload_len;
				frame_unmask(payload, plen, fh->fh_mask, 0);
				used += plen;
				r->wr_in_frame = false;
				if (frame_opcode_is_control(fh->fh_opcode)) {
					control_event(r, fh->fh_opcode, payload, plen, ev);
					return used;
				}
				r->wr_msg_opcode = 0;
				if (fh->fh_opcode == WS_OP_TEXT && !utf8_valid(payload, plen))
					return fail(r, ev, used, WS_CLOSE_INVALID_DATA,
						    "text message not valid UTF-8");
				ev->ev_type = WS_EVENT_MESSAGE;
				ev->ev_opcode = fh->fh_opcode;
				ev->ev_data = payload;
				ev->ev_len = plen;
				return used;
			}
		}

		/* The slow path: copy what is here of the frame's payload, unmasking and (for
		 * text) validating it as it comes, so bad UTF-8 fails before the message ends. */
		uint64_t left = fh->fh_payload_len - r->wr_frame_done;
		size_t take = len - used < left ? len - used : (size_t)left;
		uint8_t *piece = in + used;
		frame_unmask(piece, take, fh->fh_mask, r->wr_frame_done);
		used += take;
		if (take == 0) {
			/* an empty frame: nothing to copy (and wr_msg may still be NULL) */
		} else if (frame_opcode_is_control(fh->fh_opcode)) {
			if (r->wr_control == NULL) {
				r->wr_control = malloc(FRAME_MAX_CONTROL_PAYLOAD);
				if (r->wr_control == NULL)
					return fail(r, ev, len, WS_CLOSE_INTERNAL_ERROR,
						    "out of memory");
				membudget_charge(membudget_block(FRAME_MAX_CONTROL_PAYLOAD));
			}
			memcpy(r->wr_control + r->wr_frame_done, piece, take);
		} else {
			/* The rest of the frame at once (its length passed the limit check), so
			 * a frame arriving in many reads grows the buffer once. */
			if (!reserve_message(r, left) || r->wr_msg == NULL)
				return fail(r, ev, len, WS_CLOSE_INTERNAL_ERROR, "out of memory");
			if (r->wr_msg_opcode == WS_OP_TEXT && !utf8_feed(&r->wr_utf8, piece, take))
				return fail(r, ev, used, WS_CLOSE_INVALID_DATA,
					    "text message not valid UTF-8");
			memcpy(r->wr_msg + r->wr_msg_len, piece, take);
			r->wr_msg_len += (uint32_t)take;
		}
		r->wr_frame_done += take;
		if (r->wr_frame_done < fh->fh_payload_len)
			return used; /* all input consumed, the frame goes on */

		r->wr_in_frame = false;
		if (frame_opcode_is_control(fh->fh_opcode)) {
			control_event(r, fh->fh_opcode, r->wr_control, (size_t)fh->fh_payload_len,
				      ev);
			return used;
		}
		if (fh->fh_fin) {
			if (r->wr_msg_opcode == WS_OP_TEXT && !utf8_at_boundary(&r->wr_utf8))
				return fail(r, ev, used, WS_CLOSE_INVALID_DATA,
					    "text message ends inside a UTF-8 sequence");
			ev->ev_type = WS_EVENT_MESSAGE;
			ev->ev_opcode = r->wr_msg_opcode;
			ev->ev_data = r->wr_msg;
			ev->ev_len = r->wr_msg_len;
			r->wr_msg_opcode = 0; /* the buffer is freed on the next call */
			return used;
		}
		if (used == len)
			return used;
	}
}
