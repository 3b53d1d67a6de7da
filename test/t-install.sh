# t-install.sh - procdump as the postmortem (AeDebug) debugger: -i, -u, -j.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'install: what must hold' <<'END'
#   	commands
#   END
#
# Every test that runs -i or -u saves the prefix's AeDebug keys (both
# registry views) first and puts them back from a trap, failed or not
# (aed_save, aed_restore).  Under Wine the AeDebug debugger gets a garbage
# %p (no JIT_DEBUG_INFO) and a mangled environment (doc/WINE.md §8): -j takes
# the exception from the debug event, and nothing passes through the
# environment here.

# the command -i registers for EXE with the switches SW and folder DIR
aed_cmd() { printf '"%s" -accepteula %s-j "%s" %%ld %%ld %%p' "$(wpath "$1")" "$2" "$(wpath "$3")"; }

t 'install: -i writes Debugger (the exact command, switches kept) and Auto=1 in both views and prints them' <<'END'
	aed_save
	trap aed_restore EXIT
	mkdir -p "$O/aedii"
	pd -ma -k -i "$(wpath "$O/aedii")"
	expect_rc 0
	want64=$(aed_cmd "$PD" "-ma -k " "$O/aedii")
	want32=$(aed_cmd "$top/procdump.exe" "-ma -k " "$O/aedii")
	[ "$(aed_value 64 Debugger)" = "$want64" ] || fail "Debugger (64-bit view) is '$(aed_value 64 Debugger)', not '$want64'"
	[ "$(aed_value 64 Auto)" = 1 ] || fail "Auto (64-bit view) is not 1"
	[ "$(aed_value 32 Debugger)" = "$want32" ] || fail "Debugger (WOW6432Node) is '$(aed_value 32 Debugger)', not '$want32'"
	[ "$(aed_value 32 Auto)" = 1 ] || fail "Auto (WOW6432Node) is not 1"
	grep -qF "(REG_SZ) Debugger  = $want64" "$O/pd.out" || fail "the registered command is not printed"
	grep -qF "(REG_SZ) Debugger  = $want32" "$O/pd.out" || fail "the WOW6432Node command is not printed"
	expect_out 'HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug'
	expect_out 'now set as the Just-in-time (AeDebug) debugger'
	# the folder defaults to the current one
	pd_in "$O/aedii" -i
	expect_rc 0
	[ "$(aed_value 64 Debugger)" = "$(aed_cmd "$PD" "" "$O/aedii")" ] || fail "-i alone: '$(aed_value 64 Debugger)'"
END

t 'install: -u restores a Debugger set before -i byte for byte (two -i), removes the key -i made; again: says so, exit 1' <<'END'
	aed_save
	trap aed_restore EXIT
	# a previous debugger of another type, and an Auto of 0, to come back byte for byte
	$WINE reg add "$AED_KEY" /v Debugger /t REG_EXPAND_SZ /d 'other.exe -p %ld -e %ld "%SystemRoot%"' /f /reg:64 >/dev/null
	$WINE reg add "$AED_KEY" /v Auto /t REG_SZ /d 0 /f /reg:64 >/dev/null
	# no WOW6432Node key (a prefix with 32-bit DLLs has one): -i makes it, -u removes it
	$WINE reg delete "$AED_KEY" /f /reg:32 >/dev/null 2>&1 || :
	aed_export 64 "$O/u64.before"
	aed_export 32 "$O/u32.before"
	grep -q absent "$O/u32.before" || fail "cannot delete the WOW6432Node AeDebug key"
	mkdir -p "$O/aediu"
	pd -i "$(wpath "$O/aediu")"
	expect_rc 0
	pd -mm -i "$(wpath "$O/aediu")" # a second -i keeps what the first saved
	expect_rc 0
	pd -u
	expect_rc 0
	expect_out 'Reset to:'
	expect_out '(REG_EXPAND_SZ) Debugger  = other.exe -p %ld -e %ld "%SystemRoot%"'
	expect_out 'no longer the Just-in-time (AeDebug) debugger'
	aed_export 64 "$O/u64.after"
	aed_export 32 "$O/u32.after"
	cmp -s "$O/u64.before" "$O/u64.after" || fail "the 64-bit view differs after -u: $(diff "$O/u64.before" "$O/u64.after" | head -n 5)"
	cmp -s "$O/u32.before" "$O/u32.after" || fail "the WOW6432Node key -i made is still there after -u"
	# nothing installed now: -u says so in one line, exit 1, and changes nothing
	pd -u
	expect_rc 1
	expect_err 'not installed as the postmortem debugger'
	expect_err "Debugger is 'other.exe -p"
	expect_err_one_line
	aed_export 64 "$O/u64.again"
	cmp -s "$O/u64.before" "$O/u64.again" || fail "-u with nothing installed changed the key"
