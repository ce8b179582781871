#!/usr/bin/env bash
# tests/tools/gmp_stat.sh BUILD_DIR: gmp-stat on live processes.
#
# tests/tools/progs/stat_waits.c, compiled here, runs under
# LD_PRELOAD=libgmp.so with its stdin a fifo this script holds open: three
# named threads park on a mutex, a condvar and a sleep, a child of fork
# reads stdin too, and both end when the fifo closes (or are killed at
# the end, whatever happens). Checked: each named thread's line and wait
# reason, the counters, the JSON (parsed with python3) against the text,
# the child's own segment, -w refreshing, the G table's "and K more", and
# each error with its exit status: no such process, a process without
# libgmp, GMP_STAT=0, another user's process, a layout gmp-stat does not
# read. Prints TAP and ends with "N passed, N failed, N skipped"; exits 1
# if anything failed.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
lib=$build/libgmp.so
gstat=$build/gmp-stat
src=$(cd "$(dirname "$0")/progs" && pwd)
export LC_ALL=C
unset GMP_STATS GMP_DEBUG GMP_TRACE GMP_STAT GMP_MAXPROCS LD_PRELOAD

tests=(lists_each_named_thread_with_its_reason
	counters_match_the_program
	json_parses_and_matches_the_text
	child_of_fork_has_its_own_segment
	watch_refreshes_until_interrupted
	more_gs_than_the_table_holds_are_counted
	process_without_libgmp_is_reported
	gmp_stat_0_is_reported_the_same
	bad_gmp_stat_value_is_reported_once
	no_such_process_is_reported
	another_users_process_is_refused
	a_layout_it_does_not_read_is_refused
	usage_errors_have_status_2)
echo "TAP version 13"
echo "1..${#tests[@]}"

pass=0 failn=0 skip=0 n=0
if [ ! -f "$lib" ] || [ ! -x "$gstat" ]; then
	echo "Bail out! no $lib or $gstat (make BUILD=... all)"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi

tmp=$(mktemp -d /tmp/gmp-stat.XXXXXX) || exit 2
pub=
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp" ${pub:+"$pub"}
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! gcc -O1 -g -pthread -o "$tmp/stat_waits" "$src/stat_waits.c" \
	2>"$tmp/cc"; then
	echo "Bail out! cannot compile stat_waits: $(head -n 3 "$tmp/cc")"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi

why=
fail() { why+="$*"$'\n'; return 1; }

# start NAME [VAR=VALUE...] [-- ARGS]: stat_waits in the background with
# the environment given (LD_PRELOAD among it, or not), stdin the fifo
# $tmp/NAME.in held open by this shell; sets pid and child once it says
# "ready". 1 if it does not within 10 s.
start()
{
	local name=$1 i
	shift
	local envs=() args=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift && args=("$@")
	mkfifo "$tmp/$name.in"
	env "${envs[@]}" "$tmp/stat_waits" "${args[@]}" <"$tmp/$name.in" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	disown "$pid"	# no "Killed" notice when it is killed
	# holds the writing end (the program sees EOF when it is closed)
	exec {hold}>"$tmp/$name.in"
	for ((i = 0; i < 200; i++)); do
		grep -q '^ready ' "$tmp/$name.out" && break
		sleep 0.05
	done
	child=$(awk '/^ready / {print $2}' "$tmp/$name.out")
	[ -n "$child" ] || return 1
	pids+=("$child")
}

