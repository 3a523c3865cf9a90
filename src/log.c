/* Logging: one line per event, written with a single write(2) so lines never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_format current_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const json_level_names[] = {"error", "warn", "info", "debug"};

void log_set_format(enum log_format format)
{
	current_format = format;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

int log_enabled(enum log_level level)
{
	return level <= current_level;
}

/* Appends msg to out as the inside of a JSON string (RFC 8259 section 7). */
static size_t json_escape(char *out, size_t cap, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)msg; *p != '\0'; p++) {
		if (n + 6 >= cap)
			break;
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7F) {
			out[n++] = '\\';
			out[n++] = 'u';
			out[n++] = '0';
			out[n++] = '0';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 0xF];
		} else {
			out[n++] = (char)*p;
		}
	}
	return n;
}

static void emit(enum log_level level, const char *fmt, va_list ap)
{
	char msg[768], line[1024], stamp[40];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);
	/* ap comes from the caller's va_start: a clang-analyzer false positive says otherwise. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	m = vsnprintf(msg, sizeof msg, fmt, ap);
	if (m < 0)
		msg[0] = '\0';

	if (current_format == LOG_FORMAT_JSON) {
		m = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp,
			     json_level_names[level]);
		n = (size_t)m;
		n += json_escape(line + n, sizeof line - n - 3, msg);
		line[n++] = '"';
		line[n++] = '}';
	} else {
		m = snprintf(line, sizeof line, "%s %s %s", stamp, level_names[level], msg);
		n = m < 0 ? 0 : (size_t)m;
		if (n > sizeof line - 1)
			n = sizeof line - 1; /* truncated: keep room for the newline */
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level)                                                                        \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		if (!log_enabled(level))                                                           \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		emit(level, fmt, ap);                                                              \
		va_end(ap);                                                                        \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
