/*
 * The rooms' log in Redis (include/roomlog.h).
 *
 * Keys: the room's channel name and "#meta" (a hash: the last id, the bytes the list
 * holds) and "#log" (the list of entries, each the envelope that was published). Room
 * names cannot hold '#', so no key is ever a channel's name or another room's key. Both
 * keys expire a day after the room's last message: Redis does not keep rooms forever.
 *
 * Reads in flight form one list, oldest first: those sent (a prefix, in the order Redis
 * runs them) and those waiting for their room's subscription (the rest).
 */
#include "roomlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <openssl/sha.h>

#include "backplane_internal.h"
#include "frame.h"
#include "log.h"
#include "membudget.h"
#include "roster.h"

#define ROOMLOG_TTL_S "86400"
/* A reply's framing per entry ("$12345\r\n", "\r\n") and the array's own, generously. */
#define ROOMLOG_REPLY_PER_ENTRY 32
#define ROOMLOG_MARKER_MAX      24
/* Heartbeats a read may wait for its marker, or for a subscription hiredis did not
 * confirm (it drops the confirmation of a room subscribed, left and subscribed again
 * before Redis answers), before it goes on without. */
#define ROOMLOG_PATIENCE_TICKS 2

/* KEYS: meta, log. ARGV: channel, envelope header, head, tail, after, max entries, max
 * bytes, ttl. Returns the id. The id goes into the envelope as 8 bytes big-endian (exact:
 * ids stay far below 2^53), made in one string.char (a loop of 8 concatenations cost 1.4 us
 * of the script's 10.5, redis-benchmark), and into the entry in decimal. */
static const char append_script[] =
	"local id = redis.call('HINCRBY', KEYS[1], 'id', 1)\n"
	"local after = tonumber(ARGV[5])\n"
	"if id <= after then id = after + 1; redis.call('HSET', KEYS[1], 'id', id) end\n"
	"local hi, lo = math.floor(id / 4294967296), id % 4294967296\n"
	"local b = string.char(math.floor(hi / 16777216) % 256, math.floor(hi / 65536) % 256,\n"
	"  math.floor(hi / 256) % 256, hi % 256, math.floor(lo / 16777216),\n"
	"  math.floor(lo / 65536) % 256, math.floor(lo / 256) % 256, lo % 256)\n"
	"local e = ARGV[2] .. b .. ARGV[3] .. string.format('%d', id) .. ARGV[4]\n"
	"local len = redis.call('RPUSH', KEYS[2], e)\n"
	"local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', #e)\n"
	"local max, maxb = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
	"while len > 0 and (len > max or bytes > maxb) do\n"
	"  local old = redis.call('LPOP', KEYS[2])\n"
	"  bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -#old)\n"
	"  len = len - 1\n"
	"end\n"
	"redis.call('EXPIRE', KEYS[1], ARGV[8])\n"
	"redis.call('EXPIRE', KEYS[2], ARGV[8])\n"
	"redis.call('PUBLISH', ARGV[1], e)\n"
	"return id\n";

/* KEYS: log. ARGV: max entries, max bytes, marker channel, marker. Returns the newest
 * entries that fit both bounds, oldest first, and publishes the marker in the same step,
 * so that it follows on the subscribe link every entry older than the reply. */
static const char read_script[] =
	"local max, maxb = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local all = {}\n"
	"if max > 0 then all = redis.call('LRANGE', KEYS[1], -max, -1) end\n"
	"local first, bytes = #all + 1, 0\n"
	"while first > 1 and bytes + #all[first - 1] <= maxb do\n"
	"  first = first - 1; bytes = bytes + #all[first]\n"
	"end\n"
	"local out = {}\n"
	"for k = first, #all do out[#out + 1] = all[k] end\n"
	"redis.call('PUBLISH', ARGV[3], ARGV[4])\n"
	"return out\n";

struct rl_read {
	struct rl_read *rr_next;
	struct roomlog *rr_log;
	uint64_t rr_ticket; /* bp_sub_sent when asked: sent once confirmed reaches it */
	uint64_t rr_seq;    /* its marker */
	unsigned rr_ticks;  /* heartbeats since asked, or since answered */
	bool rr_sent, rr_answered, rr_marked;
	size_t rr_max;
	chatd_log_read_fn rr_fn;
	void *rr_arg;
	/* The answer, copied out of hiredis's reply (which it frees after the callback)
	 * while the marker is awaited: one block, owned, charged at rr_charged. */
	struct chatd_log_entry *rr_entries;
	size_t rr_count, rr_charged;
	char rr_room[HUB_ROOM_NAME_MAX + 1];
};

