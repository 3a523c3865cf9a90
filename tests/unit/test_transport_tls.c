/*
 * Unit tests for the TLS transport (include/transport_tls.h) and the record layer a TLS 1.3
 * connection is handed to after its handshake (include/transport_tls13.h): an OpenSSL
 * client, a library we did not write, over a socket pair, checks what a peer sees. The
 * properties: data both ways, in records of every size and bytes arriving in any pieces;
 * the handover happens for every TLS 1.3 suite and not for TLS 1.2; KeyUpdate in both
 * forms, repeatedly (the client fails to open our records if our keys went wrong); a
 * close_notify each way; a record that does not authenticate, a plaintext record and an
 * unexpected handshake message each end the connection with the right alert.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls_peer.h"
#include "tls_record.h"
#include "transport_tls.h"

/* An idle connection after the handover holds its keys alone. */
#define HANDED_OVER_MAX 1024

static struct tls_peer_files files;
static struct transport_tls_context *server_ctx;

struct pair {
	struct transport p_server;
	const struct transport_ops *p_openssl_ops; /* the server's before any handover */
	struct tls_peer p_client;
	SSL_CTX *p_client_ctx;
};

static uint8_t scratch[65536];

/* A pair with a client made from ctx (a reference is taken). */
static void pair_open_ctx(struct pair *p, SSL_CTX *ctx)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(transport_init_tls(&p->p_server, sv[0], server_ctx), 0);
	p->p_openssl_ops = p->p_server.tr_ops;
	SSL_CTX_up_ref(ctx);
	p->p_client_ctx = ctx;
	tls_peer_open(&p->p_client, ctx, sv[1]);
}

static void pair_open(struct pair *p, int max_version, const char *suites)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(transport_init_tls(&p->p_server, sv[0], server_ctx), 0);
	p->p_openssl_ops = p->p_server.tr_ops;
	p->p_client_ctx = tls_peer_ctx(max_version, suites);
	tls_peer_open(&p->p_client, p->p_client_ctx, sv[1]);
}

static void pair_close(struct pair *p)
{
	transport_close(&p->p_server);
	close(p->p_client.tp_fd);
	tls_peer_close(&p->p_client);
	SSL_CTX_free(p->p_client_ctx);
	ERR_clear_error();
}

/* Runs both sides until the handshake is done on both, tickets delivered. */
static void pair_handshake(struct pair *p)
{
	for (int i = 0; i < 10; i++) {
		(void)SSL_do_handshake(p->p_client.tp_ssl);
		tls_peer_push(&p->p_client, 0);
		ssize_t n = transport_read(&p->p_server, scratch, sizeof scratch);
		assert_true(n < 0);
		assert_int_equal(errno, EAGAIN);
		tls_peer_pull(&p->p_client);
	}
	assert_true(SSL_is_init_finished(p->p_client.tp_ssl));
	/* Reading nothing makes the client take in the tickets. */
	size_t got;
	assert_int_equal(SSL_read_ex(p->p_client.tp_ssl, scratch, 1, &got), 0);
	assert_int_equal(SSL_get_error(p->p_client.tp_ssl, 0), SSL_ERROR_WANT_READ);
}

/* The client sends len bytes; the server reads them in reads of at most cap bytes while
 * they reach its socket chunk bytes at a time. */
static void client_to_server(struct pair *p, const uint8_t *data, size_t len, size_t chunk,
			     size_t cap)
{
	static uint8_t got[1 << 20];
	size_t have = 0, written;

	assert_true(len <= sizeof got && cap <= sizeof scratch);
	assert_int_equal(SSL_write_ex(p->p_client.tp_ssl, data, len, &written), 1);
	for (int spins = 0; have < len; spins++) {
		assert_true(spins < 10000000);
		tls_peer_push(&p->p_client, chunk);
		ssize_t n = transport_read(&p->p_server, scratch, cap);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		assert_true(n > 0);
		assert_true(have + (size_t)n <= len);
		memcpy(got + have, scratch, (size_t)n);
		have += (size_t)n;
	}
	assert_memory_equal(got, data, len);
}

