/*
 * The Redis backplane.
 *
 * Sessions: a session is the pair of connections (publish, subscribe). It is up when the
 * publish connection has answered a PING and the subscribe connection has confirmed its
 * anchor channel (one per node, never left, so hiredis 0.14 never leaves its subscribed
 * mode between room subscriptions). Any failure ends the whole session: both contexts
 * are freed and a timer starts the next one after a backoff.
 *
 * Liveness: a connection that is open but silent (Redis stopped, a black-holed network)
 * never reports an error. A heartbeat sends a PING on the publish connection when nothing
 * is outstanding there, and a session whose oldest request waits longer than
 * BACKPLANE_ANSWER_TIMEOUT_MS is ended.
 *
 * Flow control: Redis is a firehose chatd cannot slow down, so nothing here ever stops
 * reading it; a slow local client is cut off by the connection's own backlog rule. The
 * other way, PUBLISHes are pipelined, and at most bp_max_pending bytes may wait for
 * Redis's acknowledgement: past that a message is dropped and counted, never queued.
 */
#include "backplane.h"
#include "backplane_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <hiredis/async.h>

#include "container.h"
#include "envelope.h"
#include "log.h"
#include "membudget.h"
#include "redis_guard.h"
#include "redis_loop.h"
#include "room_set.h"
#include "roomlog.h"

#define BACKPLANE_BACKOFF_BASE_MS   100
#define BACKPLANE_BACKOFF_CAP_MS    1000 /* a restarted Redis is found within a second */
#define BACKPLANE_HEARTBEAT_MS      1000
#define BACKPLANE_ANSWER_TIMEOUT_MS 3000
#define BACKPLANE_MIN_PENDING       ((size_t)8 << 20)
#define BACKPLANE_SUBSCRIBE_BATCH   256 /* channels per SUBSCRIBE when re-subscribing */

static void session_start(struct backplane *bp);
static void session_fail(struct backplane *bp, const char *what, const char *detail);

static size_t channel_name(const struct backplane *bp, char *out, const char *room, size_t len)
{
	memcpy(out, bp->bp_prefix, bp->bp_prefix_len);
	memcpy(out + bp->bp_prefix_len, room, len);
	return bp->bp_prefix_len + len;
}

/* ---- the subscribe link ---- */

static void handle_message(struct backplane *bp, const redisReply *channel,
			   const redisReply *payload)
{
	struct envelope env;
	enum envelope_status st;

	if (channel->len <= bp->bp_prefix_len ||
	    channel->len - bp->bp_prefix_len > HUB_ROOM_NAME_MAX ||
	    memcmp(channel->str, bp->bp_prefix, bp->bp_prefix_len) != 0 ||
	    payload->len > bp->bp_max_message + ENVELOPE_HEADER_SIZE) {
		bp->bp_metrics.mr_invalid++;
		return;
	}
	if (bp->bp_log != NULL && channel->len == strlen(bp->bp_anchor) &&
	    memcmp(channel->str, bp->bp_anchor, channel->len) == 0)
		return roomlog_on_marker(bp->bp_log, (const uint8_t *)payload->str, payload->len);
	const char *room = channel->str + bp->bp_prefix_len;
	size_t room_len = channel->len - bp->bp_prefix_len;
	st = envelope_decode((const uint8_t *)payload->str, payload->len, &env);
	if (st != ENVELOPE_OK) {
		if (bp->bp_metrics.mr_invalid++ == 0)
			log_warn("redis: refused a message on %.*s: %s (counted in "
				 "chatd_redis_invalid_total, logged once)",
				 (int)channel->len, channel->str, envelope_status_text(st));
		return;
	}
	if (env.en_logged) { /* from every node, this one too: Redis gave it its id */
		if (bp->bp_log == NULL) {
			bp->bp_metrics.mr_invalid++;
			return;
		}
		bp->bp_metrics.mr_received += env.en_origin != bp->bp_node;
		roomlog_on_entry(bp->bp_log, room, room_len, &env);
		return;
	}
	if (env.en_origin == bp->bp_node)
		return; /* our own, already delivered here */
	bp->bp_metrics.mr_received++;
	(void)hub_publish_room(bp->bp_hub, room, room_len, env.en_opcode, env.en_payload,
			       env.en_len);
}

