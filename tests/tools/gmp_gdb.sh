#!/usr/bin/env bash
# tests/tools/gmp_gdb.sh BUILD_DIR: tools/gmp-gdb.py on a live process.
#
# A small program compiled here (main and three named threads: one blocked
# in pthread_mutex_lock on a mutex main holds, one in pthread_cond_wait,
# one in sleep; main in pthread_join) runs under LD_PRELOAD=libgmp.so;
# once it prints "ready", gdb attaches with the script loaded and runs
# `info gmp-threads`, then `gmp-thread N bt` for the G blocked on the
# mutex. Checked: each thread's line (name, state, wait reason, the object
# waited on), the backtrace of the parked G reaching the program's function
# that called pthread_mutex_lock, the borrowed kernel thread's registers
# being exactly what they were, and the message when the process has no
# libgmp (the same program run natively). Skips when gdb (with Python) or
# gcc is missing, or when ptrace may not attach. Prints TAP and ends with
# "N passed, N failed, N skipped"; exits 1 if anything failed.
#
# Environment: LIBGMP (default BUILD_DIR/libgmp.so), GDB (default gdb).
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
lib=${LIBGMP:-$build/libgmp.so}
root=$(cd "$(dirname "$0")/../.." && pwd)
script=$root/tools/gmp-gdb.py
gdb=${GDB:-gdb}
export LC_ALL=C
unset GMP_STATS GMP_DEBUG GMP_TRACE LD_PRELOAD

tests=(info_lists_the_main_thread_waiting_in_join
	info_lists_the_mutex_waiter_with_its_mutex
	info_lists_the_cond_waiter_with_its_condvar
	info_lists_the_sleeper_with_its_wakeup
	bt_of_the_mutex_waiter_reaches_the_programs_caller
	registers_of_the_borrowed_thread_are_restored
	a_process_without_libgmp_is_reported)
echo "TAP version 13"
echo "1..${#tests[@]}"

pass=0 failn=0 skip=0 n=0
skip_all()
{
	for t in "${tests[@]}"; do
		n=$((n + 1))
		echo "ok $n - $t # SKIP $1"
		skip=$((skip + 1))
	done
	echo "$pass passed, $failn failed, $skip skipped"
	exit 0
}

if [ ! -f "$lib" ]; then
	echo "Bail out! no library at $lib"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi
command -v "$gdb" >/dev/null 2>&1 || skip_all "gdb is not installed"
command -v gcc >/dev/null 2>&1 || skip_all "gcc is not installed"
"$gdb" -nx -batch -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok ||
	skip_all "gdb has no Python"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gmp-gdb.XXXXXX") || exit 2
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cat >"$tmp/waits.c" <<'EOF'
/* main holds mtx and joins the locker; the three threads block. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cnd = PTHREAD_COND_INITIALIZER;
static int started;

__attribute__((noinline)) static void take_the_held_mutex(void)
{
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&mtx);
	pthread_mutex_unlock(&mtx);
}

static void *locker(void *a)
{
	pthread_setname_np(pthread_self(), "gdbt-locker");
	take_the_held_mutex();
	return a;
}

static void *waiter(void *a)
{
	pthread_setname_np(pthread_self(), "gdbt-waiter");
	pthread_mutex_lock(&cmtx);
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)	/* no one signals */
		pthread_cond_wait(&cnd, &cmtx);
	return a;
}

static void *sleeper(void *a)
{
	pthread_setname_np(pthread_self(), "gdbt-sleeper");
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	sleep(600);
	return a;
}

int main(void)
{
	pthread_t t[3];

	alarm(600);	/* whatever happens to the test */
	pthread_mutex_lock(&mtx);
	pthread_create(&t[0], NULL, locker, NULL);
	pthread_create(&t[1], NULL, waiter, NULL);
	pthread_create(&t[2], NULL, sleeper, NULL);
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < 3)
		usleep(1000);
	usleep(200000);	/* from "about to block" to blocked */
	printf("ready\n");
	fflush(stdout);
	pthread_join(t[0], NULL);
	return 0;
}
EOF
if ! gcc -g -O0 -pthread -o "$tmp/waits" "$tmp/waits.c" 2>"$tmp/cc"; then
	echo "Bail out! cannot compile the test program: $(head -n 3 "$tmp/cc")"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi

# start VAR [ENV...]: run the program in the background, PID in VAR, and
# wait for its "ready" (10 s).
start()
{
	local var=$1 out=$tmp/$1.out p
	shift
	env "$@" "$tmp/waits" >"$out" 2>"$tmp/$var.err" &
	p=$!
	pids+=("$p")
	printf -v "$var" %s "$p"
	for _ in $(seq 100); do
		grep -q '^ready$' "$out" && return 0
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	echo "Bail out! the test program ($*) was not ready:" \
		"$(head -n 3 "$tmp/$var.err")"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
}

# attach PID OUT EX...: gdb attached to PID with the script, each EX an
# -ex command; stdout and stderr in OUT.
attach()
{
	local p=$1 out=$2 args=()
	shift 2
	for e in "$@"; do
		args+=(-ex "$e")
	done
	timeout -k 5 60 "$gdb" -nx -batch -p "$p" -x "$script" "${args[@]}" \
		>"$out" 2>&1 </dev/null
}

gpid='' npid=''
start gpid "LD_PRELOAD=$lib"

