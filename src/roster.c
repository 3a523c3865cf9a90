/*
 * Who is in each room on every node, in Redis (include/roster.h).
 *
 * Keys, next to the room's log (roomlog.c): the room's channel and "#nodes" (a set: the
 * nodes with people in the room) and "#who@" and a node's id in hex (a hash: id -> name,
 * and "raw" -> the node's raw clients); and the node's anchor and "#alive", which the node
 * refreshes every heartbeat. The room's keys expire a day after its last change. Keys are
 * made inside the script from the channel, as the standalone Redis chatd uses allows.
 *
 * Everything Redis answers is checked before a handler sees it: ids are decimal numbers,
 * names 1 to 24 bytes of a name's characters; an answer that is not is no answer (not ok).
 */
#include "roster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <openssl/sha.h>

#include "backplane_internal.h"
#include "envelope.h"
#include "frame.h"
#include "log.h"
#include "membudget.h"
#include "roomlog.h"

#define ROSTER_ALIVE_MS  "5000" /* a node silent this long is gone */
#define ROSTER_NAME_MAX  24
#define ROSTER_NAMES_MAX 16 /* names a join may ask for */
/* Heartbeats between sweeps of the rooms this node has people in: a dead node's people
 * leave within ROSTER_ALIVE_MS and two heartbeats. */
#define ROSTER_SWEEP_TICKS 2

/* ARGV: channel, alive prefix (the anchor without its hex), this node (hex), envelope
 * header (with id 0), op, id, alive ms, then per op: join: max listed, names...; leave:
 * name; raw: delta; restore: the raw count, then id, name pairs (each one's join
 * published unless Redis had it); sweep: nothing. join returns {name, count, id, name, ...}
 * (others); the others return how many entries this node keeps in the room. A sweep by a node with
 * people in the room publishes {"type":"v1"}: the room has people of chatd.v1's here,
 * which tells nodes where the room has raw clients alone to send their lines through the
 * log (chatd_roster_* in chatd.h). */
static const char roster_script[] =
	"local ch, pre, me, hdr, op, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]\n"
	"local nodes = ch .. '#nodes'\n"
	"local function who(n) return ch .. '#who@' .. n end\n"
	"local mine = who(me)\n"
	"redis.call('SET', pre .. me .. '#alive', '1', 'PX', ARGV[7])\n"
	"local function count()\n"
	"  local c = 0\n"
	"  for _, n in ipairs(redis.call('SMEMBERS', nodes)) do\n"
	"    local raw = redis.call('HGET', who(n), 'raw')\n"
	"    c = c + redis.call('HLEN', who(n))\n"
	"    if raw then c = c - 1 + tonumber(raw) end\n"
	"  end\n"
	"  return c\n"
	"end\n"
	"local function event(kind, pid, name)\n"
	"  redis.call('PUBLISH', ch, hdr .. '{\"type\":\"' .. kind .. '\",\"id\":' .. pid ..\n"
	"    ',\"name\":\"' .. name .. '\",\"count\":' .. count() .. '}')\n"
	"end\n"
	"for _, n in ipairs(redis.call('SMEMBERS', nodes)) do\n"
	"  if n ~= me and redis.call('EXISTS', pre .. n .. '#alive') == 0 then\n"
	"    local all = redis.call('HGETALL', who(n))\n"
	"    redis.call('DEL', who(n))\n"
	"    redis.call('SREM', nodes, n)\n"
	"    for i = 1, #all, 2 do\n"
	"      if all[i] ~= 'raw' then event('leave', all[i], all[i + 1]) end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"local out\n"
	"if op == 'join' then\n"
	"  local taken, name = {}, ARGV[#ARGV]\n"
	"  for _, n in ipairs(redis.call('SMEMBERS', nodes)) do\n"
	"    local all = redis.call('HGETALL', who(n))\n"
	"    for i = 1, #all, 2 do\n"
	"      if all[i] ~= 'raw' then taken[string.lower(all[i + 1])] = true end\n"
	"    end\n"
	"  end\n"
	"  for i = 9, #ARGV do\n"
	"    if not taken[string.lower(ARGV[i])] then name = ARGV[i]; break end\n"
	"  end\n"
	"  redis.call('HSET', mine, id, name)\n"
	"  redis.call('SADD', nodes, me)\n"
	"  event('join', id, name)\n"
	"  out = {name, count()}\n"
	"  local max = 2 + 2 * tonumber(ARGV[8])\n"
	"  for _, n in ipairs(redis.call('SMEMBERS', nodes)) do\n"
	"    if n ~= me then\n"
	"      local all = redis.call('HGETALL', who(n))\n"
	"      for i = 1, #all, 2 do\n"
	"        if all[i] ~= 'raw' and #out < max then\n"
	"          out[#out + 1] = all[i]; out[#out + 1] = all[i + 1]\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"elseif op == 'leave' then\n"
	"  if redis.call('HDEL', mine, id) == 1 then event('leave', id, ARGV[8]) end\n"
	"elseif op == 'raw' then\n"
	"  local d = tonumber(ARGV[8])\n"
	"  if redis.call('HINCRBY', mine, 'raw', d) <= 0 then redis.call('HDEL', mine, 'raw') end\n"
	"  if redis.call('HLEN', mine) > 0 then redis.call('SADD', nodes, me) end\n"
	"  if id ~= '0' then event(d > 0 and 'join' or 'leave', id, 'raw-' .. id) end\n"
	"elseif op == 'restore' then\n"
	"  if tonumber(ARGV[8]) > 0 then redis.call('HSET', mine, 'raw', ARGV[8])\n"
	"  else redis.call('HDEL', mine, 'raw') end\n"
	"  for i = 9, #ARGV - 1, 2 do\n"
	"    if redis.call('HSET', mine, ARGV[i], ARGV[i + 1]) == 1 then\n"
	"      event('join', ARGV[i], ARGV[i + 1])\n"
	"    end\n"
	"  end\n"
	"  if redis.call('HLEN', mine) > 0 then redis.call('SADD', nodes, me) end\n"
	"elseif redis.call('HLEN', mine) > redis.call('HEXISTS', mine, 'raw') then\n"
	"  redis.call('PUBLISH', ch, hdr .. '{\"type\":\"v1\"}')\n"
	"end\n"
	"local left = redis.call('HLEN', mine)\n"
	"if left == 0 then redis.call('SREM', nodes, me) end\n"
	"redis.call('EXPIRE', nodes, 86400)\n"
	"redis.call('EXPIRE', mine, 86400)\n"
	"return out or left\n";

