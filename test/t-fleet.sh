# t-fleet.sh - several targets in one procdump: every process of a name
# (-all; with -w also those started later), the process tree (-pt), and
# -duration.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'fleet: what must hold' <<'END'
#   	commands
#   END
#
# The targets are copies of crasher.exe and target.exe under names of
# their own (pdfleet, pdtree, pdlong), so that only this group's processes
# match them.

cp "$T/crasher.exe" "$O/pdfleet.exe"
cp "$T/crasher.exe" "$O/pdtree.exe"
cp "$T/target.exe" "$O/pdlong.exe"
# a parent whose children live a moment (test/brood.c)
$CC64 $TCFLAGS "$T/brood.c" -o "$O/pdbrood.exe" || echo "# cannot build brood.exe: the -pt tests of short-lived children fail"

# le32 N: N as the 8 hex digits of a little-endian u32 (obj2yaml's Content)
le32() { printf '%08X' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }

# crash_dump_of DIR IMAGE PID [TID]: DIR holds one dump named by PID
# (IMAGE_PID_...), of process PID (MiscInfo), with the access violation
# (on thread TID, if given) in its Exception stream
crash_dump_of() {
	_c=$(ls "$1" | grep -c "^$2_$3_.*\.dmp$" || true)
	[ "$_c" = 1 ] || fail "want one dump named $2_$3_*.dmp in $(basename "$1"), found $_c: $(ls "$1" | tr '\n' ' ')"
	_f="$1/$(ls "$1" | grep "^$2_$3_.*\.dmp$")"
	yaml "$_f" "$_f.yaml"
	_mi=$(stream_bytes "$_f.yaml" MiscInfo)
	[ "$(echo "$_mi" | cut -c17-24)" = "$(le32 "$3")" ] || fail "$(basename "$_f"): MiscInfo does not carry PID $3"
	exception_is "$_f.yaml" 0xC0000005 ${4:+"$4"}
}

# no_suspension NAME DIR: target NAME runs on (its heartbeat advances) and
# a -mm dump of it shows no suspended thread (obj2yaml omits a count of 0)
no_suspension() {
	alive "$1" || fail "target $1 no longer runs"
	mkdir -p "$2"
	pd -mm -o "$(field "$1" pid)" "$(wpath "$2/after-$1.dmp")"
	expect_rc 0
	yaml "$2/after-$1.dmp" "$2/after-$1.yaml"
	! grep -q 'Suspend Count' "$2/after-$1.yaml" || fail "$1: a thread is left suspended"
}

# stop_at_exit NAME...: when the test ends, however it ends, the targets
# NAME started (start_target) are stopped and a procdump NAME started
# (pd_bg) that has not ended is killed: a failed test leaves nothing that
# the next one, which picks its targets by name, would meet
stop_at_exit() {
	_stop="$*"
	trap 'set +e # (a target already stopped: its kill fails, and that is all)
	for _x in $_stop; do
		[ ! -f "$O/$_x.upid" ] || stop_target "$_x"
		[ ! -f "$O/$_x.pdpid" ] || [ -s "$O/$_x.code" ] || kill "$(cat "$O/$_x.pdpid")" 2>/dev/null
	done' EXIT
}

