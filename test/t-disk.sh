# t-disk.sh - dump files on disk: their ACL, the free-space floor (-minfree),
# the true cause of a failed write, retention (-keep) and holes for zero pages.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'disk: what must hold' <<'END'
#   	commands
#   END
#
# A full disk is a small tmpfs (root under Linux; Wine sees it as Z:\...),
# unmounted when the test ends, also when it fails.

# dk_mount NAME MB: a tmpfs of MB MiB at $O/NAME for this test only
dk_mount() {
	[ $native = 0 ] || skip "a small volume is a tmpfs under Linux"
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	mkdir -p "$O/$1"
	mount -t tmpfs -o "size=${2}m" tmpfs "$O/$1" || fail "cannot mount a tmpfs at $O/$1"
	DK_MNT=$O/$1
	trap 'umount "$DK_MNT" 2>/dev/null || umount -l "$DK_MNT"' EXIT
}
# dk_avail DIR: free KiB of the volume of DIR
dk_avail() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }
# dk_target: the target these tests dump (64 MiB of non-zero memory: a
# full dump is about 100 MB, 25 chunks of the Memory64 copy)
dk_target() { [ -f "$O/dk.log" ] || start_target dk "$T/target.exe" 2 64; }
# dk_nothing_left DIR: neither a dump nor a temporary file in DIR
dk_nothing_left() {
	[ -z "$(ls "$1" | grep -E '\.(dmp|tmp)$')" ] || fail "files left in $(basename "$1"): $(ls "$1")"
}

t 'disk: a dump gets a protected DACL (owner, Administrators, SYSTEM); -inheritacl keeps the inherited one' <<'END'
	dk_target
	mkdir -p "$O/acl"
	pd -mm -v "$(field dk pid)" "$(wpath "$O/acl/p.dmp")"
	expect_rc 0
	# what procdump.c asked for: protected, the user, Administrators, SYSTEM, nothing else
	grep -q 'dump ACL asked: D:P(A;;FA;;;S-1-5-[0-9-]*)(A;;FA;;;BA)(A;;FA;;;SY);' "$O/pd.err" ||
		fail "the DACL asked for is not owner+Administrators+SYSTEM, protected: $(grep ACL "$O/pd.err")"
	owner=$($WINE "$T/sdshow.exe" "$(wpath "$O/acl/p.dmp")" | tr -d '\r' | sed -n 's/^O:\(S-[0-9-]*\)D:.*/\1/p')
	grep -q "dump ACL asked: D:P(A;;FA;;;$owner)" "$O/pd.err" || fail "the user ACE is not the owner $owner"
	# what the finished file has: under Wine the Unix mode, no bits for others
	sd=$($WINE "$T/sdshow.exe" "$(wpath "$O/acl/p.dmp")" | tr -d '\r')
	case $sd in *";WD)"*) fail "Everyone can read the dump: $sd" ;; esac
	[ $native = 1 ] || [ "$(($(stat -c %#a "$O/acl/p.dmp") & 7))" = 0 ] ||
		fail "others have mode bits on the dump: $(stat -c %a "$O/acl/p.dmp")"
	# -inheritacl: the folder's (under Wine the umask's 0644: Everyone reads)
	pd -mm -inheritacl "$(field dk pid)" "$(wpath "$O/acl/i.dmp")"
	expect_rc 0
	sd=$($WINE "$T/sdshow.exe" "$(wpath "$O/acl/i.dmp")" | tr -d '\r')
	[ $native = 1 ] || case $sd in *";WD)"*) ;; *) fail "-inheritacl: no inherited Everyone ACE: $sd" ;; esac
	[ $native = 1 ] || [ "$(stat -c %a "$O/acl/i.dmp")" = 644 ] ||
		fail "-inheritacl: mode $(stat -c %a "$O/acl/i.dmp"), not the umask's 644"
END

t 'disk: the temporary file has the protected DACL while it is written' <<'END'
	dk_target
	mkdir -p "$O/aclt"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg aclt -ma "$(field dk pid)" "$(wpath "$O/aclt/t.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/aclt.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/aclt.raw")"
	tmp=$(ls "$O/aclt" | grep '\.tmp$' | head -n 1)
	[ -n "$tmp" ] || fail "no temporary file while writing: $(ls "$O/aclt")"
	[ $native = 1 ] || [ "$(($(stat -c %#a "$O/aclt/$tmp") & 7))" = 0 ] ||
		fail "others have mode bits on the temporary file: $(stat -c %a "$O/aclt/$tmp")"
	pd_join aclt 60
	expect_rc 0
	alive dk || fail "the target was left suspended"
