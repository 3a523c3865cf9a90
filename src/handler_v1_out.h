/*
 * handler_v1_out.h: the frame the chatd.v1 handler is writing: one buffer reused by every
 * frame it sends (owned here, charged to chatd's memory budget), and the writers of its
 * JSON and of message frames. Private to src/handler_v1*.c.
 */
#ifndef CHATD_HANDLER_V1_OUT_H
#define CHATD_HANDLER_V1_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chatd.h"

/* The frame so far: vo_buf[0..vo_len). vo_failed: memory ran out on the way, and the frame
 * is not to be sent (each writer then does nothing). */
struct v1_out {
	char *vo_buf;
	size_t vo_len, vo_cap;
	bool vo_failed;
};

extern struct v1_out v1_out;

/* A message frame is written in two parts around its id: with --redis, Redis puts the id
 * between them (chatd_log_append). */
#define V1_MESSAGE_HEAD "{\"type\":\"message\",\"id\":"

void v1_out_start(void); /* a new frame, empty */
void v1_out_bytes(const char *s, size_t n);
void v1_out_text(const char *s);
void v1_out_number(uint64_t v);
void v1_out_string(const char *s, size_t n); /* as a JSON string, quoted and escaped */
/* Sends the frame to c unless memory ran out writing it. */
void v1_out_send(struct chatd_conn *c);

/* The rest of a message frame after its id. */
void v1_out_message_tail(uint64_t time, const char *name, size_t name_len, const char *text,
			 size_t text_len, bool history);
/* A whole message frame, in a new frame. */
void v1_out_message(uint64_t id, uint64_t time, const char *name, size_t name_len, const char *text,
		    size_t text_len, bool history);

/* Milliseconds since the epoch: a message's time. */
uint64_t v1_now_ms(void);

#endif
