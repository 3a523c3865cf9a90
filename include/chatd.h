/*
 * chatd.h: chatd as a library. A program registers handlers, four callbacks each, the way
 * a Ratchet application implements MessageComponentInterface (onOpen, onMessage, onClose,
 * onError), and chatd does everything else: sockets, TLS, the HTTP upgrade, framing,
 * UTF-8, limits and budgets, keepalive, rooms, metrics. docs/API.md is the guide.
 *
 *     static void on_message(struct chatd_conn *c, enum chatd_type type,
 *                            const void *data, size_t len, void *user)
 *     {
 *             chatd_broadcast(chatd_conn_server(c), chatd_conn_room(c), c, type, data, len);
 *     }
 *
 *     struct chatd_handler chat = {.h_message = on_message};
 *     struct chatd *s = chatd_new();
 *     chatd_add_handler(s, &chat);
 *     return chatd_run(s);
 *
 * Threads: chatd runs one event loop on the thread that called chatd_run; every callback
 * runs on it, and every function below must be called from it (from a callback), except
 * chatd_new, chatd_configure, chatd_set, chatd_add_handler and chatd_free before or after
 * the run.
 */
#ifndef CHATD_H
#define CHATD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a declaration below changes incompatibly. */
#define CHATD_API_VERSION 1

struct chatd;      /* a server: its settings, its handlers, and while it runs, its clients */
struct chatd_conn; /* one open WebSocket client; valid from on_open to the end of on_close */

/* What a message is (RFC 6455's two data opcodes). Text is valid UTF-8: chatd checked it. */
enum chatd_type {
	CHATD_TEXT = 1,
	CHATD_BINARY = 2,
};

/* Why on_error was called. Each is followed by on_close, except BACKPLANE_LOST, after
 * which the connection stays open (messages to other nodes are lost until it is back). */
enum chatd_error {
	CHATD_ERROR_PROTOCOL = 1,  /* the client broke RFC 6455 (closed with 1002 or 1007) */
	CHATD_ERROR_TOO_LARGE,     /* a message over --max-message (1009) */
	CHATD_ERROR_TOO_SLOW,      /* it did not read what it was sent (1008) */
	CHATD_ERROR_FLOODING,      /* over its rate for --flood-timeout (1008) */
	CHATD_ERROR_IDLE,          /* silent past --idle-timeout (no close frame) */
	CHATD_ERROR_OUT_OF_MEMORY, /* chatd could not allocate for it (1011), or it held the
				    * most when the process passed --max-memory (1008) */
	CHATD_ERROR_CONNECTION,    /* the TCP connection failed or was reset */
	CHATD_ERROR_BACKPLANE_LOST,
};

/*
 * A handler: what a program writes. Any callback may be NULL (nothing is done; a NULL
 * on_message drops messages). `user` is h_user, passed back untouched.
 *
 * Pointers a callback receives are borrowed: `data` (and `detail`) are valid until the
 * callback returns; copy what you keep. The conn is valid from on_open until on_close
 * returns: chatd calls on_close exactly once for every on_open, however the connection
 * ends (a close from either side, a reset, a protocol error, a cut-off, a timeout, server
 * shutdown), and never calls anything for that conn afterwards. Free your per-connection
 * data (chatd_conn_set_data) in on_close.
 */
struct chatd_handler {
	/* The subprotocol this handler speaks (Sec-WebSocket-Protocol), or NULL for the
	 * handler of clients that ask for none (or for none chatd has). Owned by the caller,
	 * and must outlive the server. */
	const char *h_subprotocol;
	void (*h_open)(struct chatd_conn *c, void *user);
	void (*h_message)(struct chatd_conn *c, enum chatd_type type, const void *data, size_t len,
			  void *user);
	/* code: the close code the client sent or chatd sent, 1006 when none was exchanged. */
	void (*h_close)(struct chatd_conn *c, uint16_t code, void *user);
	void (*h_error)(struct chatd_conn *c, enum chatd_error error, const char *detail,
			void *user);
	void *h_user;
	/* With --redis: an entry of a room's shared log (chatd_log_append, from any node,
	 * this one too), for every handler that sets it, on every node with clients in the
	 * room, in id order. entry is borrowed for the call. */
	void (*h_log)(struct chatd *s, const char *room, uint64_t id, const void *entry, size_t len,
		      void *user);
	/* With --redis: a session with Redis is up (the first, or again after an outage):
	 * what the handler keeps there (chatd_roster_*) may be missing, as Redis may have
	 * lost it or the other nodes cleared it as the node's while it was cut off. */
	void (*h_redis_up)(struct chatd *s, void *user);
};

