#!/bin/sh
# holes.sh - what holes for zero pages save: -ma of a process holding MiB
# of committed zeros (test/target.c, PDTEST_ZERO_MIB) beside 64 MiB of
# data, written with holes and without (the test hook
# PROCDUMP_TEST_NO_HOLES=1 writes the zeros): file size, disk space (du)
# and the wall time of the dump.  One run of each (after a warm-up dump):
# compare the two times as a ratio within the run, not across machines.
#
# Usage: sh bench/holes.sh [MiB]          (default 512; needs about 2x that
#                                          plus 200 MB of disk in $BENCH_DIR)
set -eu
tgt=
name=holes
. "$(dirname "$0")/common.sh"
trap 'kill $tgt 2>/dev/null; rm -f "$work"/*.dmp; wineserver -k' EXIT
mib=${1:-512}
case $mib in ''|*[!0-9]*|0) echo "holes.sh: size must be a positive number of MiB, got '$mib'" >&2; exit 1;; esac
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$top/test/target.c" -o "$work/target.exe"

PDTEST_ZERO_MIB=$mib $WINE "$work/target.exe" 1 64 >"$work/target.log" 2>&1 &
tgt=$!
await "$work/target.log" '^ready' 60
pid=$(sed -n 's/^pid=//p' "$work/target.log" | tr -d '\r')

run() { # run FILE [NAME=VALUE]: one -ma dump, prints "seconds size du"
	rm -f "$work/$1"
	t0=$(date +%s.%N)
	env ${2:-} wine "$top/procdump64.exe" -ma "$pid" "$(wpath "$work/$1")" >/dev/null 2>&1 || { echo "- - -"; return; }
	t1=$(date +%s.%N)
	echo "$t0 $t1 $(stat -c %s "$work/$1") $(($(du -k "$work/$1" | cut -f1) * 1024))" |
		awk '{ printf "%.2f %d %d\n", $2 - $1, $3, $4 }'
}
run warm.dmp >/dev/null # first touch of the target's pages, out of the figures
set -- $(run holes.dmp) $(run zeros.dmp PROCDUMP_TEST_NO_HOLES=1)
printf '%-8s %12s %12s %8s %8s\n' "" "file bytes" "du bytes" "du/size" "seconds"
printf '%-8s %12s %12s %7.1f%% %8s\n' holes "$2" "$3" "$(echo "$3 $2" | awk '{ print 100 * $1 / $2 }')" "$1"
printf '%-8s %12s %12s %7.1f%% %8s\n' no-holes "$5" "$6" "$(echo "$6 $5" | awk '{ print 100 * $1 / $2 }')" "$4"
echo "time ratio holes/no-holes: $(echo "$1 $4" | awk '{ printf "%.2f", $1 / $2 }'); disk ratio: $(echo "$3 $6" | awk '{ printf "%.2f", $1 / $2 }')"
echo "target: test/target.c 1 64 with PDTEST_ZERO_MIB=$mib ($mib MiB of committed zeros); filesystem of $work: $(df -PT "$work" | awk 'NR == 2 { print $2 }')"
