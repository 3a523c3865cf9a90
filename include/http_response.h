/*
 * http_response: formats the few HTTP/1.1 responses chatd sends before a connection
 * becomes a WebSocket or is closed. Every response says "Connection: close": chatd serves
 * one request per plain HTTP connection.
 */
#ifndef CHATD_HTTP_RESPONSE_H
#define CHATD_HTTP_RESPONSE_H

#include <stddef.h>

/* The reason phrase for a status code chatd uses ("Bad Request"). */
const char *http_status_text(int status);

/* Writes a response head (status line, the usual headers, extra_headers verbatim when not
 * NULL, each ending in CRLF, and the blank line) into buf. Returns its length, or 0 when
 * cap is too small. */
size_t http_response_head(char *buf, size_t cap, int status, const char *content_type,
			  size_t content_length, const char *extra_headers);

/* Writes a whole plain-text error response whose body is reason and a newline, with the
 * extra headers the status needs (Allow for 405, Sec-WebSocket-Version for 426). */
size_t http_response_error(char *buf, size_t cap, int status, const char *reason);

/* The head alone of that response, for a HEAD request (RFC 9110 section 9.3.2). */
size_t http_response_error_head(char *buf, size_t cap, int status, const char *reason);

#endif
