/*
 * tls_memory: where OpenSSL's bytes go for one server connection after a handshake.
 * Makes N handshakes in memory (client and server SSLs over memory BIOs, the server set up
 * as chatd sets up its SSL_CTX), keeps the server SSLs, and prints the bytes OpenSSL still
 * holds per connection, grouped by the source line that allocated them
 * (CRYPTO_set_mem_functions passes it); then frees them and prints what is left, which
 * would be state kept per past session (a session cache). docs/BENCHMARKS.md has a run.
 *
 *   build/tls_memory CERT KEY [SUITE [N]]    SUITE: a TLS 1.3 suite name, or "TLSv1.2"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define SITES_MAX       4096
#define CONNECTIONS_MAX 1000

struct site {
	const char *s_file;
	int s_line;
	long s_bytes;
	long s_blocks;
};

/* Each block carries its size and site in front of what OpenSSL sees. */
struct block {
	size_t b_size;
	int b_site; /* -1: allocated while not counting */
	int b_pad;
};

static struct site sites[SITES_MAX];
static int site_count;
static int counting;

static int site_of(const char *file, int line)
{
	for (int i = 0; i < site_count; i++)
		if (sites[i].s_line == line && sites[i].s_file == file)
			return i;
	if (site_count == SITES_MAX)
		abort();
	sites[site_count].s_file = file;
	sites[site_count].s_line = line;
	return site_count++;
}

static void *counted_malloc(size_t n, const char *file, int line)
{
	struct block *b = malloc(sizeof *b + n);
	if (b == NULL)
		return NULL;
	b->b_size = n;
	b->b_site = counting ? site_of(file, line) : -1;
	if (b->b_site >= 0) {
		sites[b->b_site].s_bytes += (long)n;
		sites[b->b_site].s_blocks++;
	}
	return b + 1;
}

static void counted_free(void *p, const char *file, int line)
{
	struct block *b;
	(void)file;
	(void)line;

	if (p == NULL)
		return;
	b = (struct block *)p - 1;
	if (b->b_site >= 0) {
		sites[b->b_site].s_bytes -= (long)b->b_size;
		sites[b->b_site].s_blocks--;
	}
	free(b);
}

static void *counted_realloc(void *p, size_t n, const char *file, int line)
{
	void *q;
	size_t old;

	if (p == NULL)
		return counted_malloc(n, file, line);
	old = ((struct block *)p - 1)->b_size;
	q = counted_malloc(n, file, line);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	counted_free(p, file, line);
	return q;
}

static void pump(BIO *from, BIO *to)
{
	char buf[16384];
	int n;
	while ((n = BIO_read(from, buf, sizeof buf)) > 0)
		BIO_write(to, buf, n);
}

static int by_bytes(const void *a, const void *b)
{
	const struct site *x = a, *y = b;
	return (y->s_bytes > x->s_bytes) - (y->s_bytes < x->s_bytes);
}

static void report(const char *title, int n)
{
	long total = 0, blocks = 0;
	struct site sorted[SITES_MAX];

	memcpy(sorted, sites, sizeof sites[0] * (size_t)site_count);
	qsort(sorted, (size_t)site_count, sizeof sorted[0], by_bytes);
	for (int i = 0; i < site_count; i++) {
		total += sorted[i].s_bytes;
		blocks += sorted[i].s_blocks;
	}
	printf("%s: %ld bytes in %.1f blocks per connection\n", title, total / n,
	       (double)blocks / n);
	for (int i = 0; i < site_count && sorted[i].s_bytes >= n * 16L; i++)
		printf("  %6ld  %4.1f  %s:%d\n", sorted[i].s_bytes / n,
		       (double)sorted[i].s_blocks / n, sorted[i].s_file, sorted[i].s_line);
}

static SSL_CTX *server_context(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	/* As src/transport_tls.c's load() sets it up. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"chatd", 5);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int main(int argc, char **argv)
{
	static SSL *servers[CONNECTIONS_MAX];
	const char *suite = argc > 3 ? argv[3] : NULL;
	int n = argc > 4 ? atoi(argv[4]) : 200;
	SSL_CTX *sctx, *cctx;

	if (argc < 3 || n < 1 || n > CONNECTIONS_MAX) {
		fprintf(stderr, "usage: tls_memory CERT KEY [SUITE|TLSv1.2 [N]]\n");
		return 2;
	}
	CRYPTO_set_mem_functions(counted_malloc, counted_realloc, counted_free);
	sctx = server_context(argv[1], argv[2]);
	cctx = SSL_CTX_new(TLS_client_method());
	if (sctx == NULL || cctx == NULL) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);
	if (suite != NULL && strcmp(suite, "TLSv1.2") == 0)
		SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	else if (suite != NULL)
		SSL_CTX_set_ciphersuites(cctx, suite);

	counting = 1;
	for (int i = 0; i < n; i++) {
		SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
		BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
		BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
		char buf[64];
		size_t got;

		SSL_set_bio(s, s_in, s_out);
		SSL_set_bio(c, c_in, c_out);
		SSL_set_accept_state(s);
		SSL_set_connect_state(c);
		for (int k = 0; k < 6; k++) {
			(void)SSL_do_handshake(c);
			pump(c_out, s_in);
			(void)SSL_do_handshake(s);
			pump(s_out, c_in);
		}
		if (SSL_write(c, "hello", 5) != 5 || (pump(c_out, s_in), 0) ||
		    SSL_read_ex(s, buf, sizeof buf, &got) != 1 || SSL_write(s, "hi", 2) != 2) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		if (i == 0)
			printf("%s %s, %d connections\n", SSL_get_version(s), SSL_get_cipher(s), n);
		SSL_free(c);
		servers[i] = s;
	}
	report("held by OpenSSL for each open server connection (memory BIOs included)", n);
	for (int i = 0; i < n; i++)
		SSL_free(servers[i]);
	report("left after every server SSL was freed", n);
	counting = 0;
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}
