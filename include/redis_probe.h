/*
 * redis_probe: the start-up check of --redis, blocking, before the event loop runs: does
 * Redis accept our credentials? A wrong or missing password is a mistake retrying cannot
 * fix, so chatd refuses to start; a Redis that cannot be reached only delays the sharing
 * of rooms (the backplane connects when it comes up).
 */
#ifndef CHATD_REDIS_PROBE_H
#define CHATD_REDIS_PROBE_H

#include <stddef.h>

#include "redis_url.h"

/* Waits at most REDIS_PROBE_TIMEOUT_MS per step. Returns 0 when Redis accepts the
 * credentials, or when it cannot be reached (the reason is logged as a warning); -1 with
 * a one-line reason in err when it refuses the password or wants one. */
#define REDIS_PROBE_TIMEOUT_MS 2000
int redis_probe(const struct redis_url *url, char *err, size_t errlen);

#endif
