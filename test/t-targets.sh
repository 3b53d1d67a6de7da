# t-targets.sh - finding the target: by PID, by name, by service name; none or
# several.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'targets: what must hold' <<'END'
#   	commands
#   END

# svc_make: PdTestSvc created (again) and stopped; it writes its PID to
# $O/svc.pid once it runs.  svc_start: started, $spid its PID.  svc_stop:
# stopped (waited for, 20 s).  svc_drop: stopped and deleted.
svc_make() {
	[ $native = 1 ] && skip "service test needs Wine's sc (run as admin on Windows)"
	svc_drop
	wine sc create PdTestSvc binpath= "$(wpath "$T/svc.exe") $(wpath "$O/svc.pid")" >"$O/sc.log" 2>&1 ||
		fail "sc create: $(tr -d '\r' <"$O/sc.log")"
	echo PdTestSvc >"$O/svc.made"
}
svc_start() {
	rm -f "$O/svc.pid"
	wine sc start PdTestSvc >>"$O/sc.log" 2>&1 || fail "sc start: $(tr -d '\r' <"$O/sc.log")"
	wait_for "$O/svc.pid" '^[0-9]' 30 || fail "the service did not write its PID"
	spid=$(tr -d '\r\n' <"$O/svc.pid")
}
svc_stop() {
	wine sc stop PdTestSvc >/dev/null 2>&1 || true
	_end=$(($(date +%s) + 20))
	until wine sc query PdTestSvc 2>/dev/null | grep -q 'STATE.*STOPPED'; do
		wine sc query PdTestSvc >/dev/null 2>&1 || return 0 # gone
		[ "$(date +%s)" -ge $_end ] && fail "PdTestSvc did not stop in 20 s"
		sleep 0.1
	done
}
svc_drop() {
	svc_stop
	wine sc delete PdTestSvc >/dev/null 2>&1 || true
	rm -f "$O/svc.made"
}
# svc_dump_pid DUMP: the dump is of the service's process $spid (lldb)
svc_dump_pid() {
	lldb_do "$1" "$1.txt" 'thread list'
	grep -q "Process $spid stopped" "$1.txt" || fail "lldb does not see PID $spid in $(basename "$1"): $(head -n 5 "$1.txt")"
}

t 'targets: by PID, by name with or without .exe, any case' <<'END'
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
		mi=$(stream_bytes "$O/tg/$k.yaml" MiscInfo)
		[ "$(echo "$mi" | cut -c17-24)" = "$want" ] ||
			fail "MiscInfo of the dump of '$spec' does not carry PID $pid: $(echo "$mi" | cut -c1-32)"
	done
END

t 'targets: a name that several processes match lists their PIDs, exit 3' <<'END'
	[ -f "$O/tg.log" ] || start_target tg "$T/pdtgt.exe" 1
	start_target tg2 "$T/pdtgt.exe" 1
	pd -mm pdtgt
	expect_rc 3
	expect_err 'Multiple processes match'
	expect_err "$(field tg pid)"
	expect_err "$(field tg2 pid)"
	expect_err_one_line
	stop_target tg2
END

t 'targets: unknown name or PID, exit 3' <<'END'
	pd -mm no_such_process_here
	expect_rc 3
	expect_err "no process or service named 'no_such_process_here'"
	expect_err_one_line
	pd -mm 999996
	expect_rc 3
	expect_err 'no process with PID 999996'
END

t 'targets: by service name (wine sc), and a stopped service, exit 3' <<'END'
	svc_make
	svc_start
	mkdir -p "$O/svc"
	pd -mm PdTestSvc "$(wpath "$O/svc/s.dmp")"
	rc=$RC
	svc_stop
	[ "$rc" = 0 ] || fail "dump by service name exited $rc: $(cat "$O/pd.err")"
	expect_out "Process: *svc.exe ($spid)"
	svc_dump_pid "$O/svc/s.dmp"
	# stopped: a clear error
	pd -mm PdTestSvc
	expect_rc 3
	expect_err "service 'PdTestSvc' is not running"
	expect_err_one_line
	svc_drop
END

t 'targets: -w with the name of a running service finds it at once and dumps its process' <<'END'
	svc_make
	svc_start
	rm -rf "$O/ws"
	mkdir -p "$O/ws"
	pd_bg ws -mm -w PdTestSvc "$(wpath "$O/ws")"
	pd_join ws 30
	expect_rc 0
	expect_out "Process: *svc.exe ($spid)"
	svc_dump_pid "$(one_dump "$O/ws")"
	svc_drop
END

t 'targets: -w with the name of a stopped service waits, and dumps its process once it starts' <<'END'
	svc_make
	rm -rf "$O/ws2"
	mkdir -p "$O/ws2"
	pd_bg ws2 -mm -w PdTestSvc "$(wpath "$O/ws2")"
	wait_for "$O/ws2.raw" 'Waiting for process named PdTestSvc' 30 || fail "procdump does not wait: $(tail -n 3 "$O/ws2.raw")"
	svc_start
	pd_join ws2 30
	expect_rc 0
	expect_out "Process svc.exe ($spid) started"
	svc_dump_pid "$(one_dump "$O/ws2")"
	svc_drop
END
