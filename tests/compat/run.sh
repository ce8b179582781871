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
#   the user surface gmp-run's environment and exit statuses; every option
#                    sets its GMP_* variable (the debug options one
#                    GMP_DEBUG) and a bad value exits 125; gmp-run --check:
#                    its report, verdict and status for a threaded program,
#                    #! scripts (through their interpreter), and what cannot
#                    work: static, setuid, not ELF, another machine, Go (a
#                    faked .go.buildinfo; a real one when go is installed),
#                    a missing library, symbol or interpreter; a bad GMP_*
#                    value reported once, GMP_STATS counting the threads of
#                    a 5-thread program
#   redis-server     2 I/O threads, under redis-benchmark (100 clients,
#                    20,000 each of set/get/incr/lpush/lpop): each test
#                    reports, its counter and list end exact; 10 redis-cli
#                    and 50 benchmark clients INCR keys to exact totals, the
#                    replies 1..10000 once each; a 1 MiB value comes back
#                    byte for byte; SHUTDOWN NOSAVE exits 0
#   memcached        4 threads, under memcslap (50 clients, 250,000 sets),
#                    then a Python client: 20 threads x 200 distinct values
#                    set and read back (and again 100 keys a get), 20
#                    connections x 500 incr answer 1..10000 once each, the
#                    stats count exactly that; SIGTERM exits as natively
#   python3.11       http.server (ThreadingHTTPServer) serving a 200 KB file
#                    to 400 curl fetches 16 at a time: all 200 and complete,
#                    one byte-exact, 401 requests logged; SIGTERM exits as
#                    natively
#
# Every run is its own process under `timeout`; stdout, stderr and the exit
# status of the two runs are compared byte for byte. A server runs natively,
# then under libgmp, on a free 127.0.0.1 port; only the server is preloaded,
# never its clients, and each run must shut down cleanly and log nothing the
# native one did not (numbers masked). A program that is not installed is a
# skip (tools/deps.sh test installs them). Prints TAP and ends with
# "N passed, N failed, N skipped"; exits 1 if anything failed.
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

# Same locale for both runs, and no libgmp chatter on stderr. Nothing is
# preloaded unless a run asks for it (the servers' clients never are).
export LC_ALL=C
unset GMP_STATS GMP_DEBUG GMP_TRACE LD_PRELOAD

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
	gmp_run_options_set_every_gmp_variable
	gmp_run_check_passes_a_threaded_program
	gmp_run_check_follows_a_script_to_its_interpreter
	gmp_run_check_refuses_what_cannot_work
	gmp_run_check_refuses_a_go_binary
	bad_gmp_value_is_reported_once_and_the_default_used
	stats_count_the_threads_a_program_made
	redis_server_serves_redis_benchmark_preloaded
	memcached_serves_clients_preloaded
	python_threading_http_server_preloaded)

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

# ---- servers ---------------------------------------------------------------
#
# A server test runs the server natively, then under libgmp: serve starts it,
# clients (plain programs, never preloaded) load and check it, unserve stops
# it. The server's stdout and stderr go to $tmp/NAME.VARIANT.err and its
# status to .rc, so describe explains a failed one.

py=/usr/bin/python3.11	# the system's, not a version manager's shim
port=	# the running server's port
srv=	# the pid of the timeout running it, which leads its process group
spid=	# the server's own pid, to signal: timeout would forward a signal,
	# but then KILL after 5 s

# free_port: a port in 20000-32767, below Linux's ephemeral range (so no
# client socket holds it), that nothing on 127.0.0.1 listens on.
free_port()
{
	local p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + RANDOM % 12768))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# serve VARIANT NAME READY CMD...: start server CMD natively or under
# libgmp, @PORT@ in its arguments replaced by a free port, and wait up to
# 15 s for the command READY (which reads $port) to succeed. A port someone
# took in between is retried with another.
serve()
{
	local variant=$1 name=$2 ready=$3 i
	shift 3
	local pre=()
	[ "$variant" = preload ] && pre=(env "LD_PRELOAD=$lib")
	for _ in 1 2 3; do
		port=$(free_port) || fail "no free port on 127.0.0.1" ||
			return 1
		rm -f "$tmp/$name.pid"
		(cd "$tmp" && exec timeout -k 5 "$tmo" \
			sh -c 'echo $$ >"$0" && exec "$@"' "$tmp/$name.pid" \
			"${pre[@]}" "${@//@PORT@/$port}") \
			</dev/null >"$tmp/$name.$variant.err" 2>&1 &
		srv=$!
		for i in $(seq 300); do
			if "$ready" >/dev/null 2>&1; then
				spid=$(cat "$tmp/$name.pid")
				return 0
			fi
			kill -0 "$srv" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$srv" 2>/dev/null; then
			kill -KILL -- "-$srv" 2>/dev/null
			wait "$srv" 2>/dev/null	# no "Killed" from bash
			fail "$variant $name: not answering 15 s after start"
			log_tail "$tmp/$name.$variant.err"
			return 1
		fi
		wait "$srv" 2>/dev/null
		echo $? >"$tmp/$name.$variant.rc"
		grep -qi 'address already in use' "$tmp/$name.$variant.err" ||
			break
	done
	fail "$(describe "$variant" "$name")"
}

