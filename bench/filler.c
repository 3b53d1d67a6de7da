/* filler.c - benchmark target for bench/fulldump.sh.
 *
 * Usage: filler.exe <MiB>
 * Commits <MiB> mebibytes with VirtualAlloc, fills them with xorshift64
 * output (incompressible, every page touched), prints "pid=<PID>" and
 * "ready" on separate lines, then sleeps until killed.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -static -o filler.exe filler.c
 * SPDX-License-Identifier: MIT
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	unsigned long long mib, n, i, x = 0x9E3779B97F4A7C15ULL;
	unsigned long long *p;
	char *end;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: filler.exe <MiB>\n");
		return 2;
	}
	mib = strtoull(argv[1], &end, 10);
	if (*end || mib == 0 || mib > (1ULL << 20)) {
		fprintf(stderr, "filler: bad size '%s'\n", argv[1]);
		return 2;
	}
	p = VirtualAlloc(NULL, (SIZE_T)(mib << 20), MEM_COMMIT | MEM_RESERVE,
	    PAGE_READWRITE);
	if (!p) {
		fprintf(stderr, "filler: VirtualAlloc %llu MiB failed (%lu)\n",
		    mib, GetLastError());
		return 1;
	}
	n = (mib << 20) / sizeof *p;
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	printf("pid=%lu\n", GetCurrentProcessId());
	printf("ready\n");
	for (;;)
		Sleep(60000);
}
