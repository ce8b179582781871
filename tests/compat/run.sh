#!/usr/bin/env bash
# tests/compat/run.sh BUILD_DIR: real multi-threaded programs, run natively
# and under LD_PRELOAD=libgmp.so, must behave the same (STYLE.md §7).
#
#   pigz, zstd, xz   compress a generated ~20 MB semi-compressible text with
#                    4 threads: the compressed bytes must equal native's, and
#                    decompressing them under libgmp must give the input back
#   sort             sort --parallel=4 -S 10M of ~330,000 lines: same output
#   sysbench         threads and mutex tests with 8 threads: exit 0 and the
#                    usual report (numbers are not compared)
#   the user surface gmp-run's environment and exit statuses, a bad GMP_*
#                    value reported once, GMP_STATS counting the threads of
#                    a 5-thread program
#
# Every run is its own process under `timeout`; stdout, stderr and the exit
# status of the two runs are compared byte for byte. A program that is not
# installed is a skip (tools/deps.sh test installs them). Prints TAP and
# ends with "N passed, N failed, N skipped"; exits 1 if anything failed.
#
# Environment: LIBGMP (default BUILD_DIR/libgmp.so), COMPAT_TIMEOUT (seconds
# per run, default 120), COMPAT_KEEP=1 keeps the scratch directory.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
lib=${LIBGMP:-$build/libgmp.so}
case $lib in
/*) ;;
*) lib=$PWD/$lib ;;
esac
tmo=${COMPAT_TIMEOUT:-120}

# Same locale for both runs, and no libgmp chatter on stderr.
export LC_ALL=C
unset GMP_STATS GMP_DEBUG GMP_TRACE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gmp-compat.XXXXXX") || exit 2
if [ "${COMPAT_KEEP:-0}" = 1 ]; then
	trap 'echo "# kept $tmp"' EXIT
else
	trap 'rm -rf "$tmp"' EXIT
fi

tests=(pigz_output_and_roundtrip_match_native
	zstd_output_and_roundtrip_match_native
	xz_output_and_roundtrip_match_native
	sort_parallel_output_matches_native
	sysbench_threads_completes_under_libgmp
	sysbench_mutex_completes_under_libgmp
	gmp_run_sets_the_environment_and_passes_the_status
	bad_gmp_value_is_reported_once_and_the_default_used
	stats_count_the_threads_a_program_made)

echo "TAP version 13"
echo "1..${#tests[@]}"

if [ ! -f "$lib" ]; then
	echo "Bail out! no library at $lib"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi
# ld.so only warns when a preload fails and runs the program anyway, which
# would make every comparison below pass: check that it loads.
if ! err=$(timeout -k 5 "$tmo" env "LD_PRELOAD=$lib" /bin/true 2>&1) ||
	[ -n "$err" ]; then
	echo "Bail out! $lib does not preload cleanly:" \
		"$(head -n 3 <<<"$err" | tr '\n' ' ')"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi

# ---- helpers ---------------------------------------------------------------

why=	# a failing test's reason, one or more lines

fail()
{
	why+="$*"$'\n'
	return 1
}

# The ~22 MB input: numbers, Zipf-ish words from a 600-word vocabulary and
# hex noise, from a fixed LCG (69069 x + 1 mod 2^32, exact in awk's
# doubles), so it is the same on every run.
input=$tmp/input.txt
gen_input()
{
	[ -f "$input" ] && return 0
	awk 'BEGIN {
		m = 4294967296; x = 20240601
		for (i = 0; i < 600; i++) {
			x = (x * 69069 + 1) % m
			n = 2 + int(x / m * 8); w = ""
			for (j = 0; j < n; j++) {
				x = (x * 69069 + 1) % m
				w = w sprintf("%c", 97 + int(x / m * 26))
			}
			voc[i] = w
		}
		for (l = 0; l < 330000; l++) {
			x = (x * 69069 + 1) % m
			s = sprintf("%07d", int(x / m * 10000000))
			for (k = 0; k < 8; k++) {
				x = (x * 69069 + 1) % m
				r = x / m
				s = s " " voc[int(r * r * 600)]
			}
			x = (x * 69069 + 1) % m
			printf "%s %08x\n", s, x
		}
	}' >"$input"
}

# run VARIANT NAME STDIN CMD...: run CMD with STDIN, natively or under
# libgmp, into $tmp/NAME.VARIANT{,.err,.rc}; print the seconds it took.
run()
{
	local variant=$1 name=$2 in=$3 t0 rc
	shift 3
	local pre=()
	[ "$variant" = preload ] && pre=(env "LD_PRELOAD=$lib")
	t0=$EPOCHREALTIME
	# env after timeout: only CMD is preloaded, not timeout itself.
	(cd "$tmp" && exec timeout -k 5 "$tmo" "${pre[@]}" "$@") \
		<"$in" >"$tmp/$name.$variant" 2>"$tmp/$name.$variant.err"
	rc=$?
	echo "$rc" >"$tmp/$name.$variant.rc"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# describe VARIANT NAME: why a run failed, from its status and stderr (or
# stdout, for a text-only tool that reports errors there, like sysbench).
describe()
{
	local rc log=$tmp/$2.$1.err
	rc=$(cat "$tmp/$2.$1.rc")
	[ -s "$log" ] || [ "${3:-}" != text ] || log=$tmp/$2.$1
	case $rc in
	124|137) echo "$1 run timed out after $tmo s" ;;
	*)	if [ "$rc" -gt 128 ]; then
			echo "$1 run killed by signal $(kill -l $((rc - 128)))"
		else
			echo "$1 run exited with status $rc"
		fi ;;
	esac
	tail -n 5 "$log" | sed 's/^/  /'
}

# both NAME STDIN CMD...: run CMD natively and under libgmp; both must
# exit 0 with identical stdout and stderr.
times=
both()
{
	local name=$1 in=$2 tn tp v
	shift 2
	tn=$(run native "$name" "$in" "$@")
	tp=$(run preload "$name" "$in" "$@")
	times+="$name: native ${tn}s, libgmp ${tp}s; "
	for v in native preload; do
		[ "$(cat "$tmp/$name.$v.rc")" = 0 ] ||
			fail "$(describe $v "$name")" || return 1
	done
	cmp -s "$tmp/$name.native" "$tmp/$name.preload" ||
		fail "$name: stdout differs from native:" \
			"$(cmp "$tmp/$name.native" "$tmp/$name.preload" \
				2>&1)" ||
		return 1
	cmp -s "$tmp/$name.native.err" "$tmp/$name.preload.err" ||
		fail "$name: stderr differs from native:" \
			"$(diff "$tmp/$name.native.err" \
				"$tmp/$name.preload.err" | head -n 10)" ||
		return 1
}

# roundtrip TOOL CFLAGS... -- DFLAGS...: compress $input natively and under
# libgmp (same bytes), decompress that both ways (gives $input back).
roundtrip()
{
	local tool=$1 c=() d=() in=${ROUNDTRIP_INPUT:-$input}
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do c+=("$1"); shift; done
	shift
	d=("$@")
	both "$tool-c" "$in" "$tool" "${c[@]}" || return 1
	both "$tool-d" "$tmp/$tool-c.native" "$tool" "${d[@]}" || return 1
	cmp -s "$tmp/$tool-d.preload" "$in" ||
		fail "$tool: decompressed output is not the input"
}

# sysbench_ok NAME ARGS...: sysbench runs natively and under libgmp,
# exits 0 and reports its totals; the numbers themselves are not compared.
sysbench_ok()
{
	local name=$1 v events
	shift
	run native "$name" /dev/null sysbench "$@" >/dev/null
	local tp
	tp=$(run preload "$name" /dev/null sysbench "$@")
	times+="$name: libgmp ${tp}s; "
	for v in native preload; do
		[ "$(cat "$tmp/$name.$v.rc")" = 0 ] ||
			fail "$(describe $v "$name" text)" || return 1
		grep -q 'total time:' "$tmp/$name.$v" ||
			fail "$v run printed no 'total time:'" || return 1
		events=$(awk '/total number of events:/ { print $NF }' \
			"$tmp/$name.$v")
		[ "${events:-0}" -gt 0 ] 2>/dev/null ||
			fail "$v run reported ${events:-no} events" || return 1
	done
}

# ---- tests -----------------------------------------------------------------

t_pigz()
{
	gen_input
	roundtrip pigz -p 4 -c -- -d -p 4 -c
}

t_zstd()
{
	gen_input
	# 1 MiB jobs, so the 4 threads get work; the output does not depend
	# on the thread count.
	roundtrip zstd -q -T4 -B1MiB -c -- -q -d -T4 -c
}

t_xz()
{
	gen_input
	# 6 MB in 1 MiB blocks: 4 threads busy, a few seconds at -3.
	head -c 6000000 "$input" >"$tmp/input6.txt"
	ROUNDTRIP_INPUT=$tmp/input6.txt \
		roundtrip xz -T4 -3 --block-size=1MiB -c -- -d -T4 -c
}

t_sort()
{
	gen_input
	mkdir -p "$tmp/sort-tmp"
	# 22 MB through a 10 MB buffer: parallel sorts, temporary files and
	# a merge.
	both sort "$input" sort --parallel=4 -S 10M -T "$tmp/sort-tmp" ||
		return 1
	sort -c "$tmp/sort.preload" 2>/dev/null ||
		fail "sort: output under libgmp is not sorted"
}

t_sysbench_threads()
{
	sysbench_ok sysbench-threads threads --threads=8 --time=2 run
}

t_sysbench_mutex()
{
	sysbench_ok sysbench-mutex mutex --threads=8 run
}

t_gmp_run()
{
	local out rc
	out=$("$build/gmp-run" -p 3 -- sh -c 'echo "$GMP_MAXPROCS $LD_PRELOAD"')
	[ "$out" = "3 $lib" ] || fail "gmp-run -p 3: environment was '$out'"
	"$build/gmp-run" -- sh -c 'exit 7'; rc=$?
	[ $rc = 7 ] || fail "gmp-run: program status 7 came back as $rc"
	"$build/gmp-run" -- "$tmp/no-such-program" 2>/dev/null; rc=$?
	[ $rc = 127 ] || fail "gmp-run: missing program gave $rc, not 127"
	: >"$tmp/not-executable"
	"$build/gmp-run" -- "$tmp/not-executable" 2>/dev/null; rc=$?
	[ $rc = 126 ] || fail "gmp-run: non-executable gave $rc, not 126"
	out=$("$build/gmp-run" -p 0 -- true 2>&1); rc=$?
	[ $rc = 125 ] && [ -n "$out" ] ||
		fail "gmp-run -p 0: status $rc, message '$out'"
	[ -z "$why" ]
}

# A tiny program with exactly 5 threads, built here.
threads5()
{
	[ -x "$tmp/threads5" ] && return 0
	cat >"$tmp/threads5.c" <<'PROG'
#include <pthread.h>
static void *f(void *a) { return a; }
int main(void)
{
	pthread_t t[5];
	for (int i = 0; i < 5; i++)
		if (pthread_create(&t[i], 0, f, 0))
			return 1;
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], 0);
	return 0;
}
PROG
	${CC:-cc} -O2 -pthread -o "$tmp/threads5" "$tmp/threads5.c" ||
		fail "cannot build the test program"
}

t_bad_value()
{
	local err
	threads5 || return 1
	err=$(GMP_MAXPROCS=abc LD_PRELOAD=$lib "$tmp/threads5" 2>&1) ||
		fail "the program failed under GMP_MAXPROCS=abc"
	[ "$(grep -c 'GMP_MAXPROCS=abc' <<<"$err")" = 1 ] ||
		fail "expected one line about GMP_MAXPROCS=abc, got: $err"
	[ -z "$why" ]
}

t_stats()
{
	local err
	threads5 || return 1
	err=$(GMP_STATS=1 LD_PRELOAD=$lib "$tmp/threads5" 2>&1) ||
		fail "the program failed under GMP_STATS=1"
	grep -Eq '^  Gs created +6$' <<<"$err" ||
		fail "expected 'Gs created 6' (main + 5), got: $err"
	grep -Eq '^  procs \(P\) +[0-9]+$' <<<"$err" ||
		fail "no procs line in: $err"
	[ -z "$why" ]
}

# name -> "program function"
declare -A impl=(
	[pigz_output_and_roundtrip_match_native]="pigz t_pigz"
	[zstd_output_and_roundtrip_match_native]="zstd t_zstd"
	[xz_output_and_roundtrip_match_native]="xz t_xz"
	[sort_parallel_output_matches_native]="sort t_sort"
	[sysbench_threads_completes_under_libgmp]="sysbench t_sysbench_threads"
	[sysbench_mutex_completes_under_libgmp]="sysbench t_sysbench_mutex"
	[gmp_run_sets_the_environment_and_passes_the_status]="sh t_gmp_run"
	[bad_gmp_value_is_reported_once_and_the_default_used]="cc t_bad_value"
	[stats_count_the_threads_a_program_made]="cc t_stats"
)

num=0 passed=0 failed=0 skipped=0
for name in "${tests[@]}"; do
	num=$((num + 1))
	read -r prog fn <<<"${impl[$name]}"
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "ok $num - $name # SKIP $prog is not installed"
		skipped=$((skipped + 1))
		continue
	fi
	why='' times=
	if $fn; then
		echo "ok $num - $name"
		passed=$((passed + 1))
	else
		echo "not ok $num - $name"
		printf '%s' "$why" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
	[ -n "$times" ] && echo "#   ${times%; }"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