END

t 'install: -u leaves a Debugger that was changed after -i, and removes its own values' <<'END'
	aed_save
	trap aed_restore EXIT
	mkdir -p "$O/aedic"
	pd -i "$(wpath "$O/aedic")"
	expect_rc 0
	$WINE reg add "$AED_KEY" /v Debugger /d 'someone-else.exe %ld %ld' /f /reg:64 >/dev/null
	pd -u
	expect_rc 0
	expect_out 'left as it is: Debugger was changed after -i'
	[ "$(aed_value 64 Debugger)" = 'someone-else.exe %ld %ld' ] || fail "-u replaced a Debugger set after -i"
	[ -z "$(aed_value 64 'procdump.c Debugger')" ] || fail "-u left its mark"
END

t 'install: -i and -u that may not write AeDebug (not elevated) say so in one line, exit 3, change nothing' <<'END'
	aed_save
	trap aed_restore EXIT
	mkdir -p "$O/aedie"
	$WINE "$T/regsd.exe" "$AED_SUB" | tr -d '\r' >"$O/aed.sd"
	grep -q '^D:' "$O/aed.sd" || fail "regsd: $(cat "$O/aed.sd")"
	aed_export 64 "$O/e64.before"
	aed_export 32 "$O/e32.before"
	# what a user who is not elevated meets: the key can be read, not written
	$WINE "$T/regsd.exe" "$AED_SUB" 'D:(A;;KR;;;WD)' >/dev/null || fail "cannot set the DACL"
	pd -ma -i "$(wpath "$O/aedie")"
	expect_rc 3
	expect_err '-i: cannot write HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug: run procdump from an elevated (administrator) prompt: .*(5)'
	expect_err_one_line
	pd -u
	expect_rc 3
	expect_err '-u: cannot write .*elevated'
	expect_err_one_line
	aed_export 32 "$O/e32.after"
	cmp -s "$O/e32.before" "$O/e32.after" || fail "a refused -i changed the WOW6432Node key"
	aed_restore
	aed_export 64 "$O/e64.after"
	cmp -s "$O/e64.before" "$O/e64.after" || fail "a refused -i changed the key"
END

t 'install: a missing folder, -mk with -r, a capture switch with -i or -j, -j without its values: exit 2' <<'END'
	pd -i "$(wpath "$O/no-such-folder")"
	expect_rc 2
	expect_err "-i: dump folder '.*no-such-folder' does not exist"
	expect_err_one_line
	pd -mk -r -i "$(wpath "$O")"
	expect_rc 2
	expect_err '-mk cannot be used with -r'
	expect_err_one_line
	pd -i "$(wpath "$O")" -e
	expect_rc 2
	expect_err '-e cannot be used with -i'
	pd -j
	expect_rc 2
	expect_err '-j needs a dump folder, a PID, an event handle'
	expect_err_one_line
	pd -e -j "$(wpath "$O")" 1 2 3
	expect_rc 2
	expect_err '-e cannot be used with -j'
	pd -u -k
	expect_rc 2
	expect_err_one_line
	expect_err '-k cannot be used with -u (uninstall)'
END