struct roster {
	struct backplane *ro_bp;
	char ro_sha[2 * SHA_DIGEST_LENGTH + 1];
	char ro_alive_prefix[BACKPLANE_PREFIX_MAX + 8]; /* prefix "@node:" */
	char ro_me[17];                                 /* this node, hex */
	uint8_t ro_header[ENVELOPE_HEADER_SIZE + ENVELOPE_ID_SIZE];
	struct room_set ro_rooms; /* rooms this node has people in, in Redis: swept */
	unsigned ro_ticks;
	bool ro_error_logged;
};

/* A join in flight (owned until answered, charged). */
struct rs_join {
	struct roster *rj_roster;
	chatd_roster_fn rj_fn;
	void *rj_arg;
	size_t rj_charged;
};

struct roster *roster_new(struct backplane *bp)
{
	struct roster *ro = calloc(1, sizeof *ro);
	unsigned char d[SHA_DIGEST_LENGTH];

	if (ro == NULL)
		return NULL;
	ro->ro_bp = bp;
	SHA1((const unsigned char *)roster_script, strlen(roster_script), d);
	for (size_t i = 0; i < sizeof d; i++)
		snprintf(ro->ro_sha + 2 * i, 3, "%02x", d[i]);
	snprintf(ro->ro_alive_prefix, sizeof ro->ro_alive_prefix, "%s@node:", bp->bp_prefix);
	snprintf(ro->ro_me, sizeof ro->ro_me, "%016" PRIx64, bp->bp_node);
	envelope_encode(ro->ro_header, sizeof ro->ro_header, bp->bp_node, WS_OP_TEXT, NULL, 0);
	ro->ro_header[1] |= ENVELOPE_LOGGED;
	memset(ro->ro_header + ENVELOPE_HEADER_SIZE, 0, ENVELOPE_ID_SIZE);
	/* A join's answer lists up to ROSTER_LIST_MAX people: two elements each. */
	if (bp->bp_pub.bl_guard.rg_max_elements < 2 * ROSTER_LIST_MAX + 2)
		bp->bp_pub.bl_guard.rg_max_elements = 2 * ROSTER_LIST_MAX + 2;
	if (bp->bp_pub.bl_event.re_max_reply < ROSTER_LIST_MAX * 64 + 4096)
		bp->bp_pub.bl_event.re_max_reply = ROSTER_LIST_MAX * 64 + 4096;
	if (bp->bp_pub_max_reply < bp->bp_pub.bl_event.re_max_reply)
		bp->bp_pub_max_reply = bp->bp_pub.bl_event.re_max_reply;
	return ro;
}

