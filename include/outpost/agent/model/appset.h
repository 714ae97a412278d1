/* A set of manifests read together (a directory, a git tree): each file parsed and
 * validated, then app names checked unique across files. The decision is pure over
 * what was read; where the bytes come from (disk, git blobs) is the caller's. */
#ifndef OUTPOST_APPSET_H
#define OUTPOST_APPSET_H

#include "outpost/agent/model/manifest.h"

typedef struct op_appset {
	op_app **apps; /* valid apps, in the order added */
	char **files; /* the display name of each app's file */
	size_t n, cap;
	size_t nfiles; /* files added, valid or not */
	int invalid; /* files with errors */
} op_appset;

/* Parses one file's bytes into the set; errors go to d (and count in invalid). A name
 * already in the set is an error naming both files. Returns 0 or the parse error. */
int op_appset_add(op_appset *s, const char *file, const char *buf, size_t len, op_diags *d);
/* Walks dir (recursively, sorted, skipping dot-names) and adds every *.yaml / *.yml.
 * File names are shown as dir/relative-path. */
int op_appset_add_dir(op_appset *s, const char *dir, op_diags *d);
/* Adds one file from disk. */
int op_appset_add_file(op_appset *s, const char *path, op_diags *d);
/* Index of the app named name, or -1. */
long op_appset_find(const op_appset *s, const char *name);
void op_appset_clear(op_appset *s);

/* True for names that end in .yaml or .yml. */
int op_is_manifest_name(const char *name);

#endif
