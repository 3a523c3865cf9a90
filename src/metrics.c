/* The Prometheus text exposition (format 0.0.4) and the /stats JSON. */
#include "metrics.h"

#include "log.h"
#include "membudget.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const int refusal_statuses[] = METRICS_REFUSAL_STATUSES;
static const int close_codes[] = METRICS_CLOSE_CODES;
/* The label of each enum metrics_limit, in its order. */
static const char *const limit_names[METRICS_LIMIT_KINDS] = {"max_per_ip", "max_handshakes",
							     "admin", "out_of_memory"};

void metrics_count_refusal(struct metrics *m, int status)
{
	for (size_t i = 0; i < METRICS_REFUSAL_KINDS; i++)
		if (refusal_statuses[i] == status)
			m->mt_refused[i]++;
}

void metrics_count_close(struct metrics *m, uint16_t code)
{
	for (size_t i = 0; i < METRICS_CLOSE_KINDS; i++) {
		if (close_codes[i] == code) {
			m->mt_close_sent[i]++;
			return;
		}
	}
	m->mt_close_sent[METRICS_CLOSE_KINDS]++;
}

/* A growing text buffer for the renderers. */
struct text {
	char *t_buf;
	size_t t_len, t_cap;
	int t_failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->t_failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		/* va_start is just above: a clang-analyzer false positive in loops. */
		// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
		n = vsnprintf(t->t_buf + t->t_len, t->t_cap - t->t_len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->t_failed = 1;
			return;
		}
		if ((size_t)n < t->t_cap - t->t_len)
			break;
		size_t cap = (t->t_cap + (size_t)n + 1) * 2;
		char *p = realloc(t->t_buf, cap);
		if (p == NULL) {
			t->t_failed = 1;
			return;
		}
		t->t_buf = p;
		t->t_cap = cap;
	}
	t->t_len += (size_t)n;
}

static void text_init(struct text *t)
{
	t->t_cap = 4096;
	t->t_buf = malloc(t->t_cap);
	t->t_failed = t->t_buf == NULL;
}

