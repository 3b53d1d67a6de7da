# t-series.sh - series of dumps (-n, -s) and how they end.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'series: what must hold' <<'END'
#   	commands
#   END

t 'series: -n 3 -s 1 writes three dumps and exits 0' <<'END'
	start_target se "$T/target.exe" 1
	mkdir -p "$O/se"
	pd -n 3 -s 1 "$(field se pid)" "$(wpath "$O/se")"
	expect_rc 0
	[ "$(ls "$O/se" | grep -c '\.dmp$')" = 3 ] || fail "want 3 dumps: $(ls "$O/se")"
	expect_out 'Dump 3 complete'
	expect_out 'Dump count reached.'
	for f in "$O"/se/*.dmp; do yaml "$f" "$O/se/y"; done
	alive se || fail "target stopped"
END

t 'series: -cancel PID stops a series (exit 1), target runs on' <<'END'
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
END

t 'series: Ctrl+C stops a series (exit 1), target runs on' <<'END'
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
END

t 'series: the target exiting ends the series, exit 1' <<'END'
	start_target sx "$T/target.exe" 1
	mkdir -p "$O/sx"
	pd_bg sx -n 3 -s 2 "$(field sx pid)" "$(wpath "$O/sx")"
	wait_for "$O/sx.raw" 'Dump 1 complete' 30 || fail "first dump not written"
	stop_target sx
	pd_join sx 30
	expect_rc 1
	expect_out 'The process has exited'
END

t 'series: -k kills the target after the dump' <<'END'
	start_target sk "$T/target.exe" 1
	mkdir -p "$O/sk"
	pd -k -mm "$(field sk pid)" "$(wpath "$O/sk")"
	expect_rc 0
	expect_out 'Killed process'
	wait_gone "$(upid sk)" 10 || fail "-k did not end the target"
END

# The harness can tell a killed procdump from one that returned: pdrun.exe
# records "killed" when procdump did not write its exit file (under Wine a
# process killed with SIGKILL has exit code 0).
t 'series: a procdump killed with SIGKILL is recorded as killed, not as exit 0; the target runs on' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	start_target sq "$T/target.exe" 1
	mkdir -p "$O/sq"
	pd_bg sq -n 5 -s 30 "$(field sq pid)" "$(wpath "$O/sq")"
	wait_for "$O/sq.raw" 'Dump 1 complete' 30 || fail "first dump not written: $(cat "$O/sq.raw")"
	p=$(pgrep -f "^$(pd_re) -n 5 -s 30 $(field sq pid) ") || fail "no procdump process to kill"
	kill -KILL $p
	pd_join sq 30
	[ "$RC" = killed ] || fail "pdrun recorded '$RC' for a procdump killed with SIGKILL"
	alive sq || fail "the target stopped"
	stop_target sq
END

# A dump that -at cancels does not count toward -n (man page, -at): the
# series goes on until -n dumps are written.  Only the first dump is slowed
# (500 ms per 4 MiB chunk of a 64 MiB target: far past -at 1).
t 'series: -n 2 -s 1 -at 1: a dump -at cancelled does not count; two dumps written, exit 0' <<'END'
	start_target sa "$T/target.exe" 1 64
	mkdir -p "$O/sa"
	PROCDUMP_TEST_CHUNK_DELAY_MS=500 PROCDUMP_TEST_CHUNK_DELAY_DUMPS=1 \
		pd -ma -n 2 -s 1 -at 1 "$(field sa pid)" "$(wpath "$O/sa")"
	expect_out 'Dump 1 cancelled: the collection took longer than 1 seconds (-at)'
	expect_out 'Dump 2 complete'
	expect_out 'Dump 3 complete'
	expect_out 'Dump count reached.'
	expect_rc 0
	[ "$(ls "$O/sa" | grep -c '\.dmp$')" = 2 ] || fail "want the 2 dumps -n asked for: $(ls "$O/sa")"
	[ -z "$(ls "$O/sa" | grep '\.tmp$')" ] || fail "temporary file left: $(ls "$O/sa")"
	alive sa || fail "the target was left suspended"
	stop_target sa
END
