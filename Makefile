# outpost: one static binary for signed, offline-first GitOps at the edge.
#
# Outside the Debian trixie build root (see packaging/buildroot.sh) every target makes
# sure the root exists (`make deps`) and then runs itself inside it, with the checkout
# bind-mounted at the same path. Inside the root (marked by /etc/outpost-buildroot)
# build.mk holds the real rules.

ROOT ?= /var/cache/outpost/trixie-amd64
export OUTPOST_ROOT := $(ROOT)

ifeq ($(wildcard /etc/outpost-buildroot),)

TARGETS := all outpost test test-unit test-e2e test-asan fuzz bench bench-fleet demo lint format \
	check-deps clang-check chaos arm64 outpost-arm64 test-arm64 deb test-deb
PASS := $(foreach v,CC FUZZ_SECONDS TEST_FILTER CHAOS_SEED CHAOS_STEPS TIDY_MODE SITES,$(if $(filter command line,$(origin $(v))),$(v)=$($(v))))

.PHONY: deps deps-arm64 deps-wasm-arm64 deps-deb clean $(TARGETS)
$(TARGETS): deps
	@packaging/inroot.sh make --no-print-directory $@ $(PASS)
# The arm64 cross build and the packaging tools are extra steps with stamps of their
# own, so that `make test` never waits for them.
arm64 outpost-arm64 test-arm64 deb test-deb: deps-arm64
test-arm64: deps-wasm-arm64
deb test-deb: deps-deb

deps:
	@packaging/buildroot.sh $(ROOT)
deps-arm64: deps
	@packaging/buildroot-arm64.sh $(ROOT)
deps-wasm-arm64: deps-arm64
	@packaging/buildroot-wasm-arm64.sh $(ROOT)
deps-deb: deps
	@packaging/buildroot-deb.sh $(ROOT)

clean:
	rm -rf build outpost outpost-arm64 outpost_*.deb

else
include build.mk
endif
