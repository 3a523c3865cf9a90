/*
 * transport: the one seam through which a connection's bytes pass. Plain TCP today; a TLS
 * layer (wss://) will be a second set of operations behind the same interface, so nothing
 * above it changes. Results follow read(2)/writev(2): >0 bytes, 0 end of stream (read),
 * -1 with errno set (EAGAIN when the operation must wait for readiness).
 */
#ifndef CHATD_TRANSPORT_H
#define CHATD_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport;

struct transport_ops {
	ssize_t (*to_read)(struct transport *t, void *buf, size_t len);
	ssize_t (*to_writev)(struct transport *t, const struct iovec *iov, int iovcnt);
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
static inline void transport_shutdown_write(struct transport *t)
{
	t->tr_ops->to_shutdown_write(t);
}
static inline void transport_close(struct transport *t)
{
	t->tr_ops->to_close(t);
}

#endif
