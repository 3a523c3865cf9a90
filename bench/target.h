/*
 * target: the server to load, from a ws:// or wss://HOST:PORT/PATH URL. chatbench opens thousands
 * of connections as fast as it can, which is a denial of service anywhere but on one's own
 * machine, so only loopback targets are accepted: a literal address in 127.0.0.0/8, ::1, or
 * the name localhost when it resolves to those.
 */
#ifndef CHATBENCH_TARGET_H
#define CHATBENCH_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct target {
	struct sockaddr_storage t_addr;
	socklen_t t_addrlen;
	char t_host[280]; /* the Host header: "host:port" as written in the URL */
	char t_path[256];
	char t_url[600];
	bool t_tls; /* wss:// */
};

/* 0, or -1 with a one-line reason in err. */
int target_parse(const char *url, struct target *t, char *err, size_t errlen);

#endif
