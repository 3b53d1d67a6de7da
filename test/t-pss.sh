# t-pss.sh - -r through a PSS snapshot (pss_* in procdump.c).  Wine has no
# PSS, so procdump takes the Pss functions from test/pssprov.c, a test
# provider of the documented contract over the live process, loaded under
# the test hook PROCDUMP_TEST_PSS_DLL; its faults on demand (PSSPROV_MODE)
# drive the fallbacks.  These tests prove procdump's use of the contract,
# not Windows's PSS (the man page says PSS is unverified on Windows).
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'pss: what must hold' <<'END'
#   	commands
#   END

PSSDLL=$T/pssprov.dll

# ps_pd LOG ARGS...: pd with the provider, its calls logged in $O/ps/LOG
ps_pd() {
	_log=$O/ps/$1
	shift
	mkdir -p "$O/ps"
	rm -f "$_log"
	PROCDUMP_TEST_PSS_DLL=$(wpath "$PSSDLL") PSSPROV_LOG=$(wpath "$_log") pd "$@"
}

# ps_fell_back LOG CODE: -v said the snapshot (captured, then not usable)
# failed with CODE and the in-memory clone wrote the dump; the provider's
# log shows the free that left nothing
ps_fell_back() {
	expect_rc 0
	expect_err "\[v\] -r: the PSS snapshot of process $pid failed, the in-memory clone instead: .* ($2)"
	expect_err 'cloned [0-9]* MB in .* runs on'
	expect_out 'Dump 1 complete'
	! grep -q 'took a PSS snapshot' "$O/pd.err" || fail "$1: a PSS snapshot was taken"
	grep -q 'free: 0 snapshots and 0 walk markers left' "$O/ps/$1" ||
		fail "$1: the provider did not free all it made: $(cat "$O/ps/$1" 2>&1)"
}

# ps_setup: one target (3 workers, a 4 MiB marker) and its -r -mm and -r -ma
# dumps through the provider (ps/mini.dmp, ps/full.dmp), with lldb's and
# obj2yaml's readings; once
ps_setup() {
	[ -f "$O/ps.log" ] && return 0
	start_target ps "$T/target.exe" 3 4
	for k in mini full; do
		[ $k = mini ] && ty=-mm || ty=-ma
		ps_pd "$k.calls" -v -r $ty "$(field ps pid)" "$(wpath "$O/ps/$k.dmp")"
		[ "$RC" = 0 ] || fail "-r $ty exited $RC: $(cat "$O/pd.err")"
		cp "$O/pd.out" "$O/ps/$k.out"
		cp "$O/pd.err" "$O/ps/$k.err"
		lldb_do "$O/ps/$k.dmp" "$O/ps/$k.lldb" 'thread list' 'bt all' 'image list'
		yaml "$O/ps/$k.dmp" "$O/ps/$k.yaml"
	done
}

# The snapshot is taken (no in-memory copy), asked for what each dump type
# needs, and freed with every walk marker; the target runs on.
t 'pss: with the test provider -r -mm and -r -ma take a PSS snapshot (no copy), ask for what they need, free it all' <<'END'
	ps_setup
	pid=$(field ps pid)
	for k in mini full; do
		grep -q "\[v\] -r: took a PSS snapshot of process $pid (5 threads) in .* s; process $pid runs on" "$O/ps/$k.err" ||
			fail "$k: -v does not say the snapshot was taken: $(head -n 5 "$O/ps/$k.err")"
		! grep -q 'copying [0-9]* MB\|cloned [0-9]* MB' "$O/ps/$k.err" || fail "$k: the in-memory clone was taken too"
		grep -q 'Dump 1 cloned: the process runs on' "$O/ps/$k.out" || fail "$k: no 'cloned' line"
		grep -q 'Dump 1 complete' "$O/ps/$k.out" || fail "$k: not complete"
		grep -q 'freed the PSS snapshot' "$O/ps/$k.err" || fail "$k: -v does not say the snapshot was freed"
		! grep -q 'could not be read\|written without a context' "$O/ps/$k.err" || fail "$k: $(cat "$O/ps/$k.err")"
		# VA clone, threads, contexts (CONTEXT_ALL), VA space; breakaway
		# (optional), release section; the handle classes (-mm and -ma
		# both have HandleData)
		grep -q "^capture pid=$pid flags=0x8c0009bd context=0x0010001f\$" "$O/ps/$k.calls" ||
			fail "$k: the capture asked for $(grep '^capture' "$O/ps/$k.calls")"
		grep -q '^captured 5 threads [0-9]* regions [0-9]* handles clone=yes$' "$O/ps/$k.calls" ||
			fail "$k: $(grep '^captured' "$O/ps/$k.calls")"
		for w in 1 2 3; do
			grep -q "^walk $w ends: 259 after" "$O/ps/$k.calls" || fail "$k: walk $w did not run to its end"
		done
		grep -q '^free: 0 snapshots and 0 walk markers left$' "$O/ps/$k.calls" ||
			fail "$k: not all freed: $(grep '^free' "$O/ps/$k.calls")"
	done
	alive ps || fail "the target does not run on"