void roster_free(struct roster *ro)
{
	if (ro == NULL)
		return;
	room_set_clear(&ro->ro_rooms);
	free(ro);
}

uint64_t roster_node_tag(const struct roster *ro)
{
	return ro->ro_bp->bp_node % 0xFFFFF + 1;
}

/* What a request holds until answered: its arguments in hiredis's buffer, and at most a
 * join's answer. */
static size_t request_cost(size_t args)
{
	return membudget_block(256 + BACKPLANE_CHANNEL_MAX + args);
}

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > ROSTER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

/* A decimal id of up to 19 digits (Redis's integers are strings in a hash). */
static bool id_parse(const redisReply *e, uint64_t *out)
{
	uint64_t v = 0;

	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 19)
		return false;
	for (size_t i = 0; i < e->len; i++) {
		if (e->str[i] < '0' || e->str[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(e->str[i] - '0');
	}
	*out = v;
	return true;
}

static void request_failed(struct roster *ro, const char *why)
{
	if (!ro->ro_error_logged)
		log_warn("redis: a presence change failed: %s (logged once)", why);
	ro->ro_error_logged = true;
}

/* Checks a join's answer ({name, count, id, name, ...}) and hands it over. */
static bool join_answer(struct rs_join *rj, const redisReply *reply)
{
	struct chatd_roster_person *others = NULL;
	char name[ROSTER_NAME_MAX + 1];
	uint64_t count;
	size_t n = 0, size;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || reply->elements % 2 != 0 ||
	    reply->elements > 2 * ROSTER_LIST_MAX + 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    !name_ok(reply->element[0]->str, reply->element[0]->len) ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[1]->integer < 0)
		return false;
	memcpy(name, reply->element[0]->str, reply->element[0]->len);
	name[reply->element[0]->len] = '\0';
	count = (uint64_t)reply->element[1]->integer;
	size = (reply->elements / 2) * sizeof *others;
	if ((others = malloc(size)) == NULL)
		return false;
	membudget_charge(membudget_block(size));
	for (size_t i = 2; i + 1 < reply->elements; i += 2) {
		const redisReply *who = reply->element[i + 1];
		if (!id_parse(reply->element[i], &others[n].rp_id) ||
		    who->type != REDIS_REPLY_STRING || !name_ok(who->str, who->len)) {
			rj->rj_roster->ro_bp->bp_metrics.mr_invalid++;
			continue;
		}
		others[n].rp_name = who->str;
		others[n].rp_name_len = who->len;
		n++;
	}
	rj->rj_fn(rj->rj_arg, true, name, (size_t)count, others, n);
	free(others);
	membudget_release(membudget_block(size));
	return true;
}

static void on_joined(redisAsyncContext *ac, void *r, void *privdata)
{
	struct rs_join *rj = privdata;
	struct roster *ro = rj->rj_roster;
	const redisReply *reply = r;

	if (reply != NULL && ac->data != NULL)
		backplane_pending_done(ro->ro_bp, rj->rj_charged);
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		if (strncmp(reply->str, "NOSCRIPT", 8) == 0)
			roster_on_up(ro);
		request_failed(ro, reply->str);
	}
	if (reply == NULL || !join_answer(rj, reply))
		rj->rj_fn(rj->rj_arg, false, NULL, 0, NULL, 0);
	membudget_release(membudget_block(sizeof *rj));
	free(rj);
}

static void on_changed(redisAsyncContext *ac, void *r, void *privdata)
{
	const redisReply *reply = r;

	if (ac->data == NULL || reply == NULL)
		return;
	struct backplane *bp = ((struct bp_link *)ac->data)->bl_bp;
	backplane_pending_done(bp, (size_t)(uintptr_t)privdata);
	if (reply->type != REDIS_REPLY_ERROR || bp->bp_log == NULL)
		return;
	struct roster *ro = roomlog_roster(bp->bp_log);
	if (strncmp(reply->str, "NOSCRIPT", 8) == 0)
		roster_on_up(ro);
	request_failed(ro, reply->str);
}

