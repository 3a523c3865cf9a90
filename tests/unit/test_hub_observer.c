/*
 * Unit tests for the hub's observer (include/hub.h), the seam the Redis backplane hangs
 * on: every room opened is closed exactly once, a local publication is reported after the
 * local members got it (and also when the room has no members here), a publication from
 * outside (hub_publish_room) is never reported
 * (it would loop back out), and the report carries the room's name even when the walk
 * freed the room.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "hub.h"

struct seen {
	int opened, closed, published;
	char last_room[HUB_ROOM_NAME_MAX + 1];
	size_t last_plen;
	int delivered_before_publish; /* deliveries counted when ho_published ran */
};

static struct seen seen;
static int deliveries;
static struct hub *leave_hub; /* when set, a delivery to leaver makes it leave */
static struct hub_member *leaver;

static void note_room(const char *room, size_t len)
{
	memcpy(seen.last_room, room, len);
	seen.last_room[len] = '\0';
}

static void on_opened(void *arg, const char *room, size_t len)
{
	(void)arg;
	seen.opened++;
	note_room(room, len);
}

static void on_closed(void *arg, const char *room, size_t len)
{
	(void)arg;
	seen.closed++;
	note_room(room, len);
}

static void on_published(void *arg, const char *room, size_t len, uint8_t opcode,
			 const uint8_t *payload, size_t plen)
{
	(void)arg;
	(void)opcode;
	(void)payload;
	seen.published++;
	seen.last_plen = plen;
	seen.delivered_before_publish = deliveries;
	note_room(room, len);
}

static void deliver(struct hub_member *m, struct sbuf *frame)
{
	(void)frame;
	deliveries++;
	if (m == leaver && leave_hub != NULL)
		hub_leave(leave_hub, m);
}

static struct hub *setup_hub(void)
{
	struct hub *h = hub_new(deliver);
	const struct hub_observer obs = {
		.ho_room_opened = on_opened,
		.ho_room_closed = on_closed,
		.ho_published = on_published,
	};
	assert_non_null(h);
	hub_set_observer(h, &obs);
	memset(&seen, 0, sizeof seen);
	deliveries = 0;
	leave_hub = NULL;
	leaver = NULL;
	return h;
}

static void test_open_close_pairs(void **state)
{
	struct hub *h = setup_hub();
	struct hub_member a = {0}, b = {0};
	(void)state;

	assert_int_equal(hub_join(h, &a, "/x", 2), 0);
	assert_int_equal(seen.opened, 1);
	assert_int_equal(hub_join(h, &b, "/x", 2), 0);
	assert_int_equal(seen.opened, 1); /* the room exists: no second announcement */
	hub_leave(h, &a);
	assert_int_equal(seen.closed, 0);
	hub_leave(h, &b);
	assert_int_equal(seen.closed, 1);
	assert_string_equal(seen.last_room, "/x");
	assert_int_equal(hub_join(h, &a, "/x", 2), 0);
	assert_int_equal(seen.opened, 2);
	hub_leave(h, &a);
	assert_int_equal(seen.closed, 2);
	hub_free(h);
}

static void test_local_publish_reported_after_local_delivery(void **state)
{
	struct hub *h = setup_hub();
	struct hub_member a = {0}, b = {0};
	(void)state;

	hub_join(h, &a, "/r", 2);
	hub_join(h, &b, "/r", 2);
	assert_int_equal(
		hub_publish(h, hub_member_room(&a), 2, &a, WS_OP_TEXT, (const uint8_t *)"hello", 5),
		1);
	assert_int_equal(seen.published, 1);
	assert_int_equal(seen.delivered_before_publish, 1);
	assert_int_equal(seen.last_plen, 5);
	assert_string_equal(seen.last_room, "/r");

	/* Alone in the room: nobody local, still reported (other nodes may listen). */
	hub_leave(h, &b);
	assert_int_equal(hub_publish(h, "/r", 2, &a, WS_OP_BINARY, (const uint8_t *)"", 0), 0);
	assert_int_equal(seen.published, 2);

	/* To a room with nobody here: still reported (its members may be elsewhere). */
	assert_int_equal(
		hub_publish(h, "/elsewhere", 10, NULL, WS_OP_TEXT, (const uint8_t *)"x", 1), 0);
	assert_int_equal(seen.published, 3);
	assert_string_equal(seen.last_room, "/elsewhere");

	/* From outside: delivered, never reported. */
	hub_join(h, &b, "/r", 2);
	assert_int_equal(hub_publish_room(h, "/r", 2, WS_OP_TEXT, (const uint8_t *)"x", 1), 2);
	assert_int_equal(seen.published, 3);
	hub_leave(h, &a);
	hub_leave(h, &b);
	hub_free(h);
}

static void test_room_freed_during_walk_keeps_its_name(void **state)
{
	struct hub *h = setup_hub();
	struct hub_member a = {0};
	(void)state;

	hub_join(h, &a, "/gone", 5);
	leave_hub = h;
	leaver = &a; /* cut off while receiving its own echo: the room is freed */
	/* The name given is the room's own, freed with it during the walk. */
	assert_int_equal(
		hub_publish(h, hub_member_room(&a), 5, NULL, WS_OP_TEXT, (const uint8_t *)"bye", 3),
		1);
	assert_int_equal(seen.closed, 1);
	assert_int_equal(seen.published, 1);
	assert_string_equal(seen.last_room, "/gone");
	assert_int_equal(hub_room_count(h), 0);
	hub_free(h);
}

static void test_cleared_observer_hears_nothing(void **state)
{
	struct hub *h = setup_hub();
	struct hub_member a = {0};
	(void)state;

	hub_set_observer(h, NULL);
	hub_join(h, &a, "/q", 2);
	hub_publish(h, "/q", 2, &a, WS_OP_TEXT, (const uint8_t *)"x", 1);
	hub_leave(h, &a);
	assert_int_equal(seen.opened + seen.closed + seen.published, 0);
	hub_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_close_pairs),
		cmocka_unit_test(test_local_publish_reported_after_local_delivery),
		cmocka_unit_test(test_room_freed_during_walk_keeps_its_name),
		cmocka_unit_test(test_cleared_observer_hears_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
