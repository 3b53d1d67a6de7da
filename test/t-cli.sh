# t-cli.sh - the command line: usage, examples, and every refusal (exit 2) as
# one line naming the switch.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'cli: what must hold' <<'END'
#   	commands
#   END

t 'cli: -? prints the usage and exits 0' <<'END'
	pd -?
	expect_rc 0
	expect_out 'Capture Usage:'
	expect_out 'Install Usage:'
	expect_out '-ma '
	expect_out 'Exit codes:'
END

t 'cli: -? -e prints the examples' <<'END'
	pd -? -e
	expect_rc 0
	expect_out 'procdump -ma 4572'
	expect_out 'procdump -e 1 -f "" w3wp.exe'
END

t 'cli: no arguments prints the usage, says why in one line on stderr, exit 2' <<'END'
	pd
	expect_rc 2
	expect_out 'Capture Usage:'
	expect_err 'no process given'
	expect_err_one_line
END

# The banner: never before a usage error (exit 2), always before anything
# else (here a target that is not there, exit 3)
t 'cli: the banner is never printed before a usage error, always before a target error' <<'END'
	for args in "-zz 1234" "-x $(wpath "$O/no-such-folder") x.exe" "-ma 1234 $(wpath "$O/no-such-folder")\\" \
		"-i $(wpath "$O/no-such-folder")"; do
		pd $args
		expect_rc 2
		! grep -q 'procdump.c v' "$O/pd.out" || fail "banner before a usage error ($args): $(cat "$O/pd.out")"
	done
	pd -ma no-such-process-name
	expect_rc 3
	expect_out '^procdump.c v'
END

# refused_alone WHAT: the last procdump refused its line as a usage error
# should be: exit 2, one line on stderr, nothing on stdout (no banner)
refused_alone() {
	expect_rc 2
	[ "$(grep -c . "$O/pd.err")" = 1 ] || fail "$1: stderr is not one line: $(head -c 400 "$O/pd.err")"
	[ ! -s "$O/pd.out" ] || fail "$1: stdout is not empty (the banner before a usage error): $(head -n 2 "$O/pd.out")"
}
t 'cli: a counter that cannot be read (-p, -pl) and every refusal of -j are usage errors without the banner (exit 2, one line, stdout empty)' <<'END'
	start_target bl "$T/target.exe" 1
	pid=$(field bl pid)
	mkdir -p "$O/bl"
	# a counter that cannot be read, above and below
	for sw in -p -pl; do
		pd "$sw" '\Nope(x)\Nothing' 10 "$pid" "$(wpath "$O/bl")"
		refused_alone "$sw"
		expect_err "^procdump: $sw: counter '\\\\Nope(x)\\\\Nothing' cannot be read: "
	done
	# every refusal of the hidden -j: too few values, a bad PID or event,
	# a missing folder, an -md DLL that does not load
	for args in "" "$(wpath "$O/bl")" "$(wpath "$O/bl") $pid" "$(wpath "$O/bl") x 1 0" \
		"$(wpath "$O/bl") $pid -1 0" "$(wpath "$O/bl") 1 2 3 4"; do
		# shellcheck disable=SC2086 # the values as separate words
		pd -j $args
		refused_alone "-j $args"
		expect_err '^procdump: -j needs a dump folder, a PID, an event handle'
	done
	pd -j "$(wpath "$O/bl/none")" "$pid" 0 0
	refused_alone "-j with a missing folder"
	expect_err "^procdump: -j: dump folder '.*none' does not exist"
	pd -md "$(wpath "$O/bl/nope.dll")" -j "$(wpath "$O/bl")" "$pid" 0 0
	refused_alone "-md nope.dll -j"
	expect_err "^procdump: -md: cannot load '.*nope.dll': .*(126)"
	[ -z "$(ls "$O/bl")" ] || fail "files were written: $(ls "$O/bl")"
	alive bl || fail "the target does not run on"
	stop_target bl
END

t 'cli: an empty dump file name is refused like an empty target: exit 2, one line, no file (not a hidden .dmp)' <<'END'
	start_target en "$T/target.exe" 1
	mkdir -p "$O/en"
	for args in "$(field en pid) ''" "-ma $(field en pid) ''" "-n 2 -s 1 $(field en pid) ''"; do
		eval "set -- $args"
		pd_in "$O/en" "$@"
		refused_alone "$args"
		expect_err '^procdump: the dump file name is empty'
	done
	[ -z "$(ls -A "$O/en")" ] || fail "a file was written: $(ls -A "$O/en")"
	alive en || fail "the target does not run on"
	stop_target en