/* The room a sweep looked at: kept while this node has entries there. */
struct rs_sweep {
	struct roster *rw_roster;
	size_t rw_cost;
	size_t rw_len;
	char rw_room[HUB_ROOM_NAME_MAX + 1];
};

static void on_swept(redisAsyncContext *ac, void *r, void *privdata)
{
	struct rs_sweep *rw = privdata;
	const redisReply *reply = r;

	if (reply != NULL && ac->data != NULL) {
		backplane_pending_done(rw->rw_roster->ro_bp, rw->rw_cost);
		if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
			room_set_remove(&rw->rw_roster->ro_rooms, rw->rw_room, rw->rw_len);
	}
	membudget_release(membudget_block(sizeof *rw));
	free(rw);
}

/* Sends the script for room: op, id, then extra[0..n). */
static int run(struct roster *ro, const char *room, const char *op, uint64_t id,
	       const char *const *extra, size_t n, redisCallbackFn *fn, void *privdata, size_t cost)
{
	struct backplane *bp = ro->ro_bp;
	char channel[BACKPLANE_CHANNEL_MAX], id_s[24];
	size_t room_len = strlen(room), size = (10 + n) * (sizeof(char *) + sizeof(size_t));
	const char **argv;
	size_t *argl;
	int status;

	if (!bp->bp_up || bp->bp_pub.bl_context == NULL || room_len == 0 ||
	    room_len > HUB_ROOM_NAME_MAX || bp->bp_pending_bytes + cost > bp->bp_max_pending ||
	    (argv = malloc(size)) == NULL)
		return -1;
	argl = (size_t *)(argv + 10 + n);
	snprintf(id_s, sizeof id_s, "%" PRIu64, id);
	argv[0] = "EVALSHA";
	argv[1] = ro->ro_sha;
	argv[2] = "0";
	argl[3] = backplane_channel(bp, channel, room, room_len);
	argv[3] = channel;
	argv[4] = ro->ro_alive_prefix;
	argv[5] = ro->ro_me;
	argv[6] = (const char *)ro->ro_header;
	argv[7] = op;
	argv[8] = id_s;
	argv[9] = ROSTER_ALIVE_MS;
	for (size_t i = 0; i < 10; i++)
		if (i != 3)
			argl[i] = i == 6 ? sizeof ro->ro_header : strlen(argv[i]);
	for (size_t i = 0; i < n; i++) {
		argv[10 + i] = extra[i];
		argl[10 + i] = strlen(extra[i]);
	}
	/* hiredis copies the arguments: the arrays are ours to free at once. */
	status = redisAsyncCommandArgv(bp->bp_pub.bl_context, fn, privdata, (int)(10 + n), argv,
				       argl);
	free(argv);
	if (status != REDIS_OK)
		return -1;
	backplane_pending_add(bp, cost);
	if (room_set_add(&ro->ro_rooms, room, room_len) < 0)
		log_warn("redis: out of memory: room %s is not swept", room);
	return 0;
}

