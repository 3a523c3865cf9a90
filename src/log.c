/*
 * Logging: one line per event. A line is written with a single write(2) where it can be,
 * so lines from several processes sharing a descriptor do not interleave.
 *
 * Buffered mode (log_buffer_start) must write without ever blocking, yet stderr is
 * inherited: setting O_NONBLOCK on descriptor 2 would change the open file description
 * it shares with the user's shell or terminal (which then sees EAGAIN), and could be
 * undone by anyone sharing it. So chatd never touches descriptor 2's flags:
 *   - a pipe, FIFO or terminal is opened again through /proc/self/fd/2, which gives a new
 *     open file description of the same pipe or terminal, ours alone, made non-blocking;
 *   - a socket (systemd's journal stream) is written with send(MSG_DONTWAIT), which is
 *     non-blocking per call;
 *   - a regular file or block device is written at once, as before: writes to it do not
 *     wait for a reader, and epoll cannot watch it (EPERM) anyway. So is anything else
 *     (no /proc, a descriptor that cannot be opened again).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_format current_format = LOG_FORMAT_TEXT;

/* Buffered mode. The buffer is a ring of bytes holding whole lines, but for the rest of a
 * line the descriptor took only in part: a line that does not fit is dropped whole. The
 * descriptor belongs to this module (-1: not buffering). */
static struct {
	int lb_fd;
	bool lb_socket;   /* lb_fd is descriptor 2 itself, a socket: send(MSG_DONTWAIT) */
	bool lb_reopened; /* lb_fd is our own description: close it at stop */
	size_t lb_head;   /* first pending byte */
	size_t lb_len;    /* pending bytes */
	unsigned long long lb_dropped;
	unsigned long long lb_unreported; /* dropped and not yet said so in the log */
	char lb_data[LOG_BUFFER_BYTES];
} buffer = {.lb_fd = -1};

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

static ssize_t write_some(const void *data, size_t len)
{
	if (buffer.lb_socket)
		return send(buffer.lb_fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return write(buffer.lb_fd, data, len);
}

/* Counts the lines in bytes about to be thrown away. */
static void drop_bytes(size_t head, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buffer.lb_data[(head + i) % LOG_BUFFER_BYTES] == '\n') {
			buffer.lb_dropped++;
			buffer.lb_unreported++;
		}
}

void log_flush(void)
{
	while (buffer.lb_fd >= 0 && buffer.lb_len > 0) {
		size_t first = LOG_BUFFER_BYTES - buffer.lb_head;
		if (first > buffer.lb_len)
			first = buffer.lb_len;
		ssize_t n = write_some(buffer.lb_data + buffer.lb_head, first);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* The reader is gone (EPIPE) or the descriptor broke: nobody will read
			 * these lines, keep none of them. */
			drop_bytes(buffer.lb_head, buffer.lb_len);
			buffer.lb_head = buffer.lb_len = 0;
			return;
		}
		buffer.lb_head = (buffer.lb_head + (size_t)n) % LOG_BUFFER_BYTES;
		buffer.lb_len -= (size_t)n;
	}
	if (buffer.lb_len == 0)
		buffer.lb_head = 0;
}

size_t log_pending(void)
{
	return buffer.lb_len;
}

unsigned long long log_dropped_lines(void)
{
	return buffer.lb_dropped;
}

static void append(const char *line, size_t len)
{
	size_t tail = (buffer.lb_head + buffer.lb_len) % LOG_BUFFER_BYTES;
	size_t first = LOG_BUFFER_BYTES - tail;
	if (first > len)
		first = len;
	memcpy(buffer.lb_data + tail, line, first);
	memcpy(buffer.lb_data, line + first, len - first);
	buffer.lb_len += len;
}

/* Room kept for the line that reports drops, so that it can always precede the next line. */
#define LOG_REPORT_ROOM 256

static void output(const char *line, size_t len)
{
	if (buffer.lb_fd < 0) {
		(void)!write(STDERR_FILENO, line, len);
		return;
	}
	/* Once lines are dropped, the next line kept must have room for the report too, so
	 * that a reader learns of the gap where it is. */
	size_t need = len + (buffer.lb_unreported > 0 ? LOG_REPORT_ROOM : 0);
	if (LOG_BUFFER_BYTES - buffer.lb_len < need) {
		buffer.lb_dropped++;
		buffer.lb_unreported++;
		return;
	}
	if (buffer.lb_unreported > 0) {
		unsigned long long k = buffer.lb_unreported;
		buffer.lb_unreported = 0;
		log_warn("log: %llu lines dropped: stderr was not writable fast enough", k);
	}
	/* Nothing waiting: try the descriptor at once, as an unbuffered log would. */
	if (buffer.lb_len == 0) {
		ssize_t n;
		do
			n = write_some(line, len);
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)len)
			return;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			buffer.lb_dropped++;
			buffer.lb_unreported++;
			return;
		}
		if (n > 0) {
			line += n;
			len -= (size_t)n;
		}
	}
	append(line, len);
}

int log_buffer_start(void)
{
	struct stat st;

	if (buffer.lb_fd >= 0)
		return buffer.lb_fd;
	if (fstat(STDERR_FILENO, &st) < 0)
		return -1;
	if (S_ISSOCK(st.st_mode)) {
		buffer.lb_fd = STDERR_FILENO;
		buffer.lb_socket = true;
		return buffer.lb_fd;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return -1;
	/* A new open file description: its O_NONBLOCK is ours alone. O_NOCTTY: a terminal
	 * opened again must not become chatd's controlling terminal. */
	int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	buffer.lb_fd = fd;
	buffer.lb_reopened = true;
	return fd;
}

/* Waits until fd is writable or ms pass; false on timeout. */
static bool wait_writable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n;
	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n > 0;
}

void log_buffer_stop(void)
{
	struct timespec start, now;

	if (buffer.lb_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		log_flush();
		if (buffer.lb_len == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000L +
			      (now.tv_nsec - start.tv_nsec) / 1000000L;
		if (waited >= LOG_STOP_WAIT_MS ||
		    !wait_writable(buffer.lb_fd, (int)(LOG_STOP_WAIT_MS - waited))) {
			drop_bytes(buffer.lb_head, buffer.lb_len);
			buffer.lb_head = buffer.lb_len = 0;
			break;
		}
	}
	if (buffer.lb_reopened)
		close(buffer.lb_fd);
	buffer.lb_fd = -1;
	buffer.lb_socket = buffer.lb_reopened = false;
	/* Said once more, now that lines go out at once: what could not be written. */
	if (buffer.lb_unreported > 0) {
		unsigned long long k = buffer.lb_unreported;
		buffer.lb_unreported = 0;
		log_warn("log: %llu lines dropped: stderr was not writable fast enough", k);
	}
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
	output(line, n);
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
