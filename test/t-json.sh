# t-json.sh - -json: the events as JSON Lines (start, target_found,
# target_exit, trigger, dump_begin, dump_end, dump_failed, finish).
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'json: what must hold' <<'END'
#   	commands
#   END
#
# Python's json module reads the lines: a line it rejects fails the test.

# (jl and jl1, the readers of the lines, are in lib.sh: t-fleet uses them too)

t 'json: a plain -ma dump: start, target_found, trigger, dump_begin, dump_end (bytes = the file size), finish' <<'END'
	start_target jp "$T/target.exe" 1 4
	mkdir -p "$O/jp"
	rm -f "$O/jp.jsonl"
	pd -ma -json "$(wpath "$O/jp.jsonl")" "$(field jp pid)" "$(wpath "$O/jp/d.dmp")"
	expect_rc 0
	[ "$(jl "$O/jp.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found trigger dump_begin dump_end finish" ] ||
		fail "events: $(jl "$O/jp.jsonl" '" ".join(e["event"] for e in ev)')"
	[ "$(jl1 "$O/jp.jsonl" 'by("dump_end")[0]["bytes"]')" = "$(stat -c %s "$O/jp/d.dmp")" ] ||
		fail "dump_end.bytes is not the file's size $(stat -c %s "$O/jp/d.dmp")"
	[ "$(jl1 "$O/jp.jsonl" 'by("dump_end")[0]["path"]')" = "$(wpath "$O/jp/d.dmp")" ] || fail "dump_end.path"
	[ "$(jl1 "$O/jp.jsonl" 'by("dump_end")[0]["type"]')" = Full ] || fail "dump_end.type"
	[ "$(jl1 "$O/jp.jsonl" '[e["pid"] for e in ev if "pid" in e]' | sort -u)" = "$(field jp pid)" ] || fail "pids"
	[ "$(jl1 "$O/jp.jsonl" 'by("finish")[0]["exit_code"], by("finish")[0]["dumps"]')" = "(0, 1)" ] || fail "finish"
	[ "$(jl1 "$O/jp.jsonl" 'by("target_found")[0]["name"]')" = target.exe ] || fail "target_found.name"
	[ "$(jl1 "$O/jp.jsonl" 'by("trigger")[0]["kind"]')" = timed ] || fail "trigger.kind"
	[ "$(jl1 "$O/jp.jsonl" 'all(e["ts"].endswith("Z") and len(e["ts"]) == 24 for e in ev)')" = True ] || fail "ts"
	stop_target jp
END

t 'json: -json - writes the lines to stdout and the console text to stderr; strings escaped (\\ " controls) and UTF-8' <<'END'
	start_target je "$T/target.exe" 1 1
	d="$O/jé 日本😀 x"
	mkdir -p "$d"
	dc=$(printf 'q"b\\s\001t\tu')
	pd -mm -dc "$dc" -json - "$(field je pid)" "$(wpath "$d/d.dmp")"
	expect_rc 0
	# stdout holds the JSON lines only; ProcDump's text went to stderr
	cp "$O/pd.out" "$O/je.jsonl"
	[ "$(jl "$O/je.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found trigger dump_begin dump_end finish" ] ||
		fail "events: $(cat "$O/je.jsonl")"
	expect_err 'Dump 1 complete'
	expect_err 'open-source process dump utility'
	# the strings, as json.loads reads them back: backslashes, a quote,
	# a control character, non-ASCII and a character beyond the BMP
	want=$(wpath "$d/d.dmp")
	[ "$(jl1 "$O/je.jsonl" 'by("dump_end")[0]["path"]')" = "$want" ] || fail "dump_end.path is not $want"
	[ -f "$d/d.dmp" ] || fail "no dump at $d/d.dmp"
	[ "$(jl1 "$O/je.jsonl" 'by("start")[0]["switches"]["dc"] == "q\"b\\s\x01t\tu"')" = True ] ||
		fail "start.switches.dc: $(jl "$O/je.jsonl" 'repr(by("start")[0]["switches"]["dc"])')"
	grep -q '"dc":"q\\"b\\\\s\\u0001t\\tu"' "$O/je.jsonl" || fail "the raw escapes: $(grep -o '"dc":"[^,]*' "$O/je.jsonl")"
	grep -q 'jé 日本😀 x' "$O/je.jsonl" || fail "non-ASCII is not UTF-8 as it is"
	stop_target je
END

t 'json: the target killed mid-dump: dump_failed (target_exited) with the exit code procdump returns, target_exit' <<'END'
	start_target jk "$T/target.exe" 1 64
	mkdir -p "$O/jk"
	rm -f "$O/jk.jsonl"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd_bg jk -ma -json "$(wpath "$O/jk.jsonl")" "$(field jk pid)" "$(wpath "$O/jk/k.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	wait_for "$O/jk.jsonl" '"event":"dump_begin"' 30 || fail "no dump_begin: $(cat "$O/jk.raw")"
	wait_for "$O/jk.raw" 'Dump 1 writing' 30 || fail "the dump did not start: $(cat "$O/jk.raw")"
	kill -KILL "$(upid jk)"
	pd_join jk 30
	expect_rc 4
	[ "$(jl "$O/jk.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found trigger dump_begin dump_failed target_exit finish" ] ||
		fail "events: $(jl "$O/jk.jsonl" '" ".join(e["event"] for e in ev)')"
	[ "$(jl1 "$O/jk.jsonl" 'by("dump_failed")[0]["exit_code"]')" = "$RC" ] || fail "dump_failed.exit_code is not $RC"
	[ "$(jl1 "$O/jk.jsonl" 'by("dump_failed")[0]["reason"]')" = target_exited ] || fail "dump_failed.reason"
	[ "$(jl1 "$O/jk.jsonl" 'by("finish")[0]["exit_code"], by("finish")[0]["dumps"]')" = "($RC, 0)" ] || fail "finish"
	[ "$(jl1 "$O/jk.jsonl" 'by("target_exit")[0]["pid"]')" = "$(field jk pid)" ] || fail "target_exit.pid"
END

t 'json: -e: a trigger of kind exception with the code, then the dump' <<'END'
	crash jx av
	mkdir -p "$O/jx"
	rm -f "$O/jx.jsonl"
	pd -e -json "$(wpath "$O/jx.jsonl")" "$(field jx pid)" "$(wpath "$O/jx")"
	expect_rc 0
	# the exception, passed on, ends the target once procdump detaches: a
	# run_end that comes after that says target_exit (with the AV's code)
	case "$(jl "$O/jx.jsonl" '" ".join(e["event"] for e in ev)')" in
	"start target_found trigger dump_begin dump_end finish") ;;
	"start target_found trigger dump_begin dump_end target_exit finish")
		[ "$(jl1 "$O/jx.jsonl" 'by("target_exit")[0]["exit_code"]')" = 3221225477 ] ||
			fail "target_exit: $(grep target_exit "$O/jx.jsonl")" ;;
	*) fail "events: $(jl "$O/jx.jsonl" '" ".join(e["event"] for e in ev)')" ;;
	esac
	[ "$(jl1 "$O/jx.jsonl" 'by("trigger")[0]["kind"], by("trigger")[0]["value"], by("trigger")[0]["detail"]')" = \
		"('exception', 'C0000005.ACCESS_VIOLATION', 'unhandled')" ] || fail "trigger: $(grep trigger "$O/jx.jsonl")"
	[ "$(jl1 "$O/jx.jsonl" 'by("trigger")[0]["tid"]')" = "$(field jx tid)" ] || fail "trigger.tid is not the faulting thread"
	[ "$(jl1 "$O/jx.jsonl" 'by("trigger")[0]["managed_type"], by("trigger")[0]["managed_message"]')" = "(None, None)" ] ||
		fail "a native exception's managed_type/managed_message are not null"
	[ "$(jl1 "$O/jx.jsonl" 'by("dump_end")[0]["path"]')" = "$(wpath "$(one_dump "$O/jx")")" ] || fail "dump_end.path"
END

t 'json: the target ends while monitored: target_exit with its exit code, finish with exit code 1' <<'END'
	crash jy exit 7
	rm -f "$O/jy.jsonl"
	mkdir -p "$O/jy"
	pd_bg jy -e -v -json "$(wpath "$O/jy.jsonl")" "$(field jy pid)" "$(wpath "$O/jy")"
	wait_for "$O/jy.raw" 'attached: initial breakpoint' 30 || fail "procdump did not attach"
	wait_for "$O/jy.log" '^waiting for PdGo' 30 || fail "the target does not wait"
	set_named_event "PdGo-$(field jy pid)" "$O/jy.set"
	pd_join jy 30
	expect_rc 1
	[ "$(jl "$O/jy.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found target_exit finish" ] ||
		fail "events: $(jl "$O/jy.jsonl" '" ".join(e["event"] for e in ev)')"
	[ "$(jl1 "$O/jy.jsonl" 'by("target_exit")[0]["exit_code"], by("target_exit")[0]["name"]')" = "(7, 'crasher.exe')" ] ||
		fail "target_exit: $(grep target_exit "$O/jy.jsonl")"
	[ "$(jl1 "$O/jy.jsonl" 'by("target_exit")[0]["created"] == by("target_found")[0]["created"]')" = True ] ||
		fail "created differs"
	[ "$(jl1 "$O/jy.jsonl" 'by("finish")[0]["exit_code"], by("finish")[0]["dumps"]')" = "(1, 0)" ] || fail "finish"
END

t 'json: -json with a path that cannot be written (or without a value) is a usage error naming -json (exit 2)' <<'END'
	start_target jb "$T/target.exe" 1 1
	mkdir -p "$O/jb"
	for j in "$(wpath "$O/jb/no/such/folder/e.jsonl")" "$(wpath "$O/jb")"; do
		pd -json "$j" "$(field jb pid)" "$(wpath "$O/jb")"
		expect_rc 2
		expect_err_one_line
		expect_err "^procdump: -json: cannot open '.*' for writing: "
		[ ! -s "$O/pd.out" ] || fail "-json $j: stdout is not empty (no banner before a usage error): $(head -n 2 "$O/pd.out")"
	done
	pd "$(field jb pid)" -json
	expect_rc 2
	expect_err '^procdump: -json needs a value'
	[ -z "$(ls "$O/jb")" ] || fail "dumped: $(ls "$O/jb")"
	# a target problem is no usage error: start, then finish with exit 3
	rm -f "$O/jb.jsonl"
	pd -json "$(wpath "$O/jb.jsonl")" 4294967295 "$(wpath "$O/jb")"
	expect_rc 3
	[ "$(jl "$O/jb.jsonl" '" ".join("%s" % e.get("exit_code", e["event"]) for e in ev)')" = "start 3" ] ||
		fail "events: $(cat "$O/jb.jsonl")"
	stop_target jb
END

# jl_mask FILE: the console text without what changes from run to run
# (times, sizes, durations)
jl_mask() { sed -e 's/\[[0-9:]*\]/[T]/' -e 's/[0-9.]* seconds/S seconds/' -e 's/[0-9]* MB/N MB/g' "$1"; }
t 'json: the console output with -json FILE is the same as without it (apart from times); the file is appended to' <<'END'
	start_target jc "$T/target.exe" 1 4
	mkdir -p "$O/jc"
	rm -f "$O/jc.jsonl"
	pd -ma -n 2 -s 1 -o "$(field jc pid)" "$(wpath "$O/jc/c.dmp")"
	expect_rc 0
	jl_mask "$O/pd.out" >"$O/jc.plain"
	cp "$O/pd.err" "$O/jc.plain.err"
	pd -ma -n 2 -s 1 -o -json "$(wpath "$O/jc.jsonl")" "$(field jc pid)" "$(wpath "$O/jc/c.dmp")"
	expect_rc 0
	jl_mask "$O/pd.out" >"$O/jc.json"
	diff "$O/jc.plain" "$O/jc.json" >"$O/jc.diff" || fail "the console differs with -json: $(head -n 6 "$O/jc.diff")"
	cmp -s "$O/jc.plain.err" "$O/pd.err" || fail "stderr differs with -json: $(cat "$O/pd.err")"
	[ "$(jl "$O/jc.jsonl" 'len(by("dump_end"))')" = 2 ] || fail "want 2 dump_end"
	# -json appends: a second run adds its lines after the first run's
	pd -mm -o -json "$(wpath "$O/jc.jsonl")" "$(field jc pid)" "$(wpath "$O/jc/c.dmp")"
	expect_rc 0
	[ "$(jl "$O/jc.jsonl" '" ".join(e["event"] for e in ev if e["event"] in ("start", "finish"))')" = "start finish start finish" ] ||
		fail "the second run did not append"
	stop_target jc
END

t 'json: outage_ms is the whole write without -r, only the copy with -r' <<'END'
	start_target jr "$T/target.exe" 1 64
	mkdir -p "$O/jr"
	rm -f "$O/jr.jsonl"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=100
	pd -ma -json "$(wpath "$O/jr.jsonl")" "$(field jr pid)" "$(wpath "$O/jr/live.dmp")"
	expect_rc 0
	pd -ma -r -json "$(wpath "$O/jr.jsonl")" "$(field jr pid)" "$(wpath "$O/jr/clone.dmp")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	expect_rc 0
	# frozen for the whole write without -r; with -r only for the copy
	jl "$O/jr.jsonl" '["%s %d %d" % (e["path"].split("\\")[-1], e["ms"], e["outage_ms"]) for e in by("dump_end")]' >"$O/jr.ms"
	read -r n1 ms1 out1 <<-EOF2
	$(sed -n 1p "$O/jr.ms")
	EOF2
	read -r n2 ms2 out2 <<-EOF2
	$(sed -n 2p "$O/jr.ms")
	EOF2
	[ "$n1 $n2" = "live.dmp clone.dmp" ] || fail "dump_end paths: $(cat "$O/jr.ms")"
	[ "$ms1" -ge 2000 ] && [ $((out1 * 10)) -ge $((ms1 * 9)) ] || fail "live: outage $out1 ms of $ms1 ms"
	[ "$ms2" -ge 2000 ] && [ $((out2 * 2)) -lt "$ms2" ] || fail "-r: outage $out2 ms of $ms2 ms"
	stop_target jr
END

t 'json: -r 3 writes dumps on threads: every line whole, one dump_end per file with its size' <<'END'
	start_target jt "$T/target.exe" 2 16
	mkdir -p "$O/jt"
	rm -f "$O/jt.jsonl"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=100
	pd -ma -mm -r 3 -n 3 -s 1 -json "$(wpath "$O/jt.jsonl")" "$(field jt pid)" "$(wpath "$O/jt")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	expect_rc 0
	[ "$(jl "$O/jt.jsonl" 'len(by("dump_end")), len(by("dump_begin")), len(by("trigger")), by("finish")[0]["dumps"]')" = "(6, 6, 3, 6)" ] ||
		fail "counts: $(jl "$O/jt.jsonl" '" ".join(e["event"] for e in ev)')"
	for p in $(jl "$O/jt.jsonl" '["%s=%d" % (e["path"].split("\\")[-1], e["bytes"]) for e in by("dump_end")]'); do
		[ "$(stat -c %s "$O/jt/${p%=*}")" = "${p#*=}" ] || fail "${p%=*}: bytes ${p#*=}, file $(stat -c %s "$O/jt/${p%=*}")"
	done
	stop_target jt
END

t 'json: a monitor trigger names its kind, value and the seconds it held' <<'END'
	start_target jm "$T/target.exe" 1 64
	mkdir -p "$O/jm"
	rm -f "$O/jm.jsonl"
	pd -m 20 -s 2 -json "$(wpath "$O/jm.jsonl")" "$(field jm pid)" "$(wpath "$O/jm")"
	expect_rc 0
	expect_out 'Trigger: Commit'
	[ "$(jl1 "$O/jm.jsonl" 'by("trigger")[0]["kind"], by("trigger")[0]["held"], by("trigger")[0]["value"] >= 20')" = "('commit', 2, True)" ] ||
		fail "trigger: $(grep trigger "$O/jm.jsonl")"
	stop_target jm
END

t 'json: -json - with -x: the launched program writes to stderr too, stdout holds only the events' <<'END'
	mkdir -p "$O/jl"
	pd -e -json - -x "$(wpath "$O/jl")" "$(wpath "$T/crasher.exe")" raise E0004321
	expect_rc 0
	# the launched program's own lines (pid=, debugger=1) went to stderr
	cp "$O/pd.out" "$O/jl.jsonl"
	grep -q '^debugger=1' "$O/pd.err" || fail "the launched target's output is not on stderr"
	[ "$(jl "$O/jl.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found trigger dump_begin dump_end finish" ] ||
		fail "events: $(head -c 600 "$O/jl.jsonl")"
	[ "$(jl1 "$O/jl.jsonl" 'by("target_found")[0]["launched"], by("target_found")[0]["name"]')" = "(True, 'crasher.exe')" ] ||
		fail "target_found: $(grep target_found "$O/jl.jsonl")"
	[ "$(jl1 "$O/jl.jsonl" 'by("trigger")[0]["value"]')" = E0004321.UNKNOWN ] || fail "trigger.value"
	[ "$(jl1 "$O/jl.jsonl" 'str(by("start")[0]["switches"]["x"]["args"])')" = "['raise', 'E0004321']" ] || fail "start.switches.x"
END

t 'json: -minfree refuses the dump: dump_failed (no_space) with the exit code procdump returns' <<'END'
	[ $native = 0 ] || skip "a small volume is a tmpfs under Linux"
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	start_target jn "$T/target.exe" 1 64
	mkdir -p "$O/jn"
	mount -t tmpfs -o size=64m tmpfs "$O/jn" || fail "cannot mount a tmpfs at $O/jn"
	trap 'umount "$O/jn" 2>/dev/null || umount -l "$O/jn"' EXIT
	rm -f "$O/jn.jsonl"
	pd -ma -minfree 32 -json "$(wpath "$O/jn.jsonl")" "$(field jn pid)" "$(wpath "$O/jn")"
	expect_rc 4
	expect_out 'Dump 1 skipped'
	[ "$(jl "$O/jn.jsonl" '" ".join(e["event"] for e in ev)')" = "start target_found trigger dump_begin dump_failed finish" ] ||
		fail "events: $(jl "$O/jn.jsonl" '" ".join(e["event"] for e in ev)')"
	[ "$(jl1 "$O/jn.jsonl" 'by("dump_failed")[0]["reason"], by("dump_failed")[0]["exit_code"], by("finish")[0]["exit_code"]')" = \
		"('no_space', $RC, $RC)" ] || fail "dump_failed: $(grep dump_failed "$O/jn.jsonl")"
	stop_target jn
END

t 'json: -at cancels the collection: dump_failed (timeout, no exit code of its own), finish exit 1' <<'END'
	start_target jo "$T/target.exe" 1 64
	mkdir -p "$O/jo"
	rm -f "$O/jo.jsonl"
	export PROCDUMP_TEST_CHUNK_DELAY_MS=200
	pd -ma -at 1 -json "$(wpath "$O/jo.jsonl")" "$(field jo pid)" "$(wpath "$O/jo")"
	unset PROCDUMP_TEST_CHUNK_DELAY_MS
	expect_rc 1
	expect_out 'Dump 1 cancelled'
	# not written, not counted: no exit code of its own; the run's is 1
	[ "$(jl1 "$O/jo.jsonl" 'by("dump_failed")[0]["reason"], by("dump_failed")[0]["exit_code"], by("finish")[0]["exit_code"]')" = \
		"('timeout', None, 1)" ] || fail "dump_failed: $(grep -e dump_failed -e finish "$O/jo.jsonl")"
	stop_target jo
END

t 'json: start.switches gives a threshold list as an array and -h its seconds' <<'END'
	rm -f "$O/jsv.jsonl"
	pd -json "$(wpath "$O/jsv.jsonl")" -h 3 -c 50,70 -m 9,8000 999996
	expect_rc 3
	sw='by("start")[0]["switches"]'
	[ "$(jl "$O/jsv.jsonl" "($sw['c'], $sw['m'], $sw['h'])")" = "([50, 70], [9, 8000], 3)" ] ||
		fail "start.switches: $(jl "$O/jsv.jsonl" "$sw")"
END

t 'json: a usage error found after parsing (missing folder, unreadable counter, -md that does not load) leaves no -json file' <<'END'
	start_target ju "$T/target.exe" 1 1
	mkdir -p "$O/ju"
	rm -f "$O/ju.jsonl"
	# usage errors found once the command line is read: the folder, a
	# counter, the -md DLL
	for args in "$(field ju pid) $(wpath "$O/ju/none")\\" \
		"-p \\Nope(x)\\Nothing 10 $(field ju pid) $(wpath "$O/ju")" \
		"-pl \\Nope(x)\\Nothing 10 $(field ju pid) $(wpath "$O/ju")" \
		"-md $(wpath "$O/ju/nope.dll") $(field ju pid) $(wpath "$O/ju")" \
		"-e -t -md $(wpath "$O/ju/nope.dll") -x $(wpath "$O/ju") $(wpath "$T/target.exe")"; do
		# shellcheck disable=SC2086 # the switches as separate words
		pd -json "$(wpath "$O/ju.jsonl")" $args
		expect_rc 2
		expect_err_one_line
		[ ! -e "$O/ju.jsonl" ] || fail "$args: a -json file was left: $(cat "$O/ju.jsonl")"
		[ ! -s "$O/pd.out" ] || fail "$args: stdout is not empty: $(head -n 2 "$O/pd.out")"
	done
	[ -z "$(ls "$O/ju")" ] || fail "files were written: $(ls "$O/ju")"
	stop_target ju
END

# jf_full NAME: a full 1 MiB tmpfs at $O/NAME (for this test only) holding
# e.jsonl, one JSON line of 4086 bytes: 10 bytes left in its last page, so
# that the next line is written in part (a short write), then nothing
jf_full() {
	[ $native = 0 ] || skip "a full volume is a tmpfs under Linux"
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	JF=$O/$1
	mkdir -p "$JF"
	mount -t tmpfs -o size=1m tmpfs "$JF" || fail "cannot mount a tmpfs at $JF"
	trap 'umount "$JF" 2>/dev/null || umount -l "$JF"' EXIT
	python3 -c 'import sys; sys.stdout.write("{\"pad\":\"%s\"}\n" % ("x" * (4086 - 11)))' >"$JF/e.jsonl"
	[ "$(stat -c %s "$JF/e.jsonl")" = 4086 ] || fail "the padding line is not 4086 bytes"
	fallocate -l $(($(df -Pk "$JF" | awk 'NR == 2 { print $4 }') * 1024)) "$JF/fill" || fail "cannot fill the tmpfs"
}
# jf_lines FILE: python's reading of FILE's lines: "ok N" if every line is
# an object and the file ends with a line break, else what is wrong; a
# line that is only the start of an event (not cut back: -json - under
# Wine) is allowed once, alone on its line
jf_lines() {
	python3 - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
if not data.endswith(b"\n"):
    sys.exit("the file does not end with a line break: %r" % data[-60:])
half = 0
lines = data.split(b"\n")[:-1]
for n, raw in enumerate(lines, 1):
    try:
        json.loads(raw.decode("utf-8"))
    except Exception:
        if raw.count(b'{"ts"') == 1 and raw.startswith(b'{"ts"') and not half:
            half = 1
            continue
        sys.exit("line %d is not JSON: %r" % (n, raw[:120]))
print("ok %d%s" % (len(lines), " half" if half else ""))
PY
}
t 'json: on a full disk a line is written whole or not at all (cut back), one line says events are being lost, exit 4; with space again the lines are whole' <<'END'
	start_target jd "$T/target.exe" 1 1
	jf_full jdf
	rm -rf "$O/jd" "$O/jd.raw"
	mkdir -p "$O/jd"
	pd_bg jd -mm -n 3 -s 2 -json "$(wpath "$JF/e.jsonl")" "$(field jd pid)" "$(wpath "$O/jd")"
	wait_for "$O/jd.raw" '^procdump: -json' 30 || fail "no line says events are lost: $(cat "$O/jd.raw")"
	# the start line was written in part: cut back to where it began
	[ "$(stat -c %s "$JF/e.jsonl")" = 4086 ] || fail "a half line was left: $(tail -c 40 "$JF/e.jsonl")"
	rm -f "$JF/fill" # space again: the next lines are whole, none glued to a half
	pd_join jd 60
	expect_rc 4
	[ "$(grep -c 'events are being lost' "$O/pd.out")" = 1 ] || fail "not said once: $(grep json "$O/pd.out")"
	grep -q "^procdump: -json: events are being lost: cannot write to '.*e.jsonl': .*(112)" "$O/pd.out" ||
		fail "the line: $(grep json "$O/pd.out")"
	r=$(jf_lines "$JF/e.jsonl") || fail "$r"
	case $r in "ok "*half) fail "a half line was left: $r" ;; esac
	ev=$(jl "$JF/e.jsonl" '" ".join(e.get("event", "pad") for e in ev)')
	case $ev in "pad "*"trigger dump_begin dump_end finish") ;; *) fail "events: $ev" ;; esac
	case $ev in *start*) fail "the start line was written, the disk was not full: $ev" ;; esac
	[ "$(jl1 "$JF/e.jsonl" '[e["exit_code"] for e in ev if e.get("event") == "finish"]')" = 4 ] ||
		fail "finish.exit_code is not 4"
	[ "$(ls "$O/jd" | grep -c '\.dmp$')" = 3 ] || fail "want 3 dumps: $(ls "$O/jd")"
	stop_target jd
