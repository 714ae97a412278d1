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

# Static link order: the libraries, then what they need. SHA1DC is git's SHA-1 with
# collision detection, taken out of libgit2.a (see below) for agent/wire/gitobj.c.
LIB_SHA1 := build/rel/libsha1dc.a
LIB_GIT := /usr/local/lib/libgit2.a -lhttp_parser -lpcre2-8
LIB_TLS := -lmbedtls -lmbedx509 -lmbedcrypto
# libarchive (tar artifacts) needs, of what `pkg-config --static --libs libarchive` lists,
# only libacl (its disk writer) and the zstd and zlib already here: outpost reads tar
# with gzip and zstd only, so the other formats' and filters' libraries are never reached.
STATIC_LIBS := $(LIB_SHA1) $(LIB_GIT) -l:libnats_static.a -lprotobuf-c -lyaml -ljansson \
	-lsodium $(LIB_TLS) -larchive -lacl -lssl -lcrypto -lzstd -lz -pthread -lrt
DYN_LIBS := $(LIB_SHA1) $(LIB_GIT) -lnats -lyaml -ljansson -lsodium $(LIB_TLS) -larchive -lssl -lcrypto \
	-lz -pthread -lrt
# What the pure modules (model, plan, trust, wire) may need: no NATS, no libgit2, no
# OpenSSL. The unit tests of PURE_UNIT link with only these, against our objects in an
# archive, so the linker takes just the objects a test reaches: a pure module that grew
# a dependency on NATS, git or OpenSSL fails to link them. GIT_UNIT's tests make their
# fixtures with the hub's git code, and so add libgit2 (still no NATS, no OpenSSL); the
# rest (sync's loop and publishing, and test_creds, which covers the bus's URL
# redaction) link everything.
PURE_LIBS := $(LIB_SHA1) -lyaml -ljansson -lsodium $(LIB_TLS)
PURE_UNIT := standby appset choose gauge doc fresh gitobj manifest mindex plan plan_props proto revision \
	sshsig supervise trust log objmeta artifact_refs logs stage install_plan health rollout_policy \
	wave rollout wavehub secret pace beat
GIT_LIBS := $(LIB_SHA1) $(LIB_GIT) -lyaml -ljansson -lsodium $(LIB_TLS) -lz -pthread -lrt
GIT_UNIT := proof follow

SRC := $(wildcard agent/*/*.c sync/*/*.c)
LIBSRC := $(filter-out agent/main/main.c,$(SRC))
HDRS := $(wildcard include/outpost/*/*/*.h agent/*/*.h sync/*/*.h)
UNIT := $(wildcard tests/unit/test_*.c)
E2E := $(wildcard tests/e2e/test_*.c)
HARNESS := $(wildcard tests/harness*.c tests/t.c)
# Fixtures the e2e tests share (a fleet of sites, a hub with a repository).
E2E_FX := $(wildcard tests/e2e/*fx.c tests/e2e/fleet.c)
TESTSRC := $(wildcard tests/*.c tests/*/*.c)
TESTHDRS := $(wildcard tests/*.h tests/*/*.h)
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

# The link's own warnings show: glibc's, that getaddrinfo, getpwuid_r and dlopen (called
# by libgit2, nats.c and OpenSSL) need glibc's shared NSS modules at run time in a
# static binary. outpost resolves through /etc/hosts and DNS only, which glibc 2.34+
# has built in (tests/e2e resolve `localhost` through the static binary).
outpost: $(call obj,rel,$(SRC)) $(LIB_SHA1)
	@echo "  LD      $@ (static)"
	@$(CC) -static -o $@ $(call obj,rel,$(SRC)) $(STATIC_LIBS)

# Our objects but the entry point, as an archive (the tests link against it), and the
# tests' harness and fixtures as another.
build/rel/libop.a: $(call obj,rel,$(LIBSRC))
build/rel/libtest.a: $(call obj,rel,$(HARNESS) $(E2E_FX))
build/asan/libop.a: $(call obj,asan,$(LIBSRC))
build/asan/libtest.a: $(call obj,asan,$(HARNESS) $(E2E_FX))
build/%.a:
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

