#!/bin/sh
# Makes (once per machine) the Debian trixie build root every other target runs in.
# Idempotent: a stamp holding the hash of this script says the root is complete, so a
# second run costs a few milliseconds. Anything half-made by a killed run is redone.
# Usage: packaging/buildroot.sh [ROOT]   (default $OUTPOST_ROOT or /var/cache/outpost/trixie-amd64)
set -eu

ROOT=${1:-${OUTPOST_ROOT:-/var/cache/outpost/trixie-amd64}}
MIRROR=${OUTPOST_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP="$ROOT/etc/outpost-buildroot"

# Packages inside the root: toolchains, the libraries outpost links, the test tools
# (s6: its s6-supervise is the yardstick of the shim's memory in `make bench`; wasmedge
# runs components of type wasm, wabt's wat2wasm compiles the tests' WAT modules).
PKGS="build-essential clang lld llvm libclang-rt-19-dev pkg-config cmake file
 dpkg-dev ca-certificates procps curl python3
 libnats-dev libprotobuf-c-dev libyaml-dev libmbedtls-dev libsodium-dev
 libjansson-dev libssl-dev libzstd-dev zlib1g-dev libhttp-parser-dev libpcre2-dev
 libarchive-dev
 nats-server git openssh-client openssh-server
 clang-format clang-tidy cppcheck s6 wasmedge wabt"

want=$(cat "$0" | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "buildroot: must run as root (debootstrap, chroot)" >&2; exit 1; }

log() { echo "buildroot: $*" >&2; }
t0=$(date +%s)

# Host side: debootstrap, and the keyring that knows trixie.
if ! command -v debootstrap >/dev/null 2>&1 || ! [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
	log "installing debootstrap on the host"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap debian-archive-keyring >/dev/null
fi

if ! [ -x "$ROOT/usr/bin/apt-get" ] || ! [ -f "$ROOT/.debootstrap-done" ]; then
	log "debootstrap trixie into $ROOT"
	rm -rf "$ROOT.tmp"
	mkdir -p "$(dirname "$ROOT")"
	debootstrap --variant=minbase trixie "$ROOT.tmp" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 ||
		{ tail -20 "$ROOT.debootstrap.log" >&2; log "debootstrap failed (log: $ROOT.debootstrap.log)"; exit 1; }
	touch "$ROOT.tmp/.debootstrap-done"
	rm -rf "$ROOT"
	mv "$ROOT.tmp" "$ROOT"
fi

cat >"$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR trixie main
deb-src $MIRROR trixie main
SRC
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
# Daemons must not start inside the root when their packages install.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"

log "installing packages in the root"
"$HERE/inroot.sh" --root "$ROOT" sh -c "
	set -e
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $(echo $PKGS) >/tmp/apt.log 2>&1 || { tail -30 /tmp/apt.log; exit 1; }
"

log "rebuilding libgit2 from Debian's source (GSSAPI off, USE_SSH=exec)"
"$HERE/inroot.sh" --root "$ROOT" sh -c '
	set -e
	rm -rf /opt/libgit2-src && mkdir -p /opt/libgit2-src && cd /opt/libgit2-src
	apt-get source -qq libgit2 >/tmp/src.log 2>&1 || { tail -20 /tmp/src.log; exit 1; }
	cd "$(find . -maxdepth 1 -type d -name "libgit2-*" | head -1)"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr/local \
		-DBUILD_SHARED_LIBS=OFF -DBUILD_CLI=OFF -DBUILD_TESTS=OFF -DBUILD_EXAMPLES=OFF \
		-DUSE_GSSAPI=OFF -DUSE_HTTPS=mbedTLS -DUSE_SHA1=CollisionDetection -DUSE_SHA256=mbedTLS \
		-DUSE_HTTP_PARSER=http-parser -DREGEX_BACKEND=pcre2 -DUSE_NTLMCLIENT=OFF \
		-DUSE_SSH=exec >/tmp/cmake.log 2>&1 || { tail -30 /tmp/cmake.log; exit 1; }
	cmake --build build -j"$(nproc)" >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
	cmake --install build >/dev/null
	rm -rf /opt/libgit2-src
'
echo "$want" >"$STAMP"
log "ready in $(($(date +%s) - t0)) s: $ROOT"
