#!/bin/sh
# demo.sh - what `make demo` runs: launch the bundled sample (an order
# processor whose worker thread dereferences NULL) under procdump64.exe -ma -e
# in Wine, then print a summary of the dump written at the crash, read back by
# obj2yaml and lldb (not by procdump).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh" # T, O, WINEPREFIX (PD_WINEPREFIX), WINEDLLS, wpath, wine_prefix
out=$O/demo
mkdir -p "$out"
rm -f "$out"/*.dmp

$CC64 $TCFLAGS "$T/sample.c" -o "$T/sample.exe"
# keep one server up for the run; stop it at the end only if we started it
trap '[ "${WINE_STARTED:-0}" = 0 ] || wineserver -k' EXIT
wine_prefix 'demo: '

# printf, not echo: dash's echo turns the \t of Z:\tmp\... into a tab
printf '%s\n' "\$ wine procdump64.exe -ma -e -x $(wpath "$out") sample.exe"
$WINE "$top/procdump64.exe" -ma -e -x "$(wpath "$out")" "$(wpath "$T/sample.exe")" | tr -d '\r'
dump=$(ls "$out"/*.dmp)

echo
echo "=== Summary of $(basename "$dump") ($(wc -c <"$dump") bytes), read by obj2yaml and lldb ==="
obj2yaml "$dump" >"$out/dump.yaml"
printf 'Streams:  '
sed -n 's/^  - Type: *//p' "$out/dump.yaml" | tr '\n' ' '
echo
awk '/Type: *Exception/ { e = 1 } e && /Thread ID|Exception Code|Exception Address|Parameter [01]/ {
	sub(/^ */, "  "); print } e && /Thread Context/ { exit }' "$out/dump.yaml"
lldb -b -O "settings set target.exec-search-paths $WINEDLLS $T" --core "$dump" \
	-o 'image list' -o 'thread list' -o 'bt' </dev/null 2>/dev/null >"$out/lldb.txt" || true
echo "Modules (base, file, CodeView identity):"
sed -n 's/^\[ *[0-9]*\] *\([0-9A-F-]*\) *\(0x[0-9a-f]*\) \(.*\)/  \2 \3 \1/p' "$out/lldb.txt"
echo "Threads:"
sed -n 's/^[* ] thread #[0-9]*: \(tid = [^,]*\), [^ ]* \(.*\)/  \1  \2/p' "$out/lldb.txt" | cut -c1-110
echo "Backtrace of the crashing thread:"
sed -n '/^(lldb) bt$/,$p' "$out/lldb.txt" | grep 'frame #' | cut -c1-110
echo "The worker thread read a NULL customer (c=0x0) for order 1003: see charge_customer."
