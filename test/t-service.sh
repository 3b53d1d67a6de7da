# t-service.sh - leaving procdump running unattended: the action after
# each dump (-ondump), the progress of a long dump, the service.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'service: what must hold' <<'END'
#   	commands
#   END
#
# The action is test/pdargs.exe: it writes the arguments it received, its
# PD_DUMP_FILE and the first bytes of the file its first argument names to
# a file, then exits 0 (ok), 7 (fail) or hangs (hang).

# pdargs_cmd OUT MODE ARGS: an -ondump command line that runs pdargs.exe
pdargs_cmd() { _o=$1 _m=$2; shift 2; printf '"%s" "%s" %s %s' "$(wpath "$T/pdargs.exe")" "$(wpath "$_o")" "$_m" "$*"; }
# pdargs_running: pdargs.exe processes of this tree still running
pdargs_running() { pgrep -f 'wt-[^ ]*test.pdargs\.exe|test.pdargs\.exe' 2>/dev/null | grep -c . || true; }

# A process whose name, and a folder whose path, hold blanks, % and &
# (Windows names cannot hold a quote: the template's own quotes are tested)
t 'service: -ondump gets the dump path, name, PID, exception code, date and time as one argument each (blanks, %, & in the name and folder); -json action_end' <<'END'
	d="$O/od a%PATH%&b ^x"
	rm -rf "$d"
	mkdir -p "$d"
	cp "$T/crasher.exe" "$d/we ird %OS% & y.exe"
	rm -f "$O/od.args" "$O/od.jsonl"
	pd -ma -e -json "$(wpath "$O/od.jsonl")" \
		-ondump "$(pdargs_cmd "$O/od.args" ok DUMPPATH PROCESSNAME PID EXCEPTIONCODE YYMMDD HHMMSS '"two words"' pre-PID-post)" \
		-x "$(wpath "$d")" "$(wpath "$d/we ird %OS% & y.exe")" av
	expect_rc 0
	dump=$(one_dump "$d")
	tr -d '\r' <"$O/od.args" >"$O/od.args.txt" || fail "the action did not run: $(tail -n 3 "$O/pd.out")"
	pid=$(sed -n 's/^pid=//p' "$O/pd.out" | head -n 1)
	stamp=$(basename "$dump" .dmp | sed 's/.*_\([0-9]\{6\}\)_\([0-9]\{6\}\)$/\1 \2/')
	{
		echo n=8
		printf 'arg=%s\n' "$(wpath "$dump")" "we ird %OS% & y.exe" "$pid" C0000005
		# (the time the dump completed: the file name's second, or the next)
		sed -n 6,7p "$O/od.args.txt"
		printf 'arg=%s\n' "two words" "pre-$pid-post"
		printf 'env=%s\n' "$(wpath "$dump")"
		echo "sig=MDMP"
	} >"$O/od.want"
	diff "$O/od.want" "$O/od.args.txt" >"$O/od.diff" || fail "the action's arguments: $(cat "$O/od.diff")"
	got_ymd=$(sed -n 's/^arg=//; 6p' "$O/od.args.txt") got_hms=$(sed -n 's/^arg=//; 7p' "$O/od.args.txt")
	[ "$got_ymd" = "${stamp% *}" ] || fail "YYMMDD $got_ymd, the file name has ${stamp% *}"
	[ $((1$got_hms - 1${stamp#* })) -ge 0 ] && [ $((1$got_hms - 1${stamp#* })) -le 2 ] ||
		fail "HHMMSS $got_hms, the file name has ${stamp#* }"
	expect_out 'Dump 1 action exited with code 0 after'
	n=$(jl1 "$O/od.jsonl" '" ".join(e["event"] for e in ev)')
	case $n in
	"start target_found trigger dump_begin dump_end "*"action_end "*finish) ;;
	*) fail "events: $n" ;;
	esac
	[ "$(jl1 "$O/od.jsonl" 'by("action_end")[0]["exit_code"], by("action_end")[0]["result"], by("action_end")[0]["number"]')" = "(0, 'exited', 1)" ] ||
		fail "action_end: $(jl "$O/od.jsonl" 'by("action_end")')"
	[ "$(jl1 "$O/od.jsonl" 'by("action_end")[0]["path"]')" = "$(wpath "$dump")" ] || fail "action_end.path"
	jl1 "$O/od.jsonl" 'by("action_end")[0]["command"]' | grep -qF '"we ird %OS% & y.exe"' ||
		fail "action_end.command: $(jl "$O/od.jsonl" 'by("action_end")[0]["command"]')"
	[ "$(jl1 "$O/od.jsonl" 'by("action_end")[0]["ms"] >= 0')" = True ] || fail "action_end.ms"
END

# cmd.exe reads its command line again: a value with & cannot add a
# command; one with % (which cmd expands even in quotes) is refused, and
# its environment variable carries it
t 'service: -ondump with cmd.exe: an & in a path adds no command, a % is refused, the dump and exit code kept' <<'END'
	d="$O/oc & mkdir injected & x"
	rm -rf "$d" "$O/oc.run"
	mkdir -p "$d" "$O/oc.run"
	cp "$T/crasher.exe" "$d/oc.exe"
	pd_in "$O/oc.run" -ma -e -ondump "cmd /c copy DUMPPATH copied.dmp" -x "$(wpath "$d")" "$(wpath "$d/oc.exe")" av
	expect_rc 0
	wait_for "$O/pd.out" 'Dump 1 action exited with code 0' 1 || fail "the copy did not run: $(grep action "$O/pd.out")"
	[ "$(head -c 4 "$O/oc.run/copied.dmp" 2>/dev/null)" = MDMP ] || fail "cmd did not copy the dump"
	[ ! -e "$O/oc.run/injected" ] && [ ! -e "$d/injected" ] || fail "the & in the folder's name ran a command"
	# % in the value: refused, the dump stays and the exit code is 0
	d2="$O/oc2 %OS%"
	rm -rf "$d2"
	mkdir -p "$d2"
	cp "$T/crasher.exe" "$d2/oc2.exe"
	pd_in "$O/oc.run" -ma -e -ondump "cmd /c copy DUMPPATH copied2.dmp" -x "$(wpath "$d2")" "$(wpath "$d2/oc2.exe")" av
	expect_rc 0
	one_dump "$d2" >/dev/null
	expect_err "-ondump: cmd.exe would expand the % or ! in '.*oc2 %OS%.*': pass the value through its environment variable"
	[ ! -e "$O/oc.run/copied2.dmp" ] || fail "the refused action ran"
	# (the variable, "%PD_DUMP_FILE%", is what cmd should read: Windows' cmd
	# expands it once; Wine 8's cmd expands the % in its value again, so
	# only pdargs.exe checks it here: the -ondump exact-arguments test)
END

# A hung action is killed at its deadline; monitoring goes on meanwhile;
# a failing one leaves the dump and the exit code as they were
t 'service: -ondump: a hung action is killed at -ondumpat while monitoring goes on; a failing or missing one leaves the dump and exit code 0' <<'END'
	start_target oh "$T/target.exe" 1 1
	mkdir -p "$O/oh"
	rm -f "$O/oh"/* "$O/oh.args" "$O/oh.jsonl"
	pd -mm -n 2 -s 1 -ondumpat 3 -json "$(wpath "$O/oh.jsonl")" -ondump "$(pdargs_cmd "$O/oh.args" hang DUMPPATH)" \
		"$(field oh pid)" "$(wpath "$O/oh")"
	expect_rc 0
	[ "$(ls "$O/oh" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/oh")"
	[ "$(grep -c 'action killed: still running after 3 seconds (-ondumpat)' "$O/pd.out")" = 2 ] ||
		fail "two actions killed at 3 s: $(grep action "$O/pd.out")"
	# the second dump was written while the first action hung
	awk '/Dump 2 complete/ { c = NR } /Dump 1 action killed/ { k = NR } END { exit !(c && k && c < k) }' "$O/pd.out" ||
		fail "monitoring waited for the action: $(grep 'complete\|action' "$O/pd.out")"
	[ "$(jl1 "$O/oh.jsonl" 'str([e["result"] for e in by("action_end")])')" = "['timeout', 'timeout']" ] ||
		fail "action_end: $(jl "$O/oh.jsonl" 'by("action_end")')"
	[ "$(jl1 "$O/oh.jsonl" 'all(2900 <= e["ms"] <= 8000 and e["exit_code"] is None for e in by("action_end"))')" = True ] ||
		fail "action_end ms/exit_code: $(jl "$O/oh.jsonl" 'by("action_end")')"
	[ "$(pdargs_running)" = 0 ] || fail "a killed action still runs"
	# a failing action: the dump and the exit code stay
	rm -f "$O/oh"/*
	pd -mm -json "$(wpath "$O/oh.jsonl")" -ondump "$(pdargs_cmd "$O/oh.args" fail DUMPPATH)" "$(field oh pid)" "$(wpath "$O/oh")"
	expect_rc 0
	expect_out 'Dump 1 complete'
	expect_out 'Dump 1 action exited with code 7 after'
	[ "$(head -c 4 "$(one_dump "$O/oh")")" = MDMP ] || fail "the dump"
	[ "$(jl1 "$O/oh.jsonl" 'by("action_end")[-1]["exit_code"], by("finish")[-1]["exit_code"], by("finish")[-1]["dumps"]')" = "(7, 0, 1)" ] ||
		fail "action_end/finish: $(jl "$O/oh.jsonl" 'by("action_end")[-1], by("finish")[-1]')"
	# an action that cannot start: said, the exit code stays
	pd -mm -o -ondump 'Z:\no\such\program.exe DUMPPATH' "$(field oh pid)" "$(wpath "$O/oh/nosuch.dmp")"
	expect_rc 0
	expect_err 'Dump 1 action could not start: Z:\\no\\such\\program.exe '
	stop_target oh
END

t 'service: -ondumpat without -ondump, an empty -ondump: one line, exit 2' <<'END'
	pd -ondumpat 5 1234
	expect_rc 2
	expect_err '-ondumpat needs -ondump'
	pd -ondump ' ' 1234
	expect_rc 2
	expect_err '-ondump: the command line is empty'
END

# Progress: test/conread.exe runs procdump on a console of its own and
# reads the screen every 20 ms, as a user at the console sees it; the
# chunk-delay hook makes the dump slow (27 chunks of 4 MiB).
t 'service: progress on a console: one line updated in place during a slow dump, erased before the complete line; -json dump_progress' <<'END'
	start_target pc "$T/target.exe" 1 64
	mkdir -p "$O/pc"
	rm -f "$O/pc"/* "$O/pc.txt" "$O/pc.jsonl"
	PROCDUMP_TEST_CHUNK_DELAY_MS=250 timeout 120 $WINE "$T/conread.exe" "$(wpath "$O/pc.txt")" \
		"\"$(wpath "$PD")\" -ma -json \"$(wpath "$O/pc.jsonl")\" $(field pc pid) \"$(wpath "$O/pc/d.dmp")\"" ||
		fail "conread: $(cat "$O/pc.txt" 2>/dev/null)"
	tr -d '\r' <"$O/pc.txt" >"$O/pc.screen"
	grep -qx 'exit=0' "$O/pc.screen" || fail "procdump on the console: $(tail -n 5 "$O/pc.screen")"
	# the line updated in place: several texts, the percent rising
	n=$(grep -c '^progress=\[[0-9:]*\] Dump 1 writing: [0-9]*% of [0-9]* MB, [0-9]* MB/s, [0-9]* s left$' "$O/pc.screen" || true)
	[ "$n" -ge 3 ] || fail "want 3 or more texts of the progress line, got $n: $(grep progress "$O/pc.screen" | head -n 3)"
	sed -n 's/^progress=.* \([0-9]*\)% of.*/\1/p' "$O/pc.screen" | sort -n -c || fail "the percent went down"
	[ "$(sed -n 's/^progress=.* \([0-9]*\)% of.*/\1/p' "$O/pc.screen" | sort -un | wc -l)" -ge 3 ] || fail "the percent did not move"
	# and gone: the row after the estimate is the complete line
	grep -q '^screen=.*% of' "$O/pc.screen" && fail "the progress line stayed on the screen: $(grep '% of' "$O/pc.screen" | grep screen)"
	grep -A1 '^screen=.*Dump 1 writing: Estimated' "$O/pc.screen" | tail -n 1 | grep -q '^screen=\[[0-9:]*\] Dump 1 complete: ' ||
		fail "the screen: $(grep -A2 Estimated "$O/pc.screen")"
	# -json: dump_progress every 5 s of a dump that takes longer, before dump_end
	n=$(jl1 "$O/pc.jsonl" 'len(by("dump_progress"))')
	[ "$n" -ge 1 ] || fail "no dump_progress"
	[ "$(jl1 "$O/pc.jsonl" 'all(0 < e["bytes"] <= e["estimate"] and e["estimate"] == by("dump_end")[0]["bytes"] and e["number"] == 1 and e["type"] == "Full" for e in by("dump_progress"))')" = True ] ||
		fail "dump_progress: $(jl "$O/pc.jsonl" 'by("dump_progress")')"
	[ "$(jl1 "$O/pc.jsonl" '[e["event"] for e in ev].index("dump_progress") > [e["event"] for e in ev].index("dump_begin") and [e["event"] for e in ev].index("dump_end") > len(ev) - 3')" = True ] ||
		fail "order: $(jl "$O/pc.jsonl" '" ".join(e["event"] for e in ev)')"
	stop_target pc
END

# Redirected output is what it was: no progress text, the usual lines
t 'service: progress: redirected output carries no progress text (a 3 s dump: the same lines as before)' <<'END'
	start_target pr "$T/target.exe" 1 64
	mkdir -p "$O/pr"
	rm -f "$O/pr"/*
	PROCDUMP_TEST_CHUNK_DELAY_MS=100 pd -ma "$(field pr pid)" "$(wpath "$O/pr/d.dmp")"
	expect_rc 0
	if grep -q '% of' "$O/pd.out" "$O/pd.err" || [ "$(tr -cd '\r' <"$O/pd.raw" | wc -c)" != "$(grep -c . "$O/pd.raw")" ]; then
		fail "progress text in redirected output: $(grep -a '% of' "$O/pd.raw" | head -n 2)"
	fi
	sed -n '/Dump 1 initiated/,$p' "$O/pd.out" | sed 's/^\[[0-9:]*\] //; s/[0-9.]* MB/N MB/g; s/in [0-9.]* seconds/in S seconds/' >"$O/pr.tail"
	printf '%s\n' "Dump 1 initiated: $(wpath "$O/pr/d.dmp")" "Dump 1 writing: Estimated dump file size is N MB." \
		"Dump 1 complete: N MB written in S seconds" "Dump count reached." >"$O/pr.want"
	diff "$O/pr.want" "$O/pr.tail" >"$O/pr.diff" || fail "the lines: $(cat "$O/pr.diff")"
	stop_target pr
END

# The service: procdump.c-PdT, a monitor of pdwait.exe (crasher.exe under
# another name).  run.sh's cleanup stops and deletes it (pdsvc.made), also
# after a failure.
PDSVC=procdump.c-PdT
pdsvc_state() { wine sc query "$PDSVC" 2>/dev/null | tr -d '\r' | sed -n 's/.*STATE *: [0-9]* *//p'; }
pdsvc_drop() {
	[ $native = 0 ] || return 0
	wine sc stop "$PDSVC" >/dev/null 2>&1 || :
	wine sc delete "$PDSVC" >/dev/null 2>&1 || :
	rm -f "$O/pdsvc.made"
}
# pdsvc_procs: procdump processes running as the service
# wait_last FILE REGEX SECONDS: until FILE's last non-empty line matches (deadline)
wait_last() {
	_end=$(($(date +%s) + $3))
	until tr -d '\r' <"$1" 2>/dev/null | grep -v '^$' | tail -n 1 | grep -q -- "$2"; do
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
}
pdsvc_procs() { pgrep -f 'procdump64.exe -svc run PdT' 2>/dev/null | grep -c . || true; }

t 'service: -svc install/list/uninstall: 3 crashes, 3 dumps; stop is Ctrl+C (STOPPED in time, target left running); started again after a kill; nothing left' <<'END'
	[ $native = 0 ] || skip "the service test installs a service: run under Wine only"
	trap pdsvc_drop EXIT
	pdsvc_drop
	d="$O/svc mon"
	rm -rf "$d"
	mkdir -p "$d"
	# not elevated: one line, exit 3, nothing made
	PROCDUMP_TEST_SCM_DENIED=1 pd -svc install PdT -e pdwait.exe "$(wpath "$d")"
	expect_rc 3
	expect_err_one_line
	expect_err "-svc install: cannot open the service manager to create $PDSVC: run procdump from an elevated (administrator) prompt: .*(5)"
	[ -z "$(pdsvc_state)" ] || fail "a refused install made the service"
	: >"$O/pdsvc.made"
	pd -svc install PdT -e -json "$(wpath "$d/ev.jsonl")" pdwait.exe "$(wpath "$d")"
	expect_rc 0
	expect_out 'No -keep given: -keep 10 applied'
	expect_out "Service $PDSVC installed"
	grep -qF "Its log: $(wpath "$d")\\$PDSVC.log" "$O/pd.out" || fail "the log is not announced where it goes: $(grep 'Its log' "$O/pd.out")"
	pd -svc install PdT -e pdwait.exe "$(wpath "$d")"
	expect_rc 2
	expect_err "the service $PDSVC exists (-o replaces"
	pd -svc list
	expect_rc 0
	expect_out "^$PDSVC  stopped"
	grep -qF "command line: $(wpath "$PD") -svc run PdT -e -json \"$(wpath "$d/ev.jsonl")\" pdwait.exe \"$(wpath "$d")\" -keep 10" "$O/pd.out" ||
		fail "the command line: $(grep 'command line' "$O/pd.out")"
	# the failure actions as QueryServiceConfig2 reads them back: Wine 8
	# stores none and answers ERROR_INVALID_LEVEL (124), the evidence kept
	grep -q 'on failure:   restart after 60 s, 3 times in 86400 s' "$O/pd.out" ||
		grep -q 'on failure:   (the manager does not say: 124)' "$O/pd.out" || fail "failure actions: $(grep 'on failure' "$O/pd.out")"
	grep 'on failure' "$O/pd.out"
	wine sc start "$PDSVC" >/dev/null 2>&1 || fail "sc start"
	log="$d/$PDSVC.log"
	wait_last "$log" 'Waiting for process named pdwait.exe' 30 || fail "the service does not wait: $(tail -n 3 "$log")"
	# three crashes, three processes: three dumps
	for i in 1 2 3; do
		start_target pw$i "$T/pdwait.exe" av
		_end=$(($(date +%s) + 30))
		until [ "$(ls "$d" | grep -c '\.dmp$')" -ge $i ]; do
			[ "$(date +%s)" -ge $_end ] && fail "crash $i: no dump $i: $(tail -n 5 "$log")"
			sleep 0.1
		done
		target_gone pw$i
	done
	# its events go to the -json file too: a dump_end for each dump
	wait_count "$d/ev.jsonl" '"event":"dump_end"' 3 10 || fail "-json: $(grep -c dump_end "$d/ev.jsonl") dump_end lines, not 3"
	# a live target when the service stops: resumed and detached, not killed
	wait_last "$log" 'Waiting for process named pdwait.exe' 30 || fail "not re-armed: $(tail -n 5 "$log")"
	start_target live "$T/pdwait.exe" sleep
	wait_last "$log" 'Press Ctrl-C' 30 || fail "the live target was not attached: $(tail -n 5 "$log")"
	t0=$(date +%s)
	wine sc stop "$PDSVC" >/dev/null 2>&1 || fail "sc stop"
	until [ "$(pdsvc_state)" = STOPPED ]; do
		[ $(($(date +%s) - t0)) -le 30 ] || fail "not STOPPED within the 30 s wait hint: $(pdsvc_state)"
		sleep 0.1
	done
	echo "stopped in $(($(date +%s) - t0)) s"
	wait_for "$log" "Service $PDSVC stopped" 10 || fail "the log: $(tail -n 5 "$log")"
	_end=$(($(date +%s) + 10))
	while [ "$(pdsvc_procs)" != 0 ]; do [ "$(date +%s)" -lt $_end ] || fail "the service's procdump still runs"; sleep 0.1; done
	kill -0 "$(upid live)" 2>/dev/null || fail "the live target ended with the service"
	[ "$(ls "$d" | grep -c '\.dmp$')" = 3 ] || fail "want 3 dumps: $(ls "$d")"
	stop_target live
	# killed: started again, it monitors again
	wine sc start "$PDSVC" >/dev/null 2>&1 || fail "sc start (2)"
	wait_last "$log" 'Waiting for process named pdwait.exe' 30 || fail "not restarted: $(tail -n 5 "$log")"
	pkill -KILL -f 'procdump64.exe -svc run PdT' || fail "no service process to kill"
	_end=$(($(date +%s) + 10))
	while [ "$(pdsvc_procs)" != 0 ]; do [ "$(date +%s)" -lt $_end ] || fail "killed, it still runs"; sleep 0.1; done
	# (where the manager acts on the failure actions it restarts it within
	# their minute; Wine 8's does not: then a start resumes monitoring)
	echo "killed: restarted by the manager within 5 s? $(wait_count "$log" "Service $PDSVC started (PID" 3 5 && echo yes || echo no)"
	wine sc start "$PDSVC" >/dev/null 2>&1 || :
	wait_count "$log" "Service $PDSVC started (PID" 3 30 || fail "not started after the kill: $(tail -n 5 "$log")"
	wait_last "$log" 'Waiting for process named pdwait.exe' 30 || fail "not monitoring after the kill: $(tail -n 5 "$log")"
	start_target pw4 "$T/pdwait.exe" av
	_end=$(($(date +%s) + 30))
	until [ "$(ls "$d" | grep -c '\.dmp$')" -ge 4 ]; do
		[ "$(date +%s)" -ge $_end ] && fail "after the kill: no fourth dump: $(tail -n 5 "$log")"
		sleep 0.1
	done
	target_gone pw4
	# uninstall: stopped and gone, no key, no process
	pd -svc uninstall PdT
	expect_rc 0
	expect_out "Service $PDSVC removed"
	[ -z "$(pdsvc_state)" ] || fail "the service is still there: $(pdsvc_state)"
	wine reg query "HKLM\\System\\CurrentControlSet\\Services\\$PDSVC" >/dev/null 2>&1 && fail "its registry key stays"
	[ "$(pdsvc_procs)" = 0 ] || fail "its procdump still runs"
	rm -f "$O/pdsvc.made"
	pd -svc uninstall PdT
	expect_rc 3
END

# -svcuser: the account the service runs as, read back by -svc list (and
# LocalSystem again when -o reinstalls without it); -svcuser itself stays
# out of the service's command line, and a relative -json file goes in as
# a full path (a service starts in system32).  Not started: Wine's manager
# does not log on as another account.
t 'service: -svcuser installs the service under that account (-svc list reads it back; -o without it: LocalSystem); -json goes in as a full path; -svcuser elsewhere is exit 2' <<'END'
	[ $native = 0 ] || skip "installs a service: run under Wine only"
	trap pdsvc_drop EXIT
	pdsvc_drop
	d="$O/svc acct"
	rm -rf "$d"
	mkdir -p "$d"
	: >"$O/pdsvc.made"
	pd_in "$d" -svc install PdT -svcuser 'NT AUTHORITY\LocalService' -e -json ev.jsonl pdwait.exe "$(wpath "$d")"
	expect_rc 0
	expect_out "Service $PDSVC installed: NT AUTHORITY.LocalService,"
	pd -svc list
	expect_rc 0
	grep -A3 "^$PDSVC " "$O/pd.out" | grep -q '^    account: *NT AUTHORITY.LocalService$' ||
		fail "the account: $(grep -A3 "^$PDSVC " "$O/pd.out")"
	grep -qF "command line: $(wpath "$PD") -svc run PdT -e -json \"$(wpath "$d/ev.jsonl")\" pdwait.exe \"$(wpath "$d")\" -keep 10" "$O/pd.out" ||
		fail "the command line: $(grep 'command line' "$O/pd.out")"
	grep -q 'svcuser' "$O/pd.out" && fail "-svcuser went into the service's command line"
	pd -svc install PdT -o -e pdwait.exe "$(wpath "$d")"
	expect_rc 0
	expect_out "Service $PDSVC installed: LocalSystem,"
	pd -svc list
	grep -A3 "^$PDSVC " "$O/pd.out" | grep -q '^    account: *LocalSystem$' ||
		fail "-o without -svcuser: $(grep -A3 "^$PDSVC " "$O/pd.out")"
	pd -svc uninstall PdT
	expect_rc 0
	[ -z "$(pdsvc_state)" ] || fail "the service is still there"
	rm -f "$O/pdsvc.made"
	for args in "-svcuser x -e pdwait.exe C:\\" "-svc list -svcuser x" "-svc install PdT -svcuser pdwait.exe C:\\"; do
		# shellcheck disable=SC2086 # the words of args are the arguments
		pd $args
		[ "$RC" = 2 ] || fail "procdump $args: exit $RC, not 2"
		expect_err_one_line
		expect_err 'svc'
	done
END

t 'service: -svc usage errors (no verb, a bad verb or name, no folder, a PID, extra switches, -svc run at a console): one line naming -svc, exit 2' <<'END'
	for args in "-svc" "-svc start PdT" "-svc install" "-svc install a/b pdwait.exe C:\\" "-svc install PdT pdwait.exe" \
		"-svc install PdT 1234 C:\\" "-svc list pdwait.exe" "-svc uninstall PdT -e" "-svc install PdT -x C:\\ a.exe" \
		"-svc install PdT pdwait.exe C:\\pd-no-such-folder"; do
		# shellcheck disable=SC2086 # the words of args are the arguments
		pd $args
		[ "$RC" = 2 ] || fail "procdump $args: exit $RC, not 2"
		expect_err_one_line
		grep -q -- '-svc\|-x' "$O/pd.err" || fail "procdump $args: the line does not name -svc: $(cat "$O/pd.err")"
		grep -q 'open-source process dump utility' "$O/pd.out" && fail "procdump $args: the banner before a usage error"
	done
	# the service's own command line, from a console: one line, exit 2
	mkdir -p "$O/su"
	pd -svc run PdT -e pdwait.exe "$(wpath "$O/su")"
	expect_rc 2
	expect_err '-svc run is the command line of the service procdump.c-PdT, which the service manager starts'
END
