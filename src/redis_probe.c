/* The start-up credentials check, with hiredis's blocking API. */
#include "redis_probe.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "log.h"

int redis_probe(const struct redis_url *u, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = REDIS_PROBE_TIMEOUT_MS / 1000};
	char name[400];
	redisContext *c;
	redisReply *reply;
	int status = 0;

	redis_url_format(u, name, sizeof name);
	c = u->ru_unix ? redisConnectUnixWithTimeout(u->ru_path, tv)
		       : redisConnectWithTimeout(u->ru_host, u->ru_port, tv);
	if (c == NULL || c->err != 0) {
		log_warn("redis: cannot reach %s now (%s): starting anyway, will keep trying", name,
			 c != NULL ? c->errstr : "out of memory");
		redisFree(c);
		return 0;
	}
	(void)redisSetTimeout(c, tv);
	if (u->ru_password[0] != '\0') {
		reply = u->ru_user[0] != '\0'
				? redisCommand(c, "AUTH %s %s", u->ru_user, u->ru_password)
				: redisCommand(c, "AUTH %s", u->ru_password);
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "Redis at %s refused the password: %s", name,
				 reply->str);
			status = -1;
		}
		freeReplyObject(reply);
	}
	if (status == 0) {
		reply = redisCommand(c, "PING");
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
		    strncmp(reply->str, "NOAUTH", 6) == 0) {
			snprintf(err, errlen,
				 "Redis at %s wants a password (%s): give it in the URL, "
				 "redis://:PASSWORD@host:port",
				 name, reply->str);
			status = -1;
		}
		freeReplyObject(reply);
	}
	redisFree(c);
	return status;
}
