/* The client side of wss:// for chatbench, over OpenSSL. */
#include "tlsclient.h"

#include <errno.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *client_ctx;
static SSL_SESSION *last_session; /* one reference, or NULL */
static bool offer_resumption;

/* A ticket arrived (TLS 1.3 sends them after the handshake): keep the newest. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
	(void)ssl;
	if (last_session != NULL)
		SSL_SESSION_free(last_session);
	last_session = session;
	return 1; /* we keep the reference */
}

int tlsclient_init(bool resume)
{
	client_ctx = SSL_CTX_new(TLS_client_method());
	if (client_ctx == NULL) {
		fprintf(stderr, "chatbench: cannot set up TLS\n");
		return -1;
	}
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	/* The pool moves unsent output to the front of its buffer between tries. */
	SSL_CTX_set_mode(client_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
					     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	offer_resumption = resume;
	if (resume) {
		SSL_CTX_set_session_cache_mode(client_ctx,
					       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
		SSL_CTX_sess_set_new_cb(client_ctx, on_new_session);
	}
	return 0;
}

void *tlsclient_new(int fd)
{
	SSL *ssl = SSL_new(client_ctx);

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (offer_resumption && last_session != NULL)
		SSL_set_session(ssl, last_session);
	SSL_set_connect_state(ssl);
	return ssl;
}

void tlsclient_free(void *session)
{
	SSL_free(session);
	ERR_clear_error();
}

/* -1 with errno for a failed call: EAGAIN when it must wait (*other set when it waits for
 * the other direction), EPROTO for a TLS error. 0 for the server's close_notify. */
static ssize_t failed(SSL *ssl, int ret, int other_want, bool *other)
{
	int e = SSL_get_error(ssl, ret);

	*other = e == other_want;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e != SSL_ERROR_SYSCALL || errno == 0)
		errno = EPROTO;
	ERR_clear_error();
	return -1;
}

ssize_t tlsclient_read(void *session, void *buf, size_t len, bool *wants_write)
{
	size_t got = 0, total = 0;

	*wants_write = false;
	/* Record by record while a whole one fits, so nothing stays inside OpenSSL. */
	while (total == 0 || len - total >= 16384) {
		int ret = SSL_read_ex(session, (char *)buf + total, len - total, &got);
		if (ret == 1) {
			total += got;
			continue;
		}
		if (total > 0)
			return (ssize_t)total; /* the failure comes again on the next call */
		return failed(session, ret, SSL_ERROR_WANT_WRITE, wants_write);
	}
	return (ssize_t)total;
}

ssize_t tlsclient_write(void *session, const void *buf, size_t len, bool *wants_read)
{
	size_t written = 0;
	int ret;

	*wants_read = false;
	ret = SSL_write_ex(session, buf, len, &written);
	if (ret == 1)
		return (ssize_t)written;
	return failed(session, ret, SSL_ERROR_WANT_READ, wants_read);
}

bool tlsclient_resumed(void *session)
{
	return SSL_session_reused(session) == 1;
}
