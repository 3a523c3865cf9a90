/*
 * fuzz_tls: the TLS transport (src/transport_tls.c, and src/transport_tls13.c with
 * src/tls_record.c after a TLS 1.3 handshake) fed with hostile client bytes, over a socket
 * pair exactly as chatd runs it: transport_init_tls on one end, transport_read and
 * transport_writev as src/conn.c calls them.
 *
 * Input: byte 0 picks the mode (bit 0) and, for the second mode, the client's protocol
 * (bits 1-2: TLS 1.3 with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305, or TLS 1.2);
 * byte 1 seeds the sizes of the pieces bytes reach the socket in.
 *   mode 0: the rest is what a client sends from its first byte (seed: a real ClientHello).
 *   mode 1: an OpenSSL client completes a real handshake first; the rest is a list of
 *           operations [op][length, 2 bytes][data]. The op's low 3 bits (mod 5) say what:
 *           an application data record sealed with the client's true keys (0), a record
 *           with any inner content type (1), a KeyUpdate (2), raw bytes (3), a server
 *           write (4); its high 5 bits are the padding (0, 1) or the KeyUpdate's request
 *           byte (2). Under TLS 1.2, 0 goes through the OpenSSL client and 1-2 are raw.
 * Properties: no crash, leak or sanitizer report; a read returns at most what was asked;
 * the plaintext read is exactly what the client sealed as application data, or a prefix
 * of it once the server has refused something; a failed read stays failed; after the
 * handover a connection holds at most a record in and a record out.
 */
#define FUZZ_NAME "fuzz_tls"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "../unit/tls_peer.h"
#include "fuzz_common.h"
#include "log.h"
#include "tls_record.h"
#include "transport_tls.h"

#define EXPECT_MAX 65536
/* One record arriving and one leaving, with their headers, and the session itself. */
#define HANDED_OVER_MEMORY_MAX (2 * (TLS_RECORD_SEALED_MAX + 256) + 1024)

static struct transport_tls_context *server_ctx;
static SSL_CTX *client_ctx[4];
static const char *const suites[3] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
				      "TLS_CHACHA20_POLY1305_SHA256"};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct tls_peer_files files;
	char err[256];
	(void)argc;
	(void)argv;

	log_set_level(LOG_LEVEL_ERROR);
	tls_peer_files_make(&files);
	server_ctx = transport_tls_context_new(files.tpf_cert, files.tpf_key, err, sizeof err);
	tls_peer_files_remove(&files);
	if (server_ctx == NULL)
		fuzz_fail(err);
	for (int i = 0; i < 3; i++)
		client_ctx[i] = tls_peer_ctx(TLS1_3_VERSION, suites[i]);
	client_ctx[3] = tls_peer_ctx(TLS1_2_VERSION, NULL);
	return 0;
}

struct run {
	struct transport r_server;
	struct tls_peer r_client;
	int r_fd; /* the client's end */
	uint32_t r_rng;
	uint8_t r_expected[EXPECT_MAX]; /* application data sealed while the server was well */
	size_t r_expected_len;
	size_t r_received;
	bool r_ended; /* a read failed or saw the end: no more data is owed */
	int r_end_errno;
	bool r_end_eof;
	bool r_short; /* some bytes could not be delivered */
	bool r_raw;   /* raw bytes went in: the server may wait for a record's rest forever */
};

static uint8_t read_buf[70000];

static size_t piece(struct run *r)
{
	if (r->r_rng == 0)
		return SIZE_MAX;
	r->r_rng = r->r_rng * 1103515245u + 12345u;
	return 1 + (r->r_rng >> 16) % 97;
}

