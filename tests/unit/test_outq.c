/*
 * Unit tests for sbuf and outq (include/sbuf.h, include/outq.h), written from the headers:
 * reference counts (one encode shared by many queues), recycling, the iovec view with its
 * count and byte budget, partial writes, dropping unsent buffers and clearing. Leaks and
 * double frees are ASan's to find: the test releases both caches at the end, so anything
 * still allocated at exit is a real leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>

#include "membudget.h"
#include "outq.h"
#include "sbuf.h"

static struct sbuf *make(const char *s)
{
	struct sbuf *b = sbuf_from(s, strlen(s));
	assert_non_null(b);
	return b;
}

/* Concatenates what the iovecs describe, as writev would send it. */
static size_t gather(const struct iovec *iov, int n, char *out, size_t cap)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		assert_true(len + iov[i].iov_len <= cap);
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

/* Everything still queued, as one string (NUL-terminated). */
static void queued_text(const struct outq *q, char *out, size_t cap)
{
	struct iovec iov[64];
	int n = outq_iov(q, iov, 64, SIZE_MAX);
	size_t len = gather(iov, n, out, cap - 1);
	out[len] = '\0';
	assert_int_equal(len, q->oq_bytes);
}

static int teardown(void **state)
{
	(void)state;
	outq_release_cache();
	sbuf_release_cache();
	return 0;
}

static void test_sbuf_new_and_from(void **state)
{
	static const size_t lens[] = {0, 1, 100, 511, 512, 513, 4096, 70000};
	(void)state;

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct sbuf *b = sbuf_new(lens[i]);
		assert_non_null(b);
		assert_int_equal(b->sb_refs, 1);
		assert_int_equal(b->sb_len, lens[i]);
		assert_true(b->sb_cap >= lens[i]);
		memset(b->sb_data, 0xAB, lens[i]); /* ASan: the room is really there */
		sbuf_unref(b);
	}
	struct sbuf *b = sbuf_from("hello", 5);
	assert_non_null(b);
	assert_int_equal(b->sb_len, 5);
	assert_memory_equal(b->sb_data, "hello", 5);
	sbuf_unref(b);
}

/* A recycled buffer comes back as good as new, whatever size was asked for. */
static void test_sbuf_recycling(void **state)
{
	struct sbuf *bufs[50];
	(void)state;

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < 50; i++) {
			size_t len = (i * 37 + (size_t)round * 11) % 600;
			bufs[i] = sbuf_new(len);
			assert_non_null(bufs[i]);
			assert_int_equal(bufs[i]->sb_refs, 1);
			assert_int_equal(bufs[i]->sb_len, len);
			assert_true(bufs[i]->sb_cap >= len);
			memset(bufs[i]->sb_data, (int)i, len);
		}
		/* Every buffer is distinct and kept its own bytes. */
		for (size_t i = 0; i < 50; i++) {
			for (size_t k = 0; k < bufs[i]->sb_len; k++)
				assert_int_equal(bufs[i]->sb_data[k], (uint8_t)i);
			sbuf_unref(bufs[i]);
		}
	}
	/* A recycled small buffer reused for a copy holds the new bytes. */
	struct sbuf *a = make("first contents");
	sbuf_unref(a);
	struct sbuf *b = make("second");
	assert_int_equal(b->sb_len, 6);
	assert_memory_equal(b->sb_data, "second", 6);
	sbuf_unref(b);
}

static void test_sbuf_refcount(void **state)
{
	(void)state;
	struct sbuf *b = make("shared");
	assert_ptr_equal(sbuf_ref(b), b);
	assert_int_equal(b->sb_refs, 2);
	sbuf_ref(b);
	assert_int_equal(b->sb_refs, 3);
	sbuf_unref(b);
	sbuf_unref(b);
	assert_int_equal(b->sb_refs, 1);
	assert_memory_equal(b->sb_data, "shared", 6); /* still alive */
	sbuf_unref(b);
}

