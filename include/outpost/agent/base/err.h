/* Errors: every function returns 0 or a negative OP_E* code and fills an op_err that
 * the caller passes up or prints. Input errors also carry where (file:line:col) and
 * which field (spec.components[1].name); a list of them is an op_diags. */
#ifndef OUTPOST_ERR_H
#define OUTPOST_ERR_H

#include <stddef.h>

enum {
	OP_OK = 0,
	OP_EINVAL = -1, /* rejected input (manifest, signature, flag value) */
	OP_ENOMEM = -2, /* out of memory */
	OP_EIO = -3, /* file or process I/O failed */
	OP_ENOTFOUND = -4,
	OP_ETOOBIG = -5, /* input over a size, depth or count cap */
	OP_ENATS = -6, /* NATS connection or JetStream error */
	OP_EGIT = -7, /* libgit2 error */
	OP_ETRUST = -8, /* signature or trust policy refused */
	OP_EUSAGE = -9, /* bad command line */
	OP_ECONFLICT = -10 /* compare-and-set lost, rollback, existing state differs */
};

typedef struct op_err {
	int code;
	char msg[512];
} op_err;

/* Sets e (if not NULL) and returns code, so error paths are one line. */
int op_err_set(op_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#ifdef __clang_analyzer__
/* clang's analyzer reads one file at a time: tell it that op_err_set returns its code,
 * or it takes `rc = op_err_set(e, OP_EINVAL, ...)` for a success and follows paths
 * that cannot happen. Real builds call the function as declared. */
#define op_err_set(e, code, ...) \
	__extension__({ \
		int op_code_ = (code); \
		op_err_set((e), op_code_, __VA_ARGS__); \
		op_code_; \
	})
#endif
const char *op_err_name(int code);

/* One diagnostic about an input file. */
typedef struct op_diag {
	char *file; /* as the user named it */
	int line; /* 1-based; 0 when unknown */
	int col; /* 1-based; 0 when unknown */
	char *path; /* field path, e.g. spec.components[0].name; "(document)" for the root */
	char *msg; /* what is wrong and what was expected */
} op_diag;

/* A capped list of diagnostics; past the cap they are only counted in dropped. */
typedef struct op_diags {
	op_diag *v;
	size_t n, cap, dropped;
	size_t limit; /* 0: OP_DIAGS_LIMIT */
} op_diags;

#define OP_DIAGS_LIMIT 50

int op_diags_add(op_diags *d, const char *file, int line, int col, const char *path,
	const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Total number of diagnostics added, shown or not. */
size_t op_diags_count(const op_diags *d);
/* Writes one line per diagnostic to stdio_file (a FILE *): file:line:col: path: message,
 * then how many were dropped past the cap, if any. */
void op_diags_print(const op_diags *d, void *stdio_file);
/* Frees the diagnostics d holds and empties it; d itself is the caller's. */
void op_diags_clear(op_diags *d);

#endif
