# t-writer.sh - the dump writer: what each dump type holds, checked by lldb,
# obj2yaml and Breakpad.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'writer: what must hold' <<'END'
#   	commands
#   END
#
# One target (3 workers, a heap marker, a stack marker) and one dump of each
# type, checked by lldb, obj2yaml and Breakpad.

# wr_setup: start the target and write its -mm and -ma dumps (wr/mini.dmp,
# wr/full.dmp) with lldb's and obj2yaml's readings beside them; once
wr_setup() {
	[ -f "$O/wr.log" ] && return 0
	start_target wr "$T/target.exe" 3 4 "$(wpath "$T/pdtestdll.dll")"
	mkdir -p "$O/wr"
	pd -mm "$(field wr pid)" "$(wpath "$O/wr/mini.dmp")"
	[ "$RC" = 0 ] || fail "-mm exited $RC: $(cat "$O/pd.err")"
	pd -ma -dc "written by the test suite" "$(field wr pid)" "$(wpath "$O/wr/full.dmp")"
	[ "$RC" = 0 ] || fail "-ma exited $RC: $(cat "$O/pd.err")"
	for k in mini full; do
		lldb_do "$O/wr/$k.dmp" "$O/wr/$k.lldb" 'thread list' 'bt all' 'image list'
		_rc=0
		timeout 60 obj2yaml "$O/wr/$k.dmp" >"$O/wr/$k.yaml" 2>&1 || _rc=$?
		echo $_rc >"$O/wr/$k.yamlrc"
	done
}

t 'writer: lldb and obj2yaml load the -mm and -ma dumps' <<'END'
	wr_setup
	for k in mini full; do
		grep -q "Core file .* was loaded" "$O/wr/$k.lldb" || fail "lldb did not load $k.dmp"
		[ "$(cat "$O/wr/$k.yamlrc")" = 0 ] || fail "obj2yaml rejects $k.dmp: $(head -n 3 "$O/wr/$k.yaml")"
	done
END

t 'writer: every thread id the target printed is in both dumps' <<'END'
	wr_setup
	n=0
	for tid in $(tids wr); do
		n=$((n + 1))
		h=$(printf '0x%04x' "$tid")
		H=$(printf '0x%X' "$tid")
		for k in mini full; do
			grep -q "tid = $h," "$O/wr/$k.lldb" || fail "lldb: thread $tid missing from $k.dmp"
			grep -q "Thread Id: *$H\$" "$O/wr/$k.yaml" || fail "obj2yaml: thread $tid missing from $k.dmp"
		done
	done
	[ $n = 5 ] || fail "the target printed $n thread ids, wanted 5"
END

t 'writer: lldb bt all names the target functions on every thread' <<'END'
	wr_setup
	for k in mini full; do
		walks_target_stacks "$O/wr/$k.lldb" "$k"
	done
END

t 'writer: -ma holds the heap marker bytes at their address (4 MiB, first and last bytes)' <<'END'
	wr_setup
	addr=0x$(field wr marker)
	has_bytes "$O/wr/full.dmp" wr marker "-ma lacks the heap marker"
	# the whole 4 MiB buffer is there: its last bytes too
	end=$(printf '0x%x' $((addr + 4 * 1048576 - 16)))
	lldb_do "$O/wr/full.dmp" "$O/wr/m2.txt" "memory read --force -c 16 $end"
	grep -q "^0x0*${end#0x}: " "$O/wr/m2.txt" || fail "end of the marker buffer missing: $(tail -n 2 "$O/wr/m2.txt")"
END

t 'writer: -mm holds the stack local, not the heap marker' <<'END'
	wr_setup
	has_bytes "$O/wr/mini.dmp" wr stack "-mm lacks the stack local"
	lldb_do "$O/wr/mini.dmp" "$O/wr/h.txt" "memory read --force -c 16 0x$(field wr marker)"
	! grep -q '^0x[0-9a-f]*: ' "$O/wr/h.txt" || fail "the mini dump holds the heap marker"
END

t 'writer: -mm holds indirectly referenced heap (not beyond its window) and .data globals' <<'END'
	wr_setup
	a=0x$(field wr indirect)
	has_bytes "$O/wr/mini.dmp" wr indirect "the heap block a stack pointer refers to is not in -mm"
	far=$(printf '0x%x' $((a + 32768)))
	got=$(read16 "$O/wr/mini.dmp" "$far" "$O/wr/i2.txt")
	[ -z "$got" ] || fail "-mm holds bytes 32 KiB into that block (no pointer refers there)"
	has_bytes "$O/wr/mini.dmp" wr data "the .data global is not in -mm (DataSegs)"
END

t 'writer: -mm holds the TEBs, the PEB and the command line (NtTib.Self, PEB chain)' <<'END'
	wr_setup
	m="$O/wr/mini.dmp"
	teb=$(awk '/Thread Id: *0x/ { n++ } n == 1 && /Environment Block:/ { print $NF; exit }' "$O/wr/mini.yaml")
	[ -n "$teb" ] || fail "no TEB address in the thread list"
	self=$(peek64 "$m" "$(printf '0x%x' $((teb + 0x30)))")
	[ $((self)) = $((teb)) ] || fail "TEB NtTib.Self is $self, not $teb"
	peb=$(peek64 "$m" "$(printf '0x%x' $((teb + 0x60)))")
	params=$(peek64 "$m" "$(printf '0x%x' $((peb + 0x20)))")
	cmd=$(peek64 "$m" "$(printf '0x%x' $((params + 0x78)))") # CommandLine.Buffer
	lldb_do "$m" "$O/wr/c.txt" "memory read --force -c 128 $cmd"
	# UTF-16: lldb shows "t.a.r.g.e.t...e.x.e"; drop the dots and the line breaks
	sed -n 's/^0x[0-9a-f]*: [0-9a-f ]*  //p' "$O/wr/c.txt" | tr -d '.\n' | grep -q 'targetexe' ||
		fail "the command line (at $cmd) does not read back: $(tail -n 3 "$O/wr/c.txt")"
END

