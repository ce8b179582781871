#!/usr/bin/env bash
# tools/check-exports.sh [BUILD_DIR [MAP]]: libgmp.so exports only what the
# linker map allows (STYLE.md §8, DESIGN.md §9).
#
# Fails if a dynamic symbol defined by BUILD_DIR/libgmp.so (default build/)
# matches no name or glob under "global:" in MAP (default
# preload/libgmp.map), if one starts with gmp_ (GNU MP's prefix), or if the
# library defines a version node: the map must be one anonymous node, or the
# interposed names would be versioned and calls bound to, say,
# pthread_cond_wait@GLIBC_2.3.2 would miss them. Names the map lists that
# are not exported are reported as warnings (a shim not written yet, or one
# left hidden by -fvisibility=hidden, which would then not interpose).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
map=${2:-$top/preload/libgmp.map}
lib=$build/libgmp.so

if [ ! -f "$lib" ]; then
	echo "check-exports: $lib not found (run make)" >&2
	exit 1
fi
[ -f "$map" ] || { echo "check-exports: $map not found" >&2; exit 1; }

# The map's global patterns: drop comments, then take the words between
# "global:" and the next "local:" or "}".
globals=$(perl -0777 -pe 's{/\*.*?\*/}{}gs; s{#[^\n]*}{}g' "$map" |
	sed -e 's/global[[:space:]]*:/ global: /g' \
	    -e 's/local[[:space:]]*:/ local: /g' -e 's/[;{}]/ & /g' |
	awk '{ for (i = 1; i <= NF; i++) {
		if ($i == "global:") on = 1
		else if ($i == "local:" || $i == "}") on = 0
		else if (on && $i != ";" && $i != "{") print $i } }' |
	sort -u)

# Defined dynamic symbols: "value type name[@version]"; type A is a
# version node's own name.
syms=$(nm -D --defined-only "$lib" | awk 'NF >= 3')
nodes=$(awk '$2 == "A" { print $3 }' <<<"$syms" | sort -u)
names=$(awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' <<<"$syms" |
	sort -u)

fail=0
if [ -n "$nodes" ]; then
	echo "check-exports: version node(s) defined: $nodes" \
		"(the map must be a single anonymous node)"
	fail=1
fi
nexp=0
for name in $names; do
	nexp=$((nexp + 1))
	case $name in
	gmp_*)	echo "check-exports: $name: gmp_ is GNU MP's prefix" \
			"(DESIGN.md §9)"
		fail=1
		continue ;;
	esac
	ok=0
	for pat in $globals; do
		# shellcheck disable=SC2053 # $pat is a glob on purpose
		if [[ $name == $pat ]]; then
			ok=1
			break
		fi
	done
	if [ $ok = 0 ]; then
		echo "check-exports: $name is exported but not in" \
			"$(basename "$map")"
		fail=1
	fi
done

unexported=
for pat in $globals; do
	case $pat in
	*[*?[]*) continue ;;	# a glob may match nothing yet
	esac
	grep -qxF -- "$pat" <<<"$names" || unexported="$unexported $pat"
done
if [ -n "$unexported" ]; then
	echo "check-exports: warning: in the map but not exported:$unexported" |
		fold -s -w 78
fi

# One TAP line, for make test's count.
if [ $fail != 0 ]; then
	echo "not ok 1 - exports_match_linker_map # $lib"
	exit 1
fi
echo "ok 1 - exports_match_linker_map # $nexp symbols," \
	"all in $(basename "$map")"
