/*
 * The TLS transport's context: the SSL_CTX made from a certificate chain and a key file,
 * OpenSSL's settings for chatd (TLS 1.2 and 1.3, no renegotiation, stateless tickets,
 * ALPN http/1.1), the checks that name a bad file, and the reload on SIGHUP. The
 * connections made from it are src/transport_tls.c's.
 */
#include "transport_tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "transport_tls_internal.h"

/* The OpenSSL error at the front of the queue as text, and the queue emptied. */
const char *transport_tls_error_text(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "unknown error";
}

static void format_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "(unreadable date)");
}

/* Whether path can be opened for reading; if not, err says why. */
static bool readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read TLS %s %s: %s", what, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

/* A daemon has nobody to type a passphrase: refuse instead of prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

/* ALPN: http/1.1 when the client offers it, else no ALPN at all (a client offering only
 * h2 then learns at once that it must speak HTTP/1.1, or leave). The list is hostile
 * input: each entry's length byte is checked against what is left. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "http/1.1";
	(void)ssl;
	(void)arg;

	for (unsigned int i = 0; i < inlen;) {
		unsigned int n = in[i++];
		if (n > inlen - i)
			break;
		if (n == sizeof http11 - 1 && memcmp(in + i, http11, n) == 0) {
			*out = in + i;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* Checks the leaf certificate's validity period against now. */
static bool check_dates(X509 *leaf, const char *path, char *err, size_t errlen)
{
	char when[64];

	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
		format_time(X509_get0_notAfter(leaf), when, sizeof when);
		snprintf(err, errlen, "TLS certificate %s expired on %s", path, when);
		return false;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
		format_time(X509_get0_notBefore(leaf), when, sizeof when);
		snprintf(err, errlen, "TLS certificate %s is not valid before %s", path, when);
		return false;
	}
	return true;
}

/* A new SSL_CTX from the files. old (or NULL) passes on its session ticket keys, so
 * tickets issued before a reload still resume after it. */
static SSL_CTX *load(const char *cert_file, const char *key_file, SSL_CTX *old, char *err,
		     size_t errlen)
{
	unsigned char keys[80];
	SSL_CTX *ctx;
	X509 *leaf;

	if (!readable("certificate", cert_file, err, errlen) ||
	    !readable("key", key_file, err, errlen))
		return NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "cannot set up TLS: %s", transport_tls_error_text());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No renegotiation (a client asking gets a refusal), unexpected EOF read as EOF, and
	 * the kernel's TLS where it has it (OpenSSL falls back to itself when it does not). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF
#ifdef SSL_OP_ENABLE_KTLS
					 | SSL_OP_ENABLE_KTLS
#endif
	);
	/* A retried write comes from the connection's own copy, not the shared stage. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Resumption by stateless tickets only: a server-side session cache would hold
	 * memory for every client that ever connected. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"chatd", 5);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	SSL_CTX_set_keylog_callback(ctx, transport_tls_keylog);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "cannot load TLS certificate %s: %s", cert_file,
			 transport_tls_error_text());
		goto fail;
	}
	leaf = SSL_CTX_get0_certificate(ctx);
	if (leaf == NULL || !check_dates(leaf, cert_file, err, errlen))
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen,
			 "cannot load TLS key %s: %s (an unencrypted PEM key is needed)", key_file,
			 transport_tls_error_text());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "TLS key %s does not match the certificate %s", key_file,
			 cert_file);
		goto fail;
	}
	if (old != NULL && SSL_CTX_get_tlsext_ticket_keys(old, keys, sizeof keys) == 1)
		SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys);
	OPENSSL_cleanse(keys, sizeof keys);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* One line for the log: whose certificate, and until when. */
static void log_loaded(const struct transport_tls_context *tc, const char *verb)
{
	X509 *leaf = SSL_CTX_get0_certificate(tc->tc_ssl_ctx);
	char subject[256] = "?", until[64];

	X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof subject);
	format_time(X509_get0_notAfter(leaf), until, sizeof until);
	log_info("TLS: %s certificate %s (%s), valid until %s", verb, tc->tc_cert_file, subject,
		 until);
}

struct transport_tls_context *transport_tls_context_new(const char *cert_file, const char *key_file,
							char *err, size_t errlen)
{
	struct transport_tls_context *tc = calloc(1, sizeof *tc);

	if (tc == NULL) {
		snprintf(err, errlen, "cannot set up TLS: out of memory");
		return NULL;
	}
	tc->tc_cert_file = cert_file;
	tc->tc_key_file = key_file;
	tc->tc_ssl_ctx = load(cert_file, key_file, NULL, err, errlen);
	if (tc->tc_ssl_ctx == NULL) {
		free(tc);
		return NULL;
	}
	log_loaded(tc, "loaded");
	return tc;
}

int transport_tls_context_reload(struct transport_tls_context *tc, char *err, size_t errlen)
{
	SSL_CTX *ctx = load(tc->tc_cert_file, tc->tc_key_file, tc->tc_ssl_ctx, err, errlen);

	if (ctx == NULL)
		return -1;
	/* Open connections hold references to the old context; it goes with the last. */
	SSL_CTX_free(tc->tc_ssl_ctx);
	tc->tc_ssl_ctx = ctx;
	log_loaded(tc, "reloaded");
	return 0;
}

void transport_tls_context_free(struct transport_tls_context *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->tc_ssl_ctx);
	free(tc);
}
