/*
 * The JSON parser: one pass, no recursion and no stack of its own. While a container is
 * open its token's jt_next holds its parent's index (JSON_NONE at the top), and is set to
 * its real value when the container closes; depth is a counter. Every error is found
 * before the byte after it is read, and nothing past buf[len - 1] is ever read.
 */
#include "json.h"

#include <string.h>

#include "percent.h"
#include "utf8.h"

#define JSON_NONE UINT32_MAX

struct json_parser {
	const char *jp_buf;
	size_t jp_len;
	size_t jp_pos;
	struct json_token *jp_tokens;
	size_t jp_max_tokens;
	size_t jp_count;
};

static void skip_space(struct json_parser *p)
{
	while (p->jp_pos < p->jp_len) {
		char c = p->jp_buf[p->jp_pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		p->jp_pos++;
	}
}

/* Four hex digits at s[0..3] (the caller checked they are there); -1 if any is not. */
static long hex4(const char *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = percent_hex_value(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* A \u escape at s (pointing at the 'u'), with end the end of the input. Stores the code
 * point and the bytes the escape (or surrogate pair) takes after the backslash. Returns
 * 0 or JSON_ERR_ESCAPE. */
static int unicode_escape(const char *s, const char *end, uint32_t *cp, size_t *used)
{
	long hi, lo;

	if (end - s < 5 || (hi = hex4(s + 1)) < 0)
		return JSON_ERR_ESCAPE;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return JSON_ERR_ESCAPE; /* a low surrogate with no high one before it */
	if (hi < 0xD800 || hi > 0xDBFF) {
		*cp = (uint32_t)hi;
		*used = 5;
		return 0;
	}
	/* A high surrogate: a low one must follow at once, or it stands alone (RFC 8259
	 * section 8.2 lets parsers refuse that; a lone surrogate is not UTF-8 on the way out). */
	if (end - s < 11 || s[5] != '\\' || s[6] != 'u' || (lo = hex4(s + 7)) < 0 || lo < 0xDC00 ||
	    lo > 0xDFFF)
		return JSON_ERR_ESCAPE;
	*cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
	*used = 11;
	return 0;
}

static size_t utf8_length(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* A string whose opening quote is at jp_pos. Fills t; returns 0 or a status. */
static int parse_string(struct json_parser *p, struct json_token *t)
{
	const char *start = p->jp_buf + p->jp_pos + 1, *s = start, *end = p->jp_buf + p->jp_len;
	size_t decoded = 0;
	bool ascii = true;

	while (s < end && *s != '"') {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20)
			return JSON_ERR_SYNTAX; /* control characters must be escaped */
		if (c != '\\') {
			ascii &= c < 0x80;
			s++;
			decoded++;
			continue;
		}
		if (end - s < 2)
			return JSON_ERR_SYNTAX;
		switch (s[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			s += 2;
			decoded++;
			break;
		case 'u': {
			uint32_t cp;
			size_t used;
			int st = unicode_escape(s + 1, end, &cp, &used);
			if (st < 0)
				return st;
			s += 1 + used;
			decoded += utf8_length(cp);
			break;
		}
		default: return JSON_ERR_ESCAPE;
		}
	}
	if (s == end)
		return JSON_ERR_SYNTAX; /* no closing quote */
	/* Escapes are ASCII, so the raw bytes are valid UTF-8 exactly when the text is. */
	if (!ascii && !utf8_valid((const uint8_t *)start, (size_t)(s - start)))
		return JSON_ERR_UTF8;
	t->jt_kind = JSON_STRING;
	t->jt_start = (uint32_t)(start - p->jp_buf);
	t->jt_len = (uint32_t)(s - start);
	t->jt_count = (uint32_t)decoded;
	p->jp_pos = (size_t)(s - p->jp_buf) + 1;
	return 0;
}

static bool is_digit(const struct json_parser *p)
{
	return p->jp_pos < p->jp_len && p->jp_buf[p->jp_pos] >= '0' && p->jp_buf[p->jp_pos] <= '9';
}

static bool at(const struct json_parser *p, char c)
{
	return p->jp_pos < p->jp_len && p->jp_buf[p->jp_pos] == c;
}

/* -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
static int parse_number(struct json_parser *p, struct json_token *t)
{
	size_t start = p->jp_pos;

	if (at(p, '-'))
		p->jp_pos++;
	if (at(p, '0')) {
		p->jp_pos++;
	} else {
		if (!is_digit(p))
			return JSON_ERR_SYNTAX;
		while (is_digit(p))
			p->jp_pos++;
	}
	if (at(p, '.')) {
		p->jp_pos++;
		if (!is_digit(p))
			return JSON_ERR_SYNTAX;
		while (is_digit(p))
			p->jp_pos++;
	}
	if (at(p, 'e') || at(p, 'E')) {
		p->jp_pos++;
		if (at(p, '+') || at(p, '-'))
			p->jp_pos++;
		if (!is_digit(p))
			return JSON_ERR_SYNTAX;
		while (is_digit(p))
			p->jp_pos++;
	}
	t->jt_kind = JSON_NUMBER;
	t->jt_start = (uint32_t)start;
	t->jt_len = (uint32_t)(p->jp_pos - start);
	return 0;
}

static int parse_literal(struct json_parser *p, struct json_token *t, const char *word,
			 enum json_kind kind)
{
	size_t n = strlen(word);

	if (p->jp_len - p->jp_pos < n || memcmp(p->jp_buf + p->jp_pos, word, n) != 0)
		return JSON_ERR_SYNTAX;
	t->jt_kind = kind;
	t->jt_start = (uint32_t)p->jp_pos;
	t->jt_len = (uint32_t)n;
	p->jp_pos += n;
	return 0;
}

/* A new token, its jt_next set to the next index (a container changes it). */
static struct json_token *new_token(struct json_parser *p)
{
	struct json_token *t;

	if (p->jp_count == p->jp_max_tokens)
		return NULL;
	t = &p->jp_tokens[p->jp_count++];
	memset(t, 0, sizeof *t);
	t->jt_next = (uint32_t)p->jp_count;
	return t;
}

/* A scalar, or the opening of a container, at jp_pos (whitespace skipped). */
static int parse_scalar(struct json_parser *p, struct json_token *t)
{
	switch (p->jp_buf[p->jp_pos]) {
	case '"': return parse_string(p, t);
	case 't': return parse_literal(p, t, "true", JSON_TRUE);
	case 'f': return parse_literal(p, t, "false", JSON_FALSE);
	case 'n': return parse_literal(p, t, "null", JSON_NULL);
	default: return parse_number(p, t);
	}
}

int json_parse(const char *buf, size_t len, struct json_token *tokens, size_t max_tokens,
	       unsigned max_depth)
{
	struct json_parser p = {buf, len, 0, tokens, max_tokens, 0};
	uint32_t open = JSON_NONE; /* the innermost open container */
	unsigned depth = 0;

	if (len > JSON_MAX_INPUT)
		return JSON_ERR_SIZE;
	if (max_depth > JSON_MAX_DEPTH)
		max_depth = JSON_MAX_DEPTH;
	if (max_tokens > (size_t)INT32_MAX)
		p.jp_max_tokens = INT32_MAX;

	for (;;) {
		struct json_token *t;
		int st;

		/* A value: in an object, after its key and colon. */
		skip_space(&p);
		if (p.jp_pos == len)
			return JSON_ERR_SYNTAX;
		if ((t = new_token(&p)) == NULL)
			return JSON_ERR_TOKENS;
		if (open != JSON_NONE && tokens[open].jt_kind == JSON_ARRAY)
			tokens[open].jt_count++;
		if (buf[p.jp_pos] == '{' || buf[p.jp_pos] == '[') {
			if (depth == max_depth)
				return JSON_ERR_DEPTH;
			depth++;
			t->jt_kind = buf[p.jp_pos] == '{' ? JSON_OBJECT : JSON_ARRAY;
			t->jt_start = (uint32_t)p.jp_pos++;
			t->jt_next = open;
			open = (uint32_t)(p.jp_count - 1);
			skip_space(&p);
			if (at(&p, t->jt_kind == JSON_OBJECT ? '}' : ']'))
				goto close; /* empty */
			if (t->jt_kind == JSON_ARRAY)
				continue;
			goto key;
		}
		if ((st = parse_scalar(&p, t)) < 0)
			return st;

	after_value:
		/* A comma and the next member, the end of containers, or the end. */
		skip_space(&p);
		if (open == JSON_NONE)
			return p.jp_pos == len ? (int)p.jp_count : JSON_ERR_SYNTAX;
		if (at(&p, ',')) {
			p.jp_pos++;
			if (tokens[open].jt_kind == JSON_ARRAY)
				continue;
			skip_space(&p);
			goto key;
		}
		if (!at(&p, tokens[open].jt_kind == JSON_OBJECT ? '}' : ']'))
			return JSON_ERR_SYNTAX;
	close : {
		struct json_token *c = &tokens[open];
		uint32_t parent = c->jt_next;
		p.jp_pos++;
		c->jt_len = (uint32_t)(p.jp_pos - c->jt_start);
		c->jt_next = (uint32_t)p.jp_count;
		open = parent;
		depth--;
		goto after_value;
	}
	key:
		/* An object member's key and colon; the loop then reads its value. */
		if (!at(&p, '"'))
			return JSON_ERR_SYNTAX;
		if ((t = new_token(&p)) == NULL)
			return JSON_ERR_TOKENS;
		if ((st = parse_string(&p, t)) < 0)
			return st;
		tokens[open].jt_count++;
		skip_space(&p);
		if (!at(&p, ':'))
			return JSON_ERR_SYNTAX;
		p.jp_pos++;
	}
}

/* Decodes the escape at s (after the backslash) into out; returns the bytes written and
 * stores in *used the input bytes taken. */
static size_t decode_escape(const char *s, const char *end, char *out, size_t *used)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k = strchr(from, *s);
	uint32_t cp = 0;
	size_t n;

	if (*s != 'u' && k != NULL) {
		*out = to[k - from];
		*used = 1;
		return 1;
	}
	if (unicode_escape(s, end, &cp, used) < 0)
		return 0; /* json_parse refused this token */
	n = utf8_length(cp);
	if (n == 1) {
		out[0] = (char)cp;
	} else if (n == 2) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
	} else if (n == 3) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[0] = (char)(0xF0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (char)(0x80 | (cp & 0x3F));
	}
	return n;
}

size_t json_string_decode(const char *buf, const struct json_token *t, char *out)
{
	const char *s = buf + t->jt_start, *end = s + t->jt_len;
	size_t n = 0;

	while (s < end) {
		const char *bs = memchr(s, '\\', (size_t)(end - s));
		size_t plain = (size_t)((bs != NULL ? bs : end) - s), used = 0;
		memcpy(out + n, s, plain);
		n += plain;
		s += plain;
		if (s == end)
			break;
		n += decode_escape(s + 1, end, out + n, &used);
		s += 1 + used;
	}
	return n;
}

/* True when the string token decodes to exactly key. Keys are short and seldom escaped:
 * the usual case is one memcmp. */
static bool string_equals(const char *buf, const struct json_token *t, const char *key)
{
	size_t n = strlen(key);
	char tmp[64];

	if (t->jt_count != n)
		return false;
	if (t->jt_len == n)
		return memcmp(buf + t->jt_start, key, n) == 0;
	if (t->jt_len > sizeof tmp)
		return false; /* no key of ours needs that many escapes */
	json_string_decode(buf, t, tmp);
	return memcmp(tmp, key, n) == 0;
}

int json_object_get(const char *buf, const struct json_token *tokens, int object, const char *key)
{
	const struct json_token *o = &tokens[object];
	uint32_t i = (uint32_t)object + 1;

	if (o->jt_kind != JSON_OBJECT)
		return -1;
	for (uint32_t m = 0; m < o->jt_count; m++) {
		uint32_t value = i + 1;
		if (string_equals(buf, &tokens[i], key))
			return (int)value;
		i = tokens[value].jt_next;
	}
	return -1;
}

/* The letter of a two-character escape for c, 0 when c needs \u00XX, or 1 when c goes
 * as it is. */
static char escape_of(unsigned char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	default: return c < 0x20 ? 0 : 1;
	}
}

size_t json_string_size(const char *s, size_t len)
{
	size_t n = 2;

	for (size_t i = 0; i < len; i++) {
		char e = escape_of((unsigned char)s[i]);
		n += e == 1 ? 1 : e == 0 ? 6 : 2;
	}
	return n;
}

size_t json_write_string(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (cap < 2)
		return 0;
	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char e = escape_of(c);
		size_t need = e == 1 ? 1 : e == 0 ? 6 : 2;
		if (cap - n < need + 1)
			return 0; /* the closing quote must fit too */
		if (e == 1) {
			out[n++] = (char)c;
		} else if (e != 0) {
			out[n++] = '\\';
			out[n++] = e;
		} else {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[c >> 4];
			out[n + 5] = hex[c & 15];
			n += 6;
		}
	}
	out[n++] = '"';
	return n;
}
