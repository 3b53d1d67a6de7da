/* filler.c - benchmark target for bench/fulldump.sh, durability.sh and
 * outage.sh.
 *
 * Usage: filler.exe <MiB> [gaps]
 * Commits <MiB> mebibytes with VirtualAlloc, fills them with xorshift64
 * output (incompressible, every page touched), prints "pid=<PID>",
 * "fill=<hex address> mib=<MiB>" and "ready" on separate lines, then sleeps
 * until killed.  With gaps (outage.sh), it stamps QueryPerformanceCounter
 * instead, in a loop that sleeps 1 ms, and prints "gap=<ms> end=<ms since
 * start>" for every gap between two stamps longer than 20 ms: a frozen
 * process prints, once thawed, how long it was frozen.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -static -o filler.exe filler.c
 * SPDX-License-Identifier: MIT
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stamps the time every millisecond; prints the gaps over 20 ms */
static void
gaps(void)
{
	LARGE_INTEGER f, t0, prev, now;
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&t0);
	prev = t0;
	for (;;) {
		double gap;
		Sleep(1);
		QueryPerformanceCounter(&now);
		gap = (double)(now.QuadPart - prev.QuadPart) * 1000.0 / (double)f.QuadPart;
		if (gap > 20)
			printf("gap=%.1f end=%.1f\n", gap, (double)(now.QuadPart - t0.QuadPart) * 1000.0 / (double)f.QuadPart);
		prev = now;
	}
}

int
main(int argc, char **argv)
{
	unsigned long long mib, n, i, x = 0x9E3779B97F4A7C15ULL;
	unsigned long long *p;
	char *end;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "gaps"))) {
		fprintf(stderr, "usage: filler.exe <MiB> [gaps]\n");
		return 2;
	}
	mib = strtoull(argv[1], &end, 10);
	if (*end || mib == 0 || mib > (1ULL << 20)) {
		fprintf(stderr, "filler: bad size '%s'\n", argv[1]);
		return 2;
	}
	p = VirtualAlloc(NULL, (SIZE_T)(mib << 20), MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
	if (!p) {
		fprintf(stderr, "filler: VirtualAlloc %llu MiB failed (%lu)\n", mib, GetLastError());
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
	printf("fill=%p mib=%llu\n", (void *)p, mib);
	printf("ready\n");
	if (argc == 3)
		gaps();
	for (;;)
		Sleep(60000);
}
