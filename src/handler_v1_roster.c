/*
 * chatd.v1's presence across nodes (src/handler_v1_roster.h).
 *
 * While Redis answers, a room's joins and leaves are told by Redis alone, to every node
 * at once, its own included, with the count of the whole cluster; the node does not tell
 * its own clients beforehand. When Redis does not answer, the node tells its own clients
 * as it does without --redis, with its own count. Raw clients are counted per node, not
 * listed one by one to other nodes.
 */
#include "handler_v1_roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler_v1.h"
#include "handler_v1_log.h"
#include "handler_v1_out.h"
#include "json.h"

/* Names a join may try in Redis: its own, its local alternatives, then one with its id. */
#define V1_CANDIDATES 10
/* How long the word that a room has v1 clients elsewhere holds: nodes say it every two
 * seconds (roster.h), so it lapses two and a half of them after they stop. */
#define V1_REMOTE_MS 5000
/* People one restore sends (chatd_roster_restore takes up to 500). */
#define V1_RESTORE_CHUNK 64

/* The other nodes' people as the welcome writes them: objects with commas. */
static bool keep_others(struct v1_person *p, const struct chatd_roster_person *o, size_t n)
{
	size_t cap = n * (sizeof "{\"id\":,\"name\":\"\"}," + 20 + V1_NAME_MAX), len = 0;
	char *buf;

	if (n == 0)
		return true;
	if ((buf = malloc(cap)) == NULL)
		return false;
	chatd_memory_charge(cap);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s{\"id\":%llu,\"name\":\"%.*s\"}",
					i ? "," : "", (unsigned long long)o[i].rp_id,
					(int)o[i].rp_name_len, o[i].rp_name);
	p->vp_others = buf;
	p->vp_others_len = len;
	p->vp_others_cap = cap;
	return true;
}

void v1_roster_clear(struct v1_person *p)
{
	if (p->vp_others == NULL)
		return;
	free(p->vp_others);
	chatd_memory_release(p->vp_others_cap);
	p->vp_others = NULL;
	p->vp_others_len = p->vp_others_cap = 0;
}

/* The claim's answer: p's name in the cluster, who else is there, and the count. */
static void claimed(void *arg, bool ok, const char *name, size_t count,
		    const struct chatd_roster_person *others, size_t n)
{
	struct v1_person *p = arg;
	struct v1_room *r = p->vp_room;

	if (ok && p->vp_gone) { /* it left while claiming: the others heard it join */
		chatd_roster_leave(r->vr_server, r->vr_name, p->vp_id, name);
		v1_person_release(p);
		return;
	}
	if (p->vp_gone) {
		v1_person_release(p);
		return;
	}
	if (ok) {
		p->vp_rostered = true;
		snprintf(p->vp_name, sizeof p->vp_name, "%s", name);
		p->vp_count = count;
		if (!keep_others(p, others, n))
			p->vp_count = 0; /* the welcome falls back to what this node knows */
	}
	v1_log_read(p);
}

void v1_roster_join(struct v1_person *p)
{
	struct v1_room *r = p->vp_room;
	char names[V1_CANDIDATES][V1_NAME_MAX + 1];
	const char *list[V1_CANDIDATES];
	size_t n;

	/* Its own local name is no clash: off the list while the names are tried. */
	v1_room_unlink(r, p);
	n = v1_name_candidates(r, p->vp_requested, p->vp_id, names, V1_CANDIDATES);
	v1_room_link(r, p);
	for (size_t i = 0; i < n; i++)
		list[i] = names[i];
	if (n == 0 ||
	    chatd_roster_join(r->vr_server, r->vr_name, p->vp_id, list, n, claimed, p) < 0)
		claimed(p, false, NULL, 0, NULL, 0);
}

bool v1_roster_leave(struct v1_person *p)
{
	struct v1_room *r = p->vp_room;

	return p->vp_rostered &&
	       chatd_roster_leave(r->vr_server, r->vr_name, p->vp_id, p->vp_name) == 0;
}

bool v1_roster_raw(struct v1_room *r, uint64_t id, long delta)
{
	return chatd_log_shared(r->vr_server) &&
	       chatd_roster_raw(r->vr_server, r->vr_name, id, delta) == 0;
}

enum event_kind { EVENT_INVALID, EVENT_PRESENCE, EVENT_V1_JOIN, EVENT_V1_HERE };

/* A join or leave as Redis's script writes it, or its word that the room has v1 clients;
 * checked: it came through Redis. */
static enum event_kind event_parse(const char *e, size_t len, uint64_t *pid)
{
	struct json_token t[V1_TOKENS];
	int type, id, name, count;
	char who[V1_NAME_MAX];

