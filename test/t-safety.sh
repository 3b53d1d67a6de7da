# t-safety.sh - procdump never harms its target: whatever ends procdump,
# the target runs on, unfrozen.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'safety: what must hold' <<'END'
#   	commands
#   END

# kill_pd NAME PATTERN [ended-ok]: SIGKILL the procdump64.exe whose
# command line matches PATTERN (the Wine process that runs it, found by its
# own command line, as the series test of a killed procdump does), then
# join NAME; with ended-ok, a procdump that has ended already is no failure
kill_pd() {
	if _p=$(pgrep -f "^$(pd_re) $2"); then
		kill -KILL $_p
	elif [ "${3:-}" != ended-ok ]; then
		fail "no procdump process to kill ($2)"
	fi
	pd_join "$1" 30
}

# wait_count_gone PATTERN SECONDS: until no process's command line matches
wait_count_gone() {
	_end=$(($(date +%s) + $2))
	while pgrep -f "$1" >/dev/null; do
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
	return 0
}

# suspend_count_zero NAME DIR: a -mm of target NAME shows no thread with a
# non-zero suspend count (obj2yaml omits a zero Suspend Count)
suspend_count_zero() {
	mkdir -p "$2"
	pd -mm "$(field "$1" pid)" "$(wpath "$2/after.dmp")"
	expect_rc 0
	yaml "$2/after.dmp" "$2/after.yaml"
	! grep -q 'Suspend Count' "$2/after.yaml" || fail "a thread is left suspended: $(grep 'Suspend Count' "$2/after.yaml" | head -n 1)"
}

