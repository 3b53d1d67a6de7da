#!/bin/sh
# outage.sh - how long the target stands still during a -ma, with and
# without -r (the in-memory clone), at 512 MiB and 2 GiB, in one run,
# alternating run by run.  The target (bench/filler.c gaps) stamps
# QueryPerformanceCounter every millisecond and prints each gap over 20 ms:
# the outage of a dump is the longest gap printed while it ran.  Also per
# mode: the dump time (procdump -v "dump took"), and for -r the copy's
# throughput ("cloned N MB in X s"); and once per size, that the clone's dump
# holds the same bytes of the filled memory as the frozen target's (SHA-256 of
# the range, bench/mdmem.py).
#
# Usage: sh bench/outage.sh [RUNS] [MiB...]   (default 3 runs; 512 2048 MiB)
set -eu
runs=${1:-3}
[ $# = 0 ] || shift # (dash exits on a shift past the end)
sizes=${*:-512 2048}
tgt=
name=outage
. "$(dirname "$0")/common.sh"
trap 'kill $tgt 2>/dev/null || :; rm -f "$work"/*.dmp; wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O2 -static -Wall -Wextra -Werror "$here/filler.c" -o "$work/filler.exe"

once() { # once MODE(plain|clone) N: "outage_ms dump_s copy_MBps" of one -ma; keeps the dump as N.dmp
	rm -f "$work/$1.dmp"
	before=$(grep -c '^gap=' "$work/target.log" || :)
	[ "$1" = clone ] && r=-r || r=
	$WINE "$top/procdump64.exe" -v $r -ma "$pid" "$(wpath "$work/$1.dmp")" >"$work/out.txt" 2>&1 ||
		{ echo "dump failed ($1): $(tail -n 3 "$work/out.txt")" >&2; exit 1; }
	sleep 0.5 # (the last gap is printed once the target runs again)
	gap=$(tr -d '\r' <"$work/target.log" | grep '^gap=' | tail -n +"$((before + 1))" |
		sed 's/^gap=\([0-9.]*\).*/\1/' | sort -n | tail -n 1)
	took=$(sed -n 's/.*dump took \([0-9.]*\) s.*/\1/p' "$work/out.txt")
	tp=$(sed -n 's/.*cloned [0-9]* MB in [0-9.]* s (\([0-9]*\) MB\/s).*/\1/p' "$work/out.txt")
	echo "${gap:-20} $took ${tp:--}"
}

printf '%-6s %-6s %12s %10s %12s   (%s runs each, medians)\n' MiB mode outage_ms dump_s copy_MB/s "$runs"
for mib in $sizes; do
	$WINE "$work/filler.exe" "$mib" gaps >"$work/target.log" 2>&1 &
	tgt=$!
	await "$work/target.log" '^ready' 300
	pid=$(sed -n 's/^pid=//p' "$work/target.log" | tr -d '\r')
	fill=$(sed -n 's/^fill=\([0-9A-Fa-fx]*\).*/\1/p' "$work/target.log" | tr -d '\r')
	: >"$work/plain" && : >"$work/clone"
	once plain >/dev/null # warm-up
	k=0
	while [ $k -lt "$runs" ]; do
		once plain >>"$work/plain"
		[ $k = 0 ] && mv "$work/plain.dmp" "$work/keep-plain.dmp"
		once clone >>"$work/clone"
		[ $k = 0 ] && mv "$work/clone.dmp" "$work/keep-clone.dmp"
		k=$((k + 1))
	done
	for m in plain clone; do
		g=$(cut -d' ' -f1 <"$work/$m" | median) d=$(cut -d' ' -f2 <"$work/$m" | median)
		tp=$([ $m = clone ] && cut -d' ' -f3 <"$work/$m" | median || echo -)
		printf '%-6s %-6s %12s %10s %12s\n' "$mib" "$m" "$g" "$d" "$tp"
	done
	echo "   outages (ms), plain: $(cut -d' ' -f1 <"$work/plain" | tr '\n' ' ')  clone: $(cut -d' ' -f1 <"$work/clone" | tr '\n' ' ')"
	a=$(python3 "$here/mdmem.py" "$work/keep-plain.dmp" "${fill#0x}" $((mib << 20)))
	b=$(python3 "$here/mdmem.py" "$work/keep-clone.dmp" "${fill#0x}" $((mib << 20)))
	[ "$a" = "$b" ] && echo "   the filled $mib MiB: identical in both dumps (sha256 ${a%"${a#????????????}"}...)" ||
		echo "   the filled $mib MiB DIFFER: plain $a, clone $b"
	rm -f "$work"/*.dmp
	kill $tgt 2>/dev/null || :
	gone $tgt
	tgt=
done