END

t 'disk: -minfree refuses a dump that would leave less free space, before writing (exit 4, nothing left)' <<'END'
	dk_target
	dk_mount dkr 64
	pd -ma -minfree 32 "$(field dk pid)" "$(wpath "$DK_MNT")"
	expect_rc 4
	expect_err_one_line
	expect_err "not enough free space for '.*dkr.*': the dump needs about [0-9]* MB, '.*dkr\\\\' has [0-9]* MB free and 32 MB must stay free (-minfree)"
	expect_out 'Dump 1 skipped'
	dk_nothing_left "$DK_MNT"
	alive dk || fail "the target was left suspended"
END

t 'disk: a dump stops when another writer fills the volume to the floor (file removed, target resumed, exit 4)' <<'END'
	dk_target
	dk_mount dks 200
	export PROCDUMP_TEST_CHUNK_DELAY_MS=300
	pd_bg dks -ma -minfree 60 "$(field dk pid)" "$(wpath "$DK_MNT")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/dks.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/dks.raw")"
	# another writer fills the volume to 40 MB free, below the 60 MB floor
	fallocate -l $(($(dk_avail "$DK_MNT") * 1024 - (40 << 20))) "$DK_MNT/other" || fail "cannot fill the tmpfs"
	pd_join dks 60
	expect_rc 4
	expect_out "stopped writing '.*dks.*': '.*dks\\\\' has [0-9]* MB free, below the 60 MB that must stay free (-minfree)"
	expect_out 'Dump 1 skipped'
	rm -f "$DK_MNT/other"
	dk_nothing_left "$DK_MNT"
	alive dk || fail "the target was left suspended"
END