END

t 'json: -json - to a full disk: no event glued to a half line (cut back, or the half ended by a line break), exit 4' <<'END'
	start_target jz "$T/target.exe" 1 1
	jf_full jzf
	rm -rf "$O/jz" "$O/jz.raw"
	mkdir -p "$O/jz"
	printf '%s\n' "procdump64.exe -mm -n 3 -s 2 -json - ... >>e.jsonl &" >"$O/pd.cmd"
	rm -f "$O/jz.code"
	$WINE "$T/pdrun.exe" "$(wpath "$O/jz.code")" 300 "$(wpath "$PD")" -mm -n 3 -s 2 -json - "$(field jz pid)" \
		"$(wpath "$O/jz")" >>"$JF/e.jsonl" 2>"$O/jz.raw" &
	echo $! >"$O/jz.pdpid"
	echo $! >>"$O/bg.list"
	wait_for "$O/jz.raw" '^procdump: -json' 30 || fail "no line says events are lost: $(cat "$O/jz.raw")"
	rm -f "$JF/fill"
	pd_join jz 60
	expect_rc 4
	[ "$(grep -c 'events are being lost' "$O/pd.out")" = 1 ] || fail "not said once: $(grep json "$O/pd.out")"
	expect_out '^procdump: -json: events are being lost: cannot write to standard output: .*(112)'
	# cut back where the system lets it (Windows); else (Wine: stdout's
	# handle takes no SetEndOfFile) the half line ends with a line break
	r=$(jf_lines "$JF/e.jsonl") || fail "$r"
	tail -n 2 "$JF/e.jsonl" | grep -q '"event":"finish","exit_code":4' || fail "no finish line at the end: $(tail -c 200 "$JF/e.jsonl")"
	stop_target jz
END