/* The server writes the buffers in iov; the client reads and compares them all. */
static void server_to_client(struct pair *p, const struct iovec *iov, int iovcnt)
{
	static uint8_t want[1 << 20], got[1 << 20];
	size_t len = 0, have = 0, taken = 0;
	int i = 0;
	size_t off = 0;

	for (int k = 0; k < iovcnt; k++) {
		memcpy(want + len, iov[k].iov_base, iov[k].iov_len);
		len += iov[k].iov_len;
	}
	for (int spins = 0; have < len; spins++) {
		assert_true(spins < 1000000);
		if (taken < len) {
			struct iovec rest[16];
			int n = 0;
			for (int k = i; k < iovcnt && n < 16; k++, n++) {
				rest[n] = iov[k];
				if (k == i) {
					rest[n].iov_base = (uint8_t *)iov[k].iov_base + off;
					rest[n].iov_len -= off;
				}
			}
			ssize_t w = transport_writev(&p->p_server, rest, n);
			if (w < 0) {
				assert_int_equal(errno, EAGAIN);
				w = 0;
			}
			taken += (size_t)w;
			for (size_t left = (size_t)w; left > 0;) {
				size_t in_this = iov[i].iov_len - off;
				if (left < in_this) {
					off += left;
					left = 0;
				} else {
					left -= in_this;
					i++;
					off = 0;
				}
			}
		} else if (transport_wants(&p->p_server) != 0) {
			(void)transport_writev(&p->p_server, NULL, 0);
		}
		tls_peer_pull(&p->p_client);
		size_t n;
		while (have < len &&
		       SSL_read_ex(p->p_client.tp_ssl, got + have, len - have, &n) == 1)
			have += n;
	}
	assert_memory_equal(got, want, len);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 31 + (i >> 9));
}

/* Data both ways: small messages, whole records, and records cut into pieces. */
static void exchange(struct pair *p)
{
	static uint8_t big[200000], big2[300000];
	fill(big, sizeof big, 7);
	fill(big2, sizeof big2, 11);

	client_to_server(p, (const uint8_t *)"hello", 5, 0, sizeof scratch);
	client_to_server(p, big, sizeof big, 0, sizeof scratch);
	client_to_server(p, big, 40000, 1, sizeof scratch); /* a byte at a time */
	client_to_server(p, big, 70000, 999, 7);            /* tiny reads */
	client_to_server(p, big, 50000, 4096, 16384 + 100); /* reads of about a record */

	struct iovec small[] = {{(void *)"wor", 3}, {(void *)"ld", 2}};
	server_to_client(p, small, 2);
	struct iovec mixed[] = {{big2, 100},
				{big2 + 100, 100000},
				{big2 + 100100, 5},
				{big2 + 100105, 16384},
				{big2 + 116489, 183511}};
	server_to_client(p, mixed, 5);
}

static void handover_for(const char *suites)
{
	struct pair p;
	pair_open(&p, TLS1_3_VERSION, suites);
	pair_handshake(&p);
	assert_ptr_not_equal(p.p_server.tr_ops, p.p_openssl_ops);
	assert_true(transport_memory(&p.p_server) < HANDED_OVER_MAX);
	exchange(&p);
	pair_close(&p);
}

static void test_aes128(void **state)
{
	(void)state;
	handover_for("TLS_AES_128_GCM_SHA256");
}

static void test_aes256(void **state)
{
	(void)state;
	handover_for("TLS_AES_256_GCM_SHA384");
}

static void test_chacha(void **state)
{
	(void)state;
	handover_for("TLS_CHACHA20_POLY1305_SHA256");
}

/* A resumed session (a ticket from the first connection) is handed over too: OpenSSL
 * sends new tickets after a resumption, and the count of records must include them. */
static void test_resumed(void **state)
{
	struct pair first, second;
	SSL_CTX *ctx = tls_peer_ctx(TLS1_3_VERSION, NULL);
	SSL_SESSION *session;
	(void)state;

	pair_open_ctx(&first, ctx);
	pair_handshake(&first);
	session = SSL_get1_session(first.p_client.tp_ssl);
	assert_non_null(session);
	assert_true(SSL_SESSION_is_resumable(session));
	exchange(&first);
	/* Freed without a close_notify, a client's session is marked not resumable. */
	(void)SSL_shutdown(first.p_client.tp_ssl);
	pair_close(&first);

	pair_open_ctx(&second, ctx);
	assert_int_equal(SSL_set_session(second.p_client.tp_ssl, session), 1);
	pair_handshake(&second);
	assert_true(SSL_session_reused(second.p_client.tp_ssl));
	assert_ptr_not_equal(second.p_server.tr_ops, second.p_openssl_ops);
	exchange(&second);
	pair_close(&second);
	SSL_SESSION_free(session);
	SSL_CTX_free(ctx);
}

/* TLS 1.2 stays with OpenSSL, and works. */
static void test_tls12_stays(void **state)
{
	struct pair p;
	(void)state;
	pair_open(&p, TLS1_2_VERSION, NULL);
	pair_handshake(&p);
	assert_ptr_equal(p.p_server.tr_ops, p.p_openssl_ops);
	client_to_server(&p, (const uint8_t *)"hello", 5, 0, sizeof scratch);
	struct iovec one = {(void *)"world", 5};
	server_to_client(&p, &one, 1);
	pair_close(&p);
}

