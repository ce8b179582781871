#!/bin/bash
# run.sh BUILD_DIR [reps]: run every benchmark in BUILD_DIR/tests/bench/
# reps times natively and reps times under LD_PRELOAD=$LIBGMP, interleaved
# (native, preload, native, preload, ...) so that machine noise hits both,
# and print a table of medians and ratios on stdout. Progress goes to stderr.
#
# Each program prints "RESULT <metric> <value> <unit>" lines (see bench.h).
# A run that exits non-zero, dies or times out counts as failed: its
# results are dropped and its cell shows FAIL (or the median of the runs
# that did succeed, marked *); the runner goes on regardless, and exits 1
# at the end if any run failed, 0 otherwise.
#
# Environment:
#   LIBGMP         library to preload (default BUILD_DIR/libgmp.so, absolute)
#   BENCH_ONLY     words naming the cases or programs to run
#                  ("create_join ring" runs create_join, create_join_batch,
#                  ring and ring_sem)
#   BENCH_TIMEOUT  seconds allowed per run (default 60)
#   BENCH_ARGS_<case>  arguments replacing a case's defaults, e.g.
#                  BENCH_ARGS_ring="sem 10k"
#   BENCH_OUT      directory to keep every run's output in (default: a
#                  temporary one, removed unless something failed)
#   GMP_*          passed through unchanged (they reach the native runs too,
#                  where nothing reads them)
set -u

usage() {
	echo "usage: $0 BUILD_DIR [reps]" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
[ -d "$1" ] || { echo "run.sh: $1: no such directory" >&2; exit 2; }
build=$(cd "$1" && pwd)
reps=${2:-5}
case $reps in '' | *[!0-9]* | 0) usage ;; esac
bin=$build/tests/bench
libgmp=${LIBGMP:-$build/libgmp.so}
tmo=${BENCH_TIMEOUT:-60}
only=${BENCH_ONLY:-}

# case name, program, default arguments
cases=(
	"create_join		create_join"
	"create_join_batch	create_join	batch"
	"mutex_pingpong		mutex_pingpong"
	"sem_pingpong		sem_pingpong"
	"ring			ring"
	"ring_sem		ring		sem"
	"many_blocked		many_blocked"
	"many_blocked_defstack	many_blocked	default"
	"rwlock_read_mostly	rwlock_read_mostly"
	"barrier_rounds		barrier_rounds"
	"barrier_rounds_16	barrier_rounds	16"
	"sleep_lateness		sleep_lateness"
	"blocking_read		blocking_read"
	"blocking_read_stdio	blocking_read	stdio"
	"blocking_read_inline	blocking_read	inline"
	"echo_100		echo_server	threads 100"
	"echo_1k			echo_server	threads 1k"
	"echo_10k		echo_server	threads 10k"
	"echo_epoll_10k		echo_server	epoll 10k"
	"fairness		fairness"
)

