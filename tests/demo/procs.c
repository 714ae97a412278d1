/* The demo's workloads as /proc shows them. A workload is `/bin/sleep <tag><app><ver>`
 * (the tag is unique to the run); its parent is the `outpost shim --state DIR` of the
 * host that runs it, and DIR says which site and host that is. So every count the demo
 * prints is of real processes, not of what outpost says about them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "harness.h"

const char *demo_host_dir[NSITES][NHOSTS];
static pid_t adopted[MAXP];
static int nadopted;

/* /proc/<pid>/cmdline split into argv; returns argc (0 if gone or a zombie). */
static int read_args(pid_t pid, char *buf, size_t size, const char **argv, int max)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t len = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[len] = '\0';
	int argc = 0;
	for (size_t i = 0; i < len && argc < max; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	return argc;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold anything */
	int ppid = -1;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* `outpost shim --state DIR ...` under the temp dir. */
static bool is_shim(int argc, const char **argv)
{
	size_t lt = strlen(demo_tmp);
	return argc >= 4 && !strcmp(argv[1], "shim") && !strcmp(argv[2], "--state") &&
		!strncmp(argv[3], demo_tmp, lt) && argv[3][lt] == '/';
}

static bool is_workload(int argc, const char **argv)
{
	size_t lt = strlen(demo_tag);
	return argc == 2 && !strcmp(argv[0], "/bin/sleep") && strlen(argv[1]) == lt + 2 &&
		!strncmp(argv[1], demo_tag, lt);
}

/* Which of the demo's hosts the shim pid belongs to. */
static void shim_host(pid_t pid, int *site, int *host)
{
	char buf[4096];
	const char *argv[8];
	int argc = read_args(pid, buf, sizeof buf, argv, 8);
	if (!is_shim(argc, argv))
		return;
	for (int s = 0; s < NSITES; s++)
		for (int h = 0; h < NHOSTS; h++)
			if (demo_host_dir[s][h] && !strcmp(argv[3], demo_host_dir[s][h])) {
				*site = s;
				*host = h;
			}
}

static void adopt(pid_t pid)
{
	for (int i = 0; i < nadopted; i++)
		if (adopted[i] == pid)
			return;
	if (nadopted < MAXP) {
		h_adopt(pid);
		adopted[nadopted++] = pid;
	}
}

void procs_scan(struct procs *p)
{
	size_t lt = strlen(demo_tag);
	p->n = p->nshims = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end, buf[4096];
		const char *argv[8];
		long v = strtol(e->d_name, &end, 10);
		if (*end || v <= 0)
			continue;
		pid_t pid = (pid_t)v;
		int argc = read_args(pid, buf, sizeof buf, argv, 8);
		if (is_shim(argc, argv)) {
			p->nshims++;
			adopt(pid);
			continue;
		}
		if (!is_workload(argc, argv))
			continue;
		adopt(pid);
		if (p->n == MAXP)
			continue;
		struct wl *w = &p->w[p->n++];
		*w = (struct wl){pid, -1, -1, argv[1][lt] - '0', argv[1][lt + 1] - '0'};
		shim_host(parent_of(pid), &w->site, &w->host);
	}
	if (d)
		closedir(d);
	int k = 0;
	for (int i = 0; i < nadopted; i++)
		if (!h_proc_exited(adopted[i], NULL))
			adopted[k++] = adopted[i];
	nadopted = k;
}

int procs_count(const struct procs *p, int site, int host, int app, int ver)
{
	int n = 0;
	for (int i = 0; i < p->n; i++) {
		const struct wl *w = &p->w[i];
		n += w->site == site && (host < 0 || w->host == host) && w->app == app &&
			(ver < 0 || w->ver == ver);
	}
	return n;
}

int procs_leftovers(void)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end, buf[4096];
		const char *argv[64];
		long v = strtol(e->d_name, &end, 10);
		if (*end || v <= 0)
			continue;
		int argc = read_args((pid_t)v, buf, sizeof buf, argv, 64);
		bool ours = is_workload(argc, argv);
		for (int i = 0; i < argc && !ours; i++)
			ours = strstr(argv[i], demo_tmp) != NULL;
		n += ours;
	}
	if (d)
		closedir(d);
	return n;
}
