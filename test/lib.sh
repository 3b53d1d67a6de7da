# lib.sh - what test/run.sh's groups (test/t-*.sh), test/demo.sh and bench/
# share.  Sourced after setting `top` (the repository's top folder); it
# defines variables and functions and starts nothing.
#
#   platform   native (Git Bash/MSYS2) or Wine, paths, wpath, wine_prefix
#   harness    t, fail, skip, t_summary: TAP lines and the closing count
#   waits      wait_for, wait_gone, wait_count: each with a deadline
#   procdump   pd, pd_exe, pd_in, pd_bg, pd_join, pd_re, pd32, expect_*
#   targets    start_target, field, bytes_of, upid, tids, stop_target, alive, crash,
#              reap, target_status, target_gone, one_dump
#   readers    lldb_do, le, u32at, yaml, stream_bytes, need_bp, bp_dump, hexaddr, read16,
#              has_bytes, peek64, ex_field, unloaded_has
#   builds     optdump, build_test_programs, w32_probe
#   aedebug    aed_save, aed_restore, aed_export, aed_value: the AeDebug keys -i and -u write
#
# What bench/ uses (wpath, wine_prefix, wait_for, wait_gone) is safe under
# its `set -eu`: a command there that may fail is tested or followed by `|| :`.

# ---------------------------------------------------------------- platform --

T=$top/test
O=$T/out
PD=$top/procdump64.exe

case $(uname -s) in
MINGW* | MSYS* | CYGWIN*) native=1 ;;
*) native=0 ;;
esac

CC64=x86_64-w64-mingw32-gcc
TCFLAGS="-O1 -g -gdwarf-4 -Wall -Wextra -Werror -Wl,--build-id"
BP=$top/.deps/node_modules/minidump/bin/linux-x64/minidump_dump
WINEDLLS=$(ls -d /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows \
	/usr/lib64/wine/x86_64-windows 2>/dev/null | head -n 1)
export PYTHONPATH=/usr/lib/llvm-14/lib/python3.11/dist-packages # silences Debian's lldb 14

if [ $native = 1 ]; then
	WINE=""
else
	# Without address randomization (setarch -R): Debian's Wine 8 has no
	# preloader, so the kernel puts the heap (brk) of the wine64 loader
	# (linked at 0x7d000000) anywhere in the 1 GiB above it, and in about 1
	# start of 4,000 that heap covers 0x7ffe0000, where Wine must map the
	# shared user data: the start fails ("failed to map the shared user
	# data: c0000018", on the err channel that WINEDEBUG=-all hides) and the
	# program exits 1 with nothing printed, before its first instruction.
	# Not randomized, the heap follows the loader, far below.
	WINE=wine
	command -v setarch >/dev/null 2>&1 && WINE="setarch $(uname -m) -R wine"
	export WINEDEBUG=-all
	export WINEPREFIX="${PD_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/procdump-test-wine}"
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

# wpath PATH: the Windows path of a Unix path: cygpath's on Windows; under
# Wine, drive Z: (which is / in every Wine prefix) and backslashes
# shellcheck disable=SC1003 # '\\' is tr's escaped backslash, not a quote
wpath() {
	if [ $native = 1 ]; then
		cygpath -w "$1"
	else
		printf 'Z:%s' "$1" | tr / '\\'
	fi
}

# wine_processes: the PIDs of the Wine programs (wine64 or wine) running in
# $WINEPREFIX
wine_processes() {
	for _p in /proc/[0-9]*; do
		case $(readlink "$_p/exe" 2>/dev/null) in */wine64 | */wine | */wine64-preloader | */wine-preloader) ;; *) continue ;; esac
		tr '\0' '\n' <"$_p/environ" 2>/dev/null | grep -qxF "WINEPREFIX=$WINEPREFIX" && echo "${_p#/proc/}"
	done
	return 0
}

