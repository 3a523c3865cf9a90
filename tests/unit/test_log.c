/*
 * Unit tests for the log's buffered output (include/log.h), with stderr a pipe that the
 * test reads, or does not: lines go out at once while the pipe has room, wait in the
 * buffer when it is full, are dropped and counted past LOG_BUFFER_BYTES, and come out in
 * order, with a line saying how many were dropped. Descriptor 2's own open file
 * description (shared with whoever started us) never becomes non-blocking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int saved_stderr = -1;
static int pipe_read = -1;

/* Makes stderr a pipe whose read end the test holds, non-blocking so reads never wait. */
static int setup(void **state)
{
	int fds[2];
	(void)state;

	assert_int_equal(pipe(fds), 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
	close(fds[1]);
	pipe_read = fds[0];
	assert_int_equal(fcntl(pipe_read, F_SETFL, O_NONBLOCK), 0);
	log_set_level(LOG_LEVEL_INFO);
	log_set_format(LOG_FORMAT_TEXT);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_buffer_stop();
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(pipe_read);
	return 0;
}

/* Everything readable now, appended to out (NUL-terminated); returns its new length. */
static size_t drain(char *out, size_t len, size_t cap)
{
	for (;;) {
		ssize_t n = read(pipe_read, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < cap - 1);
	}
	out[len] = '\0';
	return len;
}

static void test_lines_go_out_at_once_while_there_is_room(void **state)
{
	char out[4096];
	(void)state;

	int fd = log_buffer_start();
	assert_true(fd >= 0);
	assert_int_not_equal(fd, STDERR_FILENO);                         /* our own description */
	assert_int_equal(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0); /* the shared one */
	assert_int_not_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	log_info("first %d", 1);
	log_warn("second");
	assert_int_equal(log_pending(), 0);
	drain(out, 0, sizeof out);
	assert_non_null(strstr(out, " INFO first 1\n"));
	assert_non_null(strstr(out, " WARN second\n"));
	assert_true(strstr(out, "first") < strstr(out, "second"));
}

/* A full pipe: lines wait, then are dropped and counted; once the pipe is read again
 * they come out in order, the report of the drops before the first line after them. */
static void test_full_pipe_buffers_then_drops_and_reports(void **state)
{
	enum { LINES = 5000 };
	size_t cap = 4 * 1024 * 1024;
	char *out = malloc(cap);
	(void)state;

	assert_non_null(out);
	assert_true(log_buffer_start() >= 0);
	unsigned long long dropped_before = log_dropped_lines();
	int first_waiting = -1;
	/* About 100 bytes a line: the 64 KiB pipe and the 64 KiB buffer hold some 1,300. */
	for (int i = 0; i < LINES; i++) {
		log_info("line %05d %060d", i, 0);
		if (first_waiting < 0 && log_pending() > 0)
			first_waiting = i;
	}
	assert_true(first_waiting > 0);
	assert_true(log_pending() > LOG_BUFFER_BYTES - 200);
	assert_true(log_pending() <= LOG_BUFFER_BYTES);
	unsigned long long dropped = log_dropped_lines() - dropped_before;
	assert_true(dropped > 0 && dropped < LINES);

	/* The reader catches up: flush until the buffer is empty, reading as we go (the
	 * line after the drops may find the pipe full too, and wait its turn). */
	size_t len = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			log_info("after");
		for (int rounds = 0; log_pending() > 0; rounds++) {
			assert_true(rounds < 1000);
			len = drain(out, len, cap);
			log_flush();
		}
		len = drain(out, len, cap);
	}

	/* In order, without gaps, up to the first dropped line... */
	int expect = 0;
	char *p = out;
	while ((p = strstr(p, " INFO line ")) != NULL) {
		int n = atoi(p + strlen(" INFO line "));
		assert_int_equal(n, expect);
		expect++;
		p++;
	}
	assert_int_equal((unsigned long long)expect + dropped, LINES);
	/* ...then the report, then the next line. */
	char report[128];
	snprintf(report, sizeof report, " WARN log: %llu lines dropped", dropped);
	char *at = strstr(out, report);
	assert_non_null(at);
	assert_non_null(strstr(at, " INFO after\n"));
	free(out);
}

/* At stop everything pending is written, and lines go out at once again. */
static void test_stop_writes_what_is_pending(void **state)
{
	size_t cap = 1024 * 1024;
	char *out = malloc(cap);
	(void)state;

	assert_non_null(out);
	assert_true(log_buffer_start() >= 0);
	for (int i = 0; log_pending() == 0; i++) {
		log_info("filler %05d %060d", i, 0);
		assert_true(i < 10000);
	}
	log_info("pending");
	assert_true(log_pending() > 0);
	size_t len = drain(out, 0, cap); /* room again, but nobody flushes */
	assert_null(strstr(out, "pending"));
	log_buffer_stop();
	assert_int_equal(log_pending(), 0);
	log_info("direct");
	len = drain(out, len, cap);
	char *at = strstr(out, " INFO pending\n");
	assert_non_null(at);
	assert_non_null(strstr(at, " INFO direct\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_go_out_at_once_while_there_is_room,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_pipe_buffers_then_drops_and_reports,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_writes_what_is_pending, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
