/*
 * tls_peer.h: what a test of the TLS transport needs around it: a throwaway certificate
 * (ECDSA P-256, self-signed, written to a temporary directory, as transport_tls reads
 * files), and a client made of OpenSSL over memory BIOs whose bytes a test moves to and
 * from the transport's socket itself, in pieces of any size. Header-only, static inline;
 * shared by the unit test and the fuzz harness. Aborts when the setup itself fails.
 */
#ifndef CHATD_TESTS_TLS_PEER_H
#define CHATD_TESTS_TLS_PEER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_peer_files {
	char tpf_dir[64];
	char tpf_cert[96];
	char tpf_key[96];
};

static inline void tls_peer_die(const char *what)
{
	fprintf(stderr, "tls_peer: %s\n", what);
	abort();
}

/* A fresh key and a certificate for it, valid from an hour ago for a day. */
static inline void tls_peer_files_make(struct tls_peer_files *f)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *out;

	snprintf(f->tpf_dir, sizeof f->tpf_dir, "/tmp/chatd-tls-XXXXXX");
	if (key == NULL || x == NULL || mkdtemp(f->tpf_dir) == NULL)
		tls_peer_die("cannot make a key");
	snprintf(f->tpf_cert, sizeof f->tpf_cert, "%s/cert.pem", f->tpf_dir);
	snprintf(f->tpf_key, sizeof f->tpf_key, "%s/key.pem", f->tpf_dir);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (X509_sign(x, key, EVP_sha256()) == 0)
		tls_peer_die("cannot sign");
	out = fopen(f->tpf_cert, "w");
	if (out == NULL || PEM_write_X509(out, x) != 1 || fclose(out) != 0)
		tls_peer_die("cannot write the certificate");
	out = fopen(f->tpf_key, "w");
	if (out == NULL || PEM_write_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(out) != 0)
		tls_peer_die("cannot write the key");
	X509_free(x);
	EVP_PKEY_free(key);
}

static inline void tls_peer_files_remove(struct tls_peer_files *f)
{
	unlink(f->tpf_cert);
	unlink(f->tpf_key);
	rmdir(f->tpf_dir);
}

/* A client: OpenSSL over two memory BIOs, and the socket end it talks through. */
struct tls_peer {
	SSL *tp_ssl;
	BIO *tp_in;  /* bytes from the server, for OpenSSL to read (owned by tp_ssl) */
	BIO *tp_out; /* bytes OpenSSL wrote, for the socket (owned by tp_ssl) */
	int tp_fd;   /* our end of the socket pair */
};

/* The last client_application_traffic_secret_0 a client made (from its key log): with
 * it a test seals records of any shape as that client. */
static uint8_t tls_peer_secret[48];
static size_t tls_peer_secret_len;

static inline void tls_peer_keylog(const SSL *ssl, const char *line)
{
	static const char label[] = "CLIENT_TRAFFIC_SECRET_0 ";
	const char *hex;
	(void)ssl;

	if (strncmp(line, label, sizeof label - 1) != 0)
		return;
	hex = strchr(line + sizeof label - 1, ' ');
	if (hex == NULL)
		return;
	tls_peer_secret_len = 0;
	for (hex++; hex[0] && hex[1] && tls_peer_secret_len < sizeof tls_peer_secret; hex += 2)
		tls_peer_secret[tls_peer_secret_len++] =
			(uint8_t)(OPENSSL_hexchar2int((unsigned char)hex[0]) * 16 +
				  OPENSSL_hexchar2int((unsigned char)hex[1]));
}

/* max_version: TLS1_3_VERSION or TLS1_2_VERSION; suites: a TLS 1.3 suite list or NULL. */
static inline SSL_CTX *tls_peer_ctx(int max_version, const char *suites)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		tls_peer_die("SSL_CTX_new");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_max_proto_version(ctx, max_version);
	if (suites != NULL && SSL_CTX_set_ciphersuites(ctx, suites) != 1)
		tls_peer_die("SSL_CTX_set_ciphersuites");
	SSL_CTX_set_keylog_callback(ctx, tls_peer_keylog);
	return ctx;
}

static inline void tls_peer_open(struct tls_peer *p, SSL_CTX *ctx, int fd)
{
	p->tp_ssl = SSL_new(ctx);
	p->tp_in = BIO_new(BIO_s_mem());
	p->tp_out = BIO_new(BIO_s_mem());
	if (p->tp_ssl == NULL || p->tp_in == NULL || p->tp_out == NULL)
		tls_peer_die("SSL_new");
	SSL_set_bio(p->tp_ssl, p->tp_in, p->tp_out);
	SSL_set_tlsext_host_name(p->tp_ssl, "localhost");
	SSL_set_connect_state(p->tp_ssl);
	p->tp_fd = fd;
}

static inline void tls_peer_close(struct tls_peer *p)
{
	SSL_free(p->tp_ssl);
	p->tp_ssl = NULL;
}

/* Sends what the client wrote, at most chunk bytes per send (0: all at once); returns
 * the bytes still waiting (the socket was full). */
static inline size_t tls_peer_push(struct tls_peer *p, size_t chunk)
{
	char *data;
	long n = BIO_get_mem_data(p->tp_out, &data);
	size_t sent = 0;

	while ((long)sent < n) {
		size_t want = (size_t)n - sent;
		if (chunk != 0 && want > chunk)
			want = chunk;
		ssize_t w = send(p->tp_fd, data + sent, want, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	/* A memory BIO gives its front bytes back only by reading them. */
	char sink[4096];
	for (size_t left = sent; left > 0;) {
		int r = BIO_read(p->tp_out, sink, (int)(left < sizeof sink ? left : sizeof sink));
		if (r <= 0)
			break;
		left -= (size_t)r;
	}
	return (size_t)n - sent;
}

/* Moves whatever the server sent into the client's input. Returns bytes moved. */
static inline size_t tls_peer_pull(struct tls_peer *p)
{
	char buf[16384];
	size_t total = 0;
	ssize_t n;

	while ((n = recv(p->tp_fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
		BIO_write(p->tp_in, buf, (int)n);
		total += (size_t)n;
	}
	return total;
}

#endif
