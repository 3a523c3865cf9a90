/*
 * HTTP/1.x request heads (RFC 9112): request-line, then field lines, then an empty line.
 * Strict where laxness is a known attack surface (whitespace before the colon, obs-fold
 * continuation lines, control characters) and lenient where it costs nothing (bare LF
 * line ends, as picohttpparser and most servers accept).
 */
#include "http.h"

#include <string.h>

/* tchar (RFC 9110 section 5.6.2). */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value characters: visible ASCII, obs-text, space and tab. */
static bool is_value_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7F);
}

/* Finds the end of the line starting at p. Returns a pointer to its CR or LF, and sets
 * *next past the line end; NULL when the line is not complete yet. *bad is set when a CR
 * is not followed by LF. */
static const char *line_end(const char *p, const char *end, const char **next, bool *bad)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	if (lf == NULL) {
		/* A CR not followed by LF can be reported before the line ends. */
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		if (cr != NULL && cr + 1 < end)
			*bad = true;
		return NULL;
	}
	*next = lf + 1;
	if (lf > p && lf[-1] == '\r')
		lf--;
	if (memchr(p, '\r', (size_t)(lf - p)) != NULL)
		*bad = true;
	return lf;
}

static enum http_parse_status parse_request_line(const char *p, const char *eol,
						 struct http_request *req)
{
	const char *s = p;

	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	if (p == s || p == eol || *p != ' ')
		return HTTP_PARSE_BAD_REQUEST_LINE;
	req->rq_method = (struct http_slice){s, (size_t)(p - s)};
	s = ++p;
	while (p < eol && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7F)
		p++;
	if (p == s || p == eol || *p != ' ')
		return HTTP_PARSE_BAD_REQUEST_LINE;
	req->rq_target = (struct http_slice){s, (size_t)(p - s)};
	p++;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
		return HTTP_PARSE_BAD_REQUEST_LINE;
	req->rq_version_minor = p[7] - '0';
	return HTTP_PARSE_OK;
}

static enum http_parse_status parse_header_line(const char *p, const char *eol,
						struct http_header *h)
{
	const char *s = p;

	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	/* No name, a non-token character, or whitespace before the colon (RFC 9112 section
	 * 5.1 says to reject that: it is how request smuggling starts). */
	if (p == s || p == eol || *p != ':')
		return HTTP_PARSE_BAD_HEADER;
	h->h_name = (struct http_slice){s, (size_t)(p - s)};
	p++;
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	s = p;
	for (const char *q = p; q < eol; q++)
		if (!is_value_char((unsigned char)*q))
			return HTTP_PARSE_BAD_HEADER;
	const char *e = eol;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h->h_value = (struct http_slice){s, (size_t)(e - s)};
	return HTTP_PARSE_OK;
}

enum http_parse_status http_parse_request(const char *buf, size_t len, struct http_request *req,
					  size_t *consumed)
{
	const char *p = buf, *end = buf + len, *next = NULL, *eol;
	bool bad = false;
	enum http_parse_status st;

	req->rq_header_count = 0;
	/* RFC 9112 section 2.2: ignore at least one empty line (CRLF, or a bare LF) before
	 * the request-line; a lone CR is not an empty line. */
	if (end - p == 1 && p[0] == '\r')
		return HTTP_PARSE_INCOMPLETE; /* maybe the start of that empty line */
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	else if (p < end && *p == '\n')
		p++;
	eol = line_end(p, end, &next, &bad);
	if (bad)
		return HTTP_PARSE_BAD_REQUEST_LINE;
	if (eol == NULL) {
		/* Report garbage (a TLS hello, a binary probe) without waiting for a newline. */
		const char *q = p;
		while (q < end && is_tchar((unsigned char)*q))
			q++;
		if (q < end && *q != ' ')
			return HTTP_PARSE_BAD_REQUEST_LINE;
		return HTTP_PARSE_INCOMPLETE;
	}
	st = parse_request_line(p, eol, req);
	if (st != HTTP_PARSE_OK)
		return st;

	for (p = next;;) {
		eol = line_end(p, end, &next, &bad);
		if (bad)
			return HTTP_PARSE_BAD_HEADER;
		if (eol == NULL)
			return HTTP_PARSE_INCOMPLETE;
		if (eol == p)
			break; /* the empty line: the head is complete */
		if (*p == ' ' || *p == '\t')
			return HTTP_PARSE_BAD_HEADER; /* obs-fold (RFC 9112 section 5.2) */
		if (req->rq_header_count == HTTP_MAX_HEADERS)
			return HTTP_PARSE_TOO_MANY_HEADERS;
		st = parse_header_line(p, eol, &req->rq_headers[req->rq_header_count]);
		if (st != HTTP_PARSE_OK)
			return st;
		req->rq_header_count++;
		p = next;
	}
	*consumed = (size_t)(next - buf);
	return HTTP_PARSE_OK;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool http_slice_equals(struct http_slice slice, const char *s)
{
	size_t n = strlen(s);
	if (slice.s_len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(slice.s_ptr[i]) != lower(s[i]))
			return false;
	return true;
}

bool http_slice_is(struct http_slice slice, const char *s)
{
	return slice.s_len == strlen(s) && memcmp(slice.s_ptr, s, slice.s_len) == 0;
}

const struct http_header *http_find_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->rq_header_count; i++)
		if (http_slice_equals(req->rq_headers[i].h_name, name))
			return &req->rq_headers[i];
	return NULL;
}

size_t http_count_headers(const struct http_request *req, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < req->rq_header_count; i++)
		if (http_slice_equals(req->rq_headers[i].h_name, name))
			n++;
	return n;
}

bool http_list_has_token(struct http_slice value, const char *token)
{
	const char *p = value.s_ptr, *end = value.s_ptr + value.s_len;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *s = p;
		while (p < end && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s && http_slice_equals((struct http_slice){s, (size_t)(e - s)}, token))
			return true;
	}
	return false;
}

bool http_headers_have_token(const struct http_request *req, const char *name, const char *token)
{
	for (size_t i = 0; i < req->rq_header_count; i++)
		if (http_slice_equals(req->rq_headers[i].h_name, name) &&
		    http_list_has_token(req->rq_headers[i].h_value, token))
			return true;
	return false;
}
