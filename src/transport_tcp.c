/* The plain TCP transport: the system calls themselves (TLS is transport_tls.c). */
#include "transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t tcp_read(struct transport *t, void *buf, size_t len)
{
	ssize_t n;
	do
		n = read(t->tr_fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t tcp_writev(struct transport *t, const struct iovec *iov, int iovcnt)
{
	/* sendmsg rather than writev for MSG_NOSIGNAL: a peer that vanished yields EPIPE
	 * here, never SIGPIPE (which chatd also ignores, for belt and braces). */
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	if (iovcnt == 0)
		return 0; /* nothing held back to push */
	do
		n = sendmsg(t->tr_fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/* The socket's own readiness is all TCP ever waits for. */
static uint32_t tcp_wants(const struct transport *t)
{
	(void)t;
	return 0;
}

/* The kernel's socket buffers are not chatd's memory. */
static size_t tcp_memory(const struct transport *t)
{
	(void)t;
	return 0;
}

static void tcp_shutdown_write(struct transport *t)
{
	(void)shutdown(t->tr_fd, SHUT_WR);
}

static void tcp_close(struct transport *t)
{
	if (t->tr_fd >= 0)
		(void)close(t->tr_fd);
	t->tr_fd = -1;
}

static const struct transport_ops tcp_ops = {
	.to_read = tcp_read,
	.to_writev = tcp_writev,
	.to_wants = tcp_wants,
	.to_memory = tcp_memory,
	.to_shutdown_write = tcp_shutdown_write,
	.to_close = tcp_close,
};

void transport_init_tcp(struct transport *t, int fd)
{
	t->tr_ops = &tcp_ops;
	t->tr_fd = fd;
	t->tr_session = NULL;
}
