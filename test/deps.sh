#!/bin/sh
# deps.sh - install what a fresh Debian/Ubuntu machine lacks to build procdump.c
# and run its tests: mingw-w64 (both targets), Wine (64-bit), lldb and llvm
# (obj2yaml), and Breakpad's readers (npm package `minidump`, into .deps/).
# Safe to run again: it installs only what is missing.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

need=""
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need="$need gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev"
command -v i686-w64-mingw32-gcc >/dev/null 2>&1 || need="$need gcc-mingw-w64-i686 binutils-mingw-w64-i686 mingw-w64-i686-dev"
command -v wine >/dev/null 2>&1 || need="$need wine wine64"
command -v lldb >/dev/null 2>&1 || need="$need lldb"
command -v obj2yaml >/dev/null 2>&1 || need="$need llvm"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v make >/dev/null 2>&1 || need="$need make"
command -v file >/dev/null 2>&1 || need="$need file"
command -v curl >/dev/null 2>&1 || need="$need curl"
if [ -n "$need" ]; then
	echo "deps: installing$need"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $need
fi

# Breakpad's minidump_dump ships prebuilt in the npm package; its install
# script needs yarn and a network build, so skip scripts (READERS.md).
if [ ! -x "$top/.deps/node_modules/minidump/bin/linux-x64/minidump_dump" ]; then
	echo "deps: installing Breakpad readers (npm minidump) into .deps/"
	mkdir -p "$top/.deps"
	npm install --prefix "$top/.deps" --ignore-scripts --no-audit --no-fund minidump >/dev/null
fi
# Wine's 32-bit PE DLLs, so that 32-bit programs run in Wine's "new WoW64"
# mode (wine64 alone runs them, given WINEDLLPATH): taken from the i386
# libwine package of the installed Wine version, unpacked into .deps/wine32;
# nothing is installed.  Without them the 32-bit tests are skipped, by name.
if [ ! -f "$top/.deps/wine32/i386-windows/ntdll.dll" ]; then
	ver=$(dpkg-query -W -f='${Version}' libwine 2>/dev/null || true)
	if [ -n "$ver" ]; then
		mkdir -p "$top/.deps/wine32"
		tmp="$top/.deps/wine32.tmp"
		rm -rf "$tmp"
		mkdir -p "$tmp"
		for base in http://deb.debian.org/debian http://archive.ubuntu.com/ubuntu; do
			for comp in main universe; do
				curl -fsSL -o "$tmp/libwine.deb" "$base/pool/$comp/w/wine/libwine_${ver}_i386.deb" 2>/dev/null &&
					break 2
			done
		done
		if [ -s "$tmp/libwine.deb" ] && dpkg-deb -x "$tmp/libwine.deb" "$tmp/x"; then
			d=$(find "$tmp/x" -type d -name i386-windows | head -n 1)
			[ -n "$d" ] && [ -f "$d/ntdll.dll" ] && rm -rf "$top/.deps/wine32/i386-windows" &&
				mv "$d" "$top/.deps/wine32/i386-windows" && echo "deps: Wine's 32-bit DLLs in .deps/wine32"
		else
			echo "deps: no i386 libwine $ver found; the 32-bit tests will be skipped"
		fi
		rm -rf "$tmp"
	fi
fi
echo "deps: ok"
