/*
 * The chatd.v1 handler's frame writer (src/handler_v1_out.h).
 */
#include "handler_v1_out.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

struct v1_out v1_out;

/* A buffer grown past this for one large frame (a raw client's long message, a crowded
 * room's welcome) is freed rather than kept. */
#define V1_OUT_KEEP ((size_t)64 << 10)

static bool out_reserve(size_t n)
{
	struct v1_out *o = &v1_out;

	if (o->vo_failed)
		return false;
	if (o->vo_buf != NULL && o->vo_cap - o->vo_len >= n)
		return true;
	size_t cap = o->vo_cap ? o->vo_cap : 1024;
	while (cap - o->vo_len < n)
		cap *= 2;
	char *p = realloc(o->vo_buf, cap);
	if (p == NULL) {
		o->vo_failed = true;
		return false;
	}
	if (o->vo_cap != 0)
		chatd_memory_release(o->vo_cap);
	chatd_memory_charge(cap);
	o->vo_buf = p;
	o->vo_cap = cap;
	return true;
}

void v1_out_start(void)
{
	v1_out.vo_len = 0;
	v1_out.vo_failed = false;
	if (v1_out.vo_cap > V1_OUT_KEEP) {
		free(v1_out.vo_buf);
		chatd_memory_release(v1_out.vo_cap);
		v1_out.vo_buf = NULL;
		v1_out.vo_cap = 0;
	}
}

void v1_out_bytes(const char *s, size_t n)
{
	if (n > 0 && out_reserve(n)) {
		memcpy(v1_out.vo_buf + v1_out.vo_len, s, n);
		v1_out.vo_len += n;
	}
}

void v1_out_text(const char *s)
{
	v1_out_bytes(s, strlen(s));
}

void v1_out_number(uint64_t v)
{
	char tmp[24];
	size_t n = sizeof tmp;

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	v1_out_bytes(tmp + n, sizeof tmp - n);
}

void v1_out_string(const char *s, size_t n)
{
	size_t size = json_string_size(s, n);

	if (out_reserve(size))
		v1_out.vo_len += json_write_string(v1_out.vo_buf + v1_out.vo_len,
						   v1_out.vo_cap - v1_out.vo_len, s, n);
}

void v1_out_send(struct chatd_conn *c)
{
	if (!v1_out.vo_failed)
		chatd_send(c, CHATD_TEXT, v1_out.vo_buf, v1_out.vo_len);
}

void v1_out_message_tail(uint64_t time, const char *name, size_t name_len, const char *text,
			 size_t text_len, bool history)
{
	v1_out_text(",\"time\":");
	v1_out_number(time);
	v1_out_text(",\"name\":");
	v1_out_string(name, name_len);
	v1_out_text(",\"text\":");
	v1_out_string(text, text_len);
	v1_out_text(history ? ",\"history\":true}" : "}");
}

void v1_out_message(uint64_t id, uint64_t time, const char *name, size_t name_len, const char *text,
		    size_t text_len, bool history)
{
	v1_out_start();
	v1_out_text(V1_MESSAGE_HEAD);
	v1_out_number(id);
	v1_out_message_tail(time, name, name_len, text, text_len, history);
}

uint64_t v1_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
