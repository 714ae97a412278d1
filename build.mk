# The real build, run inside the trixie build root. See Makefile.

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
VERSION := 0.1.0
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CPPFLAGS := -Iinclude -Itests -I/usr/local/include -D_GNU_SOURCE \
	-DOP_VERSION='"$(VERSION)"' -DOP_COMMIT='"$(COMMIT)"'
CFLAGS := -std=c11 -O2 -g $(WARN)

# Static link order: the libraries, then what they need.
LIB_GIT := /usr/local/lib/libgit2.a -lhttp_parser -lpcre2-8
LIB_TLS := -lmbedtls -lmbedx509 -lmbedcrypto
STATIC_LIBS := $(LIB_GIT) -l:libnats_static.a -lprotobuf-c -lyaml -ljansson -lsodium \
	$(LIB_TLS) -lssl -lcrypto -lzstd -lz -pthread -lrt
DYN_LIBS := $(LIB_GIT) -lnats -lyaml -ljansson -lsodium $(LIB_TLS) -lssl -lcrypto -lz \
	-pthread -lrt

SRC := $(wildcard agent/*/*.c sync/*/*.c)
LIBSRC := $(filter-out agent/main/main.c,$(SRC))
HDRS := $(wildcard include/outpost/*/*/*.h agent/*/*.h sync/*/*.h)
UNIT := $(wildcard tests/unit/test_*.c)
E2E := $(wildcard tests/e2e/test_*.c)
HARNESS := $(wildcard tests/harness*.c tests/t.c)
FUZZ := $(wildcard tests/fuzz/fuzz_*.c)
BENCH := $(wildcard tests/bench/bench_*.c)
FUZZ_BIN := $(patsubst %.c,build/fuzz/%,$(FUZZ))
FUZZ_SHORT ?= 5

obj = $(patsubst %.c,build/$(1)/%.o,$(2))

.PHONY: all test test-unit test-e2e test-asan fuzz bench demo lint format clang-check
all: outpost

# --- release objects and the static binary --------------------------------------------
build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

outpost: $(call obj,rel,$(SRC))
	@echo "  LD      $@ (static)"
	@rm -f $@; $(CC) -static -o $@ $^ $(STATIC_LIBS) 2>&1 | \
		grep -v "statically linked applications requires at runtime" | \
		grep -v "in function" ; test -x $@

# --- tests: unit and e2e programs, linked dynamically (ASan cannot be static) ----------
build/rel/tests/%: $(call obj,rel,tests/%.c $(LIBSRC) $(HARNESS))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -o $@ $^ $(DYN_LIBS)

# test_choose links the revision choice and the test runner alone, with no library:
# that it links at all is the proof that the choice is pure.
CHOOSE_SRC := tests/unit/test_choose.c agent/plan/choose.c tests/t.c
build/rel/tests/unit/test_choose: $(call obj,rel,$(CHOOSE_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (no libraries)"
	@$(CC) -o $@ $^

UNIT_BIN := $(patsubst %.c,build/rel/%,$(UNIT))
E2E_BIN := $(patsubst %.c,build/rel/%,$(E2E))

# Style (clang-format, cppcheck) and a short fuzz of every target first (the campaigns
# are `make fuzz`), then the tests; the runner's total is the last line.
test: outpost $(UNIT_BIN) $(E2E_BIN) $(FUZZ_BIN)
	@$(MAKE) --no-print-directory lint
	@tests/fuzz/run.sh $(FUZZ_SHORT) $(FUZZ_BIN)
	@tests/run.sh $(UNIT_BIN) $(E2E_BIN)
test-unit: $(UNIT_BIN)
	@tests/run.sh $(UNIT_BIN)
test-e2e: outpost $(E2E_BIN)
	@tests/run.sh $(E2E_BIN)
# The long seeded chaos run (tests/e2e/test_chaos.c, of which `make test` runs 10 steps):
# CHAOS_STEPS (default 100) and CHAOS_SEED, printed by every run, to replay one.
.PHONY: chaos
chaos: outpost build/rel/tests/e2e/test_chaos
	@CHAOS_STEPS=$${CHAOS_STEPS:-100} tests/run.sh build/rel/tests/e2e/test_chaos

# --- ASan + UBSan ----------------------------------------------------------------------
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/SAN  $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(SAN) -MMD -MP -c $< -o $@
build/asan/tests/%: $(call obj,asan,tests/%.c $(LIBSRC) $(HARNESS))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(DYN_LIBS)
build/asan/tests/unit/test_choose: $(call obj,asan,$(CHOOSE_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^
ASAN_BIN := $(patsubst %.c,build/asan/%,$(UNIT))
test-asan: $(ASAN_BIN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run.sh $(ASAN_BIN)

# --- out-of-memory tests (tests/unit/test_oom.c) ------------------------------------------
# The failing allocator (tests/oom.c) replaces our objects' allocation calls by the
# linker's --wrap; the shared libraries keep the real allocator (ASan's under ASan).
OOM_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup \
	-Wl,--wrap=free
build/rel/tests/unit/test_oom: $(call obj,rel,tests/unit/test_oom.c tests/oom.c $(LIBSRC) $(HARNESS))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(OOM_WRAP) -o $@ $^ $(DYN_LIBS)
build/asan/tests/unit/test_oom: $(call obj,asan,tests/unit/test_oom.c tests/oom.c $(LIBSRC) $(HARNESS))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(OOM_WRAP) -o $@ $^ $(DYN_LIBS)

# --- libFuzzer (clang) -----------------------------------------------------------------
FUZZ_SECONDS ?= 60
FZ := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/FUZZ $<"
	@clang $(CPPFLAGS) $(CFLAGS) -O1 -g $(FZ) -MMD -MP -c $< -o $@
build/fuzz/tests/fuzz/%: $(call obj,fuzz,tests/fuzz/%.c $(LIBSRC))
	@mkdir -p $(dir $@)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(DYN_LIBS)
fuzz: $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# --- benchmarks and the demo -----------------------------------------------------------
BENCH_BIN := $(patsubst %.c,build/rel/%,$(BENCH))
bench: outpost $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

# The demo (tests/demo/): a hub and two sites, narrated, on the e2e harness.
DEMO_BIN := build/rel/tests/demo/demo
$(DEMO_BIN): $(call obj,rel,$(wildcard tests/demo/*.c) $(LIBSRC) $(HARNESS))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -o $@ $^ $(DYN_LIBS)
demo: outpost $(DEMO_BIN)
	@$(DEMO_BIN)

# --- style -----------------------------------------------------------------------------
format:
	clang-format -i $(SRC) $(HDRS)
lint:
	@clang-format --dry-run --Werror $(SRC) $(HDRS)
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability --check-level=exhaustive \
		--inline-suppr --suppress=missingIncludeSystem -Iinclude $(SRC)
	@echo "lint: clean"
clang-check:
	$(MAKE) --no-print-directory -B CC=clang outpost $(UNIT_BIN)

# arm64, .deb packages and their tests: packaging/release.mk.
include packaging/release.mk

# The commit id is compiled into --version: rebuild it when HEAD moves.
build/rel/agent/main/version.o build/asan/agent/main/version.o: $(wildcard .git/HEAD .git/refs/heads/*)

.SECONDARY:
-include $(shell find build -name "*.d" 2>/dev/null)
