/* A JetStream object store client, written on nats.c's JetStream API (nats.c 3.10 has no
 * object-store API) in ADR-20's layout (see objmeta.h). It does what outpost needs:
 * open or create a store, list its objects, find one by content digest, put a file,
 * read an object back (checking size, chunk count and digest) and delete one. The hub's
 * `outpost artifact` uses it; sites will read artifacts with it too.
 *
 * Reads follow the object-store clients: an object's info is the last message on its
 * meta subject; its bytes are the messages on its chunk subject, through an ordered
 * consumer; a delete is a meta with deleted:true (rolled up) and the chunks purged. */
#ifndef OUTPOST_STORE_H
#define OUTPOST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/store/objmeta.h"

typedef struct op_store {
	op_bus *bus; /* borrowed */
	jsCtx *js; /* the store's own context (asynchronous publishes) */
	char bucket[65];
	char stream[80];
	uint32_t chunk; /* chunk size of puts, for this server's max_payload */
	int wait_ms; /* each JetStream request and each chunk read waits this long */
	void *pub; /* asynchronous publish errors (store_put.c) */
	bool copy; /* a site's copy: sources only, read-only */
} op_store;

/* Opens bucket on b's server; with create, makes its stream when missing (file storage,
 * one replica, no limits). OP_ENOTFOUND when missing and not create; OP_ECONFLICT when a
 * stream of that name is not an object store's (other subjects, no rollups), naming
 * what differs. op_store_close after success. */
int op_store_open(op_store *s, op_bus *b, const char *bucket, bool create, op_err *e);
/* The same in a JetStream domain (NULL: the server's own), e.g. "hub" from a site. A
 * site's copy of a store (a stream with no subjects, only sources: see
 * agent/site/stage.c) opens too, read-only (puts refuse it). */
int op_store_open_at(op_store *s, op_bus *b, const char *bucket, const char *domain,
	bool create_missing, op_err *e);
void op_store_close(op_store *s);

/* The live objects (op_objmeta_live) of a store, sorted by name. */
typedef struct op_store_list {
	op_objmeta *v;
	size_t n, cap;
	size_t bad; /* meta messages that did not decode (skipped, each logged) */
	size_t other; /* links and objects without a digest (skipped) */
} op_store_list;

/* Reads every object's current info (the last message per meta subject). */
int op_store_list_read(op_store *s, op_store_list *l, op_err *e);
/* The first object in l with that content digest, or NULL. */
const op_objmeta *op_store_list_find(const op_store_list *l, const uint8_t sha[32]);
/* Adds a copy of m to l (kept sorted). 0 or OP_ENOMEM. */
int op_store_list_add(op_store_list *l, const op_objmeta *m, op_err *e);
void op_store_list_clear(op_store_list *l);

/* One object's current info by name (deleted ones too: check m->deleted).
 * OP_ENOTFOUND when the name was never put. */
int op_store_info(op_store *s, const char *name, op_objmeta *m, op_err *e);
/* The object with that content: first under its own name ("sha256:<hex>"), else any
 * name (a full listing). *m filled (op_objmeta_clear); OP_ENOTFOUND when none. */
int op_store_find(op_store *s, const uint8_t sha[32], op_objmeta *m, op_err *e);

/* Puts the file at path as object "sha256:<hex>" unless known (may be NULL) or the store
 * already holds its content: then nothing is sent and *sent is false. *m gets the
 * object's info (the existing one when not sent). The file is hashed before and while
 * it is sent: a file that changes meanwhile fails (its chunks are purged). */
int op_store_put_file(op_store *s, const char *path, const op_store_list *known, op_objmeta *m,
	bool *sent, op_err *e);

/* Reads m's bytes in order into fn (a chunk at a time; fn returns 0 or an OP_E* code
 * that stops the read), then checks the chunk count, size and digest against m:
 * OP_ETRUST when the bytes are whole but not what the digest says, OP_EIO for a short
 * read (chunks missing, a count or size that does not add up). */
typedef int (*op_store_chunk_fn)(void *arg, const void *buf, size_t len);
int op_store_read(op_store *s, const op_objmeta *m, op_store_chunk_fn fn, void *arg, op_err *e);

/* Deletes m: a delete marker on its meta subject, then its chunks purged. */
int op_store_delete(op_store *s, const op_objmeta *m, op_err *e);

/* Purges m's chunks and meta (no delete marker left): how a site drops its staged
 * copy of an object. */
int op_store_purge_object(op_store *s, const op_objmeta *m, op_err *e);

/* The store stream's bytes and messages now (for tests and ls). */
int op_store_usage(op_store *s, uint64_t *bytes, uint64_t *msgs, op_err *e);

#endif
