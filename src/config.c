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

enum { OPT_MAX_MESSAGE = 256, OPT_MAX_CLIENTS };

static const struct option long_options[] = {
	{"port", required_argument, NULL, 'p'},
	{"bind", required_argument, NULL, 'b'},
	{"echo", no_argument, NULL, 'e'},
	{"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
	{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
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
	        "             [--max-clients N] [-v|--verbose] [-q|--quiet] [--help] [--version]\n"
	        "\n"
	        "A WebSocket chat server: every message a client sends goes to every other client.\n"
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
	        "  -v, --verbose          log every message, not just connections\n"
	        "  -q, --quiet            log errors only\n"
	        "  -h, --help             show this help\n"
	        "  -V, --version          show the version\n",
	        CONFIG_DEFAULT_PORT);
}

void config_defaults(struct config *cf)
{
	memset(cf, 0, sizeof *cf);
	cf->cf_port = CONFIG_DEFAULT_PORT;
	cf->cf_max_message = CONFIG_DEFAULT_MAX_MESSAGE;
	cf->cf_log_level = LOG_LEVEL_INFO;
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
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
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

enum config_action config_parse(struct config *cf, int argc, char **argv, char *err,
                                size_t errlen)
{
	unsigned long v;
	int c;

	opterr = 0; /* our own messages, one line each */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:b:evqhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_uint(optarg, 65535, &v)) {
				snprintf(err, errlen, "invalid port '%s' (expected 0-65535)", optarg);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_port = (uint16_t)v;
			break;
		case 'b':
			cf->cf_bind = optarg;
			break;
		case 'e':
			cf->cf_echo = true;
			break;
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
				snprintf(err, errlen, "invalid --max-clients '%s' (expected a positive number)",
				         optarg);
				return CONFIG_USAGE_ERROR;
			}
			cf->cf_max_clients = v;
			break;
		case 'v':
			cf->cf_log_level = LOG_LEVEL_DEBUG;
			break;
		case 'q':
			cf->cf_log_level = LOG_LEVEL_ERROR;
			break;
		case 'h':
			return CONFIG_HELP;
		case 'V':
			return CONFIG_VERSION;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return CONFIG_USAGE_ERROR;
		default:
			if (optopt != 0)
				snprintf(err, errlen, "unknown option '-%c' (see chatd --help)", optopt);
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
	return CONFIG_RUN;
}