# aed_unchanged WHAT: both views of the AeDebug key are as $O/ck64.before
# and $O/ck32.before have them
aed_unchanged() {
	aed_export 64 "$O/ck64.after"
	aed_export 32 "$O/ck32.after"
	cmp -s "$O/ck64.before" "$O/ck64.after" && cmp -s "$O/ck32.before" "$O/ck32.after" ||
		fail "$1 changed the AeDebug key: $(aed_value 64 Debugger)"
}
t 'install: -i checks what -j will need (the -md DLL loads and exports the callback, a file can be made in the folder): else exit 2, one line, no banner, AeDebug unchanged' <<'END'
	aed_save
	trap 'aed_restore; [ -z "$RO" ] || umount "$RO" 2>/dev/null || umount -l "$RO"' EXIT
	RO=""
	d=$O/aedck
	mkdir -p "$d"
	x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror -shared "$T/mdcallback.c" -o "$O/mdcallback.dll" ||
		fail "cannot build mdcallback.dll"
	aed_export 64 "$O/ck64.before"
	aed_export 32 "$O/ck32.before"
	# a DLL that does not load, one without the callback
	pd -ma -md "$(wpath "$d/nope.dll")" -i "$(wpath "$d")"
	expect_rc 2
	expect_err_one_line
	expect_err "^procdump: -md: cannot load '.*nope.dll': .*(126)"
	[ ! -s "$O/pd.out" ] || fail "stdout is not empty: $(head -n 2 "$O/pd.out")"
	aed_unchanged "-md nope.dll -i"
	pd -md "$(wpath "$T/pdtestdll.dll")" -i "$(wpath "$d")"
	expect_rc 2
	expect_err_one_line
	expect_err "^procdump: -md: '.*pdtestdll.dll' exports no MiniDumpCallbackRoutine"
	aed_unchanged "-md pdtestdll.dll -i"
	# a folder where no file can be made: a read-only volume (root can
	# write anywhere else under Linux)
	if [ $native = 0 ] && [ "$(id -u)" = 0 ]; then
		mkdir -p "$O/aedro"
		mount -t tmpfs -o ro,size=1m tmpfs "$O/aedro" || fail "cannot mount a read-only tmpfs"
		RO=$O/aedro
		pd -ma -i "$(wpath "$RO")"
		expect_rc 2
		expect_err_one_line
		expect_err "^procdump: -i: no file can be made in dump folder '.*aedro' (-j would write its dumps there): .*([0-9]*)"
		[ ! -s "$O/pd.out" ] || fail "stdout is not empty: $(head -n 2 "$O/pd.out")"
		aed_unchanged "-i on a read-only folder"
	else
		echo "# the read-only folder is a tmpfs under Linux (root): not tried"
	fi
	# what -j will find is there: registered, -md by its full path, no probe file left
	pd -ma -md "$(wpath "$O/mdcallback.dll")" -i "$(wpath "$d")"
	expect_rc 0
	[ "$(aed_value 64 Debugger)" = "$(aed_cmd "$PD" "-ma -md $(wpath "$O/mdcallback.dll") " "$d")" ] ||
		fail "Debugger is '$(aed_value 64 Debugger)'"
	[ -z "$(ls -A "$d")" ] || fail "files left in the dump folder: $(ls -A "$d")"
	pd -u
	expect_rc 0
END

# postmortem NAME SWITCHES: -i into $O/NAME with SWITCHES, then crasher NAME
# crashes (postmortem mode: no debugger waited for; 1 s after "ready", so
# that a reaper holds it first); the system starts procdump -j, whose lines
# land in the crasher's output.  TS: the crasher's exit code (target_status).
postmortem() {
	_n=$1
	shift
	aed_save
	mkdir -p "$O/$_n"
	pd "$@" -i "$(wpath "$O/$_n")"
	expect_rc 0
	crash "$_n" postmortem 1000
	reap "$_n"
	target_status "$_n"
	wait_for "$O/$_n.log" 'Dump count reached' 30 || fail "procdump -j did not finish: $(tail -n 5 "$O/$_n.log")"
}

