/*
 * transport_tls13: a TLS 1.3 connection after its handshake, carried by chatd's own record
 * layer (tls_record.h) instead of OpenSSL's SSL object, which costs 13-15 KB for as long as
 * the connection lives. transport_tls hands a connection over once OpenSSL has finished
 * the handshake; from then on only the traffic keys remain (a few hundred bytes).
 */
#ifndef CHATD_TRANSPORT_TLS13_H
#define CHATD_TRANSPORT_TLS13_H

#include <stdint.h>

#include "tls_record.h"
#include "transport.h"

/* Where the handshake left the connection. The secrets are borrowed (copied here). */
struct tls13_handover {
	enum tls_record_suite th_suite;
	const uint8_t *th_client_secret; /* client_application_traffic_secret_0 */
	const uint8_t *th_server_secret; /* server_application_traffic_secret_0 */
	uint64_t th_read_seq;            /* records already read under the client's secret */
	uint64_t th_write_seq;           /* records already written under the server's */
};

/* Replaces t's session and operations with the TLS 1.3 record layer over t's descriptor;
 * the caller then frees its own state. Returns 0, or -1 (t unchanged). */
int transport_tls13_adopt(struct transport *t, const struct tls13_handover *h);

#endif