END

# long_reason WHAT REASON: the last procdump's one stderr line echoes a
# value cut with "..." (the line stays under 3 KB), then REASON, whole, at the end
long_reason() {
	[ "$(grep -c . "$O/pd.err")" = 1 ] || fail "$1: stderr is not one line: $(head -c 300 "$O/pd.err")"
	grep -q "\.\.\.'" "$O/pd.err" || fail "$1: the echoed value is not cut with '...': $(tail -c 300 "$O/pd.err")"
	[ "$(wc -c <"$O/pd.err")" -lt 3000 ] || fail "$1: the line is $(wc -c <"$O/pd.err") bytes"
	tr -d '\r' <"$O/pd.err" | grep -q -- "$2\$" || fail "$1: the line does not end in /$2/: $(tail -c 300 "$O/pd.err")"
}
t 'cli: a 5000-digit number, a 30000-character counter, DLL or dump path: the echoed value is cut with ..., the reason stays whole at the end of the one line' <<'END'
	start_target lr "$T/target.exe" 1
	pid=$(field lr pid)
	mkdir -p "$O/lr"
	LONG=$(printf '%30000s' '' | tr ' ' a) LONGNUM=$(printf '%5000s' '' | tr ' ' 9)
	pd -n "$LONGNUM" "$pid"
	expect_rc 2
	long_reason "-n 5000 digits" "^procdump: -n: '9*\.\.\.' is not a whole number from 1 to 2147483647 (see procdump -?)"
	pd -p "\\$LONG(x)\\y" 10 "$pid"
	expect_rc 2
	long_reason "-p 30000 characters" "^procdump: -p: counter '\\\\a*\.\.\.' cannot be read: PDH_CSTATUS_[A-Z_]*: [a-z ]* (0x[0-9A-F]*)"
	pd -md "$(wpath "$O/lr")\\$LONG.dll" "$pid"
	expect_rc 2
	long_reason "-md 30000 characters" "^procdump: -md: cannot load '.*a\.\.\.': .* ([0-9]*)"
	pd -ma "$pid" "$(wpath "$O/lr")\\$LONG"
	expect_rc 4
	long_reason "dump file 30000 characters" "^procdump: .*'.*a\.\.\.': .* ([0-9]*)"
	[ -z "$(ls -A "$O/lr")" ] || fail "a file was written: $(ls -A "$O/lr")"
	stop_target lr
END

t 'cli: an unknown switch is one line naming it, exit 2' <<'END'
	pd -zz 1234
	expect_rc 2
	expect_err "unknown switch '-zz'"
	expect_err_one_line
END

t 'cli: a missing value names the switch, exit 2' <<'END'
	pd -ma 1234 -n
	expect_rc 2
	expect_err '-n needs a value'
	pd -n -ma 1234
	expect_rc 2
	expect_err '-n needs a value'
END

t 'cli: a non-numeric value names the switch, exit 2' <<'END'
	pd -n three 1234
	expect_rc 2
	expect_err "-n: 'three' is not a whole number"
	pd -s 1.5 1234
	expect_rc 2
	expect_err '-s:'
	pd -mc xyz 1234
	expect_rc 2
	expect_err '-mc:'
END

t 'cli: out-of-range -n -s -c (-u per core) -r are refused, exit 2' <<'END'
	pd -n 0 1234
	expect_rc 2
	expect_err "-n: '0' is not a whole number from 1 to "
	pd -n -1 1234
	expect_rc 2
	expect_err "-n: '-1' is not a whole number from 1 to "
	pd -s 0 1234
	expect_rc 2
	expect_err "-s: '0' is not a whole number from 1 to "
	pd -c 101 1234
	expect_rc 2
	expect_err "-c: '101' is not a whole number from 0 to 100"
	ncpu=$(nproc)
	pd -c $((ncpu * 100 + 1)) -u 1234
	expect_rc 2
	expect_err "-c: '$((ncpu * 100 + 1))' is not a whole number from 0 to $((ncpu * 100)) (percent of one core, -u)"
	pd -c $((ncpu * 100)) -u 999996
	expect_rc 3
	pd -r 7 -ma 1234
	expect_rc 2
	expect_err '-r: the concurrent limit must be 1 to 5'
