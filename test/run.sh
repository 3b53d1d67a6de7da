#!/bin/sh
# run.sh - procdump.c's test suite.
#
#   sh test/run.sh [group ...]     groups: build cli names targets writer series debugger monitors wow64 lib
#
# Prints TAP lines and closes with "N passed, N failed, N skipped".  Under
# Linux every Windows program runs under Wine in a prefix of its own; under
# Git Bash/MSYS2 on Windows they run natively.  Dumps are checked with readers
# nobody on this project wrote: lldb, llvm's obj2yaml and Breakpad's
# minidump_dump, against what the target printed about itself.

top=$(cd "$(dirname "$0")/.." && pwd)
T=$top/test
O=$T/out
PD=$top/procdump64.exe
rm -rf "$O"
mkdir -p "$O"
: >"$O/bg.list"

case $(uname -s) in
MINGW* | MSYS* | CYGWIN*) native=1 ;;
*) native=0 ;;
esac

CC=x86_64-w64-mingw32-gcc
TCFLAGS="-O1 -g -gdwarf-4 -Wall -Wextra -Werror -Wl,--build-id"
BP=$top/.deps/node_modules/minidump/bin/linux-x64/minidump_dump
WINEDLLS=$(ls -d /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows \
	/usr/lib64/wine/x86_64-windows 2>/dev/null | head -n 1)
export PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages # silences Debian's lldb 14

# ---------------------------------------------------------------- platform --

if [ $native = 1 ]; then
	WINE=""
	wpath() { cygpath -w "$1"; }
else
	WINE=wine
	export WINEDEBUG=-all
	export WINEPREFIX="${PD_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/procdump-test-wine}"
	wpath() { printf 'Z:%s' "$1" | tr / '\\'; }
fi
# 32-bit programs: native on Windows; under Wine with the 32-bit DLLs of
# .deps/wine32 (test/deps.sh), found through WINEDLLPATH
W32=0 W32DLLS=""
if [ $native = 1 ]; then
	W32=1
elif [ -f "$top/.deps/wine32/i386-windows/ntdll.dll" ]; then
	W32=1 W32DLLS=$top/.deps/wine32/i386-windows
	export WINEDLLPATH="$top/.deps/wine32"
fi

cleanup() {
	for p in $(cat "$O/bg.list" 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	if [ $native = 0 ]; then
		[ -f "$O/svc.made" ] && { wine sc stop PdTestSvc >/dev/null 2>&1; wine sc delete PdTestSvc >/dev/null 2>&1; }
		wineserver -k 2>/dev/null
	fi
}

wine_setup() {
	[ $native = 1 ] && return 0
	mkdir -p "$WINEPREFIX"
	wineserver -p 2>/dev/null
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		echo "# creating the Wine prefix $WINEPREFIX (once, about 10 s)"
		wineboot -i >/dev/null 2>&1
		# In the session that created the prefix, services.exe does not see
		# services created with sc (sc start fails silently); a restart does.
		wineserver -k 2>/dev/null
		wineserver -p 2>/dev/null
	fi
	# 32-bit DLLs arrived after the prefix was made: an update copies them
	# into syswow64, where a 32-bit program's loader looks for them
	if [ "$W32" = 1 ] && [ ! -f "$WINEPREFIX/drive_c/windows/syswow64/kernel32.dll" ]; then
		echo "# adding 32-bit DLLs to the Wine prefix (once)"
		rm -f "$WINEPREFIX/.update-timestamp" # else wineboot -u skips the copy
		wineboot -u >/dev/null 2>&1
	fi
	# WINE.md facts 3-4: windows without X; crashes exit at once, no winedbg
	wine reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f >/dev/null 2>&1
	wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /d '' /f >/dev/null 2>&1
}

# ------------------------------------------------------------------ harness --

N=0 PASS=0 FAIL=0 SKIP=0
GROUPS_WANTED="$*"

selected() {
	[ -z "$GROUPS_WANTED" ] && return 0
	for g in $GROUPS_WANTED; do [ "$g" = "$1" ] && return 0; done
	return 1
}

# t 'group: what must hold' function
t() {
	desc=$1 fn=$2 grp=${1%%:*}
	selected "$grp" || return 0
	N=$((N + 1))
	: >"$O/pd.cmd"
	(set -e; $fn) >"$O/case.log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		PASS=$((PASS + 1))
		echo "ok $N - $desc"
	elif [ $rc = 77 ]; then
		SKIP=$((SKIP + 1))
		echo "ok $N - $desc # SKIP $(tail -n 1 "$O/case.log")"
	else
		FAIL=$((FAIL + 1))
		echo "not ok $N - $desc"
		sed 's/^/#   /' "$O/case.log" | tail -n 15
		if [ -s "$O/pd.cmd" ]; then
			printf '#   last command: %s  (exit %s)\n' "$(cat "$O/pd.cmd")" "$(cat "$O/pd.rc" 2>/dev/null)"
			tail -n 8 "$O/pd.out" 2>/dev/null | sed 's/^/#   stdout: /'
			tail -n 4 "$O/pd.err" 2>/dev/null | sed 's/^/#   stderr: /'
		fi
	fi
}

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }

# wait_for FILE REGEX SECONDS: until a line matches, or fail at the deadline
wait_for() {
	_end=$(($(date +%s) + $3))
	while :; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
}

# wait_gone UPID SECONDS: until the Unix process is gone
wait_gone() {
	_end=$(($(date +%s) + $2))
	while kill -0 "$1" 2>/dev/null; do
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
	return 0
}

# pd ARGS...: run procdump64.exe; stdout/stderr/exit code in $O/pd.{out,err,rc}.
# Through pdrun.exe, which records the exit code the Windows side gave: under
# Wine the shell's own can read 137 for a clean exit on a loaded machine.
pd() { pd_exe "$PD" "$@"; }
pd_exe() { # pd_exe EXE ARGS...: run that procdump build, as pd does
	_exe=$1
	shift
	printf '%s\n' "${_exe##*/} $*" >"$O/pd.cmd"
	rm -f "$O/pd.code"
	_rc=0
	timeout 130 $WINE "$T/pdrun.exe" "$(wpath "$O/pd.code")" 120 "$(wpath "$_exe")" "$@" \
		>"$O/pd.raw" 2>"$O/pd.err" || _rc=$?
	[ -s "$O/pd.code" ] && _rc=$(tr -d '\r' <"$O/pd.code")
	echo $_rc >"$O/pd.rc"
	tr -d '\r' <"$O/pd.raw" >"$O/pd.out"
	RC=$(cat "$O/pd.rc")
}
pd_in() { # pd_in DIR ARGS...: the same, with DIR as the current folder
	_d=$1
	shift
	(cd "$_d" && pd "$@")
	RC=$(cat "$O/pd.rc")
	printf '(cd %s) %s\n' "$_d" "$(cat "$O/pd.cmd")" >"$O/pd.cmd"
}

expect_rc() { [ "$RC" = "$1" ] || fail "exit code: wanted $1, got $RC"; }
expect_out() { grep -q -- "$1" "$O/pd.out" || fail "stdout lacks /$1/"; }
expect_err() { grep -q -- "$1" "$O/pd.err" || fail "stderr lacks /$1/"; }
expect_err_one_line() { [ "$(grep -c . "$O/pd.err")" = 1 ] || fail "stderr is not one line"; }

# start_target NAME EXE [ARGS...]: start, wait for "ready" (30 s deadline)
start_target() {
	_n=$1 _exe=$2
	shift 2
	$WINE "$_exe" "$@" >"$O/$_n.log" 2>&1 &
	echo $! >"$O/$_n.upid"
	echo $! >>"$O/bg.list"
	wait_for "$O/$_n.log" '^ready' 30 || fail "target $_n did not start: $(tail -n 3 "$O/$_n.log")"
}
# field NAME KEY: a key=value the target printed (first match)
field() { sed -n "s/^$2=\([^ ]*\).*/\1/p" "$O/$1.log" | tr -d '\r' | head -n 1; }
upid() { cat "$O/$1.upid"; }
tids() { sed -n 's/^tid=\([0-9]*\).*/\1/p' "$O/$1.log" | tr -d '\r'; }
stop_target() { kill "$(upid "$1")" 2>/dev/null; wait_gone "$(upid "$1")" 10 || true; }

# alive NAME: the target still runs and is not suspended: its heartbeat advances
alive() {
	_c=$(grep -c '^heartbeat' "$O/$1.log" || true)
	_end=$(($(date +%s) + 10))
	while :; do
		[ "$(grep -c '^heartbeat' "$O/$1.log" || true)" -ge $((_c + 2)) ] && return 0
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
}

# ------------------------------------------------------------------ readers --

lldb_do() { # lldb_do DUMP OUTFILE CMD...: lldb batch, with Wine's DLLs and test/ as search paths
	_dump=$1 _out=$2
	shift 2
	_args=""
	for _c in "$@"; do _args="$_args -o \"$_c\""; done
	eval "timeout 120 lldb -b -O 'settings set target.exec-search-paths $WINEDLLS $W32DLLS $T' --core \"$_dump\" $_args" \
		>"$_out" 2>&1 </dev/null || true
}
# le HEX: little-endian hex bytes (obj2yaml's Content) as one hex number
le() { echo "$1" | sed 's/\(..\)/\1 /g' | awk '{ s = ""; for (i = NF; i > 0; i--) s = s $i; print s }'; }
# u32at OFFSET HEX: the little-endian 32-bit value at byte OFFSET of HEX, in decimal
u32at() { echo $((0x$(le "$(echo "$2" | cut -c$((2 * $1 + 1))-$((2 * $1 + 8)))"))); }
yaml() { timeout 60 obj2yaml "$1" >"$2" 2>&1 || fail "obj2yaml rejects $1: $(head -n 3 "$2")"; }
need_bp() { [ -x "$BP" ] || skip "Breakpad readers missing (run make deps)"; }
hexaddr() { printf '0x%x' "$1"; }

# ------------------------------------------------------------------- builds --

build_test_programs() {
	x86_64-w64-mingw32-windres "$T/target.rc" -O coff -o "$O/target.res" || return 1
	$CC $TCFLAGS "$T/target.c" "$O/target.res" -o "$T/target.exe" || return 1
	for p in svc sample crasher; do
		$CC $TCFLAGS "$T/$p.c" -o "$T/$p.exe" || return 1
	done
	$CC $TCFLAGS "$T/load.c" -o "$T/load.exe" -luser32 || return 1
	$CC $TCFLAGS -municode "$T/setevent.c" -o "$T/setevent.exe" || return 1
	$CC $TCFLAGS -municode "$T/pdrun.c" -o "$T/pdrun.exe" || return 1
	$CC $TCFLAGS -shared "$T/testdll.c" -o "$T/pdtestdll.dll" || return 1
	cp "$T/crasher.exe" "$T/pdwait.exe"
	# a second image name, so that only the tests' own processes match it
	cp "$T/target.exe" "$T/pdtgt.exe"
}

# ==================================================================== build ==

build_exes_exist() {
	[ -f "$top/procdump64.exe" ] && [ -f "$top/procdump.exe" ] || fail "make did not build both exes"
	file "$top/procdump64.exe" | grep -q 'x86-64' || fail "procdump64.exe is not x86-64"
	file "$top/procdump.exe" | grep -q 'Intel 80386' || fail "procdump.exe is not i386"
}
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
build_man_lists_every_switch() {
	pd -?
	sed -n 's/^   -\([^ ]*\) .*/\1/p' "$O/pd.out" | grep -v '^$' >"$O/switches"
	[ "$(wc -l <"$O/switches")" -ge 40 ] || fail "-? lists only $(wc -l <"$O/switches") switches"
	for s in $(cat "$O/switches") y j; do
		awk -v s="$s" '$1 == ".It" && $2 == "Fl" && ($3 == s || $3 == s "\\&") { f = 1 } END { exit !f }' \
			"$top/man/procdump.1" || fail "man/procdump.1 lacks -$s"
	done
}
build_readme_commands() {
	grep -q 'make demo' "$top/README.md" || fail "README lacks make demo"
	grep -q 'make test' "$top/README.md" || fail "README lacks make test"
}

build_demo() {
	[ $native = 1 ] && skip "the demo runs under Wine"
	timeout 300 sh "$T/demo.sh" >"$O/demo.txt" 2>&1 || fail "demo failed: $(tail -n 5 "$O/demo.txt")"
	grep -q 'Unhandled: C0000005.ACCESS_VIOLATION' "$O/demo.txt" || fail "demo: no crash caught"
	grep -q 'frame #0: .*sample.exe`charge_customer(c=0x0000000000000000' "$O/demo.txt" ||
		fail "demo: the summary does not show charge_customer with c=NULL"
}

# ====================================================================== cli ==

cli_help() {
	pd -?
	expect_rc 0
	expect_out 'Capture Usage:'
	expect_out 'Install Usage:'
	expect_out '-ma '
	expect_out 'Exit codes:'
}
cli_help_examples() {
	pd -? -e
	expect_rc 0
	expect_out 'procdump -ma 4572'
	expect_out 'procdump -e 1 -f "" w3wp.exe'
}
cli_no_args() {
	pd
	expect_rc 2
	expect_out 'Capture Usage:'
}
cli_unknown_switch() {
	pd -zz 1234
	expect_rc 2
	expect_err "unknown switch '-zz'"
	expect_err_one_line
}
cli_missing_value() {
	pd -ma 1234 -n
	expect_rc 2
	expect_err '-n needs a value'
	pd -n -ma 1234
	expect_rc 2
	expect_err '-n needs a value'
}
cli_not_numeric() {
	pd -n three 1234
	expect_rc 2
	expect_err "-n: 'three' is not a whole number"
	pd -s 1.5 1234
	expect_rc 2
	expect_err '-s:'
	pd -mc xyz 1234
	expect_rc 2
	expect_err '-mc:'
}
cli_out_of_range() {
	pd -n 0 1234
	expect_rc 2
	expect_err '-n: the dump count must be at least 1'
	pd -n -1 1234
	expect_rc 2
	expect_err '-n: the dump count must be at least 1, not -1'
	pd -s 0 1234
	expect_rc 2
	expect_err '-s: seconds must be at least 1'
	pd -c 101 1234
	expect_rc 2
	expect_err '-c: CPU usage must be 0 to 100'
	ncpu=$(nproc)
	pd -c $((ncpu * 100 + 1)) -u 1234
	expect_rc 2
	expect_err "-c: CPU usage must be 0 to $((ncpu * 100))"
	pd -r 7 -ma 1234
	expect_rc 2
	expect_err '-r: the concurrent limit must be 1 to 5'
}
cli_conflicts() {
	pd -a -ma 1234
	expect_rc 2
	expect_err '-a needs -r'
	pd -mk -r -ma 1234
	expect_rc 2
	expect_err '-mk cannot be used with -r'
	pd -f NotFound 1234
	expect_rc 2
	expect_err '-f needs -e or -l'
	pd -c 10 -cl 5 1234
	expect_rc 2
	expect_err '-c and -cl cannot be used together'
	pd -ld 1234
	expect_rc 2
	expect_err '-ld needs -e'
	pd -ma 1234 Z:\\tmp\\a.dmp extra
	expect_rc 2
	expect_err "unexpected argument 'extra'"
	pd -ma
	expect_rc 2
	expect_err 'no target'
	pd -w 1234
	expect_rc 2
	expect_err '-w waits for a process name'
	pd -n 2 -n 3 1234
	expect_rc 2
	expect_err '-n is given twice'
	pd -i 'C:\dumps' -n 2
	expect_rc 2
	expect_err '-n cannot be used with -i'
	pd -u notepad
	expect_rc 2
	expect_err '-u needs -c or -cl'
}
cli_not_implemented_says_so() {
	for args in "-i Z:\\tmp" "-u" "-r -ma 1234" "-mk -ma 1234" "-wer 1234" \
		"-y app 1234"; do
		# shellcheck disable=SC2086
		pd $args
		expect_rc 2
		grep -q 'is not implemented yet' "$O/pd.err" || fail "'$args': no 'not implemented yet' message"
		expect_err_one_line
	done
}
# Every example of ProcDump's reference page parses: it runs, says "not
# implemented yet", fails on the (absent) target, or starts monitoring (then
# Ctrl+C ends it); never a usage error.
cli_every_example_parses() {
	pd -? -e
	sed -n 's/^      C:\\[^>]*>procdump //p' "$O/pd.out" >"$O/examples"
	[ "$(wc -l <"$O/examples")" -ge 25 ] || fail "only $(wc -l <"$O/examples") examples"
	[ $native = 0 ] && mkdir -p "$WINEPREFIX/drive_c/dumps"
	k=0
	while read -r line; do
		k=$((k + 1))
		eval "set -- $line"
		pd_bg ex$k "$@"
		_p=$(cat "$O/ex$k.pdpid")
		_end=$(($(date +%s) + 30))
		while kill -0 "$_p" 2>/dev/null; do
			if grep -Eq 'Waiting for process named|Press Ctrl-C' "$O/ex$k.raw"; then
				kill -INT "$_p"
				break
			fi
			[ "$(date +%s)" -ge $_end ] && fail "example '$line' neither ended nor monitored in 30 s"
			sleep 0.05
		done
		pd_join ex$k 20
		tr -d '\r' <"$O/ex$k.raw" >"$O/ex.txt"
		case $RC in
		0) ;;
		1) grep -q 'Cancelled' "$O/ex.txt" || fail "example '$line': exit 1 without a cancel" ;;
		2) grep -q 'is not implemented yet' "$O/ex.txt" || fail "example '$line': $(tail -n 1 "$O/ex.txt")" ;;
		3) grep -Eq 'no process|not running|no procdump is monitoring|cannot launch' "$O/ex.txt" ||
			fail "example '$line': $(tail -n 1 "$O/ex.txt")" ;;
		*) fail "example '$line' exited $RC: $(tail -n 2 "$O/ex.txt")" ;;
		esac
	done <"$O/examples"
}
cli_switch_case_and_slash() {
	start_target cs "$T/target.exe" 1
	pid=$(field cs pid)
	mkdir -p "$O/cs"
	pd /MA "$pid" "$(wpath "$O/cs/a.dmp")"
	expect_rc 0
	pd -Mm /N 1 "$pid" "$(wpath "$O/cs/b.dmp")"
	expect_rc 0
	yaml "$O/cs/a.dmp" "$O/cs/a.yaml"
	grep -q 'Type:            Memory64List' "$O/cs/a.yaml" || fail "/MA did not write a full dump"
	stop_target cs
}

