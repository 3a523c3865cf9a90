/*
 * A TLS 1.3 connection's records after the handshake, without OpenSSL's SSL object.
 *
 * What the peer may send now (RFC 8446): application data, alerts (close_notify ends the
 * stream; user_canceled is ignored; any other ends the connection), and KeyUpdate, the
 * only post-handshake message a client may send to a server that requests no client
 * certificate. Anything else is answered with the alert the RFC names and the connection
 * ends. One strictness beyond the RFC: a KeyUpdate must arrive whole in one record (every
 * TLS library we know sends it so; a fragmented one is refused, never misread).
 *
 * What an idle connection holds: its keys (tls13_session, 280 bytes). A record that
 * arrives in pieces gets a buffer of exactly its size until it is complete; a sealed record
 * the socket had no room for gets one until it leaves. A record is read straight into the
 * caller's buffer and opened there when it fits, so the usual read copies nothing.
 */
#include "transport_tls13.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "membudget.h"

/* Our records before a KeyUpdate of our own: AES-GCM's safety margin ends near 2^24.5
 * full records under one key (RFC 8446 section 5.5). */
#define TLS13_REKEY_AFTER ((uint64_t)1 << 24)

#define HANDSHAKE_KEY_UPDATE 24
/* Records opened by one read at most: a peer sending tiny records must not keep the loop
 * here while others wait (the socket stays readable; the next pass reads on). */
#define READ_RECORDS_MAX 64
/* Records in a row that carry no application byte (empty ones, user_canceled, KeyUpdate)
 * before the peer is cut off: they cost work and deliver nothing (OpenSSL allows 32
 * empty records). */
#define EMPTY_RECORDS_MAX 32

struct tls13_session {
	struct tls_record_keys t13_read;
	struct tls_record_keys t13_write;
	uint8_t *t13_in;        /* a record's body while it arrives, then its plaintext; owned */
	uint8_t *t13_out;       /* sealed bytes the socket had no room for; owned */
	uint32_t t13_in_len;    /* the body's length from its header (0: none announced) */
	uint32_t t13_in_have;   /* bytes of it received */
	uint32_t t13_plain_off; /* plaintext in t13_in not yet handed to the caller */
	uint32_t t13_plain_end;
	uint32_t t13_out_off;
	uint32_t t13_out_len;
	uint32_t t13_read_wants;
	int t13_read_error; /* owed to the next read: 0 end of stream, or an errno */
	size_t t13_charged; /* what membudget holds for this connection */
	uint8_t t13_header[TLS_RECORD_HEADER];
	uint8_t t13_header_have;
	uint8_t t13_empty_run; /* records in a row without application data */
	bool t13_read_error_owed;
	bool t13_key_update_owed; /* the peer asked for one: ours goes before our next data */
	bool t13_failed;
	bool t13_ended; /* close_notify or the socket's end came: every read says 0 */
};

/* Gathered plaintext, and the record sealed from it: one each per process (single
 * threaded; neither outlives the call that fills it). */
static uint8_t stage[TLS_RECORD_PLAIN_MAX];
static uint8_t sealed[TLS_RECORD_SEALED_MAX];

static struct tls13_session *session_of(const struct transport *t)
{
	return t->tr_session;
}

static void free_in(struct tls13_session *s)
{
	free(s->t13_in);
	s->t13_in = NULL;
	s->t13_in_len = s->t13_in_have = 0;
	s->t13_plain_off = s->t13_plain_end = 0;
}

/* Sends all of n sealed bytes, or keeps what the socket did not take. Returns 1 all sent,
 * 0 some kept, -1 failed (errno set). */
