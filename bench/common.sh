# common.sh - sourced by latency.sh, monitor.sh and types.sh after they set
# `name` (their work folder): paths, the Wine prefix and its server, the build.
# The caller sets its own EXIT trap, which must end with `wineserver -k`.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tmp=${TMPDIR:-/tmp}
work=${BENCH_DIR:-$tmp/pd-bench}/$name
# our own prefix, never an inherited WINEPREFIX: the script kills its server
export WINEPREFIX="${BENCH_PREFIX:-$tmp/pd-bench-prefix}"
export WINEDEBUG=-all
winpath() { printf 'Z:%s\n' "$1" | tr / '\\'; }

make -C "$top" procdump64.exe >/dev/null
mkdir -p "$work"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
	echo "== creating Wine prefix $WINEPREFIX (about 10 s)"
	wineboot -i >/dev/null 2>&1
fi
wineserver -k 2>/dev/null || true
wineserver -p
# no winedbg on crashes (WINE.md fact 4)
wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /d '' /f >/dev/null 2>&1
