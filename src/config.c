/* The command line: flags, their defaults, and precise one-line errors. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

/* Frames carry sizes up to 2^63, but chatd's shared buffers count in 32 bits. */
#define CONFIG_MAX_MESSAGE_LIMIT ((size_t)1 << 30)

enum {
	OPT_MAX_MESSAGE = 256,
	OPT_MAX_CLIENTS,
	OPT_MAX_BACKLOG,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_PING_INTERVAL,
	OPT_IDLE_TIMEOUT,
	OPT_ALLOW_ORIGIN,
	OPT_LOG_FORMAT,
	OPT_BUSY_POLL,
	OPT_REUSEPORT,
	OPT_REDIS,
	OPT_REDIS_PREFIX,
	OPT_ADMIN_LISTEN,
	OPT_MAX_HANDSHAKES,
	OPT_MAX_PER_IP,
	OPT_MAX_MEMORY,
	OPT_RATE_LIMIT,
	OPT_RATE_LIMIT_BYTES,
	OPT_FLOOD_TIMEOUT,
	OPT_SEND_TIMEOUT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_HISTORY,
	OPT_V1_INTEROP,
	OPT_HISTORY_BYTES,
};

static const struct option long_options[] = {
	{"port", required_argument, NULL, 'p'},
	{"bind", required_argument, NULL, 'b'},
	{"echo", no_argument, NULL, 'e'},
	{"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
	{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
	{"max-backlog", required_argument, NULL, OPT_MAX_BACKLOG},
	{"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
	{"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{"allow-origin", required_argument, NULL, OPT_ALLOW_ORIGIN},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"busy-poll", required_argument, NULL, OPT_BUSY_POLL},
	{"reuseport", no_argument, NULL, OPT_REUSEPORT},
	{"redis", required_argument, NULL, OPT_REDIS},
	{"redis-prefix", required_argument, NULL, OPT_REDIS_PREFIX},
	{"admin-listen", required_argument, NULL, OPT_ADMIN_LISTEN},
	{"max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES},
	{"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
	{"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
	{"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
	{"rate-limit-bytes", required_argument, NULL, OPT_RATE_LIMIT_BYTES},
	{"flood-timeout", required_argument, NULL, OPT_FLOOD_TIMEOUT},
	{"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"history", required_argument, NULL, OPT_HISTORY},
	{"v1-interop", no_argument, NULL, OPT_V1_INTEROP},
	{"history-bytes", required_argument, NULL, OPT_HISTORY_BYTES},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

void config_usage(FILE *f)
{
	fprintf(f,
		"usage: chatd [--port N] [--bind ADDR] [--echo] [--max-message BYTES]\n"
		"             [--max-clients N] [--max-backlog BYTES] [--max-memory BYTES]\n"
		"             [--rate-limit N[:BURST]|off] [--rate-limit-bytes BYTES[:BURST]|off]\n"
		"             [--flood-timeout T] [--send-timeout T] [--handshake-timeout T]\n"
		"             [--ping-interval T] [--idle-timeout T] [--allow-origin ORIGIN]...\n"
		"             [--log-format text|json] [--busy-poll USEC] [--reuseport]\n"
		"             [--redis URL] [--redis-prefix PREFIX]\n"
		"             [--admin-listen ADDR:PORT|off] [--max-handshakes N]\n"
		"             [--max-per-ip N] [--tls-cert FILE --tls-key FILE]\n"
		"             [--history N] [--history-bytes BYTES]\n"
		"             [-v|--verbose] [-q|--quiet] [--help] [--version]\n"
		"\n"
		"A WebSocket chat server: every message a client sends goes to every other "
		"client.\n"
		"Open http://localhost:8080/ in a browser for the bundled chat page.\n"
		"\n"
		"  -p, --port N           TCP port to listen on (default %d; 0 picks a free one)\n"
		"  -b, --bind ADDR        address to listen on (default: every interface, IPv6\n"
		"                         and IPv4); e.g. 127.0.0.1 or ::1\n"
		"  -e, --echo             send each message back to its sender too\n"
		"      --max-message BYTES  largest message accepted, reassembled (default 1M;\n"
		"                         K, M and G suffixes; larger ones are closed with 1009)\n"
		"      --max-clients N    WebSocket clients at once; more get 503 (default: what\n"
		"                         the descriptor limit allows)\n"
		"      --max-handshakes N  connections still in their handshake at once; more\n"
		"                         are closed at once (default %d; 0: no limit)\n"
		"      --max-per-ip N     connections from one address (IPv6: one /64); more are\n"
		"                         closed at once (default %d; 0: no limit, e.g. behind\n"
		"                         a reverse proxy)\n"
		"      --max-backlog BYTES  memory one client's unsent data may hold before it is\n"
		"                         cut off with 1008 (default 4M, at least 2x "
		"--max-message)\n"
		"      --max-memory BYTES  every client's buffers together; past it the clients\n"
		"                         holding the most are cut off (default: 1/4 of memory)\n"
		"      --rate-limit N[:BURST]  messages a second one client may send, in bursts "
		"of\n"
		"                         up to BURST; faster senders are slowed (default 50:200)\n"
		"      --rate-limit-bytes BYTES[:BURST]  the same in bytes (default 1M:4M)\n"
		"      --flood-timeout T  close a client kept over its rate this long (default "
		"60s)\n"
		"      --send-timeout T   cut off a client that reads nothing of its queued data\n"
		"                         for this long (default 30s; 0: never)\n"
		"      --handshake-timeout T  time to send a complete request (default 10s)\n"
		"      --ping-interval T  ping a client silent this long (default 30s; 0: never)\n"
		"      --idle-timeout T   drop a client silent this long (default 60s; 0: never)\n"
		"                         (T: seconds, or a number with ms, s or m)\n"
		"      --allow-origin ORIGIN  accept upgrades only from this Origin (repeatable;\n"
		"                         default: any origin)\n"
		"      --history N        chatd.v1: messages kept per room and replayed on join\n"
		"                         (default 50; 0: none)\n"
		"      --history-bytes BYTES  and at most this much memory of them per room\n"
		"                         (default 64K)\n"
		"      --v1-interop       accepted and ignored: raw and chatd.v1 clients always\n"
		"                         share rooms now (docs/PROTOCOL.md)\n"
		"      --log-format F     text (default) or json, one object per line\n"
		"      --busy-poll USEC   after busy moments, poll this long before sleeping:\n"
		"                         lower latency for some CPU (default 0: off)\n"
		"      --reuseport        share the port with other chatd processes\n"
		"                         (SO_REUSEPORT; with --redis, one set of rooms)\n"
		"      --redis URL        share rooms with every chatd using this Redis:\n"
		"                         redis://[user:password@]host[:port] or unix:///path\n"
		"      --redis-prefix P   Redis channel prefix (default chatd:)\n"
		"      --admin-listen ADDR:PORT  where /metrics and /stats are served (default\n"
		"                         %s:%d; port 0 picks a free one; off: nowhere)\n"
		"      --tls-cert FILE    speak TLS only (https://, wss://) with this PEM\n"
		"                         certificate chain, leaf first; SIGHUP reloads it\n"
		"      --tls-key FILE     the certificate's PEM private key (unencrypted)\n"
		"  -v, --verbose          log every message, not just connections\n"
		"  -q, --quiet            log errors only\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n",
		CONFIG_DEFAULT_PORT, CONFIG_DEFAULT_MAX_HANDSHAKES, CONFIG_DEFAULT_MAX_PER_IP,
		CONFIG_DEFAULT_ADMIN_HOST, CONFIG_DEFAULT_ADMIN_PORT);
}

void config_defaults(struct config *cf)
{
	memset(cf, 0, sizeof *cf);
	cf->cf_port = CONFIG_DEFAULT_PORT;
	cf->cf_max_message = CONFIG_DEFAULT_MAX_MESSAGE;
	cf->cf_max_backlog = CONFIG_DEFAULT_MAX_BACKLOG;
	cf->cf_handshake_timeout_ms = CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	cf->cf_ping_interval_ms = CONFIG_DEFAULT_PING_INTERVAL_MS;
	cf->cf_idle_timeout_ms = CONFIG_DEFAULT_IDLE_TIMEOUT_MS;
	cf->cf_admin_host = CONFIG_DEFAULT_ADMIN_HOST;
	cf->cf_admin_port = CONFIG_DEFAULT_ADMIN_PORT;
	cf->cf_max_handshakes = CONFIG_DEFAULT_MAX_HANDSHAKES;
	cf->cf_max_per_ip = CONFIG_DEFAULT_MAX_PER_IP;
	cf->cf_rate.rp_messages.rr_per_sec = CONFIG_DEFAULT_RATE_MESSAGES;
	cf->cf_rate.rp_messages.rr_burst = CONFIG_DEFAULT_RATE_MESSAGES_BURST;
	cf->cf_rate.rp_bytes.rr_per_sec = CONFIG_DEFAULT_RATE_BYTES;
	cf->cf_rate.rp_bytes.rr_burst = CONFIG_DEFAULT_RATE_BYTES_BURST;
	cf->cf_flood_timeout_ms = CONFIG_DEFAULT_FLOOD_TIMEOUT_MS;
	cf->cf_send_timeout_ms = CONFIG_DEFAULT_SEND_TIMEOUT_MS;
	cf->cf_history = CONFIG_DEFAULT_HISTORY;
	cf->cf_history_bytes = CONFIG_DEFAULT_HISTORY_BYTES;
	cf->cf_log_level = LOG_LEVEL_INFO;
	cf->cf_log_format = LOG_FORMAT_TEXT;
	cf->cf_redis_prefix = CONFIG_DEFAULT_REDIS_PREFIX;
}

/* A channel prefix: printable ASCII without spaces, so logs and redis-cli show it as is. */
static bool redis_prefix_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

bool config_parse_duration(const char *s, uint32_t *out_ms)
{
	char *end;
	unsigned long long v;
	unsigned long long scale = 1000;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "m") == 0)
		scale = 60000;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		return false;
	if (v > 86400000ULL / scale)
		return false;
	*out_ms = (uint32_t)(v * scale);
	return true;
}

static bool duration_option(const char *name, const char *arg, bool zero_ok, uint32_t *out,
			    char *err, size_t errlen)
{
	if (!config_parse_duration(arg, out) || (!zero_ok && *out == 0)) {
		snprintf(err, errlen,
			 "invalid --%s '%s' (expected seconds, or a number with ms, s or m%s)",
			 name, arg, zero_ok ? "" : ", not 0");
		return false;
	}
	return true;
}

/* "off", or RATE[:BURST] with RATE a count (sizes: a size) per second; BURST defaults to
 * four seconds' worth. Both fit in 32 bits, and neither is 0. */
bool config_parse_rate(const char *s, bool sizes, struct ratelimit_rate *out)
{
	char buf[64], *colon;
	size_t rate, burst;

	if (strcmp(s, "off") == 0) {
		out->rr_per_sec = out->rr_burst = 0;
		return true;
	}
	if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
		return false;
	colon = strchr(buf, ':');
	if (colon != NULL)
		*colon = '\0';
	if (!(sizes ? config_parse_size(buf, &rate) : config_parse_count(buf, &rate)) ||
	    rate > UINT32_MAX / 4)
		return false;
	burst = rate * 4;
	if (colon != NULL &&
	    !(sizes ? config_parse_size(colon + 1, &burst) : config_parse_count(colon + 1, &burst)))
		return false;
	if (burst > INT32_MAX / 1000 && !sizes)
		return false;
	if (burst > INT32_MAX)
		return false;
	out->rr_per_sec = (uint32_t)rate;
	out->rr_burst = (uint32_t)burst;
	return true;
}

bool config_parse_count(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

bool config_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (s[0] < '0' || s[0] > '9')
		return false; /* no sign, no space, no empty string */
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	if (*end != '\0') {
		switch (*end) {
		case 'k':
		case 'K': shift = 10; break;
		case 'm':
		case 'M': shift = 20; break;
		case 'g':
		case 'G': shift = 30; break;
		default: return false;
		}
		if (end[1] != '\0')
			return false;
	}
	if (v == 0 || v > (SIZE_MAX >> shift))
		return false;
	*out = (size_t)(v << shift);
	return true;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* "off", or HOST:PORT with an IPv6 host in brackets ("[::1]:9181"). */
static bool parse_admin_listen(struct config *cf, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	const char *host = arg;
	size_t host_len;
	unsigned long port;

	if (strcmp(arg, "off") == 0) {
		cf->cf_admin_host = NULL;
		return true;
	}
	if (colon == NULL || !parse_uint(colon + 1, 65535, &port))
		return false;
	host_len = (size_t)(colon - arg);
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	} else if (memchr(host, ':', host_len) != NULL) {
		return false; /* an IPv6 address needs its brackets, or the port is ambiguous */
	}
	if (host_len == 0 || host_len >= sizeof cf->cf_admin_buf)
		return false;
	memcpy(cf->cf_admin_buf, host, host_len);
	cf->cf_admin_buf[host_len] = '\0';
	cf->cf_admin_host = cf->cf_admin_buf;
	cf->cf_admin_port = (uint16_t)port;
	return true;
}

enum config_action config_parse(struct config *cf, int argc, char **argv, char *err, size_t errlen)
{
	unsigned long v;
	int c;

	opterr = 0; /* our own messages, one line each */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:b:evqhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_uint(optarg, 65535, &v)) {
				snprintf(err, errlen, "invalid port '%s' (expected 0-65535)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_port = (uint16_t)v;
			break;
		case 'b': cf->cf_bind = optarg; break;
		case 'e': cf->cf_echo = true; break;
		case OPT_MAX_MESSAGE:
			if (!config_parse_size(optarg, &cf->cf_max_message) ||
			    cf->cf_max_message > CONFIG_MAX_MESSAGE_LIMIT) {
				snprintf(err, errlen,
					 "invalid --max-message '%s' (expected 1 to 1G bytes, "
					 "with an optional K, M or G suffix)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_MAX_CLIENTS:
			if (!parse_uint(optarg, 100000000, &v) || v == 0) {
				snprintf(err, errlen,
					 "invalid --max-clients '%s' (expected a positive number)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_max_clients = v;
			break;
		case OPT_MAX_BACKLOG:
			if (!config_parse_size(optarg, &cf->cf_max_backlog)) {
				snprintf(err, errlen,
					 "invalid --max-backlog '%s' (expected bytes, with an "
					 "optional K, "
					 "M or G suffix)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_MAX_MEMORY:
			if (!config_parse_size(optarg, &cf->cf_max_memory) ||
			    cf->cf_max_memory < ((size_t)1 << 20)) {
				snprintf(err, errlen,
					 "invalid --max-memory '%s' (expected at least 1M, with an "
					 "optional K, M or G suffix)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_RATE_LIMIT:
			if (!config_parse_rate(optarg, false, &cf->cf_rate.rp_messages)) {
				snprintf(err, errlen,
					 "invalid --rate-limit '%s' (expected MESSAGES[:BURST] a "
					 "second, e.g. 50:200, or off)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_RATE_LIMIT_BYTES:
			if (!config_parse_rate(optarg, true, &cf->cf_rate.rp_bytes)) {
				snprintf(
					err, errlen,
					"invalid --rate-limit-bytes '%s' (expected BYTES[:BURST] a "
					"second, e.g. 1M:4M, or off)",
					optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_FLOOD_TIMEOUT:
			if (!duration_option("flood-timeout", optarg, true,
					     &cf->cf_flood_timeout_ms, err, errlen))
				return CONFIG_USAGE_ERROR;
			break;
		case OPT_SEND_TIMEOUT:
			if (!duration_option("send-timeout", optarg, true, &cf->cf_send_timeout_ms,
					     err, errlen))
				return CONFIG_USAGE_ERROR;
			break;
		case OPT_V1_INTEROP: break; /* what it chose is the default: kept for scripts */
		case OPT_HISTORY:
			if (!parse_uint(optarg, CONFIG_MAX_HISTORY, &v)) {
				snprintf(err, errlen,
					 "invalid --history '%s' (expected messages per room, 0 to "
					 "%d)",
					 optarg, CONFIG_MAX_HISTORY);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_history = v;
			break;
		case OPT_HISTORY_BYTES:
			if (!config_parse_size(optarg, &cf->cf_history_bytes)) {
				snprintf(err, errlen,
					 "invalid --history-bytes '%s' (expected bytes, with an "
					 "optional K, M or G suffix)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			if (!duration_option("handshake-timeout", optarg, false,
					     &cf->cf_handshake_timeout_ms, err, errlen))
				return CONFIG_USAGE_ERROR;
			break;
		case OPT_PING_INTERVAL:
			if (!duration_option("ping-interval", optarg, true,
					     &cf->cf_ping_interval_ms, err, errlen))
				return CONFIG_USAGE_ERROR;
			break;
		case OPT_IDLE_TIMEOUT:
			if (!duration_option("idle-timeout", optarg, true, &cf->cf_idle_timeout_ms,
					     err, errlen))
				return CONFIG_USAGE_ERROR;
			break;
		case OPT_ALLOW_ORIGIN:
			if (cf->cf_origin_count == CONFIG_MAX_ORIGINS) {
				snprintf(err, errlen, "too many --allow-origin (at most %d)",
					 CONFIG_MAX_ORIGINS);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_origins[cf->cf_origin_count++] = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0) {
				cf->cf_log_format = LOG_FORMAT_TEXT;
			} else if (strcmp(optarg, "json") == 0) {
				cf->cf_log_format = LOG_FORMAT_JSON;
			} else {
				snprintf(err, errlen,
					 "invalid --log-format '%s' (expected text or json)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_BUSY_POLL:
			if (!parse_uint(optarg, 10000, &v)) {
				snprintf(err, errlen,
					 "invalid --busy-poll '%s' (expected microseconds, 0 to "
					 "10000)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_busy_poll_us = (uint32_t)v;
			break;
		case OPT_REUSEPORT: cf->cf_reuseport = true; break;
		case OPT_REDIS: {
			char why[200];
			if (!redis_url_parse(optarg, &cf->cf_redis, why, sizeof why)) {
				snprintf(err, errlen, "invalid --redis: %s", why);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_redis_on = true;
			break;
		}
		case OPT_REDIS_PREFIX:
			if (!redis_prefix_ok(optarg)) {
				snprintf(err, errlen,
					 "invalid --redis-prefix '%s' (expected 1 to 64 printable "
					 "characters, no spaces)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_redis_prefix = optarg;
			break;
		case OPT_ADMIN_LISTEN:
			if (!parse_admin_listen(cf, optarg)) {
				snprintf(err, errlen,
					 "invalid --admin-listen '%s' (expected ADDR:PORT, "
					 "[IPV6]:PORT or off)",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			break;
		case OPT_MAX_HANDSHAKES:
		case OPT_MAX_PER_IP:
			if (!parse_uint(optarg, 100000000, &v)) {
				snprintf(err, errlen,
					 "invalid --%s '%s' (expected a number, 0: no limit)",
					 c == OPT_MAX_PER_IP ? "max-per-ip" : "max-handshakes",
					 optarg);
				return CONFIG_USAGE_ERROR;
			}
			if (c == OPT_MAX_PER_IP)
				cf->cf_max_per_ip = v;
			else
				cf->cf_max_handshakes = v;
			break;
		case OPT_TLS_CERT: cf->cf_tls_cert = optarg; break;
		case OPT_TLS_KEY: cf->cf_tls_key = optarg; break;
		case 'v': cf->cf_log_level = LOG_LEVEL_DEBUG; break;
		case 'q': cf->cf_log_level = LOG_LEVEL_ERROR; break;
		case 'h': return CONFIG_HELP;
		case 'V': return CONFIG_VERSION;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return CONFIG_USAGE_ERROR;
		default:
			if (optopt != 0)
				snprintf(err, errlen, "unknown option '-%c' (see chatd --help)",
					 optopt);
			else
				snprintf(err, errlen, "unknown option '%s' (see chatd --help)",
					 argv[optind - 1]);
			return CONFIG_USAGE_ERROR;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see chatd --help)", argv[optind]);
		return CONFIG_USAGE_ERROR;
	}
	if ((cf->cf_tls_cert == NULL) != (cf->cf_tls_key == NULL)) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together: give both or neither");
		return CONFIG_USAGE_ERROR;
	}
	/* A healthy client receiving messages of the largest size must never be cut off. */
	if (cf->cf_max_backlog < 2 * cf->cf_max_message)
		cf->cf_max_backlog = 2 * cf->cf_max_message;
	if (cf->cf_idle_timeout_ms != 0 && cf->cf_ping_interval_ms >= cf->cf_idle_timeout_ms) {
		snprintf(err, errlen, "--ping-interval must be shorter than --idle-timeout");
		return CONFIG_USAGE_ERROR;
	}
	return CONFIG_RUN;
}