# stat_until OUT PATTERN...: gmp-stat $pid into OUT until every ERE
# matches a line (up to 5 s: the segment is written every 100 ms).
stat_until()
{
	local out=$1 i p ok
	shift
	for ((i = 0; i < 50; i++)); do
		"$gstat" "$pid" >"$out" 2>&1
		ok=1
		for p in "$@"; do
			grep -Eq -- "$p" "$out" || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

if ! start main "LD_PRELOAD=$lib" GMP_MAXPROCS=2; then
	echo "Bail out! stat_waits did not start: $(cat "$tmp/main.err")"
	echo "0 passed, ${#tests[@]} failed, 0 skipped"
	exit 1
fi
mainpid=$pid mainchild=$child

t_lists_each_named_thread_with_its_reason()
{
	pid=$mainpid
	stat_until "$tmp/text" \
		"^gmp-stat: pid $pid, libgmp [0-9][^,]*, up [0-9]" \
		'^G[0-9]+ "locker": waiting \(mutex on 0x[0-9a-f]+\), [0-9]+ ms, started at locker$' \
		'^G[0-9]+ "waiter": waiting \(cond on 0x[0-9a-f]+\), [0-9]+ ms, started at waiter$' \
		'^G[0-9]+ "sleeper": waiting \(sleep\), [0-9]+ ms, started at sleeper$' \
		'^G1 "stat_waits" \(main\): [a-z]+.*, started at main$' ||
		fail "$(cat "$tmp/text")"
}

t_counters_match_the_program()
{
	pid=$mainpid
	stat_until "$tmp/text" '^  Gs created         4$' \
		'^  procs \(P\)          2$' '^  peak live Gs       4$' \
		'^  context switches   [0-9]+$' '^  run time           [0-9.]+ s$' \
		'^  now                procs=2 idleprocs=[0-2] threads=[0-9]+ spinningthreads=[0-9]+ idlethreads=[0-9]+ runqueue=[0-9]+ \[[0-9]+ [0-9]+\]$' \
		'^  live Gs            4: running=[0-9]+ runnable=[0-9]+ waiting=[34] syscall=[0-9]+$' \
		'^4 threads$' || fail "$(cat "$tmp/text")"
}

t_json_parses_and_matches_the_text()
{
	pid=$mainpid
	"$gstat" "$pid" >"$tmp/text" 2>&1 &&
		"$gstat" --json "$pid" >"$tmp/json" 2>&1 ||
		{ fail "gmp-stat failed: $(cat "$tmp/text" "$tmp/json")"; return 1; }
	python3 - "$tmp/json" "$tmp/text" "$pid" <<'EOF' ||
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "expected one line, got %d" % len(lines)
d = json.loads(lines[0])
text = open(sys.argv[2]).read()
assert d["pid"] == int(sys.argv[3]), d["pid"]
assert d["gs_created"] == 4 and d["procs"] == 2, d
assert d["gmp_stat_layout"] == 1 and d["libgmp"], d
for k in ("threads_created", "peak_live_gs", "context_switches", "steals",
          "parks", "yields", "preemptions", "syscalls", "handoffs",
          "netpoll_parks", "stack_reserved_bytes", "max_rss_kib",
          "run_time_s", "uptime_s", "updated_ms_ago", "update_cost_ns",
          "procs_idle", "threads_live", "runqueue_global", "live_gs"):
    assert k in d, k
assert len(d["runqueues"]) == 2, d["runqueues"]
assert d["gs_by_status"]["waiting"] >= 3, d["gs_by_status"]
assert d["gs_total"] == 4 and len(d["gs"]) == 4, d["gs"]
goids = [g["goid"] for g in d["gs"]]
assert goids == sorted(goids), goids
by = {g["name"]: g for g in d["gs"]}
want = {"locker": "mutex", "waiter": "cond", "sleeper": None}
for name, reason in want.items():
    g = by[name]
    assert g["status"] == "waiting", g
    assert g["reason"] == (reason or "sleep"), g
    assert g["waited_ms"] >= 0 and g["started_at"] == name, g
    if reason:
        # the same object as the text's line
        m = re.search(r'"%s": waiting \(%s on (0x[0-9a-f]+)\)' % (name, reason),
                      text)
        assert m and m.group(1) == g["on"], (g, text)
    else:
        assert "on" not in g, g
main = [g for g in d["gs"] if g["main"]]
assert len(main) == 1 and main[0]["goid"] == 1, main
EOF
		fail "$(cat "$tmp/json")"
}

t_child_of_fork_has_its_own_segment()
{
	local c
	pid=$mainchild
	stat_until "$tmp/ctext" "^gmp-stat: pid $pid, " '^1 threads$' \
		'^G1 "stat_waits" \(main\): ' || fail "$(cat "$tmp/ctext")" ||
		return 1
	[ "$(grep -c '^G' "$tmp/ctext")" = 1 ] ||
		fail "the child lists its parent's threads: $(cat "$tmp/ctext")" ||
		return 1
	for pid in $mainpid $mainchild; do
		c=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c 'memfd:gmp-stat')
		[ "$c" = 1 ] || fail "$pid has $c gmp-stat memfds" || return 1
	done
}