# 20 SIGKILLs of a slowed -ma (about 1.4 s: 40 ms per 4 MiB chunk of about
# 140 MiB) at random points of its first second; after each the heartbeat must
# resume within 10 s; at the end no thread has a suspend count.  Most kills
# land mid-dump (the temporary file is there): at least 12 must.
t 'safety: 20 SIGKILLs of procdump at random points of a -ma leave the target running, suspend count 0' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	start_target sk20 "$T/target.exe" 3 96
	pid=$(field sk20 pid)
	mkdir -p "$O/sk20"
	mid=0 i=0
	while [ $i -lt 20 ]; do
		i=$((i + 1))
		rm -f "$O/sk20"/*
		export PROCDUMP_TEST_CHUNK_DELAY_MS=40
		pd_bg sk20k -ma "$pid" "$(wpath "$O/sk20/d$i.dmp")"
		unset PROCDUMP_TEST_CHUNK_DELAY_MS
		wait_for "$O/sk20k.raw" 'Dump 1 initiated' 30 || fail "kill $i: the dump did not start: $(cat "$O/sk20k.raw")"
		sleep "0.$(shuf -i 0-999 -n 1 | xargs printf '%03d')"
		ls "$O/sk20" | grep -q '\.tmp$' && mid=$((mid + 1))
		kill_pd sk20k "-ma $pid " ended-ok
		alive sk20 || fail "kill $i: the target is left frozen (heartbeat stopped): $(tail -n 3 "$O/sk20k.out")"
	done
	echo "$mid of 20 kills landed mid-dump" | tee "$O/sk20/mid"
	[ $mid -ge 12 ] || fail "only $mid of 20 kills landed while the dump was written"
	suspend_count_zero sk20 "$O/sk20"
	stop_target sk20
END

# The fallback: a first procdump is the target's debugger (-e), so the second
# cannot hold it at a debug event; it suspends the threads under its guard.
# SIGKILLed mid-dump, the guard resumes them; it exits too.
t 'safety: under another debugger, the guarded suspension is undone when procdump is SIGKILLed' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	start_target gf "$T/target.exe" 3 64
	pid=$(field gf pid)
	mkdir -p "$O/gf"
	pd_bg gfe -e "$pid" "$(wpath "$O/gf")"
	wait_for "$O/gfe.raw" 'Press Ctrl-C' 30 || fail "the first procdump did not attach: $(cat "$O/gfe.raw")"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg gfk -v -ma "$pid" "$(wpath "$O/gf/k.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/gfk.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/gfk.raw")"
	grep -q 'froze .* (suspended, guarded)' "$O/gfk.raw" || fail "not the guarded suspension: $(grep froze "$O/gfk.raw")"
	kill_pd gfk "-v -ma $pid "
	[ "$RC" = killed ] || fail "pdrun recorded '$RC' for the SIGKILLed procdump (the guard must not write procdump's exit file)"
	alive gf || fail "the guard did not resume the target"
	wait_for "$O/gfk.raw" 'the guard resumed its 5 threads' 10 || fail "the guard did not say what it resumed: $(tail -n 3 "$O/gfk.raw")"
	wait_count_gone "freezeguard $pid" 10 || fail "the guard is still running"
	suspend_count_zero gf "$O/gf"
	kill -INT "$(cat "$O/gfe.pdpid")"
	pd_join gfe 30
	stop_target gf
END

# A dump taken under the debug hold is the same dump: the threads the
# target printed and no other (not the attach's own), their stacks, the
# marker bytes; the target then runs on.
t 'safety: a -ma under the debug hold has the target threads only, their stacks and the markers' <<'END'
	start_target hd "$T/target.exe" 3 4
	mkdir -p "$O/hd"
	pd -v -ma "$(field hd pid)" "$(wpath "$O/hd/h.dmp")"
	expect_rc 0
	grep -q 'froze 5 threads .*(held at a debug event (attached))' "$O/pd.err" ||
		fail "not held at a debug event: $(grep froze "$O/pd.err")"
	grep -q 'thawed 5 threads' "$O/pd.err" || fail "no thaw line"
	lldb_do "$O/hd/h.dmp" "$O/hd/h.lldb" 'thread list' 'bt all'
	n=$(grep -c 'thread #[0-9]*: tid = ' "$O/hd/h.lldb")
	[ "$n" = 5 ] || fail "lldb lists $n threads, the target has 5"
	for tid in $(tids hd); do
		grep -q "tid = $(printf '0x%04x' "$tid")," "$O/hd/h.lldb" || fail "thread $tid missing"
	done
	[ "$(grep -c 'target.exe`target_worker' "$O/hd/h.lldb")" -ge 3 ] || fail "bt all lacks target_worker on the workers"
	grep -q 'target.exe`target_heartbeat' "$O/hd/h.lldb" || fail "no target_heartbeat frame"
	has_bytes "$O/hd/h.dmp" hd marker "heap marker"
	has_bytes "$O/hd/h.dmp" hd stack "stack marker"
	# the attach sets PEB.BeingDebugged while it holds the target: the dump
	# shows the byte as the process had it, 0
	yaml "$O/hd/h.dmp" "$O/hd/h.yaml"
	teb=$(sed -n 's/.*Environment Block: *\(0x[0-9A-Fa-f]*\).*/\1/p' "$O/hd/h.yaml" | head -n 1)
	peb=$(peek64 "$O/hd/h.dmp" "$(hexaddr $((teb + 0x60)))")
	bd=$(read16 "$O/hd/h.dmp" "$peb" "$O/hd/peb.txt" | cut -c5-6)
	[ "$bd" = 00 ] || fail "PEB.BeingDebugged at $peb reads '$bd' in the dump, the process has 0"
	alive hd || fail "the target stopped"
	suspend_count_zero hd "$O/hd"
	stop_target hd
END

# Debugger mode: the dump at a debug event needs no suspension of its own;
# procdump SIGKILLed mid-dump leaves the target running (not killed, not
# frozen), and SIGKILLed while merely attached too.
t 'safety: procdump -e SIGKILLed mid-dump or while attached leaves the target running' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	crash dk caught E0005678
	mkdir -p "$O/dk"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=300
	pd_bg dkp -v -ma -e 1 "$(field dk pid)" "$(wpath "$O/dk")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/dkp.raw" 'Dump 1 writing' 30 || fail "no dump at the exception: $(cat "$O/dkp.raw")"
	grep -q "froze .* (held at procdump's debug event)" "$O/dkp.raw" || fail "the debugger's dump froze the target itself"
	kill_pd dkp "-v -ma -e 1 $(field dk pid) "
	wait_for "$O/dk.log" '^survived' 20 || fail "the target did not go on past its exception"
	alive dk || fail "the target is left frozen"
	# merely attached: a killed procdump neither kills nor freezes it
	pd_bg dka -e "$(field dk pid)" "$(wpath "$O/dk")"
	wait_for "$O/dka.raw" 'Press Ctrl-C' 30 || fail "procdump did not attach again: $(cat "$O/dka.raw")"
	kill_pd dka "-e $(field dk pid) "
	alive dk || fail "the target did not survive its debugger's SIGKILL"
	suspend_count_zero dk "$O/dk"
	stop_target dk
END

