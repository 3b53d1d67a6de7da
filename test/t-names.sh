# t-names.sh - dump file names: the default, folders, substitutions,
# overwriting.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is a
# function followed by the line that titles and runs it:
#   t 'names: what must hold' function

names_default_in_cwd() {
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
}
t 'names: no output: PROCESSNAME_YYMMDD_HHMMSS.dmp in the current folder, ProcDump lines' names_default_in_cwd

names_folder() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm2"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm2")"
	expect_rc 0
	ls "$O/nm2" | grep -Eq '^target\.exe_[0-9]{6}_[0-9]{6}\.dmp$' || fail "nothing in the folder: $(ls "$O/nm2")"
}
t 'names: a folder gets the default name' names_folder

names_file_gets_dmp() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm3"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm3/crash")"
	expect_rc 0
	[ -f "$O/nm3/crash.dmp" ] || fail "no crash.dmp: $(ls "$O/nm3")"
}
t 'names: a file name without .dmp gets .dmp' names_file_gets_dmp

names_substitutions() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	pid=$(field nm pid)
	mkdir -p "$O/nm4"
	pd -mm "$pid" "$(wpath "$O/nm4/PROCESSNAME-PID-YYMMDD-HHMMSS-EXCEPTIONCODE.dmp")"
	expect_rc 0
	ls "$O/nm4" >"$O/nm4.ls"
	grep -Eq "^target\.exe-$pid-[0-9]{6}-[0-9]{6}-0\.dmp\$" "$O/nm4.ls" || fail "got $(cat "$O/nm4.ls")"
}
t 'names: PROCESSNAME PID YYMMDD HHMMSS EXCEPTIONCODE are substituted' names_substitutions

names_no_overwrite_without_o() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm5"
	echo "precious" >"$O/nm5/x.dmp"
	pd -mm "$(field nm pid)" "$(wpath "$O/nm5/x.dmp")"
	expect_rc 4
	expect_err 'already exists (use -o to overwrite)'
	expect_err_one_line
	[ "$(cat "$O/nm5/x.dmp")" = precious ] || fail "x.dmp was changed"
	[ "$(ls "$O/nm5")" = x.dmp ] || fail "left files behind: $(ls "$O/nm5")"
}
t 'names: an existing file is not replaced without -o, exit 4' names_no_overwrite_without_o

names_overwrite_with_o() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm6"
	echo "old" >"$O/nm6/x.dmp"
	pd -mm -o "$(field nm pid)" "$(wpath "$O/nm6/x.dmp")"
	expect_rc 0
	yaml "$O/nm6/x.dmp" "$O/nm6/x.yaml"
	[ "$(ls "$O/nm6")" = "x.dmp
x.yaml" ] || fail "left files behind: $(ls "$O/nm6")"
}
t 'names: -o replaces an existing file' names_overwrite_with_o

names_two_types_one_trigger() {
	[ -f "$O/nm.log" ] || start_target nm "$T/target.exe" 1
	mkdir -p "$O/nm7"
	pd -mm -ma "$(field nm pid)" "$(wpath "$O/nm7/both.dmp")"
	expect_rc 0
	[ -f "$O/nm7/both.dmp" ] && [ -f "$O/nm7/both-2.dmp" ] || fail "want both.dmp and both-2.dmp: $(ls "$O/nm7")"
	yaml "$O/nm7/both.dmp" "$O/nm7/a.yaml"
	yaml "$O/nm7/both-2.dmp" "$O/nm7/b.yaml"
	grep -q 'Type:            MemoryList' "$O/nm7/a.yaml" || fail "first (-mm) dump has no MemoryList"
	grep -q 'Type:            Memory64List' "$O/nm7/b.yaml" || fail "second (-ma) dump has no Memory64List"
	expect_out 'Dump 2 complete'
	[ "$(grep -c 'initiated' "$O/pd.out")" = 2 ] || fail "want two dumps"
}
t 'names: -mm -ma writes two dumps with distinct names' names_two_types_one_trigger

names_missing_folder() {
	pd -mm 1234 "$(wpath "$O/no/such/dir/x.dmp")"
	expect_rc 2
	expect_err 'does not exist'
}
t 'names: a missing folder is refused, exit 2' names_missing_folder
