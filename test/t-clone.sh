# t-clone.sh - -r: the dump written from an in-memory clone (the target runs
# on while the file is written), -k after the clone, -mk, a clone too big
# for memory, and the freeze promise during the copy.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'clone: what must hold' <<'END'
#   	commands
#   END

# cl_setup: one target (3 workers, a 4 MiB marker) and its -r -mm and -r -ma
# dumps (cl/mini.dmp, cl/full.dmp) with lldb's and obj2yaml's readings; once
cl_setup() {
	[ -f "$O/cl.log" ] && return 0
	start_target cl "$T/target.exe" 3 4
	mkdir -p "$O/cl"
	for k in mini full; do
		[ $k = mini ] && ty=-mm || ty=-ma
		pd -v -r $ty "$(field cl pid)" "$(wpath "$O/cl/$k.dmp")"
		[ "$RC" = 0 ] || fail "-r $ty exited $RC: $(cat "$O/pd.err")"
		cp "$O/pd.out" "$O/cl/$k.out"
		cp "$O/pd.err" "$O/cl/$k.err"
		lldb_do "$O/cl/$k.dmp" "$O/cl/$k.lldb" 'thread list' 'bt all' 'image list'
		yaml "$O/cl/$k.dmp" "$O/cl/$k.yaml"
	done
}

t 'clone: -r -mm and -r -ma say the clone was taken, before writing; nothing unread; no debug object left' <<'END'
	cl_setup
	for k in mini full; do
		grep -q 'Dump 1 cloned: the process runs on' "$O/cl/$k.out" || fail "$k: no 'cloned' line: $(cat "$O/cl/$k.out")"
		grep -q 'cloned [0-9]* MB in .* runs on' "$O/cl/$k.err" || fail "$k: -v says nothing of the clone"
		# the dump's thread attached for the freeze: its debug object is not left open
		grep -q "closed the dump thread's debug object" "$O/cl/$k.err" || fail "$k: the dump thread's debug object left open"
		grep -q 'Dump 1 complete' "$O/cl/$k.out" || fail "$k: not complete"
		! grep -q 'could not be read' "$O/cl/$k.err" || fail "$k: bytes unread from the clone: $(cat "$O/cl/$k.err")"
		# the clone is taken before the dump is laid out and written
		c=$(grep -n 'cloned:' "$O/cl/$k.out" | cut -d: -f1) w=$(grep -n 'writing:' "$O/cl/$k.out" | cut -d: -f1)
		[ "$c" -lt "$w" ] || fail "$k: 'cloned' after 'writing'"
	done
END

t 'clone: -r dumps hold every thread id the target printed, and lldb walks their stacks' <<'END'
	cl_setup
	dumps_hold_threads cl
END

t 'clone: -r -ma holds the heap marker (first and last bytes), -r -mm the stack, indirect and .data bytes' <<'END'
	cl_setup
	dumps_hold_markers cl
END

