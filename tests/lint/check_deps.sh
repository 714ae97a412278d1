#!/bin/sh
# The arrows between folders, as the linker sees them (`make check-deps`, part of
# `make lint`). Headers say what a folder means to use; the object files say what it
# does use, so this reads them: every undefined symbol of an object is resolved to the
# object that defines it, and the folders of the two (agent/wire, sync/git, ...) make
# an arrow. An arrow the table does not list fails, naming the symbol and both files.
#
# Three rules hold whatever the table says, so that editing the table cannot undo them:
# agent/* never refers to sync/* (except agent/main, the entry point of both wings);
# the pure folders agent/plan, agent/model, agent/trust and agent/wire never refer to
# agent/bus (NATS); and the folders form no cycle (checked on the measured arrows, and
# on the table). A folder missing from the table fails too: a new folder is a decision.
#
# Usage: tests/lint/check_deps.sh [--print] TABLE OBJECT.o...
#   TABLE lines: `folder  folder...` (the folders it may refer to; `*` for any), # comments.
#   --print lists the measured arrows with a count and one symbol each, then checks.
set -eu
print=0
if [ "${1:-}" = "--print" ]; then
	print=1
	shift
fi
[ $# -ge 2 ] || {
	echo "usage: $0 [--print] TABLE OBJECT.o..." >&2
	exit 2
}
table=$1
shift
[ -r "$table" ] || {
	echo "check-deps: cannot read $table" >&2
	exit 2
}

# nm -P: `file: symbol type [value size]`; -g: external symbols only (statics are no arrow).
syms=$(mktemp)
trap 'rm -f "$syms"' EXIT INT TERM
${NM:-nm} -A -g -P "$@" >"$syms"

awk -v table="$table" -v print_arrows="$print" '
# The folder of an object: the two directories above it (agent/wire/proof.o -> agent/wire).
function folder(f, n, p) {
	n = split(f, p, "/")
	return n >= 3 ? p[n - 2] "/" p[n - 1] : "?"
}
function short(f, n, p) {
	n = split(f, p, "/")
	return n >= 3 ? p[n - 2] "/" p[n - 1] "/" p[n] : f
}
# The rules no table can lift; "" when from -> to is one of them, else why not.
function never(from, to) {
	if (from ~ /^agent\// && from != "agent/main" && to ~ /^sync\//)
		return "agent never refers to sync (only agent/main, the entry point)"
	if (from ~ /^agent\/(plan|model|trust|wire)$/ && to == "agent/bus")
		return "plan, model, trust and wire are pure: never NATS"
	return ""
}
function allowed(from, to) {
	return from == to || (from, "*") in may || (from, to) in may
}
function fail(msg) {
	print "check-deps: " msg
	bad++
}
# Depth-first search for a cycle in edge[][] (over nodes[]); prints the first found.
function dfs(n, what, m, i) {
	state[n] = 1
	stack[++depth] = n
	for (i = 1; i <= nnodes; i++) {
		m = nodes[i]
		if (!((n, m) in edge) || m == n)
			continue
		if (state[m] == 1) {
			path = m
			for (j = depth; j >= 1 && stack[j] != m; j--)
				path = stack[j] " -> " path
			fail(what " has a cycle: " m " -> " path)
			return 1
		}
		if (state[m] == 0 && dfs(m, what))
			return 1
	}
	depth--
	state[n] = 2
	return 0
}
function cycles(what, k, i) {
	for (i = 1; i <= nnodes; i++)
		state[nodes[i]] = 0
	depth = 0
	for (i = 1; i <= nnodes; i++)
		if (state[nodes[i]] == 0 && dfs(nodes[i], what))
			return
}
BEGIN {
	while ((getline line < table) > 0) {
		sub(/#.*/, "", line)
		n = split(line, w, /[ \t]+/)
		k = 0
		for (i = 1; i <= n; i++)
			if (w[i] != "")
				v[++k] = w[i]
		if (k == 0)
			continue
		known[v[1]] = 1
		for (i = 2; i <= k; i++) {
			may[v[1], v[i]] = 1
			if (v[i] != "*" && (why = never(v[1], v[i])) != "")
				fail(table ": " v[1] " lists " v[i] ": " why)
		}
	}
	close(table)
}
{
	file = $1
	sub(/:$/, "", file)
	if ($3 == "U")
		refs[++nrefs] = file SUBSEP $2
	else if ($3 ~ /^[TDBRCGSVWi]$/ && !($2 in def))
		def[$2] = file
	seen[folder(file)] = 1
}
END {
	for (f in seen)
		if (!(f in known))
			fail("folder " f " is not in " table " (add it with the folders it may use)")
	for (i = 1; i <= nrefs; i++) {
		split(refs[i], r, SUBSEP)
		if (!(r[2] in def))
			continue # a library or libc: not ours
		from = folder(r[1])
		to = folder(def[r[2]])
		if (from == to)
			continue
		if (!((from, to) in count))
			example[from, to] = r[2] " (" short(r[1]) " -> " short(def[r[2]]) ")"
		count[from, to]++
		why = never(from, to)
		if (why == "" && !allowed(from, to))
			why = from " may not refer to " to " (" table ")"
		if (why != "")
			fail(r[1] " refers to " r[2] ", defined in " def[r[2]] ": " why)
	}
	if (print_arrows)
		for (a in count) {
			split(a, p, SUBSEP)
			printf "%-14s -> %-14s %4d  e.g. %s\n", p[1], p[2], count[a], example[a] | "sort"
		}
	close("sort")

	# The table without agent/main (it may use everything and nothing uses it), then
	# the measured arrows.
	for (a in may) {
		split(a, p, SUBSEP)
		if (p[2] != "*" && p[1] != "agent/main") {
			edge[p[1], p[2]] = 1
			nodeset[p[1]] = nodeset[p[2]] = 1
		}
	}
	for (f in nodeset)
		nodes[++nnodes] = f
	cycles("the table")
	delete edge
	delete nodes
	delete nodeset
	nnodes = 0
	for (a in count) {
		split(a, p, SUBSEP)
		edge[p[1], p[2]] = 1
		nodeset[p[1]] = nodeset[p[2]] = 1
	}
	for (f in nodeset)
		nodes[++nnodes] = f
	cycles("the code")
	if (bad)
		exit 1
}' "$syms" || {
	echo "check-deps: failed (the allowed arrows: $table)" >&2
	exit 1
}
echo "check-deps: clean ($# objects)"
