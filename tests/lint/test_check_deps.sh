#!/bin/sh
# Tests of the arrow checker (tests/lint/check_deps.sh): tiny object files compiled in a
# temp dir make arrows the rules forbid, and the checker must fail naming the symbol and
# both files; a table that forbids an arrow the real objects have must fail too. Run by
# `make test` from the checkout, inside the build root. Prints `N passed, N failed`.
set -u
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
check=tests/lint/check_deps.sh

ok() {
	pass=$((pass + 1))
	echo "ok   $1"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL $1"
	sed 's/^/    /' "$tmp/out" | head -20
}

# obj FOLDER NAME CODE: compiles CODE into $tmp/FOLDER/NAME.o.
obj() {
	mkdir -p "$tmp/$1"
	printf '%s\n' "$3" >"$tmp/$1/$2.c"
	${CC:-cc} -c -o "$tmp/$1/$2.o" "$tmp/$1/$2.c"
}

# expect NAME STATUS TABLE OBJECT... -- PATTERN...: runs the checker, wants STATUS
# (0 or 1) and every PATTERN (fixed strings) in its output.
expect() {
	name=$1 want=$2 table=$3
	shift 3
	objs=""
	while [ "$1" != "--" ]; do
		objs="$objs $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	$check "$table" $objs >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "    exit $rc, wanted $want" >>"$tmp/out"
		bad "$name"
		return
	fi
	for p in "$@"; do
		if ! grep -qF -- "$p" "$tmp/out"; then
			echo "    no \"$p\" in the output" >>"$tmp/out"
			bad "$name"
			return
		fi
	done
	ok "$name"
}

obj agent/base err 'int op_err_set(void) { return 0; }'
obj agent/bus bus 'int op_err_set(void); int op_bus_close(void) { return op_err_set(); }'
obj agent/wire proof 'int op_bus_close(void); int op_proof_parse(void) { return op_bus_close(); }'
obj agent/model doc 'int op_err_set(void); int op_doc_parse(void) { return op_err_set(); }'
obj agent/site agent 'int op_publish(void); int op_agent_run(void) { return op_publish(); }'
obj sync/publish publish 'int op_publish(void) { return 0; }'
obj agent/main main 'int op_publish(void); int main(void) { return op_publish(); }'
obj agent/base cyc 'int op_doc_parse(void); int op_base_cyc(void) { return op_doc_parse(); }'
obj agent/novel thing 'int op_err_set(void); int op_novel(void) { return op_err_set(); }'
T=$tmp/agent
cat >"$tmp/arrows" <<'EOF'
# test table
agent/base
agent/bus    agent/base
agent/model  agent/base
agent/wire   agent/base agent/model
agent/site   agent/base
agent/main   *
sync/publish agent/base
EOF

expect "allowed arrows pass" 0 "$tmp/arrows" "$T/base/err.o" "$T/bus/bus.o" \
	"$T/model/doc.o" "$T/main/main.o" "$tmp/sync/publish/publish.o" -- "check-deps: clean"
expect "wire -> bus fails, naming the symbol and both files" 1 "$tmp/arrows" \
	"$T/base/err.o" "$T/bus/bus.o" "$T/wire/proof.o" -- \
	"$T/wire/proof.o refers to op_bus_close, defined in $T/bus/bus.o" "never NATS"
expect "agent -> sync fails" 1 "$tmp/arrows" "$T/site/agent.o" \
	"$tmp/sync/publish/publish.o" -- \
	"$T/site/agent.o refers to op_publish, defined in $tmp/sync/publish/publish.o" \
	"agent never refers to sync"
expect "an arrow the table does not list fails" 1 "$tmp/arrows" "$T/base/err.o" \
	"$T/bus/bus.o" "$T/model/doc.o" "$T/base/cyc.o" -- \
	"$T/base/cyc.o refers to op_doc_parse, defined in $T/model/doc.o" \
	"agent/base may not refer to agent/model"
sed 's|^agent/base$|agent/base agent/model|' "$tmp/arrows" >"$tmp/cyclic"
expect "a cycle fails, in the table and in the code" 1 "$tmp/cyclic" "$T/base/err.o" \
	"$T/model/doc.o" "$T/base/cyc.o" -- "the table has a cycle" "the code has a cycle" \
	"agent/model -> agent/base"
expect "a folder missing from the table fails" 1 "$tmp/arrows" "$T/base/err.o" \
	"$T/novel/thing.o" -- "folder agent/novel is not in"
{
	cat "$tmp/arrows"
	echo "agent/plan agent/bus"
	echo "agent/creds sync/git"
} >"$tmp/lax"
expect "a table cannot allow what the rules forbid" 1 "$tmp/lax" "$T/base/err.o" -- \
	"agent/plan lists agent/bus" "agent/creds lists sync/git"

# The real objects: clean under the real table, and a table without plan -> model
# (an arrow the planner has) fails on one of its symbols.
real=$(ls build/rel/agent/*/*.o build/rel/sync/*/*.o 2>/dev/null)
if [ -n "$real" ]; then
	# shellcheck disable=SC2086
	expect "the real objects keep to tests/lint/arrows" 0 tests/lint/arrows $real -- \
		"check-deps: clean"
	sed 's|^\(agent/plan  *\).*|\1agent/base agent/wire|' tests/lint/arrows >"$tmp/noplan"
	# shellcheck disable=SC2086
	expect "a table that forbids a real arrow fails" 1 "$tmp/noplan" $real -- \
		"build/rel/agent/plan/" "agent/plan may not refer to agent/model" \
		", defined in build/rel/agent/model/"
else
	echo "FAIL no objects in build/rel (build them first)"
	fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