# unserve VARIANT NAME STOP...: stop the server with the command STOP (which
# must not hang) and give it 20 s to exit; its status goes in
# $tmp/NAME.VARIANT.rc.
unserve()
{
	local variant=$1 name=$2 i rc
	shift 2
	"$@" >/dev/null 2>&1
	for i in $(seq 400); do
		kill -0 "$srv" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$srv" 2>/dev/null; then
		kill -KILL -- "-$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
		echo 137 >"$tmp/$name.$variant.rc"
		fail "$variant $name: still running 20 s after '$*'"
		log_tail "$tmp/$name.$variant.err"
		return 1
	fi
	wait "$srv" 2>/dev/null
	rc=$?
	echo $rc >"$tmp/$name.$variant.rc"
}

# log_tail FILE: add FILE's last lines to a failing test's reason.
log_tail()
{
	[ -s "$1" ] && why+="$(tail -n 5 "$1" | sed 's/^/  /')"$'\n'
	return 1
}

# lap NAME VARIANT T0: note how long a server's run took since T0.
lap()
{
	local took
	took=$(awk -v a="$3" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.2f", b - a }')
	case $2 in
	native)	times+="$1: native ${took}s" ;;
	*)	times+=", libgmp ${took}s; " ;;
	esac
}

# client NAME CMD...: run a client natively under timeout, in $tmp, its
# output in $tmp/NAME and $tmp/NAME.err; failing, say how.
client()
{
	local name=$1 rc log
	shift
	(cd "$tmp" && exec timeout -k 5 "$tmo" "$@") \
		</dev/null >"$tmp/$name" 2>"$tmp/$name.err"
	rc=$?
	[ $rc = 0 ] && return 0
	log=$tmp/$name.err
	[ -s "$log" ] || log=$tmp/$name
	case $rc in
	124|137) fail "$name: $1 timed out after $tmo s" ;;
	*)	fail "$name: $1 exited with status $rc" ;;
	esac
	log_tail "$log"
	return 1
}

# same_status NAME: both runs of server NAME exited with the same status.
same_status()
{
	local n p
	n=$(cat "$tmp/$1.native.rc") p=$(cat "$tmp/$1.preload.rc")
	[ "$n" = "$p" ] && return 0
	fail "$1 exited with status $p under libgmp, $n natively"
	log_tail "$tmp/$1.preload.err"
}

# new_log NAME: fail if server NAME logged, under libgmp, lines it did not
# log natively; timestamps, pids, ports and other numbers are masked.
new_log()
{
	local v extra
	for v in native preload; do
		sed -E 's/^[0-9]+:[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ //
			s/\[[^]]*\]/[]/g; s/[0-9]+/N/g' "$tmp/$1.$v.err" |
			sort -u >"$tmp/$1.$v.norm"
	done
	extra=$(comm -13 "$tmp/$1.native.norm" "$tmp/$1.preload.norm")
	[ -z "$extra" ] && return 0
	fail "$1 logged under libgmp what it did not natively:"
	why+="$(head -n 5 <<<"$extra" | sed 's/^/  /')"$'\n'
	return 1
}

# blob FILE BYTES: deterministic hex text, 16 bytes a line (LCG as above).
blob()
{
	awk -v n="$2" 'BEGIN {
		m = 4294967296; x = 7
		for (i = 0; i < n / 16; i++) {
			x = (x * 69069 + 1) % m
			printf "%08x%07d\n", x, i % 10000000
		}
	}' | head -c "$2" >"$1"
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

