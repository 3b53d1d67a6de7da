# t-build.sh - the build: both exes, their imports, library mode, the man page,
# the README and the demo.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is a
# function followed by the line that titles and runs it:
#   t 'build: what must hold' function

build_exes_exist() {
	[ -f "$top/procdump64.exe" ] && [ -f "$top/procdump.exe" ] || fail "make did not build both exes"
	file "$top/procdump64.exe" | grep -q 'x86-64' || fail "procdump64.exe is not x86-64"
	file "$top/procdump.exe" | grep -q 'Intel 80386' || fail "procdump.exe is not i386"
}
t 'build: make builds procdump64.exe (x86-64) and procdump.exe (i386)' build_exes_exist

build_imports_system_only() {
	for e in procdump64.exe procdump.exe; do
		x86_64-w64-mingw32-objdump -p "$top/$e" | sed -n 's/.*DLL Name: //p' | tr 'A-Z' 'a-z' >"$O/dlls"
		[ -s "$O/dlls" ] || fail "$e: no imports found"
		while read -r d; do
			case $d in
			kernel32.dll | advapi32.dll | msvcrt.dll | ntdll.dll | user32.dll) ;;
			*) fail "$e imports $d, not a Windows system DLL" ;;
			esac
		done <"$O/dlls"
	done
}
t 'build: both exes import only Windows system DLLs' build_imports_system_only

build_library_mode() {
	for cc in x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do
		$cc -O2 -Wall -Wextra -Werror -DPROCDUMP_NO_MAIN -c "$top/procdump.c" -o "$O/lib-$cc.o" ||
			fail "$cc -DPROCDUMP_NO_MAIN failed"
		x86_64-w64-mingw32-nm "$O/lib-$cc.o" >"$O/nm" 2>/dev/null || i686-w64-mingw32-nm "$O/lib-$cc.o" >"$O/nm"
		grep -Eq ' T _?pd_main$' "$O/nm" || fail "$cc: pd_main not exported"
		grep -Eq ' T _?pd_write_dump$' "$O/nm" || fail "$cc: pd_write_dump not exported"
		! grep -Eq ' T _?w?main$' "$O/nm" || fail "$cc: library mode still defines main"
		! grep -Eq ' U _?exit$' "$O/nm" || fail "$cc: library mode can reach exit()"
	done
}
t 'build: -DPROCDUMP_NO_MAIN compiles for both targets, exports pd_*, no main, no exit' build_library_mode

build_man_lists_every_switch() {
	pd -?
	sed -n 's/^   -\([^ ]*\) .*/\1/p' "$O/pd.out" | grep -v '^$' >"$O/switches"
	[ "$(wc -l <"$O/switches")" -ge 40 ] || fail "-? lists only $(wc -l <"$O/switches") switches"
	for s in $(cat "$O/switches") y j; do
		awk -v s="$s" '$1 == ".It" && $2 == "Fl" && ($3 == s || $3 == s "\\&") { f = 1 } END { exit !f }' \
			"$top/man/procdump.1" || fail "man/procdump.1 lacks -$s"
	done
}
t 'build: man/procdump.1 documents every switch of -?' build_man_lists_every_switch

# The -? synopsis is generated from the option table; the man page's is
# written by hand: every switch -? lists must stand in both (in the man
# page after Fl, or after | in a list of alternatives: Fl c | cl).  -?
# itself is how the synopsis is shown, and needs not be in it.
build_synopsis_lists_every_switch() {
	pd -?
	sed -n 's/^   -\([^ ]*\) .*/\1/p' "$O/pd.out" | grep -v '^$' >"$O/switches"
	sed -n '/^Capture Usage:/,/^Options:/p' "$O/pd.out" | grep -o -- '-[a-z0-9]*' | cut -c2- | sort -u >"$O/usage.syn"
	awk '/^\.Sh SYNOPSIS/ { on = 1; next } /^\.Sh/ { on = 0 } on' "$top/man/procdump.1" |
		awk '{ for (i = 1; i <= NF; i++) if ($i == "Fl" || $i == ".Fl") { print $(++i)
		           while ($(i + 1) == "|") { i += 2; if ($i == "Fl") i++; print $i } } }' |
		sed 's/\\&$//' | sort -u >"$O/man.syn"
	for s in $(cat "$O/switches"); do
		[ "$s" = "?" ] || grep -qxF -- "$s" "$O/usage.syn" || fail "the -? synopsis lacks -$s"
		grep -qxF -- "$s" "$O/man.syn" || fail "the man page's SYNOPSIS lacks -$s"
	done
}
t 'build: the -? synopsis and the man SYNOPSIS name every switch of -?' build_synopsis_lists_every_switch

