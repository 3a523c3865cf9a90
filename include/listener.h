/*
 * listener: the listening socket. Binds (dual-stack [::] by default, 0.0.0.0 where IPv6 is
 * off), accepts until EAGAIN on each readiness event and hands every new non-blocking
 * socket to a callback. It survives descriptor exhaustion without spinning (see
 * listener.c).
 */
#ifndef CHATD_LISTENER_H
#define CHATD_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "loop.h"

struct listener;

/* An IPv4 or IPv6 address: all a TCP peer can be, in 28 bytes where sockaddr_storage
 * takes 128 (it is kept for every connection). */
union net_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Takes ownership of fd. */
typedef void (*listener_accept_fn)(struct listener *li, int fd, const union net_addr *peer);

struct listener {
	struct loop_watch li_watch;
	struct loop_timer li_pause; /* accepting paused after EMFILE */
	struct loop *li_loop;
	int li_spare_fd;          /* held open to be given up when descriptors run out */
	uint64_t li_next_warning; /* loop time before which EMFILE is not logged again */
	listener_accept_fn li_on_accept;
	void *li_arg;     /* for the callback's owner */
	char li_name[64]; /* "[::]:8080", for the log */
};

/* Opens and registers the socket. bind_addr NULL means every interface. Returns 0, or -1
 * with a message in err ("cannot listen on [::]:8080: Address already in use"). */
int listener_open(struct listener *li, struct loop *l, const char *bind_addr, uint16_t port,
		  listener_accept_fn fn, void *arg, char *err, size_t errlen);
/* The same with options: LISTENER_REUSEPORT sets SO_REUSEPORT, so that several processes
 * can listen on one port and the kernel spreads connections over them. */
#define LISTENER_REUSEPORT 1u
int listener_open_flags(struct listener *li, struct loop *l, const char *bind_addr, uint16_t port,
			unsigned flags, listener_accept_fn fn, void *arg, char *err, size_t errlen);
void listener_close(struct listener *li);

/* Formats an address as "1.2.3.4:5" or "[::1]:5". */
void listener_format_addr(const union net_addr *addr, char *buf, size_t len);

#endif