struct roomlog {
	struct backplane *rl_bp;
	size_t rl_max_entries, rl_max_bytes, rl_max_entry;
	roomlog_deliver_fn rl_deliver;
	void *rl_deliver_arg;
	char rl_append_sha[2 * SHA_DIGEST_LENGTH + 1];
	char rl_read_sha[2 * SHA_DIGEST_LENGTH + 1];
	struct rl_read *rl_head, *rl_tail; /* reads in flight, oldest first */
	struct roster *rl_roster;          /* who is in the rooms (owned) */
	void (*rl_on_up)(void *arg);       /* every session up, after the scripts */
	void *rl_on_up_arg;
	uint64_t rl_next_seq;
	bool rl_error_logged;
};

static void sha_hex(const char *script, char *out)
{
	unsigned char d[SHA_DIGEST_LENGTH];

	SHA1((const unsigned char *)script, strlen(script), d);
	for (size_t i = 0; i < sizeof d; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

struct roomlog *roomlog_new(struct backplane *bp, size_t max_entries, size_t max_bytes,
			    size_t max_entry, roomlog_deliver_fn fn, void *arg)
{
	struct roomlog *rl = calloc(1, sizeof *rl);

	if (rl == NULL)
		return NULL;
	rl->rl_bp = bp;
	rl->rl_max_entries = max_entries;
	rl->rl_max_bytes = max_bytes;
	rl->rl_max_entry = max_entry;
	rl->rl_deliver = fn;
	rl->rl_deliver_arg = arg;
	if ((rl->rl_roster = roster_new(bp)) == NULL) {
		free(rl);
		return NULL;
	}
	sha_hex(append_script, rl->rl_append_sha);
	sha_hex(read_script, rl->rl_read_sha);
	/* A read's reply is a list: let it through the publish link's bounds. */
	bp->bp_pub_max_reply = max_bytes + max_entries * ROOMLOG_REPLY_PER_ENTRY + 4096;
	if (bp->bp_pub.bl_event.re_max_reply < bp->bp_pub_max_reply)
		bp->bp_pub.bl_event.re_max_reply = bp->bp_pub_max_reply;
	if (bp->bp_pub.bl_guard.rg_max_elements < max_entries)
		bp->bp_pub.bl_guard.rg_max_elements = max_entries;
	bp->bp_log = rl;
	return rl;
}

/* ---- reads ---- */

static void read_unlink(struct roomlog *rl, struct rl_read *rr)
{
	struct rl_read **p = &rl->rl_head, *prev = NULL;

	while (*p != rr) {
		prev = *p;
		p = &(*p)->rr_next;
	}
	*p = rr->rr_next;
	if (rl->rl_tail == rr)
		rl->rl_tail = prev;
}

/* Takes rr off the list, hands its answer to its owner and frees it. The owner may call
 * back into the log. */
static void read_complete(struct roomlog *rl, struct rl_read *rr, bool ok)
{
	read_unlink(rl, rr);
	rr->rr_fn(rr->rr_arg, rr->rr_entries, ok ? rr->rr_count : 0, ok);
	free(rr->rr_entries);
	membudget_release(rr->rr_charged);
	free(rr);
}

static void on_read_reply(redisAsyncContext *ac, void *r, void *privdata);

/* What a read holds until answered: itself and, at most, the largest reply. */
static size_t read_cost(const struct roomlog *rl)
{
	return membudget_block(sizeof(struct rl_read)) + membudget_block(256) +
	       membudget_block(rl->rl_max_bytes +
			       rl->rl_max_entries * sizeof(struct chatd_log_entry));
}

static bool read_send(struct roomlog *rl, struct rl_read *rr)
{
	struct backplane *bp = rl->rl_bp;
	char key[BACKPLANE_CHANNEL_MAX + 8], max[24], bytes[24], marker[ROOMLOG_MARKER_MAX];
	size_t klen = backplane_channel(bp, key, rr->rr_room, strlen(rr->rr_room));

	memcpy(key + klen, "#log", 4);
	klen += 4;
	snprintf(max, sizeof max, "%zu", rr->rr_max);
	snprintf(bytes, sizeof bytes, "%zu", rl->rl_max_bytes);
	snprintf(marker, sizeof marker, "%" PRIu64, rr->rr_seq);
	const char *argv[] = {"EVALSHA", rl->rl_read_sha, "1",           key,
			      max,       bytes,           bp->bp_anchor, marker};
	size_t argl[] = {7,
			 strlen(rl->rl_read_sha),
			 1,
			 klen,
			 strlen(max),
			 strlen(bytes),
			 strlen(bp->bp_anchor),
			 strlen(marker)};
	if (bp->bp_pub.bl_context == NULL ||
	    redisAsyncCommandArgv(bp->bp_pub.bl_context, on_read_reply, rr, 8, argv, argl) !=
		    REDIS_OK)
		return false;
	backplane_pending_add(bp, read_cost(rl));
	rr->rr_sent = true;
	rr->rr_ticks = 0;
	return true;
}

/* Sends the waiting reads whose rooms' subscriptions are in effect, in order, while what
 * waits for Redis stays within its bound: a crowd joining at once (a node restarted, and
 * its clients back) is served a bound's worth at a time, not refused. */
static void read_flush(struct roomlog *rl)
{
	struct backplane *bp = rl->rl_bp;

	for (struct rl_read *rr = rl->rl_head, *next; rr != NULL; rr = next) {
		next = rr->rr_next;
		if (rr->rr_sent)
			continue;
		if (rr->rr_ticket > bp->bp_sub_confirmed || !bp->bp_up ||
		    bp->bp_pending_bytes + read_cost(rl) > bp->bp_max_pending)
			return; /* tickets rise along the list */
		if (!read_send(rl, rr))
			read_complete(rl, rr, false);
	}
}

int roomlog_read(struct roomlog *rl, const char *room, size_t max, chatd_log_read_fn fn, void *arg)
{
	struct backplane *bp = rl->rl_bp;
	struct rl_read *rr;

	if (!bp->bp_up || strlen(room) > HUB_ROOM_NAME_MAX || (rr = calloc(1, sizeof *rr)) == NULL)
		return -1;
	rr->rr_log = rl;
	rr->rr_ticket = bp->bp_sub_sent;
	rr->rr_seq = ++rl->rl_next_seq;
	rr->rr_max = max < rl->rl_max_entries ? max : rl->rl_max_entries;
	rr->rr_fn = fn;
	rr->rr_arg = arg;
	snprintf(rr->rr_room, sizeof rr->rr_room, "%s", room);
	rr->rr_charged = membudget_block(sizeof *rr);
	membudget_charge(rr->rr_charged);
	if (rl->rl_tail != NULL)
		rl->rl_tail->rr_next = rr;
	else
		rl->rl_head = rr;
	rl->rl_tail = rr;
	/* Sent now when nothing waits before it and it may go; else it waits its turn. */
	for (const struct rl_read *o = rl->rl_head; o != rr; o = o->rr_next)
		if (!o->rr_sent)
			return 0;
	if (rr->rr_ticket <= bp->bp_sub_confirmed &&
	    bp->bp_pending_bytes + read_cost(rl) <= bp->bp_max_pending && !read_send(rl, rr)) {
		read_unlink(rl, rr);
		membudget_release(rr->rr_charged);
		free(rr);
		return -1;
	}
	return 0;
}

/* Copies what the reply holds (an array of logged envelopes) into rr: one block, the
 * entries' table then their bytes. Entries that are not ours are skipped and counted. */
static bool read_keep(struct roomlog *rl, struct rl_read *rr, const redisReply *reply)
{
	struct envelope env;
	size_t bytes = 0, n = 0;

	if (reply->type != REDIS_REPLY_ARRAY)
		return false;
	for (size_t i = 0; i < reply->elements; i++)
		if (reply->element[i]->type == REDIS_REPLY_STRING)
			bytes += reply->element[i]->len;
	if (reply->elements == 0)
		return true;
	size_t size = reply->elements * sizeof(struct chatd_log_entry) + bytes;
	rr->rr_entries = malloc(size);
	if (rr->rr_entries == NULL)
		return false;
	membudget_charge(membudget_block(size));
	rr->rr_charged += membudget_block(size);
	uint8_t *data = (uint8_t *)(rr->rr_entries + reply->elements);
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		if (e->type != REDIS_REPLY_STRING ||
		    envelope_decode((const uint8_t *)e->str, e->len, &env) != ENVELOPE_OK ||
		    !env.en_logged) {
			rl->rl_bp->bp_metrics.mr_invalid++;
			continue;
		}
		memcpy(data, env.en_payload, env.en_len);
		rr->rr_entries[n].le_id = env.en_id;
		rr->rr_entries[n].le_data = data;
		rr->rr_entries[n].le_len = env.en_len;
		data += env.en_len;
		n++;
	}
	rr->rr_count = n;
	return true;
}

static void on_read_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct rl_read *rr = privdata;
	struct roomlog *rl = rr->rr_log;
	const redisReply *reply = r;

	if (reply == NULL) /* the link is going: its session's end settles the accounts */
		return read_complete(rl, rr, false);
	if (ac->data != NULL) {
		backplane_pending_done(rl->rl_bp, read_cost(rl));
		read_flush(rl); /* the next in line may go */
	}
	if (reply->type == REDIS_REPLY_ERROR || !read_keep(rl, rr, reply)) {
		if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0)
			roomlog_on_up(rl);
		if (!rl->rl_error_logged)
			log_warn("redis: a history read failed: %s (logged once)",
				 reply->type == REDIS_REPLY_ERROR ? reply->str
								  : "not a list, or out of memory");
		rl->rl_error_logged = true;
		return read_complete(rl, rr, false); /* no marker follows a failed script */
	}
	rr->rr_answered = true;
	rr->rr_ticks = 0;
	if (rr->rr_marked)
		read_complete(rl, rr, true);
}