END

t 'cli: conflicting or incomplete switches are refused, exit 2' <<'END'
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
END

t 'cli: a switch not built yet says so in one line, exit 2' <<'END'
	for args in \
		"-y app 1234"; do
		# shellcheck disable=SC2086
		pd $args
		expect_rc 2
		grep -q 'is not implemented yet' "$O/pd.err" || fail "'$args': no 'not implemented yet' message"
		expect_err_one_line
	done
END

# Every example of ProcDump's reference page parses: it runs, says "not
# implemented yet", fails on the (absent) target, or starts monitoring (then
# Ctrl+C ends it); never a usage error.
t 'cli: every example command line of the reference page parses' <<'END'
	# the examples -ma -i c:\dumps, -ma -i and -u write the prefix's AeDebug key
	[ $native = 0 ] && { aed_save; trap aed_restore EXIT; }
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
		2) grep -q 'is not implemented yet' "$O/ex.txt" ||
			# (under Wine only \System\System Up Time is a counter: the others
			# are refused, as usage errors, once the line has parsed)
			{ [ $native = 0 ] && grep -Eq "^procdump: -pl?: counter '.*' cannot be read: PDH_CSTATUS_NO_(OBJECT|COUNTER)" "$O/ex.txt"; } ||
			fail "example '$line': $(tail -n 1 "$O/ex.txt")" ;;
		3) grep -Eq 'no process|not running|no procdump is monitoring|cannot launch' "$O/ex.txt" ||
			fail "example '$line': $(tail -n 1 "$O/ex.txt")" ;;
		*) fail "example '$line' exited $RC: $(tail -n 2 "$O/ex.txt")" ;;
		esac
	done <"$O/examples"
END

t 'cli: switches take / or - and any case' <<'END'
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
END

# cli_refused WHAT: the last procdump refused it as the tests want: exit 2
# (or $want), one line on stderr, and none of the bytes that reach a
# terminal raw (C0 controls but the line's CR LF, DEL, C1 controls, bidi
# U+202E): user text is echoed with visible escapes.  A word in $bad.
cli_refused() {
	_w=${want:-2}
	[ "$RC" = "$_w" ] || { bad="$bad
  $1: exit $RC, wanted $_w: $(head -c 300 "$O/pd.err")"; return 0; }
	[ "$(wc -l <"$O/pd.err")" = 1 ] && [ -n "$(tr -d '\r\n' <"$O/pd.err")" ] ||
		{ bad="$bad
  $1: stderr is not one line: $(head -c 300 "$O/pd.err" | od -c | head -n 3 | tr '\n' ' ')"; return 0; }
	if sed 's/\r$//' "$O/pd.err" | LC_ALL=C grep -q '[[:cntrl:]]' ||
		LC_ALL=C grep -q "$(printf '\302[\200-\237]')\|$(printf '\342\200\256')" "$O/pd.err"; then
		bad="$bad
  $1: raw control characters on stderr: $(od -c "$O/pd.err" | head -n 3 | tr '\n' ' ')"
	fi
	return 0
}

# The numeric switches, walked from the rows of procdump.c's opts[] as
# test/optdump.c prints them: name, kind, lo, hi (a row without a range:
# 0 up).  Each refuses every spelling that is not
# plain digits (hex for OPT_HEX) from lo to hi, naming the switch and the
# value, exit 2; lo and hi themselves pass.
t 'cli: every numeric switch (walked from opts[]) takes digits only, within its range; the rest is one line, exit 2' <<'END'
	optdump
	awk '$1 == "opt" && ($3 == "INT" || $3 == "HEX" || $3 == "COUNTER") { print $2, $3, $4, $5 }' \
		"$O/optdump.txt" >"$O/numrows"
	[ "$(wc -l <"$O/numrows")" -ge 10 ] || fail "only $(wc -l <"$O/numrows") numeric switches"
	bad="" want=2 nbad=0 ngood=0
	while read -r name kind lo hi; do
		lo=$((lo)) hi=$((hi))
		set -- -"$name"
		# (a counter that can be read: one that cannot is refused before the target is looked up)
		[ "$kind" = COUNTER ] && set -- -"$name" '\System\System Up Time'
		[ "$name" = ondumpat ] && set -- -ondump x.exe -"$name" # (it needs -ondump)
		tgt=999996
		case $name in cancel | freezeguard | exitguard) tgt="" ;; esac
		vals="-9223372036854775808|-1|+1| 1|1 ||1x|1.0|99999999999999999999|$(printf '\331\241')|$(printf '\357\274\221')"
		[ "$kind" = HEX ] && vals="$vals|0x-2|0x|g|0x 1|-0x1" || vals="$vals|0x1|1e3"
		[ "$lo" -gt 0 ] && vals="$vals|$((lo - 1))"
		if [ "$hi" != 9223372036854775807 ]; then
			[ "$kind" = HEX ] && vals="$vals|$(printf '0x%x' $((hi + 1)))" || vals="$vals|$((hi + 1))"
		fi
		_ifs=$IFS
		IFS='|'
		for v in $vals; do
			IFS=$_ifs
			pd "$@" "$v" $tgt
			nbad=$((nbad + 1))
			cli_refused "-$name '$v'"
			grep -qF -- "-$name: " "$O/pd.err" && grep -qF -- "'$v'" "$O/pd.err" ||
				bad="$bad
  -$name '$v': the line does not name the switch and the value: $(cat "$O/pd.err")"
		done
		IFS=$_ifs
		for v in $lo $hi; do
			case $name in freezeguard | exitguard) continue ;; esac # in range, it would guard PID v (hidden, internal)
			[ "$kind" = HEX ] && v=$(printf '0x%x' "$v")
			pd "$@" "$v" $tgt
			ngood=$((ngood + 1))
			[ "$RC" != 2 ] || bad="$bad
  -$name $v (in range) refused: $(cat "$O/pd.err")"
		done
	done <"$O/numrows"
	[ -z "$bad" ] || fail "$(printf '%s\n' "$bad" | grep -c .) refusals wrong:$bad"
	echo "$(wc -l <"$O/numrows") switches: $nbad values refused, $ngood in range taken"