t_watch_refreshes_until_interrupted()
{
	local rc k
	pid=$mainpid
	timeout 3 "$gstat" -w "$pid" >"$tmp/watch" 2>&1; rc=$?
	[ $rc = 124 ] || fail "-w ended by itself with status $rc" || return 1
	k=$(grep -c "gmp-stat: pid $pid," "$tmp/watch")
	[ "$k" -ge 2 ] || fail "$k refreshes in 3 s: $(cat "$tmp/watch")" ||
		return 1
	grep -q $'\033\\[H\033\\[2J' "$tmp/watch" ||
		fail "-w does not clear the screen" || return 1
	timeout 2 "$gstat" -n 0.5 --json "$pid" >"$tmp/watch" 2>&1
	python3 -c '
import json, sys
ls = open(sys.argv[1]).read().splitlines()
assert len(ls) >= 3, ls
for l in ls:
    assert json.loads(l)["pid"] == int(sys.argv[2])
' "$tmp/watch" "$pid" || fail "-n 0.5 --json: $(cat "$tmp/watch")"
}

t_more_gs_than_the_table_holds_are_counted()
{
	start many "LD_PRELOAD=$lib" -- 4200 ||
		{ fail "did not start: $(cat "$tmp/many.err")"; return 1; }
	stat_until "$tmp/mtext" '^4204 threads$' \
		'^\.\.\. and 108 more, not shown \(the segment holds the 4096 newest\)$' ||
		fail "$(tail -n 3 "$tmp/mtext")" || return 1
	[ "$(grep -c '^G' "$tmp/mtext")" = 4096 ] ||
		fail "$(grep -c '^G' "$tmp/mtext") lines of Gs"
	kill -KILL "$pid" "$child" 2>/dev/null
}

# expect_error STATUS MESSAGE-ERE: gmp-stat $pid fails so.
expect_error()
{
	local rc
	"$gstat" "$pid" >"$tmp/eout" 2>"$tmp/eerr"; rc=$?
	[ $rc = "$1" ] || fail "status $rc, not $1: $(cat "$tmp/eout" "$tmp/eerr")" ||
		return 1
	[ ! -s "$tmp/eout" ] || fail "stdout: $(cat "$tmp/eout")" || return 1
	[ "$(wc -l <"$tmp/eerr")" = 1 ] && grep -Eq -- "$2" "$tmp/eerr" ||
		fail "message: $(cat "$tmp/eerr")"
}

t_process_without_libgmp_is_reported()
{
	start native -- || { fail "did not start natively"; return 1; }
	expect_error 3 "^gmp-stat: $pid: does not run under libgmp, or GMP_STAT=0\$"
}

t_gmp_stat_0_is_reported_the_same()
{
	start off "LD_PRELOAD=$lib" GMP_STAT=0 ||
		{ fail "did not start: $(cat "$tmp/off.err")"; return 1; }
	grep -q libgmp "/proc/$pid/maps" || fail "libgmp is not loaded" ||
		return 1
	expect_error 3 "^gmp-stat: $pid: does not run under libgmp, or GMP_STAT=0\$" ||
		return 1
	! ls -l "/proc/$pid/fd" | grep -q memfd:gmp-stat ||
		fail "GMP_STAT=0 made a segment"
}

t_bad_gmp_stat_value_is_reported_once()
{
	start badval "LD_PRELOAD=$lib" GMP_STAT=yes ||
		{ fail "did not start: $(cat "$tmp/badval.err")"; return 1; }
	[ "$(grep -c 'GMP_STAT=yes' "$tmp/badval.err")" = 1 ] ||
		fail "message: $(cat "$tmp/badval.err")" || return 1
	stat_until "$tmp/btext" '"locker": waiting' ||
		fail "not on by default: $(cat "$tmp/btext")"
}

t_no_such_process_is_reported()
{
	true &
	pid=$!
	wait $pid
	expect_error 1 "^gmp-stat: $pid: no such process\$" || return 1
	# ended but not reaped (a zombie: /proc/PID is still there)
	python3 - "$gstat" >"$tmp/zout" 2>&1 <<'EOF' || fail "$(cat "$tmp/zout")"
import os, subprocess, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
time.sleep(0.3)
r = subprocess.run([sys.argv[1], str(pid)], capture_output=True, text=True)
os.waitpid(pid, 0)
assert r.returncode == 1 and r.stdout == "", r
assert r.stderr == "gmp-stat: %d: no such process (it has ended)\n" % pid, r
EOF
}

