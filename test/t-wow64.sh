# t-wow64.sh - 32-bit targets: procdump.exe (i686) and procdump64's x86 and
# native views.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'wow64: what must hold' <<'END'
#   	commands
#   END
#
# Under Wine they run in its "new WoW64" mode, given the 32-bit PE DLLs that
# test/deps.sh unpacks into .deps/wine32 (doc/WINE.md §0: a 32-bit exe that cannot
# run exits 0 silently, so each test first checks that the 32-bit target
# printed its PID).

# need_w32: skip the test where 32-bit programs do not run (see w32_probe)
need_w32() {
	[ "$W32" = 1 ] || skip "32-bit programs do not run here (Wine needs the DLLs sh test/deps.sh puts in .deps/wine32, and version 7 or later)"
}
# w32_setup: start the 32-bit target and write its dumps, once: -mm by
# procdump.exe (i686-mini), -mm and -ma by procdump64 (the x86 view: mini,
# full), -64 -mm (the native view: native); lldb's and obj2yaml's readings
w32_setup() {
	need_w32
	[ -f "$O/w32.log" ] && return 0
	i686-w64-mingw32-gcc $TCFLAGS "$T/target.c" -o "$T/target32.exe" -ladvapi32 || fail "cannot build target32.exe"
	file "$T/target32.exe" | grep -q 'Intel 80386' || fail "target32.exe is not i386"
	mkdir -p "$O/w32dll"
	i686-w64-mingw32-gcc $TCFLAGS -shared "$T/testdll.c" -o "$O/w32dll/pdtestdll.dll" || fail "cannot build the 32-bit DLL"
	start_target w32 "$T/target32.exe" 3 4 "$(wpath "$O/w32dll/pdtestdll.dll")"
	[ -n "$(field w32 pid)" ] || fail "the 32-bit target printed no PID"
	mkdir -p "$O/w32"
	pid=$(field w32 pid)
	pd32 -mm "$pid" "$(wpath "$O/w32/i686-mini.dmp")"
	[ "$RC" = 0 ] || fail "procdump.exe -mm exited $RC: $(cat "$O/pd.err")"
	pd -mm "$pid" "$(wpath "$O/w32/mini.dmp")"
	[ "$RC" = 0 ] || fail "procdump64 -mm exited $RC: $(cat "$O/pd.err")"
	pd -ma "$pid" "$(wpath "$O/w32/full.dmp")"
	[ "$RC" = 0 ] || fail "procdump64 -ma exited $RC: $(cat "$O/pd.err")"
	pd -64 -mm "$pid" "$(wpath "$O/w32/native.dmp")"
	[ "$RC" = 0 ] || fail "procdump64 -64 -mm exited $RC: $(cat "$O/pd.err")"
	for k in i686-mini mini full native; do
		lldb_do "$O/w32/$k.dmp" "$O/w32/$k.lldb" 'bt all'
		yaml "$O/w32/$k.dmp" "$O/w32/$k.yaml"
	done
}
# w32_x86_dump NAME: the dump is an x86 one of the 32-bit target, as lldb
# and obj2yaml read it: i386, 716-byte contexts, the target's own thread ids,
# backtraces into its functions, 32-bit modules only, nothing above 4 GiB
w32_x86_dump() {
	y=$O/w32/$1.yaml
	grep -q 'Core file .* (i386) was loaded' "$O/w32/$1.lldb" || fail "$1: lldb does not load an i386 core"
	grep -q 'Processor Arch: *X86$' "$y" || fail "$1: SystemInfo is not X86"
	for tid in $(tids w32); do
		grep -qi "Thread Id: *$(hexaddr "$tid")\$" "$y" || fail "$1: thread $tid missing"
	done
	n=$(awk '/^ *Context: /{ c = $2; gsub(/\047/, "", c); print length(c) / 2 }' "$y" | sort -u)
	[ "$n" = 716 ] || fail "$1: context sizes '$n', want 716"
	[ "$(grep -Ec 'target32.exe`_?target_worker' "$O/w32/$1.lldb")" -ge 3 ] || fail "$1: lldb does not walk to target_worker"
	grep -Eq 'target32.exe`_?target_heartbeat' "$O/w32/$1.lldb" || fail "$1: lldb does not walk to target_heartbeat"
	! grep -qi "Module Name:.*wow64" "$y" || fail "$1: a 64-bit module (wow64) in the x86 view"
	! grep -q 'Base of Image: *0x[0-9A-Fa-f]\{9,\}' "$y" || fail "$1: a module above 4 GiB"
}

t 'wow64: procdump.exe (i686) dumps a 32-bit process: i386, its threads, backtraces' <<'END'
	w32_setup
	w32_x86_dump i686-mini
END