END

# threshold lists and -h [seconds]: each bad one is one line naming the
# switch, exit 2; -h takes only one digit, so a PID after it stays the target
t 'cli: threshold lists out of order, with an empty or an 11th value, or with -n, and -h 0, are one line naming the switch, exit 2; -h takes one digit only' <<'END'
	bad="" want=2
	while read -r sw val msg; do
		pd "$sw" "$val" 999996
		cli_refused "$sw $val"
		grep -qF -- "$sw: " "$O/pd.err" && grep -qF -- "$msg" "$O/pd.err" ||
			bad="$bad
  $sw $val: wanted '$sw: ... $msg': $(cat "$O/pd.err")"
	done <<'LISTS'
-c 40,20 the values must increase (20 after 40)
-c 20,20 the values must increase (20 after 20)
-m 1000,500 the values must increase
-tc 10,5 the values must increase
-hc 300,300 the values must increase
-cl 10,30 the values must decrease (30 after 10)
-ml 500,500 the values must decrease
-c 20,,40 '20,,40' has an empty value
-m 500, '500,' has an empty value
-tc ,5 ',5' has an empty value
-hc 1,2,3,4,5,6,7,8,9,10,11 has more than 10 values
-c 20,101 '101' is not a whole number from 0 to 100
-m 500,1e3 '1e3' is not a whole number
-tc 0,5 '0' is not a whole number from 1 to 16777216
LISTS
	pd -m 500,1000 -n 2 999996
	cli_refused "-m 500,1000 -n 2"
	grep -qF -- '-n cannot be used with a threshold list: -m 500,1000' "$O/pd.err" || bad="$bad
  -n with a list: $(cat "$O/pd.err")"
	pd -h 0 999996
	cli_refused "-h 0"
	grep -qF -- '-h: 0 is not from 1 to 9' "$O/pd.err" || bad="$bad
  -h 0: $(cat "$O/pd.err")"
	[ -z "$bad" ] || fail "$(printf '%s\n' "$bad" | grep -c .) refusals wrong:$bad"
	# accepted: the target is looked up (exit 3), so the line parsed
	for line in '-c 20,40' '-cl 30,20,10' '-m 1,2,3,4,5,6,7,8,9,10' '-ml 9,1' '-tc 5,10' '-hc 100' \
		'-m 500 -n 2' '-c 20 -n 3' '-h' '-h 2' '-h 9 -c 5,6'; do
		eval "set -- $line"
		pd "$@" 999996
		[ "$RC" = 3 ] || fail "'$line 999996' exited $RC, wanted 3: $(cat "$O/pd.err")"
	done
	# -h 1234: 1234 is the PID, not the seconds (no "no target" error)
	pd -h 999996
	expect_rc 3
	pd -h 12
	expect_rc 3
