# t-lib.sh - library mode: pd_write_dump() from a program linked with
# procdump.c.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is a
# function followed by the line that titles and runs it:
#   t 'lib: what must hold' function

lib_pd_write_dump() {
	x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -DPROCDUMP_NO_MAIN -municode -static \
		"$top/procdump.c" "$T/libuse.c" -o "$O/libuse.exe" -ladvapi32 || fail "cannot link libuse.exe"
	start_target lu "$T/target.exe" 1
	timeout 60 $WINE "$O/libuse.exe" "$(field lu pid)" "$(wpath "$O/lu.dmp")" >"$O/lu.out" 2>&1
	tr -d '\r' <"$O/lu.out" | grep -q '^rc=0$' || fail "libuse: $(cat "$O/lu.out")"
	lldb_do "$O/lu.dmp" "$O/lu.lldb" 'thread list'
	for tid in $(tids lu); do
		grep -q "tid = $(printf '0x%04x' "$tid")," "$O/lu.lldb" || fail "thread $tid missing"
	done
	alive lu || fail "target stopped"
}
t 'lib: pd_write_dump() from a program linked with procdump.c' lib_pd_write_dump
