/*
 * Unit tests for the hub (include/hub.h), written from the header: joining and leaving,
 * rooms made on first use and freed when empty, echo mode, publishing to N members and to
 * nobody else, and members that leave or join while a message is being delivered to
 * their room, up to a room emptied during its own broadcast through hub_publish_room.
 * Built with ASan like every unit test: a walk that touched a freed member array or room
 * would fail here at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "container.h"
#include "frame.h"
#include "hub.h"
#include "sbuf.h"

struct member;
typedef void (*reaction_fn)(struct member *m);

/* A member as a connection would be: the hub's part embedded, a log of what it got. */
struct member {
	struct hub_member mb_hub;
	int mb_id;
	int mb_received;
	char mb_last[64];           /* the last payload, as text */
	reaction_fn mb_on_delivery; /* runs inside the hub's walk */
	struct member *mb_other;    /* what the reaction acts on */
};

static struct hub *hub;
static int deliveries; /* in order, across all members */

/* Decodes the shared frame (a single unfragmented frame, payload under 126 bytes). */
static void deliver(struct hub_member *hm, struct sbuf *frame)
{
	struct member *m = container_of(hm, struct member, mb_hub);

	assert_true(frame->sb_len >= 2);
	assert_int_equal(frame->sb_data[0] & 0x80, 0x80); /* FIN */
	size_t len = frame->sb_data[1] & 0x7f;
	assert_true(len < 126);
	assert_int_equal(frame->sb_len, 2 + len);
	assert_true(len < sizeof m->mb_last);
	memcpy(m->mb_last, frame->sb_data + 2, len);
	m->mb_last[len] = '\0';
	m->mb_received++;
	deliveries++;
	if (m->mb_on_delivery != NULL)
		m->mb_on_delivery(m);
}

static void member_init(struct member *m, int id)
{
	memset(m, 0, sizeof *m);
	m->mb_id = id;
}

static void join(struct member *m, const char *room)
{
	assert_int_equal(hub_join(hub, &m->mb_hub, room, strlen(room)), 0);
}

/* A message from a member to its own room: everyone else gets it, or everyone with echo
 * (the default handler's two modes: except the sender, or none). */
static bool echo_mode;

static long publish(struct member *from, const char *text)
{
	const char *room = hub_member_room(&from->mb_hub);
	if (room == NULL)
		return 0;
	return hub_publish(hub, room, strlen(room), echo_mode ? NULL : &from->mb_hub, WS_OP_TEXT,
			   (const uint8_t *)text, strlen(text));
}

static long publish_room(const char *room, const char *text)
{
	return hub_publish_room(hub, room, strlen(room), WS_OP_TEXT, (const uint8_t *)text,
				strlen(text));
}

static int setup(void **state)
{
	(void)state;
	hub = hub_new(deliver);
	echo_mode = false;
	assert_non_null(hub);
	deliveries = 0;
	return 0;
}

static int setup_echo(void **state)
{
	(void)state;
	hub = hub_new(deliver);
	echo_mode = true;
	assert_non_null(hub);
	deliveries = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(hub_member_count(hub), 0); /* every test leaves with everyone */
	assert_int_equal(hub_room_count(hub), 0);
	hub_free(hub);
	hub = NULL;
	sbuf_release_cache();
	return 0;
}