# gmp_env OPTION...: the GMP_* variables a program run by gmp-run with
# these options sees, '|'-separated.
gmp_env()
{
	"$build/gmp-run" "$@" -- sh -c 'echo "$GMP_STATS|$GMP_DEBUG|$GMP_DEADLOCK|$GMP_PREEMPT_SIGNAL|$GMP_STRICT|$GMP_TRACE|$GMP_STAT"' \
		2>/dev/null
}

# Every option sets its variable; the four debug options make one GMP_DEBUG.
t_gmp_run_options()
{
	local out rc opt want
	out=$(gmp_env --stats --deadlock=report --preempt-signal=USR1 \
		--strict=report --trace="$tmp/gmp.trace" --no-stat)
	want="1||report|USR1|report|$tmp/gmp.trace|0"
	[ "$out" = "$want" ] || fail "environment was '$out', not '$want'"
	out=$(gmp_env --stats=json --no-deadlock --strict --preempt-signal=0)
	[ "$out" = "json||0|0|1||" ] ||
		fail "--stats=json --no-deadlock --strict: '$out'"
	out=$(gmp_env --stats="$tmp/stats.%p" --deadlock=exit)
	[ "$out" = "$tmp/stats.%p||exit||||" ] ||
		fail "--stats=PATH --deadlock=exit: '$out'"
	out=$(gmp_env --debug --schedtrace=1000 --scheddetail --dump)
	[ "$out" = "|1,schedtrace=1000,scheddetail=1,dump|||||" ] ||
		fail "--debug --schedtrace=1000 --scheddetail --dump: '$out'"
	out=$(gmp_env --dump --debug=scheddetail=1 --schedtrace=5 --schedtrace=50)
	[ "$out" = "|dump,scheddetail=1,schedtrace=50|||||" ] ||
		fail "--dump --debug=scheddetail=1 --schedtrace=5" \
			"--schedtrace=50: '$out'"
	# A bad value: status 125, a message naming it, the program not run.
	for opt in --schedtrace=abc --schedtrace=0 --stats=yes --debug=verbose \
		--deadlock=maybe --preempt-signal=KILL --strict=2 \
		--stats="$tmp/no-such-dir/t" --trace="$tmp/no-such-dir/t" \
		--procs=0; do
		out=$("$build/gmp-run" "$opt" -- sh -c 'echo ran' 2>&1)
		rc=$?
		[ $rc = 125 ] && [ -n "$out" ] && [[ $out != *ran* ]] &&
			[[ $out == *"${opt#*=}"* ]] ||
			fail "gmp-run $opt: status $rc, output '$out'"
	done
	out=$("$build/gmp-run" --help)
	for opt in --procs --stats --debug --schedtrace --scheddetail --dump \
		--deadlock --no-deadlock --preempt-signal --strict --trace --no-stat \
		--check --help --version GMP_MAXPROCS GMP_STATS \
		GMP_DEBUG GMP_TRACE GMP_STAT GMP_DEADLOCK GMP_PREEMPT_SIGNAL GMP_STRICT \
		'verdict ok' 'verdict warnings' \
		'verdict unsupported' ' 125 '; do
		[[ $out == *"$opt"* ]] || fail "--help does not mention '$opt'"
	done
	[ -z "$why" ]
}

# gmp_check NAME PROG: gmp-run --check PROG, its report in $tmp/check-NAME
# and its status in crc.
crc=
gmp_check()
{
	"$build/gmp-run" --check -- "$2" >"$tmp/check-$1" 2>"$tmp/check-$1.err"
	crc=$?
}

# expect_check NAME STATUS VERDICT [REGEX]...: the report of gmp_check NAME
# ended in "verdict: VERDICT" (VERDICT a regex), gmp-run exited STATUS, and
# each REGEX matches a line.
expect_check()
{
	local name=$1 st=$2 verdict=$3 re last bad=
	shift 3
	last=$(tail -n 1 "$tmp/check-$name")
	[ "$crc" = "$st" ] || bad+="status $crc, not $st; "
	[[ $last =~ ^verdict:\ ($verdict)$ ]] ||
		bad+="last line '$last', not 'verdict: $verdict'; "
	for re in "$@"; do
		grep -Eq -- "$re" "$tmp/check-$name" ||
			bad+="no line matches '$re'; "
	done
	[ -z "$bad" ] && return 0
	fail "--check $name: ${bad%; }"
	why+="$(cut -c 1-150 "$tmp/check-$name" "$tmp/check-$name.err" |
		grep -v '^info: library' | head -n 12 | sed 's/^/  /')"$'\n'
	return 1
}