# -e on a process another debugger holds: refused at once (no 5 s of
# retries), exit 3, one line that says so; the target runs on.
t 'safety: -e on a process another debugger holds says so at once, exit 3' <<'END'
	start_target ao "$T/target.exe" 1
	pid=$(field ao pid)
	mkdir -p "$O/ao"
	pd_bg aoe -e "$pid" "$(wpath "$O/ao")"
	wait_for "$O/aoe.raw" 'Press Ctrl-C' 30 || fail "the first procdump did not attach: $(cat "$O/aoe.raw")"
	t0=$(date +%s)
	pd -e "$pid" "$(wpath "$O/ao")"
	expect_rc 3
	expect_err "cannot attach to process $pid: another debugger is attached to it"
	expect_err_one_line
	[ $(($(date +%s) - t0)) -lt 4 ] || fail "the refusal took $(($(date +%s) - t0)) s"
	kill -INT "$(cat "$O/aoe.pdpid")"
	pd_join aoe 30
	alive ao || fail "the target stopped"
	stop_target ao
END

# A thread the process holds suspended itself keeps its count in the dump,
# read under the debug hold as under the guarded suspension: 1 for it, none
# for the others.
t 'safety: a thread the process holds suspended keeps its count (1) in dumps under the hold and the guard' <<'END'
	$CC64 $TCFLAGS "$T/suspend.c" -o "$O/suspend.exe" || fail "cannot build suspend.exe"
	start_target sc "$T/target.exe" 2
	tid=$(sed -n 's/^tid=\([0-9]*\) role=worker.*/\1/p' "$O/sc.log" | tr -d '\r' | head -n 1)
	$WINE "$O/suspend.exe" s "$tid" | grep -q 'prev=0' || fail "cannot suspend thread $tid"
	mkdir -p "$O/sc"
	for mode in hold suspend; do
		export PROCDUMP_TEST_FREEZE=$mode
		pd -v -mm "$(field sc pid)" "$(wpath "$O/sc/$mode.dmp")"
		unset PROCDUMP_TEST_FREEZE
		expect_rc 0
		yaml "$O/sc/$mode.dmp" "$O/sc/$mode.yaml"
		got=$(awk -v t="$(printf '0x%X' "$tid")" '/Thread Id:/ { on = ($NF == t) } on && /Suspend Count:/ { print $NF }' "$O/sc/$mode.yaml")
		[ "$got" = 0x1 ] || fail "$mode: thread $tid has suspend count '$got' in the dump, the process holds 1"
		[ "$(grep -c 'Suspend Count' "$O/sc/$mode.yaml")" = 1 ] || fail "$mode: other threads show a suspend count"
	done
	$WINE "$O/suspend.exe" r "$tid" | grep -q 'prev=1' || fail "thread $tid was not left with its one suspension"
	stop_target sc
END

# ------------------------------------------------- a killed debugger's target --
# Whatever the debugger mode, procdump SIGKILLed while attached leaves the
# target to run on and to end with its own exit code, all 32 bits, as
# reap (lib.sh) reads it: -t's exit breakpoint (an int3 in
# ntdll!RtlExitUserProcess) must not outlive procdump.

# reaped NAME CODE [crash]: target NAME ended with CODE (8 hex digits)
# and, unless it was to crash, with no unhandled exception in its output
# (Wine's line for the page fault of an int3 left behind)
reaped() {
	wait_for "$O/$1.reap" '^exit=' 60 || fail "$1 did not end"
	got=$(sed -n 's/^exit=//p' "$O/$1.reap" | tr -d '\r')
	[ "$got" = "$2" ] || fail "$1 ended with exit code $got, its own is $2: $(grep -i unhandled "$O/$1.log" | head -n 1)"
	[ "${3:-}" = crash ] || ! grep -q 'Unhandled [a-z]' "$O/$1.log" || fail "$1: $(grep 'Unhandled [a-z]' "$O/$1.log" | head -n 1)"
}
# let_go NAME: set PdGo-PID (crasher.exe's modes exit and every wait for it)
let_go() {
	set_named_event "PdGo-$(field "$1" pid)" "$O/$1.set"
	grep -q '^set ' "$O/$1.set" || fail "cannot set PdGo for $1: $(cat "$O/$1.set")"
}
# rand_sleep MS: sleep a random time from 0 to MS milliseconds
rand_sleep() { sleep "$(shuf -i 0-"$1" -n 1 | awk '{ printf "%.3f", $1 / 1000 }')"; }