static void test_outq_push_and_iov(void **state)
{
	struct outq q = {0};
	struct iovec iov[8];
	char out[128];
	(void)state;

	assert_true(outq_empty(&q));
	assert_int_equal(outq_iov(&q, iov, 8, 1000), 0);

	struct sbuf *a = make("alpha"), *b = make("beta"), *c = make("gamma!");
	assert_int_equal(outq_push(&q, a), 0);
	assert_int_equal(outq_push(&q, b), 0);
	assert_int_equal(outq_push(&q, c), 0);
	assert_false(outq_empty(&q));
	assert_int_equal(q.oq_bytes, 15);
	/* The queue took its own reference on each. */
	assert_int_equal(a->sb_refs, 2);
	assert_int_equal(b->sb_refs, 2);
	assert_int_equal(c->sb_refs, 2);

	int n = outq_iov(&q, iov, 8, 1000);
	assert_int_equal(n, 3);
	/* No copies: the iovecs point at the buffers themselves. */
	assert_ptr_equal(iov[0].iov_base, a->sb_data);
	assert_int_equal(iov[0].iov_len, 5);
	assert_ptr_equal(iov[1].iov_base, b->sb_data);
	assert_ptr_equal(iov[2].iov_base, c->sb_data);
	assert_int_equal(gather(iov, n, out, sizeof out), 15);
	assert_memory_equal(out, "alphabetagamma!", 15);
	/* outq_iov only looks. */
	assert_int_equal(q.oq_bytes, 15);
	assert_int_equal(outq_iov(&q, iov, 8, 1000), 3);

	sbuf_unref(a);
	sbuf_unref(b);
	sbuf_unref(c);
	/* The queue's references keep them alive. */
	assert_int_equal(a->sb_refs, 1);
	outq_clear(&q);
	assert_true(outq_empty(&q));
	assert_int_equal(q.oq_bytes, 0);
}

static void test_outq_iov_limits(void **state)
{
	struct outq q = {0};
	struct iovec iov[8];
	char out[128];
	(void)state;

	for (int i = 0; i < 5; i++) {
		struct sbuf *b = make("0123456789");
		assert_int_equal(outq_push(&q, b), 0);
		sbuf_unref(b);
	}
	assert_int_equal(q.oq_bytes, 50);

	/* At most max iovecs. */
	assert_int_equal(outq_iov(&q, iov, 2, SIZE_MAX), 2);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 20);
	assert_int_equal(outq_iov(&q, iov, 1, SIZE_MAX), 1);
	assert_int_equal(outq_iov(&q, iov, 0, SIZE_MAX), 0);

	/* At most budget bytes, cutting the last iovec short. */
	for (size_t budget = 0; budget <= 60; budget++) {
		int n = outq_iov(&q, iov, 8, budget);
		size_t total = gather(iov, n, out, sizeof out);
		size_t want = budget < 50 ? budget : 50;
		if (total != want)
			fail_msg("budget %zu: %zu bytes", budget, total);
		assert_true(n <= 5);
		assert_true(n >= (int)((want + 9) / 10));
	}
	outq_clear(&q);
}

/* Partial writes: consume what "went out", the rest comes back in the next iovecs. */
static void test_outq_consume_partial(void **state)
{
	struct outq q = {0};
	char text[128];
	(void)state;

	struct sbuf *a = make("hello "), *b = make("big "), *c = make("world");
	outq_push(&q, a);
	outq_push(&q, b);
	outq_push(&q, c);

	outq_consume(&q, 2);
	assert_int_equal(q.oq_bytes, 13);
	assert_int_equal(q.oq_head_offset, 2);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "llo big world");
	assert_int_equal(a->sb_refs, 2); /* not finished with yet */

	/* The rest of the first buffer and part of the second. */
	outq_consume(&q, 6);
	assert_int_equal(q.oq_bytes, 7);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "g world");
	assert_int_equal(a->sb_refs, 1); /* the queue let go of it */
	assert_int_equal(b->sb_refs, 2);

	/* Exactly to the end of a buffer. */
	outq_consume(&q, 2);
	assert_int_equal(b->sb_refs, 1);
	assert_int_equal(q.oq_head_offset, 0);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "world");

	outq_consume(&q, 5);
	assert_true(outq_empty(&q));
	assert_int_equal(q.oq_bytes, 0);
	assert_int_equal(c->sb_refs, 1);

	/* The queue is reusable after running dry. */
	outq_push(&q, a);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "hello ");
	outq_consume(&q, 6);
	assert_true(outq_empty(&q));

	sbuf_unref(a);
	sbuf_unref(b);
	sbuf_unref(c);
}

/* Consuming in pieces of every size gives back the bytes in order. */
static void test_outq_consume_every_step(void **state)
{
	static const char *const parts[] = {"a", "bc", "", "def", "ghij", "k", "lmnopqrstu"};
	static const char all[] = "abcdefghijklmnopqrstu";
	(void)state;

	for (size_t step = 1; step <= sizeof all; step++) {
		struct outq q = {0};
		char got[64];
		size_t got_len = 0;

		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			struct sbuf *b = make(parts[i]);
			assert_int_equal(outq_push(&q, b), 0);
			sbuf_unref(b);
		}
		while (!outq_empty(&q) && q.oq_bytes > 0) {
			struct iovec iov[3];
			int n = outq_iov(&q, iov, 3, step);
			size_t len = gather(iov, n, got + got_len, sizeof got - got_len);
			assert_true(len > 0);
			got_len += len;
			outq_consume(&q, len);
		}
		assert_int_equal(got_len, sizeof all - 1);
		assert_memory_equal(got, all, got_len);
		assert_int_equal(q.oq_bytes, 0);
		outq_clear(&q); /* drops a trailing empty buffer, if one is left */
		assert_true(outq_empty(&q));
	}
}