t_check_threaded()
{
	local mc=$build/tests/integration/mutex_counter_is_exact
	threads5 || return 1
	gmp_check threads5 "$tmp/threads5"
	expect_check threads5 0 ok '^info: program .*/threads5: 64-bit ELF for x86-64(, PIE)?$' \
		'^info: library libc\.so\.6 => /' \
		'^ok: G level: pthread_create, pthread_join \(2 functions\)$' \
		'^info: threads: pthread_create is imported$'
	grep -Eq '^(error|warning|syscall):' "$tmp/check-threads5" &&
		fail "--check threads5: $(grep -E '^(error|warning|syscall):' \
			"$tmp/check-threads5" | head -n 3)"
	# one of the integration tests, if it was built
	if [ -x "$mc" ]; then
		gmp_check mutex "$mc"
		expect_check mutex 0 ok \
			'^ok: G level: .*pthread_create.*pthread_mutex_lock.*pthread_mutex_unlock.* \([0-9]+ functions\)$'
	else
		times+="mutex_counter_is_exact not built: only threads5 checked; "
	fi
	# found on PATH, as gmp-run would run it; no -- before it
	"$build/gmp-run" --check sh >"$tmp/check-path" 2>&1 ||
		[ $? = 1 ] || fail "gmp-run --check sh: $(tail -n 3 "$tmp/check-path")"
	grep -Eq '^info: program /.*/sh: ' "$tmp/check-path" ||
		fail "gmp-run --check sh: no program line"
	# not found or not readable: gmp-run's own failure, 125
	gmp_check none "$tmp/no-such-program"
	[ $crc = 125 ] && [ -s "$tmp/check-none.err" ] ||
		fail "--check of a missing program: status $crc," \
			"'$(cat "$tmp/check-none.err")'"
	[ -z "$why" ]
}

# a report's verdict as a status
verdict_status()
{
	case $(tail -n 1 "$tmp/check-$1") in
	"verdict: ok") echo 0 ;;
	"verdict: warnings") echo 1 ;;
	*) echo 2 ;;
	esac
}

t_check_script()
{
	printf '#!/bin/sh\necho hello\n' >"$tmp/script.sh"
	printf '#! /usr/bin/env  sh\necho hello\n' >"$tmp/env-script"
	printf '#!%s/no-such-interpreter -x\necho hello\n' "$tmp" \
		>"$tmp/lost-script"
	chmod +x "$tmp/script.sh" "$tmp/env-script" "$tmp/lost-script"
	gmp_check script "$tmp/script.sh"
	expect_check script "$(verdict_status script)" '(ok|warnings)' \
		"^info: script: $tmp/script.sh runs /bin/sh \\(its #! line\\)$" \
		'^info: program /bin/sh: 64-bit ELF for x86-64' '^ok: G level: '
	gmp_check env-script "$tmp/env-script"
	expect_check env-script "$(verdict_status env-script)" '(ok|warnings)' \
		"^info: script: $tmp/env-script runs /usr/bin/env sh " \
		'^info: script: env runs /.*/sh$' '^ok: G level: '
	gmp_check lost-script "$tmp/lost-script"
	expect_check lost-script 2 unsupported \
		"^error: script interpreter $tmp/no-such-interpreter: "
	[ -z "$why" ]
}