# crash_checked NAME FILE: FILE, the dump of crasher NAME, is a full dump
# whose exception stream gives the AV and the faulting thread NAME printed,
# and lldb stops at the exception in crash_av
crash_checked() {
	yaml "$2" "$O/$1/y"
	grep -q 'Type: *Memory64List' "$O/$1/y" || fail "-ma was not passed on: no full dump"
	exception_is "$O/$1/y" 0xC0000005 "$(field "$1" tid)"
	lldb_do "$2" "$O/$1/l" 'thread list' 'bt'
	grep -q 'stop reason = Exception 0xc0000005' "$O/$1/l" || fail "lldb: no exception stop reason"
	grep -q 'frame #0: .*crasher.exe`crash_av' "$O/$1/l" || fail "lldb: frame 0 is not crash_av"
}

t 'install: -ma -i, a crash: exactly one full dump, its exception stream names the faulting thread and code (lldb), the process dies of it' <<'END'
	trap aed_restore EXIT
	postmortem aedpm -ma
	[ "$TS" = C0000005 ] || fail "the crasher did not end with its AV (exit code $TS)"
	grep -q 'Unhandled: C0000005.ACCESS_VIOLATION' "$O/aedpm.log" || fail "no Unhandled line"
	grep -q 'Exception from: *the debug event' "$O/aedpm.log" || fail "Wine's %p was taken for a JIT_DEBUG_INFO"
	f=$(one_dump "$O/aedpm")
	case $(basename "$f") in crasher.exe_[0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9].dmp) ;;
	*) fail "name is not PROCESSNAME_YYMMDD_HHMMSS.dmp: $(basename "$f")" ;; esac
	crash_checked aedpm "$f"
	pd -u
	expect_rc 0
END

t 'install: -k -i: the crashed process is dumped, then killed (exit 1, not its AV)' <<'END'
	trap aed_restore EXIT
	postmortem aedpk -k
	grep -q 'Killed process' "$O/aedpk.log" || fail "-k did not kill"
	grep -q 'The process has exited. Exit code: 0x00000001' "$O/aedpk.log" || fail "the crasher did not end with -k's code 1"
	[ "$TS" = 00000001 ] || fail "the crasher's exit code is $TS, not -k's 1"
	one_dump "$O/aedpk" >/dev/null
END

# line NAME PATTERN: the number of the first line of NAME's log matching PATTERN (0: none)
line() { grep -n -m 1 -- "$2" "$O/$1.log" | cut -d: -f1 | grep . || echo 0; }
# order NAME: the run's lines of NAME's log on one line, for a message
order() { grep -E 'Dump 1 [cwf]|exited|Killed' "$O/$1.log" | sed 's/^\[[^]]*\] //' | tr -d '\r' | tr '\n' '|'; }

# -r: the clone is taken while the event holds the crashed process, the
# exception is passed on, and the file is written once the process has
# ended: its end comes before "writing" and "complete" (without -r, after
# both; with -r but no wait for the end, the two race)
t 'install: -ma -r -i, a crash: the clone is taken, the process ends of its AV, then the dump (thread and code in its exception stream) is complete' <<'END'
	trap aed_restore EXIT
	postmortem aedpr -ma -r
	[ "$(aed_value 64 Debugger)" = "$(aed_cmd "$PD" "-ma -r " "$O/aedpr")" ] || fail "-r is not in the registered command: $(aed_value 64 Debugger)"
	[ "$TS" = C0000005 ] || fail "the crasher did not end with its AV (exit code $TS)"
	cloned=$(line aedpr 'Dump 1 cloned') ended=$(line aedpr 'The process has exited. Exit code: 0xC0000005')
	writing=$(line aedpr 'Dump 1 writing') complete=$(line aedpr 'Dump 1 complete')
	[ "$cloned" -gt 0 ] || fail "no clone: $(grep Dump "$O/aedpr.log")"
	[ "$ended" -gt "$cloned" ] || fail "the process did not end of its AV after the clone: $(order aedpr)"
	[ "$writing" -gt "$ended" ] && [ "$complete" -gt "$writing" ] ||
		fail "the dump was written before the crashed process ended: $(order aedpr)"
	f=$(one_dump "$O/aedpr")
	crash_checked aedpr "$f"
	pd -u
	expect_rc 0
END

