#!/bin/sh
# Adds the arm64 cross build to the build root (`make deps-arm64`, run by `make arm64`,
# `make test-arm64` and `make deb`; `make test` never pays for it): Debian's cross
# toolchain, the :arm64 -dev packages outpost links, qemu-user to run the result, and
# libgit2 rebuilt for arm64 exactly as buildroot.sh rebuilds it for amd64, installed
# under its own prefix /usr/local/aarch64-linux-gnu so the two never mix.
# Idempotent the same way as buildroot.sh: a stamp holding the hash of this script.
# Usage: packaging/buildroot-arm64.sh [ROOT]
set -eu

ROOT=${1:-${OUTPOST_ROOT:-/var/cache/outpost/trixie-amd64}}
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP="$ROOT/etc/outpost-buildroot-arm64"

# The -dev packages of buildroot.sh's list, for arm64 (these are Multi-Arch: same, so
# they install beside the amd64 ones). libarchive-dev is not: its arm64 package would
# replace the amd64 one, so its static library is unpacked under the arm64 prefix.
DEVS="libnats-dev libprotobuf-c-dev libyaml-dev libmbedtls-dev libsodium-dev
 libjansson-dev libssl-dev libzstd-dev zlib1g-dev libhttp-parser-dev libpcre2-dev
 libacl1-dev"
PKGS="crossbuild-essential-arm64 qemu-user-static $(for p in $DEVS; do printf '%s:arm64 ' "$p"; done)"

want=$(cat "$0" | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "buildroot-arm64: must run as root (chroot)" >&2; exit 1; }
[ -f "$ROOT/etc/outpost-buildroot" ] || { echo "buildroot-arm64: no build root at $ROOT (run: make deps)" >&2; exit 1; }

log() { echo "buildroot-arm64: $*" >&2; }
t0=$(date +%s)

log "installing the arm64 cross toolchain, libraries and qemu-user in the root"
"$HERE/inroot.sh" --root "$ROOT" sh -c "
	set -e
	export DEBIAN_FRONTEND=noninteractive
	dpkg --add-architecture arm64
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $(echo $PKGS) libarchive-dev:amd64 >/tmp/apt-arm64.log 2>&1 || { tail -30 /tmp/apt-arm64.log; exit 1; }
	rm -rf /tmp/libarchive-arm64 && mkdir -p /tmp/libarchive-arm64 && cd /tmp/libarchive-arm64
	apt-get download -qq libarchive-dev:arm64 >/tmp/apt-arm64.log 2>&1 || { tail -30 /tmp/apt-arm64.log; exit 1; }
	dpkg-deb -x libarchive-dev_*_arm64.deb x
	mkdir -p /usr/local/aarch64-linux-gnu/lib
	cp x/usr/lib/aarch64-linux-gnu/libarchive.a /usr/local/aarch64-linux-gnu/lib/
	cd / && rm -rf /tmp/libarchive-arm64
"

log "rebuilding libgit2 for arm64 into /usr/local/aarch64-linux-gnu"
"$HERE/inroot.sh" --root "$ROOT" sh -c '
	set -e
	rm -rf /opt/libgit2-arm64 && mkdir -p /opt/libgit2-arm64 && cd /opt/libgit2-arm64
	apt-get source -qq libgit2 >/tmp/src-arm64.log 2>&1 || { tail -20 /tmp/src-arm64.log; exit 1; }
	cd "$(find . -maxdepth 1 -type d -name "libgit2-*" | head -1)"
	cat >arm64.cmake <<EOF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
EOF
	export PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
	cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=arm64.cmake -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX=/usr/local/aarch64-linux-gnu -DCMAKE_INSTALL_LIBDIR=lib \
		-DBUILD_SHARED_LIBS=OFF -DBUILD_CLI=OFF -DBUILD_TESTS=OFF -DBUILD_EXAMPLES=OFF \
		-DUSE_GSSAPI=OFF -DUSE_HTTPS=mbedTLS -DUSE_SHA1=CollisionDetection -DUSE_SHA256=mbedTLS \
		-DUSE_HTTP_PARSER=http-parser -DREGEX_BACKEND=pcre2 -DUSE_NTLMCLIENT=OFF \
		-DUSE_SSH=exec >/tmp/cmake-arm64.log 2>&1 || { tail -30 /tmp/cmake-arm64.log; exit 1; }
	cmake --build build -j"$(nproc)" >/tmp/build-arm64.log 2>&1 || { tail -30 /tmp/build-arm64.log; exit 1; }
	cmake --install build >/dev/null
	aarch64-linux-gnu-objdump -f /usr/local/aarch64-linux-gnu/lib/libgit2.a | grep -q elf64-littleaarch64
	rm -rf /opt/libgit2-arm64
'
echo "$want" >"$STAMP"
log "ready in $(($(date +%s) - t0)) s: $ROOT"
