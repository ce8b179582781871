#!/usr/bin/env bash
# tests/conformance/run.sh BUILD_DIR [GROUP|IFACE|IFACE/N-M...]: LTP's
# open_posix_testsuite interface tests, natively and under
# LD_PRELOAD=libgmp.so. A test that passes natively must pass preloaded.
#
# The suite is ../shared/conformance/open_posix_testsuite from the repository
# root (or $CONF_SUITE). Each conformance/interfaces/IFACE/N-M.c is built by
# build.mk, as the suite's VERSION says, into BUILD_DIR/conformance/IFACE/N-M
# (in parallel, kept while up to date); one that does not compile is
# "build-fail", not a failure. Groups (default all; also $CONF_GROUPS):
#
#   threads      pthread_* but pthread_kill, pthread_sigmask
#   sem          sem_*
#   sleep        nanosleep, clock_nanosleep
#   sched_yield  sched_yield
#   signals      sig*, kill, raise, pthread_kill, pthread_sigmask
#   fork         fork
#   timers       timer_*, clock_* but clock_nanosleep
#
# Each test runs natively, then preloaded, each under `timeout` in an empty
# scratch directory with stdin from /dev/null. Its exit status is read as
# the suite's include/posixtest.h says: 0 PASS, 1 FAIL, 2 UNRESOLVED,
# 4 UNSUPPORTED, 5 UNTESTED; else TIMEOUT, SIG<NAME> (killed by a signal) or
# EXIT<n>. A test that passes natively and not preloaded is run preloaded
# once more: if it passes then, it counts as passed and is listed as
# "flaky". Otherwise it is a regression, unless known-failures.txt (next to
# this script: "IFACE/N-M reason" lines) lists it as a documented gap of
# libgmp: that is reported as "known" and skipped.
#
# Prints a table of the tests whose preloaded result differs from native
# (every test with CONF_VERBOSE=1), the time of each group, a summary line
# and "N passed, N failed, N skipped": passed = passes natively and
# preloaded, failed = regressions, skipped = the rest (not built, not passing
# natively, known). Per-test results go to BUILD_DIR/conformance/results.tsv,
# each run's output to BUILD_DIR/conformance/IFACE/N-M.{native,preload}.out.
# Exits 1 iff there are regressions, 2 on a usage or setup error.
#
# Environment: LIBGMP (default BUILD_DIR/libgmp.so), CONF_SUITE, CONF_GROUPS,
# CONF_TIMEOUT (seconds per run, default 20), CONF_JOBS (parallel builds,
# default 2), CONF_VERBOSE=1, CC.
set -u

usage()
{
	echo "usage: $0 BUILD_DIR [GROUP|IFACE|IFACE/N-M...]" >&2
	echo "groups: threads sem sleep sched_yield signals fork timers" >&2
	exit 2
}

[ $# -ge 1 ] || usage
[ -d "$1" ] || { echo "$0: no directory $1" >&2; exit 2; }
build=$(cd "$1" && pwd)
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
suite=${CONF_SUITE:-$root/../shared/conformance/open_posix_testsuite}
ifdir=$suite/conformance/interfaces
if [ ! -d "$ifdir" ]; then
	echo "$0: no open_posix_testsuite at $suite (set CONF_SUITE)" >&2
	exit 2
fi
suite=$(cd "$suite" && pwd)
ifdir=$suite/conformance/interfaces

lib=${LIBGMP:-$build/libgmp.so}
case $lib in
/*) ;;
*) lib=$PWD/$lib ;;
esac
tmo=${CONF_TIMEOUT:-20}
jobs=${CONF_JOBS:-2}
verbose=${CONF_VERBOSE:-0}
known_file=$here/known-failures.txt
out=$build/conformance

# Same locale for both runs, and no libgmp settings or chatter.
export LC_ALL=C
unset LD_PRELOAD GMP_MAXPROCS GMP_STATS GMP_DEBUG GMP_TRACE

all_groups=(threads sem sleep sched_yield signals fork timers)

# group_of IFACE: sets grp to its group, or to nothing for a directory that
# is no test's.
grp=
group_of()
{
	case $1 in
	pthread_kill|pthread_sigmask) grp=signals ;;
	pthread_*) grp=threads ;;
	sem_*) grp=sem ;;
	nanosleep|clock_nanosleep) grp=sleep ;;
	sched_yield) grp=sched_yield ;;
	sig*|kill|raise) grp=signals ;;
	fork) grp=fork ;;
	timer_*|clock_*) grp=timers ;;
	*) grp= ;;
	esac
}

# ---- selection -------------------------------------------------------------

sel=("$@")
if [ ${#sel[@]} -eq 0 ] && [ -n "${CONF_GROUPS:-}" ]; then
	read -r -a sel <<<"${CONF_GROUPS//,/ }"
fi
[ ${#sel[@]} -eq 0 ] && sel=(all)

declare -A want_group=() want_iface=() want_test=()
for s in "${sel[@]}"; do
	case $s in
	all) for g in "${all_groups[@]}"; do want_group[$g]=1; done ;;
	threads|sem|sleep|sched_yield|signals|fork|timers) want_group[$s]=1 ;;
	*/*)	[ -f "$ifdir/$s.c" ] || { echo "$0: no test $s" >&2; usage; }
		want_test[$s]=1 ;;
	*)	group_of "$s"
		[ -n "$grp" ] && [ -d "$ifdir/$s" ] ||
			{ echo "$0: no group or interface $s" >&2; usage; }
		want_iface[$s]=1 ;;
	esac
