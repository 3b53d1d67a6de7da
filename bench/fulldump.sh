#!/bin/sh
# fulldump.sh - full-memory dump throughput under Wine: procdump64.exe -ma
# against the ReadProcessMemory limit and against dbghelp's MiniDumpWriteDump.
#
# Usage: sh bench/fulldump.sh [MiB]          (default 256)
# Environment:
#   RUNS=3              runs per method; the median is reported (for an even
#                       RUNS the lower of the two middle runs: lower_median)
#   SKIP_DBGHELP=1      skip the dbghelp baseline (about 10 MiB/s: ~25-30 s per run at 256 MiB)
#   BENCH_PREFIX=...    Wine prefix, default $TMPDIR/pd-bench-prefix (created on first use, ~10 s);
#                       an inherited WINEPREFIX is ignored, as the script kills its wineserver
#   BENCH_DIR=...       work folder for binaries and dumps, default $TMPDIR/pd-bench
#   KEEP=1              keep the dump files (they are deleted at exit otherwise)
# Not part of the test suite: about 2 minutes at 256 MiB (20 s with SKIP_DBGHELP),
# and about 3x <MiB> of disk at peak.
set -eu

die() { echo "fulldump.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$top/test/lib.sh" # wpath and wine_prefix, shared with the tests
tmp=${TMPDIR:-/tmp}
mib=${1:-256}
runs=${RUNS:-3}
work=${BENCH_DIR:-$tmp/pd-bench}
CC=${CC:-x86_64-w64-mingw32-gcc}

case $mib in ''|*[!0-9]*|0) die "size must be a positive number of MiB, got '$mib'";; esac
case $runs in ''|*[!0-9]*|0) die "RUNS must be a positive number, got '$runs'";; esac

# Our own prefix, never an inherited WINEPREFIX: the script kills its server.
export WINEPREFIX="${BENCH_PREFIX:-$tmp/pd-bench-prefix}"
export WINEDEBUG=-all

# ---------------------------------------------------------------- build
echo "== building (make -C $top procdump64.exe)"
pd="$top/procdump64.exe"
if ! make -C "$top" procdump64.exe; then
	[ -f "$pd" ] || die "$pd is missing and 'make -C $top procdump64.exe' failed"
	die "'make -C $top procdump64.exe' failed (not benchmarking a stale $pd)"
fi
[ -f "$pd" ] || die "$pd is missing (build it with 'make' at the repo top)"

mkdir -p "$work/bin" "$work/out"
for p in filler rpmlimit; do
	"$CC" -O2 -Wall -Wextra -static -o "$work/bin/$p.exe" "$here/$p.c"
done
"$CC" -O2 -Wall -Wextra -static -o "$work/bin/dbghelpdump.exe" "$here/dbghelpdump.c" -ldbghelp

