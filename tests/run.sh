#!/bin/sh
# Runs test programs one after another and sums their `N passed, N failed[, N skipped]`
# lines.
# A program that crashes, times out, exits non-zero with no failure counted, or prints
# no summary counts as one more failed test. The last line is the total.
set -u
TIMEOUT=${TEST_TIMEOUT:-900}
pass=0 fail=0 skip=0 bad=""
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
for t in "$@"; do
	name=$(echo "$t" | sed 's|.*/tests/||')
	echo "== $name"
	{ timeout -k 10 "$TIMEOUT" "$t" 2>&1; echo $? >"$tmp/rc"; } | tee "$tmp/out"
	rc=$(cat "$tmp/rc")
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -1)
	if [ -z "$line" ]; then
		echo "== $name: exit $rc and no summary line (crashed or timed out)"
		fail=$((fail + 1)); bad="$bad $name"
		continue
	fi
	p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
	s=$(echo "$line" | sed -n 's/.*, \([0-9][0-9]*\) skipped.*/\1/p')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "== $name: exit $rc after its summary (sanitizer or crash at exit)"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
	[ "$f" -gt 0 ] && bad="$bad $name"
done
[ -n "$bad" ] && echo "failing:$bad"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
