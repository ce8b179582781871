#!/usr/bin/env bash
# tools/deps.sh MODE: make sure what libgmp needs is on this machine.
#
#   build  gcc, make and the headers of libelf, libseccomp and cmocka.
#          Missing ones stop the build (exit 1), naming the packages.
#   test   build, plus the programs tests/compat/ runs (pigz zstd xz
#          sysbench, redis and memcached with their load tools, curl,
#          python3.11). Missing ones are only a warning: those tests
#          skip.
#
# Checks are file and PATH look-ups, so a machine that has everything pays a
# few milliseconds and sees no output. When something is missing and we are
# root with apt-get, it is installed (apt-get update, then install -y);
# otherwise the exact command to run is printed. GMP_NO_DEPS=1 skips it all
# (for a distribution without these packages names, say).
# Package lists are word-split on purpose.
# shellcheck disable=SC2086
set -u

mode=${1:-build}
case $mode in
build|test) ;;
*)	echo "usage: tools/deps.sh build|test" >&2; exit 2 ;;
esac
[ "${GMP_NO_DEPS:-0}" = 1 ] && exit 0

# "what:package" pairs: a path under / is a header, anything else a command.
build_deps="/usr/include/libelf.h:libelf-dev
	/usr/include/seccomp.h:libseccomp-dev
	/usr/include/cmocka.h:libcmocka-dev gcc:gcc make:make"
test_deps="pigz:pigz zstd:zstd xz:xz-utils sysbench:sysbench
	redis-server:redis-server redis-benchmark:redis-tools
	memcached:memcached memcslap:libmemcached-tools curl:curl
	python3.11:python3.11 gdb:gdb"

# missing "what:package ...": print the packages whose "what" is absent.
missing()
{
	local dep what out=
	for dep in $1; do
		what=${dep%%:*}
		case $what in
		/*)	[ -e "$what" ] && continue ;;
		*)	command -v "$what" >/dev/null 2>&1 && continue ;;
		esac
		out="$out ${dep#*:}"
	done
	echo "${out# }"
}

can_install()
{
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

# quietly CMD...: run CMD, showing its output only if it fails.
quietly()
{
	local log rc
	log=$(mktemp)
	"$@" </dev/null >"$log" 2>&1
	rc=$?
	[ $rc = 0 ] || tail -n 20 "$log" | sed 's/^/    /' >&2
	rm -f "$log"
	return $rc
}

updated=0
apt_install()
{
	local opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
	export DEBIAN_FRONTEND=noninteractive
	if [ $updated = 0 ]; then
		echo "deps: apt-get update" >&2
		# Once; if it fails, try the package lists already there.
		updated=1
		quietly apt-get update -q ||
			echo "deps: apt-get update failed" >&2
	fi
	echo "deps: apt-get install -y $*" >&2
	quietly apt-get install "${opts[@]}" "$@"
}

need_build=$(missing "$build_deps")
need_test=
[ "$mode" = test ] && need_test=$(missing "$test_deps")
[ -z "$need_build$need_test" ] && exit 0

if can_install; then
	# One transaction for everything; if that fails (a test package
	# unavailable, say), the build packages alone, then each test package.
	if ! apt_install $need_build $need_test; then
		[ -n "$need_build" ] && apt_install $need_build
		for pkg in $need_test; do
			apt_install "$pkg" || true
		done
	fi
	need_build=$(missing "$build_deps")
	[ "$mode" = test ] && need_test=$(missing "$test_deps")
fi

if [ -n "$need_test" ]; then
	echo "deps: warning: missing $need_test; the compat tests that need" \
		"them will skip. To install:" >&2
	echo "    sudo apt-get install -y $need_test" >&2
fi
if [ -n "$need_build" ]; then
	echo "deps: error: libgmp needs these packages to build:" \
		"$need_build" >&2
	echo "    sudo apt-get install -y $need_build" >&2
	exit 1
fi
exit 0
