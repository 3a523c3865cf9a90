/*
 * The listening socket and the accept loop.
 *
 * Running out of descriptors (EMFILE/ENFILE) would make a level-triggered listener spin:
 * the pending connection stays in the backlog and epoll reports it again at once. chatd
 * keeps one spare descriptor open for that moment: it closes the spare, accepts the
 * connection, closes it at once (the client sees the connection end rather than wait in
 * the backlog), and reopens the spare. If the spare cannot be reopened the listener stops
 * watching for LISTENER_PAUSE_MS instead. Either way the loop never busy-waits.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "log.h"

#define LISTENER_PAUSE_MS 100
/* Accepts per readiness event, so a connection flood cannot starve the clients already in
 * (the listener is level-triggered: the rest are accepted on the next pass). */
#define LISTENER_ACCEPT_BUDGET 512

void listener_format_addr(const union net_addr *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (addr->sa.sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = &addr->in6;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			/* A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; log them as IPv4.
			 */
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof host);
			snprintf(buf, len, "%s:%u", host, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
			snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
		}
	} else if (addr->sa.sa_family == AF_INET) {
		const struct sockaddr_in *s4 = &addr->in4;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "?");
	}
}

static void resume(struct loop_timer *t);

static void pause_accepting(struct listener *li)
{
	loop_watch_set(li->li_loop, &li->li_watch, 0);
	loop_timer_start(li->li_loop, &li->li_pause, LISTENER_PAUSE_MS, resume);
}

static void resume(struct loop_timer *t)
{
	struct listener *li = container_of(t, struct listener, li_pause);
	if (li->li_spare_fd < 0)
		li->li_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* Should the kernel refuse, try again later rather than stay paused for good. */
	if (loop_watch_set(li->li_loop, &li->li_watch, EPOLLIN) < 0)
		loop_timer_start(li->li_loop, &li->li_pause, LISTENER_PAUSE_MS, resume);
}

