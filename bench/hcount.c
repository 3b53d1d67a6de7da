/* hcount.c - the handle and thread counts of one process, as
 * SystemProcessInformation reports them (Wine reports both truly).
 *
 * Usage: hcount.exe PID
 * Prints "handles=<N> threads=<N>", exit 0; exit 1 if PID is not running. */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	typedef NTSTATUS(WINAPI * query_fn)(ULONG, void *, ULONG, ULONG *);
	query_fn query = (query_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"),
	                                                  "NtQuerySystemInformation");
	ULONG cap = 1 << 20, got = 0;
	char *buf = NULL;
	DWORD pid;
	NTSTATUS st;
	if (argc != 2 || !query)
		return 2;
	pid = strtoul(argv[1], NULL, 10);
	do {
		free(buf);
		cap *= 2;
		if (!(buf = malloc(cap)))
			return 2;
		st = query(5 /* SystemProcessInformation */, buf, cap, &got);
	} while (st == (NTSTATUS)0xC0000004L /* STATUS_INFO_LENGTH_MISMATCH */);
	if (st < 0)
		return 2;
	for (ULONG off = 0;;) {
		SYSTEM_PROCESS_INFORMATION *p = (SYSTEM_PROCESS_INFORMATION *)(buf + off);
		if ((DWORD)(ULONG_PTR)p->UniqueProcessId == pid) {
			printf("handles=%lu threads=%lu\n", p->HandleCount, p->NumberOfThreads);
			return 0;
		}
		if (!p->NextEntryOffset)
			return 1;
		off += p->NextEntryOffset;
	}
}
