#!/usr/bin/env bash
# tests/tools/observe.sh BUILD_DIR: what libgmp shows about a program.
#
# GMP_STATS (text, json, a file: created 0600, a symbolic link or another
# user's file refused), GMP_DEBUG=schedtrace/scheddetail/dump, the G dump
# on SIGQUIT, the deadlock report, and GMP_TRACE's JSON timeline: on small programs from
# tests/tools/progs/, compiled here. Each program is also run natively,
# where its output and status are what the checks expect (a deadlocked
# program hangs natively: it is run under a short timeout). Prints TAP and
# ends with "N passed, N failed, N skipped"; exits 1 if anything failed.
set -u

build=$(cd "${1:?usage: observe.sh BUILD_DIR}" && pwd)
lib=$build/libgmp.so
src=$(cd "$(dirname "$0")/progs" && pwd)
tmp=$(mktemp -d /tmp/gmp-observe.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 failn=0 skip=0 n=0

tests=(stats_text_counts_the_programs_threads
	stats_json_parses_and_matches
	stats_file_is_created_safely
	schedtrace_prints_lines_with_the_procs
	dump_at_exit_names_every_thread
	sigquit_dumps_wait_reasons_then_quits
	deadlock_is_reported_with_status_86
	no_deadlock_while_a_timer_or_fd_can_wake
	bad_gmp_debug_value_is_reported_once
	trace_is_json_with_consistent_slices)
echo "TAP version 13"
echo "1..${#tests[@]}"

for p in obs_work obs_deadlock obs_asleep_ok obs_quit; do
	if ! gcc -O1 -g -pthread -o "$tmp/$p" "$src/$p.c" 2>"$tmp/$p.cc"; then
		echo "Bail out! cannot compile $p: $(head -n 3 "$tmp/$p.cc")"
		echo "0 passed, ${#tests[@]} failed, 0 skipped"
		exit 1
	fi
done

why=
fail() { why+="$*"$'\n'; return 1; }
pre() { timeout -k 5 "${T:-30}" env "LD_PRELOAD=$lib" "$@"; }

t_stats_text_counts_the_programs_threads()
{
	local out
	out=$("$tmp/obs_work") || return $(fail "native run failed")
	[ "$out" = "total 400" ] || fail "native output '$out'" || return 1
	out=$(GMP_MAXPROCS=2 GMP_STATS=1 pre "$tmp/obs_work" 2>"$tmp/err") ||
		return $(fail "preloaded run failed")
	[ "$out" = "total 400" ] || fail "preloaded output '$out'" || return 1
	grep -q '^  procs (P)          2$' "$tmp/err" ||
		fail "no 'procs (P) 2' line: $(cat "$tmp/err")" || return 1
	# main + 8 threads
	grep -q '^  Gs created         9$' "$tmp/err" ||
		fail "Gs created is not 9: $(cat "$tmp/err")" || return 1
	local peak
	peak=$(awk '/peak live Gs/ {print $4}' "$tmp/err")
	[ "$peak" -ge 2 ] && [ "$peak" -le 9 ] ||
		fail "peak live Gs $peak not in 2..9"
}

t_stats_json_parses_and_matches()
{
	GMP_MAXPROCS=3 GMP_STATS=json pre "$tmp/obs_work" >/dev/null \
		2>"$tmp/err" || return $(fail "preloaded run failed")
	python3 - "$tmp/err" <<'EOF' || fail "$(cat "$tmp/err")"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) == 1, "expected one JSON line, got %d" % len(lines)
d = json.loads(lines[0])
assert d["procs"] == 3, d
assert d["gs_created"] == 9, d
assert 2 <= d["peak_live_gs"] <= 9, d
assert d["context_switches"] >= 8 and d["parks"] >= 1, d
for k in ("steals", "yields", "preemptions", "syscalls", "handoffs",
          "netpoll_parks", "max_rss_kib", "run_time_s", "pid"):
    assert k in d, k
EOF
}

