#!/bin/sh
# durability.sh - what "durable before final" costs: procdump64.exe -ma of a
# filled target with the flush before the rename (the default) and without
# it (test hook PROCDUMP_TEST_NO_FLUSH=1), alternating, in one run.
#
# Usage: sh bench/durability.sh [MiB] [RUNS]     (default 512 MiB, 5 runs each)
# Prints the median wall time of each and their ratio (flush / no flush),
# and the throughput of each.  The dumps go to $BENCH_DIR (default
# $TMPDIR/pd-bench/durability): a page cache much larger than the dump hides
# the cost of the data's first write, not of the flush.
set -eu
tgt=
name=durability
. "$(dirname "$0")/common.sh"
mib=${1:-512}
runs=${2:-5}
case $mib$runs in *[!0-9]*) echo "durability.sh: MiB and RUNS are numbers" >&2; exit 2 ;; esac
trap 'kill $tgt 2>/dev/null; rm -f "$work"/*.dmp; wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror "$here/filler.c" -o "$work/filler.exe"

$WINE "$work/filler.exe" "$mib" >"$work/filler.log" 2>&1 &
tgt=$!
await "$work/filler.log" '^ready' 120
pid=$(sed -n 's/^pid=//p' "$work/filler.log" | tr -d '\r')

one() { # one flush|noflush: seconds of one -ma, appended to $work/$1.t
	rm -f "$work/x.dmp"
	t0=$(date +%s.%N)
	if [ "$1" = noflush ]; then
		PROCDUMP_TEST_NO_FLUSH=1 $WINE "$top/procdump64.exe" -ma "$pid" "$(wpath "$work/x.dmp")" >/dev/null 2>&1
	else
		$WINE "$top/procdump64.exe" -ma "$pid" "$(wpath "$work/x.dmp")" >/dev/null 2>&1
	fi
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }' >>"$work/$1.t"
	wc -c <"$work/x.dmp" >"$work/bytes"
}
rm -f "$work"/*.t
one flush # warm-up, not counted
rm -f "$work"/*.t
i=0
while [ $i -lt "$runs" ]; do
	one flush
	one noflush
	i=$((i + 1))
done
f=$(median <"$work/flush.t")
n=$(median <"$work/noflush.t")
b=$(cat "$work/bytes")
printf '%-10s %9s %10s\n' "" "median s" "MB/s"
printf '%-10s %9.3f %10.0f\n' flush "$f" "$(echo "$b $f" | awk '{ print $1 / 1e6 / $2 }')"
printf '%-10s %9.3f %10.0f\n' "no flush" "$n" "$(echo "$b $n" | awk '{ print $1 / 1e6 / $2 }')"
echo "ratio flush / no flush: $(echo "$f $n" | awk '{ printf "%.2f", $1 / $2 }')  ($runs runs each, alternating; $b-byte dumps of filler.exe $mib)"
echo "command: sh bench/durability.sh $mib $runs"
