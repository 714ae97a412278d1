#!/bin/sh
# Adds arm64's WasmEdge to the build root for `make test-arm64` (`make deps-wasm-arm64`):
# Debian's wasmedge:arm64 and what it links, unpacked into a directory of their own,
# /opt/wasmedge-arm64 (the arm64 package would replace the amd64 one in the root), with
# /opt/wasmedge-arm64/wasmedge, a script that runs it under qemu-aarch64-static with that
# directory as its library root: the runtime an arm64 host is given (--wasm-runtime).
# Idempotent like buildroot.sh: a stamp holding the hash of this script. A script of its
# own, so that adding it redoes neither the root nor the arm64 cross build.
# Usage: packaging/buildroot-wasm-arm64.sh [ROOT]
set -eu

ROOT=${1:-${OUTPOST_ROOT:-/var/cache/outpost/trixie-amd64}}
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP="$ROOT/etc/outpost-buildroot-wasm-arm64"

want=$(cat "$0" | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "buildroot-wasm-arm64: must run as root (chroot)" >&2; exit 1; }
[ -f "$ROOT/etc/outpost-buildroot-arm64" ] ||
	{ echo "buildroot-wasm-arm64: no arm64 build root at $ROOT (run: make deps-arm64)" >&2; exit 1; }

log() { echo "buildroot-wasm-arm64: $*" >&2; }
t0=$(date +%s)
log "unpacking wasmedge:arm64 and its libraries into /opt/wasmedge-arm64"
"$HERE/inroot.sh" --root "$ROOT" sh -c '
	set -e
	dir=/opt/wasmedge-arm64
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/debs" && cd "$dir.tmp/debs"
	# wasmedge:arm64 and its dependencies, recursively (virtual names left out: each
	# is provided by a real package of the list).
	pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances wasmedge:arm64 | grep -v "^ " |
		grep -v "^<" | sort -u)
	apt-get download -qq $pkgs >/tmp/apt-wasm-arm64.log 2>&1 ||
		{ tail -20 /tmp/apt-wasm-arm64.log; exit 1; }
	for d in *.deb; do dpkg-deb -x "$d" "$dir.tmp"; done
	cd / && rm -rf "$dir.tmp/debs"
	# The loader where the binary asks for it, whichever of /lib or /usr/lib has it.
	[ -e "$dir.tmp/lib/ld-linux-aarch64.so.1" ] || {
		mkdir -p "$dir.tmp/lib"
		ln -s ../usr/lib/ld-linux-aarch64.so.1 "$dir.tmp/lib/ld-linux-aarch64.so.1"
	}
	cat >"$dir.tmp/wasmedge" <<EOS
#!/bin/sh
# WasmEdge for arm64 under qemu-user (packaging/buildroot-wasm-arm64.sh)
exec qemu-aarch64-static -L $dir $dir/usr/bin/wasmedge "\$@"
EOS
	chmod 755 "$dir.tmp/wasmedge"
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
	"$dir/wasmedge" --version
'
echo "$want" >"$STAMP"
log "ready in $(($(date +%s) - t0)) s: $ROOT/opt/wasmedge-arm64"