# The issue's reproduction, 8 times at random points: -t attached to
# crasher.exe, which then calls ExitProcess(0x2A).  In turn: killed with the
# breakpoint armed, the target let go at once; killed, let go up to 0.5 s
# later; let go first, killed up to 0.6 s later, while procdump writes the
# slowed -t dump at the breakpoint (or after it finished).  Each time the
# target ends with 0x2A, not with the page fault of the int3 (C0000005).
t 'safety: -t SIGKILLed at random points (breakpoint armed, exit dump half written): the target exits with its own code, 8 of 8' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	mkdir -p "$O/tk"
	tried=0 held=0 i=0
	while [ $i -lt 8 ]; do
		i=$((i + 1))
		n=tk$i
		crash $n exit 2A
		reap $n
		export PROCDUMP_TEST_CHUNK_DELAY_MS=60
		pd_bg ${n}p -v -ma -t "$(field $n pid)" "$(wpath "$O/tk")"
		unset PROCDUMP_TEST_CHUNK_DELAY_MS
		wait_for "$O/${n}p.raw" 'exit breakpoint at' 30 || fail "kill $i: no exit breakpoint: $(tail -n 3 "$O/${n}p.raw")"
		case $((i % 3)) in
		1) kill_pd ${n}p "-v -ma -t $(field $n pid) "; let_go $n ;;
		2) kill_pd ${n}p "-v -ma -t $(field $n pid) "; rand_sleep 500; let_go $n ;;
		0) let_go $n; rand_sleep 600; kill_pd ${n}p "-v -ma -t $(field $n pid) " ended-ok ;;
		esac
		[ "$RC" = killed ] && tried=$((tried + 1))
		reaped $n 0000002A
		[ "$RC" = killed ] && { wait_for "$O/${n}p.raw" 'procdump ended while attached .* the guard took out the exit breakpoint' 10 ||
			fail "kill $i: the guard said nothing: $(tail -n 2 "$O/${n}p.raw")"; }
		wait_count_gone "$(pd_re)\"* -exitguard $(field $n pid)\$" 10 || fail "kill $i: the exit guard is still running"
		[ "$RC" = killed ] && held=$((held + 1))
		rm -f "$O/tk"/*
	done
	echo "-t: $tried kills while attached, the target ended with its own code after $held" | tee "$O/tk/figures"
	[ $tried -ge 6 ] || fail "only $tried of 8 kills landed while procdump was attached"
END

# -t -all: each target has its own breakpoint and its own guard; one kill
# of procdump leaves both targets to end with their own code.
t 'safety: -t -all SIGKILLed: each target, under its own guard, exits with its own code' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	mkdir -p "$O/ta"
	start_target ta1 "$T/pdwait.exe" exit 2A
	start_target ta2 "$T/pdwait.exe" exit 2B
	reap ta1
	reap ta2
	pd_bg tap -v -t -all pdwait "$(wpath "$O/ta")"
	wait_count "$O/tap.raw" 'exit breakpoint at' 2 30 || fail "not both breakpoints planted: $(grep -c 'exit breakpoint' "$O/tap.raw")"
	kill_pd tap "-v -t -all pdwait "
	let_go ta1
	let_go ta2
	reaped ta1 0000002A
	reaped ta2 0000002B
	wait_count "$O/tap.raw" 'the guard took out the exit breakpoint' 2 10 || fail "not both guards said what they did"
END

# kill_mode NAME HOW SWITCHES...: crasher.exe every 2A under procdump
# -v SWITCHES; HOW: attached (killed once attached, then let go) or held
# (let go, killed while procdump writes its first dump, a -ma slowed to
# 0.3 s a chunk, at an event of SWITCHES).  The target must do every step and end with 0x2A.
kill_mode() {
	kn=$1 kh=$2
	shift 2
	crash $kn every 2A
	reap $kn
	km_ma=""
	[ $kh = held ] && export PROCDUMP_TEST_CHUNK_DELAY_MS=300 && km_ma=-ma
	pd_bg ${kn}p -v $km_ma "$@" "$(field $kn pid)" "$(wpath "$O/km")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/${kn}p.raw" 'Press Ctrl-C' 30 || fail "$*: procdump did not attach: $(tail -n 3 "$O/${kn}p.raw")"
	if [ $kh = attached ]; then
		kill_pd ${kn}p "-v $* $(field $kn pid) "
		let_go $kn
	else
		let_go $kn
		wait_for "$O/${kn}p.raw" 'Dump 1 writing' 30 || fail "$*: no dump at an event: $(tail -n 3 "$O/${kn}p.raw")"
		kill_pd ${kn}p "-v $km_ma $* $(field $kn pid) "
	fi
	[ "$RC" = killed ] || fail "$* ($kh): procdump was not killed but ended ($RC)"
	reaped $kn 0000002A
	for s in ods 'dll=1' thread int3 caught exiting; do
		grep -q "^$s" "$O/$kn.log" || fail "$* ($kh): the target did not get past '$s'"
	done
}

# Every other debugger mode: SIGKILLed once attached, and while it holds the
# target at the event it dumps (-e has none: the target's exceptions are
# first chance), the target does what it would have done and ends with its
# own code.
t 'safety: SIGKILL of -e, -e 1, -l, -b, -ld -ud, -ct -et, -t once attached and mid-dump: the target does every step and exits with its own code' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	mkdir -p "$O/km"
	k=0 bad=""
	for how in attached held; do
		for sw in '-e' '-e 1' '-l' '-b -e 1' '-e -ld -ud' '-e -ct -et' '-t'; do
			[ "$how $sw" = 'held -e' ] && continue
			k=$((k + 1))
			# shellcheck disable=SC2086 # the switches are words
			(kill_mode km$k $how $sw) || bad="$bad, $sw ($how)"
			rm -f "$O/km"/*
		done
	done
	[ -z "$bad" ] || fail "the target did not end with its own code after a kill of:${bad#,}"
	echo "$k kills, each target ended with its own code"
END

# -x: the launched target outlives its killed debugger the same way.
# (procdump runs here without pdrun.exe, whose job would end the launched
# target with it.)
t 'safety: -e -x and -t -x SIGKILLed: the launched target exits with its own code' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	mkdir -p "$O/kx"
	for sw in '-e' '-t'; do
		$WINE "$PD" -v $sw -x "$(wpath "$O/kx")" "$(wpath "$T/crasher.exe")" every 2A >"$O/kxp.raw" 2>&1 &
		echo $! >>"$O/bg.list"
		wait_for "$O/kxp.raw" '^waiting for PdGo' 30 || fail "$sw -x: the target did not start: $(tail -n 3 "$O/kxp.raw")"
		wait_for "$O/kxp.raw" 'Press Ctrl-C' 30 || fail "$sw -x: procdump did not attach"
		[ $sw = -e ] || wait_for "$O/kxp.raw" 'exit breakpoint at' 30 || fail "-t -x: no exit breakpoint"
		tr -d '\r' <"$O/kxp.raw" >"$O/kx.log" # field reads the target's pid= from here
		reap kx
		p=$(pgrep -f "^$PD -v $sw -x ") || fail "$sw -x: no procdump to kill"
		kill -KILL $p
		let_go kx
		wait_for "$O/kx.reap" '^exit=' 60 || fail "$sw -x: the target did not end"
		tr -d '\r' <"$O/kxp.raw" >"$O/kx.log"
		reaped kx 0000002A
		grep -q '^exiting' "$O/kx.log" || fail "$sw -x: the target did not get to its exit"
	done
END

# -j: the postmortem procdump SIGKILLed as soon as it runs, wherever that
# lands in its attach or dump (Wine's AeDebug start passes no test hook to
# slow it), up to 5 times until two kills landed: each crashed process ends
# of its crash, C0000005, as
# without procdump.
t 'safety: -j SIGKILLed as it attaches or dumps: the crashed process ends of its own exception' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	trap aed_restore EXIT
	aed_save
	mkdir -p "$O/kj"
	pd -ma -i "$(wpath "$O/kj")"
	expect_rc 0
	landed=0
	for i in 1 2 3 4 5; do
		crash kj$i postmortem 1000
		reap kj$i
		end=$(($(date +%s) + 30))
		# the -j to kill, unless it has come and gone already (the crashed
		# process ended: that kill did not land)
		until p=$(pgrep -f "$(pd_re)\"* -accepteula -ma -j .* $(field kj$i pid) "); do
			grep -q '^exit=' "$O/kj$i.reap" && break
			[ "$(date +%s)" -lt $end ] || fail "no procdump -j for crash $i"
		done
		[ -n "$p" ] && kill -KILL $p
		reaped kj$i C0000005 crash
		[ -n "$p" ] && ! grep -q 'Dump count reached' "$O/kj$i.log" && landed=$((landed + 1))
		[ $landed -ge 2 ] && break
	done
	echo "$landed of $i kills landed before procdump -j finished"
	[ $landed -ge 1 ] || fail "no kill landed while procdump -j ran"
END
