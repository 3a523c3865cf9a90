/*
 * http: an HTTP/1.x request-head parser (RFC 9112 sections 2-5), in the shape of
 * picohttpparser: it allocates nothing, reads no socket, keeps no state, and answers
 * "complete, here are slices into your buffer", "incomplete, call again with more" or
 * "malformed". The caller bounds how much it is willing to buffer.
 */
#ifndef CHATD_HTTP_H
#define CHATD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* More header lines than this get 431: no legitimate upgrade needs half as many. */
#define HTTP_MAX_HEADERS 64

/* A slice of the caller's buffer; not NUL-terminated. */
struct http_slice {
	const char *s_ptr;
	size_t s_len;
};

struct http_header {
	struct http_slice h_name;
	struct http_slice h_value; /* leading and trailing whitespace removed */
};

struct http_request {
	struct http_slice rq_method;
	struct http_slice rq_target;
	int rq_version_minor; /* HTTP/1.x: x */
	struct http_header rq_headers[HTTP_MAX_HEADERS];
	size_t rq_header_count;
};

enum http_parse_status {
	HTTP_PARSE_OK,               /* the head is complete: *consumed bytes make it up */
	HTTP_PARSE_INCOMPLETE,       /* no blank line yet */
	HTTP_PARSE_BAD_REQUEST_LINE, /* malformed request line or unsupported protocol */
	HTTP_PARSE_BAD_HEADER,       /* malformed header line */
	HTTP_PARSE_TOO_MANY_HEADERS,
};

/* Parses the request head at the start of buf. Slices in *req point into buf and are valid
 * as long as buf is. Accepts CRLF or bare LF line ends. */
enum http_parse_status http_parse_request(const char *buf, size_t len, struct http_request *req,
					  size_t *consumed);

/* The first header with this name (ASCII case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);

/* How many headers carry this name. */
size_t http_count_headers(const struct http_request *req, const char *name);

/* True when the comma-separated list in value holds token (ASCII case-insensitive),
 * as for "Connection: keep-alive, Upgrade". */
bool http_list_has_token(struct http_slice value, const char *token);

/* True when any header with this name holds token in its comma-separated list: a list
 * may be split over several header lines (RFC 9110 section 5.3), as in "Upgrade: h2c"
 * then "Upgrade: websocket". */
bool http_headers_have_token(const struct http_request *req, const char *name, const char *token);

/* True when the slice equals s, ASCII case-insensitive (header names, tokens). */
bool http_slice_equals(struct http_slice slice, const char *s);

/* True when the slice equals s exactly (methods, paths: case-sensitive). */
bool http_slice_is(struct http_slice slice, const char *s);

#endif
