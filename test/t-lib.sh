# t-lib.sh - library mode: pd_write_dump() from a program linked with
# procdump.c.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'lib: what must hold' <<'END'
#   	commands
#   END

t 'lib: pd_write_dump() from a program linked with procdump.c' <<'END'
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
END

# pd_main twice in one process: the first run (a series) is ended by a
# Ctrl+C after its first dump; the second must still dump, which it cannot
# if the first left its cancel flag, console handler or events behind.
t 'lib: pd_main runs twice in one process (the first ended by Ctrl+C): library mode resets its state' <<'END'
	[ -f "$O/libuse.exe" ] || x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -DPROCDUMP_NO_MAIN -municode \
		-static "$top/procdump.c" "$T/libuse.c" -o "$O/libuse.exe" -ladvapi32 || fail "cannot link libuse.exe"
	[ -f "$O/lu.log" ] || start_target lu "$T/target.exe" 1
	mkdir -p "$O/lu2"
	timeout 90 $WINE "$O/libuse.exe" twice "$(field lu pid)" "$(wpath "$O/lu2")" >"$O/lu2.out" 2>&1
	tr -d '\r' <"$O/lu2.out" >"$O/lu2.txt"
	grep -q '^rc1=1 rc2=0$' "$O/lu2.txt" || fail "want rc1=1 (cancelled) rc2=0: $(tail -n 4 "$O/lu2.txt")"
	grep -q 'Dump count not reached' "$O/lu2.txt" || fail "the first run did not end cancelled"
	[ "$(grep -c 'Dump count reached' "$O/lu2.txt")" = 1 ] || fail "the second run did not reach its count"
	yaml "$O/lu2/second.dmp" "$O/lu2/y"
	for tid in $(tids lu); do
		grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/lu2/y" || fail "second.dmp lacks thread $tid"
	done
	alive lu || fail "target stopped"
END
