#!/bin/sh
# Adds the tools that check the .deb packages to the build root (`make deps-deb`, run by
# `make deb` and `make test-deb`): lintian, systemd (for systemd-analyze verify),
# adduser (what the package's postinst calls), and the copyright file of the libgit2
# that buildroot.sh rebuilt. A stamp holding the hash of this script makes a second
# run free, as in buildroot.sh.
# Usage: packaging/buildroot-deb.sh [ROOT]
set -eu

ROOT=${1:-${OUTPOST_ROOT:-/var/cache/outpost/trixie-amd64}}
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP="$ROOT/etc/outpost-buildroot-deb"
PKGS="lintian systemd adduser"

want=$(cat "$0" | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "buildroot-deb: must run as root (chroot)" >&2; exit 1; }
[ -f "$ROOT/etc/outpost-buildroot" ] || { echo "buildroot-deb: no build root at $ROOT (run: make deps)" >&2; exit 1; }

t0=$(date +%s)
echo "buildroot-deb: installing $PKGS in the root" >&2
"$HERE/inroot.sh" --root "$ROOT" sh -c "
	set -e
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends $PKGS >/tmp/apt-deb.log 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $PKGS >/tmp/apt-deb.log 2>&1; } ||
		{ tail -30 /tmp/apt-deb.log; exit 1; }
"
# The libgit2 that buildroot.sh rebuilt has no installed copyright file: keep the one
# of its Debian source (and its version) for the package's copyright and
# Static-Built-Using (packaging/mkdeb.sh).
"$HERE/inroot.sh" --root "$ROOT" sh -c '
	set -e
	rm -rf /opt/libgit2-doc && mkdir -p /opt/libgit2-doc && cd /opt/libgit2-doc
	apt-get source -qq libgit2 >/tmp/src-doc.log 2>&1 || { tail -20 /tmp/src-doc.log; exit 1; }
	cd "$(find . -maxdepth 1 -type d -name "libgit2-*" | head -1)"
	install -D -m 0644 debian/copyright /usr/local/share/doc/libgit2/copyright
	dpkg-parsechangelog -S Version >/usr/local/share/doc/libgit2/version
	rm -rf /opt/libgit2-doc
'
echo "$want" >"$STAMP"
echo "buildroot-deb: ready in $(($(date +%s) - t0)) s: $ROOT" >&2
