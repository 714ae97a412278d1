/* The JetStream object store's layout (NATS ADR-20), as pure functions: the meta JSON
 * an object is described by, the subjects its meta and chunks live on, the digest
 * format, and how a file is cut into chunks. Any NATS object-store client (nats.go,
 * nats.py, the `nats` CLI) writes and reads the same layout, so what outpost puts is
 * readable by them and what they put is found by outpost.
 *
 *   stream   OBJ_<bucket>, subjects $O.<bucket>.C.> and $O.<bucket>.M.>, rollups on
 *   chunks   $O.<bucket>.C.<nuid>, one message per chunk, in order
 *   meta     $O.<bucket>.M.<base64url(name)>, the last message is the object's info
 *   digest   "SHA-256=" + base64url of the 32 bytes (padded, as nats.go writes it)
 *
 * outpost names an object by its content, "sha256:<64 hex>", the same digest a
 * manifest's artifact.sha256 pins; but it finds objects by the digest in their meta,
 * so an object put under any other name counts too. */
#ifndef OUTPOST_STORE_OBJMETA_H
#define OUTPOST_STORE_OBJMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"

#define OP_STORE_BUCKET "outpost-artifacts"
/* ADR-20's default, and outpost's: see op_objmeta_chunk_size. */
#define OP_STORE_CHUNK (128 * 1024)
/* A meta message larger than this is not one any client wrote. */
#define OP_OBJMETA_MAX (64 * 1024)
/* Object names outpost accepts from others (nats.go has no limit; subjects do). */
#define OP_OBJ_NAME_MAX 1024
#define OP_OBJ_NUID_MAX 64
/* "SHA-256=" + 44 base64 characters. */
#define OP_OBJ_DIGEST_LEN 52
/* "sha256:" + 64 hex, as a manifest's artifact digest with its prefix. */
#define OP_ART_DIGEST_LEN 71

/* One object's info, as its meta message says. */
typedef struct op_objmeta {
	char *name; /* any NUL-free UTF-8, 1..OP_OBJ_NAME_MAX bytes */
	char *bucket; /* as written; may be NULL when absent */
	char nuid[OP_OBJ_NUID_MAX + 1]; /* the chunk subject's last token */
	uint64_t size; /* bytes */
	uint32_t chunks; /* chunk messages */
	uint32_t max_chunk; /* options.max_chunk_size; 0 when absent */
	bool has_digest;
	uint8_t sha256[32];
	bool deleted; /* a delete marker: no bytes, no digest */
	bool link; /* options.link: points at another object, holds no bytes */
	int64_t mtime; /* Unix seconds of the meta message (never in the JSON); 0 unknown */
} op_objmeta;

/* The meta JSON nats.go writes: name, bucket, nuid, size, mtime (zero time: the real
 * one is the message's), chunks, digest (when not deleted), deleted (when true) and
 * options.max_chunk_size (when not 0). *json allocated, NUL-terminated. */
int op_objmeta_encode(const op_objmeta *m, char **json, size_t *len, op_err *e);
/* Decodes meta JSON off the network: fields outpost does not use are ignored (clients
 * add some), the ones it uses are checked for type, range and agreement (size against
 * chunks and max_chunk_size, a digest of the right form). Fills m (op_objmeta_clear
 * after, also on error); OP_EINVAL or OP_ETOOBIG with a message. */
int op_objmeta_decode(const char *json, size_t len, op_objmeta *m, op_err *e);
/* Frees m's strings and zeroes it. */
void op_objmeta_clear(op_objmeta *m);
/* A deep copy of src into dst (op_objmeta_clear after): 0 or OP_ENOMEM. */
int op_objmeta_copy(op_objmeta *dst, const op_objmeta *src, op_err *e);
/* True when m is an object with bytes a reader can fetch by digest. */
bool op_objmeta_live(const op_objmeta *m);

/* "SHA-256=<base64url, padded>" of sha. */
void op_objmeta_digest_format(const uint8_t sha[32], char out[OP_OBJ_DIGEST_LEN + 1]);
/* Reads an ADR-20 digest: "SHA-256=" then base64 of 32 bytes, URL-safe or standard
 * alphabet, with or without padding (clients differ). 0 or OP_EINVAL. */
int op_objmeta_digest_parse(const char *s, uint8_t sha[32]);
/* "sha256:<64 hex>" of sha: outpost's name for the object. */
void op_art_digest_format(const uint8_t sha[32], char out[OP_ART_DIGEST_LEN + 1]);
/* "sha256:<64 lowercase hex>" or the 64 hex alone (as in a manifest). 0 or OP_EINVAL. */
int op_art_digest_parse(const char *s, uint8_t sha[32]);

/* Stream name and subjects: each writes out (NUL-terminated) and returns 0, or
 * OP_ETOOBIG when cap is too small, OP_EINVAL for a bad bucket or nuid. */
int op_objmeta_stream(const char *bucket, char *out, size_t cap);
int op_objmeta_meta_subject(const char *bucket, const char *name, char *out, size_t cap);
int op_objmeta_meta_all(const char *bucket, char *out, size_t cap);
int op_objmeta_chunk_subject(const char *bucket, const char *nuid, char *out, size_t cap);
int op_objmeta_chunk_all(const char *bucket, char *out, size_t cap);
/* Bucket names: [A-Za-z0-9_-], 1..64. */
bool op_objmeta_bucket_valid(const char *bucket);
/* A nuid as a subject token: [A-Za-z0-9_-], 1..OP_OBJ_NUID_MAX. */
bool op_objmeta_nuid_valid(const char *nuid);
/* A fresh random nuid (22 base62 characters, as NATS's). */
void op_objmeta_nuid_new(char out[23]);

/* The chunk size for a server whose max_payload is max_payload bytes (0 unknown):
 * OP_STORE_CHUNK, or less when the server takes less (headroom for headers kept). */
uint32_t op_objmeta_chunk_size(int64_t max_payload);
/* Chunks a file of size bytes is cut into at chunk bytes each (0 for an empty one). */
uint64_t op_objmeta_chunk_count(uint64_t size, uint32_t chunk);

#endif
