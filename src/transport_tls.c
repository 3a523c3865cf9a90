/*
 * The TLS transport: OpenSSL sessions behind the read/writev seam, in the manner of
 * libtls. A connection asks for bytes and hears EAGAIN plus, through to_wants, which
 * extra readiness to wait for; it never sees an SSL *. The context the connections are
 * made from (certificate, key, settings) is transport_tls_context.c's.
 *
 * What it costs, and why it is shaped so:
 *   - Idle connections are cheap: after a TLS 1.3 handshake the connection is handed to
 *     transport_tls13 (chatd's own record layer) and the SSL, 14 KB, is freed. Until then,
 *     and for TLS 1.2, SSL_MODE_RELEASE_BUFFERS gives OpenSSL's 16 KiB read and write
 *     buffers back whenever they are empty, and chatd keeps none of its own.
 *   - Writes are gathered: the queued frames for one recipient are copied into one
 *     shared record-sized buffer and go out as one record and one write(2), not one
 *     record per frame; a frame of a record's size or more is encrypted from where it
 *     lies. Only a record the socket had no room for is copied aside, into a buffer of
 *     its own, until it leaves.
 *   - No read-ahead: OpenSSL reads a record's header, then exactly its body, so it never
 *     holds bytes the socket's readiness would not announce again (with read-ahead, bytes
 *     left in its buffer would wait for an event that never comes).
 */
#include "transport_tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "membudget.h"
#include "tls_record.h"
#include "transport_tls13.h"
#include "transport_tls_internal.h"

/* The largest plaintext one TLS record carries (RFC 8446 section 5.1). */
#define TLS_RECORD_MAX 16384
/* What OpenSSL's buffers take beyond a record's plaintext: header, MAC or tag, padding,
 * alignment (ssl/record/ssl3_buffer.c sizes them so). */
#define TLS_BUFFER_SLACK 1024
/* Bytes of a plain-HTTP request drained before answering it, so closing after the
 * answer does not turn into a reset that destroys the answer. */
#define PLAIN_HTTP_DRAIN 8192

/* One connection's TLS state, owned by its transport (tr_session). */
struct tls_session {
	SSL *ts_ssl;
	uint8_t *ts_held;   /* a record's plaintext the socket had no room for; owned */
	size_t ts_held_len; /* its length: the write is retried with exactly this */
	uint32_t ts_read_wants;
	uint32_t ts_write_wants;
	int ts_read_error; /* a result owed to the next read: 0 end of stream, or an errno */
	bool ts_read_error_owed;
	bool ts_checked_first_byte;
	bool ts_failed;    /* a fatal TLS error: no close_notify, every call fails */
	size_t ts_charged; /* what membudget holds for this connection (tls_memory's last) */
	/* For the handover to transport_tls13 after a TLS 1.3 handshake: the application
	 * traffic secrets (from the key log callback) and the records OpenSSL has sealed
	 * or opened under them (from the message callback, which sees every record header
	 * and every handshake message). */
	uint8_t ts_client_secret[48];
	uint8_t ts_server_secret[48];
	uint8_t ts_client_secret_len;
	uint8_t ts_server_secret_len;
	bool ts_server_finished; /* our Finished is out: later records use our new keys */
	bool ts_client_finished; /* theirs is in: later records use theirs */
	uint32_t ts_records_written;
	uint32_t ts_records_read;
};

/* Gathered plaintext on its way into SSL_write. One per process: the loop is single
 * threaded, and nothing in it outlives the SSL_write call that reads it. */
static uint8_t stage[TLS_RECORD_MAX];
static bool ktls_reported;

/* What OpenSSL holds for a connection besides its buffers, for as long as chatd keeps its
 * SSL (through the handshake; for TLS 1.2 to the end): 14,027 bytes counted with
 * CRYPTO_set_mem_functions after a TLS 1.3 handshake with an ECDSA P-256 certificate (the
 * SSL object alone 7,624), rounded up for the handshake's own temporaries. A constant:
 * measuring the heap around every call (mallinfo2) cost 3-13% of chatd's CPU while
 * connections were opening, walking free lists that grow with the number of connections. */
#define TLS_OPENSSL_STATE 16384

/* ---- a connection ---- */

