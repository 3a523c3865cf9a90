/* The one place the version lives; the Makefile and the man page read it from here. */
#ifndef CHATD_VERSION_H
#define CHATD_VERSION_H

#define CHATD_VERSION "0.1.0"

#endif
