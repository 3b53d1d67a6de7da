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
echo "deps: ok"
