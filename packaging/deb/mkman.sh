#!/bin/sh
# Writes outpost(1) to stdout: the hand-written parts of packaging/deb/debian/outpost.1.in
# around a SYNOPSIS and a COMMANDS section made from the binary's own `--help` texts, so
# that the manual page and the help of each command never drift apart (a new option or
# command appears in both at once). Run at package time by mkdeb.sh, on the binary being
# packaged (under qemu-user for arm64).
# Usage: packaging/deb/mkman.sh TEMPLATE OUTPOST [ARGS...]   (e.g. qemu-aarch64-static BIN)
set -eu

[ $# -ge 2 ] || { echo "usage: $0 TEMPLATE OUTPOST [ARGS...]" >&2; exit 2; }
tmpl=$1
shift

# The commands, in the order `outpost --help` lists them, and the shim, which it leaves
# out because only `outpost host` starts it.
cmds=$("$@" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || { echo "mkman: no commands in \`outpost --help\`" >&2; exit 1; }
cmds="$cmds shim"
version=$("$@" --version | sed -n '1s/^outpost \([^ ]*\).*/\1/p')

# Escapes for troff: backslashes, a dot or quote at the start of a line, and dashes
# (option names are typed as they are printed: a minus, not a hyphen).
esc='s/\\/\\e/g; s/-/\\-/g; s/^[.'"'"']/\\\&&/'

synopsis() {
	for c in $cmds; do
		"$@" "$c" --help | awk '
			/^usage: / { sub(/^usage: /, ""); on = 1 }
			on && /^$/ { exit }
			on { sub(/^ +/, ""); print }'
	done | sed "$esc" | sed -e 's/^\(outpost [a-z]*\)/\\fB\1\\fR/' -e '1!s/^\\fB/.br\n&/'
}

# One command's help as a subsection: its usage lines kept as they are, prose as
# paragraphs, options as tagged paragraphs (`--opt ARG` then what it does, with the
# lines that continue it), and any other indented block (the creds file table) kept as
# it is.
section() {
	c=$1
	shift
	printf '.SS "outpost %s"\n' "$c"
	"$@" "$c" --help | sed "$esc" | awk '
		function flush_pre() { if (pre) { print ".fi"; print ".RE"; pre = 0 } }
		/^usage: / { sub(/^usage: /, ""); print ".nf"; print; usage = 1; next }
		usage && /^ / { sub(/^       /, ""); print; next }
		usage { print ".fi"; usage = 0 }
		/^$/ { flush_pre(); opt = 0; print ".PP"; next }
		# An option: "  [-h, ]--name" then, after two spaces, what it does; or
		# "  --name ARG" and what it does after one space at least.
		/^  (\\-[a-zA-Z], )?\\-\\-[a-z]/ {
			flush_pre()
			line = $0
			sub(/^  /, "", line)
			spec = line
			if (match(line, /^(\\-[a-zA-Z], )?\\-\\-[a-z\\-]+  +/)) {
				spec = substr(line, 1, RLENGTH)
				desc = substr(line, RLENGTH + 1)
			} else if (match(line, /^(\\-[a-zA-Z], )?\\-\\-[a-z\\-]+ [^ ]+( +|$)/)) {
				spec = substr(line, 1, RLENGTH)
				desc = substr(line, RLENGTH + 1)
			} else {
				desc = ""
			}
			sub(/ +$/, "", spec)
			n = split(spec, w, " ")
			out = ""
			for (i = 1; i <= n; i++) {
				if (w[i] ~ /^\\-/)
					out = out (i > 1 ? " " : "") "\\fB" w[i] "\\fR"
				else
					out = out " \\fI" w[i] "\\fR"
			}
			print ".TP"
			print out
			if (desc != "")
				print desc
			opt = 1
			next
		}
		opt && /^    / { sub(/^ +/, ""); print; next }
		/^ / {
			opt = 0
			if (!pre) { print ".RS"; print ".nf"; pre = 1 }
			sub(/^  /, "")
			print
			next
		}
		{ flush_pre(); if (opt) { print ".PP"; opt = 0 } print }
		END { flush_pre(); if (usage) print ".fi" }'
}

syn=$(mktemp)
cmd=$(mktemp)
trap 'rm -f "$syn" "$cmd"' EXIT INT TERM
synopsis "$@" >"$syn"
for c in $cmds; do
	section "$c" "$@"
done >"$cmd"

# The template's lines "@SYNOPSIS@" and "@COMMANDS@" are replaced by the generated parts.
awk -v syn="$syn" -v cmd="$cmd" -v version="$version" '
	/^@SYNOPSIS@$/ { while ((getline l < syn) > 0) print l; next }
	/^@COMMANDS@$/ { while ((getline l < cmd) > 0) print l; next }
	{ gsub(/@VERSION@/, version); print }' "$tmpl"
