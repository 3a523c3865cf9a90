/* The --redis address: scheme, credentials, host or path, port and database. */
#include "redis_url.h"

#include <stdio.h>
#include <string.h>

#include "percent.h"

/* Percent-decodes a credential (hiredis takes C strings: a NUL is refused). */
static bool decode_part(const char *s, size_t len, char *out, size_t cap)
{
	size_t n;
	return percent_decode(s, len, false, out, cap, &n);
}

static bool parse_number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return false;                                                                      \
	} while (0)

/* "[user]:password@" or "password@"... before the host or path: splits at the last '@'
 * of the authority so a password may hold an unencoded '@'. */
static bool parse_userinfo(const char *s, size_t len, struct redis_url *u, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', len);

	if (colon == NULL) {
		/* redis://secret@host: what most clients read as the password alone. */
		if (!decode_part(s, len, u->ru_password, sizeof u->ru_password))
			FAIL("invalid password in the Redis URL");
		return true;
	}
	if (!decode_part(s, (size_t)(colon - s), u->ru_user, sizeof u->ru_user))
		FAIL("invalid user name in the Redis URL");
	if (!decode_part(colon + 1, len - (size_t)(colon - s) - 1, u->ru_password,
			 sizeof u->ru_password))
		FAIL("invalid password in the Redis URL");
	if (u->ru_user[0] != '\0' && u->ru_password[0] == '\0')
		FAIL("the Redis URL names a user but no password");
	return true;
}

static bool parse_tcp(const char *s, struct redis_url *u, char *err, size_t errlen)
{
	size_t auth_len = strcspn(s, "/?#");
	const char *at = NULL, *host, *end, *port = NULL;
	unsigned long v;

	for (size_t i = 0; i < auth_len; i++)
		if (s[i] == '@')
			at = s + i;
	if (at != NULL && !parse_userinfo(s, (size_t)(at - s), u, err, errlen))
		return false;
	host = at != NULL ? at + 1 : s;
	end = s + auth_len;
	if (host < end && *host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (close == NULL)
			FAIL("unclosed '[' in the Redis URL");
		if ((size_t)(close - host - 1) >= sizeof u->ru_host || close == host + 1)
			FAIL("invalid host in the Redis URL");
		memcpy(u->ru_host, host + 1, (size_t)(close - host - 1));
		u->ru_host[close - host - 1] = '\0';
		if (close + 1 < end) {
			if (close[1] != ':')
				FAIL("unexpected characters after ']' in the Redis URL");
			port = close + 2;
		}
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));
		const char *host_end = colon != NULL ? colon : end;
		if ((size_t)(host_end - host) >= sizeof u->ru_host)
			FAIL("host name too long in the Redis URL");
		memcpy(u->ru_host, host, (size_t)(host_end - host));
		u->ru_host[host_end - host] = '\0';
		if (colon != NULL)
			port = colon + 1;
	}
	if (u->ru_host[0] == '\0')
		snprintf(u->ru_host, sizeof u->ru_host, "127.0.0.1");
	for (const char *p = u->ru_host; *p != '\0'; p++)
		if (*p == '@' || *p == ' ' || *p == '%')
			FAIL("invalid host in the Redis URL");
	if (port != NULL) {
		if (!parse_number(port, (size_t)(end - port), 65535, &v) || v == 0)
			FAIL("invalid port in the Redis URL (expected 1-65535)");
		u->ru_port = (uint16_t)v;
	}
	if (*end == '/' && end[1] != '\0') {
		if (!parse_number(end + 1, strlen(end + 1), 1000000, &v))
			FAIL("invalid database number in the Redis URL (expected /N)");
		u->ru_db = (int)v;
	} else if (*end != '\0' && strcmp(end, "/") != 0) {
		FAIL("unexpected '%c' in the Redis URL (query strings are not supported)", *end);
	}
	return true;
}

static bool parse_unix(const char *s, struct redis_url *u, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	const char *at = NULL;

	if (slash == NULL)
		FAIL("a unix:// Redis URL needs an absolute path (unix:///run/redis.sock)");
	for (const char *p = s; p < slash; p++)
		if (*p == '@')
			at = p;
	if (at == NULL && slash != s)
		FAIL("a unix:// Redis URL needs an absolute path (unix:///run/redis.sock)");
	if (at != NULL && at + 1 != slash)
		FAIL("invalid unix:// Redis URL (expected unix://[user:password@]/path)");
	if (at != NULL && !parse_userinfo(s, (size_t)(at - s), u, err, errlen))
		return false;
	if (strlen(slash) >= sizeof u->ru_path)
		FAIL("Unix socket path too long in the Redis URL (at most %zu bytes)",
		     sizeof u->ru_path - 1);
	if (strlen(slash) < 2)
		FAIL("a unix:// Redis URL needs an absolute path (unix:///run/redis.sock)");
	snprintf(u->ru_path, sizeof u->ru_path, "%s", slash);
	u->ru_unix = true;
	return true;
}

bool redis_url_parse(const char *s, struct redis_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	u->ru_port = REDIS_URL_DEFAULT_PORT;
	u->ru_db = -1;
	if (strncmp(s, "redis://", 8) == 0)
		return parse_tcp(s + 8, u, err, errlen);
	if (strncmp(s, "unix://", 7) == 0)
		return parse_unix(s + 7, u, err, errlen);
	if (strncmp(s, "rediss://", 9) == 0)
		FAIL("TLS to Redis (rediss://) is not supported; use a local stunnel or a "
		     "private network");
	FAIL("invalid Redis URL '%.100s' (expected redis://[user:password@]host[:port][/db] "
	     "or unix:///path)",
	     s);
}

void redis_url_format(const struct redis_url *u, char *buf, size_t len)
{
	const char *auth = u->ru_password[0] != '\0' ? "***@" : "";
	const char *user = u->ru_user;
	const char *colon = u->ru_user[0] != '\0' ? ":" : "";

	if (u->ru_password[0] == '\0')
		user = colon = "";
	if (u->ru_unix) {
		snprintf(buf, len, "unix://%s%s%s%s", user, colon, auth, u->ru_path);
	} else {
		bool v6 = strchr(u->ru_host, ':') != NULL;
		snprintf(buf, len, "redis://%s%s%s%s%s%s:%u", user, colon, auth, v6 ? "[" : "",
			 u->ru_host, v6 ? "]" : "", u->ru_port);
		if (u->ru_db >= 0) {
			size_t n = strlen(buf);
			snprintf(buf + n, len - n, "/%d", u->ru_db);
		}
	}
}
