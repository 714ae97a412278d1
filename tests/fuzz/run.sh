#!/bin/sh
# Runs libFuzzer targets one after another for a fixed time each.
# Usage: tests/fuzz/run.sh SECONDS BIN...
#
# A target build/fuzz/tests/fuzz/fuzz_X takes its seeds from tests/fuzz/corpus/X/ and
# its dictionary from tests/fuzz/X.dict (both optional). The seeds are copied into a
# working corpus, build/fuzz/corpus/X/, which keeps what earlier runs found, so that
# the committed seed directory is never written; it is merged (minimised) before each
# run. Findings (crash-, leak-, timeout-,
# oom-, slow-unit-) land in build/fuzz/artifacts/; any of them makes the run fail.
# Each target's full log is build/fuzz/X.log; the summary line gives time, executions
# and coverage (cov: edges, ft: features).
set -u

usage() {
	echo "usage: tests/fuzz/run.sh SECONDS BIN..." >&2
	exit 2
}
[ $# -ge 2 ] || usage
secs=$1
shift
case $secs in '' | *[!0-9]*) usage ;; esac
[ "$secs" -gt 0 ] || usage

top=$(cd "$(dirname "$0")/../.." && pwd -P)
out=$top/build/fuzz
arts=$out/artifacts
mkdir -p "$arts" || exit 1

# Sanitizer findings must stop the target with a report, never be logged and skipped.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
for bin in "$@"; do
	name=$(basename "$bin")
	target=${name#fuzz_}
	if [ ! -x "$bin" ]; then
		echo "== $name: no such fuzz binary: $bin" >&2
		failed="$failed $name"
		continue
	fi
	seeds=$top/tests/fuzz/corpus/$target
	dict=$top/tests/fuzz/$target.dict
	work=$out/corpus/$target
	log=$out/$name.log
	mkdir -p "$work" || exit 1
	if [ -d "$seeds" ]; then
		cp -R "$seeds"/. "$work"/ || exit 1
		nseeds=$(find "$seeds" -type f | wc -l)
	else
		echo "== $name: no seed corpus at tests/fuzz/corpus/$target/; starting empty"
		nseeds=0
	fi
	# libFuzzer only adds files to the working corpus; merging it into a fresh dir
	# keeps the inputs that add coverage, so it does not grow run after run. When the
	# merge fails the old corpus is kept as it is.
	merged=$out/corpus/.merge-$target
	rm -rf "$merged" && mkdir -p "$merged" || exit 1
	if "$bin" -merge=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 "$merged" "$work" \
		>"$out/$name.merge.log" 2>&1; then
		rm -rf "$work" && mv "$merged" "$work" || exit 1
	else
		echo "== $name: merging the working corpus failed (build/fuzz/$name.merge.log); kept it"
		rm -rf "$merged"
	fi
	dictopt=""
	[ -f "$dict" ] && dictopt=-dict=$dict
	start=$out/.start-$name
	: >"$start"
	echo "== $name: ${secs}s, $nseeds seeds, working corpus build/fuzz/corpus/$target/"
	# shellcheck disable=SC2086 # dictopt is one word or none
	"$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$arts/$name-" $dictopt "$work" \
		>"$log" 2>&1
	rc=$?
	found=$(find "$arts" -type f -name "$name-*" -newer "$start")

	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE[[:space:]]' "$log" | tail -1)
	[ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	[ -n "$execs" ] || execs=$(echo "$done_line" | sed -n 's/^#\([0-9]*\).*/\1/p')
	cov=$(echo "$done_line" | sed -n 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/p')
	corp=$(echo "$done_line" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
	echo "== $name: ${execs:-?} execs in ${secs}s; ${cov:-no coverage line}; corpus ${corp:-?}"

	if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
		echo "== $name: FINDING (exit $rc); log: build/fuzz/$name.log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written|INFO: a leak)' \
			"$log" | head -20
		echo "-- last lines of the log:"
		tail -40 "$log"
		for f in $found; do
			echo "-- reproduce: $bin $f"
		done
		failed="$failed $name"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz: findings or errors in:$failed"
	exit 1
fi
echo "fuzz: no findings"