t 'writer: streams per type, one memory list, no duplicates, -dc comment, ProcessVMCounters' <<'END'
	wr_setup
	grep '^  - Type:' "$O/wr/mini.yaml" | awk '{print $3}' >"$O/wr/mini.types"
	grep '^  - Type:' "$O/wr/full.yaml" | awk '{print $3}' >"$O/wr/full.types"
	for s in SystemInfo MiscInfo ThreadList ModuleList MemoryInfoList MemoryList ThreadInfoList 0x18 UnloadedModuleList; do
		grep -qx "$s" "$O/wr/mini.types" || fail "mini lacks $s"
	done
	for s in SystemInfo MiscInfo ThreadList ModuleList MemoryInfoList Memory64List CommentA CommentW; do
		grep -qx "$s" "$O/wr/full.types" || fail "full lacks $s"
	done
	# ProcessVMCounters (22): MINIDUMP_PROCESS_VM_COUNTERS_2, revision 2,
	# flags 7; private usage holds the 4 MiB marker the target touched
	for k in mini full; do
		grep -qx ProcessVMCounters "$O/wr/$k.types" || fail "$k lacks ProcessVMCounters"
		vm=$(stream_bytes "$O/wr/$k.yaml" ProcessVMCounters)
		[ ${#vm} = 304 ] || fail "$k: ProcessVMCounters is $(( ${#vm} / 2 )) bytes, want 152"
		[ "$(echo "$vm" | cut -c1-8)" = 02000700 ] || fail "$k: ProcessVMCounters revision/flags $(echo "$vm" | cut -c1-8)"
		priv=$((0x$(le "$(echo "$vm" | cut -c177-192)"))) virt=$((0x$(le "$(echo "$vm" | cut -c161-176)")))
		[ $priv -ge 4194304 ] && [ $virt -ge $priv ] || fail "$k: PrivateUsage $priv, VirtualSize $virt"
	done
	! grep -qx MemoryList "$O/wr/full.types" || fail "full has a MemoryList as well"
	! grep -qx Memory64List "$O/wr/mini.types" || fail "mini has a Memory64List as well"
	for k in mini full; do
		d=$(sort "$O/wr/$k.types" | uniq -d)
		[ -z "$d" ] || fail "$k: duplicate streams $d"
	done
	want=$(printf '%s' 'written by the test suite' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)00
	[ "$(stream_bytes "$O/wr/full.yaml" CommentA)" = "$want" ] ||
		fail "the -dc comment is not in CommentStreamA (want $want)"
	wantw=$(printf '%s' 'written by the test suite' | od -An -tx1 | tr -d ' \n' | sed 's/\(..\)/\100/g' | tr a-f A-F)0000
	[ "$(stream_bytes "$O/wr/full.yaml" CommentW)" = "$wantw" ] ||
		fail "the -dc comment is not in CommentStreamW"
END

t 'writer: CodeView GUID and age match the PE (lldb UUID and obj2yaml bytes)' <<'END'
	wr_setup
	sig=$(x86_64-w64-mingw32-objdump -p "$T/target.exe" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
	[ -n "$sig" ] || fail "objdump finds no RSDS record in target.exe"
	guid=${sig% *} age=${sig#* }
	# lldb's UUID for the module is GUID-age, from the dump's CodeView record
	want=$(echo "$guid" | tr a-f A-F | sed 's/\(........\)\(....\)\(....\)\(....\)\(.*\)/\1-\2-\3-\4-\5/')-$(printf '%08X' "$age")
	grep -q "$want .*target.exe" "$O/wr/mini.lldb" || fail "lldb: no module target.exe with UUID $want"
	# obj2yaml: the raw record is 'RSDS', GUID (mixed endian), age (LE), name, NUL
	cv=$(grep -A20 "Module Name: *'.*target.exe'" "$O/wr/full.yaml" | sed -n 's/.*CodeView Record: *\([0-9A-F]*\).*/\1/p' | head -n 1)
	raw=$(echo "$guid" | tr a-f A-F | sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(.*\)/\4\3\2\1\6\5\8\7\9/')
	agele=$(printf '%08X' "$age" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
	case $cv in 52534453"$raw$agele"*00) ;; *) fail "CodeView record $cv != RSDS $raw $agele" ;; esac
END

t 'writer: every module has a CodeView record exactly when its file has RSDS, and they match' <<'END'
	wr_setup
	# each module of the dump against its file: RSDS there <=> the same record here
	awk '/Module Name:/ { sub(/.*Module Name: */, ""); gsub(/\x27/, ""); name = $0 }
	     /CodeView Record:/ { sub(/.*CodeView Record: */, ""); gsub(/\x27/, ""); print name "|" $0 }' \
		"$O/wr/full.yaml" >"$O/wr/cv"
	[ "$(wc -l <"$O/wr/cv")" -ge 4 ] || fail "fewer than 4 modules"
	while IFS='|' read -r name cv; do
		case $name in
		[Cc]:\\windows\\system32\\*) file="$WINEDLLS/$(printf '%s' "${name##*\\}" | tr 'A-Z' 'a-z')" ;;
		Z:*) file=$(printf '%s' "${name#Z:}" | tr '\\' /) ;;
		*) fail "unexpected module path $name" ;;
		esac
		[ -f "$file" ] || fail "no file for module $name ($file)"
		sig=$(x86_64-w64-mingw32-objdump -p "$file" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
		if [ -z "$sig" ]; then
			[ -z "$cv" ] || fail "$name has no RSDS in its file but a CodeView record in the dump"
		else
			raw=$(echo "${sig% *}" | tr a-f A-F | sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(.*\)/\4\3\2\1\6\5\8\7\9/')
			case $cv in 52534453"$raw"*) ;; *) fail "$name: CodeView $cv does not match the file's RSDS" ;; esac
		fi
	done <"$O/wr/cv"
END

t 'writer: Breakpad minidump_dump accepts -mm (exit 0): PID, threads, CodeView id, MiscInfo level 5' <<'END'
	need_bp
	wr_setup
	bp_dump "$O/wr/mini.dmp" "$O/wr/bp.txt" "$O/wr/bp.err"
	pid=$(field wr pid)
	grep -q "process_id *= $pid\$" "$O/wr/bp.txt" || fail "Breakpad: MiscInfo process_id is not $pid"
	grep -q "process_create_time *= 0x[0-9a-f]* $(date -u +%Y-%m-%d)" "$O/wr/bp.txt" ||
		fail "Breakpad: process_create_time is not today: $(grep process_create_time "$O/wr/bp.txt")"
	! grep -q ' ERROR: ' "$O/wr/bp.err" || fail "Breakpad: $(grep -m 1 ' ERROR: ' "$O/wr/bp.err")"
	# MiscInfo level 5: times, processor power, integrity, time zone, build strings
	grep -q 'size_of_info *= 1364$' "$O/wr/bp.txt" || fail "Breakpad: MiscInfo is not level 5 (1364)"
	grep -q 'dbg_bld_str *= procdump.c.amd64,' "$O/wr/bp.txt" || fail "Breakpad: no dbg_bld_str naming procdump.c"
	grep -q 'build_string *= [0-9]' "$O/wr/bp.txt" || fail "Breakpad: no OS build string"
	grep -q 'time_zone.standard_name *= [A-Za-z]' "$O/wr/bp.txt" || fail "Breakpad: no time zone"
	grep -q 'process_integrity_level *= 0x' "$O/wr/bp.txt" || fail "Breakpad: no integrity level"
	for tid in $(tids wr); do
		grep -q "thread_id *= $(hexaddr "$tid")\$" "$O/wr/bp.txt" || fail "Breakpad: thread $tid missing"
	done
	sig=$(x86_64-w64-mingw32-objdump -p "$T/target.exe" | sed -n 's/.*format RSDS signature \([0-9a-f]*\) age \([0-9]*\).*/\1 \2/p')
	want=$(echo "${sig% *}" | tr a-f A-F)$(printf '%X' "${sig#* }")
	grep -q "(debug_identifier) *= \"$want\"" "$O/wr/bp.txt" || fail "Breakpad: no debug identifier $want"
	grep -q '(code_file) *= ".*target.exe"' "$O/wr/bp.txt" || fail "Breakpad: no target.exe module"
END

t 'writer: thread names and the unloaded-module stream, as Breakpad reads them' <<'END'
	need_bp
	wr_setup
	for k in mini full; do
		# (it exits 1 on a full dump: it wants a MemoryList, and a full
		# dump has a Memory64List, as Windows' own have; that is the one
		# error it may log)
		"$BP" "$O/wr/$k.dmp" >"$O/wr/bp-$k.txt" 2>"$O/wr/bp-$k.err" || true
		! grep 'ERROR' "$O/wr/bp-$k.err" | grep -qv 'GetMemoryList() failed' ||
			fail "$k: Breakpad: $(grep ERROR "$O/wr/bp-$k.err" | head -n 2)"
		grep -q 'thread_name *= "pd-main"' "$O/wr/bp-$k.txt" || fail "$k: Breakpad shows no thread named pd-main"
		for w in 1 2 3; do
			grep -q "thread_name *= \"pd-worker-$w\"" "$O/wr/bp-$k.txt" || fail "$k: no thread named pd-worker-$w"
		done
		grep -q 'stream_type *= 0xe (MD_UNLOADED_MODULE_LIST_STREAM)' "$O/wr/bp-$k.txt" ||
			fail "$k: no unloaded-module stream"
		! grep -q 'MinidumpUnloadedModule' "$O/wr/bp-$k.err" ||
			fail "$k: Breakpad: $(grep -m 1 MinidumpUnloaded "$O/wr/bp-$k.err")"
	done
END

t 'writer: UnloadedModuleList holds the test DLL the target unloaded: base, size, name (obj2yaml)' <<'END'
	wr_setup
	unloaded_has wr "$O/wr/mini"
END

t 'writer: ThreadInfoList: 12/64 header, every thread, running, times and start address' <<'END'
	wr_setup
	# MINIDUMP_THREAD_INFO_LIST from obj2yaml's raw bytes: header 12/64/n, then
	# per thread: id, flags, error, exit status (0x103 = running), times, start
	hex=$(stream_bytes "$O/wr/mini.yaml" ThreadInfoList)
	[ -n "$hex" ] || fail "no ThreadInfoList (stream 17)"
	[ "$(u32at 0 "$hex")" = 12 ] || fail "header size is not 12"
	[ "$(u32at 4 "$hex")" = 64 ] || fail "entry size is not 64"
	n=$(u32at 8 "$hex")
	[ $n = 5 ] || fail "$n entries, want 5"
	i=0
	while [ $i -lt $n ]; do
		e=$(echo "$hex" | cut -c$((25 + 128 * i))-$((24 + 128 * (i + 1))))
		tid=$(u32at 0 "$e")
		tids wr | grep -qx "$tid" || fail "entry $i: thread $tid is not one of the target's"
		[ "$(u32at 12 "$e")" = 259 ] || fail "thread $tid: exit status is not STILL_ACTIVE (0x103)"
		[ "$(echo "$e" | cut -c33-48)" != 0000000000000000 ] || fail "thread $tid: no create time"
		[ "$(echo "$e" | cut -c97-112)" != 0000000000000000 ] || fail "thread $tid: no start address"
		i=$((i + 1))
	done
END

t 'writer: HandleData lists the named event with its type (dump done despite a blocked pipe)' <<'END'
	wr_setup
	pid=$(field wr pid)
	for k in mini full; do
		# obj2yaml gives the stream's bytes: header 16/40/n/0, descriptors of
		# 40 bytes; the names are MINIDUMP_STRINGs at their RVAs in the file
		hex=$(stream_bytes "$O/wr/$k.yaml" HandleData)
		[ -n "$hex" ] || fail "$k: no HandleData stream (12)"
		[ "$(le "$(echo "$hex" | cut -c1-8)")" = 00000010 ] || fail "$k: header size is not 16"
		[ "$(le "$(echo "$hex" | cut -c9-16)")" = 00000028 ] || fail "$k: descriptor size is not 40"
		n=$((0x$(le "$(echo "$hex" | cut -c17-24)")))
		[ $n -ge 3 ] || fail "$k: only $n handles"
		str() { # the MINIDUMP_STRING at RVA $1, as ASCII
			_len=$((0x$(od -An -tx1 -j "$1" -N 4 "$O/wr/$k.dmp" | tr -d ' \n' | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')))
			od -An -c -j $(($1 + 4)) -N "$_len" "$O/wr/$k.dmp" | tr -d ' \n' | sed 's/\\0//g'
		}
		found=0 i=0
		while [ $i -lt $n ]; do
			e=$(echo "$hex" | cut -c$((33 + 80 * i))-$((32 + 80 * (i + 1))))
			tr=$((0x$(le "$(echo "$e" | cut -c17-24)"))) nr=$((0x$(le "$(echo "$e" | cut -c25-32)")))
			if [ $nr != 0 ] && str "$nr" | grep -q "PdTestEvent-$pid\$"; then
				[ $tr != 0 ] && [ "$(str "$tr")" = Event ] || fail "$k: PdTestEvent-$pid has type '$(str "$tr")'"
				found=1
			fi
			i=$((i + 1))
		done
		[ $found = 1 ] || fail "$k: no Event handle named PdTestEvent-$pid among $n"
	done
END

# mask_dump MASK NAME [FLAGS]: the -mc MASK dump of the writer target as
# wm/NAME.dmp, exit 0; with FLAGS, the header Flags file(1) reads (0x...)
mask_dump() {
	wr_setup
	mkdir -p "$O/wm"
	pd -mc "$1" "$(field wr pid)" "$(wpath "$O/wm/$2.dmp")"
	expect_rc 0
	[ -z "${3:-}" ] || file "$O/wm/$2.dmp" | grep -q " $3 type" ||
		fail "-mc $1: Flags not $3: $(file "$O/wm/$2.dmp")"
}

# -mc 0 is MiniDumpNormal: stacks, no optional streams, Flags 0
t 'writer: -mc 0 (MiniDumpNormal): Custom, Flags 0, the stacks, no optional streams, no indirect memory' <<'END'
	wr_setup
	mkdir -p "$O/wm"
	pd -mc 0 -json "$(wpath "$O/wm/normal.jsonl")" "$(field wr pid)" "$(wpath "$O/wm/normal.dmp")"
	expect_rc 0
	expect_out 'Dump 1 complete'
	[ "$(jl1 "$O/wm/normal.jsonl" 'by("dump_end")[0]["type"]')" = Custom ] ||
		fail "-mc 0: the dump's type is not Custom: $(jl "$O/wm/normal.jsonl" 'by("dump_end")')"
	yaml "$O/wm/normal.dmp" "$O/wm/normal.yaml"
	for s in MemoryInfoList ThreadInfoList HandleData UnloadedModuleList Memory64List; do
		! grep -q "Type: *$s\$" "$O/wm/normal.yaml" || fail "-mc 0 wrote $s"
	done
	file "$O/wm/normal.dmp" | grep -q ', 0 type' || fail "-mc 0: Flags not 0: $(file "$O/wm/normal.dmp")"
	got=$(read16 "$O/wm/normal.dmp" "0x$(field wr stack)" "$O/wm/s.txt")
	[ -n "$got" ] || fail "-mc 0 lacks the stack"
	got=$(read16 "$O/wm/normal.dmp" "0x$(field wr indirect)" "$O/wm/i.txt")
	[ -z "$got" ] || fail "-mc 0 holds indirectly referenced memory"
END

# an unsupported bit is named on stderr and left out of Flags
t 'writer: -mc 0x400004: the unsupported bit is named (WithIptTrace) and left out of Flags, HandleData written' <<'END'
	mask_dump 0x400004 ipt 0x4
	expect_err '0x400000 WithIptTrace'
	yaml "$O/wm/ipt.dmp" "$O/wm/ipt.yaml"
	grep -q 'Type: *HandleData' "$O/wm/ipt.yaml" || fail "-mc 0x4 wrote no HandleData"
END

# FilterMemory: the stack local's bytes become the 0defaced marker; the
# stacks still walk
t 'writer: -mc 0x8 (FilterMemory): the stack local reads 0defaced, the stacks still walk' <<'END'
	mask_dump 0x8 filter 0x8
	got=$(read16 "$O/wm/filter.dmp" "0x$(field wr stack)" "$O/wm/f.txt")
	[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "-mc 0x8 stack local: '$got', want the 0defaced marker"
	lldb_do "$O/wm/filter.dmp" "$O/wm/fl" 'bt all'
	grep -q 'target.exe`main' "$O/wm/fl" || fail "-mc 0x8 stacks no longer walk to main"
END

# FilterTriage with FullMemory: the stacks are in the Memory64 blob, which
# is not sanitized; the Flags must not claim it is
t 'writer: -mc 0x100002 (FilterTriage, FullMemory): a line says the stacks are not sanitized; Flags 0x2; the stack local is intact' <<'END'
	mask_dump 0x100002 trfull 0x2
	expect_err '0x100000 FilterTriage'
	has_bytes "$O/wm/trfull.dmp" wr stack "-mc 0x100002 lacks the stack local's own bytes"
END

# PrivateReadWrite: the 4 MiB private buffer, in a MemoryList
t 'writer: -mc 0x200 (PrivateReadWrite) holds the 4 MiB private marker' <<'END'
	mask_dump 0x200 prw
	has_bytes "$O/wm/prw.dmp" wr marker "-mc 0x200 lacks the private read/write marker"
END

# Breakpad reads the MemoryList of that -mc 0x200 dump (written by the case
# before; again here if that one did not get so far)
t 'writer: Breakpad minidump_dump takes the -mc 0x200 MemoryList and lists the region of the marker' <<'END'
	need_bp
	[ -f "$O/wm/prw.dmp" ] || mask_dump 0x200 prw
	# (minidump_dump exits 1 for any dump without MemoryInfoList: read its log)
	"$BP" "$O/wm/prw.dmp" >"$O/wm/bp.txt" 2>"$O/wm/bp.err" || true
	! grep -Eq 'GetMemoryList|MinidumpMemoryList|memory region' "$O/wm/bp.err" ||
		fail "Breakpad rejects the -mc 0x200 MemoryList: $(grep -m1 -i memory "$O/wm/bp.err")"
	# and it lists a region that holds the marker
	m=$((0x$(field wr marker))) in=0
	sed -n '/^MinidumpMemoryList/,$ { s/^  start_of_memory_range = \(0x[0-9a-f]*\)/\1/p; s/^  memory.data_size *= \(0x[0-9a-f]*\)/\1/p; }' \
		"$O/wm/bp.txt" | paste - - >"$O/wm/bp.regions"
	while read -r b n; do
		[ $m -ge $((b)) ] && [ $m -lt $((b + n)) ] && in=1
	done <"$O/wm/bp.regions"
	[ $in = 1 ] || fail "Breakpad lists no MemoryList region holding the marker $(field wr marker)"
END

# FilterModulePaths: module names without their folders
t 'writer: -mc 0x80 (FilterModulePaths): module names without their folders' <<'END'
	mask_dump 0x80 paths
	yaml "$O/wm/paths.dmp" "$O/wm/paths.yaml"
	grep -q "Module Name: *'\\?target.exe'\\?\$" "$O/wm/paths.yaml" || fail "-mc 0x80 kept the module path"
	! grep 'Module Name:' "$O/wm/paths.yaml" | grep -q '\\' || fail "-mc 0x80 left a path"
END

t 'writer: -mt: stacks sanitized (0defaced), still walk; no heap, names or optional streams' <<'END'
	wr_setup
	mkdir -p "$O/wt"
	pd -mt "$(field wr pid)" "$(wpath "$O/wt/t.dmp")"
	expect_rc 0
	expect_out 'Dump 1 complete'
	file "$O/wt/t.dmp" | grep -q ' 0x120804 type' || fail "Flags not 0x120804: $(file "$O/wt/t.dmp")"
	yaml "$O/wt/t.dmp" "$O/wt/y"
	for s in ThreadInfoList UnloadedModuleList Memory64List 0x18 Token ProcessVMCounters; do
		! grep -q "Type: *$s\$" "$O/wt/y" || fail "-mt wrote $s"
	done
	grep -q 'Type: *HandleData' "$O/wt/y" || fail "-mt has no HandleData"
	# handle names are gone: every descriptor's ObjectName RVA is 0
	hex=$(stream_bytes "$O/wt/y" HandleData)
	# (NumberOfDescriptors: the header's third u32, little-endian)
	n=$((0x$(echo "$hex" | cut -c17-24 | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')))
	[ "$n" -gt 0 ] && [ "${#hex}" -ge $((32 + 80 * n)) ] || fail "-mt HandleData: $n descriptors in ${#hex} hex digits"
	i=0
	while [ $i -lt "$n" ]; do
		e=$(echo "$hex" | cut -c$((33 + 80 * i))-$((32 + 80 * (i + 1))))
		[ "$(echo "$e" | cut -c25-32)" = 00000000 ] || fail "-mt handle $i has an object name"
		i=$((i + 1))
	done
	# the secret bytes of the stack local are overwritten; the heap is absent
	got=$(read16 "$O/wt/t.dmp" "0x$(field wr stack)" "$O/wt/s.txt")
	[ -n "$got" ] || fail "-mt lacks the stack"
	want=$(bytes_of wr stack)
	[ "$got" != "$want" ] || fail "-mt kept the stack local's bytes"
	[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "-mt stack local: $got, want the 0defaced marker"
	for f in marker indirect data; do
		got=$(read16 "$O/wt/t.dmp" "0x$(field wr $f)" "$O/wt/h.txt")
		want=$(bytes_of wr $f)
		[ "$got" != "$want" ] || fail "-mt holds the $f bytes"
	done
	# return addresses and frame links survive: lldb still walks the stacks
	lldb_do "$O/wt/t.dmp" "$O/wt/l" 'bt all'
	[ "$(grep -c 'target.exe`target_worker' "$O/wt/l")" -ge 3 ] || fail "-mt stacks no longer walk to target_worker"
	grep -q 'target.exe`main' "$O/wt/l" || fail "-mt stacks no longer walk to main"
END

t 'writer: -mp leaves out the 576 MB area but keeps the chunk a stack points into' <<'END'
	start_target ar "$T/load.exe" area 6 96
	pid=$(field ar pid)
	mkdir -p "$O/wp"
	pd -mp "$pid" "$(wpath "$O/wp/p.dmp")"
	expect_rc 0
	expect_out 'Dump 1 complete'
	expect_out 'MiniPlus: left out 6 allocations of 96 MB (576 MB)'
	file "$O/wp/p.dmp" | grep -q ' 0x71b65 type' || fail "Flags not 0x71b65: $(file "$O/wp/p.dmp")"
	yaml "$O/wp/p.dmp" "$O/wp/y"
	grep -q 'Type: *Memory64List' "$O/wp/y" || fail "-mp wrote no Memory64List"
	size=$(wc -c <"$O/wp/p.dmp")
	[ "$size" -lt $((256 << 20)) ] || fail "-mp is $size bytes: the 576 MB area was not left out"
	for f in ref other; do
		has_bytes "$O/wp/p.dmp" ar $f "-mp lacks the $f bytes"
	done
	got=$(read16 "$O/wp/p.dmp" "0x$(field ar block0)" "$O/wp/b0.txt")
	[ -z "$got" ] || fail "-mp holds block 0 of the excluded area"
	stop_target ar
END

t 'writer: Breakpad minidump_dump exits 0 on -mt and on -mc dumps with a MemoryList' <<'END'
	need_bp
	wr_setup
	pid=$(field wr pid)
	mkdir -p "$O/wb"
	for args in "-mt" "-mc 0xA00" "-mc 0x1805"; do
		f="$O/wb/$(echo "$args" | tr -d ' -').dmp"
		# shellcheck disable=SC2086
		pd $args "$pid" "$(wpath "$f")"
		expect_rc 0
		bp_dump "$f" "$f.txt" "$f.err"
		for tid in $(tids wr); do
			grep -q "thread_id *= $(hexaddr "$tid")\$" "$f.txt" || fail "$args: Breakpad lacks thread $tid"
		done
	done
END

t 'writer: -dbghelp writes -mm and -ma with the system MiniDumpWriteDump' <<'END'
	wr_setup
	pid=$(field wr pid)
	mkdir -p "$O/wd"
	pd -dbghelp -mm -dc "by dbghelp" "$pid" "$(wpath "$O/wd/m.dmp")"
	expect_rc 0
	yaml "$O/wd/m.dmp" "$O/wd/m.yaml"
	# Wine's dbghelp writes its private ELF module list (0xFFF0): it wrote this
	grep -q 'Type: *0xFFF0' "$O/wd/m.yaml" || fail "-dbghelp -mm was not written by Wine's dbghelp"
	grep -q 'Type: *CommentA' "$O/wd/m.yaml" || fail "-dbghelp lost the -dc comment"
	for tid in $(tids wr); do
		grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/wd/m.yaml" || fail "-dbghelp -mm lacks thread $tid"
	done
	pd -dbghelp -ma "$pid" "$(wpath "$O/wd/f.dmp")"
	expect_rc 0
	has_bytes "$O/wd/f.dmp" wr marker "-dbghelp -ma lacks the marker"
	alive wr || fail "the target stopped"
END

t 'writer: -md: the callback DLL leaves a thread out and adds a memory range' <<'END'
	wr_setup
	x86_64-w64-mingw32-gcc -O1 -Wall -Wextra -Werror -shared "$T/mdcallback.c" -o "$O/mdcallback.dll" ||
		fail "cannot build the callback DLL"
	pid=$(field wr pid)
	drop=$(sed -n 's/^tid=\([0-9]*\) role=worker.*/\1/p' "$O/wr.log" | tr -d '\r' | head -n 1)
	mk=0x$(field wr marker)
	mkdir -p "$O/wc2"
	PD_TEST_EXCLUDE_TID=$drop PD_TEST_ADD="${mk#0x}:1000" PD_TEST_LOG="$(wpath "$O/wc2/calls.txt")" \
		pd -md "$(wpath "$O/mdcallback.dll")" "$pid" "$(wpath "$O/wc2/c.dmp")"
	expect_rc 0
	expect_out 'Dump 1 complete'
	yaml "$O/wc2/c.dmp" "$O/wc2/y"
	! grep -q "Thread Id: *$(printf '0x%X' "$drop")\$" "$O/wc2/y" || fail "thread $drop was not left out"
	for tid in $(tids wr); do
		[ "$tid" = "$drop" ] && continue
		grep -q "Thread Id: *$(printf '0x%X' "$tid")\$" "$O/wc2/y" || fail "thread $tid is missing"
	done
	has_bytes "$O/wc2/c.dmp" wr marker "the callback's memory range is not in the dump"
	tr -d '\r' <"$O/wc2/calls.txt" >"$O/wc2/calls"
	grep -q '^type 3: 5$' "$O/wc2/calls" || fail "IncludeThread was not called once per thread: $(cat "$O/wc2/calls")"
	grep -q '^type 4: ' "$O/wc2/calls" || fail "IncludeModule was not called"
	grep -q '^type 5: 2$' "$O/wc2/calls" || fail "Memory was not called until it said no"
	pd -md "$(wpath "$O/no-such.dll")" "$pid"
	expect_rc 2
	expect_err '-md: cannot load'
END

t 'writer: a target whose threads come and go is dumped whole, six times' <<'END'
	start_target ch "$T/load.exe" churn 2
	mkdir -p "$O/wch"
	for k in 1 2 3; do
		for ty in mm ma; do
			pd -$ty "$(field ch pid)" "$(wpath "$O/wch/$ty$k.dmp")"
			expect_rc 0
			yaml "$O/wch/$ty$k.dmp" "$O/wch/$ty$k.yaml"
			n=$(grep -c '^      - Thread Id:' "$O/wch/$ty$k.yaml")
			[ "$n" -ge 3 ] || fail "$ty$k: only $n threads"
			# lldb loads it and lists the threads obj2yaml lists (a thread
			# whose context missed its deadline under Wine is still listed)
			lldb_do "$O/wch/$ty$k.dmp" "$O/wch/$ty$k.l" 'thread list'
			[ "$(grep -c 'tid = 0x' "$O/wch/$ty$k.l")" = "$n" ] || fail "$ty$k: lldb lists other threads than obj2yaml"
		done
	done
	alive ch || fail "the churning target stopped"
	stop_target ch
END

t 'writer: MemoryInfoList covers the address space; stacks hold RSP and end at StackBase' <<'END'
	wr_setup
	# MemoryInfoList as obj2yaml decodes it: from 0, ascending and contiguous,
	# free regions included, the guard page described as such
	awk '/Type: *MemoryInfoList/ { m = 1; next } m && /^  - Type:/ { exit }
	     m && /Base Address:/ { b = $NF } m && /Region Size:/ { print b, $NF }' "$O/wr/mini.yaml" >"$O/wr/mi"
	[ "$(wc -l <"$O/wr/mi")" -ge 20 ] || fail "MemoryInfoList has $(wc -l <"$O/wr/mi") entries"
	next=0
	while read -r b z; do
		[ $((b)) = $next ] || fail "region at $b does not follow the previous one (want $(printf '0x%x' $next))"
		next=$((b + z))
	done <"$O/wr/mi"
	[ $next -ge $((0x7ff000000000)) ] || fail "the map stops at $(printf '0x%x' $next), short of the top"
	grep -q 'MEM_FREE' "$O/wr/mini.yaml" || fail "no free region listed"
	g=$(printf '0x%X' $((0x$(field wr guard))))
	awk -v g="$g" '/Base Address:/ { hit = ($NF == g) } hit && /Protect:.*PAGE_GUARD/ { f = 1 } END { exit !f }' \
		"$O/wr/mini.yaml" || fail "the guard region at $g is not described with PAGE_GUARD"
	# every thread: the captured stack holds RSP (context offset 0x98) and,
	# for the main thread, ends at the TEB's StackBase
	awk '/Thread Id:/ { id = $NF } /Context:/ { ctx = $NF }
	     /Start of Memory Range:/ && ctx != "" { s = $NF }
	     /Content:/ && s != "" { print id, s, length($NF) / 2, substr(ctx, 305, 16); s = ""; ctx = "" }' \
		"$O/wr/mini.yaml" >"$O/wr/st"
	[ "$(wc -l <"$O/wr/st")" = 5 ] || fail "want 5 thread stacks, got $(wc -l <"$O/wr/st")"
	while read -r id s len rsp; do
		rsp=0x$(le "$rsp")
		[ $((rsp)) -ge $((s)) ] && [ $((rsp)) -lt $((s + len)) ] ||
			fail "thread $id: RSP $rsp is outside its stack [$s, +$len)"
	done <"$O/wr/st"
	teb=$(awk '/Thread Id: *0x/ { n++ } n == 1 && /Environment Block:/ { print $NF; exit }' "$O/wr/mini.yaml")
	base=$(peek64 "$O/wr/mini.dmp" "$(printf '0x%x' $((teb + 8)))")
	read -r id s len rsp <"$O/wr/st"
	[ $((s + len)) = $((base)) ] || fail "main stack ends at $(printf '0x%x' $((s + len))), StackBase is $base"
END

t 'writer: Memory64List ascending, no overlap, blob last and page-aligned' <<'END'
	wr_setup
	# Decode the Memory64List from obj2yaml's raw hex: count, BaseRva, (start,size)*
	hex=$(stream_bytes "$O/wr/full.yaml" Memory64List)
	[ -n "$hex" ] || fail "no Memory64List content"
	n=$((0x$(le "$(echo "$hex" | cut -c1-16)")))
	base=$((0x$(le "$(echo "$hex" | cut -c17-32)")))
	[ $((${#hex} / 2)) = $((16 + 16 * n)) ] || fail "Memory64List size $((${#hex} / 2)) != 16+16*$n"
	total=0 prev_end=0 i=0
	while [ $i -lt $n ]; do
		o=$((33 + 32 * i))
		s=$((0x$(le "$(echo "$hex" | cut -c$o-$((o + 15)))")))
		z=$((0x$(le "$(echo "$hex" | cut -c$((o + 16))-$((o + 31)))")))
		[ $z -gt 0 ] || fail "range $i is empty"
		[ $s -ge $prev_end ] || fail "range $i overlaps or is out of order"
		prev_end=$((s + z))
		total=$((total + z))
		i=$((i + 1))
	done
	size=$(wc -c <"$O/wr/full.dmp")
	[ $((base + total)) = "$size" ] || fail "BaseRva $base + $total bytes != file size $size"
	[ $((base % 4096)) = 0 ] || fail "BaseRva $base is not page-aligned"
END

t 'writer: header signature and Flags describe the content' <<'END'
	wr_setup
	# obj2yaml prints the header fields it knows; file(1) reads the signature
	for k in mini full; do
		file "$O/wr/$k.dmp" | grep -q 'Mini DuMP crash report' || fail "$k: file(1) does not see MDMP"
	done
	file "$O/wr/full.dmp" | grep -q '0x61826 type' || fail "full: header Flags not 0x61826: $(file "$O/wr/full.dmp")"
	file "$O/wr/mini.dmp" | grep -q '0x61965 type' || fail "mini: header Flags not 0x61965: $(file "$O/wr/mini.dmp")"
END

# TokenStream (19): obj2yaml gives its bytes; the layout after each record's
# MINIDUMP_TOKEN_INFO_HEADER is the one procdump.c documents (seven
# {offset, size} pairs, the TokenUser field being {8, attributes, SID})
t 'writer: Token stream: the process token and the impersonating thread, with the user SID' <<'END'
	wr_setup
	pid=$(field wr pid)
	imp=$(field wr impersonating)
	sid=$(field wr usersid | tr a-f A-F)
	[ -n "$imp" ] && [ -n "$sid" ] || fail "the target did not report its SID and impersonating thread"
	for k in mini full; do
		hex=$(stream_bytes "$O/wr/$k.yaml" Token)
		[ -n "$hex" ] || fail "$k: no Token stream (19)"
		[ "$(u32at 0 "$hex")" = $(( ${#hex} / 2 )) ] || fail "$k: TokenListSize $(u32at 0 "$hex") is not the stream size $(( ${#hex} / 2 ))"
		n=$(u32at 4 "$hex")
		[ "$(u32at 8 "$hex")" = 16 ] && [ "$(u32at 12 "$hex")" = 72 ] || fail "$k: list header sizes $(u32at 8 "$hex")/$(u32at 12 "$hex"), want 16/72"
		at=16 i=0 seen_pid=0 seen_imp=0
		while [ $i -lt "$n" ]; do
			size=$(u32at $at "$hex") id=$(u32at $((at + 4)) "$hex")
			uoff=$(u32at $((at + 16 + 8)) "$hex") ulen=$(u32at $((at + 16 + 12)) "$hex")
			[ "$(u32at $((at + uoff)) "$hex")" = 8 ] || fail "$k: token $i: TokenUser SID offset is not 8"
			got=$(echo "$hex" | cut -c$((2 * (at + uoff + 8) + 1))-$((2 * (at + uoff + 8) + ${#sid})))
			[ "$got" = "$sid" ] || fail "$k: token $i (id $id): user SID $got, the target says $sid"
			[ "$ulen" = $((8 + ${#sid} / 2)) ] || fail "$k: token $i: TokenUser field size $ulen"
			[ "$id" = "$pid" ] && seen_pid=1
			[ "$id" = "$imp" ] && seen_imp=1
			at=$((at + size)) i=$((i + 1))
		done
		[ $at = $(( ${#hex} / 2 )) ] || fail "$k: records end at $at, the stream at $(( ${#hex} / 2 ))"
		[ $seen_pid = 1 ] || fail "$k: no token record for the process ($pid)"
		[ $seen_imp = 1 ] || fail "$k: no token record for impersonating thread $imp"
	done
END

# WithAvxXStateContext (-mc 0x200000): a thread holds 32 marker bytes in
# ymm5; its context in the dump (obj2yaml's bytes) is CONTEXT, CONTEXT_EX and
# the XSAVE header and extended state, MiscInfo's XStateData gives that size
# and the AVX offset, and ymm5's low half is in the CONTEXT, its high half in
# the AVX area
t 'writer: -mc 0x200000 writes XState contexts: the ymm5 a thread holds, XStateData in MiscInfo' <<'END'
	start_target ym "$T/load.exe" ymm
	pid=$(field ym pid)
	tid=$(sed -n 's/^tid=\([0-9]*\) ymm5=.*/\1/p' "$O/ym.log" | tr -d '\r')
	m=$(sed -n 's/^tid=[0-9]* ymm5=\([0-9a-f]*\).*/\1/p' "$O/ym.log" | tr -d '\r' | tr a-f A-F)
	[ ${#m} = 64 ] || fail "the target printed no ymm5 marker"
	mkdir -p "$O/xs"
	pd -mc 0x200000 "$pid" "$(wpath "$O/xs/x.dmp")"
	stop_target ym # it spins: never leave it running into the monitor tests
	expect_rc 0
	file "$O/xs/x.dmp" | grep -q ' 0x200000 type' || fail "Flags not 0x200000: $(file "$O/xs/x.dmp")"
	yaml "$O/xs/x.dmp" "$O/xs/x.yaml"
	ctx=$(awk -v t="$(printf '0x%X' "$tid")" '/Thread Id:/ { on = ($NF == t) } on && /Context:/ { c = $2; gsub(/\047/, "", c); print c; exit }' "$O/xs/x.yaml")
	size=$(( ${#ctx} / 2 ))
	[ $size -gt 1232 ] || fail "thread $tid: context of $size bytes, no XSAVE area"
	# CONTEXT_EX after the CONTEXT: All {-1232, size}, Legacy, XState {offset, length}
	all_off=$(u32at 1232 "$ctx") all_len=$(u32at 1236 "$ctx") xs_off=$(u32at 1248 "$ctx")
	[ "$all_off" = $((0xFFFFFFFF - 1231)) ] && [ "$all_len" = $size ] ||
		fail "CONTEXT_EX.All is {$all_off, $all_len}, want {-1232, $size}"
	misc=$(stream_bytes "$O/xs/x.yaml" MiscInfo)
	[ "$(u32at 832 "$misc")" = 528 ] || fail "MiscInfo XStateData.SizeOfInfo is $(u32at 832 "$misc"), want 528"
	[ "$(u32at 836 "$misc")" = $size ] || fail "XStateData.ContextSize $(u32at 836 "$misc") is not the context size $size"
	[ $(( $(u32at 840 "$misc") & 4 )) = 4 ] || fail "XStateData.EnabledFeatures lacks AVX (bit 2)"
	avx=$(u32at $((848 + 16)) "$misc")
	lo=$(echo "$ctx" | cut -c$((2 * (0x1A0 + 5 * 16) + 1))-$((2 * (0x1A0 + 6 * 16))))
	# the XState chunk starts at the XSAVE header, 512 bytes into the XSAVE
	# layout whose offsets Features[] gives (the legacy part is the CONTEXT's)
	at=$((1232 + xs_off + avx - 512 + 5 * 16))
	hi=$(echo "$ctx" | cut -c$((2 * at + 1))-$((2 * at + 32)))
	[ "$lo$hi" = "$m" ] || fail "ymm5 in the dump is $lo$hi, the target holds $m"
	lldb_do "$O/xs/x.dmp" "$O/xs/l" 'thread list'
	grep -q 'load.exe`ymm_hold' "$O/xs/l" || fail "lldb does not read the XState context of thread $tid"
END

t 'writer: ThreadList holds all 5 threads' <<'END'
	wr_setup
	# ThreadList count in obj2yaml equals the threads the target printed
	n=$(grep -c '^      - Thread Id:' "$O/wr/mini.yaml")
	[ "$n" = 5 ] || fail "ThreadList has $n threads, want 5"
END

t 'writer: the guard page keeps PAGE_GUARD and is not in the dump' <<'END'
	wr_setup
	g=0x$(field wr guard)
	tail -n 1 "$O/wr.log" | grep -q 'guard=104 ' || fail "guard page lost PAGE_GUARD: $(tail -n 1 "$O/wr.log")"
	alive wr || fail "the target stopped"
	tail -n 1 "$O/wr.log" | grep -q 'guard=104 ' || fail "guard page lost PAGE_GUARD after the dumps"
	lldb_do "$O/wr/full.dmp" "$O/wr/g.txt" "memory read --force -c 16 $g"
	! grep -q '^0x[0-9a-f]*: ' "$O/wr/g.txt" || fail "the full dump holds bytes of the guard page"
	# and the memory-info list describes it as committed guard memory
	lldb_do "$O/wr/full.dmp" "$O/wr/gr.txt" "memory region $g"
	grep -q "\[0x0*${g#0x}-" "$O/wr/gr.txt" || fail "lldb: no memory region at $g: $(tail -n 2 "$O/wr/gr.txt")"
END

t 'writer: MemoryList ranges ascending, non-empty, no overlap, at most 4096' <<'END'
	wr_setup
	# (start, size) of every MemoryList range from obj2yaml: ascending, no overlap, not empty
	awk '/Type: *MemoryList/ { m = 1 } m && /Start of Memory Range:/ { s = $NF }
	     m && /Content:/ { print s, length($NF) / 2 }' "$O/wr/mini.yaml" >"$O/wr/ml"
	n=$(wc -l <"$O/wr/ml")
	[ "$n" -ge 4 ] || fail "MemoryList has $n ranges"
	[ "$n" -le 4096 ] || fail "MemoryList has $n ranges (Breakpad's cap is 4096)"
	prev=0
	while read -r s z; do
		[ "$z" -gt 0 ] || fail "empty range at $s"
		[ $((s)) -ge $prev ] || fail "range $s overlaps or is out of order"
		prev=$((s + z))
	done <"$O/wr/ml"
END

t 'writer: VersionInfo equals the image version resource (1.2.3.4 / 5.6.7.8)' <<'END'
	wr_setup
	grep -A12 "Module Name: *'.*target.exe'" "$O/wr/mini.yaml" >"$O/wr/vi"
	grep -q 'File Version High: 0x10002$' "$O/wr/vi" || fail "FileVersion high is not 1.2: $(cat "$O/wr/vi")"
	grep -q 'File Version Low: 0x30004$' "$O/wr/vi" || fail "FileVersion low is not 3.4"
	grep -q 'Product Version High: 0x50006$' "$O/wr/vi" || fail "ProductVersion high is not 5.6"
	grep -q 'Product Version Low: 0x70008$' "$O/wr/vi" || fail "ProductVersion low is not 7.8"
END

t 'writer: the target runs on, unsuspended; no temporary file left' <<'END'
	wr_setup
	alive wr || fail "the target's heartbeat stopped after the dumps"
	kill -0 "$(upid wr)" || fail "the target is gone"
	# (the heartbeat is the main thread's: a dump taken after the others
	# shows each thread's suspend count, 0 if no dump left it suspended)
	pd -mm -o "$(field wr pid)" "$(wpath "$O/wr/after.dmp")"
	expect_rc 0
	yaml "$O/wr/after.dmp" "$O/wr/after.yaml"
	! grep -q 'Suspend Count' "$O/wr/after.yaml" || fail "a thread is left suspended after the dumps"
	for f in "$O"/wr/*; do case $f in *.tmp) fail "temporary file left: $f" ;; esac; done
END

# slow_dump NAME ARGS...: a -ma of the wr target slowed to 200 ms per 4 MiB
# chunk, in the background; returns once it is writing (a .tmp exists).
slow_dump() {
	wr_setup
	_sd=$1
	shift
	rm -rf "$O/$_sd" "$O/$_sd.raw" # the last run's output would satisfy wait_for
	mkdir -p "$O/$_sd"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg "$_sd" -ma "$@" "$(field wr pid)" "$(wpath "$O/$_sd/c.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/$_sd.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/$_sd.raw")"
	ls "$O/$_sd" | grep -q '\.tmp$' || fail "no temporary file while writing: $(ls "$O/$_sd") $(cat "$O/$_sd.raw")"
}

# The three ways to cancel (Ctrl+C, -cancel PID, the event ProcDump-PID
# that any program may set) stop a dump being written the same way.
cancel_by() {
	case $1 in
	ctrlc) kill -INT "$(cat "$O/wc.pdpid")" ;;
	pid) pd -cancel "$(field wr pid)"; expect_rc 0 ;;
	event)
		set_named_event "ProcDump-$(field wr pid)" "$O/wc.set"
		grep -q '^set ' "$O/wc.set" || fail "setevent: $(cat "$O/wc.set")" ;;
	esac
}
t 'writer: Ctrl+C, -cancel PID and the event ProcDump-PID each stop a dump mid-write: no file, target resumed, exit 1' <<'END'
	[ $native = 1 ] && skip "Ctrl+C is sent with kill -INT under Wine"
	for how in ctrlc pid event; do
		echo "cancel by $how"
		slow_dump wc
		cancel_by $how
		pd_join wc 30
		expect_rc 1
		expect_out 'dump cancelled'
		expect_out 'Dump count not reached'
		[ -z "$(ls "$O/wc")" ] || fail "cancel by $how: files left behind: $(ls "$O/wc")"
		alive wr || fail "cancel by $how: the target was left suspended"
	done
END

# A target killed while its dump is written (the rest would be zeros): no
# dump, one line naming the file and the cause, exit 4.
t 'writer: the target killed mid-dump: no dump, one line naming the file, exit 4' <<'END'
	start_target wk "$T/target.exe" 1 64
	mkdir -p "$O/wk"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg wk -ma "$(field wk pid)" "$(wpath "$O/wk/k.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/wk.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/wk.raw")"
	kill -KILL "$(upid wk)"
	pd_join wk 30
	expect_rc 4
	[ "$(grep -c '^procdump: ' "$O/pd.out")" = 1 ] || fail "want one error line: $(cat "$O/pd.out")"
	expect_out "no dump written to '.*k.dmp': process $(field wk pid) exited while it was being dumped"
	expect_out 'Dump 1 failed'
	! grep -q 'complete' "$O/pd.out" || fail "reported complete"
	[ -z "$(ls "$O/wk")" ] || fail "files left behind: $(ls "$O/wk")"
END

# The same with -dbghelp, whose MiniDumpWriteDump reads and writes on its
# own (under Wine 1 KiB at a time, so 64 MiB take seconds): killed once the
# file has grown, no dump, exit 4.
t 'writer: -dbghelp too: the target killed mid-dump is no dump, exit 4' <<'END'
	start_target wdk "$T/target.exe" 1 64
	mkdir -p "$O/wdk"
	pd_bg wdk -dbghelp -ma "$(field wdk pid)" "$(wpath "$O/wdk/k.dmp")"
	_end=$(($(date +%s) + 30))
	until [ "$(cat "$O"/wdk/*.tmp 2>/dev/null | head -c 2000000 | wc -c)" -ge 2000000 ]; do
		[ "$(date +%s)" -lt $_end ] || fail "the dbghelp dump did not grow: $(ls -l "$O/wdk") $(cat "$O/wdk.raw")"
		sleep 0.05
	done
	kill -KILL "$(upid wdk)"
	pd_join wdk 60
	expect_rc 4
	expect_out "no dump written to '.*k.dmp': process $(field wdk pid) exited while it was being dumped"
	[ -z "$(ls "$O/wdk")" ] || fail "files left behind: $(ls "$O/wdk")"
END

# comment_w YAML: the text of the CommentStreamW obj2yaml shows (ASCII),
# a line for each NUL-ended string
comment_w() {
	stream_bytes "$1" CommentW |
		awk '{ for (i = 1; i + 3 <= length($0); i += 4) {
			v = (index("0123456789ABCDEF", substr($0, i, 1)) - 1) * 16 + index("0123456789ABCDEF", substr($0, i + 1, 1)) - 1
			printf (v == 0 || v == 10) ? "\n" : "%c", v } }' | sed '/^$/d'
}

# Memory that cannot be read (Wine reads any page, so a test hook fails the
# reads of a range, at the snapshot seam): up to 1 % of the planned bytes,
# the dump is written and says so in its comment, after the -dc text; more,
# and there is no dump (exit 4).
t 'writer: unreadable memory up to 1% is noted in CommentStreamW (after -dc); more is no dump, exit 4' <<'END'
	wr_setup
	mkdir -p "$O/wu"
	m=$(field wr marker)
	PROCDUMP_TEST_UNREADABLE="$m:65536" pd -ma -dc 'my comment' "$(field wr pid)" "$(wpath "$O/wu/a.dmp")"
	expect_rc 0
	yaml "$O/wu/a.dmp" "$O/wu/a.yaml"
	comment_w "$O/wu/a.yaml" >"$O/wu/a.txt"
	[ "$(sed -n 1p "$O/wu/a.txt")" = 'my comment' ] || fail "the -dc text is not first: $(cat "$O/wu/a.txt")"
	grep -q '^procdump.c: 65536 of [0-9]* bytes of memory could not be read; they are zeros in this dump.$' \
		"$O/wu/a.txt" || fail "no note in CommentStreamW: $(cat "$O/wu/a.txt")"
	[ "$(read16 "$O/wu/a.dmp" "0x$m" "$O/wu/a.r16")" = 00000000000000000000000000000000 ] ||
		fail "the unreadable bytes at 0x$m are not zeros: $(cat "$O/wu/a.r16")"
	# without -dc the note is a CommentStreamW of its own (Breakpad sees it:
	# at the end)
	st=$(field wr stack)
	PROCDUMP_TEST_UNREADABLE="$st:16" pd -mm "$(field wr pid)" "$(wpath "$O/wu/b.dmp")"
	expect_rc 0
	yaml "$O/wu/b.dmp" "$O/wu/b.yaml"
	comment_w "$O/wu/b.yaml" | grep -q '^procdump.c: 16 of [0-9]* bytes of memory could not be read' ||
		fail "no note without -dc: $(comment_w "$O/wu/b.yaml")"
	! grep -q 'Type: *CommentA' "$O/wu/b.yaml" || fail "a CommentStreamA appeared without -dc"
	[ "$(read16 "$O/wu/b.dmp" "0x$st" "$O/wu/b.r16")" = 00000000000000000000000000000000 ] ||
		fail "the unreadable stack bytes at 0x$st are not zeros: $(cat "$O/wu/b.r16")"
	# a dump read whole has no note
	grep -q 'Type: *CommentW' "$O/wr/mini.yaml" && fail "a note in a dump read whole"
	# more than 1 %: no dump
	PROCDUMP_TEST_UNREADABLE="$m:4194304" pd -ma "$(field wr pid)" "$(wpath "$O/wu/c.dmp")"
	expect_rc 4
	expect_err_one_line
	expect_err "no dump written to '.*c.dmp': 4194304 of [0-9]* bytes of memory could not be read (more than 1%)"
	[ ! -e "$O/wu/c.dmp" ] && ! ls "$O/wu" | grep -q tmp || fail "files left: $(ls "$O/wu")"
	alive wr || fail "the target stopped"
	need_bp
	bp_dump "$O/wu/b.dmp" "$O/wu/b.bp" "$O/wu/b.bperr"
	grep -q 'MD_COMMENT_STREAM_W' "$O/wu/b.bp" || fail "Breakpad sees no CommentStreamW"
END

# wineserver_pid: the wineserver of $WINEPREFIX (its folder is named after
# the prefix's device and inode)
wineserver_pid() {
	_sd=$(printf 'server-%x-%x' $(stat -c '%d %i' "$WINEPREFIX"))
	for _p in $(pgrep -x wineserver64; pgrep -x wineserver); do
		case "$(readlink "/proc/$_p/cwd")" in */"$_sd") echo "$_p"; return 0 ;; esac
	done
	return 1
}
# Durable before final: the data is flushed (fsync, by procdump's process
# under Wine) before the temporary file is renamed to its final name (by
# the wineserver); one strace watches each, with times.
# PROCDUMP_TEST_NO_FLUSH=1 (the bench's baseline) shows that the check can fail.
traced() { awk '/^TracerPid:/ { exit !($2 != 0) }' "/proc/$1/status"; }
flush_order() { # flush_order PDLOG WSLOG FINAL: flush-rename if an fsync precedes the rename to FINAL
	_r=$(awk -v f="$3" '/rename/ && index($0, f "\"") { print $1; exit }' "$2")
	_f=$(awk '/fsync\(|fdatasync\(/ { print $2; exit }' "$1")
	[ -n "$_r" ] || { echo no-rename; return; }
	[ -n "$_f" ] && awk -v f="$_f" -v r="$_r" 'BEGIN { exit !(f < r) }' && echo flush-rename || echo rename-only
}
t 'writer: the dump is flushed to disk before it takes its final name (strace)' <<'END'
	[ $native = 1 ] && skip "strace of Wine's processes"
	command -v strace >/dev/null || fail "strace is missing (make deps installs it)"
	wr_setup
	ws=$(wineserver_pid) || fail "no wineserver for $WINEPREFIX"
	mkdir -p "$O/wf"
	: >"$O/wf/order"
	for k in flush noflush; do
		rm -f "$O/wf/$k.dmp"
		strace -qq -ttt -e trace=rename,renameat,renameat2 -o "$O/wf/$k.ws" -p "$ws" &
		sp=$!
		_end=$(($(date +%s) + 10))
		until traced "$ws"; do
			[ "$(date +%s)" -lt $_end ] || { kill $sp; fail "strace did not attach to the wineserver"; }
			sleep 0.05
		done
		[ $k = noflush ] && export PROCDUMP_TEST_NO_FLUSH=1
		timeout 120 strace -f -qq -ttt -e trace=fsync,fdatasync -o "$O/wf/$k.pd" \
			$WINE "$PD" -mm "$(field wr pid)" "$(wpath "$O/wf/$k.dmp")" >"$O/wf/$k.out" 2>&1 || true
		unset PROCDUMP_TEST_NO_FLUSH
		kill $sp
		wait $sp 2>/dev/null || true
		[ -s "$O/wf/$k.dmp" ] || fail "-mm wrote no $k.dmp: $(cat "$O/wf/$k.out")"
		echo "$k $(flush_order "$O/wf/$k.pd" "$O/wf/$k.ws" "$k.dmp")" >>"$O/wf/order"
	done
	grep -q '^flush flush-rename$' "$O/wf/order" || fail "no flush before the rename: $(cat "$O/wf/order")"
	grep -q '^noflush rename-only$' "$O/wf/order" || fail "the check cannot fail: $(cat "$O/wf/order")"
END

# load.exe gostack: a thread runs on a 256 KiB heap block, as a goroutine
# does (its stack pointer outside the TEB's StackLimit..StackBase), 20 KiB
# deep in 4 KiB frames, and sleeps there; gostack_hold keeps a 16-byte local
# at the top, and its own (TEB) stack another.  gs_setup dumps it once, -mm
# and -ma.
gs_setup() {
	[ -f "$O/gs.log" ] && return 0
	start_target gs "$T/load.exe" gostack
	mkdir -p "$O/gs"
	for k in mm ma; do
		pd -$k "$(field gs pid)" "$(wpath "$O/gs/$k.dmp")"
		[ "$RC" = 0 ] || fail "-$k exited $RC: $(cat "$O/pd.err")"
		yaml "$O/gs/$k.dmp" "$O/gs/$k.yaml"
	done
}
t 'writer: a thread on a heap-block stack (Go, fibers): its Stack descriptor holds RSP, in -mm and -ma' <<'END'
	gs_setup
	tid=$(printf '0x%X' "$(sed -n 's/^tid=\([0-9]*\) local=.*/\1/p' "$O/gs.log" | tr -d '\r')")
	block=$((0x$(sed -n 's/.* block=\([0-9a-f]*\).*/\1/p' "$O/gs.log" | tr -d '\r')))
	for k in mm ma; do
		# that thread's Stack (start, size) and its RSP (context offset 0x98)
		awk -v t="$tid" '/Thread Id:/ { on = ($NF == t) } on && /Context:/ { ctx = $NF }
		     on && /Start of Memory Range:/ { s = $NF }
		     on && /Content:/ && s != "" { print s, length($NF) / 2, substr(ctx, 305, 16); exit }' \
			"$O/gs/$k.yaml" >"$O/gs/$k.st"
		read -r s len rsp <"$O/gs/$k.st" || fail "-$k: no stack for thread $tid"
		rsp=$((0x$(le "$rsp")))
		[ $rsp -ge $((s)) ] && [ $rsp -lt $((s + len)) ] ||
			fail "-$k: the Stack [$s, +$len) does not hold RSP $(hexaddr $rsp)"
		[ $((s)) -ge $block ] && [ $((s + len)) -le $((block + 262144)) ] ||
			fail "-$k: the Stack [$s, +$len) is not in the heap block $(hexaddr $block)"
	done
END

t 'writer: -mm walks a heap-block stack to its outer frame and holds the local kept there' <<'END'
	gs_setup
	local=0x$(sed -n 's/.* local=\([0-9a-f]*\).*/\1/p' "$O/gs.log" | tr -d '\r')
	want=$(sed -n 's/.* local=[0-9a-f]* bytes=\([0-9a-f]*\).*/\1/p' "$O/gs.log" | tr -d '\r')
	lldb_do "$O/gs/mm.dmp" "$O/gs/l" 'bt all'
	grep -q 'load.exe`gostack_deep(depth=4)' "$O/gs/l" || fail "lldb does not walk the 5 frames of gostack_deep"
	grep -q 'load.exe`gostack_hold' "$O/gs/l" || fail "lldb does not walk up to gostack_hold"
	got=$(read16 "$O/gs/mm.dmp" "$local" "$O/gs/r.txt")
	[ "$got" = "$want" ] || fail "-mm: gostack_hold's local at $local is '$got', the target says $want"
END

# -mt sanitizes both stacks of such a thread: the locals on the heap stack
# and on its TEB stack read 0defaced; the heap stack still walks
t 'writer: -mt overwrites the locals on both stacks of a heap-stack thread; it still walks' <<'END'
	gs_setup
	pd -mt "$(field gs pid)" "$(wpath "$O/gs/mt.dmp")"
	expect_rc 0
	for f in local oslocal; do
		case $f in # the line "tid=N local=A bytes=B ...", the line "oslocal=A bytes=B"
		local) re='.* local' ;;
		oslocal) re='^oslocal' ;;
		esac
		a=0x$(sed -n "s/$re=\\([0-9a-f]*\\).*/\\1/p" "$O/gs.log" | tr -d '\r' | head -n 1)
		want=$(sed -n "s/$re=[0-9a-f]* bytes=\\([0-9a-f]*\\).*/\\1/p" "$O/gs.log" | tr -d '\r' | head -n 1)
		[ "$a" != 0x ] && [ -n "$want" ] || fail "the target printed no $f"
		got=$(read16 "$O/gs/mt.dmp" "$a" "$O/gs/t.txt")
		[ -n "$got" ] || fail "-mt lacks the $f at $a"
		[ "$got" != "$want" ] || fail "-mt kept the bytes of the $f at $a"
		[ "$got" = edacef0dedacef0dedacef0dedacef0d ] || fail "-mt $f at $a: $got, want the 0defaced marker"
	done
	lldb_do "$O/gs/mt.dmp" "$O/gs/tl" 'bt all'
	grep -q 'load.exe`gostack_hold' "$O/gs/tl" || fail "-mt: the heap stack no longer walks to gostack_hold"
	stop_target gs # the last of the gostack cases
END

# snap_range_merge, on made-up ranges (test/rangeunit.c includes procdump.c)
t 'writer: merged memory ranges are sorted, never overlap, cover what was asked and stop at the cap (made-up ranges, library build)' <<'END'
	unit_run rangeunit 4
END
