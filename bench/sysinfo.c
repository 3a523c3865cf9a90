/* Small readers of /proc files; each returns -1 (or false) rather than fail the run. */
#include "sysinfo.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Finds "key" at the start of a line of path and reads the number after it. */
static long read_field(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, klen) == 0) {
			if (sscanf(line + klen, "%ld", &v) != 1)
				v = -1;
			break;
		}
	}
	fclose(f);
	return v;
}

long sys_rss_kb(pid_t pid)
{
	char path[64];

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	return read_field(path, "VmRSS:");
}

double sys_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
	 * Fields 14 and 15 are utime and stime, in clock ticks. */
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double sys_self_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

bool sys_read_sockstat(struct sys_sockstat *out)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/net/sockstat", "r");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f) != NULL) {
		/* "TCP: inuse 3 orphan 0 tw 5 alloc 4 mem 1" */
		if (sscanf(line, "TCP: inuse %ld orphan %*d tw %*d alloc %*d mem %ld",
			   &out->ss_tcp_inuse, &out->ss_tcp_mem_pages) == 2) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

long sys_slab_kb(void)
{
	return read_field("/proc/meminfo", "Slab:");
}

long sys_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}