t_check_unsupported()
{
	local cc=${CC:-cc} d=$tmp/unsup libc_a
	threads5 || return 1
	mkdir -p "$d"
	# static: LD_PRELOAD never applies
	libc_a=$($cc -print-file-name=libc.a)
	if [ -f "$libc_a" ]; then
		$cc -O2 -static -pthread -o "$d/static" "$tmp/threads5.c" ||
			fail "cannot build a static program" || return 1
		gmp_check static "$d/static"
		expect_check static 2 unsupported \
			'^error: static binary \(no PT_INTERP\): .*LD_PRELOAD has no effect'
	else
		times+="static case skipped: no libc.a; "
	fi
	# setuid: ignored by the loader unless the owner runs it
	cp "$tmp/threads5" "$d/setuid"
	chmod u+s "$d/setuid"
	gmp_check setuid-mine "$d/setuid"
	if grep -q '^info: setuid, setgid and capabilities ignored' \
		"$tmp/check-setuid-mine"; then
		times+="setuid cases skipped: $d is on a nosuid mount; "
	else
		expect_check setuid-mine 1 warnings \
			"^warning: setuid: owned by uid $(id -u), which you are"
		if [ "$(id -u)" = 0 ] && id -u nobody >/dev/null 2>&1; then
			chown nobody "$d/setuid" && chmod u+s "$d/setuid"
			gmp_check setuid "$d/setuid"
			expect_check setuid 2 unsupported \
				"^error: setuid: owned by uid $(id -u nobody), run by uid 0: .*ignores LD_PRELOAD"
		else
			times+="setuid case of another owner skipped: not root; "
		fi
	fi
	# not ELF, not a script
	printf '\0\1\2\3 neither ELF nor a script\n' >"$d/data"
	chmod +x "$d/data"
	gmp_check data "$d/data"
	expect_check data 2 unsupported "^error: $d/data: not an ELF file or a script"
	# another machine: threads5 with e_machine AArch64 (183)
	cp "$tmp/threads5" "$d/aarch64"
	printf '\267\000' | dd of="$d/aarch64" bs=1 seek=18 conv=notrunc \
		2>/dev/null
	gmp_check aarch64 "$d/aarch64"
	expect_check aarch64 2 unsupported '^error: 64-bit ELF for AArch64: '
	if $cc -m32 -o "$d/i386" "$tmp/threads5.c" -pthread 2>/dev/null; then
		gmp_check i386 "$d/i386"
		expect_check i386 2 unsupported '^error: 32-bit ELF for Intel 80386'
	fi
	# Go's build-info section, added to a C program
	if command -v objcopy >/dev/null 2>&1; then
		objcopy --add-section .go.buildinfo="$tmp/threads5.c" \
			"$tmp/threads5" "$d/fakego" 2>/dev/null
		gmp_check fakego "$d/fakego"
		expect_check fakego 2 unsupported \
			'^error: Go binary \(\.go\.buildinfo\): Go has its own M:N runtime'
	fi
	# a library that is gone, then one that lost a symbol
	printf 'int gone_one(void) { return 1; }\nint gone_two(void) { return 2; }\n' \
		>"$d/gone.c"
	printf 'int gone_one(void), gone_two(void);\nint main(void) { return gone_one() + gone_two(); }\n' \
		>"$d/needs-gone.c"
	$cc -shared -fPIC -o "$d/libgone.so" "$d/gone.c" &&
		$cc -o "$d/needs-gone" "$d/needs-gone.c" -L"$d" -lgone \
			-Wl,-rpath,'$ORIGIN' ||
		fail "cannot build a program with its library" || return 1
	gmp_check has-lib "$d/needs-gone"
	expect_check has-lib 0 ok "^info: library libgone\\.so => $d/libgone\\.so$"
	printf 'int gone_one(void) { return 1; }\n' >"$d/gone.c"
	$cc -shared -fPIC -o "$d/libgone.so" "$d/gone.c"
	gmp_check lost-symbol "$d/needs-gone"
	expect_check lost-symbol 2 unsupported \
		"^error: missing symbols in $d/needs-gone: gone_two \\(1\\)$"
	rm -f "$d/libgone.so"
	gmp_check no-lib "$d/needs-gone"
	expect_check no-lib 2 unsupported \
		"^error: missing library: libgone\\.so \\(needed by $d/needs-gone\\)$"
	[ -z "$why" ]
}

t_check_go()
{
	mkdir -p "$tmp/go"
	cat >"$tmp/go/main.go" <<'GO'
package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done() }()
	}
	wg.Wait()
	fmt.Println("done")
}
GO
	(cd "$tmp/go" && GOCACHE=$tmp/go/cache GO111MODULE=off \
		go build -o "$tmp/go/gobin" main.go) >"$tmp/go/build.log" 2>&1 ||
		fail "go build failed: $(tail -n 3 "$tmp/go/build.log")" ||
		return 1
	gmp_check go "$tmp/go/gobin"
	expect_check go 2 unsupported '^error: Go binary \(.*\): Go has its own M:N runtime'
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

# -- redis-server

redis_ready()
{
	[ "$(redis-cli -p "$port" ping)" = PONG ]
}

