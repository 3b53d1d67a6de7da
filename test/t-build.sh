# t-build.sh - the build: both exes, their imports, library mode, the man page,
# the README and the demo.
# Sourced by test/run.sh; the helpers are in test/lib.sh.  Each test is its
# title, then its body as a here-document, which t runs:
#   t 'build: what must hold' <<'END'
#   	commands
#   END
# or, for a test that a document cites by its name, a function followed by
# the line that titles and runs it: t 'build: what must hold' function

t 'build: make builds procdump64.exe (x86-64) and procdump.exe (i386)' <<'END'
	[ -f "$top/procdump64.exe" ] && [ -f "$top/procdump.exe" ] || fail "make did not build both exes"
	file "$top/procdump64.exe" | grep -q 'x86-64' || fail "procdump64.exe is not x86-64"
	file "$top/procdump.exe" | grep -q 'Intel 80386' || fail "procdump.exe is not i386"
END

t 'build: both exes import only Windows system DLLs' <<'END'
	for e in procdump64.exe procdump.exe; do
		x86_64-w64-mingw32-objdump -p "$top/$e" | sed -n 's/.*DLL Name: //p' | tr 'A-Z' 'a-z' >"$O/dlls"
		[ -s "$O/dlls" ] || fail "$e: no imports found"
		while read -r d; do
			case $d in
			kernel32.dll | advapi32.dll | msvcrt.dll | ntdll.dll | user32.dll) ;;
			*) fail "$e imports $d, not a Windows system DLL" ;;
			esac
		done <"$O/dlls"
	done
END

t 'build: -DPROCDUMP_NO_MAIN compiles for both targets, exports pd_*, no main, no exit' <<'END'
	for cc in x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do
		$cc -O2 -Wall -Wextra -Werror -DPROCDUMP_NO_MAIN -c "$top/procdump.c" -o "$O/lib-$cc.o" ||
			fail "$cc -DPROCDUMP_NO_MAIN failed"
		x86_64-w64-mingw32-nm "$O/lib-$cc.o" >"$O/nm" 2>/dev/null || i686-w64-mingw32-nm "$O/lib-$cc.o" >"$O/nm"
		grep -Eq ' T _?pd_main$' "$O/nm" || fail "$cc: pd_main not exported"
		grep -Eq ' T _?pd_write_dump$' "$O/nm" || fail "$cc: pd_write_dump not exported"
		! grep -Eq ' T _?w?main$' "$O/nm" || fail "$cc: library mode still defines main"
		! grep -Eq ' U _?exit$' "$O/nm" || fail "$cc: library mode can reach exit()"
	done
END

t 'build: man/procdump.1 documents every switch of -?' <<'END'
	pd -?
	sed -n 's/^   -\([^ ]*\) .*/\1/p' "$O/pd.out" | grep -v '^$' >"$O/switches"
	[ "$(wc -l <"$O/switches")" -ge 40 ] || fail "-? lists only $(wc -l <"$O/switches") switches"
	for s in $(cat "$O/switches") y j; do
		awk -v s="$s" '$1 == ".It" && $2 == "Fl" && ($3 == s || $3 == s "\\&") { f = 1 } END { exit !f }' \
			"$top/man/procdump.1" || fail "man/procdump.1 lacks -$s"
	done
END

# The -? synopsis is generated from the option table; the man page's is
# written by hand: every switch -? lists must stand in both (in the man
# page after Fl, or after | in a list of alternatives: Fl c | cl).  -?
# itself is how the synopsis is shown, and needs not be in it.
t 'build: the -? synopsis and the man SYNOPSIS name every switch of -?' <<'END'
	pd -?
	sed -n 's/^   -\([^ ]*\) .*/\1/p' "$O/pd.out" | grep -v '^$' >"$O/switches"
	sed -n '/^Capture Usage:/,/^Options:/p' "$O/pd.out" | grep -o -- '-[a-z0-9]*' | cut -c2- | sort -u >"$O/usage.syn"
	awk '/^\.Sh SYNOPSIS/ { on = 1; next } /^\.Sh/ { on = 0 } on' "$top/man/procdump.1" |
		awk '{ for (i = 1; i <= NF; i++) if ($i == "Fl" || $i == ".Fl") { print $(++i)
		           while ($(i + 1) == "|") { i += 2; if ($i == "Fl") i++; print $i } } }' |
		sed 's/\\&$//' | sort -u >"$O/man.syn"
	for s in $(cat "$O/switches"); do
		[ "$s" = "?" ] || grep -qxF -- "$s" "$O/usage.syn" || fail "the -? synopsis lacks -$s"
		grep -qxF -- "$s" "$O/man.syn" || fail "the man page's SYNOPSIS lacks -$s"
	done
