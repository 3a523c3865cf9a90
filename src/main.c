/* chatd: a WebSocket chat server. main reads the command line and runs the library with
 * chatd.v1's two handlers (src/handler_v1*.c): JSON chat for clients that ask for the
 * subprotocol, and for those that ask for none the raw chat, which shares v1's rooms and
 * keeps nothing per connection. */
#include <stdio.h>

#include "chatd.h"
#include "config.h"
#include "version.h"

int main(int argc, char **argv)
{
	struct config cf;
	struct chatd *s;
	char err[256];
	int status;

	/* --help and --version first, and usage errors with the command line's exit code. */
	config_defaults(&cf);
	switch (config_parse(&cf, argc, argv, err, sizeof err)) {
	case CONFIG_HELP: config_usage(stdout); return 0;
	case CONFIG_VERSION: printf("chatd %s\n", CHATD_VERSION); return 0;
	case CONFIG_USAGE_ERROR: fprintf(stderr, "chatd: %s\n", err); return 2;
	case CONFIG_RUN: break;
	}
	s = chatd_new();
	if (s == NULL || chatd_configure(s, argc, (const char *const *)argv, err, sizeof err) < 0 ||
	    chatd_add_handler(s, &chatd_v1_raw_handler) < 0 ||
	    chatd_add_handler(s, &chatd_v1_handler) < 0) {
		fprintf(stderr, "chatd: cannot start: %s\n", s == NULL ? "out of memory" : err);
		chatd_free(s);
		return 1;
	}
	status = chatd_run(s);
	chatd_free(s);
	return status;
}
