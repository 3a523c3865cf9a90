/*
 * wsreader: turns the bytes a client sends after the handshake into WebSocket events,
 * applying every receive-side rule of RFC 6455: masking, RSV bits, reserved opcodes,
 * control frame limits, fragmentation, UTF-8 of text messages (checked as bytes arrive)
 * and the message size limit (checked before anything is allocated).
 * Pure: it reads no socket. It is fed whatever arrived, in pieces of any size, and hands
 * back one event per call.
 */
#ifndef CHATD_WSREADER_H
#define CHATD_WSREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "utf8.h"

enum ws_event_type {
	WS_EVENT_NONE,    /* every byte given was consumed; feed more when it arrives */
	WS_EVENT_MESSAGE, /* a complete text or binary message */
	WS_EVENT_PING,
	WS_EVENT_PONG,
	WS_EVENT_CLOSE, /* the peer's close frame, already validated */
	WS_EVENT_ERROR, /* the peer broke the protocol: send a close with ev_close_code */
};

struct ws_event {
	enum ws_event_type ev_type;
	uint8_t ev_opcode; /* WS_EVENT_MESSAGE: WS_OP_TEXT or WS_OP_BINARY */
	/* Payload (message, ping, pong) or close reason. Borrowed: it points into the buffer
	 * given to ws_reader_next or into the reader's own storage, and stays valid only until
	 * the next call on this reader. */
	const uint8_t *ev_data;
	size_t ev_len;
	/* WS_EVENT_CLOSE: the code received, 0 when the close frame carried none.
	 * WS_EVENT_ERROR: the code to close with (1002, 1007, 1009 or 1011). */
	uint16_t ev_close_code;
	const char *ev_error; /* WS_EVENT_ERROR: a static description for the log */
};

struct ws_reader {

	/* The frame being read: its header once complete, and how much payload is left. */
	uint8_t wr_header_buf[FRAME_MAX_HEADER]; /* a header split across reads */
	uint8_t wr_header_have;
	bool wr_in_frame;
	struct frame_header wr_frame;
	uint64_t wr_frame_done; /* payload bytes of the current frame consumed */

	/* The data message being reassembled, across frames and reads. Owned by the reader,
	 * allocated only while a message spans reads, freed when it is delivered. */
	uint8_t *wr_msg;
	/* Sizes within the limit below, so 32 bits: every connection has this struct. */
	uint32_t wr_msg_len;
	uint32_t wr_msg_cap;
	uint32_t wr_max_message; /* the reassembled size limit, at most 1 GiB (config.c) */
	uint8_t wr_msg_opcode;   /* 0 when no message is in progress */
	struct utf8_validator wr_utf8;
	bool wr_failed; /* after an error or a close, every later byte is ignored */

	/* A control frame split across reads: FRAME_MAX_CONTROL_PAYLOAD bytes, allocated
	 * only then (an idle connection holds no buffer), owned by the reader. */
	uint8_t *wr_control;
};

void ws_reader_init(struct ws_reader *r, size_t max_message);

/* Frees the reader's storage; the reader may be initialised again. */
void ws_reader_free(struct ws_reader *r);

/* Consumes bytes from in (len bytes) until one event is complete or the input runs out.
 * Returns how many bytes were consumed and fills *ev. The reader unmasks payload in place,
 * so in must be writable; the caller keeps ownership of it. After WS_EVENT_CLOSE or
 * WS_EVENT_ERROR the reader consumes and ignores everything. */
size_t ws_reader_next(struct ws_reader *r, uint8_t *in, size_t len, struct ws_event *ev);

/* The memory the reader holds now (its reassembly and control buffers), as charged to
 * membudget. */
size_t ws_reader_memory(const struct ws_reader *r);

/* True while a fragmented message is only partly received (it holds memory). */
bool ws_reader_busy(const struct ws_reader *r);

#endif
