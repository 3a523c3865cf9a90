/* One run of the server: start, serve until a signal, shut down gracefully. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backplane.h"
#include "conn.h"
#include "container.h"
#include "handshake.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "redis_probe.h"
#include "roomlog.h"
#include "outq.h"
#include "sbuf.h"
#include "transport_tls.h"
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
	struct backplane *sv_backplane;  /* NULL without --redis */
	const struct server_app *sv_app; /* the handlers, for the rooms' log */
	struct listener sv_listener;
	struct listener sv_admin; /* --admin-listen; li_loop NULL when off */
	struct conn_env sv_env;
	struct transport_tls_context *sv_tls; /* NULL: plain TCP */
	struct loop_watch sv_signal_watch;
	struct loop_timer sv_grace_timer;
	struct loop_watch sv_log_watch; /* the log's descriptor, while its lines are buffered */
	bool sv_log_watched;
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
	listener_close(&sv->sv_admin);
	conn_shutdown_all(&sv->sv_env, WS_CLOSE_GOING_AWAY);
	loop_timer_start(sv->sv_loop, &sv->sv_grace_timer, SHUTDOWN_GRACE_MS, on_grace_timeout);
}

/* SIGHUP: the certificate and key again from disk (a renewal). Open connections keep
 * theirs; a failed reload keeps the old ones in use. */
static void reload_tls(struct server *sv)
{
	char err[512];

	if (sv->sv_tls == NULL)
		log_info("SIGHUP: nothing to reload (no --tls-cert)");
	else if (transport_tls_context_reload(sv->sv_tls, err, sizeof err) < 0)
		log_error("SIGHUP: %s; still using the certificate loaded before", err);
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct server *sv = container_of(w, struct server, sv_signal_watch);
	struct signalfd_siginfo si;
	(void)events;

	while (read(w->lw_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP)
			reload_tls(sv);
		else
			begin_shutdown(sv, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	}
}

void server_stop(struct server *sv)
{
	begin_shutdown(sv, "chatd_stop");
}

struct conn_env *server_env(struct server *sv)
{
	return &sv->sv_env;
}

/* Log lines wait in the log's buffer while stderr is not writable (log.h). */
static void on_log_event(struct loop_watch *w, uint32_t events)
{
	struct server *sv = container_of(w, struct server, sv_log_watch);

	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The reader is gone, and epoll would say so on every pass: stop watching.
		 * Lines are written at once again (and fail at once, SIGPIPE being ignored). */
		loop_watch_del(sv->sv_loop, w);
		sv->sv_log_watched = false;
		log_buffer_stop();
		return;
	}
	log_flush();
}

static void start_log_buffer(struct server *sv)
{
	int fd = log_buffer_start();

	if (fd < 0)
		return;
	/* Watched for nothing until lines wait. epoll refuses what it cannot watch (EPERM:
	 * /dev/null, say): writes to such a descriptor never wait, write them at once. */
	if (loop_watch_add(sv->sv_loop, &sv->sv_log_watch, fd, 0, on_log_event) < 0) {
		log_buffer_stop();
		return;
	}
	sv->sv_log_watched = true;
}

static void stop_log_buffer(struct server *sv)
{
	if (sv->sv_log_watched)
		loop_watch_del(sv->sv_loop, &sv->sv_log_watch);
	sv->sv_log_watched = false;
	log_buffer_stop();
}

static void before_wait(void *arg)
{
	struct server *sv = arg;

	if (conn_flush_dirty(&sv->sv_env))
		loop_keep_awake(sv->sv_loop);
	/* Writability is asked for only while lines wait: an idle loop is not woken for it. */
	if (sv->sv_log_watched)
		(void)loop_watch_set(sv->sv_loop, &sv->sv_log_watch,
				     log_pending() > 0 ? EPOLLOUT : 0);
	if (sv->sv_stopping && sv->sv_env.ce_conn_count == 0)
		loop_stop(sv->sv_loop);
}

/* Tells a newcomer what to open. name is the listener's "host:port"; a wildcard address is
 * not something to type into a browser, so it becomes localhost. */
