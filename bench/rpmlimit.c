/* rpmlimit.c - "practical limit" baseline for bench/fulldump.sh.
 *
 * Usage: rpmlimit.exe <pid> <outfile>
 * Walks the target with VirtualQueryEx from address 0; every MEM_COMMIT
 * region that is readable (not PAGE_NOACCESS, no PAGE_GUARD) is read with
 * ReadProcessMemory in 8 MiB chunks and written sequentially to <outfile>.
 * No dump format, no threads, no modules: just the bytes a full-memory dump
 * has to move. Prints "bytes=<N> seconds=<S>" (QueryPerformanceCounter,
 * from OpenProcess to CloseHandle of the file).
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -static -o rpmlimit.exe rpmlimit.c
 * SPDX-License-Identifier: MIT
 */
#define __USE_MINGW_ANSI_STDIO 1
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#define CHUNK (8u << 20)

int
main(int argc, char **argv)
{
	LARGE_INTEGER f, t0, t1;
	MEMORY_BASIC_INFORMATION mbi;
	unsigned long long total = 0, failed = 0;
	unsigned long pid;
	unsigned char *addr = NULL, *buf;
	HANDLE h, out;
	char *end;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: rpmlimit.exe <pid> <outfile>\n");
		return 2;
	}
	pid = strtoul(argv[1], &end, 0);
	if (*end || !pid) {
		fprintf(stderr, "rpmlimit: bad pid '%s'\n", argv[1]);
		return 2;
	}
	buf = VirtualAlloc(NULL, CHUNK, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
	if (!buf) {
		fprintf(stderr, "rpmlimit: VirtualAlloc failed (%lu)\n", GetLastError());
		return 1;
	}
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&t0);
	h = OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, pid);
	if (!h) {
		fprintf(stderr, "rpmlimit: OpenProcess %lu failed (%lu)\n", pid, GetLastError());
		return 1;
	}
	out = CreateFileA(argv[2], GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
	    FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
	if (out == INVALID_HANDLE_VALUE) {
		fprintf(stderr, "rpmlimit: CreateFile %s failed (%lu)\n", argv[2], GetLastError());
		return 1;
	}
	while (VirtualQueryEx(h, addr, &mbi, sizeof mbi) == sizeof mbi) {
		unsigned char *base = mbi.BaseAddress;
		SIZE_T size = mbi.RegionSize, off, want, got;
		DWORD wrote;

		if (mbi.State == MEM_COMMIT && !(mbi.Protect & (PAGE_NOACCESS | PAGE_GUARD))
		    && mbi.Protect != 0) {
			for (off = 0; off < size; off += want) {
				want = size - off < CHUNK ? size - off : CHUNK;
				got = 0;
				if (!ReadProcessMemory(h, base + off, buf, want, &got) || got != want) {
					failed += want;
					continue;
				}
				if (!WriteFile(out, buf, (DWORD)got, &wrote, NULL) || wrote != got) {
					fprintf(stderr, "rpmlimit: WriteFile failed (%lu)\n", GetLastError());
					return 1;
				}
				total += got;
			}
		}
		addr = base + size;
		if (addr < base) /* wrapped */
			break;
	}
	CloseHandle(out);
	CloseHandle(h);
	QueryPerformanceCounter(&t1);
	if (failed)
		fprintf(stderr, "rpmlimit: %llu bytes could not be read\n", failed);
	printf("bytes=%llu seconds=%.3f\n", total,
	    (double)(t1.QuadPart - t0.QuadPart) / (double)f.QuadPart);
	return total ? 0 : 1;
}
