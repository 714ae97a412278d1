/* `outpost --version`: our version and the versions of every library linked in, so an
 * operator can tell what a static binary carries. */
#include <archive.h>
#include <git2.h>
#include <jansson.h>
#include <mbedtls/version.h>
#include <nats/nats.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <yaml.h>

#include "outpost/agent/base/cli.h"

#ifndef OP_VERSION
#define OP_VERSION "0.0.0"
#endif
#ifndef OP_COMMIT
#define OP_COMMIT "unknown"
#endif

void op_print_version(FILE *f)
{
	int maj = 0, min = 0, rev = 0;
	git_libgit2_version(&maj, &min, &rev);
	char mbed[32] = "";
	mbedtls_version_get_string(mbed);
	fprintf(f, "outpost %s (commit %s)\n", OP_VERSION, OP_COMMIT);
	fprintf(f, "  nats.c    %s\n", nats_GetVersion());
	fprintf(f, "  libgit2   %d.%d.%d\n", maj, min, rev);
	fprintf(f, "  libyaml   %s\n", yaml_get_version_string());
	fprintf(f, "  mbedtls   %s\n", mbed);
	fprintf(f, "  libsodium %s\n", sodium_version_string());
	fprintf(f, "  jansson   %s\n", jansson_version_str());
	fprintf(f, "  openssl   %s\n", OpenSSL_version(OPENSSL_VERSION));
	int la = archive_version_number();
	fprintf(f, "  libarchive %d.%d.%d\n", la / 1000000, la / 1000 % 1000, la % 1000);
}
