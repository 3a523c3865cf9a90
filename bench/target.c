/* Parsing ws:// and wss:// URLs and the loopback-only rule. */
#include "target.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return false;
}

/* Splits "host:port/path" or "[v6]:port/path" (after "ws://") into its parts; the port
 * defaults to default_port. */
static int split_url(const char *rest, const char *default_port, char *host, size_t hostcap,
		     char *port, size_t portcap, const char **path, char *err, size_t errlen)
{
	const char *h = rest, *he, *p;

	if (*h == '[') {
		he = strchr(h, ']');
		if (he == NULL) {
			snprintf(err, errlen, "unterminated '[' in the URL");
			return -1;
		}
		h++;
		p = he + 1;
	} else {
		he = h + strcspn(h, ":/");
		p = he;
	}
	if (he == h || (size_t)(he - h) >= hostcap) {
		snprintf(err, errlen, "the URL has no host, or too long a one");
		return -1;
	}
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	snprintf(port, portcap, "%s", default_port);
	if (*p == ':') {
		size_t n = strcspn(p + 1, "/");
		if (n == 0 || n >= portcap) {
			snprintf(err, errlen, "bad port in the URL");
			return -1;
		}
		memcpy(port, p + 1, n);
		port[n] = '\0';
		p += 1 + n;
	} else if (*p != '/' && *p != '\0') {
		snprintf(err, errlen, "unexpected '%c' after the host in the URL", *p);
		return -1;
	}
	*path = *p == '/' ? p : "/";
	return 0;
}

int target_parse(const char *url, struct target *t, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char host[256], port[8];
	const char *path;
	int rc;

	memset(t, 0, sizeof *t);
	t->t_tls = strncmp(url, "wss://", 6) == 0;
	if (strncmp(url, "ws://", 5) != 0 && !t->t_tls) {
		snprintf(err, errlen, "the URL must start with ws:// or wss:// (got '%s')", url);
		return -1;
	}
	if (split_url(url + (t->t_tls ? 6 : 5), t->t_tls ? "443" : "80", host, sizeof host, port,
		      sizeof port, &path, err, errlen) < 0)
		return -1;
	if (strlen(path) >= sizeof t->t_path) {
		snprintf(err, errlen, "the URL's path is too long");
		return -1;
	}
	/* Only "localhost" is looked up; any other name is refused before it reaches DNS. */
	if (strcmp(host, "localhost") != 0)
		hints.ai_flags |= AI_NUMERICHOST;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen,
			 "%s is not a loopback address (127.0.0.0/8, ::1 or localhost)%s%s", host,
			 rc == EAI_NONAME ? "" : ": ", rc == EAI_NONAME ? "" : gai_strerror(rc));
		return -1;
	}
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (!is_loopback(ai->ai_addr)) {
			snprintf(err, errlen,
				 "%s is not a loopback address: chatbench loads only this "
				 "machine (127.0.0.0/8, ::1 or localhost)",
				 host);
			freeaddrinfo(res);
			return -1;
		}
	}
	memcpy(&t->t_addr, res->ai_addr, res->ai_addrlen);
	t->t_addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (strchr(host, ':') != NULL)
		snprintf(t->t_host, sizeof t->t_host, "[%s]:%s", host, port);
	else
		snprintf(t->t_host, sizeof t->t_host, "%s:%s", host, port);
	snprintf(t->t_path, sizeof t->t_path, "%s", path);
	snprintf(t->t_url, sizeof t->t_url, "%s", url);
	return 0;
}
