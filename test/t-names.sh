# t-names.sh - dump file names: the default, folders, substitutions,
# overwriting.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'names: what must hold' <<'END'
#   	commands
#   END

t 'names: no output: PROCESSNAME_YYMMDD_HHMMSS.dmp in the current folder, ProcDump lines' <<'END'
	start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm1"
	pd_in "$O/nm1" -ma "$(field nm pid)"
	expect_rc 0
	ls "$O/nm1" >"$O/nm1.ls"
	grep -Eq '^target\.exe_[0-9]{6}_[0-9]{6}\.dmp$' "$O/nm1.ls" || fail "default name: $(cat "$O/nm1.ls")"
	[ "$(wc -l <"$O/nm1.ls")" = 1 ] || fail "expected one file: $(cat "$O/nm1.ls")"
	f=$(cat "$O/nm1.ls")
	d=$(date +%y%m%d)
	case $f in target.exe_"$d"_*) ;; *) fail "date part of $f is not $d" ;; esac
	expect_out "Dump 1 initiated: .*$f"
	expect_out 'Dump 1 writing: Estimated dump file size is [0-9]* MB\.'
	expect_out 'Dump 1 complete: [0-9]* MB written in [0-9.]* seconds'
	expect_out 'Dump count reached\.'
END

t 'names: a folder gets the default name' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm2"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm2")"
	expect_rc 0
	ls "$O/nm2" | grep -Eq '^target\.exe_[0-9]{6}_[0-9]{6}\.dmp$' || fail "nothing in the folder: $(ls "$O/nm2")"
END

t 'names: a file name without .dmp gets .dmp' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm3"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm3/crash")"
	expect_rc 0
	[ -f "$O/nm3/crash.dmp" ] || fail "no crash.dmp: $(ls "$O/nm3")"
END

t 'names: PROCESSNAME PID YYMMDD HHMMSS EXCEPTIONCODE are substituted' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	pid=$(field nm pid)
	mkdir -p "$O/nm4"
	pd -mm "$pid" "$(wpath "$O/nm4/PROCESSNAME-PID-YYMMDD-HHMMSS-EXCEPTIONCODE.dmp")"
	expect_rc 0
	ls "$O/nm4" >"$O/nm4.ls"
	grep -Eq "^target\.exe-$pid-[0-9]{6}-[0-9]{6}-0\.dmp\$" "$O/nm4.ls" || fail "got $(cat "$O/nm4.ls")"
END

t 'names: an existing file is not replaced without -o, exit 4' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm5"
	echo "precious" >"$O/nm5/x.dmp"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm5/x.dmp")"
	expect_rc 4
	expect_err 'already exists (use -o to overwrite)'
	expect_err_one_line
	[ "$(cat "$O/nm5/x.dmp")" = precious ] || fail "x.dmp was changed"
	[ "$(ls "$O/nm5")" = x.dmp ] || fail "left files behind: $(ls "$O/nm5")"
END

t 'names: -o replaces an existing file' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm6"
	echo "old" >"$O/nm6/x.dmp"
	pd -mm -o "$(field nm pid)" "$(wpath "$O/nm6/x.dmp")"
	expect_rc 0
	yaml "$O/nm6/x.dmp" "$O/nm6/x.yaml"
	[ "$(ls "$O/nm6")" = "x.dmp
x.yaml" ] || fail "left files behind: $(ls "$O/nm6")"
END

t 'names: -mm -ma: one trigger, Dump 1 twice, the type in each name' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm7"
	pd -mm -ma "$(field nm pid)" "$(wpath "$O/nm7/both.dmp")"
	expect_rc 0
	[ -f "$O/nm7/both_Mini.dmp" ] && [ -f "$O/nm7/both_Full.dmp" ] || fail "want both_Mini.dmp and both_Full.dmp: $(ls "$O/nm7")"
	yaml "$O/nm7/both_Mini.dmp" "$O/nm7/a.yaml"
	yaml "$O/nm7/both_Full.dmp" "$O/nm7/b.yaml"
	grep -q 'Type:            MemoryList' "$O/nm7/a.yaml" || fail "the -mm dump has no MemoryList"
	grep -q 'Type:            Memory64List' "$O/nm7/b.yaml" || fail "the -ma dump has no Memory64List"
	# one trigger: both are Dump 1, as ProcDump counts them
	[ "$(grep -c 'Dump 1 complete' "$O/pd.out")" = 2 ] || fail "want Dump 1 twice: $(cat "$O/pd.out")"
	! grep -q 'Dump 2' "$O/pd.out" || fail "one trigger numbered as two dumps"
END

# -mm -ma -n 2 -s 1: Dump 1 and Dump 2, each a Mini and a Full file
t 'names: -mm -ma -n 2: Dump 1 and Dump 2, a Mini and a Full file each' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm8"
	pd -mm -ma -n 2 -s 1 "$(field nm pid)" "$(wpath "$O/nm8")\\"
	expect_rc 0
	expect_out 'Number of dumps:       2'
	for k in 1 2; do
		[ "$(grep -c "Dump $k complete" "$O/pd.out")" = 2 ] || fail "want Dump $k twice: $(cat "$O/pd.out")"
	done
	! grep -q 'Dump [34]' "$O/pd.out" || fail "dumps numbered past the count: $(cat "$O/pd.out")"
	[ "$(ls "$O/nm8" | grep -c '_Mini\.dmp$')" = 2 ] && [ "$(ls "$O/nm8" | grep -c '_Full\.dmp$')" = 2 ] ||
		fail "want two _Mini and two _Full files: $(ls "$O/nm8")"
END

# The configuration table: ProcDump's rows, names and order
t 'names: the configuration table has ProcDump rows, names and order' <<'END'
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm9"
	pd -mm -n 1 "$(field nm pid)" "$(wpath "$O/nm9/PROCESSNAME_x.dmp")"
	expect_rc 0
	want='Process Process_image CPU_threshold Performance_counter Commit_threshold Threshold_seconds
Hung_window_check Log_debug_strings Exception_monitor Exception_filter Terminate_monitor Cloning_type
Concurrent_limit Avoid_outage Number_of_dumps Dump_folder Dump_filename/mask Queue_to_WER Kill_after_dump'
	got=$(tr -d '\r' <"$O/pd.out" | sed -n 's/^\([A-Z][A-Za-z/ ]*\): .*/\1/p' | tr ' ' _ | tr '\n' ' ')
	[ "$got" = "$(echo $want) " ] || fail "rows: $got"
	expect_out "Process: *target.exe ($(field nm pid))"
	expect_out 'Process image: *[A-Z]:\\.*\\target.exe'
	expect_out 'Exception monitor: *Disabled'
	expect_out 'Dump folder: *[A-Z]:.*nm9\\'
	expect_out 'Dump filename/mask: *PROCESSNAME_x.dmp'
	expect_out 'Kill after dump: *Disabled'
	grep -q 'Dump folder/file' "$O/pd.out" && fail "the old row is still printed"
	return 0
END

t 'names: a missing folder is refused, exit 2' <<'END'
	pd -mm 1234 "$(wpath "$O/no/such/dir/x.dmp")"
	expect_rc 2
	expect_err 'does not exist'
END