static void check_up(struct backplane *bp);

/* Every push on a subscribed channel: confirmations and messages. */
static void on_push(redisAsyncContext *ac, void *r, void *privdata)
{
	struct backplane *bp = privdata;
	const redisReply *reply = r;

	if (reply == NULL || ac->data == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements < 3)
		return;
	const redisReply *kind = reply->element[0], *channel = reply->element[1];
	if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING) {
		handle_message(bp, channel, reply->element[2]);
		return;
	}
	if (strcmp(kind->str, "subscribe") == 0 || strcmp(kind->str, "unsubscribe") == 0) {
		bp->bp_sub_confirmed++;
		if (bp->bp_log != NULL)
			roomlog_on_subscribed(bp->bp_log);
	}
	if (strcmp(kind->str, "subscribe") == 0 && !bp->bp_sub.bl_ready &&
	    strcmp(channel->str, bp->bp_anchor) == 0) {
		bp->bp_sub.bl_ready = true;
		check_up(bp);
	}
}

static void subscribe_channels(struct backplane *bp, const char *command, const char **names,
			       const size_t *lens, size_t n)
{
	const char *argv[BACKPLANE_SUBSCRIBE_BATCH + 1];
	size_t argl[BACKPLANE_SUBSCRIBE_BATCH + 1];

	argv[0] = command;
	argl[0] = strlen(command);
	memcpy(argv + 1, names, n * sizeof *names);
	memcpy(argl + 1, lens, n * sizeof *lens);
	if (redisAsyncCommandArgv(bp->bp_sub.bl_context, on_push, bp, (int)n + 1, argv, argl) !=
	    REDIS_OK)
		return session_fail(bp, command, "cannot queue the command");
	bp->bp_sub_sent += n;
}

/* SUBSCRIBE (or UNSUBSCRIBE) one room's channel, when the subscribe link is open. */
static void subscribe_room(struct backplane *bp, const char *command, const char *room, size_t len)
{
	char channel[BACKPLANE_CHANNEL_MAX];
	const char *name = channel;
	size_t n;

	if (bp->bp_sub.bl_context == NULL)
		return; /* the next session subscribes every room */
	n = channel_name(bp, channel, room, len);
	subscribe_channels(bp, command, &name, &n, 1);
}

/* Channels gathered for one SUBSCRIBE of many. */
struct subscribe_batch {
	struct backplane *sb_bp;
	size_t sb_count;
	const char *sb_names[BACKPLANE_SUBSCRIBE_BATCH];
	size_t sb_lens[BACKPLANE_SUBSCRIBE_BATCH];
	char sb_buf[BACKPLANE_SUBSCRIBE_BATCH][BACKPLANE_CHANNEL_MAX];
};

static void batch_flush(struct subscribe_batch *b)
{
	if (b->sb_count > 0 && b->sb_bp->bp_sub.bl_context != NULL)
		subscribe_channels(b->sb_bp, "SUBSCRIBE", b->sb_names, b->sb_lens, b->sb_count);
	b->sb_count = 0;
}

static void batch_add(void *arg, const char *room, size_t len)
{
	struct subscribe_batch *b = arg;

	b->sb_lens[b->sb_count] = channel_name(b->sb_bp, b->sb_buf[b->sb_count], room, len);
	b->sb_names[b->sb_count] = b->sb_buf[b->sb_count];
	if (++b->sb_count == BACKPLANE_SUBSCRIBE_BATCH)
		batch_flush(b);
}

/* A new session: the anchor first, then every room, in batches. */
static void subscribe_all(struct backplane *bp)
{
	static struct subscribe_batch batch; /* 33 KiB: not on the stack */
	const char *anchor = bp->bp_anchor;
	size_t anchor_len = strlen(anchor);

	subscribe_channels(bp, "SUBSCRIBE", &anchor, &anchor_len, 1);
	batch.sb_bp = bp;
	batch.sb_count = 0;
	room_set_each(&bp->bp_rooms, batch_add, &batch);
	batch_flush(&batch);
}