void roomlog_on_marker(struct roomlog *rl, const uint8_t *payload, size_t len)
{
	uint64_t seq = 0;

	if (len == 0 || len >= ROOMLOG_MARKER_MAX)
		return;
	for (size_t i = 0; i < len; i++) {
		if (payload[i] < '0' || payload[i] > '9')
			return;
		seq = seq * 10 + (payload[i] - '0');
	}
	for (struct rl_read *rr = rl->rl_head; rr != NULL && rr->rr_sent; rr = rr->rr_next) {
		if (rr->rr_seq != seq)
			continue;
		rr->rr_marked = true;
		if (rr->rr_answered)
			read_complete(rl, rr, true);
		return;
	}
}

void roomlog_on_subscribed(struct roomlog *rl)
{
	read_flush(rl);
}

void roomlog_on_tick(struct roomlog *rl)
{
	struct backplane *bp = rl->rl_bp;
	bool stuck = false;

	roster_on_tick(rl->rl_roster);

	for (struct rl_read *rr = rl->rl_head, *next; rr != NULL; rr = next) {
		next = rr->rr_next;
		if (rr->rr_sent && !rr->rr_answered)
			continue; /* the heartbeat's answer timeout covers it */
		if (!rr->rr_sent && rr->rr_ticket <= bp->bp_sub_confirmed)
			continue; /* its turn comes as answers free the bound */
		if (++rr->rr_ticks < ROOMLOG_PATIENCE_TICKS)
			continue;
		if (rr->rr_answered) /* its marker was lost: complete without it */
			read_complete(rl, rr, true);
		else
			stuck = true;
	}
	if (stuck) {
		bp->bp_sub_confirmed = bp->bp_sub_sent;
		read_flush(rl);
	}
}