/* KeyUpdate, asking for ours or not, several times: each side must still open the
 * other's records, so both key schedules stayed in step. */
static void test_key_update(void **state)
{
	struct pair p;
	(void)state;
	pair_open(&p, TLS1_3_VERSION, NULL);
	pair_handshake(&p);
	for (int round = 0; round < 4; round++) {
		int how = round % 2 ? SSL_KEY_UPDATE_NOT_REQUESTED : SSL_KEY_UPDATE_REQUESTED;
		assert_int_equal(SSL_key_update(p.p_client.tp_ssl, how), 1);
		client_to_server(&p, (const uint8_t *)"after update", 12, 0, sizeof scratch);
		if (how == SSL_KEY_UPDATE_REQUESTED)
			assert_true(transport_wants(&p.p_server) & EPOLLOUT);
		struct iovec one = {(void *)"answer", 6};
		server_to_client(&p, &one, 1);
		assert_int_equal(transport_wants(&p.p_server), 0);
	}
	/* Two requests while we say nothing get one answer; then data still flows. */
	SSL_key_update(p.p_client.tp_ssl, SSL_KEY_UPDATE_REQUESTED);
	client_to_server(&p, (const uint8_t *)"x", 1, 0, sizeof scratch);
	SSL_key_update(p.p_client.tp_ssl, SSL_KEY_UPDATE_REQUESTED);
	client_to_server(&p, (const uint8_t *)"y", 1, 0, sizeof scratch);
	struct iovec one = {(void *)"z", 1};
	server_to_client(&p, &one, 1);
	exchange(&p);
	pair_close(&p);
}

/* The client's close_notify is the end of the stream; ours reaches the client. */
static void test_close_notify(void **state)
{
	struct pair p;
	size_t n;
	(void)state;
	pair_open(&p, TLS1_3_VERSION, NULL);
	pair_handshake(&p);
	client_to_server(&p, (const uint8_t *)"bye", 3, 0, sizeof scratch);
	assert_int_equal(SSL_shutdown(p.p_client.tp_ssl), 0);
	tls_peer_push(&p.p_client, 0);
	assert_int_equal(transport_read(&p.p_server, scratch, sizeof scratch), 0);

	transport_shutdown_write(&p.p_server);
	tls_peer_pull(&p.p_client);
	assert_int_equal(SSL_read_ex(p.p_client.tp_ssl, scratch, sizeof scratch, &n), 0);
	assert_int_equal(SSL_get_error(p.p_client.tp_ssl, 0), SSL_ERROR_ZERO_RETURN);
	pair_close(&p);
}

/* Sends raw bytes to the server after the handshake; the read must fail with EPROTO and
 * the client must receive a fatal alert. */