/* The key log callback, which is how OpenSSL 3.0 tells a program its traffic secrets:
 * keeps the two application traffic secrets for the handover. The line is
 * "LABEL <client random hex> <secret hex>" (the NSS key log format). */
void transport_tls_keylog(const SSL *ssl, const char *line)
{
	static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ",
			  server[] = "SERVER_TRAFFIC_SECRET_0 ";
	struct tls_session *ts = SSL_get_app_data(ssl);
	uint8_t *secret;
	uint8_t *secret_len;
	const char *hex;
	size_t n = 0;

	if (ts == NULL)
		return;
	if (strncmp(line, client, sizeof client - 1) == 0) {
		secret = ts->ts_client_secret;
		secret_len = &ts->ts_client_secret_len;
	} else if (strncmp(line, server, sizeof server - 1) == 0) {
		secret = ts->ts_server_secret;
		secret_len = &ts->ts_server_secret_len;
	} else {
		return;
	}
	hex = strchr(line + sizeof client - 1, ' ');
	if (hex == NULL)
		return;
	for (hex++; hex[0] != '\0' && hex[1] != '\0' && n < sizeof ts->ts_client_secret; hex += 2) {
		long v = OPENSSL_hexchar2int((unsigned char)hex[0]) * 16 +
			 OPENSSL_hexchar2int((unsigned char)hex[1]);
		if (v < 0 || v > 255)
			return;
		secret[n++] = (uint8_t)v;
	}
	*secret_len = hex[0] == '\0' ? (uint8_t)n : 0;
}

/* Counts the records sealed after our Finished and opened after the client's: the
 * sequence numbers the handover starts from. Every record header passes here
 * (SSL3_RT_HEADER) before the handshake message it carries. */
static void count_records(int write_p, int version, int content_type, const void *buf, size_t len,
			  SSL *ssl, void *arg)
{
	struct tls_session *ts = arg;
	const uint8_t *b = buf;
	(void)version;
	(void)ssl;

	if (content_type == SSL3_RT_HEADER) {
		if (write_p && ts->ts_server_finished)
			ts->ts_records_written++;
		else if (!write_p && ts->ts_client_finished)
			ts->ts_records_read++;
	} else if (content_type == SSL3_RT_HANDSHAKE && len > 0 && b[0] == SSL3_MT_FINISHED) {
		if (write_p)
			ts->ts_server_finished = true;
		else
			ts->ts_client_finished = true;
	}
}

static struct tls_session *session_of(const struct transport *t)
{
	return t->tr_session;
}

/* The connection cannot go on: log why (at debug: scanners and broken clients are common)
 * and fail with errno. */
static ssize_t fail(struct tls_session *ts, int err, const char *why)
{
	ts->ts_failed = true;
	log_debug("TLS: %s", why);
	errno = err;
	return -1;
}

/* Maps a failed SSL call onto the transport's contract. wants receives the readiness to
 * wait for. Returns -1 with errno, or 0 for a clean end of stream. */