static void test_join_and_leave(void **state)
{
	struct member a, b, c;
	char too_long[HUB_ROOM_NAME_MAX + 2];
	(void)state;

	member_init(&a, 1);
	member_init(&b, 2);
	member_init(&c, 3);
	join(&a, "/");
	join(&b, "/");
	join(&c, "/lobby");
	assert_int_equal(hub_member_count(hub), 3);
	assert_int_equal(hub_room_count(hub), 2);
	assert_non_null(a.mb_hub.hm_room);
	assert_ptr_equal(a.mb_hub.hm_room, b.mb_hub.hm_room);
	assert_ptr_not_equal(a.mb_hub.hm_room, c.mb_hub.hm_room);

	/* Names are compared whole: a prefix is another room. */
	struct member d;
	member_init(&d, 4);
	join(&d, "/lob");
	assert_ptr_not_equal(d.mb_hub.hm_room, c.mb_hub.hm_room);
	assert_int_equal(hub_room_count(hub), 3);
	hub_leave(hub, &d.mb_hub);
	assert_int_equal(hub_room_count(hub), 2);

	/* An empty name, or one over HUB_ROOM_NAME_MAX, is refused. */
	member_init(&d, 4);
	memset(too_long, 'x', sizeof too_long);
	too_long[0] = '/';
	assert_int_equal(hub_join(hub, &d.mb_hub, too_long, 0), -1);
	assert_int_equal(hub_join(hub, &d.mb_hub, too_long, HUB_ROOM_NAME_MAX + 1), -1);
	assert_null(d.mb_hub.hm_room);
	assert_int_equal(hub_join(hub, &d.mb_hub, too_long, HUB_ROOM_NAME_MAX), 0);
	hub_leave(hub, &d.mb_hub);

	hub_leave(hub, &a.mb_hub);
	hub_leave(hub, &a.mb_hub); /* not joined any more: a no-op */
	assert_null(a.mb_hub.hm_room);
	assert_int_equal(hub_member_count(hub), 2);
	assert_int_equal(hub_room_count(hub), 2);
	hub_leave(hub, &b.mb_hub);
	assert_int_equal(hub_room_count(hub), 1); /* "/" was freed with its last member */
	hub_leave(hub, &c.mb_hub);
	assert_int_equal(hub_room_count(hub), 0);
}

/* A room freed when empty is made again, empty, on the next join. */
static void test_rooms_are_freed_and_made_again(void **state)
{
	struct member a, b;
	(void)state;

	member_init(&a, 1);
	member_init(&b, 2);
	for (int round = 0; round < 3; round++) {
		join(&a, "/again");
		assert_int_equal(hub_room_count(hub), 1);
		assert_int_equal(publish(&a, "alone"), 0); /* nobody else there */
		join(&b, "/again");
		assert_int_equal(publish(&a, "hi"), 1);
		assert_int_equal(b.mb_received, round + 1);
		hub_leave(hub, &a.mb_hub);
		hub_leave(hub, &b.mb_hub);
		assert_int_equal(hub_room_count(hub), 0);
		assert_int_equal(publish_room("/again", "nobody"), 0);
	}
	assert_int_equal(a.mb_received, 0);
}