# -r with two types: both clones are taken at the crash (the limit counts
# triggers), so the process ends at once, not after the 10 s deadline
t 'install: -mm -ma -r -i, a crash: both clones at the crash, the process ends at once, then a Mini and a Full dump' <<'END'
	trap aed_restore EXIT
	postmortem aedpr2 -mm -ma -r
	wait_count "$O/aedpr2.log" 'Dump 1 complete' 2 30 || fail "not two dumps: $(order aedpr2)"
	! grep -q 'has not ended within\|waits: the limit' "$O/aedpr2.log" || fail "a clone waited for the other's write: $(order aedpr2)"
	ended=$(line aedpr2 'The process has exited. Exit code: 0xC0000005')
	[ "$ended" -gt 0 ] && [ "$(line aedpr2 'Dump 1 writing')" -gt "$ended" ] ||
		fail "the process did not end before the writes: $(order aedpr2)"
	[ "$(ls "$O/aedpr2" | grep -c '_Mini\.dmp$')" = 1 ] && [ "$(ls "$O/aedpr2" | grep -c '_Full\.dmp$')" = 1 ] ||
		fail "want a Mini and a Full dump: $(ls "$O/aedpr2" | tr '\n' ' ')"
	crash_checked aedpr2 "$O/aedpr2/$(ls "$O/aedpr2" | grep '_Full\.dmp$')"
	pd -u
	expect_rc 0
END

t 'install: -r -k -i: the crash is cloned, the process killed (exit 1), then the dump is complete' <<'END'
	trap aed_restore EXIT
	postmortem aedprk -r -k
	[ "$(aed_value 64 Debugger)" = "$(aed_cmd "$PD" "-r -k " "$O/aedprk")" ] || fail "registered: $(aed_value 64 Debugger)"
	killed=$(line aedprk 'Killed process') ended=$(line aedprk 'The process has exited. Exit code: 0x00000001')
	[ "$ended" -gt 0 ] || fail "the crasher did not end with -k's code 1: $(order aedprk)"
	[ "$TS" = 00000001 ] || fail "the crasher's exit code is $TS, not -k's 1"
	[ "$(line aedprk 'Dump 1 cloned')" -gt 0 ] || fail "no clone: $(order aedprk)"
	[ "$killed" -gt "$(line aedprk 'Dump 1 cloned')" ] || fail "not killed after the clone: $(order aedprk)"
	[ "$(line aedprk 'Dump 1 writing')" -gt "$ended" ] ||
		fail "the dump was written before the kill ended the process: $(order aedprk)"
	yaml "$(one_dump "$O/aedprk")" "$O/aedprk/y"
	[ "$(ex_field "$O/aedprk/y" 'Thread ID')" = "$(printf '0x%X' "$(field aedprk tid)")" ] || fail "faulting thread"
END

t 'install: -mk -i: the crash is dumped, the kernel dump Wine cannot write is one line' <<'END'
	# -mk: the user dump, and the kernel dump Wine cannot write said in one line
	[ $native = 0 ] || skip "-mk's kernel dump is asked of Windows itself here: its line is Wine's"
	trap aed_restore EXIT
	postmortem aedpmk -mk
	[ "$(aed_value 64 Debugger)" = "$(aed_cmd "$PD" "-mk " "$O/aedpmk")" ] || fail "registered: $(aed_value 64 Debugger)"
	grep -q 'procdump: -mk: this system cannot write a live kernel dump' "$O/aedpmk.log" || fail "-j -mk said nothing of the kernel dump"
	yaml "$(one_dump "$O/aedpmk")" "$O/aedpmk/y"
	[ "$(ex_field "$O/aedpmk/y" 'Exception Code')" = 0xC0000005 ] || fail "code"
	[ "$TS" = C0000005 ] || fail "the crasher did not end with its AV (exit code $TS)"
END

