# t-cli.sh - the command line: usage, examples, and every refusal (exit 2) as
# one line naming the switch.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is a
# function followed by the line that titles and runs it:
#   t 'cli: what must hold' function

cli_help() {
	pd -?
	expect_rc 0
	expect_out 'Capture Usage:'
	expect_out 'Install Usage:'
	expect_out '-ma '
	expect_out 'Exit codes:'
}
t 'cli: -? prints the usage and exits 0' cli_help

cli_help_examples() {
	pd -? -e
	expect_rc 0
	expect_out 'procdump -ma 4572'
	expect_out 'procdump -e 1 -f "" w3wp.exe'
}
t 'cli: -? -e prints the examples' cli_help_examples

cli_no_args() {
	pd
	expect_rc 2
	expect_out 'Capture Usage:'
}
t 'cli: no arguments prints the usage and exits 2' cli_no_args

cli_unknown_switch() {
	pd -zz 1234
	expect_rc 2
	expect_err "unknown switch '-zz'"
	expect_err_one_line
}
t 'cli: an unknown switch is one line naming it, exit 2' cli_unknown_switch

cli_missing_value() {
	pd -ma 1234 -n
	expect_rc 2
	expect_err '-n needs a value'
	pd -n -ma 1234
	expect_rc 2
	expect_err '-n needs a value'
}
t 'cli: a missing value names the switch, exit 2' cli_missing_value

cli_not_numeric() {
	pd -n three 1234
	expect_rc 2
	expect_err "-n: 'three' is not a whole number"
	pd -s 1.5 1234
	expect_rc 2
	expect_err '-s:'
	pd -mc xyz 1234
	expect_rc 2
	expect_err '-mc:'
}
t 'cli: a non-numeric value names the switch, exit 2' cli_not_numeric

cli_out_of_range() {
	pd -n 0 1234
	expect_rc 2
	expect_err '-n: the dump count must be at least 1'
	pd -n -1 1234
	expect_rc 2
	expect_err '-n: the dump count must be at least 1, not -1'
	pd -s 0 1234
	expect_rc 2
	expect_err '-s: seconds must be at least 1'
	pd -c 101 1234
	expect_rc 2
	expect_err '-c: CPU usage must be 0 to 100'
	ncpu=$(nproc)
	pd -c $((ncpu * 100 + 1)) -u 1234
	expect_rc 2
	expect_err "-c: CPU usage must be 0 to $((ncpu * 100))"
	pd -r 7 -ma 1234
	expect_rc 2
	expect_err '-r: the concurrent limit must be 1 to 5'
}
t 'cli: out-of-range -n -s -c (-u per core) -r are refused, exit 2' cli_out_of_range

cli_conflicts() {
	pd -a -ma 1234
	expect_rc 2
	expect_err '-a needs -r'
	pd -mk -r -ma 1234
	expect_rc 2
	expect_err '-mk cannot be used with -r'
	pd -f NotFound 1234
	expect_rc 2
	expect_err '-f needs -e or -l'
	pd -c 10 -cl 5 1234
	expect_rc 2
	expect_err '-c and -cl cannot be used together'
	pd -ld 1234
	expect_rc 2
	expect_err '-ld needs -e'
	pd -ma 1234 Z:\\tmp\\a.dmp extra
	expect_rc 2
	expect_err "unexpected argument 'extra'"
	pd -ma
	expect_rc 2
	expect_err 'no target'
	pd -w 1234
	expect_rc 2
	expect_err '-w waits for a process name'
	pd -n 2 -n 3 1234
	expect_rc 2
	expect_err '-n is given twice'
	pd -i 'C:\dumps' -n 2
	expect_rc 2
	expect_err '-n cannot be used with -i'
	pd -u notepad
	expect_rc 2
	expect_err '-u needs -c or -cl'
	pd -cancel 1234 -s 2
	expect_rc 2
	expect_err '-cancel takes only a PID'
}
t 'cli: conflicting or incomplete switches are refused, exit 2' cli_conflicts

cli_not_implemented_says_so() {
	for args in "-i Z:\\tmp" "-u" "-r -ma 1234" "-mk -ma 1234" "-wer 1234" \
		"-y app 1234"; do
		# shellcheck disable=SC2086
		pd $args
		expect_rc 2
		grep -q 'is not implemented yet' "$O/pd.err" || fail "'$args': no 'not implemented yet' message"
		expect_err_one_line
	done
}
t 'cli: a switch not built yet says so in one line, exit 2' cli_not_implemented_says_so

# Every example of ProcDump's reference page parses: it runs, says "not
# implemented yet", fails on the (absent) target, or starts monitoring (then
# Ctrl+C ends it); never a usage error.
cli_every_example_parses() {
	pd -? -e
	sed -n 's/^      C:\\[^>]*>procdump //p' "$O/pd.out" >"$O/examples"
	[ "$(wc -l <"$O/examples")" -ge 25 ] || fail "only $(wc -l <"$O/examples") examples"
	[ $native = 0 ] && mkdir -p "$WINEPREFIX/drive_c/dumps"
	k=0
	while read -r line; do
		k=$((k + 1))
		eval "set -- $line"
		pd_bg ex$k "$@"
		_p=$(cat "$O/ex$k.pdpid")
		_end=$(($(date +%s) + 30))
		while kill -0 "$_p" 2>/dev/null; do
			if grep -Eq 'Waiting for process named|Press Ctrl-C' "$O/ex$k.raw"; then
				kill -INT "$_p"
				break
			fi
			[ "$(date +%s)" -ge $_end ] && fail "example '$line' neither ended nor monitored in 30 s"
			sleep 0.05
		done
		pd_join ex$k 20
		tr -d '\r' <"$O/ex$k.raw" >"$O/ex.txt"
		case $RC in
		0) ;;
		1) grep -q 'Cancelled' "$O/ex.txt" || fail "example '$line': exit 1 without a cancel" ;;
		2) grep -q 'is not implemented yet' "$O/ex.txt" || fail "example '$line': $(tail -n 1 "$O/ex.txt")" ;;
		3) grep -Eq 'no process|not running|no procdump is monitoring|cannot launch' "$O/ex.txt" ||
			fail "example '$line': $(tail -n 1 "$O/ex.txt")" ;;
		*) fail "example '$line' exited $RC: $(tail -n 2 "$O/ex.txt")" ;;
		esac
	done <"$O/examples"
}
t 'cli: every example command line of the reference page parses' cli_every_example_parses

cli_switch_case_and_slash() {
	start_target cs "$T/target.exe" 1
	pid=$(field cs pid)
	mkdir -p "$O/cs"
	pd /MA "$pid" "$(wpath "$O/cs/a.dmp")"
	expect_rc 0
	pd -Mm /N 1 "$pid" "$(wpath "$O/cs/b.dmp")"
	expect_rc 0
	yaml "$O/cs/a.dmp" "$O/cs/a.yaml"
	grep -q 'Type:            Memory64List' "$O/cs/a.yaml" || fail "/MA did not write a full dump"
	stop_target cs
}
t 'cli: switches take / or - and any case' cli_switch_case_and_slash
