#!/usr/bin/env bash
# tests/demo/run.sh BUILD_DIR [DEMO_ARGS...]: run BUILD_DIR/demo natively,
# then as BUILD_DIR/gmp-run --stats -- BUILD_DIR/demo; show what each
# printed and how long it took, and check that stdout is the same.
# Exits 0 if both runs succeeded with identical stdout. DEMO_TIMEOUT: seconds
# per run (default 300).
set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR [DEMO_ARGS...]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
demo=$build/demo
gmprun=$build/gmp-run
tmo=${DEMO_TIMEOUT:-300}
for f in "$demo" "$gmprun"; do
	[ -x "$f" ] || { echo "demo: $f is not built (make demo)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gmp-demo.XXXXXX") || exit 2
secs_native='' secs_libgmp='' rc_native='' rc_libgmp=''	# set by run
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD...: run CMD, show its output, leave its stdout in
# $tmp/NAME.out, its status in rc_NAME and its wall time in secs_NAME.
run()
{
	local name=$1 t0 rc
	shift
	printf '\n== %s: %s\n' "$name" "$*"
	t0=$EPOCHREALTIME
	timeout -k 5 "$tmo" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	printf -v "secs_$name" '%s' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.2f", b - a }')"
	printf -v "rc_$name" '%s' "$rc"
	sed 's/^/  /' "$tmp/$name.out"
	sed 's/^/  (stderr) /' "$tmp/$name.err"
	case $rc in
	0)	;;
	124|137) echo "  timed out after $tmo s" ;;
	*)	echo "  exit status $rc" ;;
	esac
}

run native "$demo" "$@"
run libgmp "$gmprun" --stats -- "$demo" "$@"

echo
echo "== wall time: native ${secs_native} s, libgmp ${secs_libgmp} s" \
	"($(awk -v n="$secs_native" -v g="$secs_libgmp" 'BEGIN {
		if (g > 0 && n >= g) printf "%.1fx faster", n / g
		else if (n > 0) printf "%.1fx slower", g / n
		else printf "n/a" }') under libgmp)"
if [ "$rc_native" != 0 ] || [ "$rc_libgmp" != 0 ]; then
	echo "demo: FAILED: exit status native $rc_native, libgmp $rc_libgmp"
	exit 1
fi
if ! diff -u --label native --label libgmp "$tmp/native.out" \
	"$tmp/libgmp.out"; then
	echo "demo: FAILED: stdout differs under libgmp (diff above)"
	exit 1
fi
echo "demo: stdout identical natively and under libgmp"