static void log_page_url(const char *name, bool tls)
{
	const char *port = strrchr(name, ':');
	const char *scheme = tls ? "https" : "http";
	bool wildcard = strncmp(name, "[::]:", 5) == 0 || strncmp(name, "0.0.0.0:", 8) == 0;

	if (port == NULL)
		return;
	if (wildcard)
		log_info("open %s://localhost%s/ in a browser", scheme, port);
	else
		log_info("open %s://%s/ in a browser", scheme, name);
}

static bool backplane_health(const void *arg, char *why, size_t len)
{
	return backplane_healthy(arg, why, len);
}

/* --redis: checks the credentials (a wrong password stops the start), then connects in
 * the background; a Redis that is down only delays the sharing of rooms. */
/* Every open client's handler hears that messages to other nodes are being lost. */
static void backplane_lost(void *arg, const char *why)
{
	conn_notify_all(arg, CHATD_ERROR_BACKPLANE_LOST, why);
}

/* An entry of a room's log, for every handler that hears them. */
static void log_deliver(void *arg, const char *room, uint64_t id, const void *entry, size_t len)
{
	const struct server *sv = arg;
	const struct server_app *app = sv->sv_app;

	for (size_t i = 0; i < app->sa_count; i++)
		if (app->sa_handlers[i].h_log != NULL)
			app->sa_handlers[i].h_log(app->sa_api, room, id, entry, len,
						  app->sa_handlers[i].h_user);
}

/* A session with Redis is up: every handler that keeps something there hears it. */
static void log_redis_up(void *arg)
{
	const struct server *sv = arg;
	const struct server_app *app = sv->sv_app;

	for (size_t i = 0; i < app->sa_count; i++)
		if (app->sa_handlers[i].h_redis_up != NULL)
			app->sa_handlers[i].h_redis_up(app->sa_api, app->sa_handlers[i].h_user);
}

static int start_backplane(struct server *sv, const struct config *cf)
{
	char err[600];

	if (redis_probe(&cf->cf_redis, err, sizeof err) < 0) {
		fprintf(stderr, "chatd: %s\n", err);
		return -1;
	}
	sv->sv_backplane = backplane_new(sv->sv_loop, sv->sv_hub, &cf->cf_redis,
					 cf->cf_redis_prefix, cf->cf_max_message);
	if (sv->sv_backplane == NULL) {
		fprintf(stderr, "chatd: cannot start: out of memory\n");
		return -1;
	}
	backplane_on_lost(sv->sv_backplane, backplane_lost, &sv->sv_env);
	sv->sv_env.ce_health = backplane_health;
	sv->sv_env.ce_health_arg = sv->sv_backplane;
	sv->sv_env.ce_redis_metrics = backplane_metrics(sv->sv_backplane);
	/* The rooms' log: entries as large as a message the other nodes accept. */
	sv->sv_env.ce_roomlog =
		roomlog_new(sv->sv_backplane, cf->cf_history, cf->cf_history_bytes,
			    cf->cf_max_message + ENVELOPE_HEADER_SIZE, log_deliver, sv);
	if (sv->sv_env.ce_roomlog == NULL) {
		fprintf(stderr, "chatd: cannot start: out of memory\n");
		return -1;
	}
	roomlog_set_on_up(sv->sv_env.ce_roomlog, log_redis_up, sv);
	return 0;
}

static void on_accept(struct listener *li, int fd, const union net_addr *peer)
{
	struct server *sv = li->li_arg;
	conn_accept(&sv->sv_env, fd, peer, false);
}

static void on_admin_accept(struct listener *li, int fd, const union net_addr *peer)
{
	struct server *sv = li->li_arg;
	conn_accept(&sv->sv_env, fd, peer, true);
}