END

t 'cli: control characters in a switch, target or file name are echoed as \xHH escapes, on one line' <<'END'
	pd "-zz$(printf '\033[31m')" 1234
	expect_rc 2
	expect_err "unknown switch '-zz\\\\x1b\[31m'"
	want=2 bad=""
	cli_refused 'ESC in a switch'
	pd -ma "$(printf 'no\nsuch\rname')"
	expect_rc 3
	expect_err "no process or service named 'no\\\\x0asuch\\\\x0dname'"
	want=3
	cli_refused 'LF and CR in a target'
	pd -ma "$(printf 'a\342\200\256b\302\233c')"
	expect_rc 3
	expect_err "'a\\\\u202eb\\\\x9bc'"
	cli_refused 'bidi override and C1 CSI in a target'
	pd -ma 1234 "$(printf 'Z:\\tmp\\x\033]0;t\007.dmp')"
	expect_rc 2
	expect_err "'Z:\\\\tmp\\\\x\\\\x1b]0;t\\\\x07.dmp': a Windows file name cannot hold a control character"
	want=2
	cli_refused 'OSC in a file name'
	[ -z "$bad" ] || fail "$bad"
END

# "c:\my dumps\" on a Windows command line reaches procdump as c:\my dumps"
# (a \ before a quote escapes it): the shell passes that string as it is.
t 'cli: a quoted folder with a trailing \ (passed as dir") is that folder (-v says so); one that swallowed arguments is refused with the quoting' <<'END'
	start_target fq "$T/target.exe" 1
	pid=$(field fq pid)
	dir="$O/fq/my dumps"
	rm -rf "$O/fq"
	mkdir -p "$dir"
	pd -v -ma "$pid" "$(wpath "$dir")\""
	expect_rc 0
	expect_err "ends in a quote, which no Windows path holds: read as the folder '$(wpath "$dir" | sed 's/\\/\\\\/g')\\\\'"
	d=$(one_dump "$dir")
	yaml "$d" "$O/fq.yaml"
	grep -q 'Type:            Memory64List' "$O/fq.yaml" || fail "-ma through the quoted folder is not a full dump"
	[ "$(ls -A "$O/fq")" = "my dumps" ] || fail "files beside the folder: $(ls -A "$O/fq")"
	# the quote swallowed what followed it: refused, with both quotings that work
	pd -ma "$pid" "$(wpath "$dir")\" -n 2"
	expect_rc 2
	expect_err_one_line
	expect_err "dump folder/file '.*my dumps\" -n 2': a \\\\ before a closing quote"
	expect_err "write \"Z:.*my dumps\" or \"Z:.*my dumps\\\\\\\\\""
	pd -ma -x "$(wpath "$dir")\" $(wpath "$T/target.exe")"
	expect_rc 2
	expect_err_one_line
	expect_err "-x: dump folder '.*my dumps\" Z:"
	# a folder that does not exist, named the same way
	pd -ma "$pid" "$(wpath "$O/fq/none")\""
	expect_rc 2
	expect_err_one_line
	expect_err "dump folder '.*none\\\\' does not exist"
	[ "$(ls -A "$dir" | wc -l)" = 1 ] || fail "more than one file in the folder: $(ls -A "$dir")"
	alive fq || fail "the target does not run on"
	stop_target fq
END

