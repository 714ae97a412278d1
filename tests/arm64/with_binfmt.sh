#!/bin/sh
# Runs a command where the kernel itself can exec aarch64 programs, through qemu-user.
# `outpost host` starts each workload's supervisor by re-executing itself
# (execve("/proc/self/exe") -> `outpost shim`). qemu-user (10.0) turns that path into
# the guest binary's, but the kernel then refuses an aarch64 file (ENOEXEC) unless
# binfmt_misc sends it to qemu. So when ARM64_BINARY cannot run directly, this mounts
# binfmt_misc (in this private mount namespace; its entries are the kernel's) and
# registers aarch64 with the F flag (qemu is opened now, so the entry works inside and
# outside this root), runs the command, and removes the entry again. An entry the
# machine already had is used as it is and never touched.
# Usage: tests/arm64/with_binfmt.sh ARM64_BINARY COMMAND [ARG...]
set -eu
bin=$1
shift
if "$bin" --version >/dev/null 2>&1; then
	exec "$@"
fi
qemu=$(command -v qemu-aarch64-static) || { echo "with_binfmt: no qemu-aarch64-static" >&2; exit 1; }
bfm=/proc/sys/fs/binfmt_misc
name=outpost-aarch64-$$
if ! [ -e "$bfm/register" ]; then
	mount -t binfmt_misc binfmt_misc "$bfm" 2>/dev/null ||
		{ echo "with_binfmt: cannot mount binfmt_misc on $bfm: aarch64 shims cannot start" >&2; exit 1; }
fi
# ELF64, little-endian, ET_EXEC or ET_DYN, e_machine 183 (EM_AARCH64): Debian's mask.
magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
printf ':%s:M::%s:%s:%s:F' "$name" "$magic" "$mask" "$qemu" >"$bfm/register" ||
	{ echo "with_binfmt: cannot register aarch64 in binfmt_misc: aarch64 shims cannot start" >&2; exit 1; }
trap 'echo -1 >"$bfm/$name" 2>/dev/null || true' EXIT INT TERM
echo "with_binfmt: registered $bfm/$name -> $qemu (removed at exit)" >&2
"$bin" --version >/dev/null || { echo "with_binfmt: $bin still does not run directly" >&2; exit 1; }
rc=0
"$@" || rc=$?
exit $rc