t 'disk: a series reports a dump skipped for space and goes on (the others written, exit 4)' <<'END'
	dk_target
	dk_mount dkn 100
	# 40 MB free: below the 50 MB floor for the first dump only
	fallocate -l $(($(dk_avail "$DK_MNT") * 1024 - (40 << 20))) "$DK_MNT/other" || fail "cannot fill the tmpfs"
	pd_bg dkn -mm -n 3 -s 2 -minfree 50 "$(field dk pid)" "$(wpath "$DK_MNT")"
	wait_for "$O/dkn.raw" 'Dump 1 skipped' 30 || fail "dump 1 was not skipped: $(cat "$O/dkn.raw")"
	rm -f "$DK_MNT/other"
	pd_join dkn 60
	expect_out 'Dump 2 complete'
	expect_out 'Dump 3 complete'
	expect_out 'Dump count not reached'
	expect_rc 4
	[ "$(ls "$DK_MNT" | grep -c '\.dmp$')" = 2 ] || fail "want 2 dumps: $(ls "$DK_MNT")"
	[ -z "$(ls "$DK_MNT" | grep '\.tmp$')" ] || fail "temporary files left: $(ls "$DK_MNT")"
	for f in "$DK_MNT"/*.dmp; do yaml "$f" "$O/dkn.yaml"; done
	alive dk || fail "the target was left suspended"
END

# disk_full TYPE MB: a volume too small for the dump, no floor: the write fails
disk_full() {
	dk_target
	dk_mount "dkf$1" "$2"
	pd "-$1" -minfree 0 "$(field dk pid)" "$(wpath "$DK_MNT")"
	expect_rc 4
	expect_err_one_line
	# the file and the cause: ERROR_DISK_FULL (Wine: "Disk full.", Windows:
	# "There is not enough space on the disk.")
	expect_err "cannot write '.*dkf$1\\\\target.exe_[0-9_]*.dmp': .*(112)"
	dk_nothing_left "$DK_MNT"
	alive dk || fail "the target was left suspended"
}
t 'disk: -mm on a full volume names the file and ERROR_DISK_FULL, leaves nothing (exit 4)' <<'END'
	disk_full mm 1
END
t 'disk: -ma on a full volume names the file and ERROR_DISK_FULL, leaves nothing (exit 4)' <<'END'
	disk_full ma 20
END

t 'disk: -keep 2 keeps the two newest of our dumps and never a file procdump.c did not write' <<'END'
	dk_target
	d=$O/keep
	mkdir -p "$d"
	# not ours: another program's dump, a minidump of Wine's dbghelp and a
	# text file under our naming scheme
	pd -mm "$(field dk pid)" "$(wpath "$d/other.dmp")"
	pd -mm -dbghelp "$(field dk pid)" "$(wpath "$d/dbg.dmp")"
	expect_rc 0
	mv "$d/dbg.dmp" "$d/target.exe_200101_000000.dmp"
	echo "not a dump" >"$d/target.exe_200101_000001.dmp"
	pd -n 4 -s 1 -keep 2 "$(field dk pid)" "$(wpath "$d")"
	expect_rc 0
	expect_out 'Removed the older dump'
	[ "$(grep -c 'Removed the older dump' "$O/pd.out")" = 2 ] || fail "want 2 removals: $(grep Removed "$O/pd.out")"
	for f in other.dmp target.exe_200101_000000.dmp target.exe_200101_000001.dmp; do
		[ -f "$d/$f" ] || fail "-keep removed $f, which procdump.c did not write"
	done
	# the two newest of ours remain: the ones dumps 3 and 4 named
	for k in 3 4; do
		f=$(sed -n "s/.*Dump $k initiated: .*\\\\\\(target.exe_[0-9_]*\\.dmp\\)\$/\\1/p" "$O/pd.out")
		[ -n "$f" ] && [ -f "$d/$f" ] || fail "dump $k ($f) was not kept: $(ls "$d")"
	done
	[ "$(ls "$d" | grep -c '^target.exe_2[0-9]*_[0-9]*.dmp$')" = 4 ] || fail "want 2 of ours + 2 foreign: $(ls "$d")"
	alive dk || fail "the target was left suspended"
END

# dk_kill NAME PATTERN: SIGKILL the procdump64.exe (the Wine process that
# runs it) whose command line matches PATTERN, then join NAME
dk_kill() {
	_p=$(pgrep -f "^$(pd_re) $2") || fail "no procdump process to kill ($2)"
	kill -KILL $_p
	pd_join "$1" 30
}
# dk_tmp_kib DIR: KiB that DIR's temporary files take on disk (0 if none)
dk_tmp_kib() { du -ck "$1"/*.tmp 2>/dev/null | awk 'END { print $1 + 0 }'; }

# A procdump SIGKILLed mid-dump leaves its temporary file; the next dump
# begun in that folder removes it and every other one whose procdump has
# ended, with one line, and none of a live writer: another procdump's
# dump being written, a name whose PID runs (the older form, without the
# start time, cannot tell a reused PID), and files of other forms.
t 'disk: a temporary file left by a SIGKILLed procdump is removed by the next dump in its folder (one line); a live writer'"'"'s stays' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	dk_target
	start_target dk2 "$T/target.exe" 1 64
	d=$O/stale
	mkdir -p "$d"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=400
	pd_bg stl -ma "$(field dk pid)" "$(wpath "$d/live.dmp")"
	wait_for "$O/stl.raw" 'Dump 1 writing' 30 || fail "the live writer did not start: $(cat "$O/stl.raw")"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg stk -ma "$(field dk2 pid)" "$(wpath "$d/killed.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/stk.raw" 'Dump 1 writing' 30 || fail "the dump to kill did not start: $(cat "$O/stk.raw")"
	dk_kill stk "-ma $(field dk2 pid) "
	[ "$RC" = killed ] || fail "pdrun recorded '$RC' for the SIGKILLed procdump"
	killed=$(ls "$d" | grep '^killed\.dmp\..*\.tmp$') || fail "the SIGKILLed procdump left no temporary file: $(ls "$d")"
	live=$(ls "$d" | grep '^live\.dmp\..*\.tmp$') || fail "the live writer has no temporary file: $(ls "$d")"
	# by name: a PID that runs with another start time (reused), the older
	# form with no such PID (4294967295 is none) and with one that runs
	: >"$d/reused.dmp.$(field dk pid).01D0000000000000.tmp"
	: >"$d/old.dmp.4294967295.tmp"
	: >"$d/oldlive.dmp.$(field dk pid).tmp"
	: >"$d/notes.tmp"
	: >"$d/x.dmp.12ab.tmp"
	pd -mm "$(field dk2 pid)" "$(wpath "$d/next.dmp")"
	expect_rc 0
	expect_out "Removed 3 temporary files of ended procdump runs from .*stale\\\\ ([0-9]* MB)\.$"
	[ "$(grep -c 'Removed' "$O/pd.out")" = 1 ] || fail "not one line: $(grep Removed "$O/pd.out")"
	for f in "$killed" reused.dmp.$(field dk pid).01D0000000000000.tmp old.dmp.4294967295.tmp; do
		[ ! -e "$d/$f" ] || fail "$f, whose procdump has ended, is still there"
	done
	for f in "$live" oldlive.dmp.$(field dk pid).tmp notes.tmp x.dmp.12ab.tmp next.dmp; do
		[ -e "$d/$f" ] || fail "$f was removed"
	done
	pd_join stl 90
	expect_rc 0
	[ -f "$d/live.dmp" ] || fail "the live writer's dump was not completed: $(ls "$d")"
	alive dk || fail "the target was left suspended"
	alive dk2 || fail "the target of the killed procdump was left suspended"
	stop_target dk2
END

# The space of the removed temporary files counts toward -minfree: on a
# 100 MB volume where a killed procdump's file holds over 40 MB, a dump
# with -minfree 70 is written (without the removal it would be refused).
t 'disk: the space of a removed temporary file counts toward -minfree (the dump is written, exit 0)' <<'END'
	[ $native = 1 ] && skip "SIGKILL of a Wine process"
	dk_target
	dk_mount dkst 100
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg sts -ma -minfree 0 "$(field dk pid)" "$(wpath "$DK_MNT/k.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/sts.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/sts.raw")"
	_end=$(($(date +%s) + 60))
	until [ "$(dk_tmp_kib "$DK_MNT")" -ge $((40 << 10)) ]; do
		[ "$(date +%s)" -lt $_end ] || fail "the temporary file did not reach 40 MB: $(ls -l "$DK_MNT")"
		sleep 0.1
	done
	dk_kill sts "-ma -minfree 0 $(field dk pid) "
	[ "$(dk_avail "$DK_MNT")" -lt $((70 << 10)) ] || fail "the killed dump's file leaves $(dk_avail "$DK_MNT") KiB free"
	pd -mm -minfree 70 "$(field dk pid)" "$(wpath "$DK_MNT")"
	expect_out 'Removed 1 temporary file of ended procdump runs'
	expect_rc 0
	[ -z "$(ls "$DK_MNT" | grep '\.tmp$')" ] || fail "temporary file left: $(ls "$DK_MNT")"
	[ "$(ls "$DK_MNT" | grep -c '\.dmp$')" = 1 ] || fail "want the one dump: $(ls "$DK_MNT")"
	alive dk || fail "the target was left suspended"
END

# dk_left DIR NAME...: DIR holds exactly the files NAME... (in any order)
dk_left() {
	_d=$1
	shift
	[ "$(ls "$_d" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ] ||
		fail "$(basename "$_d") holds: $(ls "$_d" | tr '\n' ' '); wanted: $*"
}
# dk_named K [TAG]: the file name the line "Dump K initiated" gave (with
# -mm -ma, the one with that type suffix)
dk_named() {
	sed -n "s/.*Dump $1 initiated: .*\\\\\\([^\\\\]*${2:-}\\(-[0-9]*\\)\\{0,1\\}\\.dmp\\)\$/\\1/p" "$O/pd.out" | head -n 1
}
# dk_removed N: procdump said N times that -keep removed a dump
dk_removed() {
	[ "$(grep -c 'Removed the older dump .* (-keep [0-9]*)\.$' "$O/pd.out")" = "$1" ] ||
		fail "want $1 removals: $(grep Removed "$O/pd.out")"
}

# -keep counts every name procdump.c writes: with -mm -ma the type
# suffixes (each type kept apart: the Mini and the Full of the last
# trigger stay); a given name with keywords and a prefix of its own, with
# -2, -3 for the names of one run; a dump of the same process name (another
# PID) counts, a dump of another process name under the same mask does not.
t 'disk: -keep counts every name procdump.c writes: -mm -ma suffixes (each type apart), a given name with keywords and -2, -3' <<'END'
	start_target dkk "$T/target.exe" 1
	start_target dko "$T/pdtgt.exe" 1
	pid=$(field dkk pid)
	d=$O/keept
	mkdir -p "$d"
	pd -mm -ma -n 3 -s 1 -keep 1 "$pid" "$(wpath "$d")"
	expect_rc 0
	dk_removed 4
	dk_left "$d" "$(dk_named 3 _Mini)" "$(dk_named 3 _Full)"
	d=$O/keepm
	mkdir -p "$d"
	pd -mm "$(field dko pid)" "$(wpath "$d/crash_PROCESSNAME_PID.dmp")"
	expect_rc 0
	pd -mm "$(field dk pid)" "$(wpath "$d/crash_PROCESSNAME_PID.dmp")"
	expect_rc 0
	pd -mm -n 3 -s 1 -keep 1 "$pid" "$(wpath "$d/crash_PROCESSNAME_PID.dmp")"
	expect_rc 0
	dk_removed 3
	dk_left "$d" "crash_pdtgt.exe_$(field dko pid).dmp" "crash_target.exe_$pid-3.dmp"
	stop_target dkk
	stop_target dko
END

# -keep with several targets (-all, -pt: names carrying the PID) keeps the
# newest dumps of the process name, whichever process they are of
t 'disk: -keep with -all and -pt (names carrying the PID) keeps the newest dumps of the process name' <<'END'
	cp "$T/target.exe" "$O/pdkeep.exe"
	cp "$T/crasher.exe" "$O/pdktree.exe"
	start_target dka1 "$O/pdkeep.exe" 1
	start_target dka2 "$O/pdkeep.exe" 1
	trap 'set +e; stop_target dka1; stop_target dka2; [ ! -f "$O/dkt.upid" ] || stop_target dkt' EXIT # (-k ended dkt: its kill fails)
	d=$O/keepa
	mkdir -p "$d"
	pd -mm -n 2 -s 1 -all -keep 1 pdkeep "$(wpath "$d")"
	expect_rc 0
	expect_out '2 processes monitored, 2 reached the dump count.'
	dk_removed 3
	[ "$(ls "$d" | grep -c '^pdkeep.exe_[0-9]*_[0-9]*_[0-9]*\.dmp$')" = 1 ] || fail "-all: want 1 dump left: $(ls "$d")"
	start_target dkt "$O/pdktree.exe" tree
	[ -n "$(field dkt child)" ] || fail "the parent started no child: $(cat "$O/dkt.log")"
	d=$O/keepp
	mkdir -p "$d"
	pd -mm -n 2 -s 1 -pt -k -keep 1 "$(field dkt pid)" "$(wpath "$d")"
	expect_rc 0
	expect_out '2 processes monitored, 2 reached the dump count.'
	dk_removed 3
	[ "$(ls "$d" | grep -c '^pdktree.exe_[0-9]*_[0-9]*_[0-9]*\.dmp$')" = 1 ] || fail "-pt: want 1 dump left: $(ls "$d")"
END

t 'disk: -ma writes zero pages as holes; readers still read the zeros and the marker' <<'END'
	export PDTEST_ZERO_MIB=256
	start_target dz "$T/target.exe" 1
	unset PDTEST_ZERO_MIB
	mkdir -p "$O/dz"
	pd -ma "$(field dz pid)" "$(wpath "$O/dz/z.dmp")"
	expect_rc 0
	size=$(stat -c %s "$O/dz/z.dmp")
	used=$(($(du -k "$O/dz/z.dmp" | cut -f1) * 1024))
	[ "$size" -gt $((256 << 20)) ] || fail "the dump ($size bytes) cannot hold the 256 MiB of zeros"
	[ $native = 1 ] || [ "$used" -lt $((size - (200 << 20))) ] ||
		fail "the zero pages take disk space: $used bytes on disk for $size"
	# readers see the marker in the middle and zeros around it
	has_bytes "$O/dz/z.dmp" dz zmark "the marker among the zeros"
	z=$((0x$(field dz zeros)))
	for a in $((z + 4096)) $((z + (128 << 20) - 16)) $((z + (256 << 20) - 16)); do
		got=$(read16 "$O/dz/z.dmp" "$(hexaddr $a)" "$O/dz/r.txt")
		[ "$got" = 00000000000000000000000000000000 ] || fail "not zeros at $(hexaddr $a): '$got'"
	done
	yaml "$O/dz/z.dmp" "$O/dz/z.yaml"
	rm -f "$O/dz/z.dmp"
	stop_target dz
END

t 'disk: -minfree and -keep out of range are refused with one line naming the switch (exit 2)' <<'END'
	for a in "-minfree -1" "-minfree 1099511627777" "-minfree x" "-keep 0" "-keep -3"; do
		# shellcheck disable=SC2086 # $a is the switch and its value
		pd -mm $a 1234
		expect_rc 2
		expect_err_one_line
		expect_err "^procdump: ${a%% *}: "
	done
END
