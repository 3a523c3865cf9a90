/*
 * log: one line per event on stderr, with a UTC timestamp and a level:
 *   2026-11-27T12:00:00.123Z INFO listening on [::]:8080
 * or, for log shippers, one JSON object per line. Messages above the configured level are dropped
 * before they are formatted.
 */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON, /* one object per line: {"ts":"...","level":"info","msg":"..."} */
};

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
int log_enabled(enum log_level level);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