t 'fleet: -all -w -e over 3 running and 2 later instances: each crash one dump named by its PID, lines tagged, the -json lines say the same, exit 0' <<'END'
	stop_at_exit fl1 fl2 fl3 fl4 fl5 fl
	mkdir -p "$O/fl"
	for i in 1 2 3; do start_target fl$i "$O/pdfleet.exe" av && reap fl$i; done
	rm -f "$O/fl.jsonl"
	pd_bg fl -all -w -e -json "$(wpath "$O/fl.jsonl")" pdfleet "$(wpath "$O/fl")"
	wait_count "$O/fl.raw" 'Dump count reached' 3 60 || fail "3 running instances: not 3 dumps: $(tail -n 5 "$O/fl.raw")"
	reap_new fl45 pdfleet.exe 2
	for i in 4 5; do start_target fl$i "$O/pdfleet.exe" av; done
	wait_count "$O/fl.raw" 'Dump count reached' 5 60 || fail "2 started later: not 5 dumps: $(tail -n 5 "$O/fl.raw")"
	kill -INT "$(cat "$O/fl.pdpid")"
	pd_join fl 30
	expect_rc 0
	expect_out '5 processes monitored, 5 reached the dump count.'
	[ "$(ls "$O/fl" | grep -c '\.dmp$')" = 5 ] || fail "want 5 dumps, found: $(ls "$O/fl" | tr '\n' ' ')"
	for i in 1 2 3 4 5; do
		pid=$(field fl$i pid)
		expect_out "^\[pdfleet.exe:$pid\] \[[0-9:]*\] Unhandled: C0000005.ACCESS_VIOLATION"
		expect_out "^\[pdfleet.exe:$pid\] \[[0-9:]*\] Dump count reached."
		crash_dump_of "$O/fl" pdfleet.exe "$pid" "$(field fl$i tid)"
		# (4 and 5 start under -w's watch: reaped as they appear)
		if [ $i -le 3 ]; then target_status fl$i; else target_status fl$i fl45; fi
		[ "$TS" = C0000005 ] || fail "instance $pid did not die of its AV (exit code $TS)"
		# the JSON lines say the same: found, one exception, one dump of this file and size
		[ "$(jl "$O/fl.jsonl" "len([e for e in by('target_found') if e['pid'] == $pid])")" = 1 ] ||
			fail "json: not one target_found for $pid"
		[ "$(jl "$O/fl.jsonl" "[e['kind'] for e in by('trigger') if e['pid'] == $pid]")" = exception ] ||
			fail "json: not one exception trigger for $pid"
		_f=$(ls "$O/fl" | grep "^pdfleet.exe_${pid}_.*\.dmp$")
		[ "$(jl "$O/fl.jsonl" "[(e['path'], e['bytes']) for e in by('dump_end') if e['pid'] == $pid]")" = \
		  "('$(wpath "$O/fl/$_f" | sed 's/\\/\\\\/g')', $(stat -c %s "$O/fl/$_f"))" ] ||
			fail "json: dump_end of $pid is not $_f with its size: $(jl "$O/fl.jsonl" "by('dump_end')")"
	done
	[ "$(jl "$O/fl.jsonl" "(by('finish')[0]['exit_code'], by('finish')[0]['dumps'], len(by('dump_end')))")" = "(0, 5, 5)" ] ||
		fail "json finish: $(jl "$O/fl.jsonl" "by('finish')")"
END

t 'fleet: a reused PID is a new process; -pt adopts no process older than its parent (made-up lists, library build)' <<'END'
	unit_run fleetkey 9
END

t 'fleet: -pt -e (and -pt -w -e) dumps the crash of a child the target starts while monitored, named by its image and PID' <<'END'
	stop_at_exit tr
	for w in "" -w; do # (-w takes the running target, and the run still ends with its tree)
		rm -rf "$O/pt"
		mkdir -p "$O/pt"
		start_target tr "$O/pdtree.exe" spawn av
		reap tr
		pd -pt $w -e pdtree "$(wpath "$O/pt")"
		child=$(field tr child)
		[ -n "$child" ] || fail "the parent started no child: $(cat "$O/tr.log")"
		expect_rc 1 # the parent ended without a dump
		expect_out "^\[pdtree.exe:$child\] \[[0-9:]*\] Monitoring pdtree.exe ($child)."
		expect_out "^\[pdtree.exe:$child\] \[[0-9:]*\] Dump count reached."
		expect_out '2 processes monitored, 1 reached the dump count.'
		[ "$(ls "$O/pt" | grep -c '\.dmp$')" = 1 ] || fail "want 1 dump, found: $(ls "$O/pt" | tr '\n' ' ')"
		crash_dump_of "$O/pt" pdtree.exe "$child"
		target_status tr
		[ "$TS" = 00000000 ] || fail "the parent did not end of itself once its child had (exit code $TS)"
	done
END

