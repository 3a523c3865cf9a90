/*
 * percent: the hex digits and percent-decoding of URIs (RFC 3986 section 2.1), for the
 * --redis URL's credentials and a request's query string; JSON's \u escapes read their
 * hex digits with it too. Pure: the caller owns every buffer.
 */
#ifndef CHATD_PERCENT_H
#define CHATD_PERCENT_H

#include <stdbool.h>
#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
int percent_hex_value(char c);

/* Decodes s[0..len) into out (cap bytes, NUL-terminated); with plus_is_space a '+' is a
 * space (a query string's form encoding). Stores the length in *out_len. False when a
 * '%' is not followed by two hex digits, when it encodes a NUL (the results are C
 * strings), or when the result and its NUL do not fit in cap. */
bool percent_decode(const char *s, size_t len, bool plus_is_space, char *out, size_t cap,
		    size_t *out_len);

#endif
