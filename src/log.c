/* Logging: one line per event, written with a single write(2) so lines never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

int log_enabled(enum log_level level)
{
	return level <= current_level;
}

static void emit(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	m = snprintf(line + n, sizeof line - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
	             level_names[level]);
	if (m > 0)
		n += (size_t)m;
	m = vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (m > 0)
		n += (size_t)m;
	if (n > sizeof line - 2)
		n = sizeof line - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level)                                                                     \
	void name(const char *fmt, ...)                                                         \
	{                                                                                       \
		va_list ap;                                                                     \
		if (!log_enabled(level))                                                        \
			return;                                                                 \
		va_start(ap, fmt);                                                              \
		emit(level, fmt, ap);                                                           \
		va_end(ap);                                                                     \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
