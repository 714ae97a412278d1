/* Putting a file into the object store. The file is hashed first, so that content the
 * store already holds (under any name) is never sent again; then its chunks are
 * published asynchronously (a window of acks in flight, so a far hub costs one round
 * trip per window, not per chunk) while the bytes are hashed again; the meta goes last,
 * only once every chunk is acknowledged and the second hash equals the first. Whatever
 * fails after the first chunk purges the chunks, so no half object stays behind (and
 * none is visible meanwhile: without its meta, a chunk subject is nobody's). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/store/store.h"
#include "store_int.h"

/* Reads up to len bytes (fewer only at the end of the file). */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int hash_file(int fd, const char *path, uint8_t *buf, size_t cap, uint8_t sha[32],
	uint64_t *size, op_err *e)
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	*size = 0;
	for (;;) {
		ssize_t n = read_full(fd, buf, cap);
		if (n < 0)
			return op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		crypto_hash_sha256_update(&h, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	crypto_hash_sha256_final(&h, sha);
	return 0;
}

static void pub_reset(op_store *s)
{
	struct op_store_pub *p = s->pub;
	pthread_mutex_lock(&p->mu);
	p->failed = 0;
	p->first[0] = '\0';
	pthread_mutex_unlock(&p->mu);
}

static int pub_check(op_store *s, const char *path, op_err *e)
{
	struct op_store_pub *p = s->pub;
	pthread_mutex_lock(&p->mu);
	int failed = p->failed;
	char why[256];
	snprintf(why, sizeof why, "%s", p->first);
	pthread_mutex_unlock(&p->mu);
	if (failed)
		return op_err_set(e, OP_ENATS, "%s: %d chunk%s refused by the server: %s", path,
			failed, failed == 1 ? "" : "s", why);
	return 0;
}

/* Sends the file's chunks on subj; m gets the count; the bytes must hash to m->sha256. */
static int send_chunks(op_store *s, int fd, const char *path, const char *subj, uint8_t *buf,
	op_objmeta *m, op_err *e)
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	uint64_t size = 0, chunks = 0;
	pub_reset(s);
	if (lseek(fd, 0, SEEK_SET) != 0)
		return op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read_full(fd, buf, s->chunk);
		if (n < 0)
			return op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		crypto_hash_sha256_update(&h, buf, (size_t)n);
		size += (uint64_t)n;
		chunks++;
		natsMsg *msg = NULL;
		natsStatus st = natsMsg_Create(&msg, subj, NULL, (const char *)buf, (int)n);
		if (st == NATS_OK)
			st = js_PublishMsgAsync(s->js, &msg, NULL);
		natsMsg_Destroy(msg); /* NULL once the library owns it */
		if (st != NATS_OK)
			return op_store__err(
				e, st, 0, "%s: send chunk %llu", path, (unsigned long long)chunks);
		int rc = pub_check(s, path, e);
		if (rc)
			return rc;
	}
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = s->wait_ms;
	natsStatus st = js_PublishAsyncComplete(s->js, &po);
	if (st != NATS_OK) {
		natsMsgList pending = {0};
		if (js_PublishAsyncGetPendingList(&pending, s->js) == NATS_OK)
			natsMsgList_Destroy(&pending); /* never resent: the chunks are purged */
		return op_store__err(e, st, 0, "%s: wait for the chunks' acknowledgements", path);
	}
	int rc = pub_check(s, path, e);
	if (rc)
		return rc;
	uint8_t sha[32];
	crypto_hash_sha256_final(&h, sha);
	if (size != m->size || sodium_memcmp(sha, m->sha256, 32) != 0)
		return op_err_set(e, OP_EIO, "%s: the file changed while it was being sent", path);
	if (chunks > UINT32_MAX)
		return op_err_set(e, OP_ETOOBIG, "%s: too many chunks", path);
	m->chunks = (uint32_t)chunks;
	return 0;
}

static int put_new(op_store *s, int fd, const char *path, uint8_t *buf, op_objmeta *m, op_err *e)
{
	char name[OP_ART_DIGEST_LEN + 1], subj[128];
	op_art_digest_format(m->sha256, name);
	m->name = strdup(name);
	m->bucket = strdup(s->bucket);
	if (!m->name || !m->bucket)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	op_objmeta_nuid_new(m->nuid);
	m->max_chunk = s->chunk;
	m->has_digest = true;
	op_objmeta_chunk_subject(s->bucket, m->nuid, subj, sizeof subj);
	int rc = send_chunks(s, fd, path, subj, buf, m, e);
	if (!rc)
		rc = op_store__put_meta(s, m, e);
	if (rc && m->size > 0) {
		op_err pe = {0};
		op_store__purge(s, subj, &pe); /* best effort: the first error is the one told */
	}
	m->mtime = op_wall_ms() / 1000;
	return rc;
}

/* An object of known with this content. Its size must be the file's too: a meta with
 * the right digest and another size (another client's mistake) holds other bytes. */
static const op_objmeta *same(const op_store_list *known, const uint8_t sha[32], uint64_t size)
{
	for (size_t i = 0; known && i < known->n; i++)
		if (op_objmeta_live(&known->v[i]) && known->v[i].size == size &&
			!memcmp(known->v[i].sha256, sha, 32))
			return &known->v[i];
	return NULL;
}

int op_store_put_file(op_store *s, const char *path, const op_store_list *known, op_objmeta *m,
	bool *sent, op_err *e)
{
	memset(m, 0, sizeof *m);
	*sent = false;
	if (s->copy)
		return op_err_set(e, OP_ECONFLICT,
			"object store %s here is a site's copy of the hub's: put into the hub's",
			s->bucket);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return op_err_set(e, errno == ENOENT ? OP_ENOTFOUND : OP_EIO, "%s: %s", path,
			strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return op_err_set(e, OP_EINVAL, "%s: not a regular file", path);
	}
	uint8_t *buf = malloc(s->chunk);
	if (!buf) {
		close(fd);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	uint8_t sha[32];
	uint64_t size = 0;
	int rc = hash_file(fd, path, buf, s->chunk, sha, &size, e);
	const op_objmeta *have = rc ? NULL : same(known, sha, size);
	if (have) {
		rc = op_objmeta_copy(m, have, e);
	} else if (!rc && !known) {
		rc = op_store_find(s, sha, m, e);
		if (rc == 0 && m->size != size) {
			op_objmeta_clear(m);
			rc = OP_ENOTFOUND;
		}
		if (rc == OP_ENOTFOUND) {
			rc = 0;
			if (e)
				e->msg[0] = '\0';
		} else if (rc == 0) {
			have = m;
		}
	}
	if (!rc && !have) {
		op_objmeta_clear(m);
		m->size = size;
		memcpy(m->sha256, sha, 32);
		rc = put_new(s, fd, path, buf, m, e);
		*sent = rc == 0;
	}
	free(buf);
	close(fd);
	return rc;
}
