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
# await FILE PATTERN [SECONDS]: until a line of FILE matches (30 s deadline)
await() {
	_end=$(($(date +%s) + ${3:-30}))
	until grep -q "$2" "$1" 2>/dev/null; do
		[ "$(date +%s)" -lt $_end ] || { echo "no '$2' in $1 after ${3:-30} s" >&2; exit 1; }
		sleep 0.05
	done
}
# gone PID [SECONDS]: until process PID has ended (30 s deadline)
gone() {
	_end=$(($(date +%s) + ${2:-30}))
	while kill -0 "$1" 2>/dev/null; do
		[ "$(date +%s)" -lt $_end ] || { echo "process $1 still there after ${2:-30} s" >&2; exit 1; }
		sleep 0.05
	done
}

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