static int send_sealed(struct transport *t, struct tls13_session *s, const uint8_t *rec, size_t n)
{
	ssize_t w;

	do
		w = send(t->tr_fd, rec, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			s->t13_failed = true;
			return -1;
		}
		w = 0;
	}
	if ((size_t)w == n)
		return 1;
	s->t13_out = malloc(n - (size_t)w);
	if (s->t13_out == NULL) {
		s->t13_failed = true;
		errno = ENOMEM;
		return -1;
	}
	memcpy(s->t13_out, rec + w, n - (size_t)w);
	s->t13_out_off = 0;
	s->t13_out_len = (uint32_t)(n - (size_t)w);
	return 0;
}

/* Pushes kept sealed bytes. Returns 1 none kept now, 0 some still kept, -1 failed. */
static int push_kept(struct transport *t, struct tls13_session *s)
{
	while (s->t13_out != NULL) {
		ssize_t w = send(t->tr_fd, s->t13_out + s->t13_out_off,
				 s->t13_out_len - s->t13_out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			s->t13_failed = true;
			return -1;
		}
		s->t13_out_off += (uint32_t)w;
		if (s->t13_out_off == s->t13_out_len) {
			free(s->t13_out);
			s->t13_out = NULL;
			s->t13_out_off = s->t13_out_len = 0;
		}
	}
	return 1;
}

static int seal_and_send(struct transport *t, struct tls13_session *s, uint8_t type,
			 const uint8_t *plain, size_t len)
{
	size_t n = tls_record_seal(&s->t13_write, type, plain, len, sealed);

	if (n == 0) {
		s->t13_failed = true;
		errno = EPROTO;
		return -1;
	}
	return send_sealed(t, s, sealed, n);
}

