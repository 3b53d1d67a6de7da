#!/bin/sh
# versus.sh - this procdump64.exe against the one of another revision, on
# one target: -mm and -ma dump times, alternating run by run so that both
# see the same machine, and the ratio of the medians (this / that).
#
# Usage: sh bench/versus.sh REV [RUNS]   (RUNS per build and type, default 5)
# The target is test/load.exe area 2 96 (192 MiB private, every page set
# where it is touched); the other build is compiled from `git show
# REV:procdump.c` into the work folder, never into the repository.
set -eu
rev=${1:?usage: sh bench/versus.sh REV [RUNS]}
runs=${2:-5}
tgt=
name=versus
. "$(dirname "$0")/common.sh"
trap 'kill $tgt 2>/dev/null; rm -f "$work"/*.dmp; wineserver -k' EXIT
git -C "$top" show "$rev:procdump.c" >"$work/base.c"
x86_64-w64-mingw32-gcc -O2 -municode -static "$work/base.c" -o "$work/base.exe" -ladvapi32
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$top/test/load.c" -o "$work/load.exe" -luser32

$WINE "$work/load.exe" area 2 96 >"$work/load.log" 2>&1 &
tgt=$!
await "$work/load.log" '^ready' 60
pid=$(sed -n 's/^pid=//p' "$work/load.log" | tr -d '\r')

once() { # once EXE TYPE: seconds of one dump, wall time of the wine call
	rm -f "$work/x.dmp"
	t0=$(date +%s.%N)
	wine "$1" "-$2" "$pid" "$(wpath "$work/x.dmp")" >/dev/null 2>&1 || { echo "dump failed: $1 -$2" >&2; exit 1; }
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}

printf '%-4s %10s %10s %8s   (%s runs each; medians of wall seconds; this = %s, that = %s)\n' \
	type this that ratio "$runs" "$(git -C "$top" rev-parse --short HEAD)" "$rev"
for type in mm ma; do
	: >"$work/this.$type" && : >"$work/that.$type"
	once "$top/procdump64.exe" "$type" >/dev/null # warm-up
	k=0
	while [ $k -lt "$runs" ]; do
		once "$top/procdump64.exe" "$type" >>"$work/this.$type"
		once "$work/base.exe" "$type" >>"$work/that.$type"
		k=$((k + 1))
	done
	a=$(median <"$work/this.$type") b=$(median <"$work/that.$type")
	printf '%-4s %10s %10s %8s\n' "-$type" "$a" "$b" "$(echo "$a $b" | awk '{ printf "%.2f", $1 / $2 }')"
done
