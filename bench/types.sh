#!/bin/sh
# types.sh - dump size and time per dump type (-mm -mt -mp -ma), ours
# against Wine's dbghelp (procdump64.exe -dbghelp, same type mask) on one
# target: test/load.exe area 6 96 (six private allocations of 96 MiB, an
# "area" of 576 MiB that -mp leaves out, plus a 4 MiB block).
#
# Usage: sh bench/types.sh        (about 2 minutes: dbghelp's -ma reads
#                                  ~600 MB 1 KiB at a time; SKIP_DBGHELP_MA=1 skips it)
set -eu
tgt=
name=types
. "$(dirname "$0")/common.sh"
trap 'kill $tgt 2>/dev/null; rm -f "$work"/*.dmp; wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$top/test/load.c" -o "$work/load.exe" -luser32

$WINE "$work/load.exe" area 6 96 >"$work/load.log" 2>&1 &
tgt=$!
await "$work/load.log" '^ready' 60
pid=$(sed -n 's/^pid=//p' "$work/load.log" | tr -d '\r')

run() { # run LABEL ARGS...: one dump, prints "seconds bytes"
	rm -f "$work/x.dmp"
	t0=$(date +%s.%N)
	wine "$top/procdump64.exe" "$@" "$pid" "$(wpath "$work/x.dmp")" >/dev/null 2>&1 || { echo "- -"; return; }
	t1=$(date +%s.%N)
	echo "$t0 $t1 $(wc -c <"$work/x.dmp")" | awk '{ printf "%.2f %d\n", $2 - $1, $3 }'
}
printf '%-5s %12s %10s %14s %10s %9s\n' type "ours bytes" "ours s" "dbghelp bytes" "dbghelp s" "size/ma"
ma_bytes=$(run -ma | awk '{ print $2 }')
for type in mm mt mp ma; do
	o=$(run -$type)
	if [ "$type" = ma ] && [ -n "${SKIP_DBGHELP_MA:-}" ]; then
		g="- -"
	else
		g=$(run -dbghelp -$type)
	fi
	set -- $o $g
	printf '%-5s %12s %10s %14s %10s %8.1f%%\n' "-$type" "$2" "$1" "$4" "$3" \
		"$(echo "$2 $ma_bytes" | awk '{ print 100 * $1 / $2 }')"
done
echo "target: load.exe area 6 96 ($(grep -c '^block' "$work/load.log") x 96 MiB private area + 4 MiB); seconds are wall time of the wine call"
echo "command: wine procdump64.exe [-dbghelp] -mm|-mt|-mp|-ma <pid> <file>"
