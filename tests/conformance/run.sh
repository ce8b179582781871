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
# scratch directory with stdin from /dev/null; CONF_PARALLEL tests (default
# 4: most of them sleep more than they compute) at a time, but those that
# change scheduling policy or CPU affinity run alone. A group's tests all end
# before the next group's start. The exit status is read as the suite's
# include/posixtest.h says: 0 PASS, 1 FAIL, 2 UNRESOLVED, 4 UNSUPPORTED,
# 5 UNTESTED; else TIMEOUT, SIG<NAME> (killed by a signal) or EXIT<n>.
#
# Then, alone: a test that did not pass natively with others running runs
# again natively (and preloaded if it passes then); one that passes natively
# and not preloaded runs again preloaded, unless it was killed by a signal
# or hung (timed out, needing much less natively). If that passes, the test
# counts as passed and is listed as "flaky". Otherwise it is a regression,
# unless known-failures.txt lists it ("IFACE/N-M reason" lines: documented
# gaps of libgmp): then it is reported as "known" and skipped. Tests that
# need more than the default timeout natively are in timeouts.txt.
#
# Prints a table of the tests whose preloaded result differs from native,
# the flaky ones, those not built and the known failures that pass (every
# test with CONF_VERBOSE=1); the time of each group (wall clock, and the sums
# of the native and the preloaded runs' wall clock and CPU time); a summary
# line and "N passed, N failed, N skipped": passed = passes natively and
# preloaded, failed = regressions, skipped = the rest (not built, not
# passing natively, known). Per-test results go to
# BUILD_DIR/conformance/results.tsv, each run's output (its first 64 KiB) to
# BUILD_DIR/conformance/IFACE/N-M.{native,preload}.out. Exits 1 iff there
# are regressions, 2 on a usage or setup error.
#
# Environment: LIBGMP (default BUILD_DIR/libgmp.so), CONF_SUITE, CONF_GROUPS,
# CONF_TIMEOUT (seconds per run, default 20), CONF_PARALLEL (default 4),
# CONF_JOBS (parallel builds, default 2), CONF_VERBOSE=1, CC.
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
build_jobs=${CONF_JOBS:-2}
par_jobs=${CONF_PARALLEL:-4}
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
		w=${want_group[$g]:-}${want_iface[$i]:-}${want_test[$t]:-}
		[ -n "$w" ] || continue
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
	-f "$here/build.mk" -k -j"$build_jobs" SUITE="$suite" OUT="$out" \
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

# Tests that need more than the default timeout natively.
declare -A tmo_long=()
if [ -f "$here/timeouts.txt" ]; then
	while read -r t sec _; do
		case $t in ''|'#'*) continue ;; esac
		tmo_long[$t]=$sec
	done <"$here/timeouts.txt"
fi

# tmo_of TEST: its timeout in seconds.
tmo_of()
{
	local s=${tmo_long[$1]:-0}
	echo $((s > tmo ? s : tmo))
}

declare -A known=()
if [ -f "$known_file" ]; then
	while read -r t why; do
		case $t in ''|'#'*) continue ;; esac
		known[$t]=${why:-documented gap of libgmp}
	done <"$known_file"
fi

# ---- running ---------------------------------------------------------------

# Most tests sleep more than they compute, so $par_jobs of them run at a
# time; the ones that change scheduling policy or CPU affinity (a SCHED_FIFO
# thread spinning on one CPU) run alone, first, as do all the re-runs below.
declare -A alone=()
while read -r f; do
	alone[${f%.c}]=1
done < <(cd "$ifdir" &&
	grep -lE 'SCHED_FIFO|SCHED_RR|affinity|threads_scenarii' \
	"${tests[@]/%/.c}" 2>/dev/null)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gmp-conf.XXXXXX") || exit 2
