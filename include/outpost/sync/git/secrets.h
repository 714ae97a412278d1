/* The hub's check of a revision's sealed secrets: every secret a manifest refers to is a
 * file secrets/NAME.yaml (beside the synced path) of the same commit, and every *.yaml
 * there, referenced or not, is a valid sealed file (model/sealed.h) named NAME inside.
 * The hub cannot open any of them: it checks the form, never the value. */
#ifndef OUTPOST_SYNC_SECRETS_H
#define OUTPOST_SYNC_SECRETS_H

#include "outpost/sync/git/desired.h"

/* Adds one diagnostic per problem to d (a missing file names the manifest and the
 * secret's file) and returns how many files had problems (0: the secrets are in order),
 * or a negative OP_E* for a failure to read (git, memory) with e set. */
int op_secrets_check(op_source *src, const char *sha, const char *path, const op_desired *want,
	op_diags *d, op_err *e);

#endif
