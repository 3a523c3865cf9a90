/*
 * Unit tests for the listener's error path (include/listener.h): when the loop cannot
 * watch the new socket, listener_open fails with a message and leaves nothing open, and
 * a later listener_close (server.c calls it on every exit path) closes nothing, since the
 * descriptor numbers it held may belong to someone else by then.
 *
 * The kernel hardly ever refuses EPOLL_CTL_ADD for a socket (ENOMEM, ENOSPC past
 * max_user_watches), so this program defines its own epoll_ctl: the loop's calls resolve
 * to it, and it fails on request or passes the call to the kernel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "listener.h"
#include "loop.h"

static int fail_add_with; /* errno for the next EPOLL_CTL_ADD; 0: the kernel answers */

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (op == EPOLL_CTL_ADD && fail_add_with != 0) {
		errno = fail_add_with;
		fail_add_with = 0;
		return -1;
	}
	return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

static void on_accept(struct listener *li, int fd, const union net_addr *peer)
{
	(void)li;
	(void)peer;
	close(fd);
}

static int open_count(void)
{
	int n = 0;
	for (int fd = 0; fd < 256; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

static void test_open_fails_cleanly_when_the_loop_cannot_watch(void **state)
{
	struct listener li;
	char err[256];
	int pipes[2][2];
	(void)state;

	struct loop *l = loop_new();
	assert_non_null(l);
	int before = open_count();
	fail_add_with = ENOSPC;
	assert_int_equal(listener_open(&li, l, "127.0.0.1", 0, on_accept, NULL, err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "cannot watch the listening socket"));
	assert_int_equal(open_count(), before); /* the socket and the spare are closed */

	/* The numbers the listener held go to the next descriptors opened... */
	assert_int_equal(pipe(pipes[0]), 0);
	assert_int_equal(pipe(pipes[1]), 0);
	/* ...which closing the failed listener must leave alone. */
	listener_close(&li);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			assert_true(fcntl(pipes[i][j], F_GETFD) != -1);
			close(pipes[i][j]);
		}
	loop_free(l);
}

static void test_open_and_close(void **state)
{
	struct listener li;
	char err[256];
	(void)state;

	struct loop *l = loop_new();
	assert_non_null(l);
	int before = open_count();
	assert_int_equal(listener_open(&li, l, "127.0.0.1", 0, on_accept, NULL, err, sizeof err),
			 0);
	assert_non_null(strstr(li.li_name, "127.0.0.1:"));
	assert_int_equal(open_count(), before + 2); /* the socket and the spare */
	listener_close(&li);
	assert_int_equal(open_count(), before);
	listener_close(&li); /* twice: harmless */
	assert_int_equal(open_count(), before);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_fails_cleanly_when_the_loop_cannot_watch),
		cmocka_unit_test(test_open_and_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
