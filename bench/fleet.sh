#!/bin/sh
# fleet.sh - what watching many processes costs (issue 13, Scale):
#  1. CPU: procdump64.exe -all -c 90 -m 4000 over N idle targets for
#     DURATION seconds: procdump's own CPU time and wineserver's, against a
#     window of the same length without procdump.  Then the same with -w
#     (the watcher also reads the process list four times a second).
#  2. Latency: under -all -w -c 20 -s 2, one more target starts and burns a
#     core; the seconds from its "ready" to its "Dump 1 initiated" line.
#
# Usage: sh bench/fleet.sh        (N=32, DURATION=60 by default)
# Goals: procdump <= 2 % of one core (1.); a trigger dumps within -s + 1
# seconds of the load (2.: 3 s, plus the first sample's baseline second).
# CPU times come from /proc/<pid>/stat (utime+stime) of the Unix processes.
set -eu
n=${N:-32}
dur=${DURATION:-60}
tgts=
name=fleet
. "$(dirname "$0")/common.sh"
trap 'for p in $tgts; do kill $p 2>/dev/null; done; wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$top/test/load.c" -o "$work/pdidle.exe" -luser32

server=$(pgrep -n wineserver)

i=0
while [ $i -lt "$n" ]; do
	i=$((i + 1))
	$WINE "$work/pdidle.exe" idle >"$work/idle$i.log" 2>&1 &
	tgts="$tgts $!"
done
i=0
while [ $i -lt "$n" ]; do i=$((i + 1)); await "$work/idle$i.log" '^ready' 60; done

echo "== baseline: $dur s of $n idle targets alone"
s0=$(ticks "$server")
sleep "$dur"
s1=$(ticks "$server")

# cpu ARGS...: procdump with ARGS for $dur s; prints "procdump wineserver" ticks
cpu() {
	$WINE "$top/procdump64.exe" "$@" >"$work/pd.log" 2>&1 &
	pdu=$!
	wait_count "$work/pd.log" 'Monitoring pdidle.exe' "$n" 60 || { echo "not $n monitored" >&2; exit 1; }
	p0=$(ticks "$pdu")
	w0=$(ticks "$server")
	sleep "$dur"
	p1=$(ticks "$pdu")
	w1=$(ticks "$server")
	kill -INT "$pdu"
	gone "$pdu"
	wait "$pdu" || true
	echo "$((p1 - p0)) $((w1 - w0))"
}
echo "== procdump64.exe -all -c 90 -m 4000 pdidle, $dur s"
set -- $(cpu -all -c 90 -m 4000 pdidle)
a_p=$1 a_w=$2
echo "== procdump64.exe -all -w -c 90 -m 4000 pdidle, $dur s"
set -- $(cpu -all -w -c 90 -m 4000 pdidle)
w_p=$1 w_w=$2

echo "== latency: -all -w -c 20 -s 2, one more target spins a core"
$WINE "$top/procdump64.exe" -all -w -c 20 -s 2 pdidle "$(wpath "$work")" >"$work/lat.log" 2>&1 &
pdu=$!
wait_count "$work/lat.log" 'Monitoring pdidle.exe' "$n" 60 || { echo "not $n monitored" >&2; exit 1; }
$WINE "$work/pdidle.exe" spin 1 >"$work/spin.log" 2>&1 &
tgts="$tgts $!"
await "$work/spin.log" '^ready'
t0=$(date +%s.%N)
spid=$(sed -n 's/^pid=//p' "$work/spin.log" | tr -d '\r')
await "$work/lat.log" "^\[pdidle.exe:$spid\] .*Dump 1 initiated" 30
t1=$(date +%s.%N)
kill -INT "$pdu"
gone "$pdu"
wait "$pdu" || true
rm -f "$work"/*.dmp

awk -v ap="$a_p" -v aw="$a_w" -v wp="$w_p" -v ww="$w_w" -v b="$((s1 - s0))" -v hz="$hz" -v d="$dur" \
    -v n="$n" -v t0="$t0" -v t1="$t1" 'BEGIN {
	printf "\nCPU over %d s with %d idle targets (percent of one core; ticks of 1/%d s)\n", d, n, hz
	printf "  -all:    procdump64.exe %6.3f %%  wineserver %6.3f %%\n", 100 * ap / hz / d, 100 * aw / hz / d
	printf "  -all -w: procdump64.exe %6.3f %%  wineserver %6.3f %%\n", 100 * wp / hz / d, 100 * ww / hz / d
	printf "  baseline:                        wineserver %6.3f %%\n", 100 * b / hz / d
	printf "latency: %.1f s from a new target spinning to its Dump 1 (-s 2; goal <= 3 s + 1 s baseline)\n", t1 - t0
	printf "goal: procdump64.exe <= 2 %% of one core with -all -c 90 -m 4000\n"
}'
