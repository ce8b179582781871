#!/usr/bin/env bash
# tests/tools/run.sh BUILD_DIR: every tests/tools/*.sh but this one (what
# libgmp shows: stats, traces, dumps, deadlock reports, gmp-stat, the gdb
# helper), each printing TAP and "N passed, N failed, N skipped". Prints
# their output and the sum as its own last line; exits 1 if any failed.
set -u
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skip=0
for t in "$here"/*.sh; do
	[ "$(basename "$t")" = run.sh ] && continue
	echo "# $(basename "$t")"
	out=$(bash "$t" "$build" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	last=$(tail -n 1 <<<"$out")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		pass=$((pass + BASH_REMATCH[1]))
		fail=$((fail + BASH_REMATCH[2]))
		skip=$((skip + BASH_REMATCH[3]))
		[ $rc != 0 ] && [ "${BASH_REMATCH[2]}" = 0 ] && fail=$((fail + 1))
	else
		echo "# $(basename "$t") exited $rc without a summary"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