build_man_lint() {
	command -v mandoc >/dev/null 2>&1 || fail "mandoc is missing (sh test/deps.sh installs it)"
	mandoc -Tlint -W warning "$top/man/procdump.1" >"$O/lint" 2>&1 || fail "mandoc -Tlint: $(head -n 3 "$O/lint")"
}
t 'build: mandoc -Tlint finds nothing of warning level in the man page' build_man_lint

build_readme_commands() {
	grep -q 'make demo' "$top/README.md" || fail "README lacks make demo"
	grep -q 'make test' "$top/README.md" || fail "README lacks make test"
}
t 'build: README gives make demo and make test' build_readme_commands

build_demo() {
	[ $native = 1 ] && skip "the demo runs under Wine"
	timeout 300 sh "$T/demo.sh" >"$O/demo.txt" 2>&1 || fail "demo failed: $(tail -n 5 "$O/demo.txt")"
	grep -q 'Unhandled: C0000005.ACCESS_VIOLATION' "$O/demo.txt" || fail "demo: no crash caught"
	grep -q 'frame #0: .*sample.exe`charge_customer(c=0x0000000000000000' "$O/demo.txt" ||
		fail "demo: the summary does not show charge_customer with c=NULL"
}
t 'build: make demo dumps the bundled crasher at its AV and summarises it' build_demo

# Debian's Wine 8.0 has no preloader: with address randomization the heap
# (brk) of the wine64 loader lands anywhere in the 1 GiB above it, and a
# start whose heap covers 0x7ffe0000 cannot map the shared user data there:
# exit 1, nothing printed (the suites' rare "exit 1 with nothing printed").
# lib.sh starts Wine under setarch -R, so the heap follows the loader: each
# program of the suite starts with it right after wine64's image.  And what
# a taken 0x7ffe0000 does, shown with a preloaded Linux library that takes it
build_wine_start_heap() {
	[ $native = 0 ] || skip "Wine only"
	start_target bh "$T/target.exe" 1 1
	_maps=/proc/$(upid bh)/maps
	_img=$(grep '/wine64$' "$_maps" | tail -n 1 | sed 's/^[0-9a-f]*-\([0-9a-f]*\) .*/\1/')
	_heap=$(grep '\[heap\]$' "$_maps" | sed 's/^\([0-9a-f]*\)-\([0-9a-f]*\) .*/\1 \2/')
	stop_target bh
	[ -n "$_img" ] && [ -n "$_heap" ] || fail "no wine64 image or heap in the maps: $_img / $_heap"
	[ "${_heap% *}" = "$_img" ] || fail "the heap starts at ${_heap% *}, not after wine64 (0x$_img): randomized"
	[ $((0x${_heap#* })) -lt $((0x7ffe0000)) ] || fail "the heap reaches 0x7ffe0000: ${_heap}"
	command -v gcc >/dev/null 2>&1 || return 0
	printf '%s\n' '#include <sys/mman.h>' \
		'__attribute__((constructor)) static void take(void) { mmap((void *)0x7ffe0000, 4096, PROT_READ,' \
		'	MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0); }' >"$O/take7ffe.c"
	gcc -shared -fPIC "$O/take7ffe.c" -o "$O/take7ffe.so" || fail "cannot build take7ffe.so"
	_rc=0
	LD_PRELOAD=$O/take7ffe.so WINEDEBUG=-all,err+virtual $WINE "$T/setevent.exe" PdNoSuchEvent >"$O/bh.out" 2>"$O/bh.err" || _rc=$?
	[ $_rc = 1 ] && [ ! -s "$O/bh.out" ] || fail "0x7ffe0000 taken: exit $_rc, output $(cat "$O/bh.out")"
	grep -q 'failed to map the shared user data: c0000018' "$O/bh.err" || fail "0x7ffe0000 taken: $(cat "$O/bh.err")"
}
t 'build: Wine starts without address randomization (the loader heap right after wine64, below 0x7ffe0000): a taken 0x7ffe0000 is exit 1, nothing printed' build_wine_start_heap