	if (len < 2 || json_parse(e, len, t, V1_TOKENS, V1_DEPTH) < 1 ||
	    t[0].jt_kind != JSON_OBJECT)
		return EVENT_INVALID;
	type = json_object_get(e, t, 0, "type");
	if (type < 0)
		return EVENT_INVALID;
	if (v1_token_is(e, &t[type], "v1"))
		return EVENT_V1_HERE;
	id = json_object_get(e, t, 0, "id");
	name = json_object_get(e, t, 0, "name");
	count = json_object_get(e, t, 0, "count");
	if (!(v1_token_is(e, &t[type], "join") || v1_token_is(e, &t[type], "leave")) || id < 0 ||
	    t[id].jt_kind != JSON_NUMBER || name < 0 || t[name].jt_kind != JSON_STRING ||
	    t[name].jt_count > V1_NAME_MAX || count < 0 || t[count].jt_kind != JSON_NUMBER)
		return EVENT_INVALID;
	*pid = 0;
	for (uint32_t i = 0; i < t[id].jt_len && *pid < UINT64_MAX / 10; i++)
		if (e[t[id].jt_start + i] >= '0' && e[t[id].jt_start + i] <= '9')
			*pid = *pid * 10 + (uint64_t)(e[t[id].jt_start + i] - '0');
	json_string_decode(e, &t[name], who);
	if (v1_token_is(e, &t[type], "join") &&
	    (t[name].jt_count < 4 || memcmp(who, "raw-", 4) != 0))
		return EVENT_V1_JOIN;
	return EVENT_PRESENCE;
}

/* The room has v1 clients somewhere: kept here (made if need be), held a while. */
static void remote_seen(struct chatd *s, const char *room, struct v1_room *r)
{
	if (r == NULL) {
		if ((r = v1_room_get(s, room)) == NULL)
			return;
		v1_raw_count(r); /* counted in the cluster from now on */
		if (r->vr_raw > 0)
			v1_roster_raw(r, 0, (long)r->vr_raw);
	}
	r->vr_remote_until = v1_now_ms() + V1_REMOTE_MS;
	if (!r->vr_remote) {
		r->vr_remote = true;
		v1_room_hold(r);
	}
}

struct v1_room *v1_roster_expire(struct v1_room *r, bool force)
{
	if (!r->vr_remote || (!force && v1_now_ms() < r->vr_remote_until))
		return r;
	r->vr_remote = false;
	if (r->vr_members > 1) {
		v1_room_release(r);
		return r;
	}
	v1_room_release(r);
	return NULL;
}

/* A person of this node who heard live traffic already: not a joiner. */
static bool live_here(const struct v1_room *r, uint64_t id)
{
	for (const struct v1_person *p = r->vr_people; p != NULL; p = p->vp_next)
		if (p->vp_id == id)
			return !p->vp_joining;
	return false;
}

void v1_roster_event(struct chatd *s, const char *room, struct v1_room *r, const char *e,
		     size_t len)
{
	uint64_t id = 0;
	enum event_kind kind = event_parse(e, len, &id);

	if (kind == EVENT_INVALID)
		return;
	if (kind == EVENT_V1_HERE || kind == EVENT_V1_JOIN)
		remote_seen(s, room, r);
	if (kind == EVENT_V1_HERE || r == NULL || (kind == EVENT_V1_JOIN && live_here(r, id)))
		return; /* a join registered again after an outage: its own node knew it */
	if (r->vr_v1 > 0)
		chatd_broadcast_tag(s, room, NULL, V1_TAG_V1, CHATD_TEXT, e, len);
	/* Joiners hear it after their welcome (it may repeat what their list says), but
	 * for their own join. */
	for (struct v1_person *p = r->vr_joiners; p != NULL; p = p->vp_next_joiner)
		if (p->vp_id != id)
			v1_hold(p, UINT64_MAX, e, len);
}

/* Sends a chunk of r's people (and its raw count); those sent are rostered from now on,
 * so their leave goes to Redis. */
static void restore_send(struct v1_room *r, struct v1_person **who,
			 struct chatd_roster_person *people, size_t n)
{
	if (chatd_roster_restore(r->vr_server, r->vr_name, r->vr_raw, people, n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		who[i]->vp_rostered = true;
}

static void restore_room(struct v1_room *r, void *arg)
{
	struct chatd_roster_person people[V1_RESTORE_CHUNK];
	struct v1_person *who[V1_RESTORE_CHUNK];
	size_t n = 0;
	bool sent = false;

	if (r->vr_server != arg)
		return;

	for (struct v1_person *p = r->vr_people; p != NULL; p = p->vp_next) {
		if (p->vp_joining && !p->vp_rostered)
			continue; /* its claim is on its way */
		who[n] = p;
		people[n].rp_id = p->vp_id;
		people[n].rp_name = p->vp_name;
		people[n].rp_name_len = strlen(p->vp_name);
		if (++n == V1_RESTORE_CHUNK) {
			restore_send(r, who, people, n);
			sent = true;
			n = 0;
		}
	}
	if (n > 0 || (!sent && r->vr_raw > 0))
		restore_send(r, who, people, n);
}

void v1_roster_restore(struct chatd *s, void *user)
{
	(void)user;
	v1_room_each(restore_room, s);
}
