/*
 * transport_tls_internal: what the TLS transport's two files share: the context's
 * layout (src/transport_tls_context.c makes it, src/transport_tls.c makes connections
 * from it) and the callbacks one installs for the other.
 */
#ifndef CHATD_TRANSPORT_TLS_INTERNAL_H
#define CHATD_TRANSPORT_TLS_INTERNAL_H

#include <openssl/ssl.h>

struct transport_tls_context {
	SSL_CTX *tc_ssl_ctx;      /* owned reference; every SSL made from it holds its own */
	const char *tc_cert_file; /* borrowed from the caller, for reloads */
	const char *tc_key_file;
};

/* The OpenSSL error at the front of the queue as text, and the queue emptied. */
const char *transport_tls_error_text(void);

/* The key log callback the context installs: keeps a connection's application traffic
 * secrets for its handover to transport_tls13. */
void transport_tls_keylog(const SSL *ssl, const char *line);

#endif