/* The server reads until it must wait; every byte it returns is checked. */
static void server_reads(struct run *r)
{
	/* Enough reads of 7 bytes for the largest input; a read that never waits would be a
	 * hang, and libFuzzer's timeout reports it. */
	for (int i = 0; i < 1 << 16; i++) {
		size_t cap = (r->r_rng & 1) ? 7 + (size_t)(r->r_rng >> 8) % 20000 : sizeof read_buf;
		ssize_t n = transport_read(&r->r_server, read_buf, cap);

		if (n > 0) {
			if ((size_t)n > cap)
				fuzz_fail("a read returned more than asked");
			if (r->r_ended)
				fuzz_fail("bytes after the end");
			if (r->r_received + (size_t)n > r->r_expected_len ||
			    memcmp(read_buf, r->r_expected + r->r_received, (size_t)n) != 0)
				fuzz_fail("plaintext differs from what the client sealed");
			r->r_received += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		if (r->r_ended && n < 0 && r->r_end_eof)
			fuzz_fail("a read failed after the end of the stream");
		if (!r->r_ended) {
			r->r_ended = true;
			r->r_end_eof = n == 0;
			r->r_end_errno = n < 0 ? errno : 0;
		}
		return;
	}
}

/* Sends bytes to the server in pieces, reading after each; drains what it answers. */
static void deliver(struct run *r, const uint8_t *data, size_t len)
{
	char sink[65536];

	for (size_t off = 0; off < len;) {
		size_t n = piece(r);
		if (n > len - off)
			n = len - off;
		ssize_t w = send(r->r_fd, data + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w <= 0) {
			r->r_short = true; /* the server stopped reading and the socket is full */
			break;
		}
		off += (size_t)w;
		server_reads(r);
		while (recv(r->r_fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
			;
	}
	server_reads(r);
	while (recv(r->r_fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
		;
}

static void expect(struct run *r, const uint8_t *data, size_t len)
{
	if (r->r_ended)
		return;
	if (len > EXPECT_MAX - r->r_expected_len)
		len = EXPECT_MAX - r->r_expected_len;
	memcpy(r->r_expected + r->r_expected_len, data, len);
	r->r_expected_len += len;
}

static bool handshake(struct run *r)
{
	for (int i = 0; i < 8; i++) {
		(void)SSL_do_handshake(r->r_client.tp_ssl);
		tls_peer_push(&r->r_client, 0);
		(void)transport_read(&r->r_server, read_buf, sizeof read_buf);
		tls_peer_pull(&r->r_client);
	}
	return SSL_is_init_finished(r->r_client.tp_ssl);
}

/* Seals content with inner type `type` and `padding` zeros after it, sends it. */
static void send_sealed(struct run *r, struct tls_record_keys *k, uint8_t type, const uint8_t *data,
			size_t len, size_t padding)
{
	static uint8_t inner[TLS_RECORD_PLAIN_MAX + 1], out[TLS_RECORD_SEALED_MAX];
	size_t n;

	if (len > TLS_RECORD_PLAIN_MAX)
		len = TLS_RECORD_PLAIN_MAX;
	if (len + padding > TLS_RECORD_PLAIN_MAX)
		padding = 0;
	if (padding == 0) {
		n = tls_record_seal(k, type, data, len, out);
	} else {
		/* content, type, zeros: sealed as plaintext whose own type byte is a zero */
		memcpy(inner, data, len);
		inner[len] = type;
		memset(inner + len + 1, 0, padding - 1);
		n = tls_record_seal(k, 0, inner, len + padding, out);
	}
	if (n == 0)
		fuzz_fail("cannot seal");
	deliver(r, out, n);
}

static void run_operations(struct run *r, const uint8_t *data, size_t size, bool tls13)
{
	struct tls_record_keys keys;
	const SSL_CIPHER *cipher = SSL_get_current_cipher(r->r_client.tp_ssl);
	int suite = cipher ? tls_record_suite_of(SSL_CIPHER_get_protocol_id(cipher)) : -1;

	if (tls13 && (suite < 0 || tls_peer_secret_len != tls_record_secret_len(suite) ||
		      tls_record_keys_set(&keys, suite, tls_peer_secret, 0) < 0))
		fuzz_fail("no client keys after a TLS 1.3 handshake");
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		const uint8_t *d = data;
		data += len;
		size -= len;
		size_t padding = op >> 3;

		switch ((op & 7) % 5) {
		case 0:
			if (tls13) {
				size_t n = len > TLS_RECORD_PLAIN_MAX ? TLS_RECORD_PLAIN_MAX : len;
				expect(r, d, n);
				send_sealed(r, &keys, TLS_CONTENT_APPLICATION_DATA, d, n, padding);
			} else {
				size_t written;
				char *out;
				if (len > 0 &&
				    SSL_write_ex(r->r_client.tp_ssl, d, len, &written) == 1)
					expect(r, d, len);
				/* The client's records are in its BIO: hand them over in pieces. */
				long n = BIO_get_mem_data(r->r_client.tp_out, &out);
				if (n > 0) {
					deliver(r, (const uint8_t *)out, (size_t)n);
					(void)BIO_reset(r->r_client.tp_out);
				}
			}
			break;
		case 1:
			if (tls13 && len > 0) {
				static const uint8_t zeros[TLS_RECORD_PLAIN_MAX];
				size_t n = len - 1 > TLS_RECORD_PLAIN_MAX ? TLS_RECORD_PLAIN_MAX
									  : len - 1;
				if (d[0] == TLS_CONTENT_APPLICATION_DATA)
					expect(r, d + 1, n);
				/* Type 0: nothing but zeros, a record without a content type (the
				 * true type of other content would be its last non-zero byte). */
				send_sealed(r, &keys, d[0], d[0] == 0 ? zeros : d + 1, n, padding);
			} else {
				r->r_raw = true;
				deliver(r, d, len);
			}
			break;
		case 2:
			if (tls13) {
				uint8_t ku[5] = {24, 0, 0, 1, (uint8_t)(op >> 3)};
				send_sealed(r, &keys, TLS_CONTENT_HANDSHAKE, ku, sizeof ku, 0);
				if (tls_record_keys_update(&keys) < 0)
					fuzz_fail("key update");
			} else {
				r->r_raw = true;
				deliver(r, d, len);
			}
			break;
		case 3:
			r->r_raw = true;
			deliver(r, d, len);
			break;
		case 4: {
			struct iovec iov[2] = {{(void *)d, len / 2},
					       {(void *)(d + len / 2), len - len / 2}};
			ssize_t w = transport_writev(&r->r_server, iov, 2);
			if (w > (ssize_t)len)
				fuzz_fail("a write took more than offered");
			(void)transport_writev(&r->r_server, NULL, 0);
			break;
		}
		}
		if (tls13 && r->r_server.tr_session != NULL &&
		    transport_memory(&r->r_server) > HANDED_OVER_MEMORY_MAX)
			fuzz_fail("a connection holds more than a record each way");
	}
	tls_record_keys_clear(&keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	int sv[2];

	if (size < 2)
		return 0;
	memset(&r, 0, offsetof(struct run, r_expected));
	r.r_expected_len = r.r_received = 0;
	r.r_ended = r.r_end_eof = r.r_short = r.r_raw = false;
	r.r_rng = data[1];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		fuzz_fail("socketpair");
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if (transport_init_tls(&r.r_server, sv[0], server_ctx) < 0)
		fuzz_fail("transport_init_tls");
	r.r_fd = sv[1];

	if ((data[0] & 1) == 0) {
		deliver(&r, data + 2, size - 2);
	} else {
		int which = (data[0] >> 1) & 3;
		tls_peer_secret_len = 0;
		tls_peer_open(&r.r_client, client_ctx[which], sv[1]);
		if (!handshake(&r))
			fuzz_fail("the handshake with a real client failed");
		run_operations(&r, data + 2, size - 2, which < 3);
		/* A server that never refused anything has read all it was sent. */
		if (!r.r_ended && !r.r_short && !r.r_raw && r.r_received != r.r_expected_len)
			fuzz_fail("application data sealed by the client was not read");
		tls_peer_close(&r.r_client);
	}
	transport_shutdown_write(&r.r_server);
	transport_close(&r.r_server);
	close(sv[1]);
	ERR_clear_error();
	return 0;
}