# The system formats the registered command (swprintf with the PID, the
# event and JIT_DEBUG_INFO): a % in the folder is registered as %%, and
# the crash is still dumped there (with a lone %s the crashed process hung)
t 'install: a % in the dump folder is registered as %%; the crash is dumped there' <<'END'
	trap aed_restore EXIT
	postmortem 'aed%sp' -mm
	grep -qF 'aed%%sp" %ld %ld %p' "$O/pd.out" || fail "the % is not doubled: $(grep Debugger "$O/pd.out")"
	aed_value 64 Debugger | grep -qF 'aed%%sp" %ld %ld %p' || fail "the registered value differs from the printed one"
	one_dump "$O/aed%sp" >/dev/null
	pd -u
	expect_rc 0
END

t 'install: -j with an unreadable JIT_DEBUG_INFO address still dumps the crash (from the debug event)' <<'END'
	# the JIT_DEBUG_INFO address that -i registers as %p, replaced by one that cannot be read
	trap aed_restore EXIT
	aed_save
	mkdir -p "$O/aedpj"
	$WINE reg add "$AED_KEY" /v Debugger /d "$(aed_cmd "$PD" "" "$O/aedpj" | sed 's/%p$/10/')" /f /reg:64 >/dev/null
	crash aedpj postmortem 1000
	reap aedpj
	target_status aedpj
	wait_for "$O/aedpj.log" 'Dump count reached' 30 || fail "procdump -j did not finish: $(tail -n 5 "$O/aedpj.log")"
	grep -q 'no valid JIT_DEBUG_INFO' "$O/aedpj.log" || fail "address 0x10 was taken for a JIT_DEBUG_INFO"
	yaml "$(one_dump "$O/aedpj")" "$O/aedpj/y"
	[ "$(ex_field "$O/aedpj/y" 'Thread ID')" = "$(printf '0x%X' "$(field aedpj tid)")" ] || fail "faulting thread"
	[ "$TS" = C0000005 ] || fail "the crasher did not end with its AV (exit code $TS)"
END

t 'install: -wer where WER refuses (Wine: AddDump E_NOTIMPL): one line, the dump stays, exit 0' <<'END'
	# Wine's WerReportAddDump returns E_NOTIMPL (doc/WINE.md §10): one line, the dump stays, exit 0
	start_target aedwr "$T/target.exe" 1
	mkdir -p "$O/aedwr"
	pd -wer "$(field aedwr pid)" "$(wpath "$O/aedwr")"
	expect_rc 0
	expect_out 'Queue to WER: *Enabled'
	expect_out 'Dump count reached'
	expect_err '-wer: WerReportAddDump failed (0x80004001, not implemented): nothing was queued to Windows Error Reporting; the dumps stay'
	expect_err_one_line
	yaml "$(one_dump "$O/aedwr")" "$O/aedwr/y"
	stop_target aedwr
END

t 'install: -wer -i: the crash is dumped, WER refusing says so in the postmortem output' <<'END'
	trap aed_restore EXIT
	postmortem aedpw -wer
	[ "$(aed_value 64 Debugger)" = "$(aed_cmd "$PD" "-wer " "$O/aedpw")" ] || fail "-wer is not in the registered command"
	grep -q 'procdump: -wer: WerReportAddDump failed (0x80004001' "$O/aedpw.log" || fail "-j -wer did not say WER refused"
	one_dump "$O/aedpw" >/dev/null
	[ "$TS" = C0000005 ] || fail "the crasher did not end with its AV (exit code $TS)"
END

t 'install: -x with a Store application or package where the COM classes are missing (Wine): one line, exit 3' <<'END'
	# seed 000's two forms; Wine has neither COM class (PackageDebugSettings,
	# ApplicationActivationManager): one line, exit 3, nothing started
	mkdir -p "$O/aedst"
	for id in 'Microsoft.BingMaps_8wekyb3d8bbwe!AppexMaps' Microsoft.BingMaps_1.2.0.136_x64__8wekyb3d8bbwe; do
		pd -e -x "$(wpath "$O/aedst")" "$id"
		expect_rc 3
		expect_err "-x: cannot launch Store .*'$id': the COM class PackageDebugSettings is not available (0x80040154, class not registered)"
		expect_err_one_line
	done
	[ -z "$(ls "$O/aedst")" ] || fail "something was written: $(ls "$O/aedst")"
END
