# Release builds, included by build.mk (inside the build root): the arm64 cross build
# and its test under qemu-user, and the .deb packages with their checks. The root needs
# `make deps-arm64` (packaging/buildroot-arm64.sh) for the first, and `make deps-deb`
# (packaging/buildroot-deb.sh) too for the packages; the top Makefile runs both.

.PHONY: arm64 test-arm64 deb test-deb

# --- arm64: the same static binary, cross-compiled ---------------------------------------
# Same sources and flags; only the compiler, libgit2's prefix (and sha1dc, taken from
# that libgit2) and the libraries' arch (the cross gcc searches /usr/lib/aarch64-linux-gnu)
# differ. libarchive's arm64 static library is under that prefix too (see buildroot-arm64.sh).
A64_CC := aarch64-linux-gnu-gcc
A64_PREFIX := /usr/local/aarch64-linux-gnu
A64_CPPFLAGS := $(subst -I/usr/local/include,-I$(A64_PREFIX)/include,$(CPPFLAGS))
A64_SHA1 := build/arm64/libsha1dc.a
A64_LIBS := -L$(A64_PREFIX)/lib \
	$(subst /usr/local/lib/,$(A64_PREFIX)/lib/,$(subst $(LIB_SHA1),$(A64_SHA1),$(STATIC_LIBS)))
# Runs an aarch64 program here: called explicitly, as binfmt_misc may not know aarch64.
QEMU_A64 := qemu-aarch64-static

build/arm64/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/A64  $<"
	@$(A64_CC) $(A64_CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(A64_SHA1): $(A64_PREFIX)/lib/libgit2.a
	@mkdir -p $(dir $@)
	$(call sha1dc,aarch64-linux-gnu-ar,$<)

# The link's warnings show, as for the amd64 binary (see build.mk).
outpost-arm64: $(call obj,arm64,$(SRC)) $(A64_SHA1)
	@echo "  LD      $@ (static, aarch64)"
	@$(A64_CC) -static -o $@ $(call obj,arm64,$(SRC)) $(A64_LIBS)

arm64: outpost-arm64

# The arm64 binary is the agent and the hosts; the servers and sync stay amd64. Hosts
# start their shims by re-executing themselves, which needs the kernel to exec aarch64
# files: with_binfmt.sh registers qemu in binfmt_misc for the run when it must.
SMOKE_A64 := build/rel/tests/arm64/smoke_arm64
test-arm64: outpost outpost-arm64 $(SMOKE_A64)
	@OUTPOST_EDGE_BIN="$(QEMU_A64) $(CURDIR)/outpost-arm64" tests/arm64/with_binfmt.sh \
		$(CURDIR)/outpost-arm64 tests/run.sh $(SMOKE_A64)

# --- Debian packages -------------------------------------------------------------------
DEB_MAINTAINER := outpost maintainers <maintainers@users.noreply.r-seed-0147c370.example>
DEBS := outpost_$(VERSION)_amd64.deb outpost_$(VERSION)_arm64.deb
DEB_IN := packaging/mkdeb.sh $(wildcard packaging/deb/* packaging/deb/*/* examples/apps/*)

outpost_$(VERSION)_amd64.deb: outpost $(DEB_IN)
	@echo "  DEB     $@"
	@packaging/mkdeb.sh amd64 outpost $(VERSION) "$(DEB_MAINTAINER)" $@
outpost_$(VERSION)_arm64.deb: outpost-arm64 $(DEB_IN)
	@echo "  DEB     $@"
	@packaging/mkdeb.sh arm64 outpost-arm64 $(VERSION) "$(DEB_MAINTAINER)" $@

deb: $(DEBS)

test-deb: $(DEBS)
	@VERSION=$(VERSION) tests/run.sh tests/packaging/test_deb.sh
