/*
 * redis_url: parses the --redis address. Pure: no I/O, no allocation.
 *
 *   redis://[[user]:password@]host[:port][/db]    TCP; host may be [IPv6]; port 6379
 *   unix://[[user]:password@]/path/to/redis.sock  a Unix socket
 *
 * The user and password may be percent-encoded (%40 for '@'). rediss:// (TLS) is refused.
 */
#ifndef CHATD_REDIS_URL_H
#define CHATD_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDIS_URL_DEFAULT_PORT 6379

struct redis_url {
	bool ru_unix;
	char ru_host[256]; /* TCP: a name or an address, brackets removed */
	uint16_t ru_port;
	char ru_path[108];     /* Unix: the socket's path (sun_path's size) */
	char ru_user[128];     /* empty: none (AUTH password alone) */
	char ru_password[256]; /* empty: no AUTH */
	int ru_db;             /* -1: not given */
};

/* Fills out from s. Returns true, or false with a one-line reason in err. */
bool redis_url_parse(const char *s, struct redis_url *out, char *err, size_t errlen);

/* Writes the address for logs, the password replaced by "***". */
void redis_url_format(const struct redis_url *u, char *buf, size_t len);

#endif