# wine_prefix LEADER [replace]: make $WINEPREFIX ready and keep one
# wineserver up in it for the run (doc/WINE.md fact 3): create the prefix once
# (wineboot -i, then a server restart), copy the 32-bit DLLs into syswow64
# once they are there, no graphics driver (windows without X) and an empty
# AeDebug debugger (fact 4: a crash ends the process at once, no winedbg).
# A server already up in the prefix is used, or with `replace` stopped first
# (bench/ owns its prefix).  Progress lines start with LEADER.  Sets
# WINE_STARTED=1 when this call started the server: the caller stops it
# (wineserver -k) at its end.  Wine programs of the prefix still there when
# this call starts the server are orphans of an earlier run whose server
# was killed under them (-k does not always take them along): they wait
# for ever on a server reply and would count as a procdump left; they are
# killed.  Non-zero, with a message on stderr, if a step that matters
# fails.  Nothing to do on Windows.
wine_prefix() {
	WINE_STARTED=0
	[ $native = 1 ] && return 0
	mkdir -p "$WINEPREFIX" || return 1
	_orphans=$(wine_processes)
	if [ "${2:-}" = replace ]; then
		wineserver -k 2>/dev/null || :
		wineserver -w 2>/dev/null || :
		wineserver -p || { echo "wineserver -p failed for $WINEPREFIX" >&2; return 1; }
		WINE_STARTED=1
	elif wineserver -p 2>/dev/null; then
		WINE_STARTED=1
		if [ -n "$_orphans" ]; then # (no server was up: none of them can run)
			echo "${1}killing Wine processes an earlier run left without a server: $(echo $_orphans)"
			kill -KILL $_orphans 2>/dev/null || :
		fi
	fi
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		echo "${1}creating the Wine prefix $WINEPREFIX (once, about 10 s)"
		wineboot -i >/dev/null 2>&1 || { echo "wineboot -i failed for $WINEPREFIX" >&2; return 1; }
		# In the session that created the prefix, services.exe does not see
		# services created with sc (sc start fails silently); a restart does.
		wineserver -k 2>/dev/null || :
		wineserver -p 2>/dev/null && WINE_STARTED=1
	fi
	# 32-bit DLLs arrived after the prefix was made: an update copies them
	# into syswow64, where a 32-bit program's loader looks for them
	if [ "$W32" = 1 ] && [ ! -f "$WINEPREFIX/drive_c/windows/syswow64/kernel32.dll" ]; then
		echo "${1}adding 32-bit DLLs to the Wine prefix (once)"
		rm -f "$WINEPREFIX/.update-timestamp" # else wineboot -u skips the copy
		wineboot -u >/dev/null 2>&1 || :
	fi
	$WINE reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f >/dev/null 2>&1 ||
		{ echo "wine reg add Graphics=null failed in $WINEPREFIX" >&2; return 1; }
	$WINE reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /d '' /f >/dev/null 2>&1 ||
		{ echo "wine reg add AeDebug Debugger='' failed in $WINEPREFIX" >&2; return 1; }
}

# ----------------------------------------------------------------- harness --
# A test is its title, then its body as a here-document with a quoted
# delimiter (nothing in it is expanded before it runs):
#
#   t 'group: what must hold' <<'END'
#   	commands
#   END
#
# t reads the body only when the group is selected, makes it the body of a
# function (so `return` ends the test) and runs that in a subshell under
# set -e, with run.sh's stdin (fd 9) as its stdin.  The older form
# `t 'group: what must hold' FUNCTION` runs FUNCTION the same way.  Exit 0
# passes, 77 (skip) skips with its last output line as the reason, anything
# else (a command that fails, a body that does not parse) fails and prints
# the output's tail and the last procdump command.

N=0 PASS=0 FAIL=0 SKIP=0
GROUPS_WANTED="" # run.sh's arguments: the groups to run, all if empty

selected() {
	[ -z "$GROUPS_WANTED" ] && return 0
	for g in $GROUPS_WANTED; do [ "$g" = "$1" ] && return 0; done
	return 1
}
t() {
	desc=$1 grp=${1%%:*}
	selected "$grp" || return 0
	if [ $# -ge 2 ]; then
		t_fn=$2 t_src=""
	else
		t_fn=t_body t_src=$(cat)
	fi
	N=$((N + 1))
	: >"$O/pd.cmd"
	# (the eval in the subshell: a body that does not parse fails its test
	# and does not end the suite)
	(
		set -e
		[ -z "$t_src" ] || eval "t_body() {
$t_src
}"
		$t_fn
	) <&9 >"$O/case.log" 2>&1
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
# fail WHAT / skip WHY: end the test (its subshell) as failed or skipped
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }
# t_summary: the TAP plan, then the count on a line of its own; non-zero if
# a test failed
t_summary() {
	echo "1..$N"
	echo "$PASS passed, $FAIL failed, $SKIP skipped"
	[ $FAIL = 0 ]
}