static ssize_t map_error(struct tls_session *ts, int ret, uint32_t *wants)
{
	int saved = errno;

	switch (SSL_get_error(ts->ts_ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*wants = EPOLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*wants = EPOLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN: return 0; /* the peer's close_notify */
	case SSL_ERROR_SYSCALL:
		ts->ts_failed = true;
		ERR_clear_error();
		errno = saved != 0 ? saved : ECONNRESET;
		return -1;
	default: return fail(ts, EPROTO, transport_tls_error_text());
	}
}

/* A TLS connection starts with a handshake record (0x16). A request line instead means
 * someone typed http://: answer in plain HTTP, as the TLS port cannot do better, and
 * close. Anything else is closed without handing it to OpenSSL. Returns 1 to go on, 0 at
 * the end of the stream, -1 with errno (EAGAIN: no byte yet).  */
static int check_first_byte(struct transport *t, struct tls_session *ts)
{
	static const char answer[] = "HTTP/1.1 400 Bad Request\r\n"
				     "Content-Type: text/plain; charset=utf-8\r\n"
				     "Content-Length: 52\r\n"
				     "Connection: close\r\n\r\n"
				     "This port speaks TLS: use https:// and wss:// URLs.\n";
	char drain[PLAIN_HTTP_DRAIN];
	unsigned char b;
	ssize_t n;

	do
		n = recv(t->tr_fd, &b, 1, MSG_PEEK);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return (int)n;
	ts->ts_checked_first_byte = true;
	if (b == 0x16)
		return 1;
	if (b >= 'A' && b <= 'Z') {
		(void)recv(t->tr_fd, drain, sizeof drain, MSG_DONTWAIT);
		(void)send(t->tr_fd, answer, sizeof answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)shutdown(t->tr_fd, SHUT_WR);
		return (int)fail(ts, EPROTO, "plain HTTP on the TLS port: answered 400");
	}
	return (int)fail(ts, EPROTO, "not a TLS handshake");
}

/* Once per process: whether the kernel encrypts (kTLS) or OpenSSL does. */
static void report_ktls(SSL *ssl)
{
	if (ktls_reported)
		return;
	ktls_reported = true;
	if (BIO_get_ktls_send(SSL_get_wbio(ssl)))
		log_info("TLS: kernel TLS in use: records are encrypted by the kernel");
	else
		log_info("TLS: kernel TLS not available (no tls module, or a cipher it lacks): "
			 "OpenSSL encrypts");
}

static const struct transport_ops tls_ops;

static void free_session(struct tls_session *ts)
{
	SSL_free(ts->ts_ssl);
	free(ts->ts_held);
	OPENSSL_cleanse(ts, sizeof *ts);
	free(ts);
}

/* After a TLS 1.3 handshake, hands the connection to transport_tls13 and frees the SSL,
 * when everything the record layer needs is known for certain: both secrets, the records
 * each side has sent under them, no byte held by OpenSSL, nothing owed to the socket, a
 * cipher suite tls_record knows, and no kernel TLS (the kernel would own the keys).
 * Otherwise (TLS 1.2 among others) OpenSSL carries the connection to its end. */
static bool hand_over(struct transport *t, struct tls_session *ts)
{
	SSL *ssl = ts->ts_ssl;
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	int suite = cipher != NULL ? tls_record_suite_of(SSL_CIPHER_get_protocol_id(cipher)) : -1;
	struct tls13_handover h;

	if (SSL_version(ssl) != TLS1_3_VERSION || suite < 0 || !ts->ts_server_finished ||
	    !ts->ts_client_finished || ts->ts_records_read != 0 ||
	    ts->ts_client_secret_len != tls_record_secret_len(suite) ||
	    ts->ts_server_secret_len != tls_record_secret_len(suite) || SSL_has_pending(ssl) ||
	    SSL_want(ssl) != SSL_NOTHING || ts->ts_held != NULL ||
	    BIO_get_ktls_send(SSL_get_wbio(ssl)) || BIO_get_ktls_recv(SSL_get_rbio(ssl)))
		return false;
	h.th_suite = (enum tls_record_suite)suite;
	h.th_client_secret = ts->ts_client_secret;
	h.th_server_secret = ts->ts_server_secret;
	h.th_read_seq = ts->ts_records_read;
	h.th_write_seq = ts->ts_records_written;
	if (transport_tls13_adopt(t, &h) < 0)
		return false;
	membudget_release(ts->ts_charged);
	free_session(ts);
	return true;
}

/* The handshake, through SSL_do_handshake rather than SSL_read so that OpenSSL stops
 * exactly at its end and opens no application record the handover would have to know
 * of. Returns 2 when done and handed over (ts is gone), 1 when done and kept, else as
 * tls_read. */
static ssize_t handshake(struct transport *t, struct tls_session *ts)
{
	int ret = SSL_do_handshake(ts->ts_ssl);
	uint32_t wants = 0;
	ssize_t r;

	if (ret == 1) {
		report_ktls(ts->ts_ssl);
		if (hand_over(t, ts))
			return 2;
		SSL_set_msg_callback(ts->ts_ssl, NULL);
		return 1;
	}
	r = map_error(ts, ret, &wants);
	if (r < 0 && errno == EAGAIN)
		ts->ts_read_wants = wants & EPOLLOUT;
	return r;
}

static ssize_t tls_read(struct transport *t, void *buf, size_t len)
{
	struct tls_session *ts = session_of(t);
	size_t total = 0;

	ts->ts_read_wants = 0;
	if (ts->ts_read_error_owed) {
		ts->ts_read_error_owed = false;
		errno = ts->ts_read_error;
		return ts->ts_read_error ? -1 : 0;
	}
	if (ts->ts_failed) {
		errno = EPROTO;
		return -1;
	}
	if (!ts->ts_checked_first_byte) {
		int r = check_first_byte(t, ts);
		if (r <= 0)
			return r;
	}
	if (!SSL_is_init_finished(ts->ts_ssl)) {
		ssize_t r = handshake(t, ts);
		if (r <= 0)
			return r;
		if (r == 2) /* handed over: ts is gone */
			return transport_read(t, buf, len);
	}
	/* Record by record until the socket has no more, while a whole record still fits
	 * (SSL_read returns at most one; a partial one would stay in OpenSSL). */
	while (total == 0 || len - total >= TLS_RECORD_MAX) {
		size_t got = 0;
		int ret = SSL_read_ex(ts->ts_ssl, (uint8_t *)buf + total, len - total, &got);

		if (ret == 1) {
			total += got;
			continue;
		}
		uint32_t wants = 0;
		ssize_t r = map_error(ts, ret, &wants);
		if (r < 0 && errno == EAGAIN) {
			/* Waiting for input is the caller's usual interest; only a read that
			 * must write (a handshake flight the socket had no room for) is extra. */
			ts->ts_read_wants = wants & EPOLLOUT;
			if (total > 0)
				return (ssize_t)total;
			errno = EAGAIN;
			return -1;
		}
		if (total == 0)
			return r;
		/* Bytes came before the end: hand them over now and the end next time. The
		 * socket may announce nothing more, so ask for a readiness that comes at once. */
		ts->ts_read_error_owed = true;
		ts->ts_read_error = r < 0 ? errno : 0;
		ts->ts_read_wants = EPOLLOUT;
		return (ssize_t)total;
	}
	return (ssize_t)total;
}

/* Writes one record's plaintext. Returns 1 sent, 0 must wait (ts_write_wants set), -1
 * failed (errno set). */
static int write_record(struct tls_session *ts, const uint8_t *data, size_t len)
{
	size_t written;
	uint32_t wants = 0;
	int ret = SSL_write_ex(ts->ts_ssl, data, len, &written);

	if (ret == 1)
		return 1;
	if (map_error(ts, ret, &wants) == 0) {
		errno = EPIPE; /* close_notify came while writing: nothing more goes out */
		ts->ts_failed = true;
		return -1;
	}
	if (errno != EAGAIN)
		return -1;
	ts->ts_write_wants = wants;
	return 0;
}

static ssize_t tls_writev(struct transport *t, const struct iovec *iov, int iovcnt)
{
	struct tls_session *ts = session_of(t);
	struct tls_record_gather gather = {iov, iovcnt, 0, 0};
	size_t total = 0;

	if (ts->ts_failed) {
		errno = EPIPE;
		return -1;
	}
	/* Only a refusal when the handshake deadline passes can be queued before the
	 * handshake is done; the client has not earned an answer, so close. */
	if (!SSL_is_init_finished(ts->ts_ssl)) {
		if (iovcnt == 0)
			return 0;
		errno = ETIMEDOUT;
		return -1;
	}
	ts->ts_write_wants = 0;
	if (ts->ts_held != NULL) {
		int r = write_record(ts, ts->ts_held, ts->ts_held_len);
		if (r <= 0) {
			if (r == 0)
				errno = EAGAIN;
			return -1;
		}
		free(ts->ts_held);
		ts->ts_held = NULL;
		ts->ts_held_len = 0;
	}
	for (;;) {
		size_t n;
		const uint8_t *record = tls_record_gather_next(&gather, stage, &n);

		if (n == 0)
			return (ssize_t)total;
		int r = write_record(ts, record, n);
		if (r < 0)
			return -1;
		if (r == 0) {
			/* The socket is full. OpenSSL may already have sealed the record, and
			 * then a retry must present the same bytes: keep a copy, and report the
			 * bytes as taken, since they belong to this transport from now on. */
			ts->ts_held = malloc(n);
			if (ts->ts_held == NULL) {
				ts->ts_failed = true;
				errno = ENOMEM;
				return -1;
			}
			memcpy(ts->ts_held, record, n);
			ts->ts_held_len = n;
			return (ssize_t)(total + n);
		}
		total += n;
	}
}

static uint32_t tls_wants(const struct transport *t)
{
	const struct tls_session *ts = session_of(t);
	uint32_t wants;

	if (ts == NULL) /* closed */
		return 0;
	wants = ts->ts_read_wants | ts->ts_write_wants;

	if (ts->ts_held != NULL && wants == 0)
		wants = EPOLLOUT;
	return wants;
}

static size_t tls_memory(const struct transport *t)
{
	const struct tls_session *ts = session_of(t);
	size_t bytes;

	if (ts == NULL) /* closed */
		return 0;
	bytes = sizeof *ts + TLS_OPENSSL_STATE;

	if (ts->ts_held != NULL) /* our copy, and OpenSSL's sealed record */
		bytes += ts->ts_held_len + TLS_RECORD_MAX + TLS_BUFFER_SLACK;
	if (SSL_has_pending(ts->ts_ssl)) /* a record partly received */
		bytes += TLS_RECORD_MAX + TLS_BUFFER_SLACK;
	return bytes;
}

/* Our close_notify, if the socket takes it now; then our FIN. A close_notify that must
 * wait is skipped: the WebSocket close frame before it already ended the conversation,
 * and waiting here could only stall. */
static void tls_shutdown_write(struct transport *t)
{
	struct tls_session *ts = session_of(t);

	if (!ts->ts_failed && SSL_is_init_finished(ts->ts_ssl) && SSL_shutdown(ts->ts_ssl) < 0)
		ERR_clear_error();
	(void)shutdown(t->tr_fd, SHUT_WR);
}

/* Keeps the process's memory budget in step with what this connection holds: called
 * after every operation that can change it, so --max-memory sees TLS buffers too. */
static void recharge(struct transport *t)
{
	struct tls_session *ts = session_of(t);
	size_t now;

	if (ts == NULL)
		return;
	now = tls_memory(t);
	if (now > ts->ts_charged)
		membudget_charge(now - ts->ts_charged);
	else
		membudget_release(ts->ts_charged - now);
	ts->ts_charged = now;
}

static ssize_t tls_read_charged(struct transport *t, void *buf, size_t len)
{
	ssize_t n = tls_read(t, buf, len);
	int saved = errno;

	if (t->tr_ops == &tls_ops) /* not handed over (transport_tls13 charges its own) */
		recharge(t);
	errno = saved;
	return n;
}

static ssize_t tls_writev_charged(struct transport *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n = tls_writev(t, iov, iovcnt);
	recharge(t);
	return n;
}

static void tls_close(struct transport *t)
{
	struct tls_session *ts = session_of(t);

	if (ts != NULL) {
		membudget_release(ts->ts_charged);
		free_session(ts);
		t->tr_session = NULL;
	}
	ERR_clear_error();
	if (t->tr_fd >= 0)
		(void)close(t->tr_fd);
	t->tr_fd = -1;
}

static const struct transport_ops tls_ops = {
	.to_read = tls_read_charged,
	.to_writev = tls_writev_charged,
	.to_wants = tls_wants,
	.to_memory = tls_memory,
	.to_shutdown_write = tls_shutdown_write,
	.to_close = tls_close,
};

int transport_init_tls(struct transport *t, int fd, struct transport_tls_context *tc)
{
	struct tls_session *ts = calloc(1, sizeof *ts);

	if (ts == NULL)
		return -1;
	ts->ts_ssl = SSL_new(tc->tc_ssl_ctx);
	if (ts->ts_ssl == NULL || SSL_set_fd(ts->ts_ssl, fd) != 1) {
		SSL_free(ts->ts_ssl);
		free(ts);
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(ts->ts_ssl);
	SSL_set_app_data(ts->ts_ssl, ts);
	SSL_set_msg_callback(ts->ts_ssl, count_records);
	SSL_set_msg_callback_arg(ts->ts_ssl, ts);
	t->tr_ops = &tls_ops;
	t->tr_fd = fd;
	t->tr_session = ts;
	recharge(t);
	return 0;
}
