#!/bin/sh
# churn.sh - many short-lived processes under one procdump (issue 13,
# Scale): procdump64.exe -all -w -e watches while COUNT copies of crasher.exe
# (each waits for a debugger, then crashes) start over SPAN seconds.  Every
# crash must give one dump, no instance may be missed, and procdump's own
# handle count must come back to where it was (no leak).
#
# Usage: sh bench/churn.sh       (COUNT=200, SPAN=60 by default)
set -eu
count=${COUNT:-200}
span=${SPAN:-60}
name=churn
. "$(dirname "$0")/common.sh"
trap 'wineserver -k' EXIT
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$top/test/crasher.c" -o "$work/pdchurn.exe"
x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror "$here/hcount.c" -o "$work/hcount.exe"
rm -rf "$work/dumps" "$work"/c*.log "$work/pd.log" "$work/hcount.log"
mkdir -p "$work/dumps"

handles() { $WINE "$work/hcount.exe" "$1" | tr -d "\r" | tee -a "$work/hcount.log" | sed -n "s/^handles=//p"; }

$WINE "$top/procdump64.exe" -all -w -e pdchurn "$(wpath "$work/dumps")" >"$work/pd.log" 2>&1 &
pdu=$!
await "$work/pd.log" 'without terminating the processes'
wpid=$(sed -n 's/.*procdump -cancel \([0-9]*\).*/\1/p' "$work/pd.log" | head -n 1)
h0=$(handles "$wpid")
echo "== $count crashers over $span s (procdump PID $wpid, $h0 handles)"
gap=$(awk -v s="$span" -v c="$count" 'BEGIN { printf "%.3f", s / c }')
i=0
while [ $i -lt "$count" ]; do
	i=$((i + 1))
	$WINE "$work/pdchurn.exe" av >"$work/c$i.log" 2>&1 &
	sleep "$gap"
done
wait_count "$work/pd.log" 'Dump count reached' "$count" 180 || :
sleep 2
h1=$(handles "$wpid")
kill -INT "$pdu"
gone "$pdu" 60
wait "$pdu" || true
crashed=$(cat "$work"/c*.log | tr -d '\r' | grep -c '^event=' || true)
dumps=$(ls "$work/dumps" | grep -c '\.dmp$' || true)
pids=$(cat "$work"/c*.log | tr -d '\r' | sed -n 's/^pid=//p' | sort -u | wc -l)
named=0
for p in $(cat "$work"/c*.log | tr -d '\r' | sed -n 's/^pid=//p'); do
	ls "$work/dumps" | grep -q "^pdchurn.exe_${p}_" && named=$((named + 1))
done
echo
echo "crashers started: $count (distinct PIDs $pids); crashed: $crashed"
echo "dumps: $dumps; crashers with a dump named by their PID: $named"
grep 'processes monitored' "$work/pd.log" | tail -n 1
echo "procdump's handles: $h0 at the start, $h1 after the last dump"
echo "goal: every crash dumped, none missed, the handle count flat"
rm -rf "$work/dumps" "$work"/c*.log "$work/pd.log" "$work/hcount.log"