# -pt with no trigger: the immediate dump of the target and of each process
# of its tree that exists already (a quick dump of the target must not end
# the run before its children were looked for); -k then ends them all
t 'fleet: -pt with no trigger dumps the target and the child it already has (then -k ends both)' <<'END'
	stop_at_exit pti
	rm -rf "$O/pti"
	mkdir -p "$O/pti"
	start_target pti "$O/pdtree.exe" tree
	parent=$(field pti pid) child=$(field pti child)
	[ -n "$child" ] || fail "the parent started no child: $(cat "$O/pti.log")"
	pd -pt -k "$parent" "$(wpath "$O/pti")"
	expect_rc 0
	expect_out '2 processes monitored, 2 reached the dump count.'
	for p in "$parent" "$child"; do
		[ "$(ls "$O/pti" | grep -c "^pdtree.exe_${p}_.*\.dmp$")" = 1 ] ||
			fail "no dump of $p: $(ls "$O/pti" | tr '\n' ' ')"
		expect_out "^\[pdtree.exe:$p\] \[[0-9:]*\] Killed process $p (-k)."
	done
	wait_gone "$(upid pti)" 10 || fail "the parent runs on after -k"
END

t 'fleet: -duration ends -all -e, one target and -w with exit 1; the targets run on, no thread suspended' <<'END'
	stop_at_exit du1 du2 du3 duw
	mkdir -p "$O/du"
	start_target du1 "$O/pdlong.exe" 1
	start_target du2 "$O/pdlong.exe" 1
	pd -all -e -duration 2 pdlong "$(wpath "$O/du")"
	expect_rc 1
	for n in du1 du2; do
		expect_out "^\[pdlong.exe:$(field $n pid)\] \[[0-9:]*\] Duration elapsed (-duration): monitoring ends."
	done
	expect_out '2 processes monitored, 0 reached the dump count.'
	no_suspension du1 "$O/du"
	no_suspension du2 "$O/du"
	pd -c 90 -duration 1 "$(field du1 pid)" "$(wpath "$O/du")"
	expect_rc 1
	expect_out '^\[[0-9:]*\] Duration elapsed (-duration): monitoring ends.'
	expect_out '^\[[0-9:]*\] Dump count not reached.'
	pd -w -duration 1 no_such_process_here
	expect_rc 1
	expect_out 'Duration elapsed'
	no_suspension du1 "$O/du"
	stop_target du1
	stop_target du2
END

t 'fleet: -cancel with procdump'"'"'s own PID ends every instance (exit 1); the target runs on' <<'END'
	stop_at_exit fc
	start_target fc "$O/pdlong.exe" 1
	pd_bg fc -all -w -e pdlong
	wait_for "$O/fc.raw" 'Monitoring pdlong.exe' 30 || fail "not monitoring: $(tail -n 3 "$O/fc.raw")"
	own=$(sed -n 's/.*procdump -cancel \([0-9]*\).*/\1/p' "$O/fc.raw" | head -n 1)
	[ -n "$own" ] || fail "the banner names no PID to cancel"
	pd -cancel "$own"
	expect_rc 0
	pd_join fc 30
	expect_rc 1
	expect_out "^\[pdlong.exe:$(field fc pid)\] \[[0-9:]*\] Cancelled."
	alive fc || fail "the target no longer runs"
	stop_target fc
END

t 'fleet: -all with a PID or a one-file name is exit 2; without -all two matches still list both PIDs (exit 3); -o replaces, else -2' <<'END'
	stop_at_exit us1 us2
	start_target us1 "$O/pdlong.exe" 1
	start_target us2 "$O/pdlong.exe" 1
	pd -all -e "$(field us1 pid)"
	expect_rc 2
	expect_err '-all monitors every process of a name, not a PID'
	expect_err_one_line
	pd -all -e pdlong "$(wpath "$O/one.dmp")"
	expect_rc 2
	expect_err 'must hold PID'
	expect_err_one_line
	pd -pt -e -x "$(wpath "$O")" "$O/pdlong.exe"
	expect_rc 2
	expect_err '-pt cannot be used with -x'
	pd -all no_such_process_here
	expect_rc 3
	expect_err "no process named 'no_such_process_here'"
	for sw in "" -pt; do
		pd -mm $sw pdlong
		expect_rc 3
		expect_err 'Multiple processes match'
		expect_err "$(field us1 pid)"
		expect_err "$(field us2 pid)"
		expect_err_one_line
	done
	# -o replaces each process's file; without it, an existing one is kept and the new gets -2
	rm -rf "$O/fo"
	mkdir -p "$O/fo"
	for o in -o -o ""; do
		pd -all $o pdlong "$(wpath "$O/fo/pdlong_PID.dmp")"
		expect_rc 0
	done
	p1=$(field us1 pid) p2=$(field us2 pid)
	[ "$(ls "$O/fo" | sort | tr '\n' ' ')" = "$(printf '%s\n' pdlong_$p1.dmp pdlong_$p1-2.dmp pdlong_$p2.dmp pdlong_$p2-2.dmp | sort | tr '\n' ' ')" ] ||
		fail "-all -o twice, then without -o: $(ls "$O/fo" | tr '\n' ' ')"
	stop_target us1
	stop_target us2