END

t 'pss: the snapshot dumps hold every thread id the target printed, and lldb walks their stacks from the captured contexts' <<'END'
	ps_setup
	dumps_hold_threads ps
END

t 'pss: the snapshot -r -ma holds the heap marker (first and last bytes), -r -mm the stack, indirect and .data bytes' <<'END'
	ps_setup
	dumps_hold_markers ps
END

# Breakpad: the target's PID (not the clone's), every thread with its name
# (read from the real thread: the snapshot has no names)
t 'pss: Breakpad reads the snapshot -r -mm dump: the target PID, every thread, their names' <<'END'
	need_bp
	ps_setup
	bp_holds_target "$O/ps/mini.dmp" ps
	grep -q 'thread_name *= "pd-main"' "$O/ps/mini.dmp.bp" || fail "Breakpad: no thread named pd-main"
	for w in 1 2 3; do
		grep -q "thread_name *= \"pd-worker-$w\"" "$O/ps/mini.dmp.bp" || fail "Breakpad: no thread named pd-worker-$w"
	done
END

# The snapshot's -r -mm and a plain (live) -mm of the same still target
# read alike: obj2yaml gives the same threads (ids, TEBs, priority class,
# suspend counts, stack ranges), thread names, modules, memory regions and
# handles (value, type, attributes, access).
t 'pss: the snapshot -r -mm and a live -mm of the same target agree on threads, modules, regions and handles (obj2yaml)' <<'END'
	ps_setup
	# (held by suspension, not by a debug attach, whose thread would add
	# its stack to the map)
	PROCDUMP_TEST_FREEZE=suspend pd -mm "$(field ps pid)" "$(wpath "$O/ps/live.dmp")"
	expect_rc 0
	yaml "$O/ps/live.dmp" "$O/ps/live.yaml"
	# the bytes that change with time or with the reading process: memory,
	# contexts, times, VM counters, procdump's own token handle; of each
	# handle (40 bytes) its counts (procdump's own handles add to them) and
	# name (the provider asks no pipe for its name)
	for k in mini live; do
		awk '/^  - Type:/ { t = $3 }
			/Content:|Context:/ && t ~ /^(ThreadList|MemoryList|MiscInfo|ProcessVMCounters|Token|ThreadInfoList)$/ { next }
			/Content:/ && t == "HandleData" {
				h = $2; o = substr(h, 1, 32)
				for (i = 33; i + 79 <= length(h); i += 80)
					o = o " " substr(h, i, 24) substr(h, i + 32, 16) substr(h, i + 64, 16)
				print "    handles: " o; next
			}
			{ print }' "$O/ps/$k.yaml" >"$O/ps/$k.same"
	done
	diff "$O/ps/live.same" "$O/ps/mini.same" >"$O/ps/same.diff" || fail "the snapshot dump reads otherwise: $(head -c 600 "$O/ps/same.diff")"
	[ "$(grep -c '^    handles: ' "$O/ps/mini.same")" = 1 ] || fail "no HandleData compared"
END