filler_job=
filler_pid=
cleanup() {
	if [ -n "$filler_pid" ]; then
		$WINE taskkill /f /pid "$filler_pid" >/dev/null 2>&1 || :
	fi
	if [ -n "$filler_job" ]; then
		kill "$filler_job" 2>/dev/null || :
		wait "$filler_job" 2>/dev/null || :
	fi
	wineserver -k 2>/dev/null || :
	if [ -z "${KEEP:-}" ]; then
		rm -f "$work/out/"*.dmp "$work/out/"*.bin "$work/out/"*.tmp
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- prefix
# Keep one server up for the whole run (doc/WINE.md fact 3), replacing any that
# runs in this prefix; create the prefix on first use (about 10 s), with
# Graphics=null and an empty AeDebug Debugger (test/lib.sh's wine_prefix).
wine_prefix '== ' replace || die "cannot set up the Wine prefix $WINEPREFIX"

# ---------------------------------------------------------------- target
log="$work/out/filler.log"
: > "$log"
echo "== starting filler.exe $mib (commits and fills $mib MiB)"
$WINE "$work/bin/filler.exe" "$mib" > "$log" 2>&1 &
filler_job=$!
deadline=$(( $(date +%s) + 60 ))
until tr -d '\r' < "$log" | grep -qx ready; do
	kill -0 "$filler_job" 2>/dev/null || die "filler.exe exited early: $(cat "$log")"
	[ "$(date +%s)" -lt "$deadline" ] || die "filler.exe not ready after 60 s: $(cat "$log")"
	sleep 0.1
done
filler_pid=$(tr -d '\r' < "$log" | sed -n 's/^pid=\([0-9][0-9]*\)$/\1/p')
[ -n "$filler_pid" ] || die "no pid= line from filler.exe: $(cat "$log")"
echo "   filler pid $filler_pid"

# ---------------------------------------------------------------- helpers
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
fsize() { if [ -f "$1" ]; then wc -c < "$1" | tr -d ' '; else echo 0; fi; }
# lower_median: of the numbers on stdin, the middle one, or of two middle
# ones the lower: always a value one run gave (whole bytes, a real time)
lower_median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# reported NAME: value of NAME=... in a "bytes=N seconds=S" line on stdin
reported() { tr -d '\r' | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -n 1; }

# run_one NAME I: one run of run_NAME (which sets secs, wall and bytes),
# appending "seconds bytes wall" to $work/out/NAME.times.
run_one() {
	"run_$1" || die "$1 run $2 failed"
	echo "   $1 run $2: $secs s (wall $wall s), $bytes bytes"
	echo "$secs $bytes $wall" >> "$work/out/$1.times"
}
# medians NAME: sets med_s, med_b, med_w and min_s (fastest run) from $work/out/NAME.times.
medians() {
	med_s=$(awk '{ print $1 }' "$work/out/$1.times" | lower_median)
	med_b=$(awk '{ print $2 }' "$work/out/$1.times" | lower_median)
	med_w=$(awk '{ print $3 }' "$work/out/$1.times" | lower_median)
	min_s=$(awk '{ print $1 }' "$work/out/$1.times" | sort -n | head -n 1)
}

# (a) ReadProcessMemory + WriteFile in 8 MiB chunks: the practical limit.
limit_out="$work/out/limit.bin"
run_limit() {
	rm -f "$limit_out"
	t0=$(now)
	r=$($WINE "$work/bin/rpmlimit.exe" "$filler_pid" "$(wpath "$limit_out")") || return 1
	wall=$(elapsed "$t0")
	secs=$(echo "$r" | reported seconds)
	bytes=$(fsize "$limit_out")
	[ "$bytes" -gt 0 ]
}

# (b) ours: wall time of the whole wine call, measured here.
ours_out="$work/out/ours.dmp"
ours_cmd="$WINE $pd -accepteula -ma $filler_pid $(wpath "$ours_out")"
run_ours() {
	rm -f "$work/out/"ours*.dmp "$work/out/"ours*.tmp
	rc=0
	t0=$(now)
	$WINE "$pd" -accepteula -ma "$filler_pid" "$(wpath "$ours_out")" \
		> "$work/out/ours.stdout" 2>&1 || rc=$?
	secs=$(elapsed "$t0")
	wall=$secs
	f=$ours_out
	if [ ! -f "$f" ]; then # ProcDump may have decorated the name
		for g in "$work/out/"ours*.dmp; do
			[ -f "$g" ] && f=$g
		done
	fi
	bytes=$(fsize "$f")
	if [ "$rc" -ne 0 ] || [ "$bytes" -eq 0 ]; then
		echo "procdump64.exe exit code $rc, dump size $bytes; its output:" >&2
		cat "$work/out/ours.stdout" >&2
		return 1
	fi
}

# (c) dbghelp MiniDumpWriteDump(MiniDumpWithFullMemory) after SymInitialize(FALSE).
dbghelp_out="$work/out/dbghelp.dmp"
run_dbghelp() {
	rm -f "$dbghelp_out"
	t0=$(now)
	r=$($WINE "$work/bin/dbghelpdump.exe" "$filler_pid" "$(wpath "$dbghelp_out")" 2) || return 1
	wall=$(elapsed "$t0")
	secs=$(echo "$r" | reported seconds)
	bytes=$(fsize "$dbghelp_out")
	[ "$bytes" -gt 0 ]
}

# ---------------------------------------------------------------- runs
# Timings on a small VM vary by +-30 % from run to run (page cache, wineserver
# scheduling), so (a) and (b) alternate round by round and see the same
# conditions, after one untimed warm-up read.
: > "$work/out/limit.times"
: > "$work/out/ours.times"
echo "== warm-up: rpmlimit.exe to NUL (not timed)"
$WINE "$work/bin/rpmlimit.exe" "$filler_pid" NUL >/dev/null || die "rpmlimit.exe warm-up failed"
echo "== (a) limit: rpmlimit.exe and (b) ours: procdump64.exe -ma, alternating, $runs runs each"
i=1
while [ "$i" -le "$runs" ]; do
	run_one limit "$i"
	run_one ours "$i"
	i=$((i + 1))
done
medians limit; lim_s=$med_s; lim_b=$med_b; lim_w=$med_w; lim_m=$min_s
medians ours; our_s=$med_s; our_b=$med_b; our_m=$min_s
if [ -n "${SKIP_DBGHELP:-}" ]; then
	echo "== (c) dbghelp: skipped (SKIP_DBGHELP is set)"
	dbg_s=; dbg_b=; dbg_w=; dbg_m=
else
	echo "== (c) dbghelp: MiniDumpWriteDump(FullMemory), $runs runs (about 10 MiB/s: ~25-30 s a run at 256 MiB)"
	: > "$work/out/dbghelp.times"
	i=1
	while [ "$i" -le "$runs" ]; do
		run_one dbghelp "$i"
		i=$((i + 1))
	done
	medians dbghelp; dbg_s=$med_s; dbg_b=$med_b; dbg_w=$med_w; dbg_m=$min_s
fi

# ---------------------------------------------------------------- report
mibs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1048576 / s; else print "inf" }'; }
echo
echo "Full-memory dump of a $mib MiB filled target, median of $runs runs (Wine, WINEDEBUG=-all)"
row() { printf '%-8s %8s %8s %8s %8s %11s\n' "$@"; }
row method MiB/s seconds best wall bytes
row limit "$(mibs "$lim_b" "$lim_s")" "$lim_s" "$lim_m" "$lim_w" "$lim_b"
row ours "$(mibs "$our_b" "$our_s")" "$our_s" "$our_m" "$our_s" "$our_b"
if [ -n "$dbg_s" ]; then
	row dbghelp "$(mibs "$dbg_b" "$dbg_s")" "$dbg_s" "$dbg_m" "$dbg_w" "$dbg_b"
fi
echo
ratio() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { printf "%.2f", (a / b) / (c / d) }'; }
echo "ours/limit throughput:   $(ratio "$our_b" "$our_s" "$lim_b" "$lim_s")x (goal >= 0.7;" \
	"best run against best run: $(ratio "$our_b" "$our_m" "$lim_b" "$lim_m")x;" \
	"wall against wall: $(ratio "$our_b" "$our_s" "$lim_b" "$lim_w")x)"
if [ -n "$dbg_s" ]; then
	echo "ours/dbghelp throughput: $(ratio "$our_b" "$our_s" "$dbg_b" "$dbg_s")x (goal >= 20)"
else
	echo "ours/dbghelp throughput: n/a (SKIP_DBGHELP)"
fi
echo
echo "MiB/s = bytes written / seconds (median). 'seconds' is timed inside rpmlimit.exe"
echo "and dbghelpdump.exe (process start excluded) and is the wall time of the whole"
echo "wine call for procdump64.exe; 'best' is the fastest run; 'wall' is the median"
echo "wall time of each wine call."
printf 'command: %s\n' "$ours_cmd"
echo "its stdout (last run):"
tr -d '\r' < "$work/out/ours.stdout" | sed 's/^/  | /'

