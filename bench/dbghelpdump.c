/* dbghelpdump.c - dbghelp baseline for bench/fulldump.sh.
 *
 * Usage: dbghelpdump.exe <pid> <outfile> [type-hex]
 * OpenProcess(PROCESS_ALL_ACCESS), SymInitialize(h, NULL, FALSE) (doc/WINE.md
 * fact 9), then MiniDumpWriteDump with the given MINIDUMP_TYPE (default 0x2,
 * MiniDumpWithFullMemory). Wine's dbghelp can return TRUE on failure, so the
 * file size is checked afterwards. Prints "bytes=<filesize> seconds=<S>"
 * (QueryPerformanceCounter, from OpenProcess to CloseHandle of the file).
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -static -o dbghelpdump.exe dbghelpdump.c -ldbghelp
 * SPDX-License-Identifier: MIT
 */
#define __USE_MINGW_ANSI_STDIO 1
#include <windows.h>
#include <dbghelp.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	LARGE_INTEGER f, t0, t1, size;
	unsigned long pid, type = MiniDumpWithFullMemory;
	HANDLE h, out;
	BOOL ok;
	char *end;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: dbghelpdump.exe <pid> <outfile> [type-hex]\n");
		return 2;
	}
	pid = strtoul(argv[1], &end, 0);
	if (*end || !pid) {
		fprintf(stderr, "dbghelpdump: bad pid '%s'\n", argv[1]);
		return 2;
	}
	if (argc == 4) {
		type = strtoul(argv[3], &end, 16);
		if (*end) {
			fprintf(stderr, "dbghelpdump: bad type '%s'\n", argv[3]);
			return 2;
		}
	}
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&t0);
	h = OpenProcess(PROCESS_ALL_ACCESS, FALSE, pid);
	if (!h) {
		fprintf(stderr, "dbghelpdump: OpenProcess %lu failed (%lu)\n", pid, GetLastError());
		return 1;
	}
	if (!SymInitialize(h, NULL, FALSE))
		fprintf(stderr, "dbghelpdump: SymInitialize failed (%lu), continuing\n",
		    GetLastError());
	out = CreateFileA(argv[2], GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
	    FILE_ATTRIBUTE_NORMAL, NULL);
	if (out == INVALID_HANDLE_VALUE) {
		fprintf(stderr, "dbghelpdump: CreateFile %s failed (%lu)\n", argv[2], GetLastError());
		return 1;
	}
	ok = MiniDumpWriteDump(h, pid, out, (MINIDUMP_TYPE)type, NULL, NULL, NULL);
	if (!ok)
		fprintf(stderr, "dbghelpdump: MiniDumpWriteDump failed (0x%lx)\n", GetLastError());
	if (!GetFileSizeEx(out, &size))
		size.QuadPart = 0;
	CloseHandle(out);
	SymCleanup(h);
	CloseHandle(h);
	QueryPerformanceCounter(&t1);
	printf("bytes=%lld seconds=%.3f\n", (long long)size.QuadPart,
	    (double)(t1.QuadPart - t0.QuadPart) / (double)f.QuadPart);
	if (!ok || size.QuadPart <= 32) { /* 32 = sizeof(MINIDUMP_HEADER) */
		fprintf(stderr, "dbghelpdump: no usable dump written\n");
		return 1;
	}
	return 0;
}
