/*
 * log: one line per event on stderr, with a UTC timestamp and a level:
 *   2026-11-27T12:00:00.123Z INFO listening on [::]:8080
 * or, for log shippers, one JSON object per line. Messages above the configured level are dropped
 * before they are formatted.
 */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stddef.h>

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

/*
 * Buffered output, so that a slow or stalled reader of stderr (a full pipe, a paused
 * terminal, a busy journald) never blocks the event loop. Between log_buffer_start and
 * log_buffer_stop, lines go into a bounded in-memory buffer (LOG_BUFFER_BYTES) and are
 * written when the descriptor is writable; a line that does not fit is dropped and counted.
 * The log module knows no loop: its owner watches the descriptor log_buffer_start returns
 * for writability while log_pending() is non-zero, and calls log_flush when it is.
 * Outside those two calls every line is written at once with a blocking write(2).
 */
#define LOG_BUFFER_BYTES ((size_t)64 * 1024)

/* Returns the descriptor to watch (it belongs to the log module), or -1 when lines will
 * be written at once anyway: stderr is a regular file or a block device, which never
 * blocks for long, or cannot be reopened without blocking. */
int log_buffer_start(void);
/* Writes everything pending, waiting up to LOG_STOP_WAIT_MS for a stalled reader (then the
 * rest is dropped and counted), and returns to writing lines at once. */
void log_buffer_stop(void);
#define LOG_STOP_WAIT_MS 2000
/* Bytes waiting in the buffer. */
size_t log_pending(void);
/* Writes what the descriptor takes without blocking. */
void log_flush(void);
/* Lines dropped since the process started: the buffer was full, or stderr failed. */
unsigned long long log_dropped_lines(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
