#!/bin/sh
# pss-coverage.sh - which lines of procdump.c's PSS part (from the banner
# "---- The PSS snapshot" to the end of snap_clone_begin) the clone and pss
# test groups execute, measured with gcov under Wine.
#
#   sh bench/pss-coverage.sh
#
# Builds both exes with --coverage (-O0) in $COV_DIR (default
# $TMPDIR/pd-pss-cov), puts them in place of the tree's procdump64.exe and
# procdump.exe for `sh test/run.sh clone pss` (libgcov writes the .gcda
# files into $COV_DIR when each procdump exits), then rebuilds the real
# exes (make -B all) and prints the executable lines of the part, how many
# ran in either build, and each line that did not.  The tests' prefix is
# the suite's (PD_WINEPREFIX).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${COV_DIR:-${TMPDIR:-/tmp}/pd-pss-cov}
rm -rf "$dir"
mkdir -p "$dir"
cp "$top/procdump.c" "$dir/"
cd "$dir"
x86_64-w64-mingw32-gcc -O0 --coverage -municode -static procdump.c -o procdump64.exe -ladvapi32
i686-w64-mingw32-gcc -O0 --coverage -municode -static -Wl,--large-address-aware procdump.c -o procdump.exe -ladvapi32
trap 'make -s -B -C "$top" all' EXIT
cp procdump64.exe procdump.exe "$top/"
sh "$top/test/run.sh" clone pss | tail -n 1
x86_64-w64-mingw32-gcov -o . procdump64-procdump.gcda >/dev/null 2>&1
mv procdump.c.gcov x64.gcov
i686-w64-mingw32-gcov -o . procdump.gcda >/dev/null 2>&1
mv procdump.c.gcov i686.gcov
s=$(grep -n '^/\* ---- The PSS snapshot' procdump.c | cut -d: -f1)
e=$(awk -v s="$s" 'NR > s && /^snap_clone_begin/ { f = 1 } f && /^}/ { print NR; exit }' procdump.c)
# a line counts once: run if either build ran it; lines only the i686 build
# compiles are marked so
awk -F: -v s="$s" -v e="$e" '
	{ c = $1; gsub(/ /, "", c); l = $2 + 0 }
	l < s || l > e || c == "-" { next }
	FILENAME == ARGV[1] { st[l] = c; txt[l] = $0; next }
	!(l in st) { st[l] = c; txt[l] = $0 "  (i686 build)"; next }
	{ if (c != "#####" && c != "=====") st[l] = "run" }
	END {
		for (l in st) { n++; if (st[l] == "#####" || st[l] == "=====") { m++; miss[l] = txt[l] } }
		printf "procdump.c lines %d-%d: %d executable, %d executed, %d not executed\n", s, e, n, n - m, m
		for (l = s; l <= e; l++) if (l in miss) print miss[l]
	}' x64.gcov i686.gcov