/* ---- the publish link ---- */

/* What one PUBLISH holds until Redis acknowledges it: the command as hiredis formats it
 * into its output buffer ("*3", "$7 PUBLISH", the channel's and the envelope's lengths and
 * bytes, CRLFs: under 48 bytes of framing) and hiredis's callback entry. Counting the
 * envelope alone let 8 MiB of 10-byte envelopes hold ten times that. */
static size_t publish_cost(size_t envelope, size_t channel_len)
{
	return membudget_block(48 + channel_len + envelope) + membudget_block(32);
}

/* bytes: publish_cost for a PUBLISH, 0 for a PING. The pending commands' cost is charged
 * to the process's memory budget too, so --max-memory sees the Redis backlog. */
static void pending_done(struct backplane *bp, size_t bytes)
{
	bp->bp_pending_cmds--;
	bp->bp_pending_msgs -= bytes > 0;
	bp->bp_pending_bytes -= bytes;
	membudget_release(bytes);
	bp->bp_metrics.mr_pending_bytes = bp->bp_pending_bytes;
	bp->bp_waiting_since = loop_now(bp->bp_loop);
	if (bp->bp_backlog_logged && bp->bp_pending_bytes < bp->bp_max_pending / 2) {
		log_info("redis: keeping up again after %llu messages were dropped",
			 (unsigned long long)bp->bp_metrics.mr_dropped_backlog);
		bp->bp_backlog_logged = false;
	}
}

static void pending_add(struct backplane *bp, size_t bytes)
{
	if (bp->bp_pending_cmds++ == 0)
		bp->bp_waiting_since = loop_now(bp->bp_loop);
	bp->bp_pending_msgs += bytes > 0;
	bp->bp_pending_bytes += bytes;
	membudget_charge(bytes);
	bp->bp_metrics.mr_pending_bytes = bp->bp_pending_bytes;
}

/* The link is gone with its callbacks: nothing is pending any more. */
static void pending_reset(struct backplane *bp)
{
	membudget_release(bp->bp_pending_bytes);
	bp->bp_pending_msgs = 0;
	bp->bp_pending_cmds = 0;
	bp->bp_pending_bytes = 0;
	bp->bp_metrics.mr_pending_bytes = 0;
}

static void on_published(redisAsyncContext *ac, void *r, void *privdata)
{
	struct backplane *bp = ac->data == NULL ? NULL : ((struct bp_link *)ac->data)->bl_bp;
	const redisReply *reply = r;

	if (bp == NULL || reply == NULL)
		return; /* the session is gone; session_fail counted what was in flight */
	pending_done(bp, (size_t)(uintptr_t)privdata);
	if (reply->type == REDIS_REPLY_ERROR) {
		bp->bp_metrics.mr_dropped_down++;
		return session_fail(bp, "PUBLISH", reply->str);
	}
	bp->bp_metrics.mr_published++;
}

static void on_pong(redisAsyncContext *ac, void *r, void *privdata)
{
	const redisReply *reply = r;
	(void)privdata;

	if (ac->data == NULL || reply == NULL)
		return;
	struct backplane *bp = ((struct bp_link *)ac->data)->bl_bp;
	pending_done(bp, 0);
	if (reply->type == REDIS_REPLY_ERROR)
		return session_fail(bp, "PING", reply->str);
	if (!bp->bp_pub.bl_ready) {
		bp->bp_pub.bl_ready = true;
		check_up(bp);
	}
}

static void send_ping(struct backplane *bp)
{
	if (redisAsyncCommand(bp->bp_pub.bl_context, on_pong, NULL, "PING") != REDIS_OK)
		return session_fail(bp, "PING", "cannot queue the command");
	pending_add(bp, 0);
}

/* ---- the hub's observer ---- */

static void on_room_opened(void *arg, const char *room, size_t len)
{
	struct backplane *bp = arg;
	int added = room_set_add(&bp->bp_rooms, room, len);

	if (added < 0)
		log_error("redis: out of memory: room %.*s is served here only", (int)len, room);
	if (added <= 0)
		return;
	if (bp->bp_up)
		bp->bp_metrics.mr_subscribed_rooms = bp->bp_rooms.rs_count;
	subscribe_room(bp, "SUBSCRIBE", room, len);
}

