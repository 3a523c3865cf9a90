/* The HTTP/1.1 responses chatd sends (RFC 9110 section 15 for the status codes). */
#include "http_response.h"

#include <stdio.h>
#include <string.h>

const char *http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

size_t http_response_head(char *buf, size_t cap, int status, const char *content_type,
			  size_t content_length, const char *extra_headers)
{
	int n = snprintf(buf, cap,
			 "HTTP/1.1 %d %s\r\n"
			 "Server: chatd\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "Cache-Control: no-store\r\n"
			 "X-Content-Type-Options: nosniff\r\n"
			 "Connection: close\r\n"
			 "%s"
			 "\r\n",
			 status, http_status_text(status), content_type, content_length,
			 extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

size_t http_response_error_head(char *buf, size_t cap, int status, const char *reason)
{
	const char *extra = NULL;

	if (status == 405)
		extra = "Allow: GET, HEAD\r\n";
	else if (status == 426)
		extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
	else if (status == 503)
		extra = "Retry-After: 5\r\n";
	return http_response_head(buf, cap, status, "text/plain; charset=utf-8", strlen(reason) + 1,
				  extra);
}

size_t http_response_error(char *buf, size_t cap, int status, const char *reason)
{
	size_t head = http_response_error_head(buf, cap, status, reason);
	int n;

	if (head == 0)
		return 0;
	n = snprintf(buf + head, cap - head, "%s\n", reason);
	if (n < 0 || (size_t)n >= cap - head)
		return 0;
	return head + (size_t)n;
}