int roster_join(struct roster *ro, const char *room, uint64_t id, const char *const *names,
		size_t n, chatd_roster_fn fn, void *arg)
{
	const char *extra[1 + ROSTER_NAMES_MAX];
	char max[24];
	struct rs_join *rj;
	size_t cost = request_cost(n * (ROSTER_NAME_MAX + 8)) +
		      membudget_block(ROSTER_LIST_MAX * 64 + 4096);

	if (n == 0 || n > ROSTER_NAMES_MAX || (rj = calloc(1, sizeof *rj)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!name_ok(names[i], strlen(names[i]))) {
			free(rj);
			return -1;
		}
	membudget_charge(membudget_block(sizeof *rj));
	rj->rj_roster = ro;
	rj->rj_fn = fn;
	rj->rj_arg = arg;
	rj->rj_charged = cost;
	snprintf(max, sizeof max, "%d", ROSTER_LIST_MAX);
	extra[0] = max;
	memcpy(extra + 1, names, n * sizeof *names);
	if (run(ro, room, "join", id, extra, n + 1, on_joined, rj, cost) < 0) {
		membudget_release(membudget_block(sizeof *rj));
		free(rj);
		return -1;
	}
	return 0;
}

int roster_leave(struct roster *ro, const char *room, uint64_t id, const char *name)
{
	size_t cost = request_cost(ROSTER_NAME_MAX) + membudget_block(32);

	if (!name_ok(name, strlen(name)))
		return -1;
	// NOLINTNEXTLINE(performance-no-int-to-ptr)
	return run(ro, room, "leave", id, &name, 1, on_changed, (void *)(uintptr_t)cost, cost);
}

int roster_raw(struct roster *ro, const char *room, uint64_t id, long delta)
{
	char d[24];
	const char *extra = d;
	size_t cost = request_cost(24) + membudget_block(32);

	snprintf(d, sizeof d, "%ld", delta);
	// NOLINTNEXTLINE(performance-no-int-to-ptr)
	return run(ro, room, "raw", id, &extra, 1, on_changed, (void *)(uintptr_t)cost, cost);
}

int roster_restore(struct roster *ro, const char *room, size_t raw,
		   const struct chatd_roster_person *people, size_t n)
{
	char raw_s[24], (*ids)[24];
	const char **extra;
	size_t cost = request_cost(n * (24 + ROSTER_NAME_MAX + 16)) + membudget_block(32);
	int status = -1;

	if (n > ROSTER_RESTORE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (people[i].rp_name_len != strlen(people[i].rp_name) ||
		    !name_ok(people[i].rp_name, people[i].rp_name_len))
			return -1;
	extra = malloc((1 + 2 * n) * sizeof *extra);
	ids = malloc((n ? n : 1) * sizeof *ids);
	if (extra != NULL && ids != NULL) {
		snprintf(raw_s, sizeof raw_s, "%zu", raw);
		extra[0] = raw_s;
		for (size_t i = 0; i < n; i++) {
			snprintf(ids[i], sizeof ids[i], "%" PRIu64, people[i].rp_id);
			extra[1 + 2 * i] = ids[i];
			extra[2 + 2 * i] = people[i].rp_name;
		}
		// NOLINTNEXTLINE(performance-no-int-to-ptr)
		void *cost_p = (void *)(uintptr_t)cost;
		status = run(ro, room, "restore", 0, extra, 1 + 2 * n, on_changed, cost_p, cost);
	}
	free(extra);
	free(ids);
	return status;
}

void roster_on_up(struct roster *ro)
{
	struct backplane *bp = ro->ro_bp;
	const char *argv[] = {"SCRIPT", "LOAD", roster_script};
	size_t argl[] = {6, 4, strlen(roster_script)};

	if (bp->bp_pub.bl_context == NULL)
		return;
	if (redisAsyncCommandArgv(bp->bp_pub.bl_context, backplane_script_loaded, NULL, 3, argv,
				  argl) != REDIS_OK)
		return backplane_session_fail(bp, "SCRIPT LOAD", "cannot queue the command");
	backplane_pending_add(bp, 0);
}

static void sweep_room(void *arg, const char *room, size_t len)
{
	struct roster *ro = arg;
	struct rs_sweep *rw = malloc(sizeof *rw);
	size_t cost = request_cost(0) + membudget_block(32);

	if (rw == NULL)
		return;
	membudget_charge(membudget_block(sizeof *rw));
	rw->rw_roster = ro;
	rw->rw_cost = cost;
	rw->rw_len = len;
	memcpy(rw->rw_room, room, len);
	rw->rw_room[len] = '\0';
	/* run adds the room to the set being walked: it is there already. */
	if (run(ro, rw->rw_room, "sweep", 0, NULL, 0, on_swept, rw, cost) < 0) {
		membudget_release(membudget_block(sizeof *rw));
		free(rw);
	}
}

/* The node's alive key, and now and then a sweep of its rooms for dead nodes' people. A
 * node with nobody registered anywhere (raw clients only) sends nothing. */
void roster_on_tick(struct roster *ro)
{
	struct backplane *bp = ro->ro_bp;
	char key[BACKPLANE_PREFIX_MAX + 40];

	if (ro->ro_rooms.rs_count == 0 || bp->bp_pub.bl_context == NULL)
		return;
	snprintf(key, sizeof key, "%s%s#alive", ro->ro_alive_prefix, ro->ro_me);
	const char *argv[] = {"SET", key, "1", "PX", ROSTER_ALIVE_MS};
	size_t argl[] = {3, strlen(key), 1, 2, strlen(ROSTER_ALIVE_MS)};
	if (redisAsyncCommandArgv(bp->bp_pub.bl_context, on_changed, NULL, 5, argv, argl) !=
	    REDIS_OK)
		return;
	backplane_pending_add(bp, 0);
	if (++ro->ro_ticks % ROSTER_SWEEP_TICKS == 0)
		room_set_each(&ro->ro_rooms, sweep_room, ro);
}