t_stats_file_is_created_safely()
{
	local f=$tmp/stats-%p.json out
	GMP_STATS=$f pre "$tmp/obs_work" >/dev/null 2>"$tmp/err" ||
		return $(fail "preloaded run failed")
	out=$(ls "$tmp"/stats-*.json 2>/dev/null | head -n 1)
	[ -n "$out" ] || fail "no stats file: $(cat "$tmp/err")" || return 1
	[ "$(stat -c %a "$out")" = 600 ] || fail "mode $(stat -c %a "$out")" ||
		return 1
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["gs_created"] == 9' \
		"$out" || fail "stats file does not parse: $(cat "$out")" ||
		return 1
	# text when the name does not end in .json
	GMP_STATS=$tmp/stats.txt pre "$tmp/obs_work" >/dev/null 2>&1
	grep -q '^  Gs created         9$' "$tmp/stats.txt" ||
		fail "text stats file: $(cat "$tmp/stats.txt")" || return 1
	# a symbolic link is not followed
	echo keep >"$tmp/target"
	ln -s "$tmp/target" "$tmp/link"
	GMP_STATS=$tmp/link pre "$tmp/obs_work" >/dev/null 2>"$tmp/err"
	[ "$(cat "$tmp/target")" = keep ] || fail "followed a symlink" ||
		return 1
	grep -q 'symbolic link is not followed' "$tmp/err" ||
		fail "no message for the link: $(cat "$tmp/err")" || return 1
	# another user's file is not replaced
	if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
		echo theirs >"$tmp/theirs"
		chown nobody "$tmp/theirs"
		GMP_STATS=$tmp/theirs pre "$tmp/obs_work" >/dev/null \
			2>"$tmp/err"
		[ "$(cat "$tmp/theirs")" = theirs ] ||
			fail "replaced another user's file" || return 1
		grep -q 'not a regular file of this user' "$tmp/err" ||
			fail "no message: $(cat "$tmp/err")"
	fi
}

t_schedtrace_prints_lines_with_the_procs()
{
	GMP_MAXPROCS=2 GMP_DEBUG=schedtrace=50,scheddetail=1 \
		pre "$tmp/obs_work" 400 >/dev/null 2>"$tmp/err" ||
		return $(fail "preloaded run failed")
	local lines
	lines=$(grep -c '^gmp-sched [0-9]*ms: procs=2 idleprocs=[0-2] threads=[0-9]* spinningthreads=[0-9]* idlethreads=[0-9]* runqueue=[0-9]* \[[0-9]* [0-9]*\] gs: running=' "$tmp/err")
	[ "$lines" -ge 3 ] || fail "$lines schedtrace lines: $(head -n 5 "$tmp/err")" ||
		return 1
	grep -q '^  P1: status=' "$tmp/err" && grep -q '^  M[0-9]*: tid=' "$tmp/err" &&
		grep -q '^  G1: status=' "$tmp/err" ||
		fail "no scheddetail lines: $(head -n 12 "$tmp/err")"
}

t_dump_at_exit_names_every_thread()
{
	GMP_DEBUG=dump pre "$tmp/obs_work" >/dev/null 2>"$tmp/err" ||
		return $(fail "preloaded run failed")
	grep -q '^libgmp: threads at exit (GMP_DEBUG=dump): 1 threads$' "$tmp/err" &&
		grep -q '^G1 "obs_work" (main): running' "$tmp/err" ||
		fail "dump: $(cat "$tmp/err")"
}

t_sigquit_dumps_wait_reasons_then_quits()
{
	local rc
	# (in a shell of its own, whose "Quit" job notice is dropped)
	rc=$(bash -c '"$1" >/dev/null 2>&1; echo $?' _ "$tmp/obs_quit" 2>/dev/null)
	[ $rc = 131 ] || fail "native status $rc, not 131 (SIGQUIT)" || return 1
	pre "$tmp/obs_quit" >/dev/null 2>"$tmp/err"; rc=$?
	[ $rc = 131 ] || fail "preloaded status $rc, not 131" || return 1
	grep -q '^libgmp: SIGQUIT: 5 threads$' "$tmp/err" ||
		fail "no dump header: $(cat "$tmp/err")" || return 1
	local want
	# (main sent the signal: the dump may find it running or asleep)
	for want in '"on-cond": waiting (cond on 0x' \
		'"on-sem": waiting (semaphore on 0x' \
		'"on-sleep": waiting (sleep)' '"on-pipe": waiting (io on 0x' \
		'"obs_quit" (main): '; do
		grep -qF "$want" "$tmp/err" ||
			fail "no '$want' in: $(cat "$tmp/err")" || return 1
	done
}

t_deadlock_is_reported_with_status_86()
{
	local rc
	timeout 2 "$tmp/obs_deadlock" >/dev/null 2>&1; rc=$?
	[ $rc = 124 ] || fail "natively it should hang, got status $rc" ||
		return 1
	pre "$tmp/obs_deadlock" >"$tmp/out" 2>"$tmp/err"; rc=$?
	[ $rc = 86 ] || fail "status $rc, not 86: $(cat "$tmp/err")" || return 1
	grep -q '^libgmp: all threads are asleep - deadlock!: 3 threads$' "$tmp/err" &&
		grep -q '"left": waiting (mutex on 0x' "$tmp/err" &&
		grep -q '"right": waiting (mutex on 0x' "$tmp/err" &&
		grep -q '(main): waiting (join on 0x' "$tmp/err" ||
		fail "report: $(cat "$tmp/err")" || return 1
	[ ! -s "$tmp/out" ] || fail "stdout: $(cat "$tmp/out")" || return 1
	# opting out: it hangs as natively
	GMP_DEADLOCK=0 T=2 pre "$tmp/obs_deadlock" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc = 124 ] || fail "GMP_DEADLOCK=0: status $rc" || return 1
	! grep -q deadlock "$tmp/err" || fail "GMP_DEADLOCK=0 reported" ||
		return 1
	# report only: printed once, the program keeps waiting
	GMP_DEADLOCK=report T=2 pre "$tmp/obs_deadlock" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc = 124 ] || fail "GMP_DEADLOCK=report: status $rc" || return 1
	[ "$(grep -c 'all threads are asleep' "$tmp/err")" = 1 ] ||
		fail "report mode: $(cat "$tmp/err")"
}

