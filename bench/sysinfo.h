/*
 * sysinfo: what the kernel tells about a process and about socket memory, read from /proc,
 * so each figure in a report can say what it cost: the server's resident memory and CPU
 * time, ours, and the kernel's own memory for sockets.
 */
#ifndef CHATBENCH_SYSINFO_H
#define CHATBENCH_SYSINFO_H

#include <stdbool.h>
#include <sys/types.h>

/* VmRSS of pid in KiB, or -1 when it cannot be read (no such process, or pid 0). */
long sys_rss_kb(pid_t pid);

/* User plus system CPU time of pid in seconds, or -1. */
double sys_cpu_seconds(pid_t pid);

/* Our own user plus system CPU time in seconds. */
double sys_self_cpu_seconds(void);

/* /proc/net/sockstat's TCP line: sockets in use, and pages of socket buffers ("mem"). */
struct sys_sockstat {
	long ss_tcp_inuse;
	long ss_tcp_mem_pages;
};
bool sys_read_sockstat(struct sys_sockstat *out);

/* /proc/meminfo's Slab in KiB (where the kernel keeps socket, file and epoll objects), or -1. */
long sys_slab_kb(void);

/* Raises the soft descriptor limit to the hard one; returns the soft limit now in force. */
long sys_raise_nofile(void);

#endif