int server_run(const struct config *cf, const struct server_app *app)
{
	struct server sv = {.sv_config = cf, .sv_app = app};
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
	sigaddset(&mask, SIGHUP);
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
	sv.sv_hub = hub_new(conn_deliver);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sv.sv_loop == NULL || sv.sv_hub == NULL || sigfd < 0 ||
	    conn_env_init(&sv.sv_env, sv.sv_loop, sv.sv_hub, cf, max_clients) < 0) {
		fprintf(stderr, "chatd: cannot start: %s\n", strerror(errno ? errno : ENOMEM));
		goto done;
	}
	conn_env_set_handlers(&sv.sv_env, app->sa_handlers, app->sa_count, app->sa_api);
	if (loop_watch_add(sv.sv_loop, &sv.sv_signal_watch, sigfd, EPOLLIN, on_signal) < 0) {
		fprintf(stderr, "chatd: cannot watch signals: %s\n", strerror(errno));
		goto done;
	}
	if (cf->cf_tls_cert != NULL) {
		sv.sv_tls =
			transport_tls_context_new(cf->cf_tls_cert, cf->cf_tls_key, err, sizeof err);
		if (sv.sv_tls == NULL) {
			fprintf(stderr, "chatd: %s\n", err);
			goto done;
		}
		sv.sv_env.ce_tls = sv.sv_tls;
	}
	if (cf->cf_redis_on && start_backplane(&sv, cf) < 0)
		goto done;
	/* A warning, not a usage error: chatd_set() gives options one at a time, in any
	 * order. */
	if (!cf->cf_redis_on && strcmp(cf->cf_redis_prefix, CONFIG_DEFAULT_REDIS_PREFIX) != 0)
		log_warn("--redis-prefix has no effect without --redis");
	if (listener_open_flags(&sv.sv_listener, sv.sv_loop, cf->cf_bind, cf->cf_port,
				cf->cf_reuseport ? LISTENER_REUSEPORT : 0, on_accept, &sv, err,
				sizeof err) < 0) {
		fprintf(stderr, "chatd: %s\n", err);
		goto done;
	}
	if (cf->cf_admin_host != NULL &&
	    listener_open(&sv.sv_admin, sv.sv_loop, cf->cf_admin_host, cf->cf_admin_port,
			  on_admin_accept, &sv, err, sizeof err) < 0) {
		fprintf(stderr, "chatd: %s (--admin-listen)\n", err);
		goto done;
	}
	/* Counted once, before any client: /metrics adds one per connection to it. */
	sv.sv_env.ce_base_fds = metrics_count_open_fds();
	loop_set_before_wait(sv.sv_loop, before_wait, &sv);
	loop_set_busy_poll(sv.sv_loop, cf->cf_busy_poll_us);
	log_info("chatd %s: descriptor limit %llu, up to %zu clients, messages up to %zu bytes%s",
		 CHATD_VERSION, (unsigned long long)fd_limit, max_clients, cf->cf_max_message,
		 cf->cf_echo ? ", echo on" : "");
	if (cf->cf_max_clients != 0 && cf->cf_max_clients + RESERVED_FDS > fd_limit)
		log_warn("--max-clients %zu is more than the descriptor limit %llu allows",
			 cf->cf_max_clients, (unsigned long long)fd_limit);
	log_info("listening on %s%s", sv.sv_listener.li_name, sv.sv_tls ? " (TLS only)" : "");
	log_page_url(sv.sv_listener.li_name, sv.sv_tls != NULL);
	if (cf->cf_admin_host != NULL)
		log_info("admin listening on %s: /metrics, /stats, /healthz", sv.sv_admin.li_name);
	if (cf->cf_max_handshakes != 0 || cf->cf_max_per_ip != 0)
		log_info("limits: %zu connections in their handshake, %zu per address (0: none)",
			 cf->cf_max_handshakes, cf->cf_max_per_ip);
	if (notify_send("READY=1") < 0)
		log_warn("cannot notify $NOTIFY_SOCKET: %s", strerror(errno));

	start_log_buffer(&sv);
	*app->sa_running = &sv;
	int rc = loop_run(sv.sv_loop);
	*app->sa_running = NULL;
	if (rc < 0) {
		log_error("event loop failed: %s", strerror(errno));
		goto done;
	}
	status = 0;
	stop_log_buffer(&sv); /* first: the last line is written after all the others */
	log_info("stopped");
done:
	stop_log_buffer(&sv);
	listener_close(&sv.sv_listener);
	listener_close(&sv.sv_admin);
	if (sv.sv_loop != NULL) {
		loop_timer_stop(sv.sv_loop, &sv.sv_grace_timer);
		conn_env_free(&sv.sv_env);
	}
	backplane_free(sv.sv_backplane);
	if (sigfd >= 0)
		close(sigfd);
	transport_tls_context_free(sv.sv_tls);
	hub_free(sv.sv_hub);
	loop_free(sv.sv_loop);
	sbuf_release_cache();
	outq_release_cache();
	return status;
}
