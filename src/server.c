/* One run of the server: start, serve until a signal, shut down gracefully. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "conn.h"
#include "container.h"
#include "handshake.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "outq.h"
#include "sbuf.h"
#include "version.h"

/* How long clients get to answer our 1001 close at shutdown. */
#define SHUTDOWN_GRACE_MS 2000
/* Descriptors kept back from --max-clients: stdio, epoll, signalfd, the listener, its
 * spare, and a margin for connections still in the handshake. */
#define RESERVED_FDS ((rlim_t)64)

struct server {
	const struct config *sv_config;
	struct loop *sv_loop;
	struct hub *sv_hub;
	struct listener sv_listener;
	struct conn_env sv_env;
	struct loop_watch sv_signal_watch;
	struct loop_timer sv_grace_timer;
	bool sv_stopping;
};

/* Raises the soft descriptor limit to the hard one; returns the limit now in force. */
static rlim_t raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("cannot raise the descriptor limit from %llu: %s",
				 (unsigned long long)was, strerror(errno));
			getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return rl.rlim_cur;
}

static void on_grace_timeout(struct loop_timer *t)
{
	struct server *sv = container_of(t, struct server, sv_grace_timer);
	log_info("shutdown: %zu connections did not close in time", sv->sv_env.ce_conn_count);
	loop_stop(sv->sv_loop);
}

static void begin_shutdown(struct server *sv, const char *why)
{
	if (sv->sv_stopping) {
		log_info("%s again: stopping now", why);
		loop_stop(sv->sv_loop);
		return;
	}
	sv->sv_stopping = true;
	log_info("%s: shutting down", why);
	notify_send("STOPPING=1");
	listener_close(&sv->sv_listener);
	conn_shutdown_all(&sv->sv_env, WS_CLOSE_GOING_AWAY);
	loop_timer_start(sv->sv_loop, &sv->sv_grace_timer, SHUTDOWN_GRACE_MS, on_grace_timeout);
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct server *sv = container_of(w, struct server, sv_signal_watch);
	struct signalfd_siginfo si;
	(void)events;

	while (read(w->lw_fd, &si, sizeof si) == (ssize_t)sizeof si)
		begin_shutdown(sv, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
}

static void before_wait(void *arg)
{
	struct server *sv = arg;

	conn_flush_dirty(&sv->sv_env);
	if (sv->sv_stopping && sv->sv_env.ce_conn_count == 0)
		loop_stop(sv->sv_loop);
}

/* Tells a newcomer what to open. name is the listener's "host:port"; a wildcard address is
 * not something to type into a browser, so it becomes localhost. */
static void log_page_url(const char *name)
{
	const char *port = strrchr(name, ':');
	bool wildcard = strncmp(name, "[::]:", 5) == 0 || strncmp(name, "0.0.0.0:", 8) == 0;

	if (port == NULL)
		return;
	if (wildcard)
		log_info("open http://localhost%s/ in a browser", port);
	else
		log_info("open http://%s/ in a browser", name);
}

static void on_accept(struct listener *li, int fd, const union net_addr *peer)
{
	struct server *sv = li->li_arg;
	conn_accept(&sv->sv_env, fd, peer);
}

int server_run(const struct config *cf)
{
	struct server sv = {.sv_config = cf};
	char err[512];
	sigset_t mask;
	int sigfd = -1, status = 1;
	size_t max_clients;
	rlim_t fd_limit;

	/* A write to a vanished peer reports EPIPE (sendmsg uses MSG_NOSIGNAL anyway). */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	if (!handshake_init()) {
		fprintf(stderr, "chatd: cannot start: libcrypto's SHA-1 is not available\n");
		return 1;
	}
	fd_limit = raise_fd_limit();
	max_clients = cf->cf_max_clients;
	if (max_clients == 0)
		max_clients = fd_limit > RESERVED_FDS * 2 ? (size_t)(fd_limit - RESERVED_FDS) : 16;

	sv.sv_loop = loop_new();
	sv.sv_hub = hub_new(cf->cf_echo);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sv.sv_loop == NULL || sv.sv_hub == NULL || sigfd < 0 ||
	    conn_env_init(&sv.sv_env, sv.sv_loop, sv.sv_hub, cf, max_clients) < 0) {
		fprintf(stderr, "chatd: cannot start: %s\n", strerror(errno ? errno : ENOMEM));
		goto done;
	}
	if (loop_watch_add(sv.sv_loop, &sv.sv_signal_watch, sigfd, EPOLLIN, on_signal) < 0) {
		fprintf(stderr, "chatd: cannot watch signals: %s\n", strerror(errno));
		goto done;
	}
	if (listener_open(&sv.sv_listener, sv.sv_loop, cf->cf_bind, cf->cf_port, on_accept, &sv,
			  err, sizeof err) < 0) {
		fprintf(stderr, "chatd: %s\n", err);
		goto done;
	}
	loop_set_before_wait(sv.sv_loop, before_wait, &sv);
	loop_set_busy_poll(sv.sv_loop, cf->cf_busy_poll_us);
	log_info("chatd %s: descriptor limit %llu, up to %zu clients, messages up to %zu bytes%s",
		 CHATD_VERSION, (unsigned long long)fd_limit, max_clients, cf->cf_max_message,
		 cf->cf_echo ? ", echo on" : "");
	if (cf->cf_max_clients != 0 && cf->cf_max_clients + RESERVED_FDS > fd_limit)
		log_warn("--max-clients %zu is more than the descriptor limit %llu allows",
			 cf->cf_max_clients, (unsigned long long)fd_limit);
	log_info("listening on %s", sv.sv_listener.li_name);
	log_page_url(sv.sv_listener.li_name);
	if (notify_send("READY=1") < 0)
		log_warn("cannot notify $NOTIFY_SOCKET: %s", strerror(errno));

	if (loop_run(sv.sv_loop) < 0) {
		log_error("event loop failed: %s", strerror(errno));
		goto done;
	}
	status = 0;
	log_info("stopped");
done:
	listener_close(&sv.sv_listener);
	if (sv.sv_loop != NULL) {
		loop_timer_stop(sv.sv_loop, &sv.sv_grace_timer);
		conn_env_free(&sv.sv_env);
	}
	if (sigfd >= 0)
		close(sigfd);
	hub_free(sv.sv_hub);
	loop_free(sv.sv_loop);
	sbuf_release_cache();
	outq_release_cache();
	return status;
}