/* An alert, if the socket takes it now (never after part of another record). */
static void send_alert(struct transport *t, struct tls13_session *s, uint8_t level, uint8_t desc)
{
	uint8_t alert[2] = {level, desc};
	size_t n;

	if (s->t13_out != NULL || s->t13_failed)
		return;
	n = tls_record_seal(&s->t13_write, TLS_CONTENT_ALERT, alert, sizeof alert, sealed);
	if (n > 0)
		(void)send(t->tr_fd, sealed, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A protocol error of the peer's: our fatal alert, then nothing more. */
static int protocol_fail(struct transport *t, struct tls13_session *s, int alert, const char *why)
{
	log_debug("TLS: %s: alert %d sent", why, alert);
	send_alert(t, s, 2, (uint8_t)alert);
	s->t13_failed = true;
	errno = EPROTO;
	return -1;
}

/* Our KeyUpdate (update_not_requested), sealed under the old keys, then the new keys.
 * Returns as send_sealed. */
static int send_key_update(struct transport *t, struct tls13_session *s)
{
	static const uint8_t key_update[5] = {HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0};
	int r = seal_and_send(t, s, TLS_CONTENT_HANDSHAKE, key_update, sizeof key_update);

	if (r < 0)
		return -1;
	if (tls_record_keys_update(&s->t13_write) < 0) {
		s->t13_failed = true;
		errno = EPROTO;
		return -1;
	}
	s->t13_key_update_owed = false;
	return r;
}

/* An alert from the peer: close_notify is the end of the stream (0), user_canceled is
 * noted (1), anything else ends the connection (-1). */
static int on_alert(struct transport *t, struct tls13_session *s, const uint8_t *body, size_t len)
{
	if (len != 2)
		return protocol_fail(t, s, TLS_ALERT_DECODE_ERROR, "malformed alert");
	if (body[1] == TLS_ALERT_CLOSE_NOTIFY)
		return 0;
	if (body[1] == TLS_ALERT_USER_CANCELED)
		return 1;
	log_debug("TLS: the peer sent alert %d", body[1]);
	s->t13_failed = true;
	errno = ECONNRESET;
	return -1;
}

/* A handshake message after the handshake: KeyUpdate, alone and whole in its record
 * (a key change must end a record: section 5.1). Returns 1, or -1. */
static int on_handshake(struct transport *t, struct tls13_session *s, const uint8_t *body,
			size_t len)
{
	if (len < 4 || body[0] != HANDSHAKE_KEY_UPDATE)
		return protocol_fail(t, s, TLS_ALERT_UNEXPECTED_MESSAGE,
				     "handshake message after the handshake");
	if (body[1] != 0 || body[2] != 0 || body[3] != 1)
		return protocol_fail(t, s, TLS_ALERT_DECODE_ERROR, "malformed KeyUpdate");
	if (len != 5)
		return protocol_fail(t, s, TLS_ALERT_UNEXPECTED_MESSAGE,
				     "KeyUpdate not alone in its record");
	if (body[4] > 1)
		return protocol_fail(t, s, TLS_ALERT_ILLEGAL_PARAMETER, "bad KeyUpdate request");
	if (tls_record_keys_update(&s->t13_read) < 0) {
		s->t13_failed = true;
		errno = EPROTO;
		return -1;
	}
	/* Many requests while we are silent get one answer (section 4.6.3). */
	if (body[4] == 1)
		s->t13_key_update_owed = true;
	return 1;
}

static ssize_t receive(int fd, void *dst, size_t n)
{
	ssize_t r;
	do
		r = recv(fd, dst, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Receives and opens the next record. room is where a record's body is read and opened
 * when it fits there whole. Returns 1 with *got bytes of application data at room (or, for
 * a record opened in t13_in, its plaintext in t13_in's window and *got 0); 1 with *got 0
 * for a control record; 0 at the end of the stream; -1 with errno (EAGAIN: wait). */
static int next_record(struct transport *t, struct tls13_session *s, uint8_t *room, size_t room_len,
		       size_t *got)
{
	uint8_t type, *body = NULL;
	size_t body_len, plain_len;
	ssize_t n;
	int alert;

	*got = 0;
	while (s->t13_header_have < TLS_RECORD_HEADER) {
		n = receive(t->tr_fd, s->t13_header + s->t13_header_have,
			    TLS_RECORD_HEADER - s->t13_header_have);
		if (n <= 0)
			return (int)n;
		s->t13_header_have += (uint8_t)n;
	}
	if (s->t13_in_len == 0) {
		alert = tls_record_check_header(s->t13_header, &body_len);
		if (alert != 0)
			return protocol_fail(t, s, alert, "bad record header");
		s->t13_in_len = (uint32_t)body_len;
	}
	body_len = s->t13_in_len;
	if (s->t13_in == NULL && room_len >= body_len) {
		n = receive(t->tr_fd, room, body_len);
		if (n <= 0)
			return (int)n;
		if ((size_t)n == body_len) {
			body = room;
		} else {
			/* The rest is still on its way: keep what came, exactly sized. */
			s->t13_in = malloc(body_len);
			if (s->t13_in == NULL) {
				s->t13_failed = true;
				errno = ENOMEM;
				return -1;
			}
			memcpy(s->t13_in, room, (size_t)n);
			s->t13_in_have = (uint32_t)n;
		}
	}
	if (body == NULL) {
		if (s->t13_in == NULL) {
			s->t13_in = malloc(body_len);
			if (s->t13_in == NULL) {
				s->t13_failed = true;
				errno = ENOMEM;
				return -1;
			}
		}
		while (s->t13_in_have < body_len) {
			n = receive(t->tr_fd, s->t13_in + s->t13_in_have,
				    body_len - s->t13_in_have);
			if (n <= 0)
				return (int)n;
			s->t13_in_have += (uint32_t)n;
		}
		body = s->t13_in;
	}
	alert = tls_record_open(&s->t13_read, s->t13_header, body, body_len, &type, &plain_len);
	s->t13_header_have = 0;
	s->t13_in_len = s->t13_in_have = 0;
	if (alert != 0) {
		if (body != room)
			free_in(s);
		return protocol_fail(t, s, alert, "record rejected");
	}
	if (type == TLS_CONTENT_APPLICATION_DATA && plain_len > 0)
		s->t13_empty_run = 0;
	else if (++s->t13_empty_run > EMPTY_RECORDS_MAX)
		alert = protocol_fail(t, s, TLS_ALERT_UNEXPECTED_MESSAGE,
				      "too many records without data");
	if (alert != 0) {
		if (body != room)
			free_in(s);
		return alert;
	}
	switch (type) {
	case TLS_CONTENT_APPLICATION_DATA:
		if (body == room) {
			*got = plain_len;
		} else if (plain_len > 0) {
			s->t13_plain_off = 0;
			s->t13_plain_end = (uint32_t)plain_len;
			return 1;
		}
		break;
	case TLS_CONTENT_ALERT: alert = on_alert(t, s, body, plain_len); break;
	case TLS_CONTENT_HANDSHAKE: alert = on_handshake(t, s, body, plain_len); break;
	default:
		alert = protocol_fail(t, s, TLS_ALERT_UNEXPECTED_MESSAGE,
				      "unexpected content type");
		break;
	}
	if (body != room)
		free_in(s);
	return type == TLS_CONTENT_APPLICATION_DATA ? 1 : alert;
}

static ssize_t tls13_read(struct transport *t, void *buf, size_t len)
{
	struct tls13_session *s = session_of(t);
	uint8_t *out = buf;
	size_t total = 0;
	int records = 0;

	s->t13_read_wants = 0;
	if (s->t13_read_error_owed) {
		s->t13_read_error_owed = false;
		errno = s->t13_read_error;
		return s->t13_read_error ? -1 : 0;
	}
	if (s->t13_failed) {
		errno = EPROTO;
		return -1;
	}
	if (s->t13_ended) /* nothing after close_notify counts (RFC 8446 section 6.1) */
		return 0;
	/* Record by record while the next one can be opened where it will be read: a body
	 * that does not fit would need a buffer of its own, so it waits for the next call
	 * (the socket still holds it and announces it). */
	while (total < len && records < READ_RECORDS_MAX &&
	       (total == 0 || len - total >= TLS_RECORD_BODY_MAX ||
		s->t13_plain_end > s->t13_plain_off)) {
		size_t got;
		int r;

		if (s->t13_plain_end > s->t13_plain_off) {
			size_t take = s->t13_plain_end - s->t13_plain_off;
			if (take > len - total)
				take = len - total;
			memcpy(out + total, s->t13_in + s->t13_plain_off, take);
			total += take;
			s->t13_plain_off += (uint32_t)take;
			if (s->t13_plain_off == s->t13_plain_end)
				free_in(s);
			continue;
		}
		r = next_record(t, s, out + total, len - total, &got);
		records++;
		if (r == 0)
			s->t13_ended = true;
		if (r > 0) {
			total += got;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (total > 0)
				break;
			errno = EAGAIN;
			return -1;
		}
		if (total == 0)
			return r;
		/* Data came before the end: hand it over now and the end next time, asking
		 * for a readiness that comes at once (the socket may announce nothing more). */
		s->t13_read_error_owed = true;
		s->t13_read_error = r < 0 ? errno : 0;
		s->t13_read_wants = EPOLLOUT;
		return (ssize_t)total;
	}
	/* Plaintext left over for a caller whose buffer is full: the socket will not
	 * announce it, so ask for a readiness that comes at once. */
	if (s->t13_plain_end > s->t13_plain_off)
		s->t13_read_wants = EPOLLOUT;
	if (total == 0) { /* the record cap, before any data: not the end of the stream */
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)total;
}

static ssize_t tls13_writev(struct transport *t, const struct iovec *iov, int iovcnt)
{
	struct tls13_session *s = session_of(t);
	struct tls_record_gather gather = {iov, iovcnt, 0, 0};
	size_t total = 0;
	int r;

	if (s->t13_failed) {
		errno = EPIPE;
		return -1;
	}
	r = push_kept(t, s);
	if (r == 1 && (s->t13_key_update_owed || s->t13_write.trk_seq >= TLS13_REKEY_AFTER))
		r = send_key_update(t, s);
	if (r <= 0) {
		if (r == 0)
			errno = EAGAIN;
		return -1;
	}
	for (;;) {
		size_t n;
		const uint8_t *record = tls_record_gather_next(&gather, stage, &n);

		if (n == 0)
			return (ssize_t)total;
		r = seal_and_send(t, s, TLS_CONTENT_APPLICATION_DATA, record, n);
		if (r < 0)
			return -1;
		total += n;
		if (r == 0) /* sealed and kept: the bytes are ours now */
			return (ssize_t)total;
	}
}

static uint32_t tls13_wants(const struct transport *t)
{
	const struct tls13_session *s = session_of(t);

	if (s == NULL) /* closed */
		return 0;
	return s->t13_read_wants | (s->t13_out != NULL || s->t13_key_update_owed ? EPOLLOUT : 0);
}

static size_t tls13_memory(const struct transport *t)
{
	const struct tls13_session *s = session_of(t);
	size_t bytes;

	if (s == NULL)
		return 0;
	bytes = membudget_block(sizeof *s);
	if (s->t13_in != NULL)
		bytes += membudget_block(s->t13_in_len > 0 ? s->t13_in_len : s->t13_plain_end);
	if (s->t13_out != NULL)
		bytes += membudget_block(s->t13_out_len);
	return bytes;
}

/* Our close_notify, if the socket takes it now, then our FIN (as transport_tls). */
static void tls13_shutdown_write(struct transport *t)
{
	struct tls13_session *s = session_of(t);

	send_alert(t, s, 1, TLS_ALERT_CLOSE_NOTIFY);
	(void)shutdown(t->tr_fd, SHUT_WR);
}

static void recharge(struct transport *t)
{
	struct tls13_session *s = session_of(t);
	size_t now = tls13_memory(t);

	if (now > s->t13_charged)
		membudget_charge(now - s->t13_charged);
	else
		membudget_release(s->t13_charged - now);
	s->t13_charged = now;
}

static ssize_t tls13_read_charged(struct transport *t, void *buf, size_t len)
{
	ssize_t n = tls13_read(t, buf, len);
	int saved = errno;
	recharge(t);
	errno = saved;
	return n;
}

static ssize_t tls13_writev_charged(struct transport *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n = tls13_writev(t, iov, iovcnt);
	int saved = errno;
	recharge(t);
	errno = saved;
	return n;
}

static void tls13_close(struct transport *t)
{
	struct tls13_session *s = session_of(t);

	if (s != NULL) {
		membudget_release(s->t13_charged);
		free(s->t13_in);
		free(s->t13_out);
		OPENSSL_cleanse(s, sizeof *s);
		free(s);
		t->tr_session = NULL;
	}
	if (t->tr_fd >= 0)
		(void)close(t->tr_fd);
	t->tr_fd = -1;
}

static const struct transport_ops tls13_ops = {
	.to_read = tls13_read_charged,
	.to_writev = tls13_writev_charged,
	.to_wants = tls13_wants,
	.to_memory = tls13_memory,
	.to_shutdown_write = tls13_shutdown_write,
	.to_close = tls13_close,
};

int transport_tls13_adopt(struct transport *t, const struct tls13_handover *h)
{
	struct tls13_session *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	if (tls_record_init() < 0 ||
	    tls_record_keys_set(&s->t13_read, h->th_suite, h->th_client_secret, h->th_read_seq) <
		    0 ||
	    tls_record_keys_set(&s->t13_write, h->th_suite, h->th_server_secret, h->th_write_seq) <
		    0) {
		OPENSSL_cleanse(s, sizeof *s);
		free(s);
		return -1;
	}
	t->tr_ops = &tls13_ops;
	t->tr_session = s;
	recharge(t);
	return 0;
}