# ==================================================================== names ==

names_default_in_cwd() {
	start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm1"
	pd_in "$O/nm1" -ma "$(field nm pid)"
	expect_rc 0
	ls "$O/nm1" >"$O/nm1.ls"
	grep -Eq '^target\.exe_[0-9]{6}_[0-9]{6}\.dmp$' "$O/nm1.ls" || fail "default name: $(cat "$O/nm1.ls")"
	[ "$(wc -l <"$O/nm1.ls")" = 1 ] || fail "expected one file: $(cat "$O/nm1.ls")"
	f=$(cat "$O/nm1.ls")
	d=$(date +%y%m%d)
	case $f in target.exe_"$d"_*) ;; *) fail "date part of $f is not $d" ;; esac
	expect_out "Dump 1 initiated: .*$f"
	expect_out 'Dump 1 writing: Estimated dump file size is [0-9]* MB\.'
	expect_out 'Dump 1 complete: [0-9]* MB written in [0-9.]* seconds'
	expect_out 'Dump count reached\.'
}
names_folder() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm2"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm2")"
	expect_rc 0
	ls "$O/nm2" | grep -Eq '^target\.exe_[0-9]{6}_[0-9]{6}\.dmp$' || fail "nothing in the folder: $(ls "$O/nm2")"
}
names_file_gets_dmp() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm3"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm3/crash")"
	expect_rc 0
	[ -f "$O/nm3/crash.dmp" ] || fail "no crash.dmp: $(ls "$O/nm3")"
}
names_substitutions() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	pid=$(field nm pid)
	mkdir -p "$O/nm4"
	pd -mm "$pid" "$(wpath "$O/nm4/PROCESSNAME-PID-YYMMDD-HHMMSS-EXCEPTIONCODE.dmp")"
	expect_rc 0
	ls "$O/nm4" >"$O/nm4.ls"
	grep -Eq "^target\.exe-$pid-[0-9]{6}-[0-9]{6}-0\.dmp\$" "$O/nm4.ls" || fail "got $(cat "$O/nm4.ls")"
}
names_no_overwrite_without_o() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm5"
	echo "precious" >"$O/nm5/x.dmp"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm5/x.dmp")"
	expect_rc 4
	expect_err 'already exists (use -o to overwrite)'
	expect_err_one_line
	[ "$(cat "$O/nm5/x.dmp")" = precious ] || fail "x.dmp was changed"
	[ "$(ls "$O/nm5")" = x.dmp ] || fail "left files behind: $(ls "$O/nm5")"
}
names_overwrite_with_o() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm6"
	echo "old" >"$O/nm6/x.dmp"
	pd -mm -o "$(field nm pid)" "$(wpath "$O/nm6/x.dmp")"
	expect_rc 0
	yaml "$O/nm6/x.dmp" "$O/nm6/x.yaml"
	[ "$(ls "$O/nm6")" = "x.dmp
x.yaml" ] || fail "left files behind: $(ls "$O/nm6")"
}
names_two_types_one_trigger() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm7"
	pd -mm -ma "$(field nm pid)" "$(wpath "$O/nm7/both.dmp")"
	expect_rc 0
	[ -f "$O/nm7/both.dmp" ] && [ -f "$O/nm7/both-2.dmp" ] || fail "want both.dmp and both-2.dmp: $(ls "$O/nm7")"
	yaml "$O/nm7/both.dmp" "$O/nm7/a.yaml"
	yaml "$O/nm7/both-2.dmp" "$O/nm7/b.yaml"
	grep -q 'Type:            MemoryList' "$O/nm7/a.yaml" || fail "first (-mm) dump has no MemoryList"
	grep -q 'Type:            Memory64List' "$O/nm7/b.yaml" || fail "second (-ma) dump has no Memory64List"
	expect_out 'Dump 2 complete'
	[ "$(grep -c 'initiated' "$O/pd.out")" = 2 ] || fail "want two dumps"
}
names_missing_folder() {
	pd -mm 1234 "$(wpath "$O/no/such/dir/x.dmp")"
	expect_rc 2
	expect_err 'does not exist'
}

# ================================================================== targets ==