static void on_room_closed(void *arg, const char *room, size_t len)
{
	struct backplane *bp = arg;

	if (!room_set_remove(&bp->bp_rooms, room, len))
		return;
	if (bp->bp_up)
		bp->bp_metrics.mr_subscribed_rooms = bp->bp_rooms.rs_count;
	subscribe_room(bp, "UNSUBSCRIBE", room, len);
}

static void on_published_locally(void *arg, const char *room, size_t len, uint8_t opcode,
				 const uint8_t *payload, size_t plen)
{
	struct backplane *bp = arg;
	char channel[BACKPLANE_CHANNEL_MAX];
	size_t size = ENVELOPE_HEADER_SIZE + plen;
	size_t cost = publish_cost(size, bp->bp_prefix_len + len);

	if (!bp->bp_up) {
		bp->bp_metrics.mr_dropped_down++;
		return;
	}
	if (bp->bp_pending_bytes + cost > bp->bp_max_pending) {
		if (!bp->bp_backlog_logged)
			log_warn("redis: %zu bytes wait for Redis's acknowledgement: dropping "
				 "messages to other nodes until it catches up",
				 bp->bp_pending_bytes);
		bp->bp_backlog_logged = true;
		bp->bp_metrics.mr_dropped_backlog++;
		return;
	}
	if (size > bp->bp_scratch_cap) {
		uint8_t *p = realloc(bp->bp_scratch, size);
		if (p == NULL) {
			bp->bp_metrics.mr_dropped_backlog++;
			return;
		}
		bp->bp_scratch = p;
		bp->bp_scratch_cap = size;
	}
	size = envelope_encode(bp->bp_scratch, bp->bp_scratch_cap, bp->bp_node, opcode, payload,
			       plen);
	if (size == 0)
		return; /* not a data opcode: the hub never publishes one */
	const char *argv[3] = {"PUBLISH", channel, (const char *)bp->bp_scratch};
	size_t argl[3] = {7, channel_name(bp, channel, room, len), size};
	/* hiredis copies the arguments into its output buffer: the scratch is free again.
	 * The cost rides in privdata, so a publication allocates nothing of ours. */
	// NOLINTNEXTLINE(performance-no-int-to-ptr)
	if (redisAsyncCommandArgv(bp->bp_pub.bl_context, on_published, (void *)(uintptr_t)cost, 3,
				  argv, argl) != REDIS_OK) {
		bp->bp_metrics.mr_dropped_down++;
		return session_fail(bp, "PUBLISH", "cannot queue the command");
	}
	pending_add(bp, cost);
}

/* ---- sessions ---- */

static void check_up(struct backplane *bp)
{
	uint64_t now = loop_now(bp->bp_loop);

	if (bp->bp_up || !bp->bp_pub.bl_ready || !bp->bp_sub.bl_ready)
		return;
	bp->bp_up = true;
	bp->bp_attempts = 0;
	bp->bp_metrics.mr_up = 1;
	bp->bp_metrics.mr_subscribed_rooms = bp->bp_rooms.rs_count;
	if (bp->bp_ever_up) {
		bp->bp_metrics.mr_reconnects++;
		log_info("redis: connected again to %s after %llu ms; %llu messages did not "
			 "reach other nodes meanwhile",
			 bp->bp_url_text, (unsigned long long)(now - bp->bp_down_since),
			 (unsigned long long)(bp->bp_metrics.mr_dropped_down -
					      bp->bp_dropped_before));
	} else {
		log_info("redis: connected to %s; node %016llx, %zu rooms subscribed",
			 bp->bp_url_text, (unsigned long long)bp->bp_node, bp->bp_rooms.rs_count);
	}
	bp->bp_ever_up = true;
	bp->bp_outage_logged = false;
	bp->bp_reason[0] = '\0';
	if (bp->bp_log != NULL)
		roomlog_on_up(bp->bp_log);
}