t 'wow64: procdump64 writes the x86 view: 716-byte contexts, 32-bit modules, the target bytes, below 4 GiB, 32-bit unload trace' <<'END'
	w32_setup
	w32_x86_dump mini
	w32_x86_dump full
	# the bytes the target reported: its stack local and heap block (Mini),
	# its 1 MiB private marker (Full)
	for f in stack indirect; do
		has_bytes "$O/w32/mini.dmp" w32 $f "x86 -mm: the $f"
	done
	has_bytes "$O/w32/full.dmp" w32 marker "x86 -ma: the marker"
	# the memory map stops at 4 GiB; the process and thread tokens are there
	last=$(awk '/Base Address:/ { b = $NF } /Region Size:/ { s = $NF } END { print b, s }' "$O/w32/full.yaml")
	[ $(( ${last% *} + ${last#* } )) -le 4294967296 ] || fail "x86 -ma: MemoryInfoList goes past 4 GiB ($last)"
	grep -q 'Type: *Token$' "$O/w32/mini.yaml" || fail "x86 -mm: no Token stream"
	# the unload trace of the 32-bit ntdll, with the DLL the target unloaded
	unloaded_has w32 "$O/w32/mini"
	unloaded_has w32 "$O/w32/i686-mini"
END

t 'wow64: -64 writes the native view: AMD64 contexts, wow64.dll listed, x86 registers recoverable (lldb)' <<'END'
	w32_setup
	y=$O/w32/native.yaml
	grep -q 'Core file .* (x86_64) was loaded' "$O/w32/native.lldb" || fail "-64: lldb does not load an x86_64 core"
	grep -q 'Processor Arch: *AMD64$' "$y" || fail "-64: SystemInfo is not AMD64"
	n=$(awk '/^ *Context: /{ c = $2; gsub(/\047/, "", c); print length(c) / 2 }' "$y" | sort -u)
	[ "$n" = 1232 ] || fail "-64: context sizes '$n', want 1232"
	grep -qi "Module Name:.*wow64.dll" "$y" || fail "-64: wow64.dll is not in the module list"
	# lldb sees wow64.dll and reads each thread's x86 context at
	# TEB64.TlsSlots[1] + 4: the workers' x86 PCs are where the x86 view
	# has them, sleeping in the 32-bit ntdll
	w=$(sed -n 's/.*frame #0: \(0x[0-9a-f]*\) ntdll.dll`NtDelayExecution.*/\1/p' "$O/w32/mini.lldb" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
	[ -n "$w" ] || fail "the x86 view shows no thread in NtDelayExecution"
	n=0
	for pc in $(sed -n 's/.*frame #0: \(0x[0-9a-f]*\).*/\1/p' "$O/w32/native.lldb"); do
		[ "$(echo "$pc" | sed 's/^0x0*/0x/')" = "$w" ] && n=$((n + 1))
	done
	[ $n -ge 3 ] || fail "-64: lldb finds the x86 PC $w on $n threads, want 3 (no WOW64 CPU area in the dump?)"
END

t 'wow64: x86 -mt filters 4-byte stack words and still walks; x86 -mp keeps the marker, smaller than -ma' <<'END'
	w32_setup
	pid=$(field w32 pid)
	pd -mt "$pid" "$(wpath "$O/w32/t.dmp")"
	expect_rc 0
	got=$(read16 "$O/w32/t.dmp" "0x$(field w32 stack)" "$O/w32/ts.txt")
	[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "x86 -mt stack local: '$got', want 4-byte 0defaced words"
	lldb_do "$O/w32/t.dmp" "$O/w32/t.lldb" 'bt all'
	grep -Eq 'target32.exe`_?target_heartbeat' "$O/w32/t.lldb" || fail "x86 -mt stacks no longer walk"
	pd -mp "$pid" "$(wpath "$O/w32/p.dmp")"
	expect_rc 0
	has_bytes "$O/w32/p.dmp" w32 marker "x86 -mp lacks the private marker"
	[ "$(wc -c <"$O/w32/p.dmp")" -lt "$(wc -c <"$O/w32/full.dmp")" ] || fail "x86 -mp is not smaller than -ma"
END

t 'wow64: Breakpad minidump_dump reads the x86 view' <<'END'
	need_bp
	w32_setup
	bp_dump "$O/w32/mini.dmp" "$O/w32/bp.txt" "$O/w32/bp.err"
	grep -q "process_id *= $(field w32 pid)\$" "$O/w32/bp.txt" || fail "Breakpad: MiscInfo process_id is not the target's"
	grep -q 'processor_architecture *= 0x0 (x86)$' "$O/w32/bp.txt" || fail "Breakpad: processor_architecture is not x86 (0)"
	grep -q '(code_file) *= ".*target32.exe"' "$O/w32/bp.txt" || fail "Breakpad: no target32.exe module"
END

# The -r limit message through the i686 build, where a %lld given an int
# once printed "the limit of 55242745534480385 clones"; a slow dump makes
# the second trigger of the series wait for the first.
t 'wow64: procdump.exe (i686) prints the -r limit as its number' <<'END'
	w32_setup
	mkdir -p "$O/w32r"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd32 -r -ma -n 2 -s 1 "$(field w32 pid)" "$(wpath "$O/w32r")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	expect_rc 0
	expect_out 'Dump 2 waits: the limit of 1 clones being written is reached (-r)'
	[ "$(ls "$O/w32r" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$O/w32r")"
END

# Every dump above held the 32-bit target still: it runs on afterwards, and
# one more -mm (procdump64's hold, then procdump.exe's) leaves it running.
# (Under Wine's new WoW64 mode a debugger's attach makes its injected
# thread fault after the detach and the target dies: procdump holds a
# WOW64 process by the guarded suspension instead.)
t 'wow64: the 32-bit target runs on after every dump' <<'END'
	w32_setup
	pid=$(field w32 pid)
	pd -mm "$pid" "$(wpath "$O/w32/again.dmp")"
	expect_rc 0
	pd32 -mm "$pid" "$(wpath "$O/w32/again32.dmp")"
	expect_rc 0
	alive w32 || fail "the 32-bit target stopped after the dumps: $(tail -n 3 "$O/w32.log")"
	kill -0 "$(upid w32)" || fail "the 32-bit target is gone"
	# (the heartbeat is one thread's: a last dump shows every suspend count)
	pd32 -mm -o "$pid" "$(wpath "$O/w32/after32.dmp")"
	expect_rc 0
	yaml "$O/w32/after32.dmp" "$O/w32/after32.yaml"
	! grep -q 'Suspend Count' "$O/w32/after32.yaml" || fail "a thread of the 32-bit target is left suspended"
END
