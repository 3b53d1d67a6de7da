#!/bin/sh
# trace.sh [PROCDUMP_C]: one traced `procdump64 -ma PID` of test/target.exe
# under Wine, and what it visits (bench/README.md, "Traced dump").
#
# Builds procdump64 from PROCDUMP_C (default: the repository's procdump.c)
# with -finstrument-functions and bench/trace_enter.c linked in, unstripped,
# into $BENCH_DIR/trace (never into the repository), runs it once on a
# fresh target.exe, and prints bench/trace.py's counts.  TRACE_VERBOSE=1
# also lists each thread's sequence of sections.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"
src=$(cd "$(dirname "${1:-$top/procdump.c}")" && pwd)/$(basename "${1:-$top/procdump.c}")
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/pd-bench}/trace
O=$dir/out
mkdir -p "$dir" "$O"
exe=$dir/procdump64-trace.exe

# the product's flags, -finstrument-functions and no -s (nm reads the names)
$CC64 -O2 -Wall -Wextra -Wformat=2 -Werror -c "$top/bench/trace_enter.c" -o "$dir/trace_enter.o"
$CC64 -O2 -Wall -Wextra -Wformat=2 -Werror -municode -static -finstrument-functions \
	"$src" "$dir/trace_enter.o" -o "$exe" -ladvapi32
x86_64-w64-mingw32-nm "$exe" >"$dir/nm.txt"
# the image base the records are relative to
x86_64-w64-mingw32-objdump -p "$exe" | awk '$1 == "ImageBase" { print "0x" $2, "A", "__ImageBase" }' >>"$dir/nm.txt"
[ -f "$T/target.exe" ] || $CC64 $TCFLAGS "$T/target.c" -o "$dir/target.exe"
tgt=$T/target.exe
[ -f "$tgt" ] || tgt=$dir/target.exe

wine_prefix "# "
cleanup() {
	[ -f "$O/tr.upid" ] && kill "$(cat "$O/tr.upid")" 2>/dev/null || :
	[ "$WINE_STARTED" = 1 ] && wineserver -k 2>/dev/null || :
}
trap cleanup EXIT
start_target tr "$tgt"
pid=$(field tr pid)
rm -f "$dir/trace.bin" "$dir/out.dmp"
PD_TRACE_FILE=$(wpath "$dir/trace.bin") $WINE "$exe" -accepteula -ma "$pid" "$(wpath "$dir/out.dmp")" \
	>"$dir/pd.out" 2>&1 || { cat "$dir/pd.out"; echo "trace.sh: procdump failed" >&2; exit 1; }
[ -s "$dir/trace.bin" ] || { echo "trace.sh: no trace written" >&2; exit 1; }
echo "# $(basename "$src"): procdump64 -ma $pid, $(wc -c <"$dir/out.dmp") bytes"
python3 "$top/bench/trace.py" "$dir/trace.bin" "$dir/nm.txt" "$src" ${TRACE_VERBOSE:+-v}