t 'clone: CodeView GUID and age of the -r dumps match the PE' <<'END'
	cl_setup
	sig=$(x86_64-w64-mingw32-objdump -p "$T/target.exe" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
	[ -n "$sig" ] || fail "objdump finds no RSDS record in target.exe"
	guid=${sig% *} age=${sig#* }
	want=$(echo "$guid" | tr a-f A-F | sed 's/\(........\)\(....\)\(....\)\(....\)\(.*\)/\1-\2-\3-\4-\5/')-$(printf '%08X' "$age")
	for k in mini full; do
		grep -q "$want .*target.exe" "$O/cl/$k.lldb" || fail "$k: lldb: no module target.exe with UUID $want"
	done
END

t 'clone: Breakpad reads the -r -mm dump (a MemoryList: its -ma has none) with every thread' <<'END'
	need_bp
	cl_setup
	bp_holds_target "$O/cl/mini.dmp" cl
END

# The point of -r: the target runs while the file is written.  With each
# 4 MiB chunk of the write slowed to 200 ms, the heartbeat advances after
# "Dump 1 writing" and before "complete" (a frozen target's would not).
t 'clone: with -r the heartbeat resumes after "Dump 1 writing", before "complete"' <<'END'
	start_target hb "$T/target.exe" 1 64
	mkdir -p "$O/hb"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg hbd -r -ma "$(field hb pid)" "$(wpath "$O/hb/h.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/hbd.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/hbd.raw")"
	c0=$(grep -c '^heartbeat' "$O/hb.log")
	wait_count "$O/hb.log" '^heartbeat' $((c0 + 3)) 10 || fail "no heartbeat while the dump was written"
	! grep -q 'complete' "$O/hbd.raw" || fail "the dump was complete before the heartbeat resumed (too fast to tell)"
	pd_join hbd 60
	expect_rc 0
	expect_out 'Dump 1 complete'
	has_bytes "$(one_dump "$O/hb")" hb marker "the heap marker"
	stop_target hb
END

t 'clone: a clone too big for the memory available is refused: one line, exit 4, no file, target running' <<'END'
	start_target tb "$T/target.exe" 1 64
	mkdir -p "$O/tb"
	PROCDUMP_TEST_CLONE_MEMORY_MB=96 pd -r -ma "$(field tb pid)" "$(wpath "$O/tb/t.dmp")"
	expect_rc 4
	expect_err_one_line
	expect_err "cannot clone process $(field tb pid): the clone needs [0-9]* MB of memory and 96 MB is available"
	expect_out 'Dump 1 failed'
	[ -z "$(ls "$O/tb")" ] || fail "files left behind: $(ls "$O/tb")"
	alive tb || fail "the target was left frozen"
	# a -r -mm of the same target fits
	PROCDUMP_TEST_CLONE_MEMORY_MB=96 pd -r -mm "$(field tb pid)" "$(wpath "$O/tb/m.dmp")"
	expect_rc 0
	stop_target tb
END

# -k with -r: the target is killed once the clone is taken, and the dump
# written from the copy is whole.
t 'clone: -r -k kills the target after the clone; the dump is still whole' <<'END'
	start_target kc "$T/target.exe" 3 4
	mkdir -p "$O/kc"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd -r -ma -k "$(field kc pid)" "$(wpath "$O/kc/k.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	expect_rc 0
	expect_out "Killed process $(field kc pid) (-k)"
	k=$(grep -n 'Killed process' "$O/pd.out" | cut -d: -f1) c=$(grep -n 'Dump 1 complete' "$O/pd.out" | cut -d: -f1)
	[ -n "$c" ] && [ "$k" -lt "$c" ] || fail "not killed before the dump was complete: $(cat "$O/pd.out")"
	wait_gone "$(upid kc)" 15 || fail "the target still runs"
	has_bytes "$O/kc/k.dmp" kc marker "the heap marker"
	has_bytes "$O/kc/k.dmp" kc stack "the stack local"
END

# -k without -r: after the dump
t 'clone: -k without -r kills the target after the dump' <<'END'
	start_target kp "$T/target.exe" 1 4
	mkdir -p "$O/kp"
	pd -mm -k "$(field kp pid)" "$(wpath "$O/kp/k.dmp")"
	expect_rc 0
	c=$(grep -n 'Dump 1 complete' "$O/pd.out" | cut -d: -f1) k=$(grep -n 'Killed process' "$O/pd.out" | cut -d: -f1)
	[ -n "$k" ] && [ "$c" -lt "$k" ] || fail "not killed after the dump: $(cat "$O/pd.out")"
	wait_gone "$(upid kp)" 15 || fail "the target still runs"
	has_bytes "$O/kp/k.dmp" kp stack "the stack local"
END

# -mk under Wine: NtSystemDebugControl is not implemented; one line says so
# and the user dump is written (exit 0)
t 'clone: -mk under Wine says in one line there is no kernel dump, and writes the user dump' <<'END'
	[ $native = 1 ] && skip "Wine's NtSystemDebugControl"
	start_target mk "$T/target.exe" 1 4
	mkdir -p "$O/mk"
	pd -mm -mk "$(field mk pid)" "$(wpath "$O/mk/m.dmp")"
	expect_rc 0
	expect_err_one_line
	expect_err '^procdump: -mk: this system cannot write a live kernel dump (NtSystemDebugControl: not implemented)'
	expect_out 'Dump 1 complete'
	[ "$(ls "$O/mk")" = m.dmp ] || fail "want m.dmp alone: $(ls "$O/mk")"
	has_bytes "$O/mk/m.dmp" mk stack "the user dump's stack local"
	pd -mm -mk -r "$(field mk pid)" "$(wpath "$O/mk/r.dmp")"
	expect_rc 2
	expect_err '-mk cannot be used with -r'
	stop_target mk
END

# The freeze promise holds during the copy: procdump SIGKILLed while it
# copies (a test hook holds the copy 5 s) leaves the target running.
t 'clone: procdump SIGKILLed during the copy leaves the target running' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	start_target ck "$T/target.exe" 3 16
	pid=$(field ck pid)
	mkdir -p "$O/ck"
	export PROCDUMP_TEST_CLONE_HOLD_MS=5000
	pd_bg ckd -v -r -ma "$pid" "$(wpath "$O/ck/c.dmp")"
	unset PROCDUMP_TEST_CLONE_HOLD_MS
	wait_for "$O/ckd.raw" 'copying [0-9]* MB of process' 30 || fail "the copy did not start: $(cat "$O/ckd.raw")"
	c0=$(grep -c '^heartbeat' "$O/ck.log")
	sleep 0.5 # (the target is frozen now: its heartbeat stands)
	[ "$(grep -c '^heartbeat' "$O/ck.log")" -le $((c0 + 1)) ] || fail "the target ran during the copy"
	if _p=$(pgrep -f "^$(pd_re) -v -r -ma $pid "); then kill -KILL $_p; else fail "no procdump to kill"; fi
	pd_join ckd 30
	! grep -q 'cloned' "$O/pd.out" || fail "the kill landed after the copy"
	alive ck || fail "the target is left frozen after procdump was killed during the copy"
	stop_target ck
END

# What bounds the outage bounds the copy: -at ends a copy that takes too
# long (the test hook holds it 5 s) as it ends a slow plain collection (not
# counted, exit 1, target resumed), and so does -cancel; a dump the disk
# cannot take is refused before the copy (-v says no "copying"); -dbghelp,
# which reads the live process, is refused with -r.
t 'clone: -at and -cancel end a long copy (exit 1, target resumed); -minfree refuses before the copy; -r -dbghelp is refused' <<'END'
	start_target cb "$T/target.exe" 1 16
	pid=$(field cb pid)
	mkdir -p "$O/cb"
	PROCDUMP_TEST_CLONE_HOLD_MS=5000 pd -r -ma -at 1 "$pid" "$(wpath "$O/cb/a.dmp")"
	expect_rc 1
	expect_out 'Dump 1 cancelled: the collection took longer than 1 seconds (-at)'
	! grep -q 'cloned' "$O/pd.out" || fail "-at: the clone was taken"
	alive cb || fail "-at: the target was left frozen"
	export PROCDUMP_TEST_CLONE_HOLD_MS=5000
	pd_bg cbc -v -r -ma "$pid" "$(wpath "$O/cb/c.dmp")"
	unset PROCDUMP_TEST_CLONE_HOLD_MS
	wait_for "$O/cbc.raw" 'copying [0-9]* MB of process' 30 || fail "the copy did not start: $(cat "$O/cbc.raw")"
	pd -cancel "$pid"
	pd_join cbc 30
	expect_rc 1
	expect_out "dump cancelled: '.*c.dmp' not written"
	! grep -q 'cloned' "$O/pd.out" || fail "-cancel: the clone was taken"
	alive cb || fail "-cancel: the target was left frozen"
	pd -v -r -ma -minfree 1099511627776 "$pid" "$(wpath "$O/cb/m.dmp")"
	expect_rc 4
	expect_out 'Dump 1 skipped: not enough free disk space'
	! grep -q 'cloned\|copying [0-9]* MB' "$O/pd.out" "$O/pd.err" || fail "-minfree: the copy began before the refusal"
	pd -r -dbghelp -ma "$pid" "$(wpath "$O/cb/d.dmp")"
	expect_rc 2
	expect_err_one_line
	expect_err '-dbghelp cannot be used with -r'
	[ -z "$(ls "$O/cb")" ] || fail "files left behind: $(ls "$O/cb")"
	stop_target cb
END

# cc_series NAME ARGS...: a series of 2 dumps 1 s apart of a 64 MiB target,
# each write slowed to about 3.4 s (200 ms per 4 MiB chunk), so the second
# trigger comes while the first dump is still being written
cc_series() {
	_n=$1
	shift
	start_target "$_n" "$T/target.exe" 1 64
	mkdir -p "$O/$_n"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd "$@" -ma -n 2 -s 1 "$(field "$_n" pid)" "$(wpath "$O/$_n")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
}
# line_no REGEX: the line of pd.out that matches first
line_no() { grep -n -- "$1" "$O/pd.out" | head -n 1 | cut -d: -f1; }

t 'clone: -r 2 with two quick triggers writes two dumps at once' <<'END'
	cc_series c2 -r 2
	expect_rc 0
	expect_out 'Dump 2 complete'
	[ "$(line_no 'Dump 2 cloned')" -lt "$(line_no 'Dump 1 complete')" ] ||
		fail "the second clone did not come while the first dump was written: $(grep Dump "$O/pd.out")"
	[ "$(ls "$O/c2" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/c2")"
	for f in "$O"/c2/*.dmp; do has_bytes "$f" c2 marker "$(basename "$f"): the heap marker"; done
	stop_target c2
END

t 'clone: -r (limit 1): a trigger while a clone is being written waits, then dumps' <<'END'
	cc_series c1 -r
	expect_rc 0
	expect_out 'Dump 2 waits: the limit of 1 clones being written is reached'
	[ "$(line_no 'Dump 1 complete')" -lt "$(line_no 'Dump 2 cloned')" ] ||
		fail "the second clone did not wait for the first dump: $(grep Dump "$O/pd.out")"
	[ "$(ls "$O/c1" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/c1")"
	stop_target c1
END

# A trigger -a skips does not count toward -n: the series goes on (every
# -s) until the limit frees and its second dump is written, exit 0.
t 'clone: -a skips a trigger at the limit (not counted: the series writes its -n dumps) and a clone too big for memory, saying so' <<'END'
	cc_series ca -r -a
	expect_out 'Dump 2 skipped: the limit of 1 clones being written is reached (-a, avoid outage)'
	expect_out 'Dump 1 complete'
	expect_out 'Dump count reached.'
	expect_rc 0
	[ "$(ls "$O/ca" | grep -c '\.dmp$')" = 2 ] || fail "want the 2 dumps -n asked for: $(ls "$O/ca")"
	last=$(grep -c 'skipped: the limit' "$O/pd.out")
	[ "$(line_no 'Dump 1 complete')" -lt "$(line_no "Dump $((last + 2)) cloned")" ] ||
		fail "the second dump was not cloned once the first was written: $(grep Dump "$O/pd.out")"
	alive ca || fail "the target stopped"
	# a clone that would not fit in memory is skipped with -a too
	PROCDUMP_TEST_CLONE_MEMORY_MB=96 pd -r -a -ma "$(field ca pid)" "$(wpath "$O/ca/big.dmp")"
	expect_rc 1
	expect_out 'Dump 1 skipped: the clone would not fit in memory (-a, avoid outage)'
	[ ! -e "$O/ca/big.dmp" ] || fail "big.dmp written"
	stop_target ca
END

# -r in debugger mode: the dump of a second-chance AV is written from its
# clone (the exception record and the faulting thread's context come with
# it), and the event is passed on: the target dies of the AV.
t 'clone: -r -e dumps a second-chance AV from the clone: record, thread, frame; the target dies of it' <<'END'
	crash rav av
	reap rav
	mkdir -p "$O/rav"
	pd -r -ma -e "$(field rav pid)" "$(wpath "$O/rav")"
	expect_rc 0
	expect_out 'Unhandled: C0000005.ACCESS_VIOLATION'
	expect_out 'Dump 1 cloned'
	expect_out 'Dump count reached.'
	f=$(one_dump "$O/rav")
	yaml "$f" "$O/rav/y"
	exception_is "$O/rav/y" 0xC0000005 "$(field rav tid)"
	lldb_do "$f" "$O/rav/l" 'thread list' 'bt'
	grep -q 'frame #0: .*crasher.exe`crash_av' "$O/rav/l" || fail "lldb: frame 0 is not crash_av"
	target_status rav
	[ "$TS" = C0000005 ] || fail "the target did not die of the AV (second chance passed on): exit code $TS"
END

# A dump written from its clone that fails after its trigger went on ends
# the run as a failed dump does without -r: no later trigger is dumped, and
# the exit code is 4 (more than 1% of the memory unread: test hook).
t 'clone: a -r dump that fails after its trigger went on ends the run (exit 4, no later dump)' <<'END'
	start_target lf "$T/target.exe" 1 16
	mkdir -p "$O/lf"
	PROCDUMP_TEST_UNREADABLE="$(field lf marker):8388608" pd -r -ma -n 3 -s 2 "$(field lf pid)" "$(wpath "$O/lf")"
	expect_rc 4
	expect_out 'Dump 1 failed'
	! grep -q 'Dump 2 initiated' "$O/pd.out" || fail "the run went on after a failed dump: $(grep 'Dump' "$O/pd.out")"
	expect_out 'Dump count not reached'
	[ -z "$(ls "$O/lf")" ] || fail "files left: $(ls "$O/lf")"
	alive lf || fail "the target stopped"
	stop_target lf
END

# Where the system has no PSS (Wine 8: doc/WINE.md section 4), -r -v says so
# and takes the in-memory clone: the dumps of cl_setup come from it, whole.
t 'clone: without PSS (Wine) -r -v says so and the in-memory clone writes the dumps' <<'END'
	[ $native = 1 ] && skip "Windows 8.1+ has PSS"
	cl_setup
	for k in mini full; do
		grep -q '\[v\] -r: no PSS snapshot (this system has no PSS: kernel32 lacks PssCaptureSnapshot' "$O/cl/$k.err" ||
			fail "$k: -v does not say PSS is missing: $(head -n 5 "$O/cl/$k.err")"
		! grep -q 'took a PSS snapshot' "$O/cl/$k.err" || fail "$k: a PSS snapshot under Wine?"
		grep -q 'copying [0-9]* MB of process' "$O/cl/$k.err" || fail "$k: the in-memory clone copied nothing"
		grep -q 'Dump 1 cloned' "$O/cl/$k.out" || fail "$k: no 'cloned' line"
		[ "$(grep -c 'thread #[0-9]*: tid = ' "$O/cl/$k.lldb")" = 5 ] || fail "$k: lldb does not list the 5 threads"
	done
	has_bytes "$O/cl/full.dmp" cl marker "-r -ma lacks the heap marker"
END

# A PSS capture that fails, or succeeds and then cannot give its VA clone
# (the test provider test/pssprov.c, loaded by the test hook
# PROCDUMP_TEST_PSS_DLL, with its faults PSSPROV_MODE), falls back to the
# in-memory clone; a snapshot taken is freed first.
t 'clone: a failed PSS capture (test provider) falls back to the in-memory clone, the snapshot freed first' <<'END'
	start_target pf "$T/target.exe" 2 4
	pid=$(field pf pid)
	mkdir -p "$O/pf"
	PROCDUMP_TEST_PSS_DLL=$(wpath "$T/pssprov.dll") PSSPROV_MODE=capture pd -v -r -ma "$pid" "$(wpath "$O/pf/c.dmp")"
	expect_rc 0
	expect_err "\[v\] -r: the PSS snapshot of process $pid failed, the in-memory clone instead: .* (5)"
	! grep -q 'freed the PSS snapshot' "$O/pd.err" || fail "capture: freed a snapshot never taken"
	expect_err 'copying [0-9]* MB of process'
	expect_out 'Dump 1 complete'
	PROCDUMP_TEST_PSS_DLL=$(wpath "$T/pssprov.dll") PSSPROV_MODE=query pd -v -r -mm "$pid" "$(wpath "$O/pf/q.dmp")"
	expect_rc 0
	expect_err "\[v\] -r: the PSS snapshot of process $pid failed, the in-memory clone instead: .* (1168)"
	f=$(grep -n 'freed the PSS snapshot' "$O/pd.err" | cut -d: -f1) c=$(grep -n 'snapshot of process .* failed' "$O/pd.err" | cut -d: -f1)
	[ -n "$f" ] && [ "$f" -lt "$c" ] || fail "query: the snapshot was not freed before the fallback: $(cat "$O/pd.err")"
	expect_err 'cloned [0-9]* MB in .* runs on'
	expect_out 'Dump 1 complete'
	has_bytes "$O/pf/c.dmp" pf marker "capture: the heap marker"
	has_bytes "$O/pf/q.dmp" pf stack "query: the stack local"
	lldb_do "$O/pf/q.dmp" "$O/pf/q.lldb" 'thread list'
	[ "$(grep -c 'thread #[0-9]*: tid = ' "$O/pf/q.lldb")" = 4 ] || fail "query: lldb does not list the 4 threads"
	alive pf || fail "the target stopped"
	stop_target pf
END