targets_by_pid_name_case() {
	start_target tg "$T/pdtgt.exe" 1
	pid=$(field tg pid)
	mkdir -p "$O/tg"
	k=0
	for spec in pdtgt PDTGT.EXE pdtgt.exe "$pid"; do
		k=$((k + 1))
		pd -mm "$spec" "$(wpath "$O/tg/$k.dmp")"
		expect_rc 0
		expect_out "Process: *pdtgt.exe ($pid)"
		yaml "$O/tg/$k.dmp" "$O/tg/$k.yaml"
		# MiscInfo: SizeOfInfo, Flags1, ProcessId (little-endian)
		want=$(printf '%08X' "$pid" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
		mi=$(grep -A1 'Type:            MiscInfo' "$O/tg/$k.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
		[ "$(echo "$mi" | cut -c17-24)" = "$want" ] ||
			fail "MiscInfo of the dump of '$spec' does not carry PID $pid: $(echo "$mi" | cut -c1-32)"
	done
}
targets_several_match() {
	[ -f "$O/tg.log" ] || start_target tg "$T/pdtgt.exe" 1
	start_target tg2 "$T/pdtgt.exe" 1
	pd -mm pdtgt
	expect_rc 3
	expect_err 'Multiple processes match'
	expect_err "$(field tg pid)"
	expect_err "$(field tg2 pid)"
	expect_err_one_line
	stop_target tg2
}
targets_not_found() {
	pd -mm no_such_process_here
	expect_rc 3
	expect_err "no process or service named 'no_such_process_here'"
	expect_err_one_line
	pd -mm 999996
	expect_rc 3
	expect_err 'no process with PID 999996'
}
targets_service() {
	[ $native = 1 ] && skip "service test needs Wine's sc (run as admin on Windows)"
	rm -f "$O/svc.pid"
	wine sc delete PdTestSvc >/dev/null 2>&1 || true # left by an interrupted run
	wine sc create PdTestSvc binpath= "$(wpath "$T/svc.exe") $(wpath "$O/svc.pid")" >"$O/sc.log" 2>&1 ||
		fail "sc create: $(tr -d '\r' <"$O/sc.log")"
	echo PdTestSvc >"$O/svc.made"
	wine sc start PdTestSvc >>"$O/sc.log" 2>&1 || fail "sc start: $(tr -d '\r' <"$O/sc.log")"
	wait_for "$O/svc.pid" '^[0-9]' 30 || fail "the service did not write its PID"
	spid=$(tr -d '\r\n' <"$O/svc.pid")
	mkdir -p "$O/svc"
	pd -mm PdTestSvc "$(wpath "$O/svc/s.dmp")"
	rc=$RC
	wine sc stop PdTestSvc >/dev/null 2>&1 || true
	[ "$rc" = 0 ] || fail "dump by service name exited $rc: $(cat "$O/pd.err")"
	expect_out "Process: *svc.exe ($spid)"
	lldb_do "$O/svc/s.dmp" "$O/svc/l.txt" 'thread list'
	grep -q "Process $spid stopped" "$O/svc/l.txt" || fail "lldb does not see PID $spid: $(head -n 5 "$O/svc/l.txt")"
	# stopped: a clear error
	_end=$(($(date +%s) + 20))
	while :; do
		pd -mm PdTestSvc
		[ "$RC" = 3 ] && grep -q 'is not running' "$O/pd.err" && break
		[ "$(date +%s)" -ge $_end ] && fail "stopped service: exit $RC, $(cat "$O/pd.err")"
		sleep 0.2
	done
	wine sc delete PdTestSvc >/dev/null 2>&1 || true
	rm -f "$O/svc.made"
}

# =================================================================== writer ==
# One target (3 workers, a heap marker, a stack marker) and one dump of each
# type, checked by lldb, obj2yaml and Breakpad.

wr_setup() {
	[ -f "$O/wr.log" ] && return 0
	start_target wr "$T/target.exe" 3 4 "$(wpath "$T/pdtestdll.dll")"
	mkdir -p "$O/wr"
	pd -mm "$(field wr pid)" "$(wpath "$O/wr/mini.dmp")"
	[ "$RC" = 0 ] || fail "-mm exited $RC: $(cat "$O/pd.err")"
	pd -ma -dc "written by the test suite" "$(field wr pid)" "$(wpath "$O/wr/full.dmp")"
	[ "$RC" = 0 ] || fail "-ma exited $RC: $(cat "$O/pd.err")"
	for k in mini full; do
		lldb_do "$O/wr/$k.dmp" "$O/wr/$k.lldb" 'thread list' 'bt all' 'image list'
		_rc=0
		timeout 60 obj2yaml "$O/wr/$k.dmp" >"$O/wr/$k.yaml" 2>&1 || _rc=$?
		echo $_rc >"$O/wr/$k.yamlrc"
	done
}

writer_readers_load() {
	wr_setup
	for k in mini full; do
		grep -q "Core file .* was loaded" "$O/wr/$k.lldb" || fail "lldb did not load $k.dmp"
		[ "$(cat "$O/wr/$k.yamlrc")" = 0 ] || fail "obj2yaml rejects $k.dmp: $(head -n 3 "$O/wr/$k.yaml")"
	done
}
writer_thread_ids() {
	wr_setup
	n=0
	for tid in $(tids wr); do
		n=$((n + 1))
		h=$(printf '0x%04x' "$tid")
		H=$(printf '0x%X' "$tid")
		for k in mini full; do
			grep -q "tid = $h," "$O/wr/$k.lldb" || fail "lldb: thread $tid missing from $k.dmp"
			grep -q "Thread Id: *$H\$" "$O/wr/$k.yaml" || fail "obj2yaml: thread $tid missing from $k.dmp"
		done
	done
	[ $n = 5 ] || fail "the target printed $n thread ids, wanted 5"
}
writer_backtraces_name_target_functions() {
	wr_setup
	for k in mini full; do
		[ "$(grep -c 'target.exe`target_worker' "$O/wr/$k.lldb")" -ge 3 ] ||
			fail "$k: bt all does not show target_worker on the 3 workers"
		grep -q 'target.exe`target_heartbeat' "$O/wr/$k.lldb" || fail "$k: no target_heartbeat frame"
		grep -q 'target.exe`main' "$O/wr/$k.lldb" || fail "$k: no main frame"
		grep -q 'kernel32.dll`BaseThreadInitThunk' "$O/wr/$k.lldb" || fail "$k: walk does not reach thread start"
	done
}
writer_full_has_marker() {
	wr_setup
	addr=0x$(field wr marker)
	want=$(sed -n 's/^marker=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	lldb_do "$O/wr/full.dmp" "$O/wr/m.txt" "memory read --force -c 16 $addr"
	got=$(sed -n 's/^0x[0-9a-f]*: \(\([0-9a-f][0-9a-f] \)\{16\}\).*/\1/p' "$O/wr/m.txt" | tr -d ' ')
	[ "$got" = "$want" ] || fail "marker at $addr: wanted $want, lldb read '$got' ($(tail -n 2 "$O/wr/m.txt"))"
	# the whole 4 MiB buffer is there: its last bytes too
	end=$(printf '0x%x' $((addr + 4 * 1048576 - 16)))
	lldb_do "$O/wr/full.dmp" "$O/wr/m2.txt" "memory read --force -c 16 $end"
	grep -q "^0x0*${end#0x}: " "$O/wr/m2.txt" || fail "end of the marker buffer missing: $(tail -n 2 "$O/wr/m2.txt")"
}
writer_mini_has_stack_not_heap() {
	wr_setup
	addr=0x$(field wr stack)
	want=$(sed -n 's/^stack=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	lldb_do "$O/wr/mini.dmp" "$O/wr/s.txt" "memory read --force -c 16 $addr"
	got=$(sed -n 's/^0x[0-9a-f]*: \(\([0-9a-f][0-9a-f] \)\{16\}\).*/\1/p' "$O/wr/s.txt" | tr -d ' ')
	[ "$got" = "$want" ] || fail "stack local at $addr: wanted $want, got '$got'"
	lldb_do "$O/wr/mini.dmp" "$O/wr/h.txt" "memory read --force -c 16 0x$(field wr marker)"
	! grep -q '^0x[0-9a-f]*: ' "$O/wr/h.txt" || fail "the mini dump holds the heap marker"
}
# read16 DUMP ADDR OUT: the 16 bytes lldb reads at ADDR, as hex ('' if none)
read16() {
	lldb_do "$1" "$3" "memory read --force -c 16 $2"
	sed -n 's/^0x[0-9a-f]*: \(\([0-9a-f][0-9a-f] \)\{16\}\).*/\1/p' "$3" | tr -d ' '
}
writer_mini_indirect_and_data() {
	wr_setup
	a=0x$(field wr indirect)
	want=$(sed -n 's/^indirect=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	got=$(read16 "$O/wr/mini.dmp" "$a" "$O/wr/i.txt")
	[ "$got" = "$want" ] || fail "the heap block a stack pointer refers to is not in -mm: '$got' != $want"
	far=$(printf '0x%x' $((a + 32768)))
	got=$(read16 "$O/wr/mini.dmp" "$far" "$O/wr/i2.txt")
	[ -z "$got" ] || fail "-mm holds bytes 32 KiB into that block (no pointer refers there)"
	d=0x$(field wr data)
	want=$(sed -n 's/^data=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	got=$(read16 "$O/wr/mini.dmp" "$d" "$O/wr/d.txt")
	[ "$got" = "$want" ] || fail "the .data global is not in -mm (DataSegs): '$got' != $want"
}
# u64 at ADDR in DUMP, via lldb (little-endian bytes to a number)
peek64() {
	_h=$(read16 "$1" "$2" "$O/wr/p.txt")
	[ -n "$_h" ] || fail "nothing at $2 in $(basename "$1")"
	echo "0x$(le "$(printf '%s' "$_h" | cut -c1-16)")"
}
writer_mini_peb_teb_cmdline() {
	wr_setup
	m="$O/wr/mini.dmp"
	teb=$(awk '/Thread Id: *0x/ { n++ } n == 1 && /Environment Block:/ { print $NF; exit }' "$O/wr/mini.yaml")
	[ -n "$teb" ] || fail "no TEB address in the thread list"
	self=$(peek64 "$m" "$(printf '0x%x' $((teb + 0x30)))")
	[ $((self)) = $((teb)) ] || fail "TEB NtTib.Self is $self, not $teb"
	peb=$(peek64 "$m" "$(printf '0x%x' $((teb + 0x60)))")
	params=$(peek64 "$m" "$(printf '0x%x' $((peb + 0x20)))")
	cmd=$(peek64 "$m" "$(printf '0x%x' $((params + 0x78)))") # CommandLine.Buffer
	lldb_do "$m" "$O/wr/c.txt" "memory read --force -c 128 $cmd"
	# UTF-16: lldb shows "t.a.r.g.e.t...e.x.e"; drop the dots and the line breaks
	sed -n 's/^0x[0-9a-f]*: [0-9a-f ]*  //p' "$O/wr/c.txt" | tr -d '.\n' | grep -q 'targetexe' ||
		fail "the command line (at $cmd) does not read back: $(tail -n 3 "$O/wr/c.txt")"
}
writer_streams() {
	wr_setup
	grep '^  - Type:' "$O/wr/mini.yaml" | awk '{print $3}' >"$O/wr/mini.types"
	grep '^  - Type:' "$O/wr/full.yaml" | awk '{print $3}' >"$O/wr/full.types"
	for s in SystemInfo MiscInfo ThreadList ModuleList MemoryInfoList MemoryList ThreadInfoList 0x18 UnloadedModuleList; do
		grep -qx "$s" "$O/wr/mini.types" || fail "mini lacks $s"
	done
	for s in SystemInfo MiscInfo ThreadList ModuleList MemoryInfoList Memory64List CommentA CommentW; do
		grep -qx "$s" "$O/wr/full.types" || fail "full lacks $s"
	done
	# ProcessVMCounters (22): MINIDUMP_PROCESS_VM_COUNTERS_2, revision 2,
	# flags 7; private usage holds the 4 MiB marker the target touched
	for k in mini full; do
		grep -qx ProcessVMCounters "$O/wr/$k.types" || fail "$k lacks ProcessVMCounters"
		vm=$(grep -A1 'Type: *ProcessVMCounters' "$O/wr/$k.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
		[ ${#vm} = 304 ] || fail "$k: ProcessVMCounters is $(( ${#vm} / 2 )) bytes, want 152"
		[ "$(echo "$vm" | cut -c1-8)" = 02000700 ] || fail "$k: ProcessVMCounters revision/flags $(echo "$vm" | cut -c1-8)"
		priv=$((0x$(le "$(echo "$vm" | cut -c177-192)"))) virt=$((0x$(le "$(echo "$vm" | cut -c161-176)")))
		[ $priv -ge 4194304 ] && [ $virt -ge $priv ] || fail "$k: PrivateUsage $priv, VirtualSize $virt"
	done
	! grep -qx MemoryList "$O/wr/full.types" || fail "full has a MemoryList as well"
	! grep -qx Memory64List "$O/wr/mini.types" || fail "mini has a Memory64List as well"
	for k in mini full; do
		d=$(sort "$O/wr/$k.types" | uniq -d)
		[ -z "$d" ] || fail "$k: duplicate streams $d"
	done
	want=$(printf '%s' 'written by the test suite' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)00
	grep -A1 'Type:            CommentA' "$O/wr/full.yaml" | grep -q "Content: *'$want'" ||
		fail "the -dc comment is not in CommentStreamA (want $want)"
	wantw=$(printf '%s' 'written by the test suite' | od -An -tx1 | tr -d ' \n' | sed 's/\(..\)/\100/g' | tr a-f A-F)0000
	grep -A1 'Type:            CommentW' "$O/wr/full.yaml" | grep -q "Content: *'$wantw'" ||
		fail "the -dc comment is not in CommentStreamW"
}
writer_codeview_matches_pe() {
	wr_setup
	sig=$(x86_64-w64-mingw32-objdump -p "$T/target.exe" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
	[ -n "$sig" ] || fail "objdump finds no RSDS record in target.exe"
	guid=${sig% *} age=${sig#* }
	# lldb's UUID for the module is GUID-age, from the dump's CodeView record
	want=$(echo "$guid" | tr a-f A-F | sed 's/\(........\)\(....\)\(....\)\(....\)\(.*\)/\1-\2-\3-\4-\5/')-$(printf '%08X' "$age")
	grep -q "$want .*target.exe" "$O/wr/mini.lldb" || fail "lldb: no module target.exe with UUID $want"
	# obj2yaml: the raw record is 'RSDS', GUID (mixed endian), age (LE), name, NUL
	cv=$(grep -A20 "Module Name: *'.*target.exe'" "$O/wr/full.yaml" | sed -n 's/.*CodeView Record: *\([0-9A-F]*\).*/\1/p' | head -n 1)
	raw=$(echo "$guid" | tr a-f A-F | sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(.*\)/\4\3\2\1\6\5\8\7\9/')
	agele=$(printf '%08X' "$age" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
	case $cv in 52534453"$raw$agele"*00) ;; *) fail "CodeView record $cv != RSDS $raw $agele" ;; esac
}
writer_codeview_every_module() {
	wr_setup
	# each module of the dump against its file: RSDS there <=> the same record here
	awk '/Module Name:/ { sub(/.*Module Name: */, ""); gsub(/\x27/, ""); name = $0 }
	     /CodeView Record:/ { sub(/.*CodeView Record: */, ""); gsub(/\x27/, ""); print name "|" $0 }' \
		"$O/wr/full.yaml" >"$O/wr/cv"
	[ "$(wc -l <"$O/wr/cv")" -ge 4 ] || fail "fewer than 4 modules"
	while IFS='|' read -r name cv; do
		case $name in
		[Cc]:\\windows\\system32\\*) file="$WINEDLLS/$(printf '%s' "${name##*\\}" | tr 'A-Z' 'a-z')" ;;
		Z:*) file=$(printf '%s' "${name#Z:}" | tr '\\' /) ;;
		*) fail "unexpected module path $name" ;;
		esac
		[ -f "$file" ] || fail "no file for module $name ($file)"
		sig=$(x86_64-w64-mingw32-objdump -p "$file" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
		if [ -z "$sig" ]; then
			[ -z "$cv" ] || fail "$name has no RSDS in its file but a CodeView record in the dump"
		else
			raw=$(echo "${sig% *}" | tr a-f A-F | sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(.*\)/\4\3\2\1\6\5\8\7\9/')
			case $cv in 52534453"$raw"*) ;; *) fail "$name: CodeView $cv does not match the file's RSDS" ;; esac
		fi
	done <"$O/wr/cv"
}
writer_breakpad_accepts_mini() {
	need_bp
	wr_setup
	rc=0
	"$BP" "$O/wr/mini.dmp" >"$O/wr/bp.txt" 2>"$O/wr/bp.err" || rc=$?
	[ $rc = 0 ] || fail "minidump_dump exited $rc: $(grep -m 3 -i error "$O/wr/bp.err")"
	pid=$(field wr pid)
	grep -q "process_id *= $pid\$" "$O/wr/bp.txt" || fail "Breakpad: MiscInfo process_id is not $pid"
	grep -q "process_create_time *= 0x[0-9a-f]* $(date -u +%Y-%m-%d)" "$O/wr/bp.txt" ||
		fail "Breakpad: process_create_time is not today: $(grep process_create_time "$O/wr/bp.txt")"
	! grep -q ' ERROR: ' "$O/wr/bp.err" || fail "Breakpad: $(grep -m 1 ' ERROR: ' "$O/wr/bp.err")"
	# MiscInfo level 5: times, processor power, integrity, time zone, build strings
	grep -q 'size_of_info *= 1364$' "$O/wr/bp.txt" || fail "Breakpad: MiscInfo is not level 5 (1364)"
	grep -q 'dbg_bld_str *= procdump.c.amd64,' "$O/wr/bp.txt" || fail "Breakpad: no dbg_bld_str naming procdump.c"
	grep -q 'build_string *= [0-9]' "$O/wr/bp.txt" || fail "Breakpad: no OS build string"
	grep -q 'time_zone.standard_name *= [A-Za-z]' "$O/wr/bp.txt" || fail "Breakpad: no time zone"
	grep -q 'process_integrity_level *= 0x' "$O/wr/bp.txt" || fail "Breakpad: no integrity level"
	for tid in $(tids wr); do
		grep -q "thread_id *= $(hexaddr "$tid")\$" "$O/wr/bp.txt" || fail "Breakpad: thread $tid missing"
	done
	sig=$(x86_64-w64-mingw32-objdump -p "$T/target.exe" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
	want=$(echo "${sig% *}" | tr a-f A-F)$(printf '%X' "${sig#* }")
	grep -q "(debug_identifier) *= \"$want\"" "$O/wr/bp.txt" || fail "Breakpad: no debug identifier $want"
	grep -q '(code_file) *= ".*target.exe"' "$O/wr/bp.txt" || fail "Breakpad: no target.exe module"
}
writer_thread_names_and_unloaded() {
	need_bp
	wr_setup
	for k in mini full; do
		"$BP" "$O/wr/$k.dmp" >"$O/wr/bp-$k.txt" 2>"$O/wr/bp-$k.err" || true
		grep -q 'thread_name *= "pd-main"' "$O/wr/bp-$k.txt" || fail "$k: Breakpad shows no thread named pd-main"
		for w in 1 2 3; do
			grep -q "thread_name *= \"pd-worker-$w\"" "$O/wr/bp-$k.txt" || fail "$k: no thread named pd-worker-$w"
		done
		grep -q 'stream_type *= 0xe (MD_UNLOADED_MODULE_LIST_STREAM)' "$O/wr/bp-$k.txt" ||
			fail "$k: no unloaded-module stream"
		! grep -q 'MinidumpUnloadedModule' "$O/wr/bp-$k.err" ||
			fail "$k: Breakpad: $(grep -m 1 MinidumpUnloaded "$O/wr/bp-$k.err")"
	done
	unloaded_has wr "$O/wr/mini"
}
# unloaded_has TARGET DUMP (without .dmp; DUMP.yaml is obj2yaml's): the
# entry for the DLL the target unloaded, from obj2yaml's bytes: header
# 12/24/n, then base, size, ..., name RVA; base, size and name as the
# target reported them
unloaded_has() {
	grep -q '^unloaded=' "$O/$1.log" || fail "the target did not unload its DLL"
	base=$((0x$(field "$1" unloaded)))
	size=$((0x$(sed -n 's/^unloaded=[^ ]* size=\([0-9a-f]*\).*/\1/p' "$O/$1.log" | tr -d '\r')))
	hex=$(grep -A1 'Type: *UnloadedModuleList' "$2.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
	[ -n "$hex" ] || fail "$2: no UnloadedModuleList"
	n=$((0x$(le "$(echo "$hex" | cut -c17-24)")))
	found=0 i=0
	while [ $i -lt $n ]; do
		e=$(echo "$hex" | cut -c$((25 + 48 * i))-$((24 + 48 * (i + 1))))
		if [ $((0x$(le "$(echo "$e" | cut -c1-16)"))) = $base ]; then
			[ $((0x$(le "$(echo "$e" | cut -c17-24)"))) = $size ] || fail "unloaded size is not $size"
			rva=$((0x$(le "$(echo "$e" | cut -c41-48)")))
			name=$(od -An -tx1 -j $((rva + 4)) -N 26 "$2.dmp" | tr -d ' \n')
			want=$(printf '%s' pdtestdll.dll | od -An -tx1 | tr -d ' \n' | sed 's/\(..\)/\100/g')
			[ "$name" = "$want" ] || fail "unloaded name at RVA $rva is not pdtestdll.dll"
			found=1
		fi
		i=$((i + 1))
	done
	[ $found = 1 ] || fail "no unloaded entry at base $(printf '0x%x' $base) among $n"
}
writer_thread_info_list() {
	wr_setup
	# MINIDUMP_THREAD_INFO_LIST from obj2yaml's raw bytes: header 12/64/n, then
	# per thread: id, flags, error, exit status (0x103 = running), times, start
	hex=$(grep -A1 'Type: *ThreadInfoList' "$O/wr/mini.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
	[ -n "$hex" ] || fail "no ThreadInfoList (stream 17)"
	[ "$(u32at 0 "$hex")" = 12 ] || fail "header size is not 12"
	[ "$(u32at 4 "$hex")" = 64 ] || fail "entry size is not 64"
	n=$(u32at 8 "$hex")
	[ $n = 5 ] || fail "$n entries, want 5"
	i=0
	while [ $i -lt $n ]; do
		e=$(echo "$hex" | cut -c$((25 + 128 * i))-$((24 + 128 * (i + 1))))
		tid=$(u32at 0 "$e")
		tids wr | grep -qx "$tid" || fail "entry $i: thread $tid is not one of the target's"
		[ "$(u32at 12 "$e")" = 259 ] || fail "thread $tid: exit status is not STILL_ACTIVE (0x103)"
		[ "$(echo "$e" | cut -c33-48)" != 0000000000000000 ] || fail "thread $tid: no create time"
		[ "$(echo "$e" | cut -c97-112)" != 0000000000000000 ] || fail "thread $tid: no start address"
		i=$((i + 1))
	done
}
writer_handle_data() {
	wr_setup
	pid=$(field wr pid)
	for k in mini full; do
		# obj2yaml gives the stream's bytes: header 16/40/n/0, descriptors of
		# 40 bytes; the names are MINIDUMP_STRINGs at their RVAs in the file
		hex=$(grep -A1 'Type: *HandleData' "$O/wr/$k.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
		[ -n "$hex" ] || fail "$k: no HandleData stream (12)"
		[ "$(le "$(echo "$hex" | cut -c1-8)")" = 00000010 ] || fail "$k: header size is not 16"
		[ "$(le "$(echo "$hex" | cut -c9-16)")" = 00000028 ] || fail "$k: descriptor size is not 40"
		n=$((0x$(le "$(echo "$hex" | cut -c17-24)")))
		[ $n -ge 3 ] || fail "$k: only $n handles"
		str() { # the MINIDUMP_STRING at RVA $1, as ASCII
			_len=$((0x$(od -An -tx1 -j "$1" -N 4 "$O/wr/$k.dmp" | tr -d ' \n' | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')))
			od -An -c -j $(($1 + 4)) -N "$_len" "$O/wr/$k.dmp" | tr -d ' \n' | sed 's/\\0//g'
		}
		found=0 i=0
		while [ $i -lt $n ]; do
			e=$(echo "$hex" | cut -c$((33 + 80 * i))-$((32 + 80 * (i + 1))))
			tr=$((0x$(le "$(echo "$e" | cut -c17-24)"))) nr=$((0x$(le "$(echo "$e" | cut -c25-32)")))
			if [ $nr != 0 ] && str "$nr" | grep -q "PdTestEvent-$pid\$"; then
				[ $tr != 0 ] && [ "$(str "$tr")" = Event ] || fail "$k: PdTestEvent-$pid has type '$(str "$tr")'"
				found=1
			fi
			i=$((i + 1))
		done
		[ $found = 1 ] || fail "$k: no Event handle named PdTestEvent-$pid among $n"
	done
}
writer_custom_masks() {
	wr_setup
	pid=$(field wr pid)
	mkdir -p "$O/wm"
	# MiniDumpNormal: stacks, no optional streams, Flags 0
	pd -mc 0 "$pid" "$(wpath "$O/wm/normal.dmp")"
	expect_rc 0
	expect_out 'Dump types: *Custom'
	yaml "$O/wm/normal.dmp" "$O/wm/normal.yaml"
	for s in MemoryInfoList ThreadInfoList HandleData UnloadedModuleList Memory64List; do
		! grep -q "Type: *$s\$" "$O/wm/normal.yaml" || fail "-mc 0 wrote $s"
	done
	file "$O/wm/normal.dmp" | grep -q ', 0 type' || fail "-mc 0: Flags not 0: $(file "$O/wm/normal.dmp")"
	got=$(read16 "$O/wm/normal.dmp" "0x$(field wr stack)" "$O/wm/s.txt")
	[ -n "$got" ] || fail "-mc 0 lacks the stack"
	got=$(read16 "$O/wm/normal.dmp" "0x$(field wr indirect)" "$O/wm/i.txt")
	[ -z "$got" ] || fail "-mc 0 holds indirectly referenced memory"
	# an unsupported bit is named on stderr and left out of Flags
	pd -mc 0x400004 "$pid" "$(wpath "$O/wm/ipt.dmp")"
	expect_rc 0
	expect_err '0x400000 WithIptTrace'
	file "$O/wm/ipt.dmp" | grep -q ' 0x4 type' || fail "-mc 0x400004: Flags not 0x4: $(file "$O/wm/ipt.dmp")"
	yaml "$O/wm/ipt.dmp" "$O/wm/ipt.yaml"
	grep -q 'Type: *HandleData' "$O/wm/ipt.yaml" || fail "-mc 0x4 wrote no HandleData"
	# FilterMemory: the stack local's bytes become the 0defaced marker; the
	# stacks still walk
	pd -mc 0x8 "$pid" "$(wpath "$O/wm/filter.dmp")"
	expect_rc 0
	file "$O/wm/filter.dmp" | grep -q ' 0x8 type' || fail "-mc 0x8: Flags not 0x8: $(file "$O/wm/filter.dmp")"
	got=$(read16 "$O/wm/filter.dmp" "0x$(field wr stack)" "$O/wm/f.txt")
	[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "-mc 0x8 stack local: '$got', want the 0defaced marker"
	lldb_do "$O/wm/filter.dmp" "$O/wm/fl" 'bt all'
	grep -q 'target.exe`main' "$O/wm/fl" || fail "-mc 0x8 stacks no longer walk to main"
	# PrivateReadWrite: the 4 MiB private buffer, in a MemoryList
	pd -mc 0x200 "$pid" "$(wpath "$O/wm/prw.dmp")"
	expect_rc 0
	want=$(sed -n 's/^marker=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	got=$(read16 "$O/wm/prw.dmp" "0x$(field wr marker)" "$O/wm/m.txt")
	[ "$got" = "$want" ] || fail "-mc 0x200 lacks the private read/write marker"
	need_bp
	# (minidump_dump exits 1 for any dump without MemoryInfoList: read its log)
	"$BP" "$O/wm/prw.dmp" >"$O/wm/bp.txt" 2>"$O/wm/bp.err" || true
	! grep -Eq 'GetMemoryList|MinidumpMemoryList|memory region' "$O/wm/bp.err" ||
		fail "Breakpad rejects the -mc 0x200 MemoryList: $(grep -m1 -i memory "$O/wm/bp.err")"
	# and it lists a region that holds the marker
	m=$((0x$(field wr marker))) in=0
	sed -n '/^MinidumpMemoryList/,$ { s/^  start_of_memory_range = \(0x[0-9a-f]*\)/\1/p; s/^  memory.data_size *= \(0x[0-9a-f]*\)/\1/p; }' \
		"$O/wm/bp.txt" | paste - - >"$O/wm/bp.regions"
	while read -r b n; do
		[ $m -ge $((b)) ] && [ $m -lt $((b + n)) ] && in=1
	done <"$O/wm/bp.regions"
	[ $in = 1 ] || fail "Breakpad lists no MemoryList region holding the marker $(field wr marker)"
	# FilterModulePaths: module names without their folders
	pd -mc 0x80 "$pid" "$(wpath "$O/wm/paths.dmp")"
	yaml "$O/wm/paths.dmp" "$O/wm/paths.yaml"
	grep -q "Module Name: *'\\?target.exe'\\?\$" "$O/wm/paths.yaml" || fail "-mc 0x80 kept the module path"
	! grep 'Module Name:' "$O/wm/paths.yaml" | grep -q '\\' || fail "-mc 0x80 left a path"
}
writer_triage() {
	wr_setup
	mkdir -p "$O/wt"
	pd -mt "$(field wr pid)" "$(wpath "$O/wt/t.dmp")"
	expect_rc 0
	expect_out 'Dump types: *Triage'
	file "$O/wt/t.dmp" | grep -q ' 0x120804 type' || fail "Flags not 0x120804: $(file "$O/wt/t.dmp")"
	yaml "$O/wt/t.dmp" "$O/wt/y"
	for s in ThreadInfoList UnloadedModuleList Memory64List 0x18 Token ProcessVMCounters; do
		! grep -q "Type: *$s\$" "$O/wt/y" || fail "-mt wrote $s"
	done
	grep -q 'Type: *HandleData' "$O/wt/y" || fail "-mt has no HandleData"
	# handle names are gone: every descriptor's ObjectName RVA is 0
	hex=$(grep -A1 'Type: *HandleData' "$O/wt/y" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
	n=$(( $(echo "$hex" | wc -c) / 80 ))
	i=0
	while [ $i -lt "$n" ]; do
		e=$(echo "$hex" | cut -c$((33 + 80 * i))-$((32 + 80 * (i + 1))))
		[ "$(echo "$e" | cut -c25-32)" = 00000000 ] || fail "-mt handle $i has an object name"
		i=$((i + 1))
	done
	# the secret bytes of the stack local are overwritten; the heap is absent
	got=$(read16 "$O/wt/t.dmp" "0x$(field wr stack)" "$O/wt/s.txt")
	[ -n "$got" ] || fail "-mt lacks the stack"
	want=$(sed -n 's/^stack=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	[ "$got" != "$want" ] || fail "-mt kept the stack local's bytes"
	[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "-mt stack local: $got, want the 0defaced marker"
	for f in marker indirect data; do
		got=$(read16 "$O/wt/t.dmp" "0x$(field wr $f)" "$O/wt/h.txt")
		want=$(sed -n "s/^$f=[^ ]* bytes=\\([0-9a-f]*\\).*/\\1/p" "$O/wr.log" | tr -d '\r')
		[ "$got" != "$want" ] || fail "-mt holds the $f bytes"
	done
	# return addresses and frame links survive: lldb still walks the stacks
	lldb_do "$O/wt/t.dmp" "$O/wt/l" 'bt all'
	[ "$(grep -c 'target.exe`target_worker' "$O/wt/l")" -ge 3 ] || fail "-mt stacks no longer walk to target_worker"
	grep -q 'target.exe`main' "$O/wt/l" || fail "-mt stacks no longer walk to main"
}
writer_miniplus() {
	start_target ar "$T/load.exe" area 6 96
	pid=$(field ar pid)
	mkdir -p "$O/wp"
	pd -mp "$pid" "$(wpath "$O/wp/p.dmp")"
	expect_rc 0
	expect_out 'Dump types: *MiniPlus'
	expect_out 'MiniPlus: left out 6 allocations of 96 MB (576 MB)'
	file "$O/wp/p.dmp" | grep -q ' 0x71b65 type' || fail "Flags not 0x71b65: $(file "$O/wp/p.dmp")"
	yaml "$O/wp/p.dmp" "$O/wp/y"
	grep -q 'Type: *Memory64List' "$O/wp/y" || fail "-mp wrote no Memory64List"
	size=$(wc -c <"$O/wp/p.dmp")
	[ "$size" -lt $((256 << 20)) ] || fail "-mp is $size bytes: the 576 MB area was not left out"
	for f in ref other; do
		want=$(sed -n "s/^$f=[^ ]* bytes=\\([0-9a-f]*\\).*/\\1/p" "$O/ar.log" | tr -d '\r')
		got=$(read16 "$O/wp/p.dmp" "0x$(field ar $f)" "$O/wp/$f.txt")
		[ "$got" = "$want" ] || fail "-mp lacks the $f bytes ($got != $want)"
	done
	got=$(read16 "$O/wp/p.dmp" "0x$(field ar block0)" "$O/wp/b0.txt")
	[ -z "$got" ] || fail "-mp holds block 0 of the excluded area"
	stop_target ar
}
writer_breakpad_accepts_memorylist_types() {
	need_bp
	wr_setup
	pid=$(field wr pid)
	mkdir -p "$O/wb"
	for args in "-mt" "-mc 0xA00" "-mc 0x1805"; do
		f="$O/wb/$(echo "$args" | tr -d ' -').dmp"
		# shellcheck disable=SC2086
		pd $args "$pid" "$(wpath "$f")"
		expect_rc 0
		rc=0
		"$BP" "$f" >"$f.txt" 2>"$f.err" || rc=$?
		[ $rc = 0 ] || fail "minidump_dump exits $rc on $args: $(grep -m 2 ERROR "$f.err")"
		for tid in $(tids wr); do
			grep -q "thread_id *= $(hexaddr "$tid")\$" "$f.txt" || fail "$args: Breakpad lacks thread $tid"
		done
	done
}
writer_dbghelp_switch() {
	wr_setup
	pid=$(field wr pid)
	mkdir -p "$O/wd"
	pd -dbghelp -mm -dc "by dbghelp" "$pid" "$(wpath "$O/wd/m.dmp")"
	expect_rc 0
	yaml "$O/wd/m.dmp" "$O/wd/m.yaml"
	# Wine's dbghelp writes its private ELF module list (0xFFF0): it wrote this
	grep -q 'Type: *0xFFF0' "$O/wd/m.yaml" || fail "-dbghelp -mm was not written by Wine's dbghelp"
	grep -q 'Type: *CommentA' "$O/wd/m.yaml" || fail "-dbghelp lost the -dc comment"
	for tid in $(tids wr); do
		grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/wd/m.yaml" || fail "-dbghelp -mm lacks thread $tid"
	done
	pd -dbghelp -ma "$pid" "$(wpath "$O/wd/f.dmp")"
	expect_rc 0
	got=$(read16 "$O/wd/f.dmp" "0x$(field wr marker)" "$O/wd/r.txt")
	want=$(sed -n 's/^marker=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	[ "$got" = "$want" ] || fail "-dbghelp -ma lacks the marker"
	alive wr || fail "the target stopped"
}
writer_callback_dll() {
	wr_setup
	x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror -shared "$T/mdcallback.c" -o "$O/mdcallback.dll" ||
		fail "cannot build the callback DLL"
	pid=$(field wr pid)
	drop=$(sed -n 's/^tid=\([0-9]*\) role=worker.*/\1/p' "$O/wr.log" | tr -d '\r' | head -n 1)
	mk=0x$(field wr marker)
	mkdir -p "$O/wc2"
	PD_TEST_EXCLUDE_TID=$drop PD_TEST_ADD="${mk#0x}:1000" PD_TEST_LOG="$(wpath "$O/wc2/calls.txt")" \
		pd -md "$(wpath "$O/mdcallback.dll")" "$pid" "$(wpath "$O/wc2/c.dmp")"
	expect_rc 0
	expect_out 'Dump types: *Callback'
	yaml "$O/wc2/c.dmp" "$O/wc2/y"
	! grep -q "Thread Id: *$(printf '0x%X' "$drop")\$" "$O/wc2/y" || fail "thread $drop was not left out"
	for tid in $(tids wr); do
		[ "$tid" = "$drop" ] && continue
		grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/wc2/y" || fail "thread $tid is missing"
	done
	want=$(sed -n 's/^marker=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/wr.log" | tr -d '\r')
	got=$(read16 "$O/wc2/c.dmp" "$mk" "$O/wc2/m.txt")
	[ "$got" = "$want" ] || fail "the callback's memory range is not in the dump"
	tr -d '\r' <"$O/wc2/calls.txt" >"$O/wc2/calls"
	grep -q '^type 3: 5$' "$O/wc2/calls" || fail "IncludeThread was not called once per thread: $(cat "$O/wc2/calls")"
	grep -q '^type 4: ' "$O/wc2/calls" || fail "IncludeModule was not called"
	grep -q '^type 5: 2$' "$O/wc2/calls" || fail "Memory was not called until it said no"
	pd -md "$(wpath "$O/no-such.dll")" "$pid"
	expect_rc 2
	expect_err '-md: cannot load'
}
writer_thread_churn() {
	start_target ch "$T/load.exe" churn 2
	mkdir -p "$O/wch"
	for k in 1 2 3; do
		for ty in mm ma; do
			pd -$ty "$(field ch pid)" "$(wpath "$O/wch/$ty$k.dmp")"
			expect_rc 0
			yaml "$O/wch/$ty$k.dmp" "$O/wch/$ty$k.yaml"
			n=$(grep -c '^      - Thread Id:' "$O/wch/$ty$k.yaml")
			[ "$n" -ge 3 ] || fail "$ty$k: only $n threads"
			# lldb loads it and lists the threads obj2yaml lists (a thread
			# whose context missed its deadline under Wine is still listed)
			lldb_do "$O/wch/$ty$k.dmp" "$O/wch/$ty$k.l" 'thread list'
			[ "$(grep -c 'tid = 0x' "$O/wch/$ty$k.l")" = "$n" ] || fail "$ty$k: lldb lists other threads than obj2yaml"
		done
	done
	alive ch || fail "the churning target stopped"
	stop_target ch
}
writer_memory_info_and_stacks() {
	wr_setup
	# MemoryInfoList as obj2yaml decodes it: from 0, ascending and contiguous,
	# free regions included, the guard page described as such
	awk '/Type: *MemoryInfoList/ { m = 1; next } m && /^  - Type:/ { exit }
	     m && /Base Address:/ { b = $NF } m && /Region Size:/ { print b, $NF }' "$O/wr/mini.yaml" >"$O/wr/mi"
	[ "$(wc -l <"$O/wr/mi")" -ge 20 ] || fail "MemoryInfoList has $(wc -l <"$O/wr/mi") entries"
	next=0
	while read -r b z; do
		[ $((b)) = $next ] || fail "region at $b does not follow the previous one (want $(printf '0x%x' $next))"
		next=$((b + z))
	done <"$O/wr/mi"
	[ $next -ge $((0x7ff000000000)) ] || fail "the map stops at $(printf '0x%x' $next), short of the top"
	grep -q 'MEM_FREE' "$O/wr/mini.yaml" || fail "no free region listed"
	g=$(printf '0x%X' $((0x$(field wr guard))))
	awk -v g="$g" '/Base Address:/ { hit = ($NF == g) } hit && /Protect:.*PAGE_GUARD/ { f = 1 } END { exit !f }' \
		"$O/wr/mini.yaml" || fail "the guard region at $g is not described with PAGE_GUARD"
	# every thread: the captured stack holds RSP (context offset 0x98) and,
	# for the main thread, ends at the TEB's StackBase
	awk '/Thread Id:/ { id = $NF } /Context:/ { ctx = $NF }
	     /Start of Memory Range:/ && ctx != "" { s = $NF }
	     /Content:/ && s != "" { print id, s, length($NF) / 2, substr(ctx, 305, 16); s = ""; ctx = "" }' \
		"$O/wr/mini.yaml" >"$O/wr/st"
	[ "$(wc -l <"$O/wr/st")" = 5 ] || fail "want 5 thread stacks, got $(wc -l <"$O/wr/st")"
	while read -r id s len rsp; do
		rsp=0x$(le "$rsp")
		[ $((rsp)) -ge $((s)) ] && [ $((rsp)) -lt $((s + len)) ] ||
			fail "thread $id: RSP $rsp is outside its stack [$s, +$len)"
	done <"$O/wr/st"
	teb=$(awk '/Thread Id: *0x/ { n++ } n == 1 && /Environment Block:/ { print $NF; exit }' "$O/wr/mini.yaml")
	base=$(peek64 "$O/wr/mini.dmp" "$(printf '0x%x' $((teb + 8)))")
	read -r id s len rsp <"$O/wr/st"
	[ $((s + len)) = $((base)) ] || fail "main stack ends at $(printf '0x%x' $((s + len))), StackBase is $base"
}
writer_memory64_layout() {
	wr_setup
	# Decode the Memory64List from obj2yaml's raw hex: count, BaseRva, (start,size)*
	hex=$(grep -A1 'Type:            Memory64List' "$O/wr/full.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
	[ -n "$hex" ] || fail "no Memory64List content"
	n=$((0x$(le "$(echo "$hex" | cut -c1-16)")))
	base=$((0x$(le "$(echo "$hex" | cut -c17-32)")))
	[ $((${#hex} / 2)) = $((16 + 16 * n)) ] || fail "Memory64List size $((${#hex} / 2)) != 16+16*$n"
	total=0 prev_end=0 i=0
	while [ $i -lt $n ]; do
		o=$((33 + 32 * i))
		s=$((0x$(le "$(echo "$hex" | cut -c$o-$((o + 15)))")))
		z=$((0x$(le "$(echo "$hex" | cut -c$((o + 16))-$((o + 31)))")))
		[ $z -gt 0 ] || fail "range $i is empty"
		[ $s -ge $prev_end ] || fail "range $i overlaps or is out of order"
		prev_end=$((s + z))
		total=$((total + z))
		i=$((i + 1))
	done
	size=$(wc -c <"$O/wr/full.dmp")
	[ $((base + total)) = "$size" ] || fail "BaseRva $base + $total bytes != file size $size"
	[ $((base % 4096)) = 0 ] || fail "BaseRva $base is not page-aligned"
}
writer_header_and_flags() {
	wr_setup
	# obj2yaml prints the header fields it knows; file(1) reads the signature
	for k in mini full; do
		file "$O/wr/$k.dmp" | grep -q 'Mini DuMP crash report' || fail "$k: file(1) does not see MDMP"
	done
	file "$O/wr/full.dmp" | grep -q '0x61826 type' || fail "full: header Flags not 0x61826: $(file "$O/wr/full.dmp")"
	file "$O/wr/mini.dmp" | grep -q '0x61965 type' || fail "mini: header Flags not 0x61965: $(file "$O/wr/mini.dmp")"
}

# WithAvxXStateContext (-mc 0x200000): a thread holds 32 marker bytes in
# ymm5; its context in the dump (obj2yaml's bytes) is CONTEXT, CONTEXT_EX and
# the XSAVE header and extended state, MiscInfo's XStateData gives that size
# and the AVX offset, and ymm5's low half is in the CONTEXT, its high half in
# the AVX area
writer_xstate() {
	start_target ym "$T/load.exe" ymm
	pid=$(field ym pid)
	tid=$(sed -n 's/^tid=\([0-9]*\) ymm5=.*/\1/p' "$O/ym.log" | tr -d '\r')
	m=$(sed -n 's/^tid=[0-9]* ymm5=\([0-9a-f]*\).*/\1/p' "$O/ym.log" | tr -d '\r' | tr a-f A-F)
	[ ${#m} = 64 ] || fail "the target printed no ymm5 marker"
	mkdir -p "$O/xs"
	pd -mc 0x200000 "$pid" "$(wpath "$O/xs/x.dmp")"
	stop_target ym # it spins: never leave it running into the monitor tests
	expect_rc 0
	file "$O/xs/x.dmp" | grep -q ' 0x200000 type' || fail "Flags not 0x200000: $(file "$O/xs/x.dmp")"
	yaml "$O/xs/x.dmp" "$O/xs/x.yaml"
	ctx=$(awk -v t="$(printf '0x%X' "$tid")" '/Thread Id:/ { on = ($NF == t) } on && /Context:/ { c = $2; gsub(/\047/, "", c); print c; exit }' "$O/xs/x.yaml")
	size=$(( ${#ctx} / 2 ))
	[ $size -gt 1232 ] || fail "thread $tid: context of $size bytes, no XSAVE area"
	# CONTEXT_EX after the CONTEXT: All {-1232, size}, Legacy, XState {offset, length}
	all_off=$(u32at 1232 "$ctx") all_len=$(u32at 1236 "$ctx") xs_off=$(u32at 1248 "$ctx")
	[ "$all_off" = $((0xFFFFFFFF - 1231)) ] && [ "$all_len" = $size ] ||
		fail "CONTEXT_EX.All is {$all_off, $all_len}, want {-1232, $size}"
	misc=$(grep -A1 'Type: *MiscInfo' "$O/xs/x.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
	[ "$(u32at 832 "$misc")" = 528 ] || fail "MiscInfo XStateData.SizeOfInfo is $(u32at 832 "$misc"), want 528"
	[ "$(u32at 836 "$misc")" = $size ] || fail "XStateData.ContextSize $(u32at 836 "$misc") is not the context size $size"
	[ $(( $(u32at 840 "$misc") & 4 )) = 4 ] || fail "XStateData.EnabledFeatures lacks AVX (bit 2)"
	avx=$(u32at $((848 + 16)) "$misc")
	lo=$(echo "$ctx" | cut -c$((2 * (0x1A0 + 5 * 16) + 1))-$((2 * (0x1A0 + 6 * 16))))
	# the XState chunk starts at the XSAVE header, 512 bytes into the XSAVE
	# layout whose offsets Features[] gives (the legacy part is the CONTEXT's)
	at=$((1232 + xs_off + avx - 512 + 5 * 16))
	hi=$(echo "$ctx" | cut -c$((2 * at + 1))-$((2 * at + 32)))
	[ "$lo$hi" = "$m" ] || fail "ymm5 in the dump is $lo$hi, the target holds $m"
	lldb_do "$O/xs/x.dmp" "$O/xs/l" 'thread list'
	grep -q 'load.exe`ymm_hold' "$O/xs/l" || fail "lldb does not read the XState context of thread $tid"
}

# TokenStream (19): obj2yaml gives its bytes; the layout after each record's
# MINIDUMP_TOKEN_INFO_HEADER is the one procdump.c documents (seven
# {offset, size} pairs, the TokenUser field being {8, attributes, SID})
writer_token() {
	wr_setup
	pid=$(field wr pid)
	imp=$(field wr impersonating)
	sid=$(field wr usersid | tr a-f A-F)
	[ -n "$imp" ] && [ -n "$sid" ] || fail "the target did not report its SID and impersonating thread"
	for k in mini full; do
		hex=$(grep -A1 'Type: *Token$' "$O/wr/$k.yaml" | sed -n 's/.*Content: *\([0-9A-F]*\).*/\1/p')
		[ -n "$hex" ] || fail "$k: no Token stream (19)"
		[ "$(u32at 0 "$hex")" = $(( ${#hex} / 2 )) ] || fail "$k: TokenListSize $(u32at 0 "$hex") is not the stream size $(( ${#hex} / 2 ))"
		n=$(u32at 4 "$hex")
		[ "$(u32at 8 "$hex")" = 16 ] && [ "$(u32at 12 "$hex")" = 72 ] || fail "$k: list header sizes $(u32at 8 "$hex")/$(u32at 12 "$hex"), want 16/72"
		at=16 i=0 seen_pid=0 seen_imp=0
		while [ $i -lt "$n" ]; do
			size=$(u32at $at "$hex") id=$(u32at $((at + 4)) "$hex")
			uoff=$(u32at $((at + 16 + 8)) "$hex") ulen=$(u32at $((at + 16 + 12)) "$hex")
			[ "$(u32at $((at + uoff)) "$hex")" = 8 ] || fail "$k: token $i: TokenUser SID offset is not 8"
			got=$(echo "$hex" | cut -c$((2 * (at + uoff + 8) + 1))-$((2 * (at + uoff + 8) + ${#sid})))
			[ "$got" = "$sid" ] || fail "$k: token $i (id $id): user SID $got, the target says $sid"
			[ "$ulen" = $((8 + ${#sid} / 2)) ] || fail "$k: token $i: TokenUser field size $ulen"
			[ "$id" = "$pid" ] && seen_pid=1
			[ "$id" = "$imp" ] && seen_imp=1
			at=$((at + size)) i=$((i + 1))
		done
		[ $at = $(( ${#hex} / 2 )) ] || fail "$k: records end at $at, the stream at $(( ${#hex} / 2 ))"
		[ $seen_pid = 1 ] || fail "$k: no token record for the process ($pid)"
		[ $seen_imp = 1 ] || fail "$k: no token record for impersonating thread $imp"
	done
}
writer_guard_page_untouched() {
	wr_setup
	g=0x$(field wr guard)
	tail -n 1 "$O/wr.log" | grep -q 'guard=104 ' || fail "guard page lost PAGE_GUARD: $(tail -n 1 "$O/wr.log")"
	alive wr || fail "the target stopped"
	tail -n 1 "$O/wr.log" | grep -q 'guard=104 ' || fail "guard page lost PAGE_GUARD after the dumps"
	lldb_do "$O/wr/full.dmp" "$O/wr/g.txt" "memory read --force -c 16 $g"
	! grep -q '^0x[0-9a-f]*: ' "$O/wr/g.txt" || fail "the full dump holds bytes of the guard page"
	# and the memory-info list describes it as committed guard memory
	lldb_do "$O/wr/full.dmp" "$O/wr/gr.txt" "memory region $g"
	grep -q "\[0x0*${g#0x}-" "$O/wr/gr.txt" || fail "lldb: no memory region at $g: $(tail -n 2 "$O/wr/gr.txt")"
}
writer_memorylist_sane() {
	wr_setup
	# (start, size) of every MemoryList range from obj2yaml: ascending, no overlap, not empty
	awk '/Type: *MemoryList/ { m = 1 } m && /Start of Memory Range:/ { s = $NF }
	     m && /Content:/ { print s, length($NF) / 2 }' "$O/wr/mini.yaml" >"$O/wr/ml"
	n=$(wc -l <"$O/wr/ml")
	[ "$n" -ge 4 ] || fail "MemoryList has $n ranges"
	[ "$n" -le 4096 ] || fail "MemoryList has $n ranges (Breakpad's cap is 4096)"
	prev=0
	while read -r s z; do
		[ "$z" -gt 0 ] || fail "empty range at $s"
		[ $((s)) -ge $prev ] || fail "range $s overlaps or is out of order"
		prev=$((s + z))
	done <"$O/wr/ml"
}
writer_version_info() {
	wr_setup
	grep -A12 "Module Name: *'.*target.exe'" "$O/wr/mini.yaml" >"$O/wr/vi"
	grep -q 'File Version High: 0x10002$' "$O/wr/vi" || fail "FileVersion high is not 1.2: $(cat "$O/wr/vi")"
	grep -q 'File Version Low: 0x30004$' "$O/wr/vi" || fail "FileVersion low is not 3.4"
	grep -q 'Product Version High: 0x50006$' "$O/wr/vi" || fail "ProductVersion high is not 5.6"
	grep -q 'Product Version Low: 0x70008$' "$O/wr/vi" || fail "ProductVersion low is not 7.8"
}
writer_target_keeps_running() {
	wr_setup
	alive wr || fail "the target's heartbeat stopped after the dumps"
	kill -0 "$(upid wr)" || fail "the target is gone"
	grep -q 'Suspend Count' "$O/wr/mini.yaml" && fail "a thread had a non-zero suspend count before the dump"
	for f in "$O"/wr/*; do case $f in *.tmp) fail "temporary file left: $f" ;; esac; done
}
writer_suspended_thread_count() {
	wr_setup
	# ThreadList count in obj2yaml equals the threads the target printed
	n=$(grep -c '^      - Thread Id:' "$O/wr/mini.yaml")
	[ "$n" = 5 ] || fail "ThreadList has $n threads, want 5"
}

writer_cancel_mid_dump() {
	[ $native = 1 ] && skip "Ctrl+C is sent with kill -INT under Wine"
	wr_setup
	mkdir -p "$O/wc"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg wc -ma "$(field wr pid)" "$(wpath "$O/wc/c.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/wc.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/wc.raw")"
	ls "$O/wc" | grep -q '\.tmp$' || fail "no temporary file while writing: $(ls "$O/wc")"
	kill -INT "$(cat "$O/wc.pdpid")"
	pd_join wc 30
	expect_rc 1
	expect_out 'dump cancelled'
	[ -z "$(ls "$O/wc")" ] || fail "files left behind: $(ls "$O/wc")"
	alive wr || fail "the target was left suspended"
}

# =================================================================== series ==

series_n_s() {
	start_target se "$T/target.exe" 1
	mkdir -p "$O/se"
	pd -n 3 -s 1 "$(field se pid)" "$(wpath "$O/se")"
	expect_rc 0
	[ "$(ls "$O/se" | grep -c '\.dmp$')" = 3 ] || fail "want 3 dumps: $(ls "$O/se")"
	expect_out 'Dump 3 complete'
	expect_out 'Dump count reached.'
	for f in "$O"/se/*.dmp; do yaml "$f" "$O/se/y"; done
	alive se || fail "target stopped"
}
series_cancel_by_pid() {
	[ -f "$O/se.log" ] || start_target se "$T/target.exe" 1
	pid=$(field se pid)
	mkdir -p "$O/sc"
	pd_bg sc -n 5 -s 30 "$pid" "$(wpath "$O/sc")"
	wait_for "$O/sc.raw" 'Dump 1 complete' 30 || fail "first dump not written: $(cat "$O/sc.raw")"
	pd -cancel "$pid"
	expect_rc 0
	pd_join sc 30
	expect_rc 1
	expect_out 'Dump count not reached'
	alive se || fail "the target stopped"
	pd -cancel "$pid"
	expect_rc 3
	expect_err "no procdump is monitoring PID $pid"
}
series_ctrl_c() {
	[ $native = 1 ] && skip "Ctrl+C is sent with kill -INT under Wine"
	[ -f "$O/se.log" ] || start_target se "$T/target.exe" 1
	mkdir -p "$O/cc"
	pd_bg cc -n 5 -s 30 "$(field se pid)" "$(wpath "$O/cc")"
	wait_for "$O/cc.raw" 'Dump 1 complete' 30 || fail "first dump not written"
	kill -INT "$(cat "$O/cc.pdpid")"
	pd_join cc 30
	expect_rc 1
	expect_out 'Dump count not reached'
	alive se || fail "the target stopped"
}
series_target_exits() {
	start_target sx "$T/target.exe" 1
	mkdir -p "$O/sx"
	pd_bg sx -n 3 -s 2 "$(field sx pid)" "$(wpath "$O/sx")"
	wait_for "$O/sx.raw" 'Dump 1 complete' 30 || fail "first dump not written"
	stop_target sx
	pd_join sx 30
	expect_rc 1
	expect_out 'The process has exited'
}
series_kill() {
	start_target sk "$T/target.exe" 1
	mkdir -p "$O/sk"
	pd -k -mm "$(field sk pid)" "$(wpath "$O/sk")"
	expect_rc 0
	expect_out 'Killed process'
	wait_gone "$(upid sk)" 10 || fail "-k did not end the target"
}

# ================================================================= debugger ==
# crasher.exe waits until a debugger is attached, then raises one event.

# pd_bg NAME ARGS...: procdump in the background (through pdrun.exe, as pd),
# output in $O/NAME.out; kill -INT on $O/NAME.pdpid is a Ctrl+C to procdump
pd_bg() {
	_n=$1
	shift
	printf '%s\n' "procdump64.exe $* &" >"$O/pd.cmd"
	rm -f "$O/$_n.code"
	$WINE "$T/pdrun.exe" "$(wpath "$O/$_n.code")" 300 "$(wpath "$PD")" "$@" >"$O/$_n.raw" 2>&1 &
	echo $! >"$O/$_n.pdpid"
	echo $! >>"$O/bg.list"
}
# pd_join NAME SECONDS: wait for it (deadline), RC = its exit code, $O/pd.out = its output
pd_join() {
	_p=$(cat "$O/$1.pdpid")
	wait_gone "$_p" "$2" || { kill "$_p"; fail "procdump did not end within $2 s: $(tail -n 5 "$O/$1.raw")"; }
	RC=0
	wait "$_p" || RC=$?
	[ -s "$O/$1.code" ] && RC=$(tr -d '\r' <"$O/$1.code")
	tr -d '\r' <"$O/$1.raw" >"$O/pd.out"
	cp "$O/pd.out" "$O/$1.out"
	: >"$O/pd.err"
}
# crash NAME MODE [ARG]: start crasher.exe (it waits for a debugger)
crash() {
	_n=$1
	shift
	start_target "$_n" "$T/crasher.exe" "$@"
}
# target_status NAME: TS = exit status of the finished target (8 bits under
# Wine: 0xC0000005 -> 5).  Not in $(...): wait needs the shell that started it.
target_status() {
	_u=$(upid "$1")
	wait_gone "$_u" 15 || fail "target $1 still runs"
	TS=0
	wait "$_u" || TS=$?
}
# ex_field YAML FIELD: a field of the Exception stream, from obj2yaml
ex_field() { awk '/Type: *Exception/ { e = 1 } e && $0 ~ "'"$2"'" { sub(/.*: */, ""); print; exit }' "$1"; }
one_dump() { # one_dump DIR: the path of the only dump in DIR
	_c=$(ls "$1" | grep -c '\.dmp$' || true)
	[ "$_c" = 1 ] || fail "want 1 dump in $(basename "$1"), found $_c: $(ls "$1")"
	echo "$1/$(ls "$1" | grep '\.dmp$')"
}

debugger_av_second_chance() {
	crash av av
	mkdir -p "$O/dav"
	pd -e "$(field av pid)" "$(wpath "$O/dav")"
	expect_rc 0
	expect_out 'Unhandled: C0000005.ACCESS_VIOLATION'
	expect_out 'Dump count reached.'
	f=$(one_dump "$O/dav")
	yaml "$f" "$O/dav/y"
	[ "$(ex_field "$O/dav/y" 'Exception Code')" = 0xC0000005 ] || fail "code: $(ex_field "$O/dav/y" 'Exception Code')"
	[ "$(ex_field "$O/dav/y" 'Thread ID')" = "$(printf '0x%X' "$(field av tid)")" ] || fail "faulting thread is not $(field av tid)"
	[ "$(ex_field "$O/dav/y" 'Parameter 1')" = 0x10 ] || fail "the AV address (parameter 1) is not 0x10"
	lldb_do "$f" "$O/dav/l" 'thread list' 'bt'
	grep -q 'stop reason = Exception 0xc0000005' "$O/dav/l" || fail "lldb: no exception stop reason"
	grep -q 'frame #0: .*crasher.exe`crash_av' "$O/dav/l" || fail "lldb: frame 0 is not crash_av"
	grep -q 'crasher.exe`main' "$O/dav/l" || fail "lldb: no main frame"
	target_status av
	[ "$TS" = 5 ] || fail "the target did not die of the AV (second chance passed on)"
}
debugger_stack_overflow() {
	crash so so
	mkdir -p "$O/dso"
	pd -e "$(field so pid)" "$(wpath "$O/dso")"
	expect_rc 0
	expect_out 'Unhandled: C00000FD.STACK_OVERFLOW'
	yaml "$(one_dump "$O/dso")" "$O/dso/y"
	[ "$(ex_field "$O/dso/y" 'Exception Code')" = 0xC00000FD ] || fail "code is not C00000FD"
	target_status so
	[ "$TS" = 253 ] || fail "the target did not die of the stack overflow"
}
debugger_quick_reference_filter() {
	# 002's "procdump -ma -e 1 -f "0xc00000fd" <PID>": a hex code in any case
	crash sf so
	mkdir -p "$O/dsf"
	pd -ma -e 1 -f "0xc00000fd" "$(field sf pid)" "$(wpath "$O/dsf")"
	expect_rc 0
	expect_out 'Exception: C00000FD.STACK_OVERFLOW'
	yaml "$(one_dump "$O/dsf")" "$O/dsf/y"
	grep -q 'Type: *Memory64List' "$O/dsf/y" || fail "-ma did not write a full dump"
	[ "$(ex_field "$O/dsf/y" 'Exception Code')" = 0xC00000FD ] || fail "code"
}
debugger_custom_code_name() {
	crash rz raise E0001234
	mkdir -p "$O/drz"
	pd -e "$(field rz pid)" "$(wpath "$O/drz/PROCESSNAME_EXCEPTIONCODE.dmp")"
	expect_rc 0
	expect_out 'Unhandled: E0001234.UNKNOWN'
	[ -f "$O/drz/crasher.exe_E0001234.dmp" ] || fail "EXCEPTIONCODE not substituted: $(ls "$O/drz")"
	yaml "$O/drz/crasher.exe_E0001234.dmp" "$O/drz/y"
	[ "$(ex_field "$O/drz/y" 'Exception Code')" = 0xE0001234 ] || fail "code is not E0001234"
	target_status rz
	[ "$TS" = 52 ] || fail "the target did not exit with 0xE0001234"
}
debugger_first_chance_needs_e1() {
	crash c1 caught E0005678
	mkdir -p "$O/dc1"
	pd_bg c1 -e "$(field c1 pid)" "$(wpath "$O/dc1")"
	wait_for "$O/c1.log" '^survived' 30 || fail "the caught exception did not let the target go on"
	wait_for "$O/c1.raw" 'Exception: E0005678' 10 || fail "no 'Exception: E0005678' line"
	pd -cancel "$(field c1 pid)"
	expect_rc 0
	pd_join c1 20
	expect_rc 1
	expect_out 'Dump count not reached.'
	[ -z "$(ls "$O/dc1")" ] || fail "-e (no 1) dumped a first-chance exception: $(ls "$O/dc1")"
	alive c1 || fail "the target stopped"
}
debugger_first_chance_e1() {
	crash c2 caught E0005678
	mkdir -p "$O/dc2"
	pd -e 1 "$(field c2 pid)" "$(wpath "$O/dc2")"
	expect_rc 0
	expect_out 'Exception: E0005678.UNKNOWN'
	yaml "$(one_dump "$O/dc2")" "$O/dc2/y"
	[ "$(ex_field "$O/dc2/y" 'Exception Code')" = 0xE0005678 ] || fail "code"
	[ "$(ex_field "$O/dc2/y" 'Number of Parameters')" = 2 ] || fail "parameters"
	[ "$(ex_field "$O/dc2/y" 'Parameter 1')" = 0x22 ] || fail "parameter 1 is not 0x22"
	wait_for "$O/c2.log" '^survived' 20 || fail "the target did not survive its caught exception"
	alive c2 || fail "the target stopped after detach"
}
debugger_filter_display_only() {
	crash fd caught E0005678
	mkdir -p "$O/dfd"
	pd_bg fd -e 1 -f "" "$(field fd pid)" "$(wpath "$O/dfd")"
	wait_for "$O/fd.raw" 'Exception: E0005678' 30 || fail "no exception line"
	wait_for "$O/fd.log" '^survived' 10 || fail "target did not go on"
	$WINE "$T/setevent.exe" "ProcDump-$(field fd pid)" >"$O/fd.set" 2>&1 || true
	grep -q '^set ' "$O/fd.set" || fail "setevent: $(cat "$O/fd.set")"
	pd_join fd 20
	expect_rc 1
	[ -z "$(ls "$O/dfd")" ] || fail "-f \"\" wrote a dump"
	alive fd || fail "the target stopped"
}
debugger_filters() {
	crash fi caught E0005678
	mkdir -p "$O/dfi"
	pd_bg fi -e 1 -f 'NoSuchThing,E00056*' -fx 'C0000005' "$(field fi pid)" "$(wpath "$O/dfi")"
	pd_join fi 30
	expect_rc 0
	one_dump "$O/dfi" >/dev/null
	crash fx caught E0005678
	mkdir -p "$O/dfx"
	pd_bg fx -e 1 -fx '*5678' "$(field fx pid)" "$(wpath "$O/dfx")"
	wait_for "$O/fx.log" '^survived' 30 || fail "target did not go on"
	wait_for "$O/fx.raw" 'Exception: E0005678' 10 || fail "no exception line"
	pd -cancel "$(field fx pid)"
	pd_join fx 20
	expect_rc 1
	[ -z "$(ls "$O/dfx")" ] || fail "-fx did not exclude the exception"
}
debugger_breakpoints() {
	crash b1 int3
	mkdir -p "$O/db1"
	pd_bg b1 -e 1 "$(field b1 pid)" "$(wpath "$O/db1")"
	wait_for "$O/b1.log" '^survived' 30 || fail "the target did not get past its int3"
	pd -cancel "$(field b1 pid)"
	pd_join b1 20
	expect_rc 1
	! grep -q 'BREAKPOINT' "$O/pd.out" || fail "a breakpoint counted without -b"
	[ -z "$(ls "$O/db1")" ] || fail "a breakpoint was dumped without -b"
	crash b2 int3
	mkdir -p "$O/db2"
	pd -e 1 -b "$(field b2 pid)" "$(wpath "$O/db2")"
	expect_rc 0
	expect_out 'Exception: 80000003.BREAKPOINT'
	yaml "$(one_dump "$O/db2")" "$O/db2/y"
	[ "$(ex_field "$O/db2/y" 'Exception Code')" = 0x80000003 ] || fail "code"
	wait_for "$O/b2.log" '^survived' 20 || fail "the target did not survive"
}
debugger_debug_strings() {
	crash ds ods
	mkdir -p "$O/dds"
	pd -l -f NotFound "$(field ds pid)" "$(wpath "$O/dds")"
	expect_rc 0
	expect_out 'Debug String: procdump-test ansi NotFound'
	one_dump "$O/dds" >/dev/null
	crash ds2 ods
	mkdir -p "$O/dds2"
	pd -l -n 2 "$(field ds2 pid)" "$(wpath "$O/dds2")"
	expect_rc 0
	expect_out 'Debug String: procdump-test ansi NotFound'
	expect_out 'Debug String: procdump-test wide'
	[ "$(ls "$O/dds2" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/dds2")"
}
# go NAME: once procdump (pd_bg NAME) has attached, let crasher NAME go on
go() {
	wait_for "$O/$1.raw" 'attached: initial breakpoint' 30 || fail "procdump did not attach"
	wait_for "$O/$1.log" '^waiting for PdGo' 30 || fail "the target does not wait"
	$WINE "$T/setevent.exe" "PdGo-$(field "$1" pid)" >"$O/$1.set" 2>&1 || true
	grep -q '^set ' "$O/$1.set" || fail "cannot set PdGo: $(cat "$O/$1.set")"
}
debugger_dll_load_unload() {
	crash dl dll "$(wpath "$T/pdtestdll.dll")"
	mkdir -p "$O/ddl"
	pd_bg dl -v -e -ld -ud -n 2 -f pdtestdll "$(field dl pid)" "$(wpath "$O/ddl")"
	go dl
	pd_join dl 30
	expect_rc 0
	expect_out 'DLL Load: .*pdtestdll.dll'
	expect_out 'DLL Unload: .*pdtestdll.dll'
	[ "$(ls "$O/ddl" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps"
	wait_for "$O/dl.log" '^freed' 20 || fail "the target did not go on"
}
debugger_thread_create_exit() {
	crash th thread
	mkdir -p "$O/dth"
	pd_bg th -v -e -ct -et -n 2 "$(field th pid)" "$(wpath "$O/dth")"
	go th
	pd_join th 30
	expect_rc 0
	expect_out 'Thread Create: '
	expect_out 'Thread Exit: [0-9]* (exit code 7)'
	[ "$(ls "$O/dth" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps"
	wait_for "$O/th.log" '^thread done' 20 || fail "the target did not go on"
}
debugger_terminate() {
	crash tx exit 3
	mkdir -p "$O/dtx"
	pd_bg tx -v -t "$(field tx pid)" "$(wpath "$O/dtx")"
	go tx
	pd_join tx 30
	expect_rc 0
	expect_out "Process exit: thread $(field tx tid) called ExitProcess."
	f=$(one_dump "$O/dtx")
	lldb_do "$f" "$O/dtx/l" 'bt all'
	grep -q 'frame #0: .*ntdll.dll`RtlExitUserProcess(status=3)' "$O/dtx/l" ||
		fail "the -t dump's thread is not at RtlExitUserProcess(status=3)"
	grep -q 'kernel32.dll`ExitProcess(status=3)' "$O/dtx/l" || fail "no ExitProcess(status=3) frame"
	grep -q 'crasher.exe`__tmainCRTStartup' "$O/dtx/l" || fail "the walk does not reach the exe"
	target_status tx
	[ "$TS" = 3 ] || fail "the target's exit code became $TS, want 3"
	rm -f "$f"
	crash tn exit 4
	pd_bg tn -v -e "$(field tn pid)" "$(wpath "$O/dtx")"
	go tn
	pd_join tn 30
	expect_rc 1
	expect_out 'Dump count not reached.'
}
debugger_launch_x() {
	mkdir -p "$O/dx"
	pd -e -x "$(wpath "$O/dx")" "$(wpath "$T/crasher.exe")" raise E0004321
	expect_rc 0
	expect_out 'Launched: '
	expect_out 'Unhandled: E0004321.UNKNOWN'
	grep -q '^debugger=1' "$O/pd.out" || fail "the launched target did not see its debugger"
	yaml "$(one_dump "$O/dx")" "$O/dx/y"
	[ "$(ex_field "$O/dx/y" 'Exception Code')" = 0xE0004321 ] || fail "code"
}
debugger_wait_w() {
	mkdir -p "$O/dw"
	pd_bg w -e -w pdwait "$(wpath "$O/dw")"
	wait_for "$O/w.raw" 'Waiting for process named pdwait' 30 || fail "no waiting line"
	start_target pw "$T/pdwait.exe" av
	pd_join w 30
	expect_rc 0
	expect_out "Process pdwait.exe ($(field pw pid)) started"
	expect_out 'Unhandled: C0000005.ACCESS_VIOLATION'
	one_dump "$O/dw" >/dev/null
}
debugger_kill_k() {
	crash kk caught E0005678
	mkdir -p "$O/dkk"
	pd -e 1 -k "$(field kk pid)" "$(wpath "$O/dkk")"
	expect_rc 0
	expect_out 'Killed process'
	wait_gone "$(upid kk)" 10 || fail "-k did not kill the target"
}
debugger_attach_twice() {
	crash at sleep
	mkdir -p "$O/dat"
	pd_bg at -e "$(field at pid)" "$(wpath "$O/dat")"
	wait_for "$O/at.raw" 'Press Ctrl-C' 30 || fail "first procdump did not attach"
	pd -e "$(field at pid)"
	expect_rc 3
	expect_err 'cannot attach to process'
	expect_err_one_line
	pd -cancel "$(field at pid)"
	pd_join at 20
	expect_rc 1
	alive at || fail "the target stopped"
}
debugger_g_without_clr() {
	crash gc sleep
	pd -e -g "$(field gc pid)"
	expect_rc 3
	expect_err 'has no CLR loaded'
	# (attach and detach can be quicker than the target's IsDebuggerPresent poll)
	kill -0 "$(upid gc)" || fail "the target is gone"
}

# ================================================================= monitors ==
# load.exe spins, allocates or hangs a window; procdump -v prints every sample,
# which is what "does not fire" waits for (three samples, then cancel).

# wait_count FILE REGEX N SECONDS: until N lines match (deadline)
wait_count() {
	_end=$(($(date +%s) + $4))
	while [ "$(tr -d '\r' <"$1" 2>/dev/null | grep -c -- "$2" || true)" -lt "$3" ]; do
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
	return 0
}
# no_fire NAME ARGS...: procdump samples three times, does not dump; cancel, exit 1
no_fire() {
	_n=$1
	shift
	mkdir -p "$O/$_n.d"
	pd_bg "$_n" -v "$@" "$(wpath "$O/$_n.d")"
	wait_count "$O/$_n.raw" '\[v\] ' 3 30 || fail "no samples: $(tail -n 3 "$O/$_n.raw")"
	kill -INT "$(cat "$O/$_n.pdpid")"
	pd_join "$_n" 20
	expect_rc 1
	[ -z "$(ls "$O/$_n.d")" ] || fail "it dumped: $(ls "$O/$_n.d")"
	! grep -q 'Trigger:' "$O/pd.out" || fail "it fired: $(grep Trigger: "$O/pd.out")"
}

# cpu_begin NAME / cpu_used [CORES]: the percentage of CORES (default: all)
# that target NAME used in between, as Linux counts it (/proc/PID/stat, user
# plus system ticks): what procdump's figure is held to, whatever else the
# machine is doing.  Empty where there is no /proc for the target.
cpu_begin() {
	_cpid=$(upid "$1")
	_c0=$(cpu_ticks) _t0=$(date +%s%N)
}
cpu_ticks() { [ -r "/proc/$_cpid/stat" ] && sed 's/.*) //' "/proc/$_cpid/stat" | awk '{ print $12 + $13 }'; }
cpu_used() {
	_c1=$(cpu_ticks) _t1=$(date +%s%N)
	[ -n "$_c0" ] && [ -n "$_c1" ] || return 0
	echo $(((_c1 - _c0) * 100000000000 / ($(getconf CLK_TCK) * (_t1 - _t0) * ${1:-$(nproc)})))
}
# near V REF TOLERANCE WHAT: procdump's V within TOLERANCE points of REF
near() {
	[ -n "$2" ] || return 0
	[ "$1" -ge $(($2 - $3)) ] && [ "$1" -le $(($2 + $3)) ] || fail "$4: procdump measured $1%, Linux counted $2%"
}

# spin_share [PERCENT]: that share (default 40 %) of what one spinning thread
# takes of the machine (100 / cores), at least 1: -c thresholds that fire on
# a machine of any size, and busy, and -cl ones that do not
spin_share() { _s=$((${1:-40} / $(nproc))); [ $_s -ge 1 ] || _s=1; echo $_s; }

monitor_cpu_above() {
	start_target sp "$T/load.exe" spin 1
	mkdir -p "$O/mcpu"
	th=$(spin_share)
	cpu_begin sp
	pd -c "$th" -s 2 "$(field sp pid)" "$(wpath "$O/mcpu")"
	ref=$(cpu_used)
	expect_rc 0
	expect_out "CPU threshold: *>$th% of the machine"
	expect_out 'CPU: [0-9]*% 1s'
	expect_out 'CPU: [0-9]*% 2s'
	expect_out 'Trigger: CPU [0-9]*% for 2 s'
	v=$(sed -n 's/.*CPU: \([0-9]*\)% 2s/\1/p' "$O/pd.out")
	[ "$v" -gt "$th" ] || fail "one spinning thread of $(nproc) cores measured $v%"
	near "$v" "$ref" 12 "one spinning thread of $(nproc) cores"
	yaml "$(one_dump "$O/mcpu")" "$O/mcpu/y"
	alive_pid sp
}
alive_pid() { kill -0 "$(upid "$1")" || fail "target $1 is gone"; }
monitor_cpu_per_core() {
	[ -f "$O/sp.log" ] || start_target sp "$T/load.exe" spin 1
	mkdir -p "$O/mcpu1"
	cpu_begin sp
	pd -c 40 -u -s 1 "$(field sp pid)" "$(wpath "$O/mcpu1")"
	ref=$(cpu_used 1)
	expect_rc 0
	expect_out 'CPU threshold: *>40% of one core'
	v=$(sed -n 's/.*CPU: \([0-9]*\)% 1s/\1/p' "$O/pd.out")
	[ "$v" -gt 40 ] || fail "one spinning thread is $v% of one core"
	near "$v" "$ref" 15 "one spinning thread, per core"
	one_dump "$O/mcpu1" >/dev/null
}
monitor_cpu_not_below_threshold() {
	start_target id "$T/load.exe" idle
	no_fire nf1 -c 50 -s 1 "$(field id pid)"
	grep -q '\[v\] CPU [0-9]*% (> 50%)' "$O/pd.out" || fail "no CPU samples shown"
}
monitor_cpu_below() {
	[ -f "$O/id.log" ] || start_target id "$T/load.exe" idle
	mkdir -p "$O/mcl"
	pd -cl 10 -s 2 "$(field id pid)" "$(wpath "$O/mcl")"
	expect_rc 0
	expect_out 'Trigger: CPU [0-9]*% for 2 s'
	one_dump "$O/mcl" >/dev/null
	[ -f "$O/sp.log" ] || start_target sp "$T/load.exe" spin 1
	no_fire nf2 -cl "$(spin_share 25)" -s 1 "$(field sp pid)"
}
monitor_commit() {
	start_target al "$T/load.exe" alloc 64
	mkdir -p "$O/mm"
	pd -m 50 -s 1 "$(field al pid)" "$(wpath "$O/mm")"
	expect_rc 0
	expect_out 'Trigger: Commit [0-9]* MB for 1 s'
	v=$(sed -n 's/.*Commit: \([0-9]*\) MB 1s/\1/p' "$O/pd.out")
	[ "$v" -ge 64 ] || fail "64 MiB touched, commit measured $v MB"
	no_fire nf3 -m 5000 -s 1 "$(field al pid)"
	mkdir -p "$O/mml"
	pd -ml 5000 -s 2 "$(field al pid)" "$(wpath "$O/mml")"
	expect_rc 0
	expect_out 'Commit: [0-9]* MB 2s'
	no_fire nf4 -ml 50 -s 1 "$(field al pid)"
}
monitor_counter() {
	[ -f "$O/id.log" ] || start_target id "$T/load.exe" idle
	mkdir -p "$O/mp"
	pd -p '\System\System Up Time' 1 -s 2 "$(field id pid)" "$(wpath "$O/mp")"
	expect_rc 0
	expect_out 'Performance counter: *\\System\\System Up Time >=1'
	expect_out 'Counter: [0-9]* 2s'
	one_dump "$O/mp" >/dev/null
	no_fire nf5 -pl '\System\System Up Time' 1 -s 1 "$(field id pid)"
	pd -p '\No Such Object\Nothing' 5 "$(field id pid)"
	expect_rc 2
	expect_err "counter '\\\\No Such Object\\\\Nothing' cannot be read"
	expect_err_one_line
	pd -p '\System\System Up Time' lots "$(field id pid)"
	expect_rc 2
	expect_err "-p: threshold 'lots' is not a whole number"
}
monitor_hung_window() {
	start_target hw "$T/load.exe" window
	mkdir -p "$O/mh"
	pd_bg hw -h "$(field hw pid)" "$(wpath "$O/mh")"
	pd_join hw 30
	expect_rc 0
	expect_out 'Hung window check: *Enabled'
	expect_out 'Hung Window: not responding for 5 seconds.'
	lldb_do "$(one_dump "$O/mh")" "$O/mh/l" 'bt all'
	grep -q 'load.exe`main' "$O/mh/l" || fail "the hung thread (main) is not in the dump"
}
monitor_n_count() {
	[ -f "$O/sp.log" ] || start_target sp "$T/load.exe" spin 1
	mkdir -p "$O/mn"
	pd -c "$(spin_share)" -s 1 -n 2 "$(field sp pid)" "$(wpath "$O/mn")"
	expect_rc 0
	[ "$(ls "$O/mn" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/mn")"
	[ "$(grep -c 'Trigger: CPU' "$O/pd.out")" = 2 ] || fail "want 2 triggers"
	expect_out 'Dump count reached.'
	# the spinner's last test: it would hold a core through the rest
	stop_target sp
	rm -f "$O/sp.log"
}
monitor_with_debugger() {
	start_target ae "$T/load.exe" alloc 64
	mkdir -p "$O/mae"
	pd -e -m 50 -s 1 "$(field ae pid)" "$(wpath "$O/mae")"
	expect_rc 0
	expect_out 'Exception monitor: *Unhandled'
	expect_out 'Trigger: Commit'
	one_dump "$O/mae" >/dev/null
	alive ae || fail "the target did not run on after the detach"
}
monitor_at_timeout() {
	start_target ta "$T/target.exe" 1 64
	mkdir -p "$O/mat"
	PROCDUMP_TEST_CHUNK_DELAY_MS=500 pd -ma -at 1 "$(field ta pid)" "$(wpath "$O/mat")"
	expect_rc 1
	expect_out 'Dump 1 cancelled: the collection took longer than 1 seconds (-at)'
	expect_out 'Dump count not reached.'
	[ -z "$(ls "$O/mat")" ] || fail "files left behind: $(ls "$O/mat")"
	alive ta || fail "the target was left suspended"
}

# ==================================================================== wow64 ==
# 32-bit targets: under Wine they run in its "new WoW64" mode, given the
# 32-bit PE DLLs that test/deps.sh unpacks into .deps/wine32 (WINE.md: a
# 32-bit exe that cannot run exits 0 silently, so each test first checks
# that the 32-bit target printed its PID).

# w32_probe: does a 32-bit program really run here?  (Wine older than 7 has
# no new WoW64 mode: it would exit 0 without output.)  W32=0 if not.
w32_probe() {
	[ "$W32" = 1 ] && [ $native = 0 ] || return 0
	printf '#include <stdio.h>\nint main(void) { printf("w32 %%d\\n", (int)sizeof(void *)); return 0; }\n' >"$O/w32probe.c"
	if i686-w64-mingw32-gcc "$O/w32probe.c" -o "$O/w32probe.exe" 2>/dev/null &&
		[ "$(timeout 60 $WINE "$O/w32probe.exe" 2>/dev/null | tr -d '\r')" = "w32 4" ]; then
		return 0
	fi
	echo "# 32-bit programs do not run under this Wine: the wow64 tests are skipped"
	W32=0
}
need_w32() {
	[ "$W32" = 1 ] || skip "32-bit programs do not run here (Wine needs the DLLs sh test/deps.sh puts in .deps/wine32, and version 7 or later)"
}
pd32() { pd_exe "$top/procdump.exe" "$@"; } # the same as pd, with procdump.exe (i686)
w32_setup() {
	need_w32
	[ -f "$O/w32.log" ] && return 0
	i686-w64-mingw32-gcc $TCFLAGS "$T/target.c" -o "$T/target32.exe" -ladvapi32 || fail "cannot build target32.exe"
	file "$T/target32.exe" | grep -q 'Intel 80386' || fail "target32.exe is not i386"
	mkdir -p "$O/w32dll"
	i686-w64-mingw32-gcc $TCFLAGS -shared "$T/testdll.c" -o "$O/w32dll/pdtestdll.dll" || fail "cannot build the 32-bit DLL"
	start_target w32 "$T/target32.exe" 3 4 "$(wpath "$O/w32dll/pdtestdll.dll")"
	[ -n "$(field w32 pid)" ] || fail "the 32-bit target printed no PID"
	mkdir -p "$O/w32"
	pid=$(field w32 pid)
	pd32 -mm "$pid" "$(wpath "$O/w32/i686-mini.dmp")"
	[ "$RC" = 0 ] || fail "procdump.exe -mm exited $RC: $(cat "$O/pd.err")"
	pd -mm "$pid" "$(wpath "$O/w32/mini.dmp")"
	[ "$RC" = 0 ] || fail "procdump64 -mm exited $RC: $(cat "$O/pd.err")"
	pd -ma "$pid" "$(wpath "$O/w32/full.dmp")"
	[ "$RC" = 0 ] || fail "procdump64 -ma exited $RC: $(cat "$O/pd.err")"
	pd -64 -mm "$pid" "$(wpath "$O/w32/native.dmp")"
	[ "$RC" = 0 ] || fail "procdump64 -64 -mm exited $RC: $(cat "$O/pd.err")"
	for k in i686-mini mini full native; do
		lldb_do "$O/w32/$k.dmp" "$O/w32/$k.lldb" 'bt all'
		yaml "$O/w32/$k.dmp" "$O/w32/$k.yaml"
	done
}
# w32_x86_dump NAME: the dump is an x86 one of the 32-bit target, as lldb
# and obj2yaml read it: i386, 716-byte contexts, the target's own thread ids,
# backtraces into its functions, 32-bit modules only, nothing above 4 GiB
w32_x86_dump() {
	y=$O/w32/$1.yaml
	grep -q 'Core file .* (i386) was loaded' "$O/w32/$1.lldb" || fail "$1: lldb does not load an i386 core"
	grep -q 'Processor Arch: *X86$' "$y" || fail "$1: SystemInfo is not X86"
	for tid in $(tids w32); do
		grep -qi "Thread Id: *$(hexaddr "$tid")\$" "$y" || fail "$1: thread $tid missing"
	done
	n=$(awk '/^ *Context: /{ c = $2; gsub(/\047/, "", c); print length(c) / 2 }' "$y" | sort -u)
	[ "$n" = 716 ] || fail "$1: context sizes '$n', want 716"
	[ "$(grep -Ec 'target32.exe`_?target_worker' "$O/w32/$1.lldb")" -ge 3 ] || fail "$1: lldb does not walk to target_worker"
	grep -Eq 'target32.exe`_?target_heartbeat' "$O/w32/$1.lldb" || fail "$1: lldb does not walk to target_heartbeat"
	! grep -qi "Module Name:.*wow64" "$y" || fail "$1: a 64-bit module (wow64) in the x86 view"
	! grep -q 'Base of Image: *0x[0-9A-Fa-f]\{9,\}' "$y" || fail "$1: a module above 4 GiB"
}
w32_i686_build() {
	w32_setup
	w32_x86_dump i686-mini
}
w32_procdump64_x86_view() {
	w32_setup
	w32_x86_dump mini
	w32_x86_dump full
	# the bytes the target reported: its stack local and heap block (Mini),
	# its 1 MiB private marker (Full)
	for f in stack indirect; do
		want=$(sed -n "s/^$f=[^ ]* bytes=\\([0-9a-f]*\\).*/\\1/p" "$O/w32.log" | tr -d '\r')
		got=$(read16 "$O/w32/mini.dmp" "0x$(field w32 $f)" "$O/w32/$f.txt")
		[ "$got" = "$want" ] || fail "x86 -mm: $f bytes '$got', the target says $want"
	done
	want=$(sed -n 's/^marker=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/w32.log" | tr -d '\r')
	got=$(read16 "$O/w32/full.dmp" "0x$(field w32 marker)" "$O/w32/m.txt")
	[ "$got" = "$want" ] || fail "x86 -ma: marker bytes '$got', the target says $want"
	# the memory map stops at 4 GiB; the process and thread tokens are there
	last=$(awk '/Base Address:/ { b = $NF } /Region Size:/ { s = $NF } END { print b, s }' "$O/w32/full.yaml")
	[ $(( ${last% *} + ${last#* } )) -le 4294967296 ] || fail "x86 -ma: MemoryInfoList goes past 4 GiB ($last)"
	grep -q 'Type: *Token$' "$O/w32/mini.yaml" || fail "x86 -mm: no Token stream"
	# the unload trace of the 32-bit ntdll, with the DLL the target unloaded
	unloaded_has w32 "$O/w32/mini"
	unloaded_has w32 "$O/w32/i686-mini"
}
w32_native_view() {
	w32_setup
	y=$O/w32/native.yaml
	grep -q 'Core file .* (x86_64) was loaded' "$O/w32/native.lldb" || fail "-64: lldb does not load an x86_64 core"
	grep -q 'Processor Arch: *AMD64$' "$y" || fail "-64: SystemInfo is not AMD64"
	n=$(awk '/^ *Context: /{ c = $2; gsub(/\047/, "", c); print length(c) / 2 }' "$y" | sort -u)
	[ "$n" = 1232 ] || fail "-64: context sizes '$n', want 1232"
	grep -qi "Module Name:.*wow64.dll" "$y" || fail "-64: wow64.dll is not in the module list"
	# lldb sees wow64.dll and reads each thread's x86 context at
	# TEB64.TlsSlots[1] + 4: the workers' x86 PCs are where the x86 view
	# has them, sleeping in the 32-bit ntdll
	w=$(sed -n 's/.*frame #0: \(0x[0-9a-f]*\) ntdll.dll`NtDelayExecution.*/\1/p' "$O/w32/mini.lldb" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
	[ -n "$w" ] || fail "the x86 view shows no thread in NtDelayExecution"
	n=0
	for pc in $(sed -n 's/.*frame #0: \(0x[0-9a-f]*\).*/\1/p' "$O/w32/native.lldb"); do
		[ "$(echo "$pc" | sed 's/^0x0*/0x/')" = "$w" ] && n=$((n + 1))
	done
	[ $n -ge 3 ] || fail "-64: lldb finds the x86 PC $w on $n threads, want 3 (no WOW64 CPU area in the dump?)"
}
w32_triage_and_miniplus() {
	w32_setup
	pid=$(field w32 pid)
	pd -mt "$pid" "$(wpath "$O/w32/t.dmp")"
	expect_rc 0
	got=$(read16 "$O/w32/t.dmp" "0x$(field w32 stack)" "$O/w32/ts.txt")
	[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "x86 -mt stack local: '$got', want 4-byte 0defaced words"
	lldb_do "$O/w32/t.dmp" "$O/w32/t.lldb" 'bt all'
	grep -Eq 'target32.exe`_?target_heartbeat' "$O/w32/t.lldb" || fail "x86 -mt stacks no longer walk"
	pd -mp "$pid" "$(wpath "$O/w32/p.dmp")"
	expect_rc 0
	want=$(sed -n 's/^marker=[^ ]* bytes=\([0-9a-f]*\).*/\1/p' "$O/w32.log" | tr -d '\r')
	got=$(read16 "$O/w32/p.dmp" "0x$(field w32 marker)" "$O/w32/pm.txt")
	[ "$got" = "$want" ] || fail "x86 -mp lacks the private marker"
	[ "$(wc -c <"$O/w32/p.dmp")" -lt "$(wc -c <"$O/w32/full.dmp")" ] || fail "x86 -mp is not smaller than -ma"
}
w32_breakpad() {
	need_bp
	w32_setup
	rc=0
	"$BP" "$O/w32/mini.dmp" >"$O/w32/bp.txt" 2>"$O/w32/bp.err" || rc=$?
	[ $rc = 0 ] || fail "minidump_dump exited $rc on the x86 view: $(grep -m 3 -i error "$O/w32/bp.err")"
	grep -q "process_id *= $(field w32 pid)\$" "$O/w32/bp.txt" || fail "Breakpad: MiscInfo process_id is not the target's"
	grep -q 'processor_architecture *= 0x0 (x86)$' "$O/w32/bp.txt" || fail "Breakpad: processor_architecture is not x86 (0)"
	grep -q '(code_file) *= ".*target32.exe"' "$O/w32/bp.txt" || fail "Breakpad: no target32.exe module"
}

# ====================================================================== lib ==

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

# ===================================================================== main ==

trap cleanup EXIT
trap 'exit 130' INT TERM
echo "# procdump.c test suite ($(uname -s), $([ $native = 1 ] && echo native || wine --version 2>/dev/null))"
build_test_programs || { echo "Bail out! cannot build the test programs"; echo "0 passed, 1 failed"; exit 1; }
wine_setup
w32_probe

t 'build: make builds procdump64.exe (x86-64) and procdump.exe (i386)' build_exes_exist
t 'build: both exes import only Windows system DLLs' build_imports_system_only
t 'build: -DPROCDUMP_NO_MAIN compiles for both targets, exports pd_*, no main, no exit' build_library_mode
t 'build: man/procdump.1 documents every switch of -?' build_man_lists_every_switch
t 'build: README gives make demo and make test' build_readme_commands
t 'build: make demo dumps the bundled crasher at its AV and summarises it' build_demo

t 'cli: -? prints the usage and exits 0' cli_help
t 'cli: -? -e prints the examples' cli_help_examples
t 'cli: no arguments prints the usage and exits 2' cli_no_args
t 'cli: an unknown switch is one line naming it, exit 2' cli_unknown_switch
t 'cli: a missing value names the switch, exit 2' cli_missing_value
t 'cli: a non-numeric value names the switch, exit 2' cli_not_numeric
t 'cli: out-of-range -n -s -c (-u per core) -r are refused, exit 2' cli_out_of_range
t 'cli: conflicting or incomplete switches are refused, exit 2' cli_conflicts
t 'cli: a switch not built yet says so in one line, exit 2' cli_not_implemented_says_so
t 'cli: every example command line of the reference page parses' cli_every_example_parses
t 'cli: switches take / or - and any case' cli_switch_case_and_slash

t 'names: no output: PROCESSNAME_YYMMDD_HHMMSS.dmp in the current folder, ProcDump lines' names_default_in_cwd
t 'names: a folder gets the default name' names_folder
t 'names: a file name without .dmp gets .dmp' names_file_gets_dmp
t 'names: PROCESSNAME PID YYMMDD HHMMSS EXCEPTIONCODE are substituted' names_substitutions
t 'names: an existing file is not replaced without -o, exit 4' names_no_overwrite_without_o
t 'names: -o replaces an existing file' names_overwrite_with_o
t 'names: -mm -ma writes two dumps with distinct names' names_two_types_one_trigger
t 'names: a missing folder is refused, exit 2' names_missing_folder

t 'targets: by PID, by name with or without .exe, any case' targets_by_pid_name_case
t 'targets: a name that several processes match lists their PIDs, exit 3' targets_several_match
t 'targets: unknown name or PID, exit 3' targets_not_found
t 'targets: by service name (wine sc), and a stopped service, exit 3' targets_service

t 'writer: lldb and obj2yaml load the -mm and -ma dumps' writer_readers_load
t 'writer: every thread id the target printed is in both dumps' writer_thread_ids
t 'writer: lldb bt all names the target functions on every thread' writer_backtraces_name_target_functions
t 'writer: -ma holds the heap marker bytes at their address (4 MiB, first and last bytes)' writer_full_has_marker
t 'writer: -mm holds the stack local, not the heap marker' writer_mini_has_stack_not_heap
t 'writer: -mm holds indirectly referenced heap (not beyond its window) and .data globals' writer_mini_indirect_and_data
t 'writer: -mm holds the TEBs, the PEB and the command line (NtTib.Self, PEB chain)' writer_mini_peb_teb_cmdline
t 'writer: streams per type, one memory list, no duplicates, -dc comment, ProcessVMCounters' writer_streams
t 'writer: CodeView GUID and age match the PE (lldb UUID and obj2yaml bytes)' writer_codeview_matches_pe
t 'writer: every module has a CodeView record exactly when its file has RSDS, and they match' writer_codeview_every_module
t 'writer: Breakpad minidump_dump accepts -mm (exit 0): PID, threads, CodeView id, MiscInfo level 5' writer_breakpad_accepts_mini
t 'writer: thread names and the unloaded test DLL, as Breakpad reads them' writer_thread_names_and_unloaded
t 'writer: ThreadInfoList: 12/64 header, every thread, running, times and start address' writer_thread_info_list
t 'writer: HandleData lists the named event with its type (dump done despite a blocked pipe)' writer_handle_data
t 'writer: -mc masks: 0 (Normal), HandleData with an unsupported bit named, FilterMemory, PrivateReadWrite, FilterModulePaths' writer_custom_masks
t 'writer: -mt: stacks sanitized (0defaced), still walk; no heap, names or optional streams' writer_triage
t 'writer: -mp leaves out the 576 MB area but keeps the chunk a stack points into' writer_miniplus
t 'writer: Breakpad minidump_dump exits 0 on -mt and on -mc dumps with a MemoryList' writer_breakpad_accepts_memorylist_types
t 'writer: -dbghelp writes -mm and -ma with the system MiniDumpWriteDump' writer_dbghelp_switch
t 'writer: -md: the callback DLL leaves a thread out and adds a memory range' writer_callback_dll
t 'writer: a target whose threads come and go is dumped whole, six times' writer_thread_churn
t 'writer: MemoryInfoList covers the address space; stacks hold RSP and end at StackBase' writer_memory_info_and_stacks
t 'writer: Memory64List ascending, no overlap, blob last and page-aligned' writer_memory64_layout
t 'writer: header signature and Flags describe the content' writer_header_and_flags
t 'writer: Token stream: the process token and the impersonating thread, with the user SID' writer_token
t 'writer: -mc 0x200000 writes XState contexts: the ymm5 a thread holds, XStateData in MiscInfo' writer_xstate
t 'writer: ThreadList holds all 5 threads' writer_suspended_thread_count
t 'writer: the guard page keeps PAGE_GUARD and is not in the dump' writer_guard_page_untouched
t 'writer: MemoryList ranges ascending, non-empty, no overlap, at most 4096' writer_memorylist_sane
t 'writer: VersionInfo equals the image version resource (1.2.3.4 / 5.6.7.8)' writer_version_info
t 'writer: the target runs on, unsuspended; no temporary file left' writer_target_keeps_running
t 'writer: Ctrl+C mid-dump removes the partial file and resumes the target, exit 1' writer_cancel_mid_dump

t 'series: -n 3 -s 1 writes three dumps and exits 0' series_n_s
t 'series: -cancel PID stops a series (exit 1), target runs on' series_cancel_by_pid
t 'series: Ctrl+C stops a series (exit 1), target runs on' series_ctrl_c
t 'series: the target exiting ends the series, exit 1' series_target_exits
t 'series: -k kills the target after the dump' series_kill

t 'debugger: -e dumps a second-chance AV: record, thread, lldb frame; the target dies of it' debugger_av_second_chance
t 'debugger: -e dumps a stack overflow (C00000FD)' debugger_stack_overflow
t 'debugger: -ma -e 1 -f "0xc00000fd" (quick reference) dumps the first chance' debugger_quick_reference_filter
t 'debugger: a custom code (E0001234), EXCEPTIONCODE in the file name' debugger_custom_code_name
t 'debugger: -e ignores a caught first-chance exception; -cancel ends it, exit 1' debugger_first_chance_needs_e1
t 'debugger: -e 1 dumps a caught first-chance exception; the target survives' debugger_first_chance_e1
t 'debugger: -e 1 -f "" only displays; the named event ProcDump-PID ends it' debugger_filter_display_only
t 'debugger: -f includes by code pattern, -fx excludes' debugger_filters
t 'debugger: breakpoints count only with -b' debugger_breakpoints
t 'debugger: -l shows ANSI and wide debug strings; -f selects; -n 2' debugger_debug_strings
t 'debugger: -ld and -ud dump on the test DLL load and unload' debugger_dll_load_unload
t 'debugger: -ct and -et dump on thread create and exit' debugger_thread_create_exit
t 'debugger: -t dumps at process exit; -e on a clean exit ends with exit 1' debugger_terminate
t 'debugger: -x launches the image with its arguments and dumps its crash' debugger_launch_x
t 'debugger: -w waits for the named process, then attaches' debugger_wait_w
t 'debugger: -k kills the target after the dump' debugger_kill_k
t 'debugger: a second procdump cannot attach, exit 3, one line' debugger_attach_twice
t 'debugger: -g on a process without a CLR says so, exit 3' debugger_g_without_clr

t 'monitors: -c fires after -s seconds above the threshold; its figure (share of all cores) is what Linux counts' monitor_cpu_above
t 'monitors: -c -u measures against one core, as Linux counts it' monitor_cpu_per_core
t 'monitors: -c does not fire below the threshold' monitor_cpu_not_below_threshold
t 'monitors: -cl fires when CPU stays low, not when it is high' monitor_cpu_below
t 'monitors: -m / -ml on touched memory, and their opposites do not fire' monitor_commit
t 'monitors: -p / -pl on \\System\\System Up Time; unknown counter and bad threshold, exit 2' monitor_counter
t 'monitors: -h fires on a window that stopped pumping' monitor_hung_window
t 'monitors: -n 2 with -c writes two dumps, monitoring resumes between' monitor_n_count
t 'monitors: -e and -m together: the monitor fires while attached' monitor_with_debugger
t 'monitors: -at cancels a slow collection; target resumed, no file, exit 1' monitor_at_timeout

t 'wow64: procdump.exe (i686) dumps a 32-bit process: i386, its threads, backtraces' w32_i686_build
t 'wow64: procdump64 writes the x86 view: 716-byte contexts, 32-bit modules, the target bytes, below 4 GiB, 32-bit unload trace' w32_procdump64_x86_view
t 'wow64: -64 writes the native view: AMD64 contexts, wow64.dll listed, x86 registers recoverable (lldb)' w32_native_view
t 'wow64: x86 -mt filters 4-byte stack words and still walks; x86 -mp keeps the marker, smaller than -ma' w32_triage_and_miniplus
t 'wow64: Breakpad minidump_dump reads the x86 view' w32_breakpad
t 'lib: pd_write_dump() from a program linked with procdump.c' lib_pd_write_dump

echo "1..$N"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ $FAIL = 0 ]