# sha1dc's objects, as libgit2 built them (packaging/buildroot.sh: USE_SHA1=
# CollisionDetection): sha1.c.o (SHA1DCInit, SHA1DCUpdate, SHA1DCFinal) and the
# unavoidable-bit-conditions table it uses, ubc_check.c.o. `ar x` fails the build if a
# later libgit2 names them otherwise.
SHA1DC_OBJS := sha1.c.o ubc_check.c.o
# $(call sha1dc,ar,libgit2.a): the recipe that extracts them into $@.
sha1dc = @echo "  AR      $@ (sha1dc from $(2))"; rm -rf $@.x && mkdir -p $@.x && \
	cd $@.x && $(1) x $(2) $(SHA1DC_OBJS) && cd $(CURDIR) && rm -f $@ && \
	$(1) rcs $@ $(addprefix $@.x/,$(SHA1DC_OBJS))
build/rel/libsha1dc.a: /usr/local/lib/libgit2.a
	@mkdir -p $(dir $@)
	$(call sha1dc,ar,$<)

# --- tests: unit and e2e programs, linked dynamically (ASan cannot be static) ----------
# $(call test_libs,BIN): the libraries a test program links with (see PURE_UNIT).
test_libs = $(if $(filter $(addprefix %/unit/test_,$(PURE_UNIT)),$(1)),$(PURE_LIBS),$(if \
	$(filter $(addprefix %/unit/test_,$(GIT_UNIT)),$(1)),$(GIT_LIBS),$(DYN_LIBS)))
build/rel/tests/%: build/rel/tests/%.o build/rel/libtest.a build/rel/libop.a $(LIB_SHA1)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -o $@ $< build/rel/libtest.a build/rel/libop.a $(call test_libs,$@)

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
	@tests/run.sh $(UNIT_BIN) tests/lint/test_check_deps.sh $(E2E_BIN)
test-unit: $(UNIT_BIN)
	@tests/run.sh $(UNIT_BIN) tests/lint/test_check_deps.sh
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
build/asan/tests/%: build/asan/tests/%.o build/asan/libtest.a build/asan/libop.a $(LIB_SHA1)
	@mkdir -p $(dir $@)
	@echo "  LD/SAN  $@"
	@$(CC) $(SAN) -o $@ $< build/asan/libtest.a build/asan/libop.a $(call test_libs,$@)