static void close_link(struct bp_link *link)
{
	redisAsyncContext *ac = link->bl_context;

	link->bl_ready = false;
	if (ac == NULL)
		return;
	link->bl_context = NULL;
	/* Our callbacks see data NULL and ignore whatever hiredis reports from now on. */
	ac->data = NULL;
	redisAsyncFree(ac);
}

static uint64_t next_random(struct backplane *bp)
{
	uint64_t x = bp->bp_random;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return bp->bp_random = x;
}

static void on_retry(struct loop_timer *t)
{
	session_start(container_of(t, struct backplane, bp_retry_timer));
}

void backplane_on_lost(struct backplane *bp, void (*fn)(void *arg, const char *why), void *arg)
{
	bp->bp_on_lost = fn;
	bp->bp_on_lost_arg = arg;
}

/* Ends the session (when one is open) and schedules the next. Safe from any callback. */
static void session_fail(struct backplane *bp, const char *what, const char *detail)
{
	uint64_t now = loop_now(bp->bp_loop);
	uint64_t delay;
	bool was_up = bp->bp_up;

	if (bp->bp_pub.bl_context == NULL && bp->bp_sub.bl_context == NULL &&
	    loop_timer_armed(&bp->bp_retry_timer))
		return; /* already failed: the second link's own report */
	if (bp->bp_up || !bp->bp_outage_logged) {
		if (bp->bp_up || !bp->bp_ever_up) {
			bp->bp_down_since = now;
			bp->bp_dropped_before = bp->bp_metrics.mr_dropped_down;
		}
		snprintf(bp->bp_reason, sizeof bp->bp_reason, "%s: %s", what, detail);
		log_warn("redis: %s %s: %s; local delivery goes on, other nodes miss this "
			 "node's messages until it is back (retrying, logged once)",
			 bp->bp_url_text, what, detail);
		bp->bp_outage_logged = true;
	} else {
		log_debug("redis: still down: %s: %s", what, detail);
	}
	bp->bp_up = false;
	bp->bp_metrics.mr_up = 0;
	bp->bp_metrics.mr_subscribed_rooms = 0;
	/* What was in flight may or may not have reached Redis: counted as not. */
	bp->bp_metrics.mr_dropped_down += bp->bp_pending_msgs;
	pending_reset(bp);
	bp->bp_backlog_logged = false;
	close_link(&bp->bp_pub);
	close_link(&bp->bp_sub);
	if (bp->bp_log != NULL)
		roomlog_on_down(bp->bp_log);

	delay = (uint64_t)BACKPLANE_BACKOFF_BASE_MS
		<< (bp->bp_attempts < 10 ? bp->bp_attempts : 10);
	if (delay > BACKPLANE_BACKOFF_CAP_MS)
		delay = BACKPLANE_BACKOFF_CAP_MS;
	/* Jitter over the upper half: many nodes that lost Redis together do not all come
	 * back in the same millisecond. */
	delay = delay / 2 + next_random(bp) % (delay / 2 + 1);
	bp->bp_attempts++;
	loop_timer_start(bp->bp_loop, &bp->bp_retry_timer, delay, on_retry);
	/* Last, once the backplane is down for good: the handlers this reaches may publish
	 * (counted as dropped), join or leave rooms, which must not find a half-closed link
	 * (the one that failed may already be gone) still marked up. */
	if (was_up && bp->bp_on_lost != NULL)
		bp->bp_on_lost(bp->bp_on_lost_arg, bp->bp_reason);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct bp_link *link = ac->data;

	if (link == NULL || status == REDIS_OK)
		return;
	/* hiredis frees the context after this call. */
	link->bl_context = NULL;
	session_fail(link->bl_bp, "cannot connect", ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct bp_link *link = ac->data;
	const char *why;
	(void)status;

	if (link == NULL)
		return;
	link->bl_context = NULL;
	why = link->bl_guard.rg_reason != NULL ? link->bl_guard.rg_reason
	      : ac->err != 0                   ? ac->errstr
					       : "the connection was closed";
	char what[64];
	snprintf(what, sizeof what, "%s connection lost", link->bl_name);
	session_fail(link->bl_bp, what, why);
}

static void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
	const redisReply *reply = r;
	(void)privdata;

	if (ac->data == NULL || reply == NULL || reply->type != REDIS_REPLY_ERROR)
		return;
	struct bp_link *link = ac->data;
	session_fail(link->bl_bp, "Redis refused the password", reply->str);
}