/* The raw broadcast chat, chatd's own default handler, written against this header like
 * any other (src/handler_broadcast.c): every message goes to everyone else in the room. */
extern const struct chatd_handler chatd_broadcast_handler;

/* chatd.v1 (docs/PROTOCOL.md), the chat the chatd binary runs, in two handlers to register
 * together: chatd_v1_handler serves clients that ask for the subprotocol "chatd.v1" (JSON
 * frames, names, presence, history), and chatd_v1_raw_handler, a default handler, serves
 * those that ask for none as chatd_broadcast_handler does, at no cost per client, with
 * their messages and presence shown to the v1 clients of their room as raw-<id> and v1
 * messages reaching them as "name: text" lines (src/handler_v1*.c). It counts every
 * client left at tag 0 in a room as raw, and expects them to stay in their room. */
extern const struct chatd_handler chatd_v1_handler;
extern const struct chatd_handler chatd_v1_raw_handler;

/* --- setting up and running --- */

/* A server with the command line's defaults. NULL when memory runs out. */
struct chatd *chatd_new(void);

/* Applies command-line options (argv[0] is skipped, as by getopt): "--port", "9000",
 * "--max-message", "64K", ... Returns 0, or -1 with a one-line message in err. The
 * strings are copied. */
int chatd_configure(struct chatd *s, int argc, const char *const *argv, char *err, size_t errlen);

/* One option: chatd_set(s, "port", "9000", err, sizeof err). A flag without a value
 * (echo, quiet) takes NULL. Returns 0 or -1 as chatd_configure. */
int chatd_set(struct chatd *s, const char *option, const char *value, char *err, size_t errlen);

/* Registers a handler (copied; its strings and user pointer are the caller's). At most
 * one per subprotocol and one default (NULL subprotocol); without a default, clients that
 * ask for no subprotocol get chatd_broadcast_handler. Returns 0, or -1 when the slot is
 * taken, the table is full (16 handlers) or the server is running. */
int chatd_add_handler(struct chatd *s, const struct chatd_handler *h);

/* Runs until chatd_stop, SIGINT or SIGTERM (handled inside the loop). Returns 0 after a
 * clean shutdown, 1 when the server could not start (the reason is on stderr). */
int chatd_run(struct chatd *s);

/* From a callback: a graceful shutdown, as SIGTERM (every client gets close 1001). */
void chatd_stop(struct chatd *s);

/* Frees a server that is not running. */
void chatd_free(struct chatd *s);

/* True when --echo was given: a broadcasting handler should then include the sender. */
bool chatd_echo(const struct chatd *s);

/* --history N and --history-bytes SIZE: how many messages, and how many bytes of them, a
 * handler that keeps history should keep per room (0 messages: none). */
size_t chatd_history_messages(const struct chatd *s);
size_t chatd_history_bytes(const struct chatd *s);

/* --- what a callback may do --- */

/* Sends one message to c. Returns 0; -1 when c is closing (nothing is sent). A client that
 * does not read is cut off by chatd's own limits (on_error TOO_SLOW, then on_close). */
int chatd_send(struct chatd_conn *c, enum chatd_type type, const void *data, size_t len);

/* Sends one message to every client in `room` but `except` (NULL: to all), encoded once
 * for all of them. With a backplane (--redis) the other nodes' clients get it too.
 * Returns the number of local recipients, or -1 when memory runs out. */