/* One frame encoded once and queued on many clients: the last queue to let go frees it. */
static void test_outq_broadcast_sharing(void **state)
{
	struct outq qs[10];
	(void)state;

	memset(qs, 0, sizeof qs);
	struct sbuf *frame = make("\x81\x05hello");
	for (int i = 0; i < 10; i++)
		assert_int_equal(outq_push(&qs[i], frame), 0);
	sbuf_unref(frame); /* the sender's reference */
	assert_int_equal(frame->sb_refs, 10);
	for (int i = 0; i < 9; i++) {
		if (i % 2)
			outq_consume(&qs[i], frame->sb_len);
		else
			outq_clear(&qs[i]);
		assert_int_equal(frame->sb_refs, (uint32_t)(9 - i));
	}
	/* The last one still sees the bytes. */
	char text[32];
	queued_text(&qs[9], text, sizeof text);
	assert_string_equal(text, "\x81\x05hello");
	outq_clear(&qs[9]); /* frees it: ASan would report a leak or a double free */
}

/* The same buffer twice in one queue is two entries and two references. */
static void test_outq_same_buffer_twice(void **state)
{
	struct outq q = {0};
	char text[32];
	(void)state;

	struct sbuf *b = make("ab");
	outq_push(&q, b);
	outq_push(&q, b);
	assert_int_equal(b->sb_refs, 3);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "abab");
	outq_consume(&q, 3);
	assert_int_equal(b->sb_refs, 2);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "b");
	outq_clear(&q);
	assert_int_equal(b->sb_refs, 1);
	sbuf_unref(b);
}

static void test_outq_drop_unsent(void **state)
{
	struct outq q = {0};
	char text[64];
	(void)state;

	struct sbuf *a = make("first"), *b = make("second"), *c = make("third");

	/* Nothing written yet: everything goes. */
	outq_push(&q, a);
	outq_push(&q, b);
	outq_drop_unsent(&q);
	assert_true(outq_empty(&q));
	assert_int_equal(q.oq_bytes, 0);
	assert_int_equal(a->sb_refs, 1);
	assert_int_equal(b->sb_refs, 1);

	/* The first buffer partly written: it stays, whole frames after it go. */
	outq_push(&q, a);
	outq_push(&q, b);
	outq_push(&q, c);
	outq_consume(&q, 2);
	outq_drop_unsent(&q);
	assert_false(outq_empty(&q));
	assert_int_equal(q.oq_bytes, 3);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "rst");
	assert_int_equal(a->sb_refs, 2);
	assert_int_equal(b->sb_refs, 1);
	assert_int_equal(c->sb_refs, 1);
	/* New frames queue after the kept one. */
	outq_push(&q, c);
	queued_text(&q, text, sizeof text);
	assert_string_equal(text, "rstthird");
	outq_consume(&q, 8);
	assert_true(outq_empty(&q));
	assert_int_equal(a->sb_refs, 1);
	assert_int_equal(c->sb_refs, 1);

	/* Dropping on an empty queue does nothing. */
	outq_drop_unsent(&q);
	assert_true(outq_empty(&q));

	sbuf_unref(a);
	sbuf_unref(b);
	sbuf_unref(c);
}

/* Many entries through the free list, and buffers of many sizes. */
static void test_outq_many_entries(void **state)
{
	struct outq q = {0};
	size_t total = 0;
	(void)state;

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < 2000; i++) {
			size_t len = i % 700;
			struct sbuf *b = sbuf_new(len);
			assert_non_null(b);
			memset(b->sb_data, 'x', len);
			assert_int_equal(outq_push(&q, b), 0);
			sbuf_unref(b);
			total += len;
		}
		assert_int_equal(q.oq_bytes, total);
		/* Drain with a writev-like loop: 64 iovecs, 64 KiB per call. */
		while (q.oq_bytes > 0) {
			struct iovec iov[64];
			int n = outq_iov(&q, iov, 64, 65536);
			size_t len = 0;
			assert_true(n > 0 && n <= 64);
			for (int k = 0; k < n; k++)
				len += iov[k].iov_len;
			assert_true(len > 0 && len <= 65536);
			/* Pretend the kernel took a bit less than offered. */
			if (len > 7)
				len -= 7;
			outq_consume(&q, len);
			total -= len;
			assert_int_equal(q.oq_bytes, total);
		}
		outq_clear(&q);
		assert_true(outq_empty(&q));
	}
}