# ------------------------------------------------------------------- waits --

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
# wait_count FILE REGEX N SECONDS: until N lines match (deadline)
wait_count() {
	_end=$(($(date +%s) + $4))
	while [ "$(tr -d '\r' 2>/dev/null <"$1" | grep -c -- "$2" || true)" -lt "$3" ]; do
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
	return 0
}

# set_named_event NAME OUT: set the named event with setevent.exe, its line in
# OUT ("set NAME", or why not); a run that printed nothing at all did not
# start (as pd_exe sees of pdrun, once on a quiet machine): run it again,
# three times at most
set_named_event() {
	_try=0
	while :; do
		$WINE "$T/setevent.exe" "$1" >"$2" 2>&1 || true
		[ -s "$2" ] || [ $((_try += 1)) -ge 3 ] || continue
		break
	done
}

# ---------------------------------------------------------------- procdump --

# pd ARGS...: run procdump64.exe; stdout/stderr/exit code in $O/pd.{out,err,rc}.
# Through pdrun.exe, which records the exit code the Windows side gave: under
# Wine the shell's own can read 137 for a clean exit on a loaded machine.
pd() { pd_exe "$PD" "$@"; }
pd_exe() { # pd_exe EXE ARGS...: run that procdump build, as pd does
	_exe=$1
	shift
	printf '%s\n' "${_exe##*/} $*" >"$O/pd.cmd"
	_try=0
	while :; do
		rm -f "$O/pd.code"
		_rc=0
		timeout 130 $WINE "$T/pdrun.exe" "$(wpath "$O/pd.code")" 120 "$(wpath "$_exe")" "$@" \
			>"$O/pd.raw" 2>"$O/pd.err" || _rc=$?
		# pdrun writes the code file on every path of its own; none, no
		# output and no timeout: pdrun itself did not start (exit 1, nothing
		# printed: the Wine start that cannot map the shared user data, see
		# WINE above; twice in the cli group's 250-run walk before setarch
		# -R): nothing ran, so run it again
		[ -s "$O/pd.code" ] || [ "$_rc" = 124 ] || [ -s "$O/pd.raw" ] || [ -s "$O/pd.err" ] ||
			[ $((_try += 1)) -gt 2 ] || { echo "# pdrun did not start (exit $_rc, no output): again" >&2; continue; }
		break
	done
	# the code pdrun recorded; without one, no code at all (never the
	# shell's 8 bits: 137 can be a clean exit, 5 a crash)
	if [ -s "$O/pd.code" ]; then
		_rc=$(tr -d '\r' <"$O/pd.code")
	else
		_rc="none (pdrun recorded nothing; shell status $_rc)"
	fi
	echo "$_rc" >"$O/pd.rc"
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
# pd_bg NAME ARGS...: procdump in the background (through pdrun.exe, as pd),
# output in $O/NAME.raw (NAME.out once joined); kill -INT on $O/NAME.pdpid is a Ctrl+C to procdump
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
	_rc=0
	wait "$_p" || _rc=$?
	RC="none (pdrun recorded nothing; shell status $_rc)" # (as pd_exe)
	[ -s "$O/$1.code" ] && RC=$(tr -d '\r' <"$O/$1.code")
	tr -d '\r' <"$O/$1.raw" >"$O/pd.out"
	cp "$O/pd.out" "$O/$1.out"
	: >"$O/pd.err"
}
# pd_re: a pattern for this checkout's procdump64.exe in a command line (its
# Windows path, any character for a backslash): other checkouts' procdumps
# on the machine, whose PIDs in their own Wine prefixes may be the same,
# are never matched
pd_re() { wpath "$PD" | sed 's/[\\.]/./g'; }
pd32() { pd_exe "$top/procdump.exe" "$@"; } # the same as pd, with procdump.exe (i686)

