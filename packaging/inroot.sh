#!/bin/sh
# Runs a command inside the build root: a private mount namespace (unshare -m) in which
# the checkout is bind-mounted at the same path and /proc, /dev, /sys are mounted. The
# mounts belong to that namespace and vanish with it, so Ctrl-C, a failure or kill -9
# leaves nothing mounted and parallel runs never collide.
# Usage: packaging/inroot.sh [--root ROOT] COMMAND [ARG...]
set -eu
ROOT=${OUTPOST_ROOT:-/var/cache/outpost/trixie-amd64}
if [ "${1:-}" = "--root" ]; then ROOT=$2; shift 2; fi
[ -d "$ROOT/usr" ] || { echo "inroot: no build root at $ROOT (run: make deps)" >&2; exit 1; }
DIR=$(pwd -P)

# The command, run by env -i with a clean environment plus the knobs our targets read.
set -- sh -c 'cd "$0" && exec "$@"' "$DIR" "$@"
for v in CI FUZZ_SECONDS CHAOS_SEED CHAOS_STEPS OUTPOST_KEEP TEST_FILTER; do
	if eval "[ -n \"\${$v+x}\" ]"; then
		eval "set -- \"$v=\${$v}\" \"\$@\""
	fi
done
set -- PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"

exec unshare -m --propagation private -- sh -c '
	set -e
	root=$1; dir=$2; shift 2
	mkdir -p "$root$dir" "$root/proc" "$root/dev" "$root/sys"
	mount --bind "$dir" "$root$dir"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount --rbind /sys "$root/sys" 2>/dev/null || true
	exec chroot "$root" /usr/bin/env -i "$@"
' inroot "$ROOT" "$DIR" "$@"