# The hostile command lines: the exit code wanted, then the arguments as sh
# words (eval'd, one procdump run each).  $PID is a live target, $DIR an
# empty folder (Windows path), $LONG 30000 letters, $LONGNUM 5000 digits.
cli_hostile_lines() {
	cat <<'LINES'
2 -c -9223372036854775808 $PID    # the value that was PD_UNSET: dumped at once
2 -cl -9223372036854775808 $PID
2 -n -9223372036854775808 $PID
2 -s -9223372036854775808 $PID
2 -at -9223372036854775808 $PID
2 -m -9223372036854775808 $PID
2 -ml -9223372036854775808 $PID
2 -cancel -9223372036854775808
2 -p "\Processor(_Total)\% Processor Time" -9223372036854775808 $PID
2 -mc -1 $PID
2 -mc 0x-2 $PID
2 -mc " 2" $PID
2 -mc +2 $PID
2 -mc 0x $PID
2 -mc 0x100000000 $PID
2 -n " 3" $PID
2 -n 3.0 $PID
2 -n 99999999999999999999 $PID
2 -n 9223372036854775808 $PID
2 -n $LONGNUM $PID
2 -s 4294968 $PID
2 -c 1e2 $PID
2 -c "$(printf '1\n2')" $PID
2 -n "" $PID
2 -mc "" $PID
2 -ma ""                           # an empty target
2 ""
2 $PID ""                          # an empty dump file name (was a hidden .dmp)
2 -ma $PID ""
3 -                                # a lone '-' is a name, not a switch
3 / $PID
2 -zz $PID
2 --ma $PID
2 -ma -ma $PID
2 -n
2 $PID -n
2 -s -ma $PID
2 -mc $PID
2 -md
2 -dc
2 -p
2 -p "\Process(x)\Handle Count"
2 -x
2 -x $DIR
2 -cancel
2 -cancel 1 $PID
2 -f x $PID
2 -w $PID
2 -c 10 -cl 5 $PID
2 -n 0 -x $DIR $TEXE
2 -r 9 $PID
2 -e 1 -e $PID
2 $PID $DIR extra
3 $LONG
2 -$LONG $PID
4 -ma $PID "$DIR\\$LONG"         # Windows cannot create it: a write error
2 "-$(printf 'z\033[2Jz')" $PID
3 "$(printf 'app\r\nname')"
3 "$(printf 'app\033]0;title\007')"
3 "$(printf 'a\342\200\256b')"
2 -ma $PID "$(printf 'x\ny.dmp')"
2 -ma $PID "$DIR\\x\" -n 2"
LINES
}

# our_procs PATTERN: processes of this Wine prefix (or, natively, of this
# machine) whose command line matches PATTERN
our_procs() {
	if [ $native = 1 ]; then
		tasklist //FO CSV 2>/dev/null | grep -i -- "$1" || true
		return 0
	fi
	for _d in /proc/[0-9]*; do
		tr '\0' '\n' 2>/dev/null <"$_d/environ" | grep -qx "WINEPREFIX=$WINEPREFIX" || continue
		tr '\0' ' ' 2>/dev/null <"$_d/cmdline" | grep -q -- "$1" && echo "${_d#/proc/}"
	done
	return 0
}

t 'cli: hostile command lines: each exits 2 (3 for a name), one line on stderr, no file or process left' <<'END'
	start_target hs "$T/target.exe" 1
	PID=$(field hs pid)
	rm -rf "$O/hs"
	mkdir -p "$O/hs/cwd" "$O/hs/dir"
	DIR=$(wpath "$O/hs/dir") TEXE=$(wpath "$T/target.exe")
	LONG=$(printf '%30000s' '' | tr ' ' a) LONGNUM=$(printf '%5000s' '' | tr ' ' 9)
	ntarget=$(our_procs 'target\.exe' | wc -l)
	bad="" n=0 t0=$(date +%s)
	cli_hostile_lines >"$O/hs/lines"
	while read -r want line; do
		n=$((n + 1))
		eval "set -- $line"
		pd_in "$O/hs/cwd" "$@"
		cli_refused "line $n ($(printf '%s' "$line" | cut -c1-60))"
	done <"$O/hs/lines"
	[ $n -ge 50 ] || fail "only $n lines ran"
	[ -z "$bad" ] || fail "$(printf '%s\n' "$bad" | grep -c .) of $n lines:$bad"
	[ -z "$(ls -A "$O/hs/cwd" "$O/hs/dir" | grep -v '^$\|:$')" ] ||
		fail "files were created: $(ls -A "$O/hs/cwd" "$O/hs/dir")"
	[ -z "$(our_procs 'procdump64\.exe')" ] || fail "a procdump is left: $(our_procs 'procdump64\.exe')"
	[ "$(our_procs 'target\.exe' | wc -l)" = "$ntarget" ] || fail "a target was started and left running"
	alive hs || fail "the target stopped or is frozen"
	stop_target hs
	echo "$n hostile command lines in $(($(date +%s) - t0)) s"
END

# ---- Script lines written for ProcDump: -accepteula anywhere, any number of times