# redis_check VARIANT: load the running redis-server and check what it did.
redis_check()
{
	local v=$1 i p st rc=0 pids=() got want
	# 20,000 requests a test, not more: natively, redis's spinning I/O
	# threads take 10 times longer on a busy 2-CPU machine.
	client "redis-bench.$v" redis-benchmark -p "$port" -q -n 20000 \
		-c 100 -t set,get,incr,lpush,lpop || return 1
	# -q prints each test's progress and then its result on one line,
	# separated by carriage returns.
	got=$(tr '\r' '\n' <"$tmp/redis-bench.$v" |
		sed -En 's/^ *([A-Z]+): [0-9.]+ requests per second.*/\1/p' |
		tr '\n' ' ')
	[ "$got" = "SET GET INCR LPUSH LPOP " ] ||
		fail "redis-benchmark reported '$got', not SET GET INCR LPUSH" \
			"LPOP" || return 1
	# 10 clients INCR one key 1000 times each: every reply from 1 to
	# 10000 comes exactly once.
	for i in 0 1 2 3 4 5 6 7 8 9; do
		yes 'INCR counter' | head -n 1000 |
			timeout -k 5 "$tmo" redis-cli -p "$port" \
			>"$tmp/redis-incr.$v.$i" 2>&1 &
		pids+=($!)
	done
	for i in 0 1 2 3 4 5 6 7 8 9; do	# the first to fail, if any
		wait "${pids[i]}"
		st=$?
		[ $st = 0 ] || [ $rc != 0 ] || rc=$st p=$i
	done
	if [ $rc != 0 ]; then
		fail "redis-cli INCR client $p exited with status $rc"
		log_tail "$tmp/redis-incr.$v.$p"
		return 1
	fi
	sort -n "$tmp/redis-incr.$v".? | cmp -s - <(seq 10000) ||
		fail "10 redis-cli x 1000 INCR counter: the replies are not" \
			"1..10000 once each" || return 1
	client "redis-bincr.$v" redis-benchmark -p "$port" -q -n 10000 \
		-c 50 INCR counter2 || return 1
	blob "$tmp/redis-1m" 1048576
	client "redis-set.$v" sh -c 'redis-cli -p "$1" -x SET big <"$2"' sh \
		"$port" "$tmp/redis-1m" || return 1
	[ "$(cat "$tmp/redis-set.$v")" = OK ] ||
		fail "SET of 1 MiB answered '$(head -c 100 "$tmp/redis-set.$v")'" ||
		return 1
	client "redis-get.$v" redis-cli -p "$port" GET big || return 1
	# redis-cli ends the value with a newline
	want=$({ cat "$tmp/redis-1m"; echo; } | md5sum)
	got=$(md5sum <"$tmp/redis-get.$v")
	[ "$got" = "$want" ] ||
		fail "GET of the 1 MiB value: md5 ${got%% *}, set ${want%% *}" ||
		return 1
	# The benchmark's INCR and LPUSH/LPOP keys, then ours.
	client "redis-state.$v" sh -c 'printf "%s\n" "GET counter:__rand_int__" \
		"LLEN mylist" "GET counter" "GET counter2" "STRLEN big" |
		redis-cli -p "$1"' sh "$port" || return 1
	got=$(tr '\n' ' ' <"$tmp/redis-state.$v")
	[ "$got" = "20000 0 10000 10000 1048576 " ] ||
		fail "after the load, GET counter:__rand_int__, LLEN mylist," \
			"GET counter, GET counter2 and STRLEN big gave '$got'," \
			"not '20000 0 10000 10000 1048576'"
}

t_redis()
{
	local v t0 io=()
	# Threaded I/O came with redis 6.
	case $(redis-server --version) in
	*" v="[1-5].*) ;;
	*)	io=(--io-threads 2 --io-threads-do-reads yes) ;;
	esac
	for v in native preload; do
		t0=$EPOCHREALTIME
		serve "$v" redis redis_ready redis-server --port @PORT@ \
			--bind 127.0.0.1 --save "" --appendonly no "${io[@]}" \
			--daemonize no || return 1
		redis_check "$v"
		unserve "$v" redis \
			timeout -k 5 20 redis-cli -p "$port" shutdown nosave ||
			return 1
		lap redis-server "$v" "$t0"
		[ -n "$why" ] && return 1
		[ "$(cat "$tmp/redis.$v.rc")" = 0 ] ||
			fail "$(describe "$v" redis)" || return 1
		grep -q 'ready to exit' "$tmp/redis.$v.err" ||
			fail "$v redis-server did not log 'ready to exit'" ||
			return 1
	done
	new_log redis
}

# -- memcached

memcached_ready()
{
	memcping --servers="127.0.0.1:$port"
}

