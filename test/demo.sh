#!/bin/sh
# demo.sh - what `make demo` runs: launch the bundled sample (an order
# processor whose worker thread dereferences NULL) under procdump64.exe -ma -e
# in Wine, then print a summary of the dump written at the crash, read back by
# obj2yaml and lldb (not by procdump).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
T=$top/test
out=$T/out/demo
mkdir -p "$out"
rm -f "$out"/*.dmp
export WINEDEBUG=-all
export WINEPREFIX="${PD_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/procdump-test-wine}"
export PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages
WINEDLLS=$(ls -d /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows 2>/dev/null | head -n 1)
wpath() { printf 'Z:%s' "$1" | tr / '\\'; }

x86_64-w64-mingw32-gcc -O1 -g -gdwarf-4 -Wall -Wextra -Werror -Wl,--build-id "$T/sample.c" -o "$T/sample.exe"
mkdir -p "$WINEPREFIX"
# keep one server up for the run; stop it at the end only if we started it
if wineserver -p 2>/dev/null; then trap 'wineserver -k' EXIT; fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
	echo "demo: creating the Wine prefix (once, about 10 s)"
	wineboot -i >/dev/null 2>&1
fi
# no winedbg on crashes (WINE.md fact 4)
wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /d '' /f >/dev/null 2>&1

echo "\$ wine procdump64.exe -ma -e -x $(wpath "$out") sample.exe"
wine "$top/procdump64.exe" -ma -e -x "$(wpath "$out")" "$(wpath "$T/sample.exe")" | tr -d '\r'
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