long chatd_broadcast(struct chatd *s, const char *room, const struct chatd_conn *except,
		     enum chatd_type type, const void *data, size_t len);

/* The same for the clients in `room` whose tag (chatd_conn_set_tag) is `tag` alone, so a
 * handler can send each kind of client its own encoding of one event. With a backplane,
 * only tag 0 is shared with other nodes (whose messages reach tag-0 clients alone). */
long chatd_broadcast_tag(struct chatd *s, const char *room, const struct chatd_conn *except,
			 uint8_t tag, enum chatd_type type, const void *data, size_t len);

/* Called by chatd_room_each for each client; returning false ends the walk. */
typedef bool (*chatd_visit_fn)(struct chatd_conn *c, void *arg);

/* Calls fn for each open client in `room` on this node (other nodes' are not seen), in no
 * particular order, until fn returns false. Allocates nothing: a handler can list or
 * count a room (by tag, say) without keeping a record per client. A client whose on_close
 * is under way is not visited, nor one that joins during the walk; one that leaves during
 * it (cut off by something fn sent) is not visited after. fn may call anything here but
 * chatd_join. Returns how many clients fn was called for (0 for a room with none). */
size_t chatd_room_each(struct chatd *s, const char *room, chatd_visit_fn fn, void *arg);

/* Starts the close handshake with code and reason (at most 123 bytes; NULL for none).
 * on_close follows once the close is under way. */
void chatd_close(struct chatd_conn *c, uint16_t code, const char *reason);

/* Moves c to another room ("/name": a slash and 1 to 63 of A-Z a-z 0-9 . _ ~ -). Returns
 * 0, or -1 for an invalid name or when memory runs out (c stays where it was). */
int chatd_join(struct chatd_conn *c, const char *room);

/* The connection's id, unique within the process, the one chatd's log uses. */
uint64_t chatd_conn_id(const struct chatd_conn *c);

/* The room c is in: "/" or "/name". Owned by chatd, valid until c changes rooms. */
const char *chatd_conn_room(const struct chatd_conn *c);

/* The query string of the request that opened c, without the '?' ("name=ann&x=1"), NUL-
 * terminated and not decoded; NULL when it had none. Only during on_open: owned by chatd
 * and gone when on_open returns, so copy what you keep. */
const char *chatd_conn_query(const struct chatd_conn *c);

/* A label of the program's for c, 0 until set, that chatd_broadcast_tag selects by. */
void chatd_conn_set_tag(struct chatd_conn *c, uint8_t tag);
uint8_t chatd_conn_tag(const struct chatd_conn *c);

/* The negotiated subprotocol, or NULL. Owned by the handler (its h_subprotocol). */
const char *chatd_conn_subprotocol(const struct chatd_conn *c);

/* Writes the peer's address ("192.0.2.7:50312" or "[2001:db8::7]:50312") into buf.
 * Returns buf. */
const char *chatd_conn_peer(const struct chatd_conn *c, char *buf, size_t len);

/* The program's own per-connection pointer (NULL until set). chatd never touches it. */
void chatd_conn_set_data(struct chatd_conn *c, void *data);
void *chatd_conn_data(const struct chatd_conn *c);

/* The server the connection belongs to. */
struct chatd *chatd_conn_server(const struct chatd_conn *c);

/* --- a room's log shared by every node (--redis) --- */

/* One entry of a room's log. le_data is borrowed for the callback that shows it. */
struct chatd_log_entry {
	uint64_t le_id;
	const void *le_data;
	size_t le_len;
};

/* The answer to chatd_log_read, called once: ok, with the room's newest entries (at most
 * the max asked, --history and --history-bytes), oldest first; or not ok, with none, when
 * Redis went away before answering. When it is ok, every entry older than those has
 * already reached h_log, and every newer one reaches it afterwards. */
typedef void (*chatd_log_read_fn)(void *arg, const struct chatd_log_entry *entries, size_t count,
				  bool ok);

