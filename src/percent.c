/* Percent-decoding: one loop, bounded by the caller's buffer. */
#include "percent.h"

int percent_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool percent_decode(const char *s, size_t len, bool plus_is_space, char *out, size_t cap,
		    size_t *out_len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = plus_is_space && s[i] == '+' ? ' ' : s[i];
		if (c == '%') {
			int hi, lo;
			if (len - i < 3 || (hi = percent_hex_value(s[i + 1])) < 0 ||
			    (lo = percent_hex_value(s[i + 2])) < 0 || (hi == 0 && lo == 0))
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= cap)
			return false;
		out[n++] = c;
	}
	if (cap == 0)
		return false;
	out[n] = '\0';
	*out_len = n;
	return true;
}
