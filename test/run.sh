#!/bin/sh
# run.sh - procdump.c's test suite.
#
#   sh test/run.sh [group ...]     groups: build cli names targets fleet writer series disk debugger install monitors json safety clone pss wow64 lib service clr
#
# Prints TAP lines and closes with "N passed, N failed, N skipped".  Under
# Linux every Windows program runs under Wine in a prefix of its own; under
# Git Bash/MSYS2 on Windows they run natively.  Dumps are checked with readers
# nobody on this project wrote: lldb, llvm's obj2yaml and Breakpad's
# minidump_dump, against what the target printed about itself.
#
# Each group is a file, test/t-GROUP.sh, sourced in the order above; in it
# every test is its title, then its body as a here-document, which t runs:
#
#   t 'group: what must hold' <<'END'
#   	commands
#   END
#
# test/lib.sh has the platform, the harness (t) and the helpers.
# PD_WINEPREFIX chooses the Wine prefix (default ~/.cache/procdump-test-wine).

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"

ALL_GROUPS="build cli names targets fleet writer series disk debugger install monitors json safety clone pss wow64 lib service clr"
GROUPS_WANTED="$*"
for g in $GROUPS_WANTED; do
	case " $ALL_GROUPS " in
	*" $g "*) ;;
	*) echo "run.sh: no test group '$g' (groups: $ALL_GROUPS)" >&2; exit 2 ;;
	esac
done

rm -rf "$O"
mkdir -p "$O"
: >"$O/bg.list"

# At exit, also after a failure or Ctrl+C: end what the tests started in the
# background, the test service, and the prefix's wineserver.
cleanup() {
	for p in $(cat "$O/bg.list" 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	if [ $native = 0 ]; then
		aed_restore # an install test that was interrupted
		[ -f "$O/svc.made" ] && { wine sc stop PdTestSvc >/dev/null 2>&1; wine sc delete PdTestSvc >/dev/null 2>&1; }
		[ -f "$O/pdsvc.made" ] && { wine sc stop procdump.c-PdT >/dev/null 2>&1; wine sc delete procdump.c-PdT >/dev/null 2>&1; }
		wineserver -k 2>/dev/null
		# its programs die with it, but not always (one waiting for a
		# server reply then waits for ever): kill what is left
		_left=$(wine_processes)
		[ -z "$_left" ] || kill -KILL $_left 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE # (PIPE: sh test/run.sh | head)

echo "# procdump.c test suite ($(uname -s), $([ $native = 1 ] && echo native || wine --version 2>/dev/null))"
build_test_programs || { echo "Bail out! cannot build the test programs"; echo "0 passed, 1 failed"; exit 1; }
wine_prefix '# ' || { echo "Bail out! cannot set up the Wine prefix $WINEPREFIX"; echo "0 passed, 1 failed"; exit 1; }
w32_probe

# t reads each body from its own stdin (the here-document) and runs it with
# this stdin, kept here as fd 9 (/dev/null if there is none)
if (exec 9<&0) 2>/dev/null; then exec 9<&0; else exec 9</dev/null; fi
for g in $ALL_GROUPS; do
	selected "$g" && . "$T/t-$g.sh"
done

t_summary
