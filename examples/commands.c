/*
 * commands.c: a chat with IRC-style commands, on chatd's public API.
 *   /nick NAME   change your name (1-24 of A-Z a-z 0-9 _ -, unique in the room)
 *   /me ACTION   "* NAME ACTION" to the room
 *   /who         who is in the room, to you alone
 *   /join ROOM   move to another room ("/name")
 * Anything else goes to the room as "NAME: text". Everyone starts as guestN.
 *
 * The handler keeps its own list of people (chatd's rooms are for delivery, the names
 * are this program's business) in each connection's data, freed in on_close.
 * Build: make examples. Run: build/examples/commands --port 8080
 */
#include <chatd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 24
#define LINE_MAX_LEN 4096

struct person {
	struct person *prev, *next; /* everyone connected */
	struct chatd_conn *conn;
	char name[NAME_MAX_LEN + 1];
};

static struct person *everyone;

static struct person *person_of(struct chatd_conn *c)
{
	return chatd_conn_data(c);
}

/* Formats a line into buf; returns its length. */
static size_t format(char *buf, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, cap, fmt, ap);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* A line to everyone in room but except (NULL: all of them). */
static void say(struct chatd *s, const char *room, struct chatd_conn *except, const char *fmt, ...)
{
	char line[LINE_MAX_LEN + 64];
	va_list ap;

	va_start(ap, fmt);
	size_t n = format(line, sizeof line, fmt, ap);
	va_end(ap);
	chatd_broadcast(s, room, except, CHATD_TEXT, line, n);
}

/* A line to one client. */
static void tell(struct chatd_conn *c, const char *fmt, ...)
{
	char line[LINE_MAX_LEN + 64];
	va_list ap;

	va_start(ap, fmt);
	size_t n = format(line, sizeof line, fmt, ap);
	va_end(ap);
	chatd_send(c, CHATD_TEXT, line, n);
}

static int name_valid(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int name_taken(const char *room, const char *name)
{
	for (struct person *p = everyone; p != NULL; p = p->next)
		if (strcmp(chatd_conn_room(p->conn), room) == 0 && strcmp(p->name, name) == 0)
			return 1;
	return 0;
}

static void on_open(struct chatd_conn *c, void *user)
{
	struct person *p = calloc(1, sizeof *p);
	(void)user;

	if (p == NULL) {
		chatd_close(c, 1011, "out of memory");
		return;
	}
	p->conn = c;
	snprintf(p->name, sizeof p->name, "guest%llu", (unsigned long long)chatd_conn_id(c));
	p->next = everyone;
	if (everyone != NULL)
		everyone->prev = p;
	everyone = p;
	chatd_conn_set_data(c, p);
	say(chatd_conn_server(c), chatd_conn_room(c), c, "* %s joined %s", p->name,
	    chatd_conn_room(c));
	tell(c, "* welcome, %s: /nick NAME, /me ACTION, /who, /join ROOM", p->name);
}

static void on_close(struct chatd_conn *c, uint16_t code, void *user)
{
	struct person *p = person_of(c);
	(void)code;
	(void)user;

	if (p == NULL)
		return; /* on_open ran out of memory */
	say(chatd_conn_server(c), chatd_conn_room(c), c, "* %s left", p->name);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		everyone = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	free(p);
}

static void who(struct chatd_conn *c)
{
	char line[LINE_MAX_LEN];
	size_t n = (size_t)snprintf(line, sizeof line, "* in %s:", chatd_conn_room(c));

	for (struct person *p = everyone; p != NULL && n < sizeof line; p = p->next)
		if (strcmp(chatd_conn_room(p->conn), chatd_conn_room(c)) == 0)
			n += (size_t)snprintf(line + n, sizeof line - n, " %s", p->name);
	tell(c, "%s", line);
}

static void on_message(struct chatd_conn *c, enum chatd_type type, const void *data, size_t len,
		       void *user)
{
	struct person *p = person_of(c);
	struct chatd *s = chatd_conn_server(c);
	const char *text = data, *room = chatd_conn_room(c);
	(void)user;

	if (type != CHATD_TEXT || p == NULL)
		return; /* a text chat: binary is not relayed */
	if (len > 6 && strncmp(text, "/nick ", 6) == 0) {
		char name[NAME_MAX_LEN + 1];
		if (!name_valid(text + 6, len - 6))
			return tell(c, "* a name is 1-%d of A-Z a-z 0-9 _ -", NAME_MAX_LEN);
		memcpy(name, text + 6, len - 6);
		name[len - 6] = '\0';
		if (name_taken(room, name))
			return tell(c, "* %s is taken in this room", name);
		say(s, room, NULL, "* %s is now known as %s", p->name, name);
		memcpy(p->name, name, sizeof name);
	} else if (len > 4 && strncmp(text, "/me ", 4) == 0) {
		say(s, room, NULL, "* %s %.*s", p->name, (int)(len - 4), text + 4);
	} else if (len == 4 && strncmp(text, "/who", 4) == 0) {
		who(c);
	} else if (len > 6 && strncmp(text, "/join ", 6) == 0) {
		char old[80], to[80];
		snprintf(old, sizeof old, "%s", room);
		snprintf(to, sizeof to, "%.*s", (int)(len - 6), text + 6);
		if (len - 6 >= sizeof to || chatd_join(c, to) < 0)
			return tell(c,
				    "* no such room: a room is / and 1-63 of A-Z a-z 0-9 . _ ~ -");
		say(s, old, NULL, "* %s left for %s", p->name, to);
		say(s, to, c, "* %s joined %s", p->name, to);
	} else if (len > 0 && text[0] == '/') {
		tell(c, "* unknown command: /nick, /me, /who, /join");
	} else {
		say(s, room, c, "%s: %.*s", p->name, (int)len, text);
	}
}

int main(int argc, char **argv)
{
	struct chatd_handler commands = {
		.h_open = on_open, .h_message = on_message, .h_close = on_close};
	struct chatd *server = chatd_new();
	char err[256];

	if (server == NULL ||
	    chatd_configure(server, argc, (const char *const *)argv, err, sizeof err) < 0) {
		fprintf(stderr, "commands: %s\n", server ? err : "out of memory");
		return 2;
	}
	chatd_add_handler(server, &commands);
	int status = chatd_run(server);
	chatd_free(server);
	return status;
}
