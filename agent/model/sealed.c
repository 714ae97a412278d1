/* Sealed secrets (see include/outpost/agent/model/sealed.h): the file format, read with
 * the manifest's validator so its errors read the same, and the libsodium boxes. */
#include "outpost/agent/model/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_int.h"
#include "outpost/agent/base/util.h"

static int init(void)
{
	return sodium_init() < 0 ? OP_EIO : 0;
}

/* Base64 (standard alphabet, padded) of at most max bytes, exactly want when want > 0. */
static unsigned char *read_b64(op_check *c, const op_node *n, size_t want, size_t max, size_t *len)
{
	char *s = ck_str(c, n);
	if (!s)
		return NULL;
	size_t cap = strlen(s) / 4 * 3 + 3;
	unsigned char *out = malloc(cap ? cap : 1);
	size_t got = 0;
	if (!out) {
		ck_nomem(c, n);
	} else if (sodium_base642bin(out, cap, s, strlen(s), NULL, &got, NULL,
			   sodium_base64_VARIANT_ORIGINAL) != 0 ||
		(want && got != want) || got > max || got == 0) {
		if (want)
			ck_err(c, n, "expected the base64 of %zu bytes", want);
		else
			ck_err(c, n, "expected the base64 of a sealed box (at most %zu bytes)",
				max);
		free(out);
		out = NULL;
	}
	free(s);
	*len = got;
	return out;
}

static int to_cmp(const void *a, const void *b)
{
	return strcmp(((const op_sealed_to *)a)->site, ((const op_sealed_to *)b)->site);
}

static void read_sites(op_check *c, const op_node *n, op_sealed *out)
{
	static const char *const keys[] = {"key", "box", NULL};
	if (!n || n->kind != OP_NODE_MAP) {
		ck_err(c, n, "expected a mapping of site name to {key, box}");
		return;
	}
	if (n->n == 0 || n->n > OP_SEALED_MAX_SITES) {
		ck_err(c, n, "expected 1 to %d sites, got %zu", OP_SEALED_MAX_SITES, n->n);
		return;
	}
	if (!(out->to = calloc(n->n, sizeof *out->to))) {
		ck_nomem(c, n);
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const op_node *k = n->keys[i], *v = n->vals[i];
		size_t m = ck_key(c, k->text);
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(n->keys[j]->text, k->text) == 0;
		char *site = dup ? NULL : ck_name(c, k, "a site name");
		if (dup)
			ck_err(c, k, "duplicate key");
		op_sealed_to *t = &out->to[out->n];
		if (site && ck_map(c, v, keys) && ck_need(c, v, "key") && ck_need(c, v, "box")) {
			size_t kl = 0;
			unsigned char *key;
			AT_KEY(c, "key",
				key = read_b64(c, ck_get(v, "key"), OP_SEAL_KEY_LEN,
					OP_SEAL_KEY_LEN, &kl));
			AT_KEY(c, "box",
				t->box = read_b64(c, ck_get(v, "box"), 0,
					OP_SECRET_MAX + OP_SEAL_BOX_EXTRA, &t->len));
			if (t->box && t->len <= OP_SEAL_BOX_EXTRA) {
				AT_KEY(c, "box",
					ck_err(c, ck_get(v, "box"), "sealed box too short"));
				free(t->box);
				t->box = NULL;
			}
			if (key && t->box) {
				memcpy(t->key, key, OP_SEAL_KEY_LEN);
				snprintf(t->site, sizeof t->site, "%s", site);
				out->n++;
			} else {
				free(t->box);
				t->box = NULL;
			}
			free(key);
		}
		free(site);
		ck_pop(c, m);
	}
	qsort(out->to, out->n, sizeof *out->to, to_cmp);
}

static void read_root(op_check *c, const op_node *root, op_sealed *out)
{
	static const char *const keys[] = {"apiVersion", "kind", "metadata", "sealed", NULL};
	static const char *const mkeys[] = {"name", NULL};
	if (!root) {
		static const op_node start = {.kind = OP_NODE_SCALAR, .line = 1, .col = 1};
		ck_err(c, &start, "expected a mapping (a SealedSecret), got an empty file");
		return;
	}
	if (!ck_map(c, root, keys))
		return;
	if (ck_need(c, root, "apiVersion"))
		AT_KEY(c, "apiVersion",
			free(ck_exact(c, ck_get(root, "apiVersion"), OP_SEALED_API)));
	if (ck_need(c, root, "kind"))
		AT_KEY(c, "kind", free(ck_exact(c, ck_get(root, "kind"), OP_SEALED_KIND)));
	if (ck_need(c, root, "metadata")) {
		size_t m = ck_key(c, "metadata");
		const op_node *md = ck_get(root, "metadata");
		if (ck_map(c, md, mkeys) && ck_need(c, md, "name")) {
			char *name;
			AT_KEY(c, "name", name = ck_name(c, ck_get(md, "name"), "a secret name"));
			if (name)
				snprintf(out->name, sizeof out->name, "%s", name);
			free(name);
		}
		ck_pop(c, m);
	}
	if (ck_need(c, root, "sealed"))
		AT_KEY(c, "sealed", read_sites(c, ck_get(root, "sealed"), out));
}

