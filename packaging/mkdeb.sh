#!/bin/sh
# Builds outpost's .deb for one architecture with dpkg-deb, from the static binary and
# the files under packaging/deb/ and examples/ (no debhelper: there is nothing to
# compile, and the package is small enough to lay out by hand). The manual page is made
# from the binary's own --help texts (packaging/deb/mkman.sh). Runs inside the build
# root: the copyright of the libraries linked into the binary comes from their
# installed packages, for the same architecture.
# Usage: packaging/mkdeb.sh ARCH BINARY VERSION MAINTAINER OUT.deb
set -eu

[ $# = 5 ] || { echo "usage: $0 ARCH BINARY VERSION MAINTAINER OUT.deb" >&2; exit 2; }
ARCH=$1 BIN=$2 VERSION=$3 MAINT=$4 OUT=$5
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/deb

case $ARCH in
amd64) STRIP=strip RUN= ;;
arm64) STRIP=aarch64-linux-gnu-strip RUN=qemu-aarch64-static ;;
*) echo "mkdeb: unknown architecture $ARCH" >&2; exit 2 ;;
esac

# The newest changelog entry must be the version being built.
top=$(sed -n '1s/^outpost (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
[ "$top" = "$VERSION" ] ||
	{ echo "mkdeb: packaging/deb/debian/changelog starts at $top, not $VERSION: add an entry" >&2; exit 1; }

# The libraries linked statically into the binary, as -dev packages of ARCH, and
# where their copyright files are. libgit2 is rebuilt from Debian's source by
# buildroot*.sh, which keeps its copyright file under /usr/local/share/doc.
LIBS="libnats-dev libprotobuf-c-dev libyaml-dev libmbedtls-dev libsodium-dev libjansson-dev
 libssl-dev libzstd-dev zlib1g-dev libhttp-parser-dev libpcre2-dev libc6-dev"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
umask 022
pkg=$stage/pkg
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/systemd/system" "$pkg/etc/default" \
	"$pkg/etc/outpost" "$pkg/usr/share/outpost" "$pkg/usr/share/doc/outpost/examples/apps" \
	"$pkg/usr/share/man/man1" \
	"$pkg/usr/share/lintian/overrides" "$pkg/var/lib/outpost/sync" \
	"$pkg/var/lib/outpost/agent" "$pkg/var/lib/outpost/host"

# Stripped as dh_strip does for a program.
"$STRIP" --remove-section=.comment --remove-section=.note -o "$pkg/usr/bin/outpost" "$BIN"
chmod 0755 "$pkg/usr/bin/outpost"
install -m 0644 "$SRC"/systemd/*.service "$pkg/usr/lib/systemd/system/"
for f in "$SRC"/default/*; do
	install -m 0644 "$f" "$pkg/etc/default/"
done
install -m 0644 "$SRC"/nats/*.conf "$pkg/usr/share/outpost/"
install -m 0644 "$SRC"/systemd/nats-site.service.conf "$pkg/usr/share/outpost/"
install -m 0644 "$HERE"/../examples/apps/*.yaml "$pkg/usr/share/doc/outpost/examples/apps/"
# RUN (how to run a binary of ARCH here) is empty or one word: unquoted on purpose.
"$SRC/mkman.sh" "$SRC/debian/outpost.1.in" $RUN "$pkg/usr/bin/outpost" >"$stage/outpost.1"
gzip -9n -c "$stage/outpost.1" >"$pkg/usr/share/man/man1/outpost.1.gz"
gzip -9n -c "$SRC/debian/changelog" >"$pkg/usr/share/doc/outpost/changelog.gz"
install -m 0644 "$SRC/debian/lintian-overrides" "$pkg/usr/share/lintian/overrides/outpost"
for s in postinst prerm postrm; do
	install -m 0755 "$SRC/debian/$s" "$pkg/DEBIAN/$s"
done
(cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) >"$pkg/DEBIAN/conffiles"

# copyright: outpost's own part, then each statically linked library's Debian file.
{
	cat "$SRC/debian/copyright"
	for p in $LIBS; do
		f=/usr/share/doc/$p/copyright
		src=$(dpkg-query -W -f '${source:Package}' "$p:$ARCH")
		[ -f "$f" ] || { echo "mkdeb: no $f" >&2; exit 1; }
		printf '\n%s\n%s (linked into /usr/bin/outpost; from %s)\n\n' \
			"------------------------------------------------------------------------" \
			"$src" "$f"
		cat "$f"
	done
	f=/usr/local/share/doc/libgit2/copyright
	[ -f "$f" ] || { echo "mkdeb: no $f (run: make deps-arm64)" >&2; exit 1; }
	printf '\n%s\nlibgit2 (linked into /usr/bin/outpost; from its Debian source package)\n\n' \
		"------------------------------------------------------------------------"
	cat "$f"
} >"$pkg/usr/share/doc/outpost/copyright"

# Static-Built-Using (Debian policy 7.8): the source packages compiled into the binary.
sbu=$(for p in $LIBS; do dpkg-query -W -f '${source:Package} (= ${source:Version})\n' "$p:$ARCH"; done |
	sort -u | paste -sd, - | sed 's/,/, /g')
git2=$(cat /usr/local/share/doc/libgit2/version)
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@MAINTAINER@/$MAINT/" \
	-e "s/@SIZE@/$size/" -e "s/@STATIC_BUILT_USING@/$sbu, libgit2 (= $git2)/" \
	"$SRC/debian/control" >"$pkg/DEBIAN/control"

(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
	xargs md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$stage/out.deb" >/dev/null
mv "$stage/out.deb" "$OUT"
