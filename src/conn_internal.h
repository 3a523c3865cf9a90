/*
 * conn_internal.h: what the connection's files share. Private to them; everything else
 * uses include/conn.h.
 *   conn.c         the connection's life: accept, read, destroy
 *   conn_write.c   its output: queue, the dirty list, flush
 *   conn_http.c    its HTTP phase: the request, the answer, the upgrade
 *   conn_ws.c      its WebSocket phase: events, control frames, closing, keepalive
 *   conn_limits.c  the resource model: memory cost and budget, per-pass work, flood control
 */
#ifndef CHATD_CONN_INTERNAL_H
#define CHATD_CONN_INTERNAL_H

#include "conn.h"

/* Work one connection's input may cause in one loop pass: frames handled and deliveries
 * made (a message to a room of N is N - 1 deliveries). What is left waits for the next
 * pass, so one sender cannot hold the loop (docs/BAD_INPUT.md, "One read stalls
 * everyone"). 64 frames of a chat room's size are far below a millisecond. */
#define CONN_PASS_FRAMES     64
#define CONN_PASS_DELIVERIES 8192

/* The loop's time as a connection stamps it: wrapping 32-bit milliseconds, half the size
 * of the loop's clock in a struct every client has. */
static inline uint32_t conn_now32(const struct conn *c)
{
	return (uint32_t)loop_now(c->c_env->ce_loop);
}

/* Milliseconds since a stamp (correct for up to 49 days). */
static inline uint64_t conn_since(const struct conn *c, uint32_t stamp)
{
	return (uint32_t)(conn_now32(c) - stamp);
}

/* --- conn.c --- */

/* Releases everything the connection holds; the struct is freed at the end of the pass. */
void conn_destroy(struct conn *c, const char *cause);

/* The connection leaves CONN_HANDSHAKE (call before changing c_state): it no longer
 * counts against --max-handshakes. No-op in any other state. */
void conn_handshake_done(struct conn *c);

/* Frees the released connections, except any still on the dirty list (the round that
 * reaches it frees it). */
void conn_free_dead(struct conn_env *env);

/* Stops reading and queuing; the connection ends once its queue is flushed and the peer
 * has closed, or after CLOSE_TIMEOUT_MS. */
void conn_begin_close(struct conn *c);

/* Asks the loop for the events the connection needs now: input unless it is held back or
 * ended, output while anything is queued. */
void conn_update_interest(struct conn *c);

/* The peer's address as text, for the log. */
const char *conn_peer_name(const struct conn *c, char *buf, size_t len);

/* --- conn_write.c --- */

/* Queues b (borrowed), or ends the connection when b is NULL (a failed allocation). */
void conn_queue(struct conn *c, struct sbuf *b);
/* The same for a buffer the caller just made: its reference is handed over. */
void conn_queue_new(struct conn *c, struct sbuf *b);

/* Writes what the connection has queued, up to the socket's room and a budget, and moves
 * a closing connection on once everything is out. May destroy c. */
void conn_flush(struct conn *c);

/* --- conn_http.c: request bytes arrived; the handshake deadline passed. --- */

/* The bundled page as served: its message limit (<meta name="chatd-max-message">) set to
 * this server's --max-message, so the page refuses what chatd would close for. A new
 * buffer with one reference for the caller; NULL when memory runs out. */
struct sbuf *conn_http_page_body(size_t max_message);
void conn_http_input(struct conn *c, uint8_t *data, size_t len);
void conn_http_timeout(struct loop_timer *t);
/* Releases the request head gathered so far, and its charge to the memory budget. */
void conn_http_free_request(struct conn *c);

/* --- conn_ws.c --- */

/* Bytes received on an open WebSocket: handled now up to the pass's budget and the
 * client's rate, the rest held (copied) for later passes. data is unmasked in place. */
void conn_ws_input(struct conn *c, uint8_t *data, size_t len);

/* Handles events from data until it runs out, the pass's budget is spent, the rate limit
 * stops the client, or the connection leaves CONN_OPEN. Returns the bytes consumed. */
size_t conn_ws_feed(struct conn *c, uint8_t *data, size_t len);

/* Sends a close frame after everything queued and starts closing (code 0: none). */
void conn_send_close(struct conn *c, uint16_t code, const char *reason, const char *cause);

/* Drops what the client has not received and closes it with 1008; the handler hears
 * error, why goes in the close frame, cause in the log. */
void conn_cut_off(struct conn *c, enum chatd_error error, const char *why, const char *cause);

/* The handler's callbacks. open: the upgrade is done. message: a complete message.
 * closed: c just left CONN_OPEN (called exactly once per open). error: while c is open,
 * before the close it explains. */
void conn_app_open(struct conn *c);
void conn_app_closed(struct conn *c);
void conn_app_error(struct conn *c, enum chatd_error error, const char *detail);

/* Queues one data message for c alone. */
void conn_send_message(struct conn *c, uint8_t opcode, const void *data, size_t len);

/* Queues the pong owed for the latest ping once the queue is empty; returns true if it did. */
bool conn_ws_pong_due(struct conn *c);

/* Arms the connection's timer for whatever is due first: a ping, the idle deadline, the
 * end of a rate-limit pause, the send timeout. */
void conn_arm_keepalive(struct conn *c);

/* --- conn_limits.c --- */

/* The connection's extra state, made if needed; NULL when memory runs out. */
struct conn_extra *conn_extra_get(struct conn *c);
/* Frees the extra state once nothing in it is in use. */
void conn_extra_trim(struct conn *c);
/* Frees the extra state whatever it holds (the connection is ending). */
void conn_extra_free(struct conn *c);

/* True while input is held or the client is parked: the socket is not read. */
static inline bool conn_input_held(const struct conn *c)
{
	return c->c_extra != NULL &&
	       (c->c_extra->cx_held_len > c->c_extra->cx_held_off || c->c_extra->cx_parked);
}

/* Keeps len bytes of input for a later pass (after any already held). Ends the
 * connection with 1011 when memory runs out. */
void conn_hold_input(struct conn *c, const uint8_t *data, size_t len);

/* Charges n bytes read to the client's rate. */
void conn_rate_bytes(struct conn *c, size_t n);
/* Charges one frame; true when the client is now over its rate (it is not parked yet). */
bool conn_rate_frame(struct conn *c);
/* True when the client is over its rate: the caller stops handling its input, and the
 * client is parked (not read) until its buckets refill. */
bool conn_rate_exceeded(struct conn *c);
/* Milliseconds until a parked client may be read again; 0 when not parked. */
uint32_t conn_rate_wait_ms(const struct conn *c);
/* The timer fired: a parked client whose buckets refilled is resumed. */
void conn_rate_resume(struct conn *c);

/* Resumes held input, one pass's budget per connection; true when some is still held. */
bool conn_resume_held(struct conn_env *env);

/* Cuts off the clients holding the most memory while the process is over its budget. */
void conn_enforce_budget(struct conn_env *env);

#endif