int op_sealed_parse(const char *file, const char *buf, size_t len, op_sealed *out, op_diags *d)
{
	memset(out, 0, sizeof *out);
	op_doc doc;
	int rc = len > OP_DOC_MAX_BYTES
		? op_diags_add(d, file, 1, 1, "", "file too large: %zu bytes (at most %d)", len,
			  OP_DOC_MAX_BYTES),
	    OP_ETOOBIG : op_doc_parse_yaml(&doc, file, buf, len, d);
	if (len > OP_DOC_MAX_BYTES)
		return rc;
	if (rc == 0) {
		op_check c = {.file = file, .d = d};
		read_root(&c, doc.root, out);
		rc = c.errors ? (c.nomem ? OP_ENOMEM : OP_EINVAL) : 0;
	}
	op_doc_clear(&doc);
	if (rc)
		op_sealed_clear(out);
	return rc;
}

static int cat(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		size_t c = (*len + n + 1) * 2;
		char *b = realloc(*buf, c);
		if (!b)
			return OP_ENOMEM;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return 0;
}

static int cat_b64(char **buf, size_t *len, size_t *cap, const unsigned char *raw, size_t n)
{
	size_t bl = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(bl);
	if (!b)
		return OP_ENOMEM;
	sodium_bin2base64(b, bl, raw, n, sodium_base64_VARIANT_ORIGINAL);
	int rc = cat(buf, len, cap, b);
	free(b);
	return rc;
}

int op_sealed_encode(const op_sealed *s, char **yaml, size_t *len)
{
	char *buf = NULL, line[256];
	size_t n = 0, cap = 0;
	snprintf(line, sizeof line,
		"# Sealed by outpost secret seal: only the sites below can open it.\n"
		"apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\nsealed:\n",
		OP_SEALED_API, OP_SEALED_KIND, s->name);
	int rc = cat(&buf, &n, &cap, line);
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		snprintf(line, sizeof line, "  %s:\n    key: ", s->to[i].site);
		rc = cat(&buf, &n, &cap, line);
		if (rc == 0)
			rc = cat_b64(&buf, &n, &cap, s->to[i].key, OP_SEAL_KEY_LEN);
		if (rc == 0)
			rc = cat(&buf, &n, &cap, "\n    box: ");
		if (rc == 0)
			rc = cat_b64(&buf, &n, &cap, s->to[i].box, s->to[i].len);
		if (rc == 0)
			rc = cat(&buf, &n, &cap, "\n");
	}
	if (rc) {
		free(buf);
		return rc;
	}
	*yaml = buf;
	if (len)
		*len = n;
	return 0;
}

int op_sealed_add(op_sealed *s, const char *site, const unsigned char key[OP_SEAL_KEY_LEN],
	const void *value, size_t len, op_err *e)
{
	if (init())
		return op_err_set(e, OP_EIO, "libsodium cannot start");
	if (len == 0 || len > OP_SECRET_MAX)
		return op_err_set(e, OP_ETOOBIG, "a secret's value is 1 to %d bytes, got %zu",
			OP_SECRET_MAX, len);
	if (!op_name_valid(site))
		return op_err_set(e, OP_EINVAL, "site \"%.80s\": expected [a-z0-9-], 1..63", site);
	unsigned char *box = malloc(len + OP_SEAL_BOX_EXTRA);
	if (!box)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (crypto_box_seal(box, value, len, key) != 0) {
		free(box);
		return op_err_set(e, OP_EINVAL, "site %s: not a usable public key", site);
	}
	op_sealed_to *t = NULL;
	for (size_t i = 0; i < s->n && !t; i++)
		if (!strcmp(s->to[i].site, site))
			t = &s->to[i];
	if (!t) {
		op_sealed_to *v = realloc(s->to, (s->n + 1) * sizeof *v);
		if (!v) {
			free(box);
			return op_err_set(e, OP_ENOMEM, "out of memory");
		}
		s->to = v;
		t = &v[s->n++];
		memset(t, 0, sizeof *t);
		snprintf(t->site, sizeof t->site, "%s", site);
	}
	free(t->box);
	t->box = box;
	t->len = len + OP_SEAL_BOX_EXTRA;
	memcpy(t->key, key, OP_SEAL_KEY_LEN);
	qsort(s->to, s->n, sizeof *s->to, to_cmp);
	return 0;
}