static size_t finish(struct text *t, char **out)
{
	if (t->t_failed) {
		free(t->t_buf);
		return 0;
	}
	*out = t->t_buf;
	return t->t_len;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void metric(struct text *t, const char *name, const char *type, const char *help, uint64_t v)
{
	family(t, name, type, help);
	put(t, "%s %llu\n", name, (unsigned long long)v);
}

/* Resident memory in bytes, from /proc/self/statm (its second field, in pages). */
static uint64_t resident_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

size_t metrics_count_open_fds(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0;
}

/* The backplane's families, present only with --redis. */
static void render_redis(struct text *t, const struct metrics_redis *r)
{
	metric(t, "chatd_redis_up", "gauge",
	       "1 while the Redis backplane is connected and subscribed, else 0.",
	       (uint64_t)r->mr_up);
	metric(t, "chatd_redis_published_total", "counter",
	       "Local messages published to Redis and acknowledged.", r->mr_published);
	metric(t, "chatd_redis_received_total", "counter",
	       "Messages from other nodes received through Redis.", r->mr_received);
	family(t, "chatd_redis_dropped_total", "counter",
	       "Local messages not published to other nodes, by reason.");
	put(t, "chatd_redis_dropped_total{reason=\"down\"} %llu\n",
	    (unsigned long long)r->mr_dropped_down);
	put(t, "chatd_redis_dropped_total{reason=\"backlog\"} %llu\n",
	    (unsigned long long)r->mr_dropped_backlog);
	metric(t, "chatd_redis_invalid_total", "counter",
	       "Messages from Redis refused (bad envelope or channel).", r->mr_invalid);
	metric(t, "chatd_redis_reconnects_total", "counter",
	       "Connections to Redis made again after a loss.", r->mr_reconnects);
	metric(t, "chatd_redis_pending_bytes", "gauge",
	       "Bytes published to Redis and not yet acknowledged.", r->mr_pending_bytes);
	metric(t, "chatd_redis_subscribed_rooms", "gauge",
	       "Rooms whose Redis channel this node is subscribed to.", r->mr_subscribed_rooms);
}

size_t metrics_render_prometheus(const struct metrics *m, const struct metrics_gauges *g,
				 char **out)
{
	struct text t = {0};

	text_init(&t);

	metric(&t, "chatd_connections_open", "gauge", "Open TCP connections, in any state.",
	       g->mg_connections);
	metric(&t, "chatd_clients_open", "gauge", "Open WebSocket clients.", g->mg_clients);
	metric(&t, "chatd_connections_handshaking", "gauge",
	       "Connections still in their handshake (bounded by --max-handshakes).",
	       g->mg_handshaking);
	metric(&t, "chatd_source_addresses", "gauge",
	       "Source addresses (IPv6: /64 prefixes) holding at least one connection.",
	       g->mg_addresses);
	family(&t, "chatd_connections_refused_total", "counter",
	       "Connections closed as soon as accepted, by the limit they hit.");
	for (size_t i = 0; i < METRICS_LIMIT_KINDS; i++)
		put(&t, "chatd_connections_refused_total{limit=\"%s\"} %llu\n", limit_names[i],
		    (unsigned long long)m->mt_limit_refused[i]);
	metric(&t, "chatd_connections_accepted_total", "counter",
	       "TCP connections accepted within the limits (see chatd_connections_refused_total).",
	       m->mt_accepted);
	metric(&t, "chatd_handshakes_total", "counter", "WebSocket upgrades completed.",
	       m->mt_handshakes);
	family(&t, "chatd_handshakes_failed_total", "counter",
	       "HTTP requests refused, by response status.");
	for (size_t i = 0; i < METRICS_REFUSAL_KINDS; i++)
		put(&t, "chatd_handshakes_failed_total{status=\"%d\"} %llu\n", refusal_statuses[i],
		    (unsigned long long)m->mt_refused[i]);
	metric(&t, "chatd_messages_received_total", "counter",
	       "Complete WebSocket messages received.", m->mt_messages_in);
	metric(&t, "chatd_bytes_received_total", "counter", "Bytes read from clients.",
	       m->mt_bytes_in);
	metric(&t, "chatd_frames_delivered_total", "counter",
	       "Message frames queued to recipients.", m->mt_frames_out);
	metric(&t, "chatd_bytes_sent_total", "counter", "Bytes written to clients.",
	       m->mt_bytes_out);
	metric(&t, "chatd_write_rounds_split_total", "counter",
	       "Times a round of writes to recipients paused to read input that came meanwhile.",
	       m->mt_rounds_split);
	metric(&t, "chatd_backpressure_drops_total", "counter",
	       "Clients cut off because their unsent queue passed --max-backlog.",
	       m->mt_backpressure);
	metric(&t, "chatd_idle_drops_total", "counter",
	       "Clients dropped after --idle-timeout without a frame.", m->mt_idle_drops);
	metric(&t, "chatd_send_timeouts_total", "counter",
	       "Clients cut off because their queue did not move within --send-timeout.",
	       m->mt_send_timeouts);
	metric(&t, "chatd_memory_evictions_total", "counter",
	       "Clients cut off, largest first, while chatd was over --max-memory.",
	       m->mt_evictions);
	metric(&t, "chatd_rate_limited_total", "counter",
	       "Times a client was paused (not read) for going over --rate-limit.",
	       m->mt_rate_limited);
	metric(&t, "chatd_flood_closes_total", "counter",
	       "Clients closed after staying over --rate-limit for --flood-timeout.",
	       m->mt_flood_closes);
	metric(&t, "chatd_log_lines_dropped_total", "counter",
	       "Log lines dropped because stderr was not read fast enough.", log_dropped_lines());
	metric(&t, "chatd_client_memory_bytes", "gauge",
	       "Memory held by clients' buffers, as charged against --max-memory.",
	       membudget_used());
	metric(&t, "chatd_client_memory_limit_bytes", "gauge", "The --max-memory budget.",
	       g->mg_memory_limit);
	family(&t, "chatd_close_codes_sent_total", "counter",
	       "Close frames sent, by close code (1005: a close echoed without a code).");
	for (size_t i = 0; i < METRICS_CLOSE_KINDS; i++)
		put(&t, "chatd_close_codes_sent_total{code=\"%d\"} %llu\n", close_codes[i],
		    (unsigned long long)m->mt_close_sent[i]);
	put(&t, "chatd_close_codes_sent_total{code=\"other\"} %llu\n",
	    (unsigned long long)m->mt_close_sent[METRICS_CLOSE_KINDS]);
	metric(&t, "chatd_rooms_open", "gauge", "Rooms with at least one client.", g->mg_rooms);
	if (g->mg_redis != NULL)
		render_redis(&t, g->mg_redis);
	metric(&t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
	       resident_bytes());
	metric(&t, "process_open_fds", "gauge", "Number of open file descriptors.", g->mg_open_fds);
	return finish(&t, out);
}

size_t metrics_render_stats(const struct metrics_gauges *g, const struct hub_room_info *rooms,
			    size_t n, char **out)
{
	struct text t = {0};

	text_init(&t);

	/* Room names are validated ([A-Za-z0-9._~-] after the slash): no JSON escaping needed. */
	put(&t, "{\"clients\":%zu,\"rooms_open\":%zu,\"rooms\":[", g->mg_clients, g->mg_rooms);
	for (size_t i = 0; i < n; i++)
		put(&t, "%s{\"name\":\"%s\",\"clients\":%zu}", i ? "," : "", rooms[i].ri_name,
		    rooms[i].ri_members);
	put(&t, "]}\n");
	return finish(&t, out);
}

size_t metrics_render_room(const char *room, size_t room_len, size_t clients, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "{\"room\":\"%.*s\",\"clients\":%zu}\n", (int)room_len, room,
			 clients);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}
