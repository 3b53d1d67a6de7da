# common.sh - sourced by the bench scripts (latency, monitor, fleet, ...) after they set
# `name` (their work folder): paths, the Wine prefix and its server, the build.
# The prefix set-up and wpath are test/lib.sh's, shared with the tests.
# The caller sets its own EXIT trap, which must end with `wineserver -k`.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$top/test/lib.sh" # wpath, wait_for, wait_gone, wine_prefix
tmp=${TMPDIR:-/tmp}
work=${BENCH_DIR:-$tmp/pd-bench}/$name
# our own prefix, never an inherited WINEPREFIX: the script kills its server
export WINEPREFIX="${BENCH_PREFIX:-$tmp/pd-bench-prefix}"
# await FILE PATTERN [SECONDS]: until a line of FILE matches (30 s deadline)
await() {
	wait_for "$1" "$2" "${3:-30}" || { echo "no '$2' in $1 after ${3:-30} s" >&2; exit 1; }
}
# median: of the numbers on stdin, the middle one, or the mean of the two middle
# ones (fulldump.sh keeps a run's own value instead: lower_median)
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# ticks PID: the CPU time of Unix process PID so far (utime + stime, in clock ticks of 1/hz s)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# gone PID [SECONDS]: until process PID has ended (30 s deadline)
gone() {
	wait_gone "$1" "${2:-30}" || { echo "process $1 still there after ${2:-30} s" >&2; exit 1; }
}

make -C "$top" procdump64.exe >/dev/null
mkdir -p "$work"
# a server of our own for the run, replacing any in the prefix
wine_prefix '== ' replace
