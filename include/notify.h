/*
 * notify: the systemd readiness protocol (sd_notify(3)) in a few lines, without
 * libsystemd: one datagram to the socket named by $NOTIFY_SOCKET, when it is set.
 */
#ifndef CHATD_NOTIFY_H
#define CHATD_NOTIFY_H

/* Sends state ("READY=1", "STOPPING=1", ...). Returns 1 when sent, 0 when there is no
 * $NOTIFY_SOCKET, -1 on failure. */
int notify_send(const char *state);

#endif