/* Behind a backlog small frames are copied into the queue's own buffer, large ones and the
 * first of an empty queue are shared; the bytes come out in order either way. */
static void test_outq_append_coalesces_behind_a_backlog(void **state)
{
	struct outq q = {0};
	struct sbuf *first = make("first"), *big = sbuf_new(OUTQ_COPY_MAX + 1);
	char text[8192];
	(void)state;

	assert_non_null(big);
	memset(big->sb_data, 'B', big->sb_len);
	assert_int_equal(outq_append(&q, first), 0);
	assert_int_equal(first->sb_refs, 2); /* shared: the queue was empty */
	for (int i = 0; i < 100; i++) {
		struct sbuf *small = make("ab");
		assert_int_equal(outq_append(&q, small), 0);
		assert_int_equal(small->sb_refs, 1); /* copied: the queue holds no reference */
		sbuf_unref(small);
	}
	/* "first" is shared by someone else, so the copies went to a buffer of the queue's
	 * own: two entries for 101 frames. */
	assert_int_equal(q.oq_count, 2);
	assert_int_equal(outq_append(&q, big), 0);
	assert_int_equal(big->sb_refs, 2);
	assert_int_equal(q.oq_count, 3);
	queued_text(&q, text, sizeof text);
	assert_int_equal(strncmp(text, "firstabab", 9), 0);
	assert_int_equal(strlen(text), 5 + 200 + OUTQ_COPY_MAX + 1);
	assert_int_equal(text[5 + 200], 'B');
	outq_clear(&q);
	sbuf_unref(first);
	sbuf_unref(big);
}

/* What a queue says it costs matches what it charged: every buffer whole, and its ring. */
static void test_outq_cost_is_what_it_holds(void **state)
{
	struct outq q = {0};
	struct sbuf *shared = make("shared frame");
	(void)state;

	assert_int_equal(outq_append(&q, shared), 0);
	/* Counted whole per queue: a slow client alone keeps a shared frame alive. */
	assert_true(q.oq_cost >= sbuf_cost(shared));
	for (int i = 0; i < 1000; i++) {
		struct sbuf *tiny = make("x");
		assert_int_equal(outq_append(&q, tiny), 0);
		sbuf_unref(tiny);
	}
	/* 1000 one-byte frames cost one coalescing buffer, not 1000 buffers of 512 bytes. */
	assert_true(q.oq_cost < 3 * 4096);
	outq_consume(&q, q.oq_bytes);
	assert_true(outq_empty(&q));
	assert_int_equal(q.oq_cost, 0);
	sbuf_unref(shared);
	/* Everything returned: with the caches emptied, nothing is charged. */
	outq_release_cache();
	sbuf_release_cache();
	assert_int_equal(membudget_used(), 0);
}

/* A ping flood's pongs behind a non-reader: the per-client cost grows by the wire bytes,
 * not by a buffer per frame. */
static void test_outq_cost_of_many_tiny_frames(void **state)
{
	struct outq q = {0};
	struct sbuf *head = sbuf_new(100000);
	(void)state;

	assert_non_null(head);
	assert_int_equal(outq_append(&q, head), 0);
	sbuf_unref(head);
	size_t base = q.oq_cost;
	for (int i = 0; i < 100000; i++) {
		struct sbuf *pong = sbuf_new(2);
		assert_non_null(pong);
		assert_int_equal(outq_append(&q, pong), 0);
		sbuf_unref(pong);
	}
	/* 200,000 wire bytes; within 10% of that, ring slots included. */
	assert_true(q.oq_cost - base < 220000);
	outq_clear(&q);
	assert_int_equal(q.oq_cost, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outq_append_coalesces_behind_a_backlog),
		cmocka_unit_test(test_outq_cost_is_what_it_holds),
		cmocka_unit_test(test_outq_cost_of_many_tiny_frames),
		cmocka_unit_test(test_sbuf_new_and_from),
		cmocka_unit_test(test_sbuf_recycling),
		cmocka_unit_test(test_sbuf_refcount),
		cmocka_unit_test(test_outq_push_and_iov),
		cmocka_unit_test(test_outq_iov_limits),
		cmocka_unit_test(test_outq_consume_partial),
		cmocka_unit_test(test_outq_consume_every_step),
		cmocka_unit_test(test_outq_broadcast_sharing),
		cmocka_unit_test(test_outq_same_buffer_twice),
		cmocka_unit_test(test_outq_drop_unsent),
		cmocka_unit_test(test_outq_many_entries),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
