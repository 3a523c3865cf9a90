/* container_of: from a pointer to an embedded member back to the struct holding it, for
 * the intrusive watches, timers and hub memberships. */
#ifndef CHATD_CONTAINER_H
#define CHATD_CONTAINER_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