expect_rc() { [ "$RC" = "$1" ] || fail "exit code: wanted $1, got $RC"; }
expect_out() { grep -q -- "$1" "$O/pd.out" || fail "stdout lacks /$1/"; }
expect_err() { grep -q -- "$1" "$O/pd.err" || fail "stderr lacks /$1/"; }
expect_err_one_line() { [ "$(grep -c . "$O/pd.err")" = 1 ] || fail "stderr is not one line"; }

# ----------------------------------------------------------------- targets --

# start_target NAME EXE [ARGS...]: start, wait for "ready" (30 s deadline)
start_target() {
	_n=$1 _exe=$2
	shift 2
	rm -f "$O/$_n.log" # (a name used again: not the last one's "ready")
	$WINE "$_exe" "$@" >"$O/$_n.log" 2>&1 &
	echo $! >"$O/$_n.upid"
	echo $! >>"$O/bg.list"
	wait_for "$O/$_n.log" '^ready' 30 || fail "target $_n did not start: $(tail -n 3 "$O/$_n.log")"
}
# bytes_of NAME KEY: the hex bytes target NAME printed for KEY, from its
# line "KEY=<addr> bytes=<hex>"
bytes_of() { sed -n "s/^$2=[^ ]* bytes=\([0-9a-f]*\).*/\1/p" "$O/$1.log" | tr -d '\r' | head -n 1; }
# field NAME KEY: a key=value the target printed (first match)
field() { sed -n "s/^$2=\([^ ]*\).*/\1/p" "$O/$1.log" | tr -d '\r' | head -n 1; }
# upid NAME: the Unix PID of target NAME (of wine, under Wine)
upid() { cat "$O/$1.upid"; }
# tids NAME: the thread ids target NAME printed, one a line
tids() { sed -n 's/^tid=\([0-9]*\).*/\1/p' "$O/$1.log" | tr -d '\r'; }
# stop_target NAME: end it and wait until it is gone (10 s, then go on)
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
# crash NAME MODE [ARG]: start crasher.exe (it waits for a debugger)
crash() {
	_n=$1
	shift
	start_target "$_n" "$T/crasher.exe" "$@"
}
# reap NAME: start reading target NAME's exit code, all 32 bits, into
# $O/NAME.reap: pdreap.exe (test/reap.c) opens the process and, at its
# end, prints "exit=" and the code as 8 hex digits (120 s deadline).  Call
# it while the target runs and before what ends it: the code of a process
# nobody holds open is gone with it.  (The shell's status of a Windows
# program is 8 bits under Wine, 0xC0000005 reads 5: no test reads a
# target's end from it.)
reap() {
	rm -f "$O/$1.reap"
	$WINE "$T/pdreap.exe" "$(field "$1" pid)" >"$O/$1.reap" 2>&1 &
	echo $! >>"$O/bg.list"
	wait_for "$O/$1.reap" '^reaping=\|^exit=' 30 || fail "cannot reap $1: $(cat "$O/$1.reap")"
	grep -q '^reaping=' "$O/$1.reap" || fail "cannot reap $1 (ended already?): $(cat "$O/$1.reap")"
}
# reap_new TAG IMAGE COUNT: the same for the next COUNT processes named
# IMAGE, started after this (pdreap.exe -new, into $O/TAG.reap), for
# targets a procdump may take at once (-w); target_status NAME TAG reads one
reap_new() {
	rm -f "$O/$1.reap"
	$WINE "$T/pdreap.exe" -new "$2" "$3" >"$O/$1.reap" 2>&1 &
	echo $! >>"$O/bg.list"
	wait_for "$O/$1.reap" '^watching' 30 || fail "cannot watch for $2: $(cat "$O/$1.reap")"
}
# target_status NAME [TAG]: TS = the exit code target NAME ended with, as
# reap NAME (or reap_new TAG) read it: 8 hex digits (C0000005); then
# target_gone NAME
target_status() {
	_f=$O/${2:-$1}.reap _p=""
	[ -z "${2:-}" ] || _p=" pid=$(field "$1" pid)"
	[ -f "$_f" ] || fail "target $1 was not reaped"
	wait_for "$_f" "^exit=[^ ]*$_p[[:space:]]*\$" 120 || fail "target $1 still runs, or was not reaped: $(tr -d '\r' <"$_f")"
	TS=$(tr -d '\r' <"$_f" | sed -n "s/^exit=\([^ ]*\)$_p\$/\1/p")
	target_gone "$1"
}
# target_gone NAME: wait until target NAME has ended (15 s deadline) and
# collect its Unix process.  Not in $(...): wait needs the shell that
# started it.
target_gone() {
	_u=$(upid "$1")
	wait_gone "$_u" 15 || fail "target $1 still runs"
	wait "$_u" || :
}
one_dump() { # one_dump DIR: the path of the only dump in DIR
	_c=$(ls "$1" | grep -c '\.dmp$' || true)
	[ "$_c" = 1 ] || fail "want 1 dump in $(basename "$1"), found $_c: $(ls "$1")"
	echo "$1/$(ls "$1" | grep '\.dmp$')"
}

