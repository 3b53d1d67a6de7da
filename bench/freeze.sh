#!/bin/sh
# freeze.sh - how long procdump holds its target still, by mechanism: the
# debug hold (attach, held at the first debug event; the default) against
# the guarded SuspendThread fallback (PROCDUMP_TEST_FREEZE=suspend), on the
# same target in one run, alternating run by run.  Freeze and thaw times are
# procdump's own -v lines ("froze N threads in X ms", "thawed N threads in
# Y ms"); the medians and their ratio (hold / suspend) are reported, per
# thread count.
#
# Usage: sh bench/freeze.sh [RUNS] [THREADS...]   (default 7 runs; 3 50 200 threads)
set -eu
runs=${1:-7}
[ $# = 0 ] || shift # (dash exits on a shift past the end)
counts=${*:-3 50 200}
tgt=
name=freeze
. "$(dirname "$0")/common.sh"
trap 'kill $tgt 2>/dev/null || :; rm -f "$work"/*.dmp; wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O1 "$top/test/target.c" -o "$work/target.exe"

once() { # once MODE: "freeze thaw" milliseconds of one -mm dump
	rm -f "$work/x.dmp"
	PROCDUMP_TEST_FREEZE=$1 $WINE "$top/procdump64.exe" -v -mm "$pid" "$(wpath "$work/x.dmp")" \
		>"$work/out.txt" 2>&1 || { echo "dump failed ($1): $(tail -n 3 "$work/out.txt")" >&2; exit 1; }
	f=$(sed -n 's/.*froze [0-9]* threads in \([0-9.]*\) ms.*/\1/p' "$work/out.txt")
	t=$(sed -n 's/.*thawed [0-9]* threads in \([0-9.]*\) ms.*/\1/p' "$work/out.txt")
	grep -q "froze .*($2" "$work/out.txt" || { echo "not the $2 mechanism: $(grep froze "$work/out.txt")" >&2; exit 1; }
	echo "$f $t"
}

printf '%-8s %-6s %10s %10s %8s   (%s runs each, medians in ms)\n' threads phase hold suspend ratio "$runs"
for n in $counts; do
	$WINE "$work/target.exe" "$n" 1 >"$work/target.log" 2>&1 &
	tgt=$!
	await "$work/target.log" '^ready' 60
	pid=$(sed -n 's/^pid=//p' "$work/target.log" | tr -d '\r')
	: >"$work/hold" && : >"$work/susp"
	once hold "held at a debug event" >/dev/null # warm-up
	k=0
	while [ $k -lt "$runs" ]; do
		once hold "held at a debug event" >>"$work/hold"
		once suspend "suspended, guarded" >>"$work/susp"
		k=$((k + 1))
	done
	for col in 1 2; do
		a=$(cut -d' ' -f$col <"$work/hold" | median) b=$(cut -d' ' -f$col <"$work/susp" | median)
		printf '%-8s %-6s %10s %10s %8s\n' "$((n + 2))" "$([ $col = 1 ] && echo freeze || echo thaw)" "$a" "$b" \
			"$(echo "$a $b" | awk '{ printf "%.2f", $1 / $2 }')"
	done
	kill $tgt 2>/dev/null || :
	gone $tgt
	tgt=
done
