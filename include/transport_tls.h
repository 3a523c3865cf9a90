/*
 * transport_tls: TLS 1.2 and 1.3 through OpenSSL behind include/transport.h, so nothing
 * above the transport learns that TLS exists. This header is the setup side: a context
 * made from a certificate chain and a key file (and reloaded from them on SIGHUP), and the
 * transport a connection gets from it.
 */
#ifndef CHATD_TRANSPORT_TLS_H
#define CHATD_TRANSPORT_TLS_H

#include <stddef.h>

#include "transport.h"

struct transport_tls_context;

/* Loads cert_file (PEM: the leaf first, then its chain) and key_file (PEM, unencrypted).
 * The paths are kept (borrowed: they must outlive the context) for reloads. Returns NULL
 * with a one-line message naming the file in err: unreadable, not PEM, expired, not yet
 * valid, or a key that does not match the certificate. */
struct transport_tls_context *transport_tls_context_new(const char *cert_file, const char *key_file,
							char *err, size_t errlen);

/* Loads the files again. On success new handshakes use them and open connections keep
 * what they have; on failure (err as above) the old certificate stays in use. 0 or -1. */
int transport_tls_context_reload(struct transport_tls_context *ctx, char *err, size_t errlen);

/* Open connections keep their own reference to what they use: freeing is safe at any
 * time. NULL is a no-op. */
void transport_tls_context_free(struct transport_tls_context *ctx);

/* A server-side TLS transport over a connected, non-blocking socket. The handshake runs
 * inside the first reads. Returns 0, or -1 (out of memory) leaving fd open and t unset. */
int transport_init_tls(struct transport *t, int fd, struct transport_tls_context *ctx);

#endif
