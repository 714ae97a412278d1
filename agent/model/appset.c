/* A set of manifests read together, with names unique across files. */
#include "outpost/agent/model/appset.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "outpost/agent/model/doc.h"

int op_is_manifest_name(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
		(n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

long op_appset_find(const op_appset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->apps[i]->name, name) == 0)
			return (long)i;
	return -1;
}

static int keep(op_appset *s, op_app *app, const char *file)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		op_app **apps = realloc(s->apps, cap * sizeof *apps);
		if (!apps)
			return OP_ENOMEM;
		s->apps = apps;
		char **files = realloc(s->files, cap * sizeof *files);
		if (!files)
			return OP_ENOMEM;
		s->files = files;
		s->cap = cap;
	}
	if (!(s->files[s->n] = strdup(file)))
		return OP_ENOMEM;
	s->apps[s->n++] = app;
	return 0;
}

/* Takes app into the set unless its name is taken (then the error names both files). */
static int add_app(op_appset *s, op_app *app, const char *file, op_diags *d)
{
	long dup = op_appset_find(s, app->name);
	if (dup >= 0) {
		const op_app *first = s->apps[dup];
		int rc = op_diags_add(d, file, app->name_line, app->name_col, "metadata.name",
			"app \"%s\" is already defined in %s:%d:%d; app names must be unique",
			app->name, s->files[dup], first->name_line, first->name_col);
		op_app_free(app);
		s->invalid++;
		return rc ? rc : OP_EINVAL;
	}
	int rc = keep(s, app, file);
	if (rc)
		op_app_free(app);
	return rc;
}

int op_appset_add(op_appset *s, const char *file, const char *buf, size_t len, op_diags *d)
{
	op_app *app;
	s->nfiles++;
	int rc = op_manifest_parse(file, buf, len, &app, d);
	if (rc) {
		s->invalid++;
		return rc;
	}
	return add_app(s, app, file, d);
}

int op_appset_add_file(op_appset *s, const char *path, op_diags *d)
{
	op_app *app;
	s->nfiles++;
	int rc = op_manifest_load(path, path, &app, d);
	if (rc) {
		s->invalid++;
		return rc;
	}
	return add_app(s, app, path, d);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int op_appset_add_dir(op_appset *s, const char *dir, op_diags *d)
{
	DIR *dh = opendir(dir);
	if (!dh) {
		op_diags_add(d, dir, 0, 0, "", "cannot open directory: %s", strerror(errno));
		return OP_EIO;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof *nn);
			if (!nn) {
				rc = OP_ENOMEM;
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rc = OP_ENOMEM;
			break;
		}
		n++;
	}
	closedir(dh);
	if (n) /* names is NULL in an empty directory, and qsort's base must not be */
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		int w = snprintf(path, sizeof path, "%s%s%s", dir,
			dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
		/* A symlink to a directory is not walked (a link to an ancestor would loop);
		 * a symlink named as a manifest is read, and reported when dangling. One
		 * unreadable entry is reported and the walk goes on, so one run shows every
		 * error. */
		if (rc != OP_ENOMEM && (w < 0 || (size_t)w >= sizeof path)) {
			op_diags_add(d, dir, 0, 0, "", "path of %.80s too long (at most %zu bytes)",
				names[i], sizeof path - 1);
			rc = rc ? rc : OP_EIO;
		} else if (rc != OP_ENOMEM && lstat(path, &st) == 0) {
			int r = 0;
			bool link = S_ISLNK(st.st_mode);
			bool dangling = link && stat(path, &st) != 0; /* else st is the target's */
			if (!link && S_ISDIR(st.st_mode))
				r = op_appset_add_dir(s, path, d);
			else if (op_is_manifest_name(names[i]) && (S_ISREG(st.st_mode) || dangling))
				r = op_appset_add_file(s, path, d);
			if (r == OP_ENOMEM || (r == OP_EIO && rc == 0))
				rc = r;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

void op_appset_clear(op_appset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		op_app_free(s->apps[i]);
		free(s->files[i]);
	}
	free(s->apps);
	free(s->files);
	memset(s, 0, sizeof *s);
}