END

# brood_go NAME PDNAME: once procdump (pd_bg PDNAME) watches target NAME
# (pdbrood.exe), lets it start its children
brood_go() {
	wait_for "$O/$2.raw" " pdbrood.exe ($(field "$1" pid))" 30 ||
		fail "procdump does not monitor the parent: $(tail -n 5 "$O/$2.raw")"
	set_named_event "PdGo-$(field "$1" pid)" "$O/$1.set"
	grep -q '^set' "$O/$1.set" || fail "cannot set PdGo-$(field "$1" pid): $(cat "$O/$1.set")"
}

# ended_once JSONL NAME [EXCEPT]: each process procdump took (target_found;
# but PID EXCEPT) ended once in the -json lines (one target_exit) and in
# the console text (one line ending "The process has exited."); no line
# calls an ended process a failure; no event stands for an exit code other
# than 0 or 1; finish has $RC.  The children taken (at least one) are
# children target NAME (pdbrood.exe) printed: TAKEN lists them
ended_once() {
	! grep -q 'cannot attach\|Dump [0-9]* failed\|procdump: .*has exited' "$O/pd.out" ||
		fail "a process that ended is called a failure: $(grep 'cannot attach\|failed\|has exited' "$O/pd.out" | head -n 3)"
	[ "$(jl "$1" '[e["event"] for e in ev if e.get("exit_code") not in (None, 0, 1)]')" = "" ] ||
		fail "events with another exit code: $(jl "$1" '[e for e in ev if e.get("exit_code") not in (None, 0, 1)]' | head -n 3)"
	[ "$(jl1 "$1" 'by("finish")[0]["exit_code"]')" = "$RC" ] || fail "finish.exit_code is not $RC"
	TAKEN=""
	for p in $(jl "$1" 'sorted(set(e["pid"] for e in by("target_found")))'); do
		[ "$p" = "${3:-}" ] && continue
		[ "$(jl1 "$1" "len([e for e in by('target_exit') if e['pid'] == $p])")" = 1 ] ||
			fail "process $p: not one target_exit: $(grep "\"pid\":$p," "$1" | cut -c1-150)"
		[ "$(grep -c "^\[pdbrood.exe:$p\] \[[0-9:]*\] The process has exited\.\( Exit code: 0x00000000\)\{0,1\}$" "$O/pd.out")" = 1 ] ||
			fail "process $p: not one line saying it exited: $(grep "pdbrood.exe:$p\]" "$O/pd.out" | tail -n 4)"
		[ "$p" = "$(field "$2" pid)" ] && continue
		grep -q "^child=$p" "$O/$2.log" || fail "procdump took $p, which is no child of the parent: $(cat "$O/$2.log")"
		TAKEN="$TAKEN $p"
	done
	[ -n "$TAKEN" ] || fail "procdump took none of the children: $(tr '\n' ' ' <"$O/$2.log")"
}

