/*
 * json: a strict JSON (RFC 8259) parser and a string writer, for chatd.v1's frames.
 * Pure and picohttpparser-shaped: the parser allocates nothing and reads only the caller's
 * buffer; it describes the document as tokens (offsets into that buffer) in an array the
 * caller provides, so the caller bounds its work by the input's size, the token count and
 * the nesting depth. Strings must be valid UTF-8 and their \u escapes may not leave a
 * surrogate alone.
 */
#ifndef CHATD_JSON_H
#define CHATD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Offsets are 32-bit: a longer input is refused with JSON_ERR_SIZE. */
#define JSON_MAX_INPUT ((size_t)UINT32_MAX)
/* The deepest nesting json_parse accepts, whatever the caller asks. */
#define JSON_MAX_DEPTH 64

enum json_kind {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

enum json_status {
	JSON_ERR_SYNTAX = -1, /* not JSON, or something after the value */
	JSON_ERR_DEPTH = -2,  /* nested deeper than allowed */
	JSON_ERR_TOKENS = -3, /* more values than the token array holds */
	JSON_ERR_UTF8 = -4,   /* a string that is not valid UTF-8 */
	JSON_ERR_ESCAPE = -5, /* a bad escape, or a \u escape leaving a surrogate alone */
	JSON_ERR_SIZE = -6,   /* over JSON_MAX_INPUT */
};

/* One value. An object's tokens are followed by its members, key then value; an array's by
 * its elements. */
struct json_token {
	uint32_t jt_kind;  /* enum json_kind */
	uint32_t jt_start; /* offset of its first byte; a string's is after the opening quote */
	uint32_t jt_len;   /* its bytes; a string's raw contents, between the quotes */
	uint32_t jt_next;  /* index of the token after it and everything it contains */
	uint32_t jt_count; /* object: members; array: elements; string: bytes once decoded */
};

/* Parses one JSON text of len bytes (surrounding whitespace allowed) into at most
 * max_tokens tokens, nested at most max_depth deep (capped at JSON_MAX_DEPTH). Returns the
 * number of tokens (token 0 is the top value), or a negative enum json_status. */
int json_parse(const char *buf, size_t len, struct json_token *tokens, size_t max_tokens,
	       unsigned max_depth);

/* The value of key in the object at tokens[object], or -1 (not an object, or no such key;
 * with duplicate keys, the first). */
int json_object_get(const char *buf, const struct json_token *tokens, int object, const char *key);

/* Decodes a string token's escapes into out, which has room for t->jt_count bytes (never
 * more than t->jt_len). Returns t->jt_count. Only for tokens json_parse accepted. */
size_t json_string_decode(const char *buf, const struct json_token *t, char *out);

/* The most json_write_string writes for len bytes: quotes and every byte as \u00XX. */
#define JSON_STRING_MAX(len) (2 + 6 * (size_t)(len))

/* Writes s (len bytes of valid UTF-8) as a JSON string, quotes included, into out (cap
 * bytes). Returns the bytes written, or 0 when cap is too small (out is then garbage). */
size_t json_write_string(char *out, size_t cap, const char *s, size_t len);

/* Exactly what json_write_string writes for s, quotes included. */
size_t json_string_size(const char *s, size_t len);

#endif