t_no_deadlock_while_a_timer_or_fd_can_wake()
{
	local v out
	for v in timer fd; do
		out=$("$tmp/obs_asleep_ok" $v) || return $(fail "native $v")
		out=$(pre "$tmp/obs_asleep_ok" $v 2>"$tmp/err") ||
			return $(fail "preloaded $v failed: $(cat "$tmp/err")")
		[ "$out" = woken ] || fail "$v: output '$out'" || return 1
		! grep -q deadlock "$tmp/err" ||
			fail "$v: false report: $(cat "$tmp/err")" || return 1
	done
}

t_bad_gmp_debug_value_is_reported_once()
{
	local out
	out=$(GMP_DEBUG=schedtrace=abc pre "$tmp/obs_work" 2>"$tmp/err") ||
		return $(fail "preloaded run failed")
	[ "$out" = "total 400" ] || fail "output '$out'" || return 1
	[ "$(grep -c 'GMP_DEBUG=schedtrace=abc' "$tmp/err")" = 1 ] ||
		fail "message: $(cat "$tmp/err")" || return 1
	! grep -q '^gmp-sched' "$tmp/err" || fail "traced anyway"
}

t_trace_is_json_with_consistent_slices()
{
	local out
	out=$(GMP_MAXPROCS=2 GMP_TRACE=$tmp/trace.json pre "$tmp/obs_work" \
		2>"$tmp/err") || return $(fail "preloaded run failed")
	[ "$out" = "total 400" ] || fail "output '$out'" || return 1
	[ "$(stat -c %a "$tmp/trace.json")" = 600 ] ||
		fail "trace mode $(stat -c %a "$tmp/trace.json")" || return 1
	python3 - "$tmp/trace.json" <<'EOF' || fail "$(cat "$tmp/err")"
import json, sys
from collections import defaultdict, Counter
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
assert d["metadata"]["dropped_events"] == 0, d["metadata"]
tracks = defaultdict(list)
for i, e in enumerate(ev):
    if e["ph"] in "BE":
        tracks[e["tid"]].append((e["ts"], i, e))
gs = set()
whys = Counter()
for tid, lst in tracks.items():
    assert tid >= 1, tid          # slices are on P tracks
    lst.sort(key=lambda x: (x[0], x[1]))
    stack = []
    for ts, i, e in lst:
        if e["ph"] == "B":
            assert not stack, ("two slices at once on", tid, stack, e)
            stack.append(e)
            gs.add(e["name"])
        else:
            assert stack and stack[-1]["name"] == e["name"], (tid, stack, e)
            stack.pop()
            whys[e["args"]["why"]] += 1
    assert not stack, ("left open", tid, stack)
# main and the 8 workers ran
assert {"G%d" % i for i in range(1, 10)} <= gs, gs
inst = Counter(e["name"].split()[0] for e in ev
               if e["ph"] == "i" and e.get("s") == "t")
assert inst["create"] == 8, inst
assert inst["ready"] >= 8, inst
assert whys["exit"] == 8, whys
assert whys["park cond"] + whys["park mutex"] >= 1, whys
assert whys["park join"] >= 1, whys
names = {e["args"]["name"] for e in ev if e["ph"] == "M"}
assert {"P0", "P1", "runtime"} <= names, names
workers = {e["args"]["name"] for e in ev
           if e["ph"] == "i" and e.get("s") == "g"}
assert {"worker%d" % i for i in range(8)} <= workers, workers
EOF
	[ -z "$why" ] || return 1
	# a symbolic link is not followed
	echo keep >"$tmp/ttarget"
	ln -s "$tmp/ttarget" "$tmp/tlink"
	GMP_TRACE=$tmp/tlink pre "$tmp/obs_work" >/dev/null 2>"$tmp/err"
	[ "$(cat "$tmp/ttarget")" = keep ] || fail "followed a symlink" ||
		return 1
	grep -q 'GMP_TRACE=.*symbolic link is not followed' "$tmp/err" ||
		fail "no message for the link: $(cat "$tmp/err")"
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