END

t 'build: mandoc -Tlint finds nothing of warning level in the man page' <<'END'
	command -v mandoc >/dev/null 2>&1 || fail "mandoc is missing (sh test/deps.sh installs it)"
	mandoc -Tlint -W warning "$top/man/procdump.1" >"$O/lint" 2>&1 || fail "mandoc -Tlint: $(head -n 3 "$O/lint")"
END

t 'build: README gives make demo and make test' <<'END'
	grep -q 'make demo' "$top/README.md" || fail "README lacks make demo"
	grep -q 'make test' "$top/README.md" || fail "README lacks make test"
END

t 'build: make demo dumps the bundled crasher at its AV and summarises it' <<'END'
	[ $native = 1 ] && skip "the demo runs under Wine"
	timeout 300 sh "$T/demo.sh" >"$O/demo.txt" 2>&1 || fail "demo failed: $(tail -n 5 "$O/demo.txt")"
	grep -q 'Unhandled: C0000005.ACCESS_VIOLATION' "$O/demo.txt" || fail "demo: no crash caught"
	grep -q 'frame #0: .*sample.exe`charge_customer(c=0x0000000000000000' "$O/demo.txt" ||
		fail "demo: the summary does not show charge_customer with c=NULL"
END

# ---- A release a locked-down server accepts: reproducible, versioned, signable

# rsrc_size EXE: the size of its resource directory, as objdump prints it (hex)
rsrc_size() { x86_64-w64-mingw32-objdump -p "$1" | sed -n 's/^Entry 2 [0-9a-f]* \([0-9a-f]*\) Resource Directory.*/\1/p'; }
# build_copy DIR: procdump.c and the Makefile alone in DIR (a fresh checkout)
build_copy() { mkdir -p "$1" && cp "$top/procdump.c" "$top/Makefile" "$1/"; }

# Two builds in two folders (one with a space and a longer path), at two
# times, in other time zones, locales and umasks: the same bytes, and a PE
# TimeDateStamp of 0 (before: the build time, so no two builds matched).
t 'build: two builds in two folders at two times give bit-identical exes (PE timestamp 0)' <<'END'
	rm -rf "$O/rb"
	build_copy "$O/rb/one"
	build_copy "$O/rb/a longer folder/two"
	t1=$(date +%s)
	(cd "$O/rb/one" && umask 022 && TZ=UTC LC_ALL=C make -s) >"$O/rb/one.log" 2>&1 ||
		fail "make in folder one: $(tail -n 3 "$O/rb/one.log")"
	(cd "$O/rb/a longer folder/two" && umask 077 && TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 make -s) \
		>"$O/rb/two.log" 2>&1 || fail "make in folder two: $(tail -n 3 "$O/rb/two.log")"
	[ "$(date +%s)" -gt "$t1" ] || fail "the two builds ran within one second"
	for e in procdump64.exe procdump.exe; do
		a=$(sha256sum <"$O/rb/one/$e") b=$(sha256sum <"$O/rb/a longer folder/two/$e")
		[ "$a" = "$b" ] || fail "$e differs between the two builds: ${a%% *} and ${b%% *}"
		x86_64-w64-mingw32-objdump -p "$O/rb/one/$e" | grep -q '^Time/Date.*1970' ||
			fail "$e: the PE TimeDateStamp is not 0: $(x86_64-w64-mingw32-objdump -p "$O/rb/one/$e" | grep Time/Date)"
		echo "$e ${a%% *}"
	done
