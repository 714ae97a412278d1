/* The pure half of artifact installs (see install.h): where an artifact comes from, and
 * which cache files a host keeps. */
#include <string.h>

#include "outpost/agent/host/install.h"

enum op_install_src op_install_decide(bool installed, bool cached, bool can_fetch)
{
	if (installed)
		return OP_INSTALL_KEEP;
	if (cached)
		return OP_INSTALL_FROM_CACHE;
	return can_fetch ? OP_INSTALL_FROM_STORE : OP_INSTALL_NO_SOURCE;
}

const char *op_install_src_name(enum op_install_src s)
{
	switch (s) {
	case OP_INSTALL_KEEP: return "installed";
	case OP_INSTALL_FROM_CACHE: return "cache";
	case OP_INSTALL_FROM_STORE: return "store";
	case OP_INSTALL_NO_SOURCE: break;
	}
	return "none";
}

size_t op_cache_keep(
	const char *const *old, size_t nold, const char *now, const char *keep[OP_CACHE_PER_PATH])
{
	size_t n = 0;
	keep[n++] = now;
	for (size_t i = 0; i < nold && n < OP_CACHE_PER_PATH; i++)
		if (strcmp(old[i], now) != 0)
			keep[n++] = old[i];
	return n;
}

static bool is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

bool op_cache_drop(const char *name, const char *const *kept, size_t n)
{
	if (strncmp(name, ".tmp-", 5) == 0)
		return true;
	if (strncmp(name, "sha256-", 7) != 0 || !is_hex64(name + 7))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(kept[i], name + 7) == 0)
			return false;
	return true;
}
