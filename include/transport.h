/*
 * transport: the one seam through which a connection's bytes pass: plain TCP, or TLS
 * (transport_tls.h). Results follow read(2)/writev(2): >0 bytes, 0 end of stream (read),
 * -1 with errno set (EAGAIN when the operation must wait for readiness). Like libtls, a
 * transport may need a readiness the caller did not ask for (TLS reading may have to
 * write, writing may have to read): transport_wants says which, and the caller adds it to
 * its interest and retries both directions when any of them fires.
 */
#ifndef CHATD_TRANSPORT_H
#define CHATD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport;

struct transport_ops {
	ssize_t (*to_read)(struct transport *t, void *buf, size_t len);
	/* Bytes reported written are the transport's from then on: it may still hold some
	 * (a TLS record the socket had no room for), and a call with iovcnt 0 pushes them,
	 * returning 0 once it holds none. */
	ssize_t (*to_writev)(struct transport *t, const struct iovec *iov, int iovcnt);
	/* EPOLLIN and/or EPOLLOUT the transport needs now beyond the caller's own interest;
	 * 0 for TCP. */
	uint32_t (*to_wants)(const struct transport *t);
	/* Bytes of memory the transport holds for this connection now (0 for TCP). For TLS:
	 * while OpenSSL carries the connection (the handshake; TLS 1.2 to the end) its state
	 * (16 KiB, an estimate) and 16 KiB and some for each buffer it holds at the moment;
	 * after a TLS 1.3 handshake, the keys (under 300 bytes) and a record's buffer while
	 * one arrives in pieces or waits for the socket. The TLS transport charges the same
	 * figure to membudget itself. */
	size_t (*to_memory)(const struct transport *t);
	void (*to_shutdown_write)(struct transport *t); /* no more bytes will be written */
	void (*to_close)(struct transport *t);          /* releases the descriptor */
};

struct transport {
	const struct transport_ops *tr_ops;
	int tr_fd;
	void *tr_session; /* a TLS layer's per-connection state; NULL for plain TCP */
};

/* Plain TCP over a connected, non-blocking socket. */
void transport_init_tcp(struct transport *t, int fd);

static inline ssize_t transport_read(struct transport *t, void *buf, size_t len)
{
	return t->tr_ops->to_read(t, buf, len);
}
static inline ssize_t transport_writev(struct transport *t, const struct iovec *iov, int n)
{
	return t->tr_ops->to_writev(t, iov, n);
}
static inline uint32_t transport_wants(const struct transport *t)
{
	return t->tr_ops->to_wants(t);
}
static inline size_t transport_memory(const struct transport *t)
{
	return t->tr_ops->to_memory(t);
}
static inline void transport_shutdown_write(struct transport *t)
{
	t->tr_ops->to_shutdown_write(t);
}
static inline void transport_close(struct transport *t)
{
	t->tr_ops->to_close(t);
}

#endif
