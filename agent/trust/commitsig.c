/* Git's commit signatures (see include/outpost/agent/trust/sshsig.h): splitting a commit object
 * into the signature and the signed payload, and reading its committer, following
 * git's own rules (commit.c parse_buffer_signed_by_header, ident.c split_ident_line)
 * so that we check exactly the bytes and the time git checks. */
#include "outpost/agent/trust/sshsig.h"

#include <stdlib.h>
#include <string.h>

void op_commit_sig_clear(op_commit_sig *c)
{
	if (!c)
		return;
	free(c->sig);
	free(c->payload);
	memset(c, 0, sizeof *c);
}

static bool starts(const char *line, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);
	return (size_t)(end - line) >= n && memcmp(line, prefix, n) == 0;
}

/* Git's rules: the signature header's value and its continuation lines (which start
 * with a space) form the signature; any other gpgsig* header with its continuation
 * lines is dropped; the first empty line ends the headers, and the rest is payload. */
int op_commit_split_signature(
	op_commit_sig *c, const char *commit, size_t len, bool sha256_repo, op_err *e)
{
	const char *hdr = sha256_repo ? "gpgsig-sha256" : "gpgsig";
	size_t hl = strlen(hdr);
	memset(c, 0, sizeof *c);
	c->payload = malloc(len + 1);
	c->sig = malloc(len + 1);
	if (!c->payload || !c->sig) {
		op_commit_sig_clear(c);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	bool in_sig = false, other = false, saw = false;
	const char *line = commit, *end = commit + len;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *next = nl ? nl + 1 : end;
		const char *sig = NULL;
		if (in_sig && line[0] == ' ') {
			sig = line + 1;
		} else if (starts(line, end, hdr) && line + hl < end && line[hl] == ' ') {
			sig = line + hl + 1;
			other = false;
		} else if (starts(line, end, "gpgsig")) {
			other = true;
		} else if (other && line[0] != ' ') {
			other = false;
		}
		if (sig) {
			memcpy(c->sig + c->sig_len, sig, (size_t)(next - sig));
			c->sig_len += (size_t)(next - sig);
			saw = in_sig = true;
		} else {
			if (line[0] == '\n')
				next = end; /* the headers end: the rest is payload */
			if (!other) {
				memcpy(c->payload + c->payload_len, line, (size_t)(next - line));
				c->payload_len += (size_t)(next - line);
			}
			in_sig = false;
		}
		line = next;
	}
	c->payload[c->payload_len] = '\0';
	c->sig[c->sig_len] = '\0';
	if (!saw) {
		free(c->sig);
		c->sig = NULL;
		c->sig_len = 0;
	}
	return 0;
}

#define MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

int op_commit_committer(const char *commit, size_t len, char **email, int64_t *time, op_err *e)
{
	const char *line = commit, *end = commit + len, *v = NULL, *eol = NULL;
	*email = NULL;
	*time = 0;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		eol = nl ? nl : end;
		if (eol == line)
			break; /* the empty line ends the headers */
		if (starts(line, eol, "committer ")) {
			v = line + strlen("committer ");
			break;
		}
		line = nl ? nl + 1 : end;
	}
	if (!v)
		return op_err_set(e, OP_ENOTFOUND, "commit has no committer");
	const char *lt = memchr(v, '<', (size_t)(eol - v));
	const char *gt = lt ? memchr(lt + 1, '>', (size_t)(eol - lt - 1)) : NULL;
	if (!gt)
		return op_err_set(e, OP_EINVAL, "commit's committer has no <email>");
	/* The time follows the last '>' of the line, as git reads it. */
	const char *last = eol - 1;
	while (*last != '>')
		last--;
	const char *d = last + 1;
	while (d < eol && (*d == ' ' || *d == '\t'))
		d++;
	int64_t t = 0;
	const char *d0 = d;
	for (; d < eol && *d >= '0' && *d <= '9'; d++) {
		if (t > MAX_TIME)
			break;
		t = t * 10 + (*d - '0');
	}
	if (d == d0)
		return op_err_set(e, OP_EINVAL, "commit's committer has no time");
	if (t > MAX_TIME)
		return op_err_set(
			e, OP_EINVAL, "commit's committer time is out of range (1970 to 9999)");
	size_t n = (size_t)(gt - lt - 1);
	if (memchr(lt + 1, '\0', n))
		return op_err_set(e, OP_EINVAL, "commit's committer email holds a NUL");
	*email = malloc(n + 1);
	if (!*email)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(*email, lt + 1, n);
	(*email)[n] = '\0';
	*time = t;
	return 0;
}