/* ---- appends ---- */

static void on_appended(redisAsyncContext *ac, void *r, void *privdata)
{
	const redisReply *reply = r;

	if (ac->data == NULL || reply == NULL)
		return;
	struct backplane *bp = ((struct bp_link *)ac->data)->bl_bp;
	backplane_pending_done(bp, (size_t)(uintptr_t)privdata);
	if (reply->type != REDIS_REPLY_ERROR) {
		bp->bp_metrics.mr_published++;
		return;
	}
	bp->bp_metrics.mr_dropped_down++;
	if (strncmp(reply->str, "NOSCRIPT", 8) == 0 && bp->bp_log != NULL)
		roomlog_on_up(bp->bp_log); /* SCRIPT FLUSH: load them again */
	if (bp->bp_log != NULL && !bp->bp_log->rl_error_logged) {
		log_warn("redis: a message was not stored: %s (logged once)", reply->str);
		bp->bp_log->rl_error_logged = true;
	}
}

int roomlog_append(struct roomlog *rl, const char *room, uint64_t after, const void *head,
		   size_t head_len, const void *tail, size_t tail_len)
{
	struct backplane *bp = rl->rl_bp;
	char channel[BACKPLANE_CHANNEL_MAX], meta[BACKPLANE_CHANNEL_MAX + 8],
		logkey[BACKPLANE_CHANNEL_MAX + 8], after_s[24], max[24], bytes[24];
	uint8_t header[ENVELOPE_HEADER_SIZE];
	size_t room_len = strlen(room), entry = head_len + 20 + tail_len;
	size_t size = ENVELOPE_HEADER_SIZE + ENVELOPE_ID_SIZE + entry;
	size_t cost = membudget_block(160 + 3 * BACKPLANE_CHANNEL_MAX + 41 + head_len + tail_len) +
		      membudget_block(32);

	if (!bp->bp_up || bp->bp_pub.bl_context == NULL) {
		bp->bp_metrics.mr_dropped_down++;
		return -1;
	}
	if (room_len > HUB_ROOM_NAME_MAX || size > rl->rl_max_entry ||
	    bp->bp_pending_bytes + cost > bp->bp_max_pending) {
		bp->bp_metrics.mr_dropped_backlog++;
		return -1;
	}
	size_t clen = backplane_channel(bp, channel, room, room_len);
	memcpy(meta, channel, clen);
	memcpy(meta + clen, "#meta", 5);
	memcpy(logkey, channel, clen);
	memcpy(logkey + clen, "#log", 4);
	envelope_encode(header, sizeof header, bp->bp_node, WS_OP_TEXT, NULL, 0);
	header[1] |= ENVELOPE_LOGGED;
	snprintf(after_s, sizeof after_s, "%" PRIu64, after);
	snprintf(max, sizeof max, "%zu", rl->rl_max_entries);
	snprintf(bytes, sizeof bytes, "%zu", rl->rl_max_bytes);
	const char *argv[] = {"EVALSHA",
			      rl->rl_append_sha,
			      "2",
			      meta,
			      logkey,
			      channel,
			      (const char *)header,
			      head,
			      tail,
			      after_s,
			      max,
			      bytes,
			      ROOMLOG_TTL_S};
	size_t argl[] = {7,
			 strlen(rl->rl_append_sha),
			 1,
			 clen + 5,
			 clen + 4,
			 clen,
			 sizeof header,
			 head_len,
			 tail_len,
			 strlen(after_s),
			 strlen(max),
			 strlen(bytes),
			 strlen(ROOMLOG_TTL_S)};
	// NOLINTNEXTLINE(performance-no-int-to-ptr)
	if (redisAsyncCommandArgv(bp->bp_pub.bl_context, on_appended, (void *)(uintptr_t)cost, 13,
				  argv, argl) != REDIS_OK) {
		bp->bp_metrics.mr_dropped_down++;
		return -1;
	}
	backplane_pending_add(bp, cost);
	return 0;
}