build/asan/tests/unit/test_choose: $(call obj,asan,$(CHOOSE_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD/SAN  $@ (no libraries)"
	@$(CC) $(SAN) -o $@ $^
ASAN_BIN := $(patsubst %.c,build/asan/%,$(UNIT))
test-asan: $(ASAN_BIN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run.sh $(ASAN_BIN)

# --- out-of-memory tests (tests/unit/test_oom.c) ------------------------------------------
# The failing allocator (tests/oom.c) replaces our objects' allocation calls by the
# linker's --wrap; the shared libraries keep the real allocator (ASan's under ASan).
OOM_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup \
	-Wl,--wrap=free
build/rel/tests/unit/test_oom: $(call obj,rel,tests/unit/test_oom.c tests/oom.c $(LIBSRC) $(HARNESS)) $(LIB_SHA1)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(OOM_WRAP) -o $@ $^ $(DYN_LIBS)
build/asan/tests/unit/test_oom: $(call obj,asan,tests/unit/test_oom.c tests/oom.c $(LIBSRC) $(HARNESS)) $(LIB_SHA1)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(OOM_WRAP) -o $@ $^ $(DYN_LIBS)

# --- libFuzzer (clang) -----------------------------------------------------------------
FUZZ_SECONDS ?= 60
FZ := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/FUZZ $<"
	@clang $(CPPFLAGS) $(CFLAGS) -O1 -g $(FZ) -MMD -MP -c $< -o $@
build/fuzz/tests/fuzz/%: $(call obj,fuzz,tests/fuzz/%.c $(LIBSRC)) $(LIB_SHA1)
	@mkdir -p $(dir $@)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(DYN_LIBS)
fuzz: $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# --- benchmarks and the demo -----------------------------------------------------------
BENCH_BIN := $(patsubst %.c,build/rel/%,$(BENCH))
bench: outpost $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done
# A fleet of SITES real sites on this machine against the hub (tests/bench/bench_fleet.c);
# `make bench` runs it too, at its own default of 5 sites.
SITES ?= 10
.PHONY: bench-fleet
bench-fleet: outpost build/rel/tests/bench/bench_fleet
	@SITES=$(SITES) build/rel/tests/bench/bench_fleet

# The demo (tests/demo/): a hub and two sites, narrated, on the e2e harness.
DEMO_BIN := build/rel/tests/demo/demo
DEMO_OBJ := $(call obj,rel,$(wildcard tests/demo/*.c))
$(DEMO_BIN): $(DEMO_OBJ) build/rel/libtest.a build/rel/libop.a $(LIB_SHA1)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -o $@ $(DEMO_OBJ) build/rel/libtest.a build/rel/libop.a $(DYN_LIBS)
demo: outpost $(DEMO_BIN)
	@$(DEMO_BIN)

# --- style -----------------------------------------------------------------------------
# lint: clang-format and cppcheck over the sources and the tests, clang-tidy (.clang-tidy
# has the checks) over the sources, and the arrows between folders (check-deps), as
# parallel jobs. clang-tidy leaves a stamp per file, made again when the file's object
# is (so when a header it includes changes, by the object's .d).
STYLE := $(SRC) $(HDRS) $(TESTSRC) $(TESTHDRS)
LINT_JOBS ?= 2
.PHONY: lint-format lint-cppcheck lint-tidy check-deps
format:
	clang-format -i $(STYLE)
lint:
	@$(MAKE) --no-print-directory -j$(LINT_JOBS) lint-format lint-cppcheck lint-tidy check-deps
	@echo "lint: clean"
lint-format:
	@clang-format --dry-run --Werror $(STYLE)
lint-cppcheck:
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability --check-level=exhaustive \
		--inline-suppr --suppress=missingIncludeSystem $(CPPFLAGS) $(SRC) $(TESTSRC)
# The analyzer in its shallow mode (less inlining across calls) takes a fourth of the time
# of the deep one; each finds paths the other does not, and both are clean:
# `make lint TIDY_MODE=deep` runs the deep one.
TIDY_MODE ?= shallow
TIDY_OK := $(patsubst %.c,build/tidy-$(TIDY_MODE)/%.ok,$(SRC))
lint-tidy: $(TIDY_OK)
build/tidy-$(TIDY_MODE)/%.ok: %.c build/rel/%.o .clang-tidy
	@mkdir -p $(dir $@)
	@clang-tidy --quiet $(foreach a,-Xclang -analyzer-config -Xclang mode=$(TIDY_MODE),--extra-arg=$(a)) \
		$< -- $(CPPFLAGS) -std=c11 >$@.log 2>&1 || \
		{ grep -v "warnings\? generated\.$$" $@.log; exit 1; }
	@touch $@
# The arrows between folders, read from the objects (tests/lint/check_deps.sh; the table
# is tests/lint/arrows).
check-deps: $(call obj,rel,$(SRC))
	@tests/lint/check_deps.sh tests/lint/arrows $^
clang-check:
	$(MAKE) --no-print-directory -B CC=clang outpost $(UNIT_BIN)

# arm64, .deb packages and their tests: packaging/release.mk.
include packaging/release.mk

# The commit id is compiled into --version: rebuild it when HEAD moves.
build/rel/agent/main/version.o build/asan/agent/main/version.o: $(wildcard .git/HEAD .git/refs/heads/*)

.SECONDARY:
-include $(shell find build -name "*.d" 2>/dev/null)
