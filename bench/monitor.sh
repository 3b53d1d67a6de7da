#!/bin/sh
# monitor.sh - what monitoring costs: procdump64.exe's own CPU time while it
# watches an idle target with -c and -m (thresholds never reached) for
# DURATION seconds, and the CPU it causes in wineserver (each sample is a
# system call that Wine serves there), against a window of the same length
# without procdump.
#
# Usage: sh bench/monitor.sh            (DURATION=60 by default)
# Goal (issue 5): procdump <= 0.5 % of one core for one target.
# CPU times come from /proc/<pid>/stat (utime+stime) of the Unix processes.
set -eu
dur=${DURATION:-60}
tgt=
name=monitor
. "$(dirname "$0")/common.sh"
trap 'kill $tgt 2>/dev/null; wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$top/test/load.c" -o "$work/load.exe" -luser32

server=$(pgrep -n wineserver)

$WINE "$work/load.exe" idle >"$work/load.log" 2>&1 &
tgt=$!
await "$work/load.log" '^ready'
pid=$(sed -n 's/^pid=//p' "$work/load.log" | tr -d '\r')

echo "== baseline: $dur s of the idle target alone"
s0=$(ticks "$server")
sleep "$dur"
s1=$(ticks "$server")

echo "== procdump64.exe -c 95 -m 100000 -s 10 $pid, $dur s"
$WINE "$top/procdump64.exe" -c 95 -m 100000 -s 10 "$pid" >"$work/pd.log" 2>&1 &
pdu=$!
await "$work/pd.log" 'Press Ctrl-C'
p0=$(ticks "$pdu")
w0=$(ticks "$server")
sleep "$dur"
p1=$(ticks "$pdu")
w1=$(ticks "$server")
kill -INT "$pdu"
gone "$pdu"
wait "$pdu" || true

awk -v p="$((p1 - p0))" -v w="$((w1 - w0))" -v b="$((s1 - s0))" -v hz="$hz" -v d="$dur" 'BEGIN {
	printf "\nCPU over %d s (percent of one core; clock ticks of 1/%d s)\n", d, hz
	printf "  procdump64.exe itself        %6.3f %%  (%d ticks)\n", 100 * p / hz / d, p
	printf "  wineserver, with procdump    %6.3f %%  (%d ticks)\n", 100 * w / hz / d, w
	printf "  wineserver, baseline         %6.3f %%  (%d ticks)\n", 100 * b / hz / d, b
	printf "goal: procdump64.exe <= 0.5 %% of one core\n"
}'
echo "command: wine procdump64.exe -c 95 -m 100000 -s 10 <pid of an idle target>"