# Each run in progress has a directory in $scratch with its cwd and, in the
# file pid, its process group.
cleanup()
{
	local f
	# The tests running in the background first, so none starts another
	# run, then the runs; quietly (bash would report each as "Killed").
	exec 2>/dev/null
	kill -KILL $(jobs -p)
	for f in "$scratch"/*/pid; do
		[ -f "$f" ] && kill -KILL -- "-$(cat "$f")"
	done
	wait
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM

# child_cpu DIR: sets cpu to the user + system milliseconds of this shell's
# children so far (the runs it waited for, and what they waited for).
cpu=0
child_cpu()
{
	local u s ms=0 f
	times >"$1/times"
	{ read -r u; read -r u s; } <"$1/times"
	for f in "$u" "$s"; do		# "1m2.345s"
		f=${f%s}
		ms=$((ms + ${f%%m*} * 60000))
		f=${f#*m}
		ms=$((ms + ${f%.*} * 1000 + 10#${f#*.}))
	done
	cpu=$ms
}

# status RC MS TIMEOUT: sets res to the result for an exit status.
status()
{
	case $1 in
	0) res=PASS ;;
	1) res=FAIL ;;
	2) res=UNRESOLVED ;;
	4) res=UNSUPPORTED ;;
	5) res=UNTESTED ;;
	124) res=TIMEOUT ;;
	*)	if [ "$1" -eq 137 ] && [ "$2" -ge $(($3 * 1000)) ]; then
			res=TIMEOUT	# did not go on SIGTERM
		elif [ "$1" -gt 128 ]; then
			res=SIG$(kill -l $(($1 - 128)) 2>/dev/null ||
				echo $(($1 - 128)))
		else
			res=EXIT$1
		fi ;;
	esac
}

# run VARIANT TEST DIR: run TEST natively or preloaded with DIR/cwd as its
# cwd; sets res, ms (wall clock) and cpu (its CPU time, milliseconds). Its
# output goes to $out/TEST.VARIANT.out. timeout puts itself and the test in
# a process group of their own; what is left of it after the run (a child
# the test forked and left behind) is killed.
res= ms=0
run()
{
	local variant=$1 t=$2 dir=$3 rc t0 c0 pid pre=()
	[ "$variant" = preload ] && pre=(env "LD_PRELOAD=$lib")
	rm -rf "$dir" && mkdir -p "$dir/cwd" || exit 2
	child_cpu "$dir"
	c0=$cpu
	t0=${EPOCHREALTIME/./}
	# env after timeout: only the test is preloaded, not timeout itself.
	(cd "$dir/cwd" && exec timeout -k 5 "$(tmo_of "$t")" "${pre[@]}" \
		"$out/$t") \
		</dev/null >"$out/$t.$variant.out" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	wait "$pid" 2>/dev/null		# no "Segmentation fault" from bash
	rc=$?
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	kill -KILL -- "-$pid" 2>/dev/null
	rm -f "$dir/pid"
	child_cpu "$dir"
	cpu=$((cpu - c0))
	status "$rc" "$ms" "$(tmo_of "$t")"
	# A chatty test keeps its first 64 KiB.
	if [ "$(stat -c %s "$out/$t.$variant.out")" -gt 65536 ]; then
		truncate -s 65536 "$out/$t.$variant.out"
	fi
}

# both TEST DIR: run TEST natively, then preloaded; the results go to
# $out/TEST.res: "NATIVE MS CPU PRELOAD MS CPU".
both()
{
	local t=$1 dir=$2 n
	run native "$t" "$dir"
	n="$res $ms $cpu"
	run preload "$t" "$dir"
	echo "$n $res $ms $cpu" >"$out/$t.res"
}

# shm_clean BEFORE: remove the /dev/shm objects (named semaphores) that are
# not in the list BEFORE: what runs killed by the timeout left.
shm_clean()
{
	local f
	comm -13 <(echo "$1") <(ls -A /dev/shm 2>/dev/null) |
		while read -r f; do
			[ -n "$f" ] && rm -f "/dev/shm/$f"
		done
}

declare -A gwall=() gms_n=() gms_p=() gcpu_n=() gcpu_p=() gcount=()
declare -A note=()
for g in "${all_groups[@]}"; do
	gt=()
	for t in "${tests[@]}"; do
		[ "${group[$t]}" = "$g" ] && gt+=("$t")
	done
	[ ${#gt[@]} -gt 0 ] || continue
	gcount[$g]=${#gt[@]}
	echo "# running $g: ${#gt[@]} tests"
	t0=${EPOCHREALTIME/./}
	shm0=$(ls -A /dev/shm 2>/dev/null)
	par=()
	for t in "${gt[@]}"; do
		rm -f "$out/$t.res"
		[ "$(cat "$out/$t.status" 2>/dev/null)" = ok ] || continue
		if [ -n "${alone[$t]:-}" ]; then
			both "$t" "$scratch/alone"
			shm_clean "$shm0"
		else
			par+=("$t")
		fi
	done
	n=0 k=0
	for t in "${par[@]}"; do
		if [ "$n" -ge "$par_jobs" ]; then
			wait -n
			n=$((n - 1))
		fi
		k=$((k + 1))
		both "$t" "$scratch/$k" &
		n=$((n + 1))
	done
	wait
	shm_clean "$shm0"

	# Re-runs, alone. A test that did not pass natively with others
	# running (but not as unsupported or untested) runs again natively,
	# and if it passes then, preloaded: the others may have slowed it.
	# One that passes natively and not preloaded runs again preloaded,
	# unless it was killed by a signal (a crash is not slowness) or timed
	# out when it needs much less than the timeout natively (a hang).
	for t in "${par[@]}" "${!alone[@]}"; do
		[ "${group[$t]}" = "$g" ] && [ -f "$out/$t.res" ] || continue
		read -r rn msn cpun rp msp cpup <"$out/$t.res"
		case $rn in
		PASS) ;;
		UNSUPPORTED|UNTESTED) continue ;;
		*)	[ -n "${alone[$t]:-}" ] && continue
			note[$t]="native run with others: $rn"
			run native "$t" "$scratch/alone"
			rn=$res msn=$((msn + ms)) cpun=$((cpun + cpu))
			if [ "$rn" = PASS ]; then
				run preload "$t" "$scratch/alone"
				rp=$res msp=$ms cpup=$cpu
			fi
			shm_clean "$shm0"
			echo "$rn $msn $cpun $rp $msp $cpup" >"$out/$t.res"
			continue ;;
		esac
		[ "$rp" != PASS ] && [ -z "${known[$t]:-}" ] || continue
		case $rp in SIG*) continue ;; esac
		slow=$(($(tmo_of "$t") * 250))
		[ "$rp" = TIMEOUT ] && [ "$msn" -lt "$slow" ] && continue
		first=$rp
		run preload "$t" "$scratch/alone"
		shm_clean "$shm0"
		[ "$res" = PASS ] && note[$t]="first preloaded run: $first"
		echo "$rn $msn $cpun $res $((msp + ms)) $((cpup + cpu))" \
			>"$out/$t.res"
	done
	gwall[$g]=$(((${EPOCHREALTIME/./} - t0) / 1000))
done

# ---- verdicts --------------------------------------------------------------

rows=()		# table rows: test native preload verdict note
ntests=0 npass_n=0 npass_p=0 nreg=0 passed=0 skipped=0 nbuildfail=0
nknown=0 nflaky=0
tsv=$out/results.tsv
printf 'test\tgroup\tnative\tpreload\tverdict\tnative_ms\tpreload_ms' \
	>"$tsv.tmp"
printf '\tnative_cpu_ms\tpreload_cpu_ms\tnote\n' >>"$tsv.tmp"

for t in "${tests[@]}"; do
	g=${group[$t]}
	ntests=$((ntests + 1))
	nt=${note[$t]:-}
	msn=0 msp=0 cpun=0 cpup=0
	if [ "$(cat "$out/$t.status" 2>/dev/null)" != ok ]; then
		rn=build-fail rp=build-fail verdict=build-fail
		nbuildfail=$((nbuildfail + 1))
		nt=$(grep -m 1 'error' "$out/$t.log" 2>/dev/null |
			sed "s|$suite/||" | cut -c 1-200)
	elif ! read -r rn msn cpun rp msp cpup <"$out/$t.res"; then
		rn=lost rp=lost verdict=REGRESSION
		nreg=$((nreg + 1))
	elif [ "$rn" = PASS ] && [ "$rp" = PASS ]; then
		verdict=pass
		case $nt in
		"first preloaded run"*)
			verdict=flaky nflaky=$((nflaky + 1)) ;;
		esac
		[ -n "${known[$t]:-}" ] &&
			nt="${nt:+$nt; }passes, but is in known-failures.txt"
	elif [ "$rn" = PASS ]; then
		if [ -n "${known[$t]:-}" ]; then
			verdict=known nt=${known[$t]}
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
	[ "$rn" = PASS ] && npass_n=$((npass_n + 1))
	[ "$rp" = PASS ] && npass_p=$((npass_p + 1))
	case $verdict in
	pass|flaky) passed=$((passed + 1)) ;;
	REGRESSION) ;;
	*) skipped=$((skipped + 1)) ;;
	esac
	gms_n[$g]=$((${gms_n[$g]:-0} + msn))
	gms_p[$g]=$((${gms_p[$g]:-0} + msp))
	gcpu_n[$g]=$((${gcpu_n[$g]:-0} + cpun))
	gcpu_p[$g]=$((${gcpu_p[$g]:-0} + cpup))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$g" "$rn" \
		"$rp" "$verdict" "$msn" "$msp" "$cpun" "$cpup" "$nt" \
		>>"$tsv.tmp"
	if [ "$verbose" = 1 ] || [ "$rn" != "$rp" ] || [ "$verdict" = flaky ] ||
		[ "$verdict" = build-fail ] || [ -n "${known[$t]:-}" ]; then
		rows+=("$t	$rn	$rp	$verdict	$nt")
	fi
done
mv -f "$tsv.tmp" "$tsv"


# ---- report ----------------------------------------------------------------

echo
printf '%-40s %-12s %-12s %s\n' test native preload verdict
for r in "${rows[@]}"; do
	IFS=$'\t' read -r t rn rp v nt <<<"$r"
	printf '%-40s %-12s %-12s %s%s\n' "$t" "$rn" "$rp" "$v" \
		"${nt:+  ($nt)}"
done
[ ${#rows[@]} -eq 0 ] && echo "(no test's preloaded result differs)"
echo
echo "# build: $build_secs s, $nbuildfail of $ntests did not compile" \
	"(logs in $out/IFACE/N-M.log)"
for g in "${all_groups[@]}"; do
	[ -n "${gcount[$g]:-}" ] || continue
	printf '# time: %s (%d tests): %.1f s; runs natively %.1f s (CPU' \
		"$g" "${gcount[$g]}" "${gwall[$g]}e-3" "${gms_n[$g]}e-3"
	printf ' %.1f s), preloaded %.1f s (CPU %.1f s)\n' \
		"${gcpu_n[$g]}e-3" "${gms_p[$g]}e-3" "${gcpu_p[$g]}e-3"
done
echo "# results: $tsv"
echo "conformance: $ntests tests, native pass $npass_n," \
	"preload pass $npass_p, regressions $nreg" \
	"(pass natively, not preloaded), known $nknown, flaky $nflaky," \
	"build-fail $nbuildfail"
echo "$passed passed, $nreg failed, $skipped skipped"
[ "$nreg" -eq 0 ]
