/* What every libFuzzer target shares: the entry point's prototype and CHECK, which traps
 * (a finding) when a property of the decoder under test does not hold. */
#ifndef OUTPOST_FUZZ_H
#define OUTPOST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) \
	do { \
		if (!(c)) \
			__builtin_trap(); \
	} while (0)

#endif
