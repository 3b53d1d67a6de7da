# t-monitors.sh - the monitors: CPU, commit, performance counters, hung
# windows.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'monitors: what must hold' <<'END'
#   	commands
#   END
#
# load.exe spins, allocates or hangs a window; procdump -v prints every sample,
# which is what "does not fire" waits for (three samples, then cancel).

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
# cpu_compare NAME RAW N [CORES]: procdump -v's CPU samples 2..N+1 (in RAW,
# procdump running in the background) against what Linux counts for target
# NAME (/proc/PID/stat, user plus system ticks) between the moments the
# shell sees sample 1 and sample N+1: two averages over the same seconds,
# as a percentage of CORES (default: all).  Sets PDV and LXV; LXV is empty
# where there is no /proc for the target.  A single 1-second sample held to
# a whole-run average fails on a busy machine; this does not.
cpu_ticks() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
cpu_compare() {
	_cpid=$(upid "$1")
	wait_count "$2" '\[v\] CPU ' 1 30 || fail "no CPU sample: $(tail -n 3 "$2")"
	_c0=$(cpu_ticks "$_cpid") _t0=$(date +%s%N)
	wait_count "$2" '\[v\] CPU ' $(($3 + 1)) 30 || fail "fewer than $(($3 + 1)) CPU samples: $(tail -n 3 "$2")"
	_c1=$(cpu_ticks "$_cpid") _t1=$(date +%s%N)
	PDV=$(tr -d '\r' <"$2" | sed -n 's/.*\[v\] CPU \([0-9]*\)%.*/\1/p' | sed -n "2,$(($3 + 1))p" |
		awk '{ s += $1 } END { printf "%d", s / NR + 0.5 }')
	LXV=""
	[ -n "$_c0" ] && [ -n "$_c1" ] &&
		LXV=$(((_c1 - _c0) * 100000000000 / ($(getconf CLK_TCK) * (_t1 - _t0) * ${4:-$(nproc)})))
	return 0
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
alive_pid() { kill -0 "$(upid "$1")" || fail "target $1 is gone"; }

t 'monitors: -c fires after -s seconds above the threshold; its figure (share of all cores) is what Linux counts' <<'END'
	start_target sp "$T/load.exe" spin 1
	mkdir -p "$O/mcpu"
	th=$(spin_share)
	pd_bg mcpu -v -c "$th" -s 4 "$(field sp pid)" "$(wpath "$O/mcpu")"
	cpu_compare sp "$O/mcpu.raw" 3
	pd_join mcpu 30
	expect_rc 0
	expect_out "CPU threshold: *>$th% of the machine"
	expect_out 'CPU: [0-9]*% 1s'
	expect_out 'CPU: [0-9]*% 4s'
	expect_out 'Trigger: CPU [0-9]*% for 4 s'
	v=$(sed -n 's/.*CPU: \([0-9]*\)% 4s/\1/p' "$O/pd.out")
	[ "$v" -gt "$th" ] || fail "one spinning thread of $(nproc) cores measured $v%"
	near "$PDV" "$LXV" 10 "one spinning thread of $(nproc) cores, over 3 s"
	yaml "$(one_dump "$O/mcpu")" "$O/mcpu/y"
	alive_pid sp
END

t 'monitors: -c -u measures against one core, as Linux counts it' <<'END'
	[ -f "$O/sp.log" ] || start_target sp "$T/load.exe" spin 1
	mkdir -p "$O/mcpu1"
	pd_bg mcpu1 -v -c 40 -u -s 4 "$(field sp pid)" "$(wpath "$O/mcpu1")"
	cpu_compare sp "$O/mcpu1.raw" 3 1
	pd_join mcpu1 30
	expect_rc 0
	expect_out 'CPU threshold: *>40% of one core'
	v=$(sed -n 's/.*CPU: \([0-9]*\)% 4s/\1/p' "$O/pd.out")
	[ "$v" -gt 40 ] || fail "one spinning thread is $v% of one core"
	near "$PDV" "$LXV" 12 "one spinning thread, per core, over 3 s"
	one_dump "$O/mcpu1" >/dev/null
END

t 'monitors: -c does not fire below the threshold' <<'END'
	start_target id "$T/load.exe" idle
	no_fire nf1 -c 50 -s 1 "$(field id pid)"
	grep -q '\[v\] CPU [0-9]*% (> 50%)' "$O/pd.out" || fail "no CPU samples shown"
END

t 'monitors: -cl fires when CPU stays low, not when it is high' <<'END'
	[ -f "$O/id.log" ] || start_target id "$T/load.exe" idle
	mkdir -p "$O/mcl"
	pd -cl 10 -s 2 "$(field id pid)" "$(wpath "$O/mcl")"
	expect_rc 0
	expect_out 'Trigger: CPU [0-9]*% for 2 s'
	one_dump "$O/mcl" >/dev/null
	[ -f "$O/sp.log" ] || start_target sp "$T/load.exe" spin 1
	no_fire nf2 -cl "$(spin_share 25)" -s 1 "$(field sp pid)"
END

t 'monitors: -m / -ml on touched memory, and their opposites do not fire' <<'END'
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
END

t 'monitors: -p / -pl on \\System\\System Up Time; unknown counter and bad threshold, exit 2' <<'END'
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
END

t 'monitors: -h fires on a window that stopped pumping' <<'END'
	trap 'set +e; stop_target hw' EXIT # (its window stays hung)
	start_target hw "$T/load.exe" window
	mkdir -p "$O/mh"
	pd_bg hw -h "$(field hw pid)" "$(wpath "$O/mh")"
	pd_join hw 30
	expect_rc 0
	expect_out 'Hung window check: *Enabled'
	expect_out 'Hung Window: not responding for 5 seconds.'
	lldb_do "$(one_dump "$O/mh")" "$O/mh/l" 'bt all'
	grep -q 'load.exe`main' "$O/mh/l" || fail "the hung thread (main) is not in the dump"
END

# set_event NAME EVENT: set the named event EVENT-<PID of target NAME>
set_event() {
	set_named_event "$2-$(field "$1" pid)" "$O/$1.set"
	grep -q '^set ' "$O/$1.set" || fail "setevent $2: $(cat "$O/$1.set")"
}
# samples RAW WHAT: the values of procdump -v's samples of WHAT, one a line
samples() { tr -d '\r' <"$1" | sed -n "s/.*\[v\] $2 \([0-9]*\) .*/\1/p"; }
# quiet DIR RAW: procdump has neither fired nor dumped so far
quiet() {
	[ -z "$(ls -A "$1")" ] || fail "it dumped too early: $(ls "$1")"
	! grep -q 'Trigger:' "$2" || fail "it fired too early: $(grep Trigger: "$2")"
}
# hms_ms HH:MM:SS[.mmm]: milliseconds since midnight
hms_ms() { echo "$1" | awk -F'[:.]' '{ printf "%d", (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'; }

# -tc and -hc: samples below the thresholds, no dump, until the target
# starts 60 threads and opens 400 events; then each fires, and its dump
# holds what the target made (obj2yaml: ThreadList entries, HandleData count)
t 'monitors: -tc and -hc stay quiet below the count, fire once the target makes 60 threads and 400 events; the dumps hold them' <<'END'
	start_target gr "$T/load.exe" grow 60 400
	mkdir -p "$O/mtc" "$O/mhc"
	pd_bg mtc -v -tc 40 -s 2 "$(field gr pid)" "$(wpath "$O/mtc")"
	pd_bg mhc -v -hc 300 -s 2 "$(field gr pid)" "$(wpath "$O/mhc")"
	wait_count "$O/mtc.raw" '\[v\] Thread count ' 3 30 || fail "no thread samples: $(tail -n 3 "$O/mtc.raw")"
	wait_count "$O/mhc.raw" '\[v\] Handle count ' 3 30 || fail "no handle samples: $(tail -n 3 "$O/mhc.raw")"
	quiet "$O/mtc" "$O/mtc.raw"
	quiet "$O/mhc" "$O/mhc.raw"
	tc0=$(samples "$O/mtc.raw" 'Thread count' | head -n 1) hc0=$(samples "$O/mhc.raw" 'Handle count' | head -n 1)
	[ "$tc0" -ge 1 ] && [ "$tc0" -lt 40 ] || fail "before: $tc0 threads measured"
	[ "$hc0" -ge 1 ] && [ "$hc0" -lt 300 ] || fail "before: $hc0 handles measured"
	set_event gr PdGrow
	wait_for "$O/gr.log" '^grown ' 30 || fail "the target did not grow"
	pd_join mtc 30
	expect_rc 0
	expect_out 'Thread threshold: *>=40$'
	expect_out 'Thread count: [0-9]* 2s'
	expect_out 'Trigger: Thread count [0-9]* for 2 s'
	v=$(sed -n 's/.*Trigger: Thread count \([0-9]*\) for.*/\1/p' "$O/pd.out")
	[ "$v" -ge $((tc0 + 60)) ] || fail "$tc0 threads and 60 more, $v measured"
	yaml "$(one_dump "$O/mtc")" "$O/mtc/y"
	n=$(awk '/Type: *ThreadList/ { on = 1; next } /- Type:/ { on = 0 } on && /Thread Id:/ { n++ } END { print n + 0 }' "$O/mtc/y")
	[ "$n" -ge $((tc0 + 60)) ] || fail "the dump's ThreadList has $n threads, the target $tc0 + 60"
	pd_join mhc 30
	expect_rc 0
	expect_out 'Handle threshold: *>=300$'
	expect_out 'Trigger: Handle count [0-9]* for 2 s'
	v=$(sed -n 's/.*Trigger: Handle count \([0-9]*\) for.*/\1/p' "$O/pd.out")
	[ "$v" -ge $((hc0 + 400)) ] || fail "$hc0 handles and 400 more, $v measured"
	yaml "$(one_dump "$O/mhc")" "$O/mhc/y"
	hex=$(stream_bytes "$O/mhc/y" HandleData)
	n=$((0x$(le "$(echo "$hex" | cut -c17-24)")))
	[ "$n" -ge 400 ] || fail "the dump's HandleData has $n handles, the target opened 400 events"
	alive gr || fail "the target stopped"
	stop_target gr
END

# two monitors that both hold every second (-s 1) share -n as ProcDump's
# do: each fires, in turn; the first row does not take every dump
t 'monitors: -tc and -hc together, both holding, -n 2: one dump each (monitors combine, none starves)' <<'END'
	start_target gc "$T/load.exe" grow 60 400
	set_event gc PdGrow
	wait_for "$O/gc.log" '^grown ' 30 || fail "the target did not grow"
	mkdir -p "$O/mcc"
	pd -tc 40 -hc 300 -s 1 -n 2 "$(field gc pid)" "$(wpath "$O/mcc")"
	expect_rc 0
	[ "$(grep -c 'Trigger: Thread count' "$O/pd.out")" = 1 ] &&
		[ "$(grep -c 'Trigger: Handle count' "$O/pd.out")" = 1 ] || fail "want one trigger each: $(grep Trigger: "$O/pd.out")"
	[ "$(ls "$O/mcc" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/mcc")"
	stop_target gc
END

# -h 2: quiet while the window answers; once the target stops pumping (it
# says when, to the millisecond), the trigger's stamp (whole seconds) is 2
# to 4 s later: not before 2, and well before the 5 s of the default
t 'monitors: -h 2 stays quiet while the window answers and fires about 2 s after it stops' <<'END'
	trap 'set +e; stop_target h2' EXIT # (its window stays hung)
	start_target h2 "$T/load.exe" window event
	mkdir -p "$O/mh2"
	pd_bg mh2 -v -h 2 "$(field h2 pid)" "$(wpath "$O/mh2")"
	wait_count "$O/mh2.raw" '\[v\] Hung Window 0 ' 2 30 || fail "no samples: $(tail -n 3 "$O/mh2.raw")"
	quiet "$O/mh2" "$O/mh2.raw"
	set_event h2 PdHang
	pd_join mh2 30
	expect_rc 0
	expect_out 'Hung window check: *Enabled (2 seconds)'
	expect_out 'Hung Window: not responding for 2 seconds.'
	hung=$(hms_ms "$(sed -n 's/^hung at=//p' "$O/h2.log" | tr -d '\r')")
	fired=$(hms_ms "$(sed -n 's/^\[\(..:..:..\)\] Trigger: Hung Window$/\1/p' "$O/pd.out")")
	[ "$fired" -ge "$hung" ] || fired=$((fired + 86400000)) # past midnight
	d=$((fired - hung))
	# the stamp is the whole second: the true delay is d to d + 999 ms
	[ $((d + 999)) -ge 2000 ] && [ $d -le 6000 ] || fail "fired $d ms (to $((d + 999))) after the window stopped pumping"
	[ "$(samples "$O/mh2.raw" 'Hung Window' | tail -n 1)" = 2 ] || fail "the last sample is not 2 seconds: $(samples "$O/mh2.raw" 'Hung Window' | tr '\n' ' ')"
	yaml "$(one_dump "$O/mh2")" "$O/mh2/y"
END

# -m 1,50: the first value fires at once, the second only once the target
# has touched 64 MiB more; one dump each, in order, then the run ends
t 'monitors: -m 1,50 writes one dump per value, in order: the second only once the target grows' <<'END'
	start_target gl "$T/load.exe" grow 0 0 64
	mkdir -p "$O/mlist"
	pd_bg mlist -v -m 1,50 -s 1 "$(field gl pid)" "$(wpath "$O/mlist")"
	wait_for "$O/mlist.raw" 'Dump 1 complete' 30 || fail "the first value did not fire: $(tail -n 3 "$O/mlist.raw")"
	wait_count "$O/mlist.raw" '\[v\] Commit [0-9]* MB (>= 50 MB)' 2 30 || fail "no samples against 50: $(tail -n 3 "$O/mlist.raw")"
	[ "$(ls "$O/mlist" | grep -c '\.dmp$')" = 1 ] || fail "want 1 dump before the target grows: $(ls "$O/mlist")"
	[ "$(grep -c 'Trigger:' "$O/mlist.raw")" = 1 ] || fail "the first value fired again: $(grep Trigger: "$O/mlist.raw")"
	[ "$(grep -c '\[v\] Commit [0-9]* MB (>= 1 MB)' "$O/mlist.raw")" = 1 ] ||
		fail "the first value was sampled again after it fired"
	set_event gl PdGrow
	pd_join mlist 30
	expect_rc 0
	expect_out 'Commit threshold: *>=1 MB, >=50 MB$'
	expect_out 'Number of dumps: *2 (one per threshold)'
	expect_out 'Trigger: Commit [0-9]* MB for 1 s (threshold 1 of 2: >=1 MB)'
	expect_out 'Trigger: Commit [0-9]* MB for 1 s (threshold 2 of 2: >=50 MB)'
	expect_out 'Dump count reached.'
	# in order: trigger 1, Dump 1 (its file), trigger 2, Dump 2 (its file, later)
	grep -E 'Trigger:|initiated:' "$O/pd.out" | sed 's/.*\(threshold [0-9]\).*/\1/; s/.*\(Dump [0-9]\) initiated.*/\1/' | tr '\n' ' ' >"$O/mlist/order"
	[ "$(cat "$O/mlist/order")" = "threshold 1 Dump 1 threshold 2 Dump 2 " ] || fail "order: $(cat "$O/mlist/order")"
	f1=$(sed -n 's/.*Dump 1 initiated: .*\\//p' "$O/pd.out") f2=$(sed -n 's/.*Dump 2 initiated: .*\\//p' "$O/pd.out")
	[ -f "$O/mlist/$f1" ] && [ -f "$O/mlist/$f2" ] || fail "the dumps named are not there: $f1 $f2: $(ls "$O/mlist")"
	[ "$(ls "$O/mlist" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/mlist")"
	v=$(sed -n 's/.*Trigger: Commit \([0-9]*\) MB for 1 s (threshold 2.*/\1/p' "$O/pd.out")
	[ "$v" -ge 64 ] || fail "64 MiB touched, commit measured $v MB at the second value"
	stop_target gl
END

t 'monitors: -n 2 with -c writes two dumps, monitoring resumes between' <<'END'
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
END

t 'monitors: -e and -m together: the monitor fires while attached' <<'END'
	start_target ae "$T/load.exe" alloc 64
	mkdir -p "$O/mae"
	pd -e -m 50 -s 1 "$(field ae pid)" "$(wpath "$O/mae")"
	expect_rc 0
	expect_out 'Exception monitor: *Unhandled'
	expect_out 'Trigger: Commit'
	one_dump "$O/mae" >/dev/null
	alive ae || fail "the target did not run on after the detach"
END

t 'monitors: -at cancels a slow collection; target resumed, no file, exit 1' <<'END'
	start_target ta "$T/target.exe" 1 64
	mkdir -p "$O/mat"
	PROCDUMP_TEST_CHUNK_DELAY_MS=500 pd -ma -at 1 "$(field ta pid)" "$(wpath "$O/mat")"
	expect_rc 1
	expect_out 'Dump 1 cancelled: the collection took longer than 1 seconds (-at)'
	expect_out 'Dump count not reached.'
	[ -z "$(ls "$O/mat")" ] || fail "files left behind: $(ls "$O/mat")"
	alive ta || fail "the target was left suspended"
END

# with a monitor, a collection that -at cancels is not counted and
# monitoring goes on: the next trigger's dump reaches the count (only the
# first dump is slowed)
t 'monitors: with -m, a collection -at cancels is not counted; the next trigger reaches -n, exit 0' <<'END'
	[ -f "$O/ta.log" ] || start_target ta "$T/target.exe" 1 64
	mkdir -p "$O/mat2"
	PROCDUMP_TEST_CHUNK_DELAY_MS=500 PROCDUMP_TEST_CHUNK_DELAY_DUMPS=1 \
		pd -ma -at 1 -m 1 -s 1 "$(field ta pid)" "$(wpath "$O/mat2")"
	expect_rc 0
	expect_out 'Dump 1 cancelled: the collection took longer than 1 seconds (-at)'
	expect_out 'Dump 2 complete'
	expect_out 'Dump count reached.'
	! grep -q 'Dump count not reached' "$O/pd.out" || fail "a cancelled collection counted against -n"
	[ "$(ls "$O/mat2" | grep -c '\.dmp$')" = 1 ] || fail "want the one dump of the second trigger: $(ls "$O/mat2")"
	alive ta || fail "the target was left suspended"
END