# The checking client: stdlib only, run by a python3 that is not preloaded.
memc_client()
{
	cat >"$tmp/memc_client.py" <<'PY'
# memc_client.py PORT: check memcached's answers to 40 concurrent clients.
import socket, sys, threading

port = int(sys.argv[1])
bad = []

class Conn:
	def __init__(self):
		self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
		self.f = self.s.makefile("rb")

	def line(self):
		l = self.f.readline()
		if not l.endswith(b"\r\n"):
			raise EOFError("connection closed: %r" % l)
		return l[:-2]

	def cmd(self, c):
		self.s.sendall(c + b"\r\n")
		return self.line()

	def set(self, k, v):
		self.s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(v), v))
		return self.line()

	def get(self, keys):
		self.s.sendall(b"get " + b" ".join(keys) + b"\r\n")
		out = {}
		while True:
			l = self.line()
			if l == b"END":
				return out
			p = l.split()
			if p[0] != b"VALUE":
				raise ValueError(l)
			d = self.f.read(int(p[3]) + 2)
			out[p[1]] = d[:-2]

	def stats(self):
		self.s.sendall(b"stats\r\n")
		st = {}
		while True:
			l = self.line()
			if l == b"END":
				return st
			_, k, v = l.decode().split(" ", 2)
			st[k] = v

	def close(self):
		self.f.close()
		self.s.close()

def short(b):	# a value for a message
	return repr(b) if b is None or len(b) <= 40 else repr(b[:40]) + "..."

def key(t, k):
	return b"k%d.%d" % (t, k)

def value(t, k):	# 6 to 1000 bytes, different for every key
	return (b"%d.%d;" % (t, k)) * (1 + (t * 200 + k) % 97)

def guard(f):
	def run(*a):
		try:
			f(*a)
		except Exception as e:
			bad.append("%s%r: %r" % (f.__name__, a, e))
	return run

@guard
def setget(t):
	c = Conn()
	for k in range(200):
		r = c.set(key(t, k), value(t, k))
		if r != b"STORED":
			bad.append("set %s: %s" % (key(t, k), short(r)))
	for k in range(200):
		got = c.get([key(t, k)]).get(key(t, k))
		if got != value(t, k):
			bad.append("get %s: %s" % (key(t, k), short(got)))
	c.close()

replies = [[] for _ in range(20)]

@guard
def incr(t):
	c = Conn()
	for _ in range(500):
		replies[t].append(int(c.cmd(b"incr counter 1")))
	c.close()

def together(f):
	ts = [threading.Thread(target=f, args=(t,)) for t in range(20)]
	for t in ts:
		t.start()
	for t in ts:
		t.join()

together(setget)
c = Conn()
for t in range(20):	# every thread's values, 100 keys a get
	for k0 in (0, 100):
		keys = [key(t, k) for k in range(k0, k0 + 100)]
		got = c.get(keys)
		for k in range(k0, k0 + 100):
			if got.get(key(t, k)) != value(t, k):
				bad.append("multi-get %s: %s" % (key(t, k),
					short(got.get(key(t, k)))))
big = bytes(range(256)) * 2048
if c.set(b"big", big) != b"STORED" or c.get([b"big"]).get(b"big") != big:
	bad.append("the 512 KiB value did not come back")
c.set(b"counter", b"0")
together(incr)
if sorted(sum(replies, [])) != list(range(1, 10001)):
	bad.append("20 x 500 incr: the replies are not 1..10000 once each")
if c.get([b"counter"]).get(b"counter") != b"10000":
	bad.append("counter is %r, not 10000" % c.get([b"counter"]))
st = c.stats()
cur = int(st.get("curr_connections", -1))
if not 1 <= cur <= 100:
	bad.append("curr_connections %d with 1 client connected" % cur)
for k in ("incr_hits", "incr_misses", "cmd_set", "cmd_get", "get_hits",
	  "get_misses"):
	print(k, st.get(k))
c.close()
for b in bad[:10]:
	print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

t_memcached()
{
	local v t0
	memc_client
	for v in native preload; do
		t0=$EPOCHREALTIME
		# memcached wants -u when run as root
		serve "$v" memcached memcached_ready memcached -u "$(id -un)" \
			-l 127.0.0.1 -p @PORT@ -U 0 -t 4 -c 2048 || return 1
		client "memcslap.$v" memcslap --servers="127.0.0.1:$port" \
			--concurrency=50 --execute-number=5000 &&
		{ grep -Eq 'to set +250000 keys' "$tmp/memcslap.$v" ||
			fail "memcslap did not report 250000 sets:" \
				"$(cat "$tmp/memcslap.$v")"; } &&
		client "memc-client.$v" "$py" "$tmp/memc_client.py" "$port"
		unserve "$v" memcached kill -TERM "$spid" || return 1
		lap memcached "$v" "$t0"
		[ -n "$why" ] && return 1
	done
	same_status memcached || return 1
	# Exact counts, the same both runs: this client's, memcslap's sets.
	cmp -s "$tmp/memc-client.native" "$tmp/memc-client.preload" ||
		fail "memcached's stats differ from native:" \
			"$(diff "$tmp/memc-client.native" \
				"$tmp/memc-client.preload")" || return 1
	grep -qx 'incr_hits 10000' "$tmp/memc-client.preload" ||
		fail "stats: $(tr '\n' ' ' <"$tmp/memc-client.preload")" ||
		return 1
	new_log memcached
}