static void expect_rejected(const uint8_t *bytes, size_t len)
{
	struct pair p;
	size_t n;

	pair_open(&p, TLS1_3_VERSION, NULL);
	pair_handshake(&p);
	assert_int_equal(send(p.p_client.tp_fd, bytes, len, 0), (ssize_t)len);
	assert_int_equal(transport_read(&p.p_server, scratch, sizeof scratch), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(transport_read(&p.p_server, scratch, sizeof scratch), -1);
	tls_peer_pull(&p.p_client);
	assert_int_equal(SSL_read_ex(p.p_client.tp_ssl, scratch, sizeof scratch, &n), 0);
	assert_int_equal(SSL_get_error(p.p_client.tp_ssl, 0), SSL_ERROR_SSL);
	pair_close(&p);
}

static void test_forged_record(void **state)
{
	uint8_t rec[5 + 40] = {23, 3, 3, 0, 40};
	(void)state;
	memset(rec + 5, 0xA5, 40);
	expect_rejected(rec, sizeof rec);
}

static void test_plaintext_record(void **state)
{
	static const uint8_t rec[] = {22, 3, 3, 0, 5, 24, 0, 0, 1, 0};
	(void)state;
	expect_rejected(rec, sizeof rec);
}

static void test_oversized_record(void **state)
{
	static const uint8_t rec[] = {23, 3, 3, 0x41, 0x01};
	(void)state;
	expect_rejected(rec, sizeof rec);
}

static void test_short_record(void **state)
{
	static const uint8_t rec[] = {23, 3, 3, 0,  16, 1,  2,  3,  4,  5, 6,
				      7,  8, 9, 10, 11, 12, 13, 14, 15, 16};
	(void)state;
	expect_rejected(rec, sizeof rec);
}

/* Records sealed with the client's own keys, as a hostile client could make them. */
struct forger {
	struct tls_record_keys f_keys;
	struct pair f_pair;
};

static void forger_open(struct forger *f)
{
	const SSL_CIPHER *cipher;

	pair_open(&f->f_pair, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256");
	pair_handshake(&f->f_pair);
	cipher = SSL_get_current_cipher(f->f_pair.p_client.tp_ssl);
	assert_int_equal(tls_record_suite_of(SSL_CIPHER_get_protocol_id(cipher)),
			 TLS_SUITE_AES_128_GCM_SHA256);
	assert_int_equal(tls_peer_secret_len, 32);
	assert_int_equal(
		tls_record_keys_set(&f->f_keys, TLS_SUITE_AES_128_GCM_SHA256, tls_peer_secret, 0),
		0);
}

static void forger_send(struct forger *f, uint8_t type, const void *data, size_t len)
{
	static uint8_t out[TLS_RECORD_SEALED_MAX];
	size_t n = tls_record_seal(&f->f_keys, type, data, len, out);

	assert_true(n > 0);
	assert_int_equal(send(f->f_pair.p_client.tp_fd, out, n, 0), (ssize_t)n);
}

/* The forged records are opened (the keys and sequence numbers agree); a message no
 * client may send after the handshake ends the connection. */
static void test_forged_new_session_ticket(void **state)
{
	struct forger f;
	static const uint8_t ticket[] = {4, 0, 0, 0};
	(void)state;

	forger_open(&f);
	forger_send(&f, TLS_CONTENT_APPLICATION_DATA, "forged", 6);
	assert_int_equal(transport_read(&f.f_pair.p_server, scratch, sizeof scratch), 6);
	assert_memory_equal(scratch, "forged", 6);
	forger_send(&f, TLS_CONTENT_HANDSHAKE, ticket, sizeof ticket);
	assert_int_equal(transport_read(&f.f_pair.p_server, scratch, sizeof scratch), -1);
	assert_int_equal(errno, EPROTO);
	pair_close(&f.f_pair);
}

/* Records that deliver nothing are allowed, but not without end: the 33rd in a row ends
 * the connection; one with data in between resets the count. */
static void test_empty_records(void **state)
{
	struct forger f;
	(void)state;

	forger_open(&f);
	for (int i = 0; i < 32; i++)
		forger_send(&f, TLS_CONTENT_APPLICATION_DATA, "", 0);
	forger_send(&f, TLS_CONTENT_APPLICATION_DATA, "x", 1);
	assert_int_equal(transport_read(&f.f_pair.p_server, scratch, sizeof scratch), 1);
	for (int i = 0; i < 33; i++)
		forger_send(&f, TLS_CONTENT_APPLICATION_DATA, "", 0);
	assert_int_equal(transport_read(&f.f_pair.p_server, scratch, sizeof scratch), -1);
	assert_int_equal(errno, EPROTO);
	pair_close(&f.f_pair);
}

/* The end of the stream in the middle of a record is the end of the stream. */
static void test_truncated(void **state)
{
	struct pair p;
	size_t written;
	(void)state;
	pair_open(&p, TLS1_3_VERSION, NULL);
	pair_handshake(&p);
	assert_int_equal(SSL_write_ex(p.p_client.tp_ssl, "cut short", 9, &written), 1);
	char *data;
	long n = BIO_get_mem_data(p.p_client.tp_out, &data);
	assert_int_equal(send(p.p_client.tp_fd, data, (size_t)n - 3, 0), n - 3);
	shutdown(p.p_client.tp_fd, SHUT_WR);
	assert_int_equal(transport_read(&p.p_server, scratch, sizeof scratch), 0);
	pair_close(&p);
}

static int setup(void **state)
{
	char err[256];
	(void)state;
	tls_peer_files_make(&files);
	server_ctx = transport_tls_context_new(files.tpf_cert, files.tpf_key, err, sizeof err);
	if (server_ctx == NULL)
		fprintf(stderr, "%s\n", err);
	return server_ctx == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	transport_tls_context_free(server_ctx);
	tls_peer_files_remove(&files);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aes128),
		cmocka_unit_test(test_aes256),
		cmocka_unit_test(test_chacha),
		cmocka_unit_test(test_resumed),
		cmocka_unit_test(test_tls12_stays),
		cmocka_unit_test(test_key_update),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_forged_record),
		cmocka_unit_test(test_plaintext_record),
		cmocka_unit_test(test_oversized_record),
		cmocka_unit_test(test_short_record),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_forged_new_session_ticket),
		cmocka_unit_test(test_empty_records),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