case $libgmp in /*) ;; *) libgmp=$PWD/$libgmp ;; esac
if [ ! -f "$libgmp" ]; then
	echo "run.sh: $libgmp: not found; preloaded runs count as failed" >&2
fi
preload=${LD_PRELOAD:+$LD_PRELOAD:}$libgmp

if [ -n "${BENCH_OUT:-}" ]; then
	out=$BENCH_OUT
	mkdir -p "$out" || exit 1
	keep=1
else
	out=$(mktemp -d "${TMPDIR:-/tmp}/gmpbench.XXXXXX") || exit 1
	keep=0
fi
results=$out/results
: >"$results"

selected() {	# case program
	[ -z "$only" ] && return 0
	local w
	for w in $only; do
		[ "$w" = "$1" ] || [ "$w" = "$2" ] && return 0
	done
	return 1
}

# Why a run failed, from its exit status and stderr.
why() {		# rc errfile
	local rc=$1
	if grep -q 'cannot be preloaded' "$2" 2>/dev/null; then
		echo "LD_PRELOAD failed"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "timeout after ${tmo}s"
	elif [ "$rc" -gt 128 ]; then
		local sig=$((rc - 128))
		echo "killed by SIG$(kill -l $sig 2>/dev/null || echo $sig)"
	elif [ "$rc" -eq 127 ] || [ "$rc" -eq 126 ]; then
		echo "cannot run (exit $rc)"
	else
		echo "exit $rc"
	fi
}

run_one() {	# case mode rep prog args...
	local name=$1 mode=$2 rep=$3 prog=$4 rc
	shift 4
	local log=$out/$name.$mode.$rep
	if [ "$mode" = preload ] && [ ! -f "$libgmp" ]; then
		printf 'F\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$rep" \
			"no library" "$libgmp" >>"$results"
		printf F >&2
		return
	fi
	# The group's 2>/dev/null silences bash's "Segmentation fault" note.
	{
		if [ "$mode" = native ]; then
			timeout -k 5 "$tmo" "$bin/$prog" "$@"
		else
			timeout -k 5 "$tmo" env LD_PRELOAD="$preload" \
				"$bin/$prog" "$@"
		fi >"$log.out" 2>"$log.err"
		rc=$?
	} 2>/dev/null
	if [ $rc -eq 0 ] && grep -q 'cannot be preloaded' "$log.err"; then
		rc=1
	fi
	if [ $rc -ne 0 ] || ! grep -q '^RESULT ' "$log.out"; then
		[ $rc -eq 0 ] && rc=1
		printf 'F\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$rep" \
			"$(why $rc "$log.err")" "$log.err" >>"$results"
		case $rc in 124 | 137) printf T >&2 ;; *) printf F >&2 ;; esac
		return
	fi
	awk -v c="$name" -v m="$mode" '$1 == "RESULT" && NF == 4 {
		printf "R\t%s\t%s\t%s\t%s\t%s\n", c, m, $2, $3, $4 }' \
		"$log.out" >>"$results"
	printf . >&2
}

echo "run.sh: $reps runs each, timeout ${tmo}s, logs in $out" >&2
for line in "${cases[@]}"; do
	read -r name prog args <<<"$line"
	selected "$name" "$prog" || continue
	var=BENCH_ARGS_$name
	[ -n "${!var+set}" ] && args=${!var}
	read -ra argv <<<"$args"
	printf 'C\t%s\t%s\n' "$name" "$prog $args" >>"$results"
	printf '  %-24s ' "$name" >&2
	for ((r = 1; r <= reps; r++)); do
		run_one "$name" native "$r" "$prog" "${argv[@]}"
		run_one "$name" preload "$r" "$prog" "${argv[@]}"
	done
	echo >&2
done

echo "# libgmp benchmarks, $(date '+%Y-%m-%d %H:%M'), Linux $(uname -r)," \
	"$(nproc) CPUs"
echo "# preload: $libgmp"
env | grep '^GMP_' | sed 's/^/# env: /'
echo "# $reps runs each, native and preloaded interleaved; medians, and the"
echo "# spread (max-min)/median in %. ratio > 1 means libgmp is better: it is"
echo "# native/preload for times and per-thread sizes (unit with a '/',"
echo "# lower is better), preload/native for counts (higher is better)."
echo "# FAIL: every run failed; *: some runs failed (listed below)."
awk -F '\t' '
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	lo = a[1] + 0; hi = a[n] + 0
	return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
# The median of the runs in one mode, formatted; also sets med and spr.
function cell(k, mode) {
	if (!((k, mode) in vals)) {
		spr = "-"
		return "FAIL"
	}
	med = median(vals[k, mode])
	spr = med != 0 ? sprintf("%.0f", 100 * (hi - lo) / med) : "-"
	return sprintf(unit[k] ~ /\// ? "%.1f" : "%.0f", med) \
		(nfail[cname, mode] ? "*" : "")
}
$1 == "C" { order[++nc] = $2; next }
$1 == "R" {
	k = $2 SUBSEP $4
	if (!(k in unit)) {
		unit[k] = $6
		metrics[$2] = metrics[$2] " " $4
	}
	vals[k, $3] = vals[k, $3] " " $5
	next
}
$1 == "F" {
	nfail[$2, $3]++
	note[++nn] = sprintf("%s %s run %s: %s (%s)", $2, $3, $4, $5, $6)
}
END {
	fmt = "%-22s %-30s %-11s %11s %4s %11s %4s %7s\n"
	printf fmt, "benchmark", "metric", "unit", "native", "+-%", \
		"preload", "+-%", "ratio"
	for (i = 1; i <= nc; i++) {
		cname = order[i]
		nm = split(metrics[cname], ms, " ")
		if (nm == 0) {
			printf fmt, cname, "-", "-", "FAIL", "-", "FAIL", "-", \
				"-"
			continue
		}
		for (j = 1; j <= nm; j++) {
			k = cname SUBSEP ms[j]
			nv = cell(k, "native"); ns = spr; n = med
			pv = cell(k, "preload"); ps = spr; p = med
			r = "-"
			if (nv != "FAIL" && pv != "FAIL") {
				if (unit[k] ~ /\//)
					r = p > 0 ? sprintf("%.2f", n / p) : "-"
				else
					r = n > 0 ? sprintf("%.2f", p / n) : "-"
			}
			printf fmt, cname, ms[j], unit[k], nv, ns, pv, ps, r
		}
	}
	if (nn) {
		print ""
		print "# failed runs:"
		for (i = 1; i <= nn; i++)
			print "#   " note[i]
	}
}' "$results"

if grep -q '^F' "$results"; then
	echo "run.sh: some runs failed; logs kept in $out" >&2
	exit 1
fi
[ $keep -eq 1 ] || rm -rf "$out"
exit 0