t_another_users_process_is_refused()
{
	local rc
	pid=$mainpid
	if [ "$(id -u)" != 0 ]; then
		# a process of root's (pid 1, as a rule) is another user's
		if [ "$(stat -c %u /proc/1 2>/dev/null)" = "$(id -u)" ]; then
			skipped="pid 1 is this user's and not root: no other user's process to try"
			return 2
		fi
		pid=1
		expect_error 4 '^gmp-stat: 1: permission denied: another user'
		return
	fi
	local as=
	if ! id nobody >/dev/null 2>&1; then
		skipped="no user nobody"
		return 2
	elif command -v setpriv >/dev/null 2>&1; then
		as="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	elif command -v runuser >/dev/null 2>&1; then
		as="runuser -u nobody --"
	else
		skipped="neither setpriv nor runuser to run as nobody"
		return 2
	fi
	pub=$(mktemp -d /tmp/gmp-stat-pub.XXXXXX) && chmod 755 "$pub" &&
		cp "$gstat" "$pub/gmp-stat" && chmod 755 "$pub/gmp-stat" ||
		{ fail "cannot copy gmp-stat for nobody"; return 1; }
	$as "$pub/gmp-stat" "$pid" >"$tmp/eout" 2>"$tmp/eerr"; rc=$?
	[ $rc = 4 ] || fail "as nobody: status $rc: $(cat "$tmp/eout" "$tmp/eerr")" ||
		return 1
	[ ! -s "$tmp/eout" ] || fail "as nobody, stdout: $(cat "$tmp/eout")" ||
		return 1
	grep -q "^gmp-stat: $pid: permission denied: another user's process" \
		"$tmp/eerr" || fail "message: $(cat "$tmp/eerr")" || return 1
	# and root reads anyone's
	"$gstat" "$pid" >/dev/null 2>&1 || fail "root cannot read it"
}

t_a_layout_it_does_not_read_is_refused()
{
	local magic layout i
	for magic in GMPSTAT1 GMPSTAT9; do
		rm -f "$tmp/fake.out"
		# a memfd named gmp-stat with a header of layout 99
		python3 -c '
import os, struct, sys
fd = os.memfd_create("gmp-stat")
h = struct.pack("<8sIIIIiI16s", sys.argv[1].encode(), 99, 4096, 80, 4096,
                os.getpid(), 100, b"9.9.9")
os.write(fd, h.ljust(4096, b"\0"))
print(os.getpid(), flush=True)
import time
time.sleep(60)
' "$magic" >"$tmp/fake.out" 2>&1 &
		pids+=($!)
		disown $!
		for ((i = 0; i < 100; i++)); do
			[ -s "$tmp/fake.out" ] && break
			sleep 0.05
		done
		pid=$(cat "$tmp/fake.out")
		[ "$pid" = "$!" ] ||
			{ fail "the fake did not start: $pid"; return 1; }
		if [ $magic = GMPSTAT1 ]; then
			expect_error 5 "^gmp-stat: $pid: its libgmp 9\\.9\\.9 writes gmp-stat layout GMPSTAT1/99; this gmp-stat .* reads GMPSTAT1/1 only" ||
				return 1
		else
			expect_error 5 "^gmp-stat: $pid: its libgmp writes gmp-stat layout GMPSTAT9/99; " ||
				return 1
		fi
		kill -KILL "$pid" 2>/dev/null
	done
}

t_usage_errors_have_status_2()
{
	local args rc
	for args in "" "-x 1" "abc" "1 2" "-n 0 1" "-n x 1"; do
		# shellcheck disable=SC2086
		"$gstat" $args >/dev/null 2>"$tmp/uerr"; rc=$?
		[ $rc = 2 ] || fail "'$args': status $rc" || return 1
		grep -q '^gmp-stat: ' "$tmp/uerr" ||
			fail "'$args': message: $(cat "$tmp/uerr")" || return 1
	done
	"$gstat" --help | grep -q '^  4  permission denied' ||
		fail "--help has no exit statuses"
}

for t in "${tests[@]}"; do
	n=$((n + 1))
	why= skipped=
	"t_$t"
	case $? in
	0)
		echo "ok $n - $t"
		pass=$((pass + 1))
		;;
	2)
		if [ -n "$skipped" ]; then
			echo "ok $n - $t # SKIP $skipped"
			skip=$((skip + 1))
			continue
		fi
		;&
	*)
		echo "not ok $n - $t"
		sed 's/^/#   /' <<<"$why"
		failn=$((failn + 1))
		;;
	esac
done
echo "$pass passed, $failn failed, $skip skipped"
[ $failn = 0 ]