/* Opens one link; false when the session has failed. */
static bool open_link(struct backplane *bp, struct bp_link *link)
{
	const struct redis_url *u = &bp->bp_url;
	redisAsyncContext *ac;

	ac = u->ru_unix ? redisAsyncConnectUnix(u->ru_path)
			: redisAsyncConnect(u->ru_host, u->ru_port);
	if (ac == NULL) {
		session_fail(bp, "cannot connect", "out of memory");
		return false;
	}
	if (ac->err != 0) {
		char why[128];
		snprintf(why, sizeof why, "%s", ac->errstr);
		redisAsyncFree(ac);
		session_fail(bp, "cannot connect", why);
		return false;
	}
	size_t max_reply = bp->bp_max_message + ENVELOPE_HEADER_SIZE + 4096;
	if (link == &bp->bp_pub && bp->bp_pub_max_reply > max_reply)
		max_reply = bp->bp_pub_max_reply;
	if (redis_loop_attach(ac, bp->bp_loop, &link->bl_event, max_reply) < 0) {
		redisAsyncFree(ac);
		session_fail(bp, "cannot connect", "the context is attached already");
		return false;
	}
	redis_guard_install(ac, &link->bl_guard);
	ac->data = link;
	link->bl_context = ac;
	link->bl_ready = false;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (u->ru_password[0] != '\0') {
		/* AUTH user password (Redis 6 ACLs), or AUTH password. */
		const char *argv[3] = {"AUTH", u->ru_user, u->ru_password};
		size_t argl[3] = {4, strlen(u->ru_user), strlen(u->ru_password)};
		int first = u->ru_user[0] != '\0' ? 0 : 1;
		argv[first] = "AUTH";
		argl[first] = 4;
		if (redisAsyncCommandArgv(ac, on_auth, NULL, 3 - first, argv + first,
					  argl + first) != REDIS_OK) {
			session_fail(bp, "AUTH", "cannot queue the command");
			return false;
		}
	}
	return true;
}

static void session_start(struct backplane *bp)
{
	bp->bp_session_start = loop_now(bp->bp_loop);
	pending_reset(bp);
	bp->bp_sub_sent = bp->bp_sub_confirmed = 0;
	if (!open_link(bp, &bp->bp_pub) || !open_link(bp, &bp->bp_sub))
		return;
	send_ping(bp);
	if (bp->bp_sub.bl_context != NULL)
		subscribe_all(bp);
}

static void on_heartbeat(struct loop_timer *t)
{
	struct backplane *bp = container_of(t, struct backplane, bp_heartbeat);
	uint64_t now = loop_now(bp->bp_loop);

	loop_timer_start(bp->bp_loop, t, BACKPLANE_HEARTBEAT_MS, on_heartbeat);
	if (bp->bp_pub.bl_context == NULL)
		return; /* between sessions */
	if (!bp->bp_up && now - bp->bp_session_start > BACKPLANE_ANSWER_TIMEOUT_MS)
		return session_fail(bp, "cannot connect", "no answer within 3 s");
	if (bp->bp_pending_cmds > 0 && now - bp->bp_waiting_since > BACKPLANE_ANSWER_TIMEOUT_MS)
		return session_fail(bp, "no answer", "Redis did not answer for 3 s");
	if (bp->bp_up && bp->bp_pending_cmds == 0)
		send_ping(bp);
	if (bp->bp_up && bp->bp_log != NULL)
		roomlog_on_tick(bp->bp_log);
}

/* ---- construction ---- */