# unit_run NAME N: build test/NAME.c, a unit test that includes procdump.c
# in library mode, and run it (60 s deadline): N lines "ok ...", no
# "FAIL ...", then "done"
unit_run() {
	x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror -static "$T/$1.c" -o "$O/$1.exe" -ladvapi32 ||
		fail "cannot build $1.exe"
	timeout 60 $WINE "$O/$1.exe" >"$O/$1.out" 2>&1 || fail "$1: $(grep -v '^ok' "$O/$1.out")"
	tr -d '\r' <"$O/$1.out" | grep -q '^done$' || fail "$1 did not finish: $(tail -n 3 "$O/$1.out")"
	! grep -q '^FAIL' "$O/$1.out" || fail "$1: $(grep '^FAIL' "$O/$1.out")"
	[ "$(grep -c '^ok' "$O/$1.out")" = "$2" ] || fail "$1: not $2 checks: $(cat "$O/$1.out")"
}

# ----------------------------------------------------------------- readers --

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
# yaml DUMP OUT: obj2yaml's reading of DUMP into OUT; fail if it rejects DUMP
yaml() { timeout 60 obj2yaml "$1" >"$2" 2>&1 || fail "obj2yaml rejects $1: $(head -n 3 "$2")"; }
# need_bp: skip the test unless Breakpad's minidump_dump is installed
need_bp() { [ -x "$BP" ] || skip "Breakpad readers missing (run make deps)"; }
# bp_dump DUMP TXT ERR: Breakpad's minidump_dump of DUMP, its output in TXT
# and its log in ERR; fail unless it exits 0
bp_dump() {
	_rc=0
	"$BP" "$1" >"$2" 2>"$3" || _rc=$?
	[ $_rc = 0 ] || fail "minidump_dump exited $_rc on $(basename "$1"): $(grep -m 3 -i error "$3")"
}
# bp_holds_target DUMP NAME: Breakpad reads DUMP (exit 0, no ERROR line)
# with target NAME's PID in MiscInfo and every thread id NAME printed;
# its reading in DUMP.bp
bp_holds_target() {
	bp_dump "$1" "$1.bp" "$1.bperr"
	grep -q "process_id *= $(field "$2" pid)\$" "$1.bp" || fail "Breakpad: MiscInfo process_id is not $2's"
	! grep -q ' ERROR: ' "$1.bperr" || fail "Breakpad: $(grep -m 1 ' ERROR: ' "$1.bperr")"
	for _tid in $(tids "$2"); do
		grep -q "thread_id *= $(hexaddr "$_tid")\$" "$1.bp" || fail "Breakpad: thread $_tid missing"
	done
}
# hexaddr N: N as 0x... in lower case
hexaddr() { printf '0x%x' "$1"; }
# read16 DUMP ADDR OUT: the 16 bytes lldb reads at ADDR, as hex ('' if none)
read16() {
	lldb_do "$1" "$3" "memory read --force -c 16 $2"
	sed -n 's/^0x[0-9a-f]*: \(\([0-9a-f][0-9a-f] \)\{16\}\).*/\1/p' "$3" | tr -d ' '
}
# has_bytes DUMP NAME KEY WHAT: DUMP holds, at the address target NAME
# printed for KEY, the bytes it printed ("KEY=<addr> bytes=<hex>"); fails
# saying WHAT otherwise
has_bytes() {
	_want=$(bytes_of "$2" "$3") _at=0x$(field "$2" "$3")
	[ -n "$_want" ] || fail "target $2 printed no $3 bytes"
	_got=$(read16 "$1" "$_at" "$1.$3.txt")
	[ "$_got" = "$_want" ] || fail "$4: $(basename "$1") has '$_got' at $_at, target $2 printed $_want"
}
# peek64 DUMP ADDR: the u64 at ADDR in DUMP, via lldb (little-endian bytes to
# a number)
peek64() {
	_h=$(read16 "$1" "$2" "$O/peek64.txt")
	[ -n "$_h" ] || fail "nothing at $2 in $(basename "$1")"
	echo "0x$(le "$(printf '%s' "$_h" | cut -c1-16)")"
}
# stream_bytes YAML TYPE: the bytes of stream TYPE (obj2yaml's name for it:
# MiscInfo, HandleData, Token, 0x18, ...) as upper-case hex, from YAML,
# obj2yaml's reading of a dump; nothing if the dump has no such stream.  For
# a stream obj2yaml shows as raw bytes: its "Content:" line right under the
# "- Type:" line (quoted when the hex could be read as a number).
stream_bytes() {
	awk -v t="$2" -v q="'" '/^  - Type:/ { on = ($3 == t); next }
		on && /^    Content:/ { c = $2; gsub(q, "", c); print c; exit }' "$1"
}
# ex_field YAML FIELD: a field of the Exception stream, from obj2yaml
ex_field() { awk '/Type: *Exception/ { e = 1 } e && $0 ~ "'"$2"'" { sub(/.*: */, ""); print; exit }' "$1"; }
# exception_is YAML CODE [TID]: the Exception stream of obj2yaml's YAML gives
# CODE (0xC0000005) and, given TID (an empty one fails), that faulting thread
exception_is() {
	[ "$(ex_field "$1" 'Exception Code')" = "$2" ] || fail "$(basename "$1"): exception code $(ex_field "$1" 'Exception Code'), wanted $2"
	[ $# -lt 3 ] || [ "$(ex_field "$1" 'Thread ID')" = "$(printf '0x%X' "$3")" ] ||
		fail "$(basename "$1"): the faulting thread is not $3"
}
# walks_target_stacks LLDB LABEL: lldb's `bt all` of target.exe (in file
# LLDB) names target_worker on its 3 workers, target_heartbeat and main,
# and each walk reaches the thread's start
walks_target_stacks() {
	[ "$(grep -c 'target.exe`target_worker' "$1")" -ge 3 ] || fail "$2: bt all does not show target_worker on the 3 workers"
	grep -q 'target.exe`target_heartbeat' "$1" || fail "$2: no target_heartbeat frame"
	grep -q 'target.exe`main' "$1" || fail "$2: no main frame"
	grep -q 'kernel32.dll`BaseThreadInitThunk' "$1" || fail "$2: walk does not reach thread start"
}
# dumps_hold_threads NAME: $O/NAME/mini.dmp and full.dmp of target NAME
# (test/target.exe with 3 workers), read into K.lldb (bt all) and K.yaml,
# hold every thread id the target printed (5) and lldb walks their stacks
dumps_hold_threads() {
	n=0
	for tid in $(tids "$1"); do
		n=$((n + 1))
		for k in mini full; do
			grep -q "tid = $(printf '0x%04x' "$tid")," "$O/$1/$k.lldb" || fail "lldb: thread $tid missing from $k.dmp"
			grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/$1/$k.yaml" || fail "obj2yaml: thread $tid missing from $k.dmp"
		done
	done
	[ $n = 5 ] || fail "the target printed $n thread ids, wanted 5"
	for k in mini full; do
		[ "$(grep -c 'thread #[0-9]*: tid = ' "$O/$1/$k.lldb")" = 5 ] || fail "$k: lldb does not list exactly 5 threads"
		walks_target_stacks "$O/$1/$k.lldb" "$k"
	done
}
# dumps_hold_markers NAME: of the same dumps, full.dmp holds the 4 MiB heap
# marker (its first and last bytes) and the stack local, mini.dmp the stack
# local, the indirectly referenced heap block and the .data global
dumps_hold_markers() {
	has_bytes "$O/$1/full.dmp" "$1" marker "full.dmp lacks the heap marker"
	end=$(printf '0x%x' $((0x$(field "$1" marker) + 4 * 1048576 - 16)))
	lldb_do "$O/$1/full.dmp" "$O/$1/m2.txt" "memory read --force -c 16 $end"
	grep -q "^0x0*${end#0x}: " "$O/$1/m2.txt" || fail "end of the marker buffer missing"
	has_bytes "$O/$1/full.dmp" "$1" stack "full.dmp lacks the stack local"
	has_bytes "$O/$1/mini.dmp" "$1" stack "mini.dmp lacks the stack local"
	has_bytes "$O/$1/mini.dmp" "$1" indirect "mini.dmp lacks the indirectly referenced heap block"
	has_bytes "$O/$1/mini.dmp" "$1" data "mini.dmp lacks the .data global"
}
# unloaded_has TARGET DUMP (without .dmp; DUMP.yaml is obj2yaml's): the
# entry for the DLL the target unloaded, from obj2yaml's bytes: header
# 12/24/n, then base, size, ..., name RVA; base, size and name as the
# target reported them
unloaded_has() {
	grep -q '^unloaded=' "$O/$1.log" || fail "the target did not unload its DLL"
	base=$((0x$(field "$1" unloaded)))
	size=$((0x$(sed -n 's/^unloaded=[^ ]* size=\([0-9a-f]*\).*/\1/p' "$O/$1.log" | tr -d '\r')))
	hex=$(stream_bytes "$2.yaml" UnloadedModuleList)
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

# ------------------------------------------------------------------ builds --

# optdump: $O/optdump.txt, procdump.c's version and opts[] rows as
# test/optdump.c prints them (it includes procdump.c in library mode: no
# test parses procdump.c's source); built and run once a run
optdump() {
	[ -f "$O/optdump.txt" ] && return 0
	$CC64 $TCFLAGS -static "$T/optdump.c" -o "$O/optdump.exe" -ladvapi32 || fail "cannot build optdump.exe"
	timeout 60 $WINE "$O/optdump.exe" 2>&1 | tr -d '\r' >"$O/optdump.tmp"
	[ "$(tail -n 1 "$O/optdump.tmp")" = end ] || fail "optdump.exe did not finish: $(tail -n 3 "$O/optdump.tmp")"
	mv "$O/optdump.tmp" "$O/optdump.txt"
}

# build_test_programs: the targets, helpers and the test DLL, from test/*.c
build_test_programs() {
	x86_64-w64-mingw32-windres "$T/target.rc" -O coff -o "$O/target.res" || return 1
	$CC64 $TCFLAGS "$T/target.c" "$O/target.res" -o "$T/target.exe" || return 1
	for p in svc sample crasher; do
		$CC64 $TCFLAGS "$T/$p.c" -o "$T/$p.exe" || return 1
	done
	$CC64 $TCFLAGS "$T/load.c" -o "$T/load.exe" -luser32 || return 1
	$CC64 $TCFLAGS -municode "$T/setevent.c" -o "$T/setevent.exe" || return 1
	$CC64 $TCFLAGS -municode "$T/pdrun.c" -o "$T/pdrun.exe" || return 1
	$CC64 $TCFLAGS -municode "$T/pdargs.c" -o "$T/pdargs.exe" || return 1
	$CC64 $TCFLAGS -municode "$T/conread.c" -o "$T/conread.exe" || return 1
	$CC64 $TCFLAGS -municode "$T/sdshow.c" -o "$T/sdshow.exe" -ladvapi32 || return 1
	$CC64 $TCFLAGS -municode "$T/regsd.c" -o "$T/regsd.exe" -ladvapi32 || return 1
	$CC64 $TCFLAGS -municode "$T/procdacl.c" -o "$T/procdacl.exe" -ladvapi32 || return 1
	$CC64 $TCFLAGS -municode "$T/verinfo.c" -o "$T/verinfo.exe" -lversion || return 1
	$CC64 $TCFLAGS -shared "$T/testdll.c" -o "$T/pdtestdll.dll" || return 1
	$CC64 $TCFLAGS -municode "$T/reap.c" -o "$T/pdreap.exe" || return 1
	$CC64 $TCFLAGS -shared "$T/pssprov.c" -o "$T/pssprov.dll" -lpsapi || return 1
	cp "$T/crasher.exe" "$T/pdwait.exe"
	# a second image name, so that only the tests' own processes match it
	cp "$T/target.exe" "$T/pdtgt.exe"
}
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

# ----------------------------------------------------------------- aedebug --
# -i and -u write HKLM\...\AeDebug in both registry views of the test
# prefix.  A test that runs them calls aed_save first (once per run: the
# first copy is the one to go back to) and aed_restore at its end, from a
# trap, so that even a failure leaves the keys as they were; run.sh's
# cleanup calls aed_restore too (Ctrl+C).  aed_restore also puts back the
# DACL a test saved in $O/aed.sd (regsd.exe).

AED_SUB='Software\Microsoft\Windows NT\CurrentVersion\AeDebug'
AED_KEY="HKLM\\$AED_SUB"

# aed_export VIEW FILE: the key of view 64 or 32 as `reg export` writes it
# (the bytes of every value; "absent" if there is no key)
aed_export() {
	rm -f "$2"
	$WINE reg export "$AED_KEY" "$(wpath "$2")" /reg:"$1" /y >/dev/null 2>&1 || echo absent >"$2"
}
# aed_value VIEW NAME: a value's data as reg query prints it (empty if none)
aed_value() {
	$WINE reg query "$AED_KEY" /v "$2" /reg:"$1" 2>/dev/null | tr -d '\r' |
		sed -n "s/^    $2    REG_[A-Z_]*    //p"
}
aed_save() {
	[ $native = 0 ] || skip "the install tests change the machine's AeDebug key: run under Wine only"
	[ -f "$O/aed.saved" ] && return 0
	aed_export 64 "$O/aed64.reg"
	aed_export 32 "$O/aed32.reg"
	: >"$O/aed.saved"
}
aed_restore() {
	[ -f "$O/aed.sd" ] && { $WINE "$T/regsd.exe" "$AED_SUB" "$(cat "$O/aed.sd")" >/dev/null 2>&1 && rm -f "$O/aed.sd"; }
	[ -f "$O/aed.saved" ] || return 0
	for _v in 64 32; do
		if grep -q '^absent' "$O/aed$_v.reg"; then
			$WINE reg delete "$AED_KEY" /f /reg:$_v >/dev/null 2>&1 || :
		else
			$WINE reg delete "$AED_KEY" /va /f /reg:$_v >/dev/null 2>&1 || :
			$WINE reg import "$(wpath "$O/aed$_v.reg")" /reg:$_v >/dev/null 2>&1 || :
		fi
	done
	rm -f "$O/aed.saved"
}

# jl FILE EXPR: evaluates the Python expression EXPR with `ev` the list of
# the events of FILE (each a dict, every line parsed by json.loads; a line
# that does not parse fails) and `by(name)` the events of that name; prints
# the result (a list: one item a line)
jl() {
	python3 - "$1" "$2" <<'PY' || fail "jl $2: $(tail -n 3 "$1")"
import json, sys
ev = []
with open(sys.argv[1], "rb") as f:
    for n, raw in enumerate(f.read().split(b"\n")[:-1], 1):
        try:
            ev.append(json.loads(raw.decode("utf-8")))
        except Exception as e:
            sys.exit("line %d is not JSON (%s): %r" % (n, e, raw[:200]))
by = lambda name: [e for e in ev if e["event"] == name]
r = eval(sys.argv[2])
for x in (r if isinstance(r, list) else [r]):
    print(x)
PY
}
# jl1 FILE EXPR: the same, one value (fails on none)
jl1() {
	_v=$(jl "$1" "$2") || exit 1
	[ -n "$_v" ] || fail "jl $2: nothing"
	printf '%s\n' "$_v"
}