/* ---- sessions ---- */

/* The scripts go first on the publish link: every EVALSHA after them finds them. */
void roomlog_on_up(struct roomlog *rl)
{
	struct backplane *bp = rl->rl_bp;
	const char *scripts[] = {append_script, read_script};

	roster_on_up(rl->rl_roster);

	for (size_t i = 0; i < 2 && bp->bp_pub.bl_context != NULL; i++) {
		const char *argv[] = {"SCRIPT", "LOAD", scripts[i]};
		size_t argl[] = {6, 4, strlen(scripts[i])};
		if (redisAsyncCommandArgv(bp->bp_pub.bl_context, backplane_script_loaded, NULL, 3,
					  argv, argl) != REDIS_OK)
			return backplane_session_fail(bp, "SCRIPT LOAD",
						      "cannot queue the command");
		backplane_pending_add(bp, 0);
	}
	if (rl->rl_on_up != NULL)
		rl->rl_on_up(rl->rl_on_up_arg);
}

void roomlog_set_on_up(struct roomlog *rl, void (*fn)(void *arg), void *arg)
{
	rl->rl_on_up = fn;
	rl->rl_on_up_arg = arg;
}

/* Reads sent have heard already (hiredis answered them NULL as their link went); what
 * remains waited for a subscription or for its marker. */
void roomlog_on_down(struct roomlog *rl)
{
	while (rl->rl_head != NULL)
		read_complete(rl, rl->rl_head, rl->rl_head->rr_answered);
}

void roomlog_on_entry(struct roomlog *rl, const char *room, size_t len, const struct envelope *env)
{
	char name[HUB_ROOM_NAME_MAX + 1];

	memcpy(name, room, len); /* the backplane checked len */
	name[len] = '\0';
	rl->rl_deliver(rl->rl_deliver_arg, name, env->en_id, env->en_payload, env->en_len);
}

void roomlog_free(struct roomlog *rl)
{
	if (rl == NULL)
		return;
	roomlog_on_down(rl);
	roster_free(rl->rl_roster);
	rl->rl_bp->bp_log = NULL;
	free(rl);
}

struct roster *roomlog_roster(const struct roomlog *rl)
{
	return rl->rl_roster;
}