# -- python3.11 http.server

http_ready()
{
	curl -sf -o /dev/null "http://127.0.0.1:$port/"
}

t_http()
{
	local v t0 url got want
	mkdir -p "$tmp/www"
	blob "$tmp/www/blob.txt" 204800
	want=$(md5sum <"$tmp/www/blob.txt")
	for v in native preload; do
		t0=$EPOCHREALTIME
		serve "$v" http http_ready "$py" -m http.server @PORT@ \
			--bind 127.0.0.1 -d "$tmp/www" || return 1
		url=http://127.0.0.1:$port/blob.txt
		# 400 fetches, 16 at a time: each must be a 200 of all of it.
		client "http-load.$v" sh -c 'seq 400 |
			xargs -P 16 -I{} curl -s -o /dev/null \
				-w "%{http_code} %{size_download}\n" "$1" |
			sort | uniq -c' sh "$url" &&
		{ got=$(awk '{ $1 = $1; print }' "$tmp/http-load.$v")
		[ "$got" = "400 200 204800" ] ||
			fail "400 fetches (count, status, bytes):" \
				"$(tr '\n' ';' <<<"$got")"; } &&
		client "http-get.$v" curl -sf "$url" &&
		{ got=$(md5sum <"$tmp/http-get.$v")
		[ "$got" = "$want" ] ||
			fail "fetched md5 ${got%% *}, file ${want%% *}"; }
		# SIGTERM, not SIGINT: a background job ignores SIGINT.
		unserve "$v" http kill -TERM "$spid" || return 1
		lap http.server "$v" "$t0"
		[ -n "$why" ] && return 1
		got=$(grep -c '"GET /blob.txt HTTP/1.1" 200 ' "$tmp/http.$v.err")
		[ "$got" = 401 ] ||
			fail "$v http.server logged $got fetches of 401" ||
			return 1
	done
	same_status http || return 1
	new_log http
}

# name -> "programs (comma-separated) function"
declare -A impl=(
	[pigz_output_and_roundtrip_match_native]="pigz t_pigz"
	[zstd_output_and_roundtrip_match_native]="zstd t_zstd"
	[xz_output_and_roundtrip_match_native]="xz t_xz"
	[sort_parallel_output_matches_native]="sort t_sort"
	[sysbench_threads_completes_under_libgmp]="sysbench t_sysbench_threads"
	[sysbench_mutex_completes_under_libgmp]="sysbench t_sysbench_mutex"
	[gmp_run_sets_the_environment_and_passes_the_status]="sh t_gmp_run"
	[gmp_run_options_set_every_gmp_variable]="sh t_gmp_run_options"
	[gmp_run_check_passes_a_threaded_program]="cc t_check_threaded"
	[gmp_run_check_follows_a_script_to_its_interpreter]="sh t_check_script"
	[gmp_run_check_refuses_what_cannot_work]="cc t_check_unsupported"
	[gmp_run_check_refuses_a_go_binary]="go t_check_go"
	[bad_gmp_value_is_reported_once_and_the_default_used]="cc t_bad_value"
	[stats_count_the_threads_a_program_made]="cc t_stats"
	[redis_server_serves_redis_benchmark_preloaded]="redis-server,redis-cli,redis-benchmark t_redis"
	[memcached_serves_clients_preloaded]="memcached,memcslap,memcping,$py t_memcached"
	[python_threading_http_server_preloaded]="$py,curl t_http"
)

num=0 passed=0 failed=0 skipped=0
for name in "${tests[@]}"; do
	num=$((num + 1))
	read -r progs fn <<<"${impl[$name]}"
	missing=
	for prog in ${progs//,/ }; do
		command -v "$prog" >/dev/null 2>&1 || { missing=$prog; break; }
	done
	if [ -n "$missing" ]; then
		echo "ok $num - $name # SKIP $missing is not installed"
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