END

# The version resource (FILEVERSION from procdump.c's version, the strings
# AppLocker and inventories read) and the manifest, read back as Windows
# reads them (GetFileVersionInfoW, VerQueryValueW, FindResourceW under
# Wine: test/verinfo.c) and seen in the PE by objdump; and procdump.c
# alone still compiles without windres (vendoring).
t 'build: both exes carry the version resource (procdump.c version, MIT) and the asInvoker/Windows 7-11/longPathAware manifest; procdump.c alone builds without windres' <<'END'
	optdump
	ver=$(sed -n 's/^version \([0-9]*\.[0-9]*\.[0-9]*\)$/\1/p' "$O/optdump.txt")
	[ -n "$ver" ] || fail "optdump.exe gives no version MAJOR.MINOR.PATCH: $(head -n 1 "$O/optdump.txt")"
	pd -?
	head -n 1 "$O/pd.out" | grep -q "procdump.c v$ver " || fail "the banner is not v$ver: $(head -n 1 "$O/pd.out")"
	for e in procdump64.exe procdump.exe; do
		rsrc_size "$top/$e" | grep -qv '^00000000$' || fail "$e: objdump finds an empty resource directory"
		$WINE "$T/verinfo.exe" "$(wpath "$top/$e")" 2>/dev/null | tr -d '\r' >"$O/ver-$e.txt" ||
			fail "$e: $(tail -n 1 "$O/ver-$e.txt")"
		v() { grep -qxF -- "$1" "$O/ver-$e.txt" || fail "$e: no '$1' in: $(head -n 9 "$O/ver-$e.txt" | tr '\n' ' ')"; }
		v "fixed $ver.0 $ver.0"
		v "FileVersion=$ver"
		v "ProductVersion=$ver"
		v "ProductName=procdump.c"
		v "OriginalFilename=$e"
		grep -q '^FileDescription=procdump.c' "$O/ver-$e.txt" || fail "$e: no FileDescription"
		grep -q '^LegalCopyright=Copyright (c) 2026 the procdump.c authors. MIT License.$' "$O/ver-$e.txt" ||
			fail "$e: no MIT LegalCopyright"
		grep -q "requestedExecutionLevel level='asInvoker'" "$O/ver-$e.txt" || fail "$e: the manifest lacks asInvoker"
		grep -q "<longPathAware[^>]*>true</longPathAware>" "$O/ver-$e.txt" || fail "$e: the manifest lacks longPathAware"
		for id in 35138b9a-5d96-4fbd-8e2d-a2440225f93a 4a2f28e3-53b9-4441-ba9c-d69d4a4a6e38 \
			1f676c76-80e1-4239-95bb-83d0f6d0da78 8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a; do
			grep -q "supportedOS Id='{$id}'" "$O/ver-$e.txt" || fail "$e: the manifest lacks supportedOS $id"
		done
	done
	x86_64-w64-mingw32-gcc -O0 -municode -static "$top/procdump.c" -o "$O/vendored.exe" -ladvapi32 ||
		fail "procdump.c alone does not build without windres"
	[ "$(rsrc_size "$O/vendored.exe")" = 00000000 ] || fail "a build without windres has resources"
END