/* Descriptors are exhausted: shed one pending connection with the spare descriptor. */
static void shed_connection(struct listener *li)
{
	if (li->li_spare_fd < 0) {
		pause_accepting(li);
		return;
	}
	close(li->li_spare_fd);
	li->li_spare_fd = -1;
	int fd = accept4(li->li_watch.lw_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	li->li_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (li->li_spare_fd < 0)
		pause_accepting(li);
}

static void on_readable(struct loop_watch *w, uint32_t events)
{
	struct listener *li = container_of(w, struct listener, li_watch);
	(void)events;

	for (int i = 0; i < LISTENER_ACCEPT_BUDGET; i++) {
		union net_addr peer = {0};
		socklen_t peer_len = sizeof peer;
		int fd = accept4(w->lw_fd, &peer.sa, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
			case ECONNABORTED: /* the client gave up while queued */ return;
			case EMFILE:
			case ENFILE:
				/* Once a second at most: a flood must not become a log flood. */
				if (loop_now(li->li_loop) >= li->li_next_warning) {
					log_warn("out of file descriptors (%s): refusing "
						 "connections",
						 strerror(errno));
					li->li_next_warning = loop_now(li->li_loop) + 1000;
				}
				shed_connection(li);
				return;
			default:
				log_error("accept failed: %s", strerror(errno));
				pause_accepting(li);
				return;
			}
		}
		/* Chat frames are small and latency matters; chatd batches its own writes. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		li->li_on_accept(li, fd, &peer);
	}
}

static int open_socket(const struct addrinfo *ai, char *err, size_t errlen, const char *name,
		       unsigned flags)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", name, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* The kernel spreads new connections over every socket bound with it: one chatd
	 * per core on one port. */
	if ((flags & LISTENER_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
		snprintf(err, errlen, "cannot share %s (SO_REUSEPORT): %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	/* Dual-stack: one IPv6 socket on [::] also receives IPv4 connections. */
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int listener_open(struct listener *li, struct loop *l, const char *bind_addr, uint16_t port,
		  listener_accept_fn fn, void *arg, char *err, size_t errlen)
{
	return listener_open_flags(li, l, bind_addr, port, 0, fn, arg, err, errlen);
}

int listener_open_flags(struct listener *li, struct loop *l, const char *bind_addr, uint16_t port,
			unsigned flags, listener_accept_fn fn, void *arg, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char service[8], name[300];
	int fd = -1, rc;

	memset(li, 0, sizeof *li);
	li->li_spare_fd = -1;
	snprintf(service, sizeof service, "%u", port);
	if (bind_addr == NULL) {
		/* Every interface: [::] dual-stack, or 0.0.0.0 where IPv6 is off. */
		struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
					    .sin6_port = htons(port),
					    .sin6_addr = IN6ADDR_ANY_INIT};
		struct sockaddr_in any4 = {.sin_family = AF_INET,
					   .sin_port = htons(port),
					   .sin_addr.s_addr = htonl(INADDR_ANY)};
		struct addrinfo ai6 = {.ai_family = AF_INET6,
				       .ai_addr = (struct sockaddr *)&any6,
				       .ai_addrlen = sizeof any6};
		struct addrinfo ai4 = {.ai_family = AF_INET,
				       .ai_addr = (struct sockaddr *)&any4,
				       .ai_addrlen = sizeof any4};
		snprintf(name, sizeof name, "[::]:%u", port);
		fd = open_socket(&ai6, err, errlen, name, flags);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			snprintf(name, sizeof name, "0.0.0.0:%u", port);
			fd = open_socket(&ai4, err, errlen, name, flags);
		}
	} else {
		/* Accept "::1" and "[::1]" alike. */
		char host[256];
		size_t n = strlen(bind_addr);
		if (n >= 2 && bind_addr[0] == '[' && bind_addr[n - 1] == ']' &&
		    n - 2 < sizeof host) {
			memcpy(host, bind_addr + 1, n - 2);
			host[n - 2] = '\0';
		} else {
			snprintf(host, sizeof host, "%s", bind_addr);
		}
		if (strchr(host, ':') != NULL)
			snprintf(name, sizeof name, "[%s]:%u", host, port);
		else
			snprintf(name, sizeof name, "%s:%u", host, port);
		rc = getaddrinfo(host, service, &hints, &res);
		if (rc != 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", name, gai_strerror(rc));
			return -1;
		}
		fd = open_socket(res, err, errlen, name, flags);
		freeaddrinfo(res);
	}
	if (fd < 0)
		return -1;

	/* The real address, port 0 resolved, for the log. */
	union net_addr bound = {0};
	socklen_t bound_len = sizeof bound;
	if (getsockname(fd, &bound.sa, &bound_len) < 0)
		bound.sa.sa_family = AF_UNSPEC;
	listener_format_addr(&bound, li->li_name, sizeof li->li_name);

	li->li_on_accept = fn;
	li->li_arg = arg;
	li->li_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (loop_watch_add(l, &li->li_watch, fd, EPOLLIN, on_readable) < 0) {
		snprintf(err, errlen, "cannot watch the listening socket: %s", strerror(errno));
		close(fd);
		if (li->li_spare_fd >= 0)
			close(li->li_spare_fd);
		/* Left as listener_close expects of a listener never opened: it closes nothing
		 * (those descriptor numbers may already belong to someone else). */
		li->li_spare_fd = -1;
		li->li_watch.lw_fd = -1;
		return -1;
	}
	li->li_loop = l; /* only now is there anything for listener_close to close */
	return 0;
}

void listener_close(struct listener *li)
{
	if (li->li_loop == NULL)
		return;
	loop_timer_stop(li->li_loop, &li->li_pause);
	loop_watch_del(li->li_loop, &li->li_watch);
	close(li->li_watch.lw_fd);
	if (li->li_spare_fd >= 0)
		close(li->li_spare_fd);
	li->li_spare_fd = -1;
	li->li_loop = NULL;
}