static void test_publish_reaches_the_room_but_the_sender(void **state)
{
	enum { N = 100, OTHERS = 10 };
	struct member m[N], other[OTHERS];
	(void)state;

	for (int i = 0; i < N; i++) {
		member_init(&m[i], i);
		join(&m[i], "/big");
	}
	for (int i = 0; i < OTHERS; i++) {
		member_init(&other[i], 1000 + i);
		join(&other[i], "/small");
	}
	assert_int_equal(publish(&m[17], "to the big room"), N - 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(m[i].mb_received, i == 17 ? 0 : 1);
		if (i != 17)
			assert_string_equal(m[i].mb_last, "to the big room");
	}
	for (int i = 0; i < OTHERS; i++)
		assert_int_equal(other[i].mb_received, 0);

	/* From outside (the bridge's path): everyone in the room, nobody elsewhere. */
	assert_int_equal(publish_room("/small", "bridged"), OTHERS);
	for (int i = 0; i < OTHERS; i++)
		assert_string_equal(other[i].mb_last, "bridged");
	assert_int_equal(publish_room("/nowhere", "lost"), 0);
	assert_int_equal(deliveries, N - 1 + OTHERS);

	/* Leaving in any order keeps the others reachable, each exactly once. */
	for (int i = 0; i < N; i += 2)
		hub_leave(hub, &m[i].mb_hub);
	assert_int_equal(publish(&m[1], "odd ones"), N / 2 - 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(m[i].mb_received, i == 17 ? 1 : i % 2 == 0 || i == 1 ? 1 : 2);
	for (int i = 1; i < N; i += 2)
		hub_leave(hub, &m[i].mb_hub);
	for (int i = 0; i < OTHERS; i++)
		hub_leave(hub, &other[i].mb_hub);
}

static void test_echo_mode_includes_the_sender(void **state)
{
	struct member a, b;
	(void)state;

	member_init(&a, 1);
	member_init(&b, 2);
	join(&a, "/");
	assert_int_equal(publish(&a, "me"), 1); /* alone, and still hears itself */
	assert_string_equal(a.mb_last, "me");
	join(&b, "/");
	assert_int_equal(publish(&a, "us"), 2);
	assert_int_equal(a.mb_received, 2);
	assert_int_equal(b.mb_received, 1);
	hub_leave(hub, &a.mb_hub);
	hub_leave(hub, &b.mb_hub);
}

static void leave_other(struct member *m)
{
	hub_leave(hub, &m->mb_other->mb_hub);
}

/* A member's delivery makes another member leave (a recipient cut off, say): the walk
 * neither skips nor repeats anyone, and the one who left hears nothing after leaving. */
static void test_member_leaving_during_a_walk(void **state)
{
	enum { N = 8 };
	struct member m[N];
	(void)state;

	for (int i = 0; i < N; i++) {
		member_init(&m[i], i);
		join(&m[i], "/walk");
	}
	/* Joined in order, so walked in order: 2 removes 6 (not reached yet) and 3 removes
	 * 1 (reached already). */
	m[2].mb_on_delivery = leave_other;
	m[2].mb_other = &m[6];
	m[3].mb_on_delivery = leave_other;
	m[3].mb_other = &m[1];
	assert_int_equal(publish_room("/walk", "first"), N - 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(m[i].mb_received, i == 6 ? 0 : 1);
	assert_int_equal(hub_member_count(hub), N - 2);

	/* The holes are gone: the next message reaches the N - 2 left, once each. */
	m[2].mb_on_delivery = NULL;
	m[3].mb_on_delivery = NULL;
	assert_int_equal(publish(&m[0], "second"), N - 3);
	for (int i = 0; i < N; i++) {
		int expect = i == 6 ? 0 : i == 1 || i == 0 ? 1 : 2;
		assert_int_equal(m[i].mb_received, expect);
	}
	for (int i = 0; i < N; i++)
		hub_leave(hub, &m[i].mb_hub);
}

static void leave_self(struct member *m)
{
	hub_leave(hub, &m->mb_hub);
}

/* The path no connection takes today but the Redis bridge will: a message for a room,
 * from nobody in it, whose every member leaves while it is delivered. The room must
 * outlive the walk and be freed after it, with no access to freed memory (ASan). */
static void test_room_emptied_during_its_own_broadcast(void **state)
{
	enum { N = 50 };
	struct member m[N], bystander;
	(void)state;

	member_init(&bystander, 999);
	join(&bystander, "/elsewhere");
	for (int i = 0; i < N; i++) {
		member_init(&m[i], i);
		m[i].mb_on_delivery = leave_self;
		join(&m[i], "/doomed");
	}
	assert_int_equal(hub_room_count(hub), 2);
	assert_int_equal(publish_room("/doomed", "last words"), N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(m[i].mb_received, 1);
		assert_null(m[i].mb_hub.hm_room);
	}
	assert_int_equal(hub_room_count(hub), 1);
	assert_int_equal(hub_member_count(hub), 1);
	assert_int_equal(publish_room("/doomed", "to nobody"), 0);

	/* The room can be made again afterwards, as a new empty room. */
	m[0].mb_on_delivery = NULL;
	join(&m[0], "/doomed");
	assert_int_equal(publish_room("/doomed", "again"), 1);
	hub_leave(hub, &m[0].mb_hub);
	hub_leave(hub, &bystander.mb_hub);
	assert_int_equal(bystander.mb_received, 0);
}

static void leave_then_join_other(struct member *m)
{
	hub_leave(hub, &m->mb_hub);
	if (m->mb_other != NULL) {
		join(m->mb_other, "/doomed"); /* joins the room being walked, emptied */
		m->mb_other = NULL;
	}
}

/* Emptied during its walk, then joined again before the walk ends: the room must survive
 * (it has a member) and the newcomer must not hear the message already under way. */
static void test_room_emptied_and_rejoined_during_its_walk(void **state)
{
	enum { N = 6 };
	struct member m[N], late;
	(void)state;

	member_init(&late, 100);
	for (int i = 0; i < N; i++) {
		member_init(&m[i], i);
		m[i].mb_on_delivery = leave_then_join_other;
		join(&m[i], "/doomed");
	}
	m[N - 1].mb_other = &late; /* the last to leave brings someone in */
	assert_int_equal(publish_room("/doomed", "under way"), N);
	assert_int_equal(late.mb_received, 0);
	assert_int_equal(hub_room_count(hub), 1);
	assert_int_equal(hub_member_count(hub), 1);
	assert_int_equal(publish_room("/doomed", "next"), 1);
	assert_string_equal(late.mb_last, "next");
	hub_leave(hub, &late.mb_hub);
}

static void join_many(struct member *m)
{
	/* Enough members to make the room's array grow (realloc) under the walk, and enough
	 * rooms to make the hub's table grow. */
	struct member *extra = m->mb_other;
	char name[32];
	for (int i = 0; i < 64; i++) {
		join(&extra[i], "/grow");
		snprintf(name, sizeof name, "/side%d", i);
		join(&extra[64 + i], name);
	}
	m->mb_on_delivery = NULL;
}

static void test_joins_during_a_walk(void **state)
{
	static struct member extra[128];
	struct member a, b;
	(void)state;

	member_init(&a, 1);
	member_init(&b, 2);
	for (int i = 0; i < 128; i++)
		member_init(&extra[i], 10 + i);
	join(&a, "/grow");
	join(&b, "/grow");
	a.mb_on_delivery = join_many;
	a.mb_other = extra;
	assert_int_equal(publish_room("/grow", "first"), 2); /* newcomers not included */
	for (int i = 0; i < 128; i++)
		assert_int_equal(extra[i].mb_received, 0);
	assert_int_equal(hub_room_count(hub), 1 + 64);
	assert_int_equal(publish_room("/grow", "second"), 2 + 64);
	for (int i = 0; i < 128; i++) {
		assert_int_equal(extra[i].mb_received, i < 64 ? 1 : 0);
		hub_leave(hub, &extra[i].mb_hub);
	}
	hub_leave(hub, &a.mb_hub);
	hub_leave(hub, &b.mb_hub);
}

/* Many rooms, as a hash-flooding client would open them: each its own room, each found
 * again, and all freed. */
static void test_many_rooms(void **state)
{
	enum { N = 5000 };
	static struct member m[N];
	char name[HUB_ROOM_NAME_MAX + 1];
	(void)state;

	for (int i = 0; i < N; i++) {
		member_init(&m[i], i);
		snprintf(name, sizeof name, "/room-%d", i);
		join(&m[i], name);
	}
	assert_int_equal(hub_room_count(hub), N);
	for (int i = 0; i < N; i += 97) {
		snprintf(name, sizeof name, "/room-%d", i);
		assert_int_equal(publish_room(name, "x"), 1);
		assert_int_equal(m[i].mb_received, 1);
	}
	struct hub_room_info top[3];
	assert_int_equal(hub_top_rooms(hub, top, 3), 3);
	assert_int_equal(top[0].ri_members, 1);
	for (int i = 0; i < N; i++)
		hub_leave(hub, &m[i].mb_hub);
}

static void test_top_rooms_most_populated_first(void **state)
{
	struct member m[6];
	struct hub_room_info top[4];
	(void)state;

	for (int i = 0; i < 6; i++)
		member_init(&m[i], i);
	join(&m[0], "/one");
	join(&m[1], "/three");
	join(&m[2], "/three");
	join(&m[3], "/three");
	join(&m[4], "/two");
	join(&m[5], "/two");
	assert_int_equal(hub_top_rooms(hub, top, 4), 3);
	assert_string_equal(top[0].ri_name, "/three");
	assert_int_equal(top[0].ri_members, 3);
	assert_string_equal(top[1].ri_name, "/two");
	assert_string_equal(top[2].ri_name, "/one");
	assert_int_equal(hub_top_rooms(hub, top, 1), 1);
	assert_string_equal(top[0].ri_name, "/three");
	for (int i = 0; i < 6; i++)
		hub_leave(hub, &m[i].mb_hub);
}

/* hub_room_each: a visitor that records ids, stops after a given count, and can make
 * members leave under the walk. */
struct visit {
	int v_ids[16];
	int v_count;
	int v_stop_after; /* 0: never */
	bool v_leave;     /* each visited member leaves, and so does the next in v_others */
	struct member *v_others;
	int v_other_count;
};

static bool visit(struct hub_member *hm, void *arg)
{
	struct visit *v = arg;
	struct member *m = container_of(hm, struct member, mb_hub);

	assert_true(v->v_count < 16);
	v->v_ids[v->v_count++] = m->mb_id;
	if (v->v_leave) {
		hub_leave(hub, &m->mb_hub);
		for (int i = 0; i < v->v_other_count; i++)
			if (v->v_others[i].mb_hub.hm_room != NULL) {
				hub_leave(hub, &v->v_others[i].mb_hub);
				break;
			}
	}
	return v->v_stop_after == 0 || v->v_count < v->v_stop_after;
}

static void test_room_each_visits_the_room_until_told_to_stop(void **state)
{
	struct member m[6];
	struct visit v = {0};
	int seen = 0;
	(void)state;

	for (int i = 0; i < 6; i++) {
		member_init(&m[i], i + 1);
		join(&m[i], i < 5 ? "/w" : "/x");
	}
	assert_int_equal(hub_room_each(hub, "/w", 2, visit, &v), 5);
	for (int i = 0; i < v.v_count; i++)
		seen |= 1 << v.v_ids[i];
	assert_int_equal(seen, 0x3e); /* members 1 to 5, each once; not 6 */
	memset(&v, 0, sizeof v);
	v.v_stop_after = 2;
	assert_int_equal(hub_room_each(hub, "/w", 2, visit, &v), 2);
	assert_int_equal(hub_room_each(hub, "/none", 5, visit, &v), 0);
	assert_int_equal(deliveries, 0);
	for (int i = 0; i < 6; i++)
		hub_leave(hub, &m[i].mb_hub);
}

/* Members leaving under the walk are not visited after, and the room they empty is freed
 * when the walk ends, not during it. */
static void test_room_emptied_during_a_room_each(void **state)
{
	struct member m[6];
	struct visit v = {0};
	(void)state;

	for (int i = 0; i < 6; i++) {
		member_init(&m[i], i + 1);
		join(&m[i], "/e");
	}
	v.v_leave = true;
	v.v_others = m;
	v.v_other_count = 6;
	assert_int_equal(hub_room_each(hub, "/e", 2, visit, &v), 3); /* each visit takes 2 */
	assert_int_equal(hub_member_count(hub), 0);
	assert_int_equal(hub_room_count(hub), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join_and_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rooms_are_freed_and_made_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_publish_reaches_the_room_but_the_sender, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_echo_mode_includes_the_sender, setup_echo,
						teardown),
		cmocka_unit_test_setup_teardown(test_member_leaving_during_a_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_emptied_during_its_own_broadcast, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_room_emptied_and_rejoined_during_its_walk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_joins_during_a_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rooms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_rooms_most_populated_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_room_each_visits_the_room_until_told_to_stop,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_emptied_during_a_room_each, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
