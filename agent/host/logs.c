/* The answer to a log request (see include/outpost/agent/host/host.h): the output of an
 * app's instances on this box, read from the files the shims write (see supervise.h),
 * never from a shim or the host's memory, so it can run on a thread of its own beside
 * the host's loop. A log is a chain of files, oldest first (output.log.N ...
 * output.log.1, output.log); a position in it is a file's inode and an offset, which
 * survives the shim's rotation (a rename keeps the inode). Every reply is bounded:
 * OP_LOGS_DATA_MAX bytes of output shared among the logs, OP_LOGS_MAX_LOGS logs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/host/host.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"

#define MAX_FILES 11 /* output.log and .1 .. .9, and one spare */

typedef struct logfile {
	char path[4096 + 400];
	uint64_t ino, size;
} logfile;

/* One log to answer: where its files are, and what the reply says of it. */
typedef struct cand {
	char dir[4096 + 300];
	char name[OP_INST_MAX + 16]; /* the dir's name: the id, or "<ms>.<id>" when kept */
	bool running;
} cand;

static bool wanted(const op_logreq *q, const char *id)
{
	size_t an = strlen(q->app);
	if (strncmp(id, q->app, an) != 0 || id[an] != '.')
		return false;
	return !q->inst[0] || !strcmp(q->inst, id);
}

static int cand_cmp(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->running != y->running) /* the kept ones (older) first */
		return x->running ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The log's files, oldest first. */
static size_t files_of(const char *dir, logfile *f)
{
	size_t n = 0;
	for (int i = MAX_FILES - 2; i >= 0; i--) {
		if (i)
			snprintf(f[n].path, sizeof f[n].path, "%s/output.log.%d", dir, i);
		else
			snprintf(f[n].path, sizeof f[n].path, "%s/output.log", dir);
		struct stat st;
		if (stat(f[n].path, &st) != 0)
			continue;
		f[n].ino = (uint64_t)st.st_ino & (uint64_t)INT64_MAX;
		f[n].size = (uint64_t)st.st_size;
		n++;
	}
	return n;
}

static const op_logcur *cursor_of(const op_logreq *q, const char *id)
{
	for (size_t i = 0; i < q->nafter; i++)
		if (!strcmp(q->after[i].id, id))
			return &q->after[i];
	return NULL;
}

/* Bytes of a UTF-8 sequence cut at the end of buf, to leave for the next read. */
static size_t cut_tail(const char *buf, size_t n)
{
	for (size_t back = 1; back <= 4 && back <= n; back++) {
		unsigned char c = (unsigned char)buf[n - back];
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return want > back ? back : 0;
	}
	return 0;
}

/* Reads the log from its start position (a cursor, else tail bytes before its end)
 * for at most budget bytes into l. */
