# t-json.sh - -json: the events as JSON Lines (start, target_found,
# target_exit, trigger, dump_begin, dump_end, dump_failed, finish).
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is a
# function followed by the line that titles and runs it:
#   t 'json: what must hold' function
#
# Python's json module reads the lines: a line it rejects fails the test.

# jl FILE EXPR: evaluates the Python expression EXPR with `ev` the list of
# the events of FILE (each a dict, every line parsed by json.loads; a line
# that does not parse fails) and `by(name)` the events of that name; prints
# the result (a list: one item a line)
jl() {
	python3 - "$1" "$2" <<'PY' || fail "jl $2: $(tail -n 3 "$1")"
import json, sys
ev = []
with open(sys.argv[1], "rb") as f:
    for n, raw in enumerate(f.read().split(b"\n")[:-1], 1):
        try:
            ev.append(json.loads(raw.decode("utf-8")))
        except Exception as e:
            sys.exit("line %d is not JSON (%s): %r" % (n, e, raw[:200]))
by = lambda name: [e for e in ev if e["event"] == name]
r = eval(sys.argv[2])
for x in (r if isinstance(r, list) else [r]):
    print(x)
PY
}
# jl1 FILE EXPR: the same, one value (fails on none)
jl1() {
	_v=$(jl "$1" "$2") || exit 1
	[ -n "$_v" ] || fail "jl $2: nothing"
	printf '%s\n' "$_v"
}

json_plain_dump() {
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
}
t 'json: a plain -ma dump: start, target_found, trigger, dump_begin, dump_end (bytes = the file size), finish' json_plain_dump
