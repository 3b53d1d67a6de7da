/* hcount.c - prints "handles=<N>", the handle count of process PID as
 * SystemProcessInformation gives it (Wine fills it; its
 * GetProcessHandleCount answers 0), for bench/churn.sh's leak check.
 * Usage: hcount.exe PID */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

typedef LONG (WINAPI *query_fn)(ULONG, void *, ULONG, ULONG *);

int
main(int argc, char **argv)
{
	query_fn q = (query_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("ntdll.dll"), "NtQuerySystemInformation");
	ULONG size = 1 << 20, need = 0;
	unsigned char *buf = malloc(size), *p;
	DWORD pid = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	LONG st = q && buf ? q(5, buf, size, &need) : -1;
	if (st < 0) {
		printf("NtQuerySystemInformation: 0x%08lx\n", (unsigned long)st);
		return 1;
	}
	for (p = buf;; p += *(ULONG *)p) {
		/* SYSTEM_PROCESS_INFORMATION (x64): UniqueProcessId at 0x50, HandleCount at 0x60 */
		if ((DWORD)*(ULONG_PTR *)(p + 0x50) == pid) {
			printf("handles=%lu\n", *(ULONG *)(p + 0x60));
			return 0;
		}
		if (!*(ULONG *)p)
			break;
	}
	printf("no process %lu\n", pid);
	return 1;
}