struct backplane *backplane_new(struct loop *l, struct hub *h, const struct redis_url *url,
				const char *prefix, size_t max_message)
{
	struct backplane *bp = calloc(1, sizeof *bp);
	struct hub_observer obs = {
		.ho_room_opened = on_room_opened,
		.ho_room_closed = on_room_closed,
		.ho_published = on_published_locally,
	};

	if (bp == NULL)
		return NULL;
	bp->bp_loop = l;
	bp->bp_hub = h;
	bp->bp_url = *url;
	redis_url_format(url, bp->bp_url_text, sizeof bp->bp_url_text);
	bp->bp_prefix_len = strlen(prefix);
	if (bp->bp_prefix_len > BACKPLANE_PREFIX_MAX)
		bp->bp_prefix_len = BACKPLANE_PREFIX_MAX;
	memcpy(bp->bp_prefix, prefix, bp->bp_prefix_len);
	if (getrandom(&bp->bp_node, sizeof bp->bp_node, 0) != (ssize_t)sizeof bp->bp_node)
		bp->bp_node = (uint64_t)getpid() << 32 ^ (uint64_t)loop_now(l);
	bp->bp_random = bp->bp_node | 1;
	snprintf(bp->bp_anchor, sizeof bp->bp_anchor, "%s@node:%016llx", bp->bp_prefix,
		 (unsigned long long)bp->bp_node);
	bp->bp_max_message = max_message;
	bp->bp_max_pending = 2 * (max_message + ENVELOPE_HEADER_SIZE);
	if (bp->bp_max_pending < BACKPLANE_MIN_PENDING)
		bp->bp_max_pending = BACKPLANE_MIN_PENDING;
	bp->bp_pub.bl_bp = bp->bp_sub.bl_bp = bp;
	bp->bp_pub.bl_name = "publish";
	bp->bp_sub.bl_name = "subscribe";
	snprintf(bp->bp_reason, sizeof bp->bp_reason, "connecting");
	obs.ho_arg = bp;
	hub_set_observer(h, &obs);
	loop_timer_start(l, &bp->bp_heartbeat, BACKPLANE_HEARTBEAT_MS, on_heartbeat);
	bp->bp_down_since = loop_now(l);
	session_start(bp);
	return bp;
}

void backplane_free(struct backplane *bp)
{
	if (bp == NULL)
		return;
	hub_set_observer(bp->bp_hub, NULL);
	loop_timer_stop(bp->bp_loop, &bp->bp_retry_timer);
	loop_timer_stop(bp->bp_loop, &bp->bp_heartbeat);
	pending_reset(bp);
	bp->bp_up = false;
	close_link(&bp->bp_pub); /* first: the log's reads in flight hear of it */
	close_link(&bp->bp_sub);
	roomlog_free(bp->bp_log);
	room_set_clear(&bp->bp_rooms);
	free(bp->bp_scratch);
	free(bp);
}

bool backplane_healthy(const struct backplane *bp, char *buf, size_t len)
{
	if (bp->bp_up)
		return true;
	snprintf(buf, len, "redis backplane down for %llu s (%s): %s",
		 (unsigned long long)((loop_now(bp->bp_loop) - bp->bp_down_since) / 1000),
		 bp->bp_url_text, bp->bp_reason[0] != '\0' ? bp->bp_reason : "connecting");
	return false;
}

const struct metrics_redis *backplane_metrics(const struct backplane *bp)
{
	return &bp->bp_metrics;
}

/* ---- for the rooms' log (backplane_internal.h) ---- */

void backplane_pending_add(struct backplane *bp, size_t bytes)
{
	pending_add(bp, bytes);
}

void backplane_pending_done(struct backplane *bp, size_t bytes)
{
	pending_done(bp, bytes);
}

void backplane_session_fail(struct backplane *bp, const char *what, const char *detail)
{
	session_fail(bp, what, detail);
}

size_t backplane_channel(const struct backplane *bp, char *out, const char *room, size_t len)
{
	return channel_name(bp, out, room, len);
}

/* A SCRIPT LOAD answered: one command less pending; a refusal fails the session. */
void backplane_script_loaded(redisAsyncContext *ac, void *r, void *privdata)
{
	const redisReply *reply = r;
	(void)privdata;

	if (ac->data == NULL || reply == NULL)
		return;
	struct backplane *bp = ((struct bp_link *)ac->data)->bl_bp;
	backplane_pending_done(bp, 0);
	if (reply->type == REDIS_REPLY_ERROR)
		backplane_session_fail(bp, "SCRIPT LOAD", reply->str);
}
