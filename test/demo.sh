#!/bin/sh
# demo.sh - what `make demo` runs: start the bundled sample (two threads in a
# lock-order deadlock) under Wine, dump it with procdump64.exe -ma, and print
# a summary of the dump read back by lldb and obj2yaml (not by procdump).
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

x86_64-w64-mingw32-gcc -O1 -g -gdwarf-4 -Wall -Wextra -Werror -Wl,--build-id "$T/sample.c" -o "$T/sample.exe"
mkdir -p "$WINEPREFIX"
wineserver -p
trap 'kill $sample 2>/dev/null; wineserver -k' EXIT
[ -f "$WINEPREFIX/system.reg" ] || { echo "demo: creating the Wine prefix (once, about 10 s)"; wineboot -i >/dev/null 2>&1; }

wine "$T/sample.exe" >"$out/sample.log" 2>&1 &
sample=$!
i=0
until grep -q '^ready' "$out/sample.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "demo: the sample did not start"; exit 1; }
	sleep 0.05
done
pid=$(sed -n 's/^pid=//p' "$out/sample.log" | tr -d '\r')

echo "\$ wine procdump64.exe -ma sample.exe $(printf 'Z:%s' "$out" | tr / '\\')"
wine "$top/procdump64.exe" -ma sample.exe "$(printf 'Z:%s' "$out" | tr / '\\')" | tr -d '\r'
dump=$(ls "$out"/*.dmp)

echo
echo "=== Summary of $(basename "$dump") ($(wc -c <"$dump") bytes), read by obj2yaml and lldb ==="
echo "Streams:"
obj2yaml "$dump" | sed -n 's/^  - Type: *//p' | sed 's/^/  /'
lldb -b -O "settings set target.exec-search-paths $WINEDLLS $T" --core "$dump" \
	-o 'image list' -o 'bt all' </dev/null 2>/dev/null >"$out/lldb.txt" || true
echo "Modules:"
sed -n 's/^\[ *[0-9]*\] *\([0-9A-F-]*\) *\(0x[0-9a-f]*\) \(.*\)/  \2 \3 \1/p' "$out/lldb.txt"
echo "Threads (lldb bt all):"
sed -n '/^(lldb) bt all/,$p' "$out/lldb.txt" | grep -v '^(lldb)' | grep -v 'DW_AT' |
	sed 's/(\(stack_marker\|unknown\|entry\|arg\)=[^)]*)/(...)/g' | cut -c1-110
echo
echo "Both worker threads sit in EnterCriticalSection: transfer_thread holds 'accounts'"
echo "and wants 'ledger', audit_thread holds 'ledger' and wants 'accounts'."
