/* chatd: a WebSocket chat server. main parses the command line and hands over to server. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "version.h"

int main(int argc, char **argv)
{
	struct config cf;
	char err[256];

	config_defaults(&cf);
	switch (config_parse(&cf, argc, argv, err, sizeof err)) {
	case CONFIG_HELP: config_usage(stdout); return 0;
	case CONFIG_VERSION: printf("chatd %s\n", CHATD_VERSION); return 0;
	case CONFIG_USAGE_ERROR: fprintf(stderr, "chatd: %s\n", err); return 2;
	case CONFIG_RUN: break;
	}
	log_set_level(cf.cf_log_level);
	log_set_format(cf.cf_log_format);
	return server_run(&cf);
}