# make release twice (at two times, in other time zones): the same zip,
# holding exactly the exes as built, the man page as text and HTML, README,
# LICENSE and SHA256SUMS, whose sums check.
t 'build: make release gives the same procdump-VERSION.zip twice: both exes, man page as text and HTML, README, LICENSE, SHA256SUMS that check' <<'END'
	command -v zip >/dev/null && command -v unzip >/dev/null && command -v mandoc >/dev/null ||
		{ [ $native = 1 ] && skip "zip, unzip or mandoc missing"; fail "zip, unzip or mandoc missing (sh test/deps.sh installs them)"; }
	rm -rf "$O/rel"
	build_copy "$O/rel/src"
	cp "$top/README.md" "$top/LICENSE" "$O/rel/src/"
	mkdir -p "$O/rel/src/man" && cp "$top/man/procdump.1" "$O/rel/src/man/"
	(cd "$O/rel/src" && TZ=UTC make -s release) >"$O/rel/1.log" 2>&1 || fail "make release: $(tail -n 3 "$O/rel/1.log")"
	zip=$(cd "$O/rel/src" && ls procdump-*.zip)
	[ -n "$zip" ] || fail "make release wrote no procdump-*.zip"
	mv "$O/rel/src/$zip" "$O/rel/first.zip"
	(cd "$O/rel/src" && TZ=Asia/Tokyo make -s release) >"$O/rel/2.log" 2>&1 || fail "make release (2): $(tail -n 3 "$O/rel/2.log")"
	cmp -s "$O/rel/first.zip" "$O/rel/src/$zip" || fail "two make release give different zips"
	mkdir "$O/rel/x" && (cd "$O/rel/x" && unzip -q "../src/$zip") || fail "unzip $zip"
	[ "$(cd "$O/rel/x" && ls | tr '\n' ' ')" = "LICENSE README.md SHA256SUMS procdump.exe procdump.html procdump.txt procdump64.exe " ] ||
		fail "$zip holds: $(cd "$O/rel/x" && ls | tr '\n' ' ')"
	(cd "$O/rel/x" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS does not check"
	[ "$(wc -l <"$O/rel/x/SHA256SUMS")" = 6 ] || fail "SHA256SUMS has not the 6 other files"
	cmp -s "$O/rel/x/procdump64.exe" "$O/rel/src/procdump64.exe" || fail "the zip's procdump64.exe is not the build's"
	grep -q 'accepteula' "$O/rel/x/procdump.txt" && ! grep -q "$(printf '\b')" "$O/rel/x/procdump.txt" ||
		fail "procdump.txt is not the man page as plain text"
	grep -q '<html' "$O/rel/x/procdump.html" || fail "procdump.html is not HTML"
	optdump
	ver=$(sed -n 's/^version \([0-9]*\.[0-9]*\.[0-9]*\)$/\1/p' "$O/optdump.txt")
	[ "$zip" = "procdump-$ver.zip" ] || fail "the zip is $zip, not procdump-$ver.zip"
END

# make sign with a throwaway CA made here: a PFX (with a password file) or
# a key and chain; osslsigncode verifies both exes against the CA (and not
# against another), the signed procdump64.exe still dumps under Wine, and
# removing the signature gives back the reproducible bytes.
t 'build: make sign (PFX, or key and chain) signs both exes; they verify against the test CA, not another; the signed exe dumps under Wine' <<'END'
	command -v osslsigncode >/dev/null && command -v openssl >/dev/null ||
		{ [ $native = 1 ] && skip "osslsigncode or openssl missing"; fail "osslsigncode/openssl missing (sh test/deps.sh installs them)"; }
	S=$O/sign
	rm -rf "$S" && mkdir -p "$S"
	printf '[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$S/ext.cnf"
	{ openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/ca.key" -out "$S/ca.pem" -days 2 -subj "/CN=procdump.c test CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		openssl req -newkey rsa:2048 -nodes -keyout "$S/leaf.key" -out "$S/leaf.csr" -subj "/CN=procdump.c test signer" &&
		openssl x509 -req -in "$S/leaf.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -out "$S/leaf.pem" -days 2 \
			-extfile "$S/ext.cnf" -extensions leaf &&
		cat "$S/leaf.pem" "$S/ca.pem" >"$S/chain.pem" && echo 'test pass' >"$S/pass.txt" &&
		openssl pkcs12 -export -inkey "$S/leaf.key" -in "$S/leaf.pem" -certfile "$S/ca.pem" -out "$S/signer.pfx" \
			-passout "file:$S/pass.txt" &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/other.key" -out "$S/other.pem" -days 2 -subj "/CN=other"
	} >"$S/openssl.log" 2>&1 || fail "openssl: $(tail -n 3 "$S/openssl.log")"
	for how in pfx key; do
		mkdir "$S/$how"
		cp -p "$top/procdump.c" "$top/Makefile" "$top"/*.res.o "$top/procdump64.exe" "$top/procdump.exe" "$S/$how/"
		if [ $how = pfx ]; then set -- PFX="$S/signer.pfx" PASSFILE="$S/pass.txt"; else set -- KEY="$S/leaf.key" CERT="$S/chain.pem"; fi
		(cd "$S/$how" && make -s sign "$@") >"$S/$how.log" 2>&1 || fail "make sign ($how): $(tail -n 3 "$S/$how.log")"
		for e in procdump64.exe procdump.exe; do
			! cmp -s "$S/$how/$e" "$top/$e" || fail "make sign ($how) left $e unsigned"
			osslsigncode verify -CAfile "$S/ca.pem" -in "$S/$how/$e" >"$S/$how-$e.v" 2>&1 ||
				fail "$how: $e does not verify against the test CA: $(tail -n 3 "$S/$how-$e.v")"
			grep -q 'Signature verification: ok' "$S/$how-$e.v" || fail "$how: $e: no 'Signature verification: ok'"
			! osslsigncode verify -CAfile "$S/other.pem" -in "$S/$how/$e" >/dev/null 2>&1 ||
				fail "$how: $e verifies against an unrelated CA"
			osslsigncode remove-signature -in "$S/$how/$e" -out "$S/$how/$e.bare" >/dev/null 2>&1 &&
				cmp -s "$S/$how/$e.bare" "$top/$e" || fail "$how: $e without its signature is not the reproducible build"
		done
	done
	(cd "$S/pfx" && make -s sign) >"$S/none.log" 2>&1 && fail "make sign without a certificate succeeded"
	grep -q 'give PFX=' "$S/none.log" || fail "make sign without a certificate: $(tail -n 1 "$S/none.log")"
	start_target sg "$T/target.exe" 1
	pd_exe "$S/pfx/procdump64.exe" -accepteula -ma "$(field sg pid)" "$(wpath "$S/signed.dmp")"
	expect_rc 0
	yaml "$S/signed.dmp" "$S/signed.yaml"
	grep -q 'Type:            Memory64List' "$S/signed.yaml" || fail "the signed exe's -ma dump has no Memory64List"
	stop_target sg
	if [ "$W32" = 1 ]; then
		pd_exe "$S/key/procdump.exe" -?
		expect_rc 0
	fi
END

# Debian's Wine 8.0 has no preloader: with address randomization the heap
# (brk) of the wine64 loader lands anywhere in the 1 GiB above it, and a
# start whose heap covers 0x7ffe0000 cannot map the shared user data there:
# exit 1, nothing printed (the suites' rare "exit 1 with nothing printed").
# lib.sh starts Wine under setarch -R, so the heap follows the loader: each
# program of the suite starts with it right after wine64's image.  And what
# a taken 0x7ffe0000 does, shown with a preloaded Linux library that takes it
t 'build: Wine starts without address randomization (the loader heap right after wine64, below 0x7ffe0000): a taken 0x7ffe0000 is exit 1, nothing printed' <<'END'
	[ $native = 0 ] || skip "Wine only"
	start_target bh "$T/target.exe" 1 1
	_maps=/proc/$(upid bh)/maps
	_img=$(grep '/wine64$' "$_maps" | tail -n 1 | sed 's/^[0-9a-f]*-\([0-9a-f]*\) .*/\1/')
	_heap=$(grep '\[heap\]$' "$_maps" | sed 's/^\([0-9a-f]*\)-\([0-9a-f]*\) .*/\1 \2/')
	stop_target bh
	[ -n "$_img" ] && [ -n "$_heap" ] || fail "no wine64 image or heap in the maps: $_img / $_heap"
	[ "${_heap% *}" = "$_img" ] || fail "the heap starts at ${_heap% *}, not after wine64 (0x$_img): randomized"
	[ $((0x${_heap#* })) -lt $((0x7ffe0000)) ] || fail "the heap reaches 0x7ffe0000: ${_heap}"
	command -v gcc >/dev/null 2>&1 || return 0
	printf '%s\n' '#include <sys/mman.h>' \
		'__attribute__((constructor)) static void take(void) { mmap((void *)0x7ffe0000, 4096, PROT_READ,' \
		'	MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0); }' >"$O/take7ffe.c"
	gcc -shared -fPIC "$O/take7ffe.c" -o "$O/take7ffe.so" || fail "cannot build take7ffe.so"
	# (the exit status of wine itself, a Unix process: no Windows program starts)
	_rc=0
	LD_PRELOAD=$O/take7ffe.so WINEDEBUG=-all,err+virtual $WINE "$T/setevent.exe" PdNoSuchEvent >"$O/bh.out" 2>"$O/bh.err" || _rc=$?
	[ $_rc = 1 ] && [ ! -s "$O/bh.out" ] || fail "0x7ffe0000 taken: exit $_rc, output $(cat "$O/bh.out")"
	grep -q 'failed to map the shared user data: c0000018' "$O/bh.err" || fail "0x7ffe0000 taken: $(cat "$O/bh.err")"
END

# The harness itself (t in test/lib.sh) on bodies of its own, in a shell of
# its own: set -e ends a body at a failing command in its middle (also one
# inside a helper it calls), and only there (not in a condition); `return`
# ends a test; skip skips with its reason; a body that does not parse fails
# and the run goes on; the function form still runs; the body's stdin is
# run.sh's (fd 9); a test of a group not selected is counted nowhere and
# its body is not read.
t 'build: the harness runs a body under set -e as a function body: a failing middle command fails it; return, skip, a parse error, the function form, stdin; an unselected body is not read' <<'END'
	h=$O/harness
	mkdir -p "$h"
	cat >"$h/t.sh" <<'SH'
top=$1
. "$top/test/lib.sh"
O=$2
GROUPS_WANTED=h
echo fromnine >"$O/stdin"
exec 9<"$O/stdin"
t 'h: a plain body passes' <<'B'
	true
	echo done
B
t 'h: a failing middle command fails the body' <<'B'
	true
	false
	echo reached >"$O/reached1"
B
hf() { false; echo reached >"$O/reached2"; }
t 'h: a failing command inside a helper fails the body' <<'B'
	hf
	echo reached >"$O/reached3"
B
t 'h: failures in conditions and || lists do not' <<'B'
	if false; then exit 1; fi
	false || true
	! false
	[ -n "" ] && exit 1
	echo fine
B
t 'h: return 0 ends the test as passed' <<'B'
	return 0
	exit 1
B
t 'h: skip skips with its reason' <<'B'
	skip "the reason"
B
t 'h: a body that does not parse fails' <<'B'
	if then fi
B
hfn() { false; echo reached >"$O/reached4"; }
t 'h: the function form runs' hfn
t 'h: the body reads run.sh stdin' <<'B'
	read -r line
	[ "$line" = fromnine ]
B
printf 'exit 1\n' | { t 'other: not selected'; cat >"$O/unread"; }
t_summary
SH
	sh "$h/t.sh" "$top" "$h" >"$h/out" 2>&1 || :
	cat "$h/out"
	for want in 'ok 1 - h: a plain body passes' 'not ok 2 - h: a failing middle' 'not ok 3 - h: a failing command inside' \
		'ok 4 - h: failures in conditions' 'ok 5 - h: return 0' 'ok 6 - h: skip skips with its reason # SKIP the reason' \
		'not ok 7 - h: a body that does not parse' 'not ok 8 - h: the function form' 'ok 9 - h: the body reads' \
		'1\.\.9' '4 passed, 4 failed, 1 skipped'; do
		grep -q "^$want" "$h/out" || fail "the harness did not print '$want'"
	done
	for n in 1 2 3 4; do [ ! -e "$h/reached$n" ] || fail "a body ran on after its failing command (reached$n)"; done
	[ "$(cat "$h/unread")" = "exit 1" ] || fail "t read the body of a test whose group is not selected"
END