# ps_handle_named DUMP YAML NAME TYPE: the HandleData stream of DUMP holds a
# handle whose name ends in NAME, of type TYPE
ps_handle_named() {
	hex=$(stream_bytes "$2" HandleData)
	[ -n "$hex" ] || fail "$(basename "$1"): no HandleData stream"
	n=$((0x$(le "$(echo "$hex" | cut -c17-24)")))
	i=0
	while [ $i -lt "$n" ]; do
		e=$(echo "$hex" | cut -c$((33 + 80 * i))-$((32 + 80 * (i + 1))))
		tr=$((0x$(le "$(echo "$e" | cut -c17-24)"))) nr=$((0x$(le "$(echo "$e" | cut -c25-32)")))
		if [ $nr != 0 ] && ps_string "$1" $nr | grep -q "$3\$"; then
			[ $tr != 0 ] && [ "$(ps_string "$1" $tr)" = "$4" ] || fail "$3 has type '$(ps_string "$1" $tr)', want $4"
			return 0
		fi
		i=$((i + 1))
	done
	fail "$(basename "$1"): no $4 handle named $3 among $n"
}
# ps_string DUMP RVA: the MINIDUMP_STRING at RVA, as ASCII
ps_string() {
	_len=$((0x$(od -An -tx1 -j "$2" -N 4 "$1" | tr -d ' \n' | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')))
	od -An -c -j $(($2 + 4)) -N "$_len" "$1" | tr -d ' \n' | sed 's/\\0//g'
}

t 'pss: HandleData from the snapshot names the target event with its type' <<'END'
	ps_setup
	for k in mini full; do
		ps_handle_named "$O/ps/$k.dmp" "$O/ps/$k.yaml" "PdTestEvent-$(field ps pid)" Event
	done
END

# A walk that cannot start or fails half-way, a snapshot without threads
# or with none running: each falls back to the in-memory clone, which writes the dump,
# the snapshot freed first (a failed capture or clone query: the clone
# group's clone_pss_fails).
t 'pss: a walk marker that cannot be made, a walk that fails, or a snapshot without running threads, falls back to the in-memory clone, freed first' <<'END'
	start_target pf "$T/target.exe" 2 4
	pid=$(field pf pid)
	for m in marker:8 walkfail:8 nothreads:1168 allgone:1168; do
		PSSPROV_MODE=${m%:*} ps_pd "${m%:*}" -v -r -mm "$pid" "$(wpath "$O/ps/${m%:*}.dmp")"
		ps_fell_back "${m%:*}" "${m#*:}"
		f=$(grep -n 'freed the PSS snapshot' "$O/pd.err" | cut -d: -f1) c=$(grep -n 'snapshot of process .* failed' "$O/pd.err" | cut -d: -f1)
		[ -n "$f" ] && [ "$f" -lt "$c" ] || fail "${m%:*}: the snapshot was not freed before the fallback: $(cat "$O/pd.err")"
		has_bytes "$O/ps/${m%:*}.dmp" pf stack "${m%:*}: the stack local"
		lldb_do "$O/ps/${m%:*}.dmp" "$O/ps/${m%:*}.lldb" 'thread list'
		[ "$(grep -c 'thread #[0-9]*: tid = ' "$O/ps/${m%:*}.lldb")" = 4 ] || fail "${m%:*}: lldb does not list the 4 threads"
	done
	alive pf || fail "the target stopped"
	stop_target pf
END

# What the snapshot lacks is read elsewhere or left out, and the dump is
# written: a thread captured as terminated is not in it; without the VA
# space the clone's own map serves; without handles no HandleData; without
# the process information the target's own facts; a failed free is said.
t 'pss: a partial snapshot (a thread gone, no VA space, handles, process information or context; a failed free) still gives a dump' <<'END'
	start_target pp "$T/target.exe" 3 4
	pid=$(field pp pid)
	PSSPROV_MODE=firstgone,novaspace,nohandles,noprocinfo,free ps_pd part -v -r -ma "$pid" "$(wpath "$O/ps/p.dmp")"
	expect_rc 0
	expect_err "took a PSS snapshot of process $pid (4 threads)"
	expect_err '\[v\] the PSS memory map (0 regions), the clone.s instead: .* (1168)'
	expect_err "\[v\] the handles of the PSS snapshot of process $pid: .* (1168)"
	expect_err '\[v\] PssFreeSnapshot: .* (6)'
	expect_out 'Dump 1 complete'
	yaml "$O/ps/p.dmp" "$O/ps/p.yaml"
	lldb_do "$O/ps/p.dmp" "$O/ps/p.lldb" 'thread list'
	main=$(tids pp | head -n 1)
	! grep -q "tid = $(printf '0x%04x' "$main")," "$O/ps/p.lldb" || fail "the thread captured as terminated is in the dump"
	[ "$(grep -c 'thread #[0-9]*: tid = ' "$O/ps/p.lldb")" = 4 ] || fail "lldb does not list the 4 running threads"
	! grep -q 'Type: *HandleData' "$O/ps/p.yaml" || fail "a HandleData stream without captured handles"
	grep -q 'Type: *MemoryInfoList' "$O/ps/p.yaml" || fail "no MemoryInfoList from the clone's map"
	has_bytes "$O/ps/p.dmp" pp marker "the heap marker, by the clone's map"
	# the threads without contexts or TEBs: written, flagged
	PSSPROV_MODE=nocontext,noteb ps_pd thin -v -r -mm "$pid" "$(wpath "$O/ps/t.dmp")"
	expect_rc 0
	for tid in $(tids pp); do
		expect_err "\[v\] thread $tid: written without a context"
	done
	expect_out 'Dump 1 complete'
	yaml "$O/ps/t.dmp" "$O/ps/t.yaml"
	hex=$(stream_bytes "$O/ps/t.yaml" ThreadInfoList)
	[ "$(u32at 8 "$hex")" = 5 ] || fail "ThreadInfoList: $(u32at 8 "$hex") entries, want 5"
	[ "$(u32at 4 "$(echo "$hex" | cut -c25-)")" = 16 ] || fail "ThreadInfoList: the first thread's flags are not INVALID_CONTEXT (0x10)"
	alive pp || fail "the target stopped"
	stop_target pp
END

# ps_target32: test/target32.exe, built unless the wow64 group did
ps_target32() {
	[ -f "$T/target32.exe" ] || i686-w64-mingw32-gcc $TCFLAGS "$T/target.c" -o "$T/target32.exe" -ladvapi32 ||
		fail "cannot build target32.exe"
}

# Where the snapshot cannot serve -v says why and the in-memory clone
# writes the dump: a DLL that does not load, WithAvxXStateContext, the x86
# view of a 32-bit target, the 32-bit procdump (32-bit provider).
t 'pss: where the snapshot cannot serve (no DLL, XState, an x86 view, the 32-bit procdump) -v says why and the clone writes the dump' <<'END'
	start_target pu "$T/target.exe" 1 4
	pid=$(field pu pid)
	mkdir -p "$O/ps"
	PROCDUMP_TEST_PSS_DLL='Z:\nonexistent\pssprov.dll' pd -v -r -mm "$pid" "$(wpath "$O/ps/u1.dmp")"
	expect_rc 0
	expect_err "\[v\] PROCDUMP_TEST_PSS_DLL: cannot load '.*nonexistent.pssprov.dll':"
	expect_err '\[v\] -r: no PSS snapshot (this system has no PSS'
	ps_pd xstate -v -r -mc 0x200002 "$pid" "$(wpath "$O/ps/u2.dmp")"
	expect_rc 0
	expect_err '\[v\] -r: no PSS snapshot (WithAvxXStateContext'
	[ ! -s "$O/ps/xstate" ] || fail "the provider was called: $(cat "$O/ps/xstate")"
	stop_target pu
	[ "$W32" = 1 ] || skip "32-bit programs do not run here: the x86 cases"
	ps_target32
	i686-w64-mingw32-gcc $TCFLAGS -shared -Wl,--kill-at "$T/pssprov.c" -o "$O/ps/pssprov32.dll" -lpsapi ||
		fail "cannot build the 32-bit provider"
	start_target pw "$T/target32.exe" 1 4
	pid=$(field pw pid)
	ps_pd x86 -v -r -mm "$pid" "$(wpath "$O/ps/u3.dmp")"
	expect_rc 0
	expect_err '\[v\] -r: no PSS snapshot (a 32-bit view'
	PROCDUMP_TEST_PSS_DLL=$(wpath "$O/ps/pssprov32.dll") pd32 -v -r -mm "$pid" "$(wpath "$O/ps/u4.dmp")"
	expect_rc 0
	expect_err '\[v\] -r: no PSS snapshot (a 32-bit procdump on 64-bit Windows'
	expect_out 'Dump 1 complete'
	stop_target pw
END

# A dump at the process's exit (-t, the target ended by TerminateProcess:
# no ExitProcess breakpoint) is no case for a snapshot: -v says so.
t 'pss: at the exit event of a terminated process (-t) -v says a snapshot cannot serve' <<'END'
	start_target px "$T/target.exe" 1 4
	pid=$(field px pid)
	mkdir -p "$O/ps/px"
	export PROCDUMP_TEST_PSS_DLL="$(wpath "$PSSDLL")"
	pd_bg pxd -v -r -t "$pid" "$(wpath "$O/ps/px")"
	unset PROCDUMP_TEST_PSS_DLL
	wait_for "$O/pxd.raw" 'attached: initial breakpoint' 30 || fail "procdump did not attach: $(cat "$O/pxd.raw")"
	$WINE taskkill /F /PID "$pid" >"$O/ps/px.kill" 2>&1 || true
	pd_join pxd 60
	grep -q '\[v\] -r: no PSS snapshot (the process is exiting)' "$O/pd.out" ||
		fail "-v does not say the exiting process is no case for a snapshot: $(tail -n 8 "$O/pd.out")"
	! grep -q 'took a PSS snapshot' "$O/pd.out" || fail "a snapshot of an exiting process"
END

# -r in debugger mode through the snapshot, the target held at its debug
# event: the dump of a caught first-chance exception (-e 1) holds its
# record and the faulting thread, whose captured context lldb walks back to
# main; the target survives.  (A second-chance one is passed on once the
# snapshot is taken and the target dies: the provider's clone, the target
# itself, dies with it; a real VA clone would not.)
t 'pss: -r -e 1 dumps a caught first-chance exception through the snapshot: record, thread, its walk; the target survives' <<'END'
	crash pfc caught E0005678
	mkdir -p "$O/ps/fc"
	ps_pd fc.calls -v -r -ma -e 1 "$(field pfc pid)" "$(wpath "$O/ps/fc")"
	expect_rc 0
	expect_out 'Exception: E0005678.UNKNOWN'
	expect_out 'Dump 1 cloned'
	expect_err "took a PSS snapshot of process $(field pfc pid)"
	grep -q '^free: 0 snapshots and 0 walk markers left$' "$O/ps/fc.calls" || fail "not all freed: $(cat "$O/ps/fc.calls")"
	f=$(one_dump "$O/ps/fc")
	yaml "$f" "$O/ps/fc/y"
	exception_is "$O/ps/fc/y" 0xE0005678 "$(field pfc tid)"
	[ "$(ex_field "$O/ps/fc/y" 'Parameter 1')" = 0x22 ] || fail "parameter 1 is not 0x22"
	lldb_do "$f" "$O/ps/fc/l" 'thread list' 'bt'
	grep -q 'crasher.exe`main' "$O/ps/fc/l" || fail "lldb: the faulting thread's walk does not reach main"
	wait_for "$O/pfc.log" '^survived' 20 || fail "the target did not survive its caught exception"
END

# A target whose DACL grants all but PROCESS_CREATE_PROCESS (which the
# capture's VA clone needs): procdump cannot open it for a snapshot, -v
# says so, and the in-memory clone writes the dump.
t 'pss: a target that denies PROCESS_CREATE_PROCESS gets the in-memory clone, -v says why' <<'END'
	start_target pr "$T/target.exe" 1 4
	pid=$(field pr pid)
	$WINE "$T/procdacl.exe" "$pid" 'D:(A;;0x1FFF7F;;;WD)' >"$O/ps-dacl.txt" 2>&1 || true
	grep -q '^set 0' "$O/ps-dacl.txt" || fail "cannot set the target's DACL: $(cat "$O/ps-dacl.txt")"
	ps_pd rights -v -r -mm "$pid" "$(wpath "$O/ps/r.dmp")"
	expect_rc 0
	expect_err "\[v\] -r: cannot open process $pid for a PSS snapshot, the in-memory clone instead: .* (5)"
	expect_err 'cloned [0-9]* MB in .* runs on'
	[ ! -s "$O/ps/rights" ] || fail "the provider was called: $(cat "$O/ps/rights")"
	has_bytes "$O/ps/r.dmp" pr stack "the stack local"
	stop_target pr
END

# The native view of a 32-bit target (-64) is the snapshot's to take (its
# contexts are the 64-bit ones): AMD64 contexts, wow64.dll listed, every
# thread the target printed.
t 'pss: -r -64 of a 32-bit target takes the snapshot: AMD64 contexts, wow64.dll, every thread' <<'END'
	[ "$W32" = 1 ] || skip "32-bit programs do not run here"
	ps_target32
	start_target pn "$T/target32.exe" 3 4
	pid=$(field pn pid)
	ps_pd native -v -r -64 -mm "$pid" "$(wpath "$O/ps/n.dmp")"
	expect_rc 0
	expect_err "took a PSS snapshot of process $pid (5 threads)"
	yaml "$O/ps/n.dmp" "$O/ps/n.yaml"
	grep -q 'Processor Arch: *AMD64$' "$O/ps/n.yaml" || fail "SystemInfo is not AMD64"
	n=$(awk '/^ *Context: /{ c = $2; gsub(/\047/, "", c); print length(c) / 2 }' "$O/ps/n.yaml" | sort -u)
	[ "$n" = 1232 ] || fail "context sizes '$n', want 1232"
	grep -qi "Module Name:.*wow64.dll" "$O/ps/n.yaml" || fail "wow64.dll is not in the module list"
	for tid in $(tids pn); do
		grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/ps/n.yaml" || fail "thread $tid missing"
	done
	stop_target pn
END