/* True when the server runs with --redis: rooms then have a log in Redis. */
bool chatd_log_shared(const struct chatd *s);

/* Appends to room's log: Redis gives the entry the room's next id (above after, the
 * largest id the caller has seen, so ids keep rising even if Redis lost its data), keeps
 * head, the id in decimal and tail as the entry (the newest --history of them, within
 * --history-bytes), and every node's h_log hears it. 0 when it went out; -1 when Redis is
 * down or behind, or the entry is larger than --max-message (nobody hears it). The bytes
 * are copied. */
int chatd_log_append(struct chatd *s, const char *room, uint64_t after, const void *head,
		     size_t head_len, const void *tail, size_t tail_len);

/* Reads room's newest entries (at most max): fn(arg, ...) follows, once, unless this
 * returns -1 (Redis is down). */
int chatd_log_read(struct chatd *s, const char *room, size_t max, chatd_log_read_fn fn, void *arg);

/* --- who is in a room on every node (--redis) ---
 *
 * The people a handler registers in a room, kept in Redis per node (src/roster.c). Each
 * change publishes an event, a JSON frame {"type":"join"|"leave","id":N,"name":S,"count":C}
 * where C counts the room's registered people and raw clients on every live node; it
 * reaches h_log on every node with clients in the room (this one too) as an entry of id 0.
 * The entries of a node that stops refreshing its own (it died, or lost Redis) go within
 * seconds, each with its leave. Every two seconds, each node with people registered in a
 * room publishes {"type":"v1"} there the same way, so that every node with clients in
 * the room knows it has registered people somewhere. */

/* A person of another node, as a join's answer lists it (borrowed for the call). */
struct chatd_roster_person {
	uint64_t rp_id;
	const char *rp_name;
	size_t rp_name_len;
};

/* The answer to chatd_roster_join, called once. ok: name is the first of the names asked
 * that nobody in the room has on any node (compared without case; the last when all are
 * taken), count the room's count after the join, others the people of other nodes (at
 * most 1000). Not ok: Redis went away or refused; nothing is known. */
typedef void (*chatd_roster_fn)(void *arg, bool ok, const char *name, size_t count,
				const struct chatd_roster_person *others, size_t n_others);

/* Registers id in room under the first free of names[0..n) (each 1 to 24 bytes of
 * A-Z a-z 0-9 _ - .), publishing its join. fn follows, once, unless this returns -1
 * (Redis is down or behind: nothing was registered). */
int chatd_roster_join(struct chatd *s, const char *room, uint64_t id, const char *const *names,
		      size_t n, chatd_roster_fn fn, void *arg);
/* Unregisters id, publishing its leave under name. 0 when sent, -1 when Redis is down. */
int chatd_roster_leave(struct chatd *s, const char *room, uint64_t id, const char *name);
/* Adds delta to this node's raw clients in room; id nonzero: publishes the join (delta >
 * 0) or leave of the raw client of that id, named raw-<id>. 0 when sent, -1 when not. */
int chatd_roster_raw(struct chatd *s, const char *room, uint64_t id, long delta);
/* Registers again, after Redis came back (h_redis_up), this node's people in room (at
 * most 500 a call) and its raw clients' count: a join is published for each one Redis
 * had lost. 0 when sent, -1 when not. */
int chatd_roster_restore(struct chatd *s, const char *room, size_t raw,
			 const struct chatd_roster_person *people, size_t n);
/* A number for this node (1 to 2^20 - 1, the same for its life) to make ids unique across
 * nodes with; 0 without --redis. */
uint64_t chatd_node_tag(const struct chatd *s);

/* --- memory the program keeps for its clients --- */

/* Memory a handler allocates on its clients' behalf (history, say) counts against
 * --max-memory like chatd's own buffers: charge the size given to malloc after it
 * succeeds, release the same size when it is freed. chatd charges what malloc really
 * spends for a block of that size. */
void chatd_memory_charge(size_t bytes);
void chatd_memory_release(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
