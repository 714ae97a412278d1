/* properties.user, group, umask and limits of a component: what the shim fences a
 * workload in with (fence.h). Users and groups are names (as useradd allows them) or
 * decimal ids, resolved on the box, since the same name has other ids on other boxes;
 * sizes take a unit (64Mi, 512M, 1Gi) or are bytes. Each key is left out of the canonical
 * JSON when absent, so apps written before the fence existed keep their digests and
 * instance ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence_int.h"
#include "outpost/agent/base/util.h"

/* A user or group: a name of [a-z_][a-z0-9_-]* (a trailing $ allowed, as for Samba
 * machine accounts), or a decimal id below 2^32 - 1 (that one means "no id"). */
static bool fence_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > OP_FENCE_ID_MAX)
		return false;
	if (strspn(s, "0123456789") == n) {
		if (n > 1 && s[0] == '0')
			return false;
		return n < 10 || (n == 10 && strcmp(s, "4294967295") < 0);
	}
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
			ch == '-' || (ch == '$' && i == n - 1);
		if (!ok)
			return false;
	}
	return true;
}

static char *read_id(op_check *c, const op_node *n, const char *what)
{
	char *s = ck_str(c, n);
	if (s && !fence_id_valid(s)) {
		ck_err(c, n,
			"expected a %s name ([a-z_][a-z0-9_-]*, at most %d characters) or a "
			"decimal id, got \"%.40s\"",
			what, OP_FENCE_ID_MAX, s);
		free(s);
		s = NULL;
	}
	return s;
}

/* An octal umask: "0027", "027" or "0o027" are not the same to YAML, so the text must
 * be 3 or 4 octal digits. */
static void read_umask(op_check *c, const op_node *n, op_fence *f)
{
	char *s = ck_str(c, n);
	if (!s)
		return;
	size_t len = strlen(s);
	bool ok = (len == 3 || len == 4) && strspn(s, "01234567") == len &&
		(len == 3 || s[0] == '0');
	if (!ok)
		ck_err(c, n,
			"expected an octal umask of 3 digits or 4 with a leading 0, such as "
			"\"0027\", got \"%.20s\"",
			s);
	else {
		f->has_umask = true;
		f->umask = (unsigned)strtoul(s, NULL, 8);
	}
	free(s);
}

/* A size: bytes, or a number with K, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (of
 * 1024). */
static bool parse_size(const char *s, int64_t *out)
{
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 16)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (s[i] - '0');
	static const char *const units[] = {"K", "M", "G", "T"};
	const char *u = s + digits;
	if (!*u) {
		*out = v;
		return true;
	}
	for (int i = 0; i < 4; i++) {
		size_t ul = strlen(units[i]);
		if (strncmp(u, units[i], ul) != 0)
			continue;
		bool bin = u[ul] == 'i';
		if (u[ul + (bin ? 1 : 0)] != '\0')
			return false;
		int64_t mul = 1;
		for (int k = 0; k <= i; k++)
			mul *= bin ? 1024 : 1000;
		if (v > INT64_MAX / mul)
			return false;
		*out = v * mul;
		return true;
	}
	return false;
}

static void read_memory(op_check *c, const op_node *n, int64_t *out)
{
	char *s = ck_str(c, n);
	if (!s)
		return;
	int64_t v = 0;
	if (!parse_size(s, &v))
		ck_err(c, n,
			"expected a size in bytes or with a unit (K, M, G, T or Ki, Mi, Gi, Ti), "
			"such as 64Mi, got \"%.40s\"",
			s);
	else if (v < OP_LIMIT_MEMORY_MIN || v > OP_LIMIT_MEMORY_MAX)
		ck_err(c, n, "expected a size from 1Mi to 1Pi, got %s", s);
	else
		*out = v;
	free(s);
}

static void read_limits(op_check *c, const op_node *n, op_fence *f)
{
	static const char *const keys[] = {"memory", "open_files", "processes", "cpu_time", NULL};
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if ((v = ck_get(n, "memory")))
		AT_KEY(c, "memory", read_memory(c, v, &f->memory));
	if ((v = ck_get(n, "open_files")))
		AT_KEY(c, "open_files", ck_int(c, v, 1, OP_LIMIT_FILES_MAX, &f->open_files));
	if ((v = ck_get(n, "processes")))
		AT_KEY(c, "processes", ck_int(c, v, 1, OP_LIMIT_PROCS_MAX, &f->processes));
	/* RLIMIT_CPU counts whole seconds. */
	if ((v = ck_get(n, "cpu_time"))) {
		size_t m = ck_key(c, "cpu_time");
		if (ck_duration(c, v, 1000, OP_MAX_DURATION_MS, &f->cpu_time_ms) &&
			f->cpu_time_ms % 1000 != 0) {
			ck_err(c, v, "expected whole seconds, got %s", v->text);
			f->cpu_time_ms = 0;
		}
		ck_pop(c, m);
	}
}

void ck_fence(op_check *c, const op_node *n, op_fence *f)
{
	const op_node *v;
	f->umask = OP_UMASK_DEFAULT;
	if ((v = ck_get(n, "user")))
		AT_KEY(c, "user", f->user = read_id(c, v, "user"));
	if ((v = ck_get(n, "group")))
		AT_KEY(c, "group", f->group = read_id(c, v, "group"));
	if ((v = ck_get(n, "umask")))
		AT_KEY(c, "umask", read_umask(c, v, f));
	if ((v = ck_get(n, "limits")))
		AT_KEY(c, "limits", read_limits(c, v, f));
}

void ck_fence_clear(op_fence *f)
{
	free(f->user);
	free(f->group);
}

json_t *ck_fence_json(json_t *props, const op_fence *f)
{
	if (props && f->user)
		props = ck_json_set(props, "user", json_string(f->user));
	if (props && f->group)
		props = ck_json_set(props, "group", json_string(f->group));
	if (props && f->has_umask) {
		char m[8];
		snprintf(m, sizeof m, "0%03o", f->umask);
		props = ck_json_set(props, "umask", json_string(m));
	}
	if (props && (f->memory || f->open_files || f->processes || f->cpu_time_ms)) {
		json_t *l = json_object();
		if (l && f->memory)
			l = ck_json_set(l, "memory", json_integer(f->memory));
		if (l && f->open_files)
			l = ck_json_set(l, "open_files", json_integer(f->open_files));
		if (l && f->processes)
			l = ck_json_set(l, "processes", json_integer(f->processes));
		if (l && f->cpu_time_ms) {
			char d[32];
			op_format_duration_ms(f->cpu_time_ms, d);
			l = ck_json_set(l, "cpu_time", json_string(d));
		}
		props = ck_json_set(props, "limits", l);
	}
	return props;
}