# The info lines, once each thread is parked (retried: "ready" follows
# "about to block" by 200 ms, which a loaded machine may not honour).
for _ in 1 2 3 4 5; do
	attach "$gpid" "$tmp/info" 'info gmp-threads'
	if grep -qiE 'ptrace: Operation not permitted|Could not attach|not permitted' \
		"$tmp/info"; then
		msg=$(grep -m1 '^ptrace:' "$tmp/info" ||
			grep -m1 -i 'attach' "$tmp/info")
		skip_all "ptrace may not attach here ($msg)"
	fi
	[ "$(grep -cE '^[ *] +[0-9]+ +gdbt-[a-z]+ +waiting ' "$tmp/info")" = 3 ] &&
		break
	sleep 1
done

why=
fail() { why+="$*"$'\n'; return 1; }
info_dump()
{
	if grep -q '^  Id ' "$tmp/info"; then
		sed -n '/^  Id /,$p' "$tmp/info"
	else
		grep -v '^\[New LWP' "$tmp/info"
	fi
}

# row NAME: the info line of the G named NAME, without the '*' column
row()
{
	awk -v name="$1" '/^[ *] +[0-9]+ / { line = substr($0, 2)
		split(line, f); if (f[2] == name) { print line; exit } }' \
		"$tmp/info"
}

# expect NAME STATE REASON OBJECT-REGEX
expect()
{
	local r
	r=$(row "$1")
	[ -n "$r" ] || fail "no line for $1 in:" "$(info_dump)" || return 1
	read -r _ _ state reason _ <<<"$r"
	[ "$state" = "$2" ] || fail "$1 is '$state', not $2: $r" || return 1
	[ "$reason" = "$3" ] || fail "$1 waits on '$reason', not $3: $r" ||
		return 1
	[[ $r =~ $4 ]] || fail "$1's line does not match /$4/: $r"
}

t_info_lists_the_main_thread_waiting_in_join()
{
	local r
	r=$(awk '/^[ *] +[0-9]+ / && /\(main thread\)/' "$tmp/info")
	[ -n "$r" ] || fail "no main thread line in:" "$(info_dump)" ||
		return 1
	expect "$(awk '{ print $2 }' <<<"${r#?}")" waiting join \
		'\(main thread\) +G [0-9]+$'
}

t_info_lists_the_mutex_waiter_with_its_mutex()
{
	expect gdbt-locker waiting mutex ' locker +0x[0-9a-f]+ <mtx>$'
}

t_info_lists_the_cond_waiter_with_its_condvar()
{
	expect gdbt-waiter waiting cond ' waiter +0x[0-9a-f]+ <cnd(\+[0-9]+)?>$'
}

t_info_lists_the_sleeper_with_its_wakeup()
{
	expect gdbt-sleeper waiting sleep ' sleeper +wakes in [0-9]+m[0-9]+s$'
}

# The locker's backtrace, with the registers of the borrowed thread before
# and after.
n_lock=$(row gdbt-locker | awk '{ print $1 }')
if [ -n "$n_lock" ]; then
	attach "$gpid" "$tmp/bt" 'echo @before\n' 'info all-registers' \
		'echo @bt\n' "gmp-thread $n_lock bt" \
		'echo @after\n' 'info all-registers' 'echo @end\n'
fi

t_bt_of_the_mutex_waiter_reaches_the_programs_caller()
{
	[ -n "$n_lock" ] || fail "no G id for gdbt-locker" || return 1
	local bt
	bt=$(sed -n '/^@bt$/,/^@after$/p' "$tmp/bt" | grep '^#')
	[ -n "$bt" ] || fail "no backtrace:" "$(cat "$tmp/bt")" || return 1
	# pthread_mutex_lock, then the program's caller, then locker
	awk '/ pthread_mutex_lock / { s = 1; next }
	     s == 1 && / take_the_held_mutex \(\) at .*waits\.c:/ { s = 2; next }
	     s == 2 && / locker \(/ { s = 3 }
	     END { exit s != 3 }' <<<"$bt" ||
		fail "pthread_mutex_lock <- take_the_held_mutex <- locker" \
			"not in:" "$bt"
}

t_registers_of_the_borrowed_thread_are_restored()
{
	[ -n "$n_lock" ] || fail "no G id for gdbt-locker" || return 1
	local before after
	before=$(sed -n '/^@before$/,/^@bt$/p' "$tmp/bt" | grep -v '^@')
	after=$(sed -n '/^@after$/,/^@end$/p' "$tmp/bt" | grep -v '^@')
	grep -q '^rip ' <<<"$before" ||
		fail "no registers:" "$(cat "$tmp/bt")" || return 1
	[ "$before" = "$after" ] || fail "registers differ:" \
		"$(diff <(echo "$before") <(echo "$after"))"
}

t_a_process_without_libgmp_is_reported()
{
	start npid
	attach "$npid" "$tmp/native" 'info gmp-threads' "gmp-thread 1 bt"
	[ "$(grep -c '^libgmp is not loaded in this process' "$tmp/native")" = 2 ] ||
		fail "no 'libgmp is not loaded' twice:" "$(cat "$tmp/native")"
}

for t in "${tests[@]}"; do
	n=$((n + 1))
	why=
	if "t_$t"; then
		echo "ok $n - $t"
		pass=$((pass + 1))
	else
		echo "not ok $n - $t"
		sed 's/^/#   /' <<<"$why"
		failn=$((failn + 1))
	fi
done
echo "$pass passed, $failn failed, $skip skipped"
[ $failn = 0 ]