done

# tests: "iface/N-M", grouped as in all_groups, naturally sorted in a group.
declare -A group=()
tests=()
list=$(cd "$ifdir" && for f in */[0-9]*-[0-9]*.c; do
	case $f in */[0-9]*-[0-9]*-*) continue ;; esac	# 4-1-buildonly.c
	echo "${f%.c}"
done | sort -V)
for g in "${all_groups[@]}"; do
	while read -r t; do
		i=${t%%/*}
		group_of "$i"
		[ "$grp" = "$g" ] || continue
		[ -n "${want_group[$g]:-}${want_iface[$i]:-}${want_test[$t]:-}" ] ||
			continue
		tests+=("$t")
		group[$t]=$g
	done <<<"$list"
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "$0: no tests selected" >&2
	exit 2
fi

# ---- build -----------------------------------------------------------------

mkdir -p "$out" || exit 2
printf '%s\n' "${tests[@]}" >"$out/tests.list"
echo "# conformance: building ${#tests[@]} tests from $suite into $out"
t0=$EPOCHREALTIME
# Not the calling make's jobserver or flags: this is a make of its own.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory \
	-f "$here/build.mk" -k -j"$jobs" SUITE="$suite" OUT="$out" \
	LIST="$out/tests.list" CC="${CC:-cc}"; then
	echo "$0: building the tests failed" >&2
	exit 2
fi
build_secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
	'BEGIN { printf "%.1f", b - a }')

# ---- checks ----------------------------------------------------------------

if [ ! -f "$lib" ]; then
	echo "$0: no library at $lib" >&2
	exit 2
fi
# ld.so only warns when a preload fails and runs the program anyway, which
# would make every preloaded run a native one: check that it loads.
if ! err=$(timeout -k 5 20 env "LD_PRELOAD=$lib" /bin/true 2>&1) ||
	[ -n "$err" ]; then
	echo "$0: $lib does not preload cleanly:" \
		"$(head -n 3 <<<"$err" | tr '\n' ' ')" >&2
	exit 2
fi

declare -A known=()
if [ -f "$known_file" ]; then
	while read -r t why; do
		case $t in ''|'#'*) continue ;; esac
		known[$t]=${why:-documented gap of libgmp}
	done <"$known_file"
fi

# ---- running ---------------------------------------------------------------

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gmp-conf.XXXXXX") || exit 2
running=	# the process group of the run in progress
cleanup()
{
	[ -n "$running" ] && kill -KILL -- "-$running" 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM

# status RC SECS: the result for an exit status.
status()
{
	case $1 in
	0) echo PASS ;;
	1) echo FAIL ;;
	2) echo UNRESOLVED ;;
	4) echo UNSUPPORTED ;;
	5) echo UNTESTED ;;
	124) echo TIMEOUT ;;
	*)	if [ "$1" -eq 137 ] && awk -v s="$2" -v t="$tmo" \
			'BEGIN { exit !(s >= t) }'; then
			echo TIMEOUT	# did not go on SIGTERM
		elif [ "$1" -gt 128 ]; then
			echo "SIG$(kill -l $(($1 - 128)) 2>/dev/null ||
				echo $(($1 - 128)))"
		else
			echo "EXIT$1"
		fi ;;
	esac
}

# run VARIANT TEST: run TEST natively or preloaded; sets res and secs. Its
# output goes to $out/TEST.VARIANT.out. timeout puts itself and the test in
# a process group of their own; what is left of it after the run (a child
# the test forked and left behind) is killed. Named semaphores and other
# /dev/shm objects the run created and left are removed.
res= secs=
run()
{
	local variant=$1 t=$2 rc t0 pre=() shm0
	[ "$variant" = preload ] && pre=(env "LD_PRELOAD=$lib")
	rm -rf "$scratch" && mkdir "$scratch" || exit 2
	shm0=$(ls -A /dev/shm 2>/dev/null)
	t0=$EPOCHREALTIME
	# env after timeout: only the test is preloaded, not timeout itself.
	(cd "$scratch" && exec timeout -k 5 "$tmo" "${pre[@]}" "$out/$t") \
		</dev/null >"$out/$t.$variant.out" 2>&1 &
	running=$!
	wait "$running"
	rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.2f", b - a }')
	kill -KILL -- "-$running" 2>/dev/null
	running=
	res=$(status "$rc" "$secs")
	comm -13 <(echo "$shm0") <(ls -A /dev/shm 2>/dev/null) |
		while read -r f; do
			[ -n "$f" ] && rm -f "/dev/shm/$f"
		done
	# A chatty test keeps its first 64 KiB.
	if [ "$(stat -c %s "$out/$t.$variant.out")" -gt 65536 ]; then
		truncate -s 65536 "$out/$t.$variant.out"
	fi
}

declare -A gtime_n=() gtime_p=() gcount=()
rows=()		# table rows: test native preload verdict
ntests=0 npass_n=0 npass_p=0 nreg=0 passed=0 skipped=0 nbuildfail=0
nknown=0 nflaky=0
tsv=$out/results.tsv
printf 'test\tgroup\tnative\tpreload\tverdict\tnative_s\tpreload_s\tnote\n' \
	>"$tsv.tmp"

for t in "${tests[@]}"; do
	g=${group[$t]}
	ntests=$((ntests + 1))
	gcount[$g]=$((${gcount[$g]:-0} + 1))
	note=
	if [ "$(cat "$out/$t.status" 2>/dev/null)" != ok ]; then
		rn=build-fail rp=build-fail sn=0 sp=0 verdict=build-fail
		nbuildfail=$((nbuildfail + 1))
		note=$(grep -m 1 'error' "$out/$t.log" 2>/dev/null |
			sed "s|$suite/||" | cut -c 1-200)
	else
		run native "$t"
		rn=$res sn=$secs
		run preload "$t"
		rp=$res sp=$secs
		if [ "$rn" = PASS ] && [ "$rp" != PASS ]; then
			first=$rp
			run preload "$t"
			rp=$res
			sp=$(awk -v a="$sp" -v b="$secs" \
				'BEGIN { printf "%.2f", a + b }')
			[ "$rp" = PASS ] && note="first preloaded run: $first"
		fi
		if [ "$rn" = PASS ] && [ "$rp" = PASS ]; then
			verdict=pass
			[ -n "$note" ] && { verdict=flaky; nflaky=$((nflaky + 1)); }
			[ -n "${known[$t]:-}" ] &&
				note="${note:+$note; }listed in known-failures.txt"
		elif [ "$rn" = PASS ]; then
			if [ -n "${known[$t]:-}" ]; then
				verdict=known note=${known[$t]}
				nknown=$((nknown + 1))
			else
				verdict=REGRESSION
				nreg=$((nreg + 1))
			fi
		elif [ "$rp" = PASS ]; then
			verdict=better
		elif [ "$rp" = "$rn" ]; then
			verdict=same
		else
			verdict=differs
		fi
	fi
	[ "$rn" = PASS ] && npass_n=$((npass_n + 1))
	[ "$rp" = PASS ] && npass_p=$((npass_p + 1))
	case $verdict in
	pass|flaky) passed=$((passed + 1)) ;;
	REGRESSION) ;;
	*) skipped=$((skipped + 1)) ;;
	esac
	gtime_n[$g]=$(awk -v a="${gtime_n[$g]:-0}" -v b="$sn" \
		'BEGIN { printf "%.2f", a + b }')
	gtime_p[$g]=$(awk -v a="${gtime_p[$g]:-0}" -v b="$sp" \
		'BEGIN { printf "%.2f", a + b }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$g" "$rn" "$rp" \
		"$verdict" "$sn" "$sp" "$note" >>"$tsv.tmp"
	if [ "$verbose" = 1 ] || { [ "$rn" != "$rp" ] &&
		[ "$verdict" != build-fail ]; } || [ "$verdict" = flaky ]; then
		rows+=("$t	$rn	$rp	$verdict	$note")
	fi
	if [ "$verdict" = REGRESSION ]; then
		echo "# regression: $t: native $rn, preloaded $rp"
	fi
done
mv -f "$tsv.tmp" "$tsv"

# ---- report ----------------------------------------------------------------

echo
printf '%-40s %-12s %-12s %s\n' test native preload verdict
for r in "${rows[@]}"; do
	IFS=$'\t' read -r t rn rp v note <<<"$r"
	printf '%-40s %-12s %-12s %s%s\n' "$t" "$rn" "$rp" "$v" \
		"${note:+  ($note)}"
done
[ ${#rows[@]} -eq 0 ] && echo "(no test's preloaded result differs)"
echo
echo "# build: $build_secs s, $nbuildfail of $ntests did not compile" \
	"(logs in $out/IFACE/N-M.log)"
for g in "${all_groups[@]}"; do
	[ -n "${gcount[$g]:-}" ] || continue
	echo "# time: $g (${gcount[$g]} tests): native ${gtime_n[$g]} s," \
		"preload ${gtime_p[$g]} s"
done
echo "# results: $tsv"
echo "conformance: $ntests tests, native pass $npass_n," \
	"preload pass $npass_p, regressions $nreg" \
	"(pass natively, not preloaded), known $nknown, flaky $nflaky," \
	"build-fail $nbuildfail"
echo "$passed passed, $nreg failed, $skipped skipped"
[ "$nreg" -eq 0 ]