static int read_log(const cand *c, const op_logreq *q, size_t budget, op_logent *l)
{
	logfile f[MAX_FILES];
	size_t nf = files_of(c->dir, f), k = 0;
	uint64_t off = 0, total = 0;
	for (size_t i = 0; i < nf; i++)
		total += f[i].size;
	const op_logcur *cur = c->running ? cursor_of(q, l->id) : NULL;
	if (cur) {
		for (k = 0; k < nf && f[k].ino != cur->ino; k++)
			;
		if (k < nf)
			off = cur->off < f[k].size ? cur->off : f[k].size;
		else
			k = 0, l->gap = nf > 0; /* its file rotated away: from the oldest */
	} else {
		uint64_t skip = q->tail && total > q->tail ? total - q->tail : 0;
		for (k = 0; k < nf && skip >= f[k].size && k + 1 < nf; k++)
			skip -= f[k].size;
		off = nf ? (skip < f[k].size ? skip : f[k].size) : 0;
	}
	if (!(l->data = malloc(budget + 1)))
		return OP_ENOMEM;
	l->ino = nf ? f[k].ino : 0;
	l->off = off;
	for (; k < nf && l->len < budget; k++, off = 0) {
		int fd = open(f[k].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* rotated meanwhile: the next one has it */
		ssize_t r = 0;
		while (l->len < budget &&
			(r = pread(fd, l->data + l->len, budget - l->len, (off_t)off)) > 0) {
			l->len += (size_t)r;
			off += (uint64_t)r;
		}
		close(fd);
		l->ino = f[k].ino;
		l->off = off;
		if (l->len >= budget) {
			l->more = off < f[k].size || k + 1 < nf;
			break;
		}
	}
	if (budget == 0)
		l->more = total > 0;
	if (l->more) {
		size_t back = cut_tail(l->data, l->len);
		l->len -= back;
		l->off -= back;
	}
	l->data[l->len] = '\0';
	return 0;
}

/* The instance's last state, from its state.json; "exited" for a kept log without. */
static void state_of(const cand *c, const char *state_dir, op_logent *l)
{
	op_shim_state st;
	char path[sizeof c->dir + 16], *buf = NULL;
	size_t len = 0;
	l->state = c->running ? OP_INST_STARTING : OP_INST_EXITED;
	l->exit_code = -1;
	if (c->running) {
		if (op_shim_state_load(state_dir, l->id, &st, NULL) != 0)
			return;
	} else {
		snprintf(path, sizeof path, "%s/state.json", c->dir);
		int rc = op_read_file(path, 64 * 1024, &buf, &len, NULL);
		if (rc == 0)
			rc = op_shim_state_decode(buf, len, &st, NULL);
		free(buf);
		if (rc != 0)
			return;
	}
	l->state = st.state;
	l->exit_code = st.exit_code;
}

/* Every log the request names: running instances, then (unless running_only) the
 * kept logs of stopped ones. */
static size_t collect(const char *state, const op_logreq *q, cand **out, bool *truncated)
{
	static const char *const where[] = {"instances", "logs"};
	size_t n = 0;
	cand *v = calloc(OP_LOGS_MAX_LOGS, sizeof *v);
	*out = v;
	for (int w = 0; v && w < (q->running_only ? 1 : 2); w++) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/%s", state, where[w]);
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			const char *id = de->d_name;
			int64_t ms;
			if (w == 0 ? !op_inst_id_valid(id) : !op_logs_name(de->d_name, &id, &ms))
				continue;
			if (!wanted(q, id))
				continue;
			if (n == OP_LOGS_MAX_LOGS) {
				*truncated = true;
				break;
			}
			snprintf(v[n].dir, sizeof v[n].dir, "%s/%s", dir, de->d_name);
			snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
			v[n].running = w == 0;
			n++;
		}
		if (d)
			closedir(d);
	}
	if (v)
		qsort(v, n, sizeof *v, cand_cmp);
	return n;
}

int op_host_logs(const char *state, const char *host, const op_logreq *q, op_logreply *r, op_err *e)
{
	memset(r, 0, sizeof *r);
	snprintf(r->host, sizeof r->host, "%s", host);
	cand *c = NULL;
	size_t n = collect(state, q, &c, &r->truncated);
	if (!c || !(r->v = calloc(n + 1, sizeof *r->v))) {
		free(c);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	size_t left = OP_LOGS_DATA_MAX;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		op_logent *l = &r->v[r->n++];
		const char *id = c[i].name;
		int64_t ms = 0;
		if (!c[i].running)
			op_logs_name(c[i].name, &id, &ms);
		snprintf(l->id, sizeof l->id, "%s", id);
		l->running = c[i].running;
		l->stopped_ms = ms;
		state_of(&c[i], state, l);
		/* An even share of what is left, so that one long log cannot crowd out the
		 * others. */
		rc = read_log(&c[i], q, left / (n - i), l);
		left -= l->len;
	}
	free(c);
	if (rc)
		op_logreply_clear(r);
	return rc ? op_err_set(e, rc, "out of memory") : 0;
}