# Sysinternals scripts prepend -accepteula to every command line, and a
# wrapper may add it to a line that has it: with -cancel (before or after
# the PID, once or twice) it stops the monitor as without it; -?, -? -e, a
# dump, -x, -i and -u take it too.  (Before: -cancel refused it, exit 2,
# and the monitor ran on; a second -accepteula was "given twice".)
t 'cli: -accepteula anywhere, once or twice, with -cancel (the monitor stops), -?, -? -e, a dump, -x, -i and -u' <<'END'
	start_target ae "$T/target.exe" 1
	pid=$(field ae pid)
	mkdir -p "$O/ae"
	k=0
	for line in "-accepteula -cancel $pid" "-cancel $pid -accepteula -accepteula" "/AcceptEula -accepteula -cancel $pid -v"; do
		k=$((k + 1))
		pd_bg aem$k -accepteula -e "$pid" "$(wpath "$O/ae")"
		wait_for "$O/aem$k.raw" 'Press Ctrl-C' 30 || fail "monitor $k did not start: $(tail -n 2 "$O/aem$k.raw")"
		# shellcheck disable=SC2086
		pd $line
		expect_rc 0
		pd_join aem$k 20
		expect_rc 1
		expect_out 'Dump count not reached.'
	done
	pd -accepteula -? -accepteula
	expect_rc 0
	expect_out '^Capture Usage:'
	pd -accepteula -? -e
	expect_rc 0
	expect_out '^Examples:'
	pd -accepteula -ma -accepteula "$pid" "$(wpath "$O/ae/a.dmp")"
	expect_rc 0
	[ -s "$O/ae/a.dmp" ] || fail "-accepteula twice with a dump: no dump"
	alive ae || fail "the target stopped"
	stop_target ae
	mkdir -p "$O/aex"
	pd -accepteula -k -accepteula -x "$(wpath "$O/aex")" "$(wpath "$T/target.exe")" 1
	expect_rc 0
	expect_out 'Dump count reached.'
	one_dump "$O/aex" >/dev/null
	if [ $native = 0 ]; then
		aed_save
		trap aed_restore EXIT
		pd -accepteula -ma -i "$(wpath "$O/ae")" -accepteula
		expect_rc 0
		expect_out 'now set as the Just-in-time (AeDebug) debugger'
		pd -accepteula -u -accepteula
		expect_rc 0
	fi
END

# "Dump N complete: N MB" (and the estimate) give whole MB as Windows
# shows sizes, rounded to the nearest, not up: the Mini dump of target.exe
# (about 2.04 MB under Wine) is "2 MB" (before: "3 MB").
t 'cli: dump sizes are whole MB rounded to the nearest (2.04 MB is 2 MB, not 3)' <<'END'
	start_target sz "$T/target.exe" 1
	mkdir -p "$O/sz"
	pd -mm -ma "$(field sz pid)" "$(wpath "$O/sz/s.dmp")"
	expect_rc 0
	for ty in Mini Full; do
		b=$(wc -c <"$O/sz/s_$ty.dmp")
		mb=$(((b + 524288) / 1048576))
		sed -n "/Dump 1 initiated: .*s_$ty.dmp/,/complete/p" "$O/pd.out" >"$O/sz/mb.$ty"
		grep -q "Dump 1 complete: $mb MB written" "$O/sz/mb.$ty" ||
			fail "$ty: $b bytes is $mb MB, procdump says: $(grep complete "$O/sz/mb.$ty")"
	done
	stop_target sz
END

# -v names the attach's own thread (left out of the dump) once per dump;
# before, once per listing of the threads: twice.
t "cli: -v names the attach's own thread once per dump" <<'END'
	start_target vo "$T/target.exe" 1
	mkdir -p "$O/vo"
	pd -v -mm -ma "$(field vo pid)" "$(wpath "$O/vo/v.dmp")"
	expect_rc 0
	n=$(grep -c "left out: the attach's own" "$O/pd.err" || true)
	[ "$n" -ge 1 ] || skip "-v names no attach's own thread here (not held by an attach)"
	[ -z "$(grep "left out: the attach's own" "$O/pd.err" | sort | uniq -d)" ] ||
		fail "-v repeats a line: $(grep "left out: the attach's own" "$O/pd.err" | sort | uniq -d | head -n 1)"
	stop_target vo
END
