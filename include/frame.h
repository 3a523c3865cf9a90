/*
 * frame: the WebSocket frame header codec (RFC 6455 section 5.2) and payload masking.
 * Pure functions over caller-owned buffers: nothing here allocates, reads a socket or
 * keeps state between calls. Protocol rules that need context (fragmentation, which close
 * code to send) live in wsreader.
 */
#ifndef CHATD_FRAME_H
#define CHATD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes chatd sends (RFC 6455 section 7.4.1). */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL_ERROR = 1002,
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL_ERROR = 1011,
};

/* 2 bytes of flags and length, 8 of extended length, 4 of mask key. */
#define FRAME_MAX_HEADER 14
/* What a server frame header takes at most: no mask key. */
#define FRAME_MAX_SERVER_HEADER 10
/* Control frames carry at most 125 bytes of payload (section 5.5). */
#define FRAME_MAX_CONTROL_PAYLOAD 125

struct frame_header {
	bool fh_fin;
	uint8_t fh_rsv; /* RSV1-3 as the three low bits */
	uint8_t fh_opcode;
	bool fh_masked;
	uint8_t fh_mask[4];
	uint64_t fh_payload_len;
	size_t fh_header_len; /* bytes the header took on the wire */
};

enum frame_parse_result {
	FRAME_PARSE_OK,         /* *out is filled in */
	FRAME_PARSE_INCOMPLETE, /* call again with more bytes */
	FRAME_PARSE_BAD_LENGTH, /* 64-bit length with its most significant bit set */
};

/* Decodes the header at the start of buf (len bytes, any length). Reads at most
 * FRAME_MAX_HEADER bytes and never past len. */
enum frame_parse_result frame_parse_header(const uint8_t *buf, size_t len,
					   struct frame_header *out);

/* Writes an unmasked (server) frame header for a payload of payload_len bytes into out,
 * which has room for FRAME_MAX_SERVER_HEADER bytes. Returns the header's length. */
size_t frame_encode_header(uint8_t *out, bool fin, uint8_t opcode, uint64_t payload_len);

/* Length of the header frame_encode_header writes for this payload length. */
size_t frame_header_size(uint64_t payload_len);

/* XORs buf with the mask key, in place. offset is the position of buf[0] within the frame's
 * payload, so a payload unmasked in several pieces gives the same result as in one. */
void frame_unmask(uint8_t *buf, size_t len, const uint8_t key[4], uint64_t offset);

/* True for opcodes RFC 6455 defines; the others are reserved and must fail the connection. */
bool frame_opcode_known(uint8_t opcode);

/* True for control opcodes (close, ping, pong and the reserved 0xB-0xF). */
bool frame_opcode_is_control(uint8_t opcode);

/* True when a peer may send this close code on the wire (section 7.4): 1000-1003,
 * 1007-1014 and 3000-4999. */
bool frame_close_code_valid(uint16_t code);

#endif