# Every attach refused (PROCDUMP_TEST_ATTACH_REFUSE, as Windows refuses a
# process seen the instant it starts) and retried until the process has
# ended: each process of the tree (-pt), or of the name (-all -w), ends
# before procdump could attach to it.  That is its exit (1), said once;
# not "cannot attach ... it has exited", exit 3.  And one target (no
# children) the same.
t 'fleet: -e, -pt -e and -all -w -e: a process that ends before procdump could attach ends its run with 1 (not 3), one console line and one target_exit each' <<'END'
	stop_at_exit bra brap
	rm -rf "$O/bra.jsonl"
	start_target bra "$O/pdbrood.exe" 0 0
	export PROCDUMP_TEST_ATTACH_REFUSE=1000000
	pd_bg brap -e -json "$(wpath "$O/bra.jsonl")" "$(field bra pid)" "$(wpath "$O")"
	unset PROCDUMP_TEST_ATTACH_REFUSE
	brood_go bra brap
	pd_join brap 60
	expect_rc 1
	expect_out '^\[[0-9:]*\] The process has exited\.$'
	! grep -q 'cannot attach' "$O/pd.out" || fail "one target: $(grep 'cannot attach' "$O/pd.out")"
	[ "$(jl "$O/bra.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found target_exit finish" ] ||
		fail "one target: events $(jl "$O/bra.jsonl" '" ".join(e["event"] for e in ev)')"
	target_gone bra
	for mode in pt all; do
		rm -rf "$O/bra" "$O/bra.jsonl"
		mkdir -p "$O/bra"
		start_target bra "$O/pdbrood.exe" 3 500 100
		reap bra
		if [ $mode = pt ]; then set -- -pt "$(field bra pid)"; else set -- -all -w -duration 6 pdbrood; fi
		export PROCDUMP_TEST_ATTACH_REFUSE=1000000
		pd_bg brap -e -json "$(wpath "$O/bra.jsonl")" "$@" "$(wpath "$O/bra")"
		unset PROCDUMP_TEST_ATTACH_REFUSE
		brood_go bra brap
		pd_join brap 60
		expect_rc 1
		ended_once "$O/bra.jsonl" bra
		expect_out "[0-9] process[es]* monitored, 0 reached the dump count."
		target_status bra
		[ "$TS" = 00000000 ] || fail "-$mode: the parent did not end of itself (exit code $TS)"
		echo "-$mode: children taken:$TAKEN of $(grep -c '^child=' "$O/bra.log")"
	done
END

# The hold of a dump waits 1.5 s (PROCDUMP_TEST_HOLD_DELAY_MS): each child
# of -pt -ma (600 ms) has ended before its dump could freeze it.  Its run
# ends as at its exit (1): one line, dump_failed with reason "exited" and
# exit code 1, no file.  The parent's dump is written (and ends its run).
# One target (no children) that ends in that gap the same.
t 'fleet: -ma and -pt -ma: a process that ends before its dump could freeze it ends its run with 1 (not 3): one line, dump_failed "exited" (exit code 1), no file' <<'END'
	stop_at_exit brd brdp
	rm -rf "$O/brd" "$O/brd.jsonl"
	mkdir -p "$O/brd"
	start_target brd "$O/pdbrood.exe" 0 0
	export PROCDUMP_TEST_HOLD_DELAY_MS=1500
	pd_bg brdp -ma -json "$(wpath "$O/brd.jsonl")" "$(field brd pid)" "$(wpath "$O/brd")"
	unset PROCDUMP_TEST_HOLD_DELAY_MS
	brood_go brd brdp
	pd_join brdp 60
	expect_rc 1
	expect_out '^\[[0-9:]*\] The process has exited\.$'
	! grep -q 'Dump 1 failed\|procdump: .*has exited' "$O/pd.out" || fail "one target: $(grep 'failed\|has exited' "$O/pd.out")"
	[ "$(jl "$O/brd.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found trigger dump_begin dump_failed target_exit finish" ] ||
		fail "one target: events $(jl "$O/brd.jsonl" '" ".join(e["event"] for e in ev)')"
	[ "$(jl1 "$O/brd.jsonl" 'by("dump_failed")[0]["reason"], by("dump_failed")[0]["exit_code"], by("finish")[0]["exit_code"]')" = "('exited', 1, 1)" ] ||
		fail "one target: $(grep -h 'dump_failed\|finish' "$O/brd.jsonl")"
	[ -z "$(ls "$O/brd")" ] || fail "one target: files left: $(ls "$O/brd")"
	target_gone brd
	rm -f "$O/brd.jsonl"
	start_target brd "$O/pdbrood.exe" 3 600 100
	parent=$(field brd pid)
	export PROCDUMP_TEST_HOLD_DELAY_MS=1500
	pd_bg brdp -pt -ma -json "$(wpath "$O/brd.jsonl")" "$parent" "$(wpath "$O/brd")"
	unset PROCDUMP_TEST_HOLD_DELAY_MS
	brood_go brd brdp
	pd_join brdp 60
	expect_rc 1
	ended_once "$O/brd.jsonl" brd "$parent"
	for p in $TAKEN; do
		[ "$(jl1 "$O/brd.jsonl" "[(e['reason'], e['exit_code']) for e in by('dump_failed') if e['pid'] == $p]")" = "('exited', 1)" ] ||
			fail "child $p: not one dump_failed (exited, 1): $(grep "\"pid\":$p," "$O/brd.jsonl" | cut -c1-160)"
	done
	[ "$(ls "$O/brd" | tr '\n' ' ')" = "$(cd "$O/brd" && ls pdbrood.exe_"$parent"_*.dmp) " ] ||
		fail "want the parent's dump only (no file of a child, no .tmp): $(ls "$O/brd" | tr '\n' ' ')"
	[ "$(jl1 "$O/brd.jsonl" '[e["pid"] for e in by("dump_end")]')" = "$parent" ] || fail "dump_end: not the parent's only"
	expect_out "processes monitored, 1 reached the dump count."
	echo "children taken:$TAKEN of $(grep -c '^child=' "$O/brd.log")"
END

# The campaign's form, no hook: children that live 10 ms, some listed and
# gone before procdump opens, attaches or freezes them.  Whatever the
# timing: no exit code 3 or 4, no event standing for one, each process
# procdump opened ended once (target_exit), each it could not open said
# once (target_failed, exited, 1); -e's parent ends without a dump: 1
t 'fleet: -pt -e and -pt -ma over 100 children of 10 ms: exit 1 (-ma: 0 or 1), never 3 or 4; each process said once' <<'END'
	stop_at_exit brs brsp
	for sw in -e -ma; do
		rm -rf "$O/brs" "$O/brs.jsonl"
		mkdir -p "$O/brs"
		start_target brs "$O/pdbrood.exe" 100 10
		pd_bg brsp -pt $sw -json "$(wpath "$O/brs.jsonl")" "$(field brs pid)" "$(wpath "$O/brs")"
		brood_go brs brsp
		pd_join brsp 90
		[ "$RC" = 1 ] || { [ "$sw" = -ma ] && [ "$RC" = 0 ]; } || fail "$sw: exit code $RC"
		! grep -q 'cannot attach\|Dump [0-9]* failed\|procdump: .*has exited' "$O/pd.out" ||
			fail "$sw: an ended process called a failure: $(grep 'cannot attach\|failed\|has exited' "$O/pd.out" | head -n 3)"
		[ "$(jl "$O/brs.jsonl" '[e["event"] for e in ev if e.get("exit_code") not in (None, 0, 1)]')" = "" ] ||
			fail "$sw: events with another exit code: $(jl "$O/brs.jsonl" '[e for e in ev if e.get("exit_code") not in (None, 0, 1)]' | head -n 3)"
		[ "$(jl1 "$O/brs.jsonl" 'by("finish")[0]["exit_code"]')" = "$RC" ] || fail "$sw: finish.exit_code is not $RC"
		[ "$(jl "$O/brs.jsonl" '[e["reason"] for e in by("dump_failed") + by("target_failed") if e["reason"] != "exited"]')" = "" ] ||
			fail "$sw: a failure other than exited: $(jl "$O/brs.jsonl" 'by("dump_failed") + by("target_failed")' | head -n 3)"
		[ "$(jl1 "$O/brs.jsonl" 'len(set(e["pid"] for e in by("target_failed"))) == len(by("target_failed")) and not set(e["pid"] for e in by("target_failed")) & set(e["pid"] for e in by("target_found"))')" = True ] ||
			fail "$sw: a process said twice: $(jl "$O/brs.jsonl" 'by("target_failed")' | head -n 3)"
		# (-e watches each to its end: one target_exit each; -ma's dumped ones may outlive their runs)
		_n="== 1"
		[ "$sw" = -e ] || _n="<= 1"
		[ "$(jl1 "$O/brs.jsonl" 'all(len([x for x in by("target_exit") if x["pid"] == e["pid"]]) '"$_n"' for e in by("target_found"))')" = True ] ||
			fail "$sw: not one target_exit ($_n) for each process opened: $(jl "$O/brs.jsonl" 'by("target_exit")' | head -n 3)"
		echo "$sw: exit $RC; $(jl1 "$O/brs.jsonl" 'len(by("target_found"))') opened, $(jl1 "$O/brs.jsonl" 'len(by("target_failed"))') gone before, $(jl1 "$O/brs.jsonl" 'len(by("dump_failed"))') before its dump"
		target_gone brs
	done
END