int op_sealed_open(const op_sealed *s, const char *site, const unsigned char pk[OP_SEAL_KEY_LEN],
	const unsigned char sk[OP_SEAL_KEY_LEN], unsigned char **value, size_t *len, op_err *e)
{
	*value = NULL;
	*len = 0;
	if (init())
		return op_err_set(e, OP_EIO, "libsodium cannot start");
	const op_sealed_to *t = NULL;
	for (size_t i = 0; i < s->n && !t; i++)
		if (!strcmp(s->to[i].site, site))
			t = &s->to[i];
	if (!t)
		return op_err_set(
			e, OP_ENOTFOUND, "secret %s is not sealed to site %s", s->name, site);
	if (sodium_memcmp(t->key, pk, OP_SEAL_KEY_LEN) != 0)
		return op_err_set(e, OP_ETRUST,
			"secret %s is sealed to another key of site %s (reseal it to its seal.pub)",
			s->name, site);
	size_t n = t->len - OP_SEAL_BOX_EXTRA;
	unsigned char *v = malloc(n + 1);
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (crypto_box_seal_open(v, t->box, t->len, pk, sk) != 0) {
		op_secret_free(v, n + 1);
		return op_err_set(e, OP_ETRUST,
			"secret %s: the box sealed to site %s does not open", s->name, site);
	}
	v[n] = '\0';
	*value = v;
	*len = n;
	return 0;
}

void op_sealed_clear(op_sealed *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->to[i].box);
	free(s->to);
	memset(s, 0, sizeof *s);
}

void op_secret_free(void *value, size_t len)
{
	if (!value)
		return;
	sodium_memzero(value, len);
	free(value);
}

void op_secret_wipe(void *buf, size_t len)
{
	sodium_memzero(buf, len);
}

int op_seal_keygen(unsigned char pk[OP_SEAL_KEY_LEN], unsigned char sk[OP_SEAL_KEY_LEN])
{
	if (init())
		return OP_EIO;
	return crypto_box_keypair(pk, sk) == 0 ? 0 : OP_EIO;
}

/* Writes one line of base64 to path with mode, never over an existing file. */
static int write_b64(const char *path, const unsigned char *raw, unsigned mode, op_err *e)
{
	char b[sodium_base64_ENCODED_LEN(OP_SEAL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL) + 1];
	sodium_bin2base64(b, sizeof b - 1, raw, OP_SEAL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	size_t n = strlen(b);
	b[n++] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return op_err_set(e, errno == EEXIST ? OP_ECONFLICT : OP_EIO, "%.300s: %s", path,
			errno == EEXIST ? "exists already (a key is never overwritten)"
					: strerror(errno));
	bool ok = fchmod(fd, mode) == 0 && write(fd, b, n) == (ssize_t)n && fsync(fd) == 0;
	sodium_memzero(b, sizeof b);
	if (close(fd) != 0 || !ok)
		return op_err_set(e, OP_EIO, "%.300s: cannot write", path);
	return 0;
}

int op_seal_key_write(const char *dir, op_err *e)
{
	char key[1024], pub[1024];
	int a = snprintf(key, sizeof key, "%s/seal.key", dir);
	int b = snprintf(pub, sizeof pub, "%s/seal.pub", dir);
	if (a < 0 || b < 0 || (size_t)a >= sizeof key || (size_t)b >= sizeof pub)
		return op_err_set(e, OP_ETOOBIG, "%.200s: path too long", dir);
	int rc = op_mkdirs(dir, 0700, e);
	if (rc)
		return rc;
	unsigned char pk[OP_SEAL_KEY_LEN], sk[OP_SEAL_KEY_LEN];
	if (op_seal_keygen(pk, sk))
		return op_err_set(e, OP_EIO, "libsodium cannot make a key");
	rc = write_b64(key, sk, 0600, e);
	sodium_memzero(sk, sizeof sk);
	if (rc == 0 && (rc = write_b64(pub, pk, 0644, e)) != 0)
		unlink(key);
	return rc;
}

static int read_b64_file(const char *path, unsigned char out[OP_SEAL_KEY_LEN], op_err *e)
{
	char *buf = NULL;
	size_t len = 0, got = 0;
	int rc = op_read_file(path, 256, &buf, &len, e);
	if (rc)
		return rc == OP_ENOTFOUND ? op_err_set(e, rc, "%.300s: no such file", path) : rc;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (sodium_base642bin(out, OP_SEAL_KEY_LEN, buf, len, NULL, &got, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
		got != OP_SEAL_KEY_LEN)
		rc = op_err_set(e, OP_EINVAL, "%.300s: expected one line of base64 of %d bytes",
			path, OP_SEAL_KEY_LEN);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

int op_seal_key_read(const char *path, unsigned char pk[OP_SEAL_KEY_LEN],
	unsigned char sk[OP_SEAL_KEY_LEN], op_err *e)
{
	if (init())
		return op_err_set(e, OP_EIO, "libsodium cannot start");
	int rc = read_b64_file(path, sk, e);
	if (rc == 0 && crypto_scalarmult_base(pk, sk) != 0)
		rc = op_err_set(e, OP_EINVAL, "%.300s: not a usable private key", path);
	return rc;
}

int op_seal_pub_read(const char *path, unsigned char pk[OP_SEAL_KEY_LEN], op_err *e)
{
	return read_b64_file(path, pk, e);
}
