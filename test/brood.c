/* brood.c - a parent whose children live a moment, for the -pt tests.
 *
 * Usage: brood.exe N MS [GAP]
 * Prints "pid=<PID>" and "ready", waits for the event PdGo-<PID> (set by
 * the test once procdump watches it; 30 s deadline), then starts N children
 * one after another, each this program with the one argument MS: a child
 * sleeps MS milliseconds and exits 0.  The parent waits for each child to
 * end, then GAP milliseconds (default 0), before the next.  It prints
 * "child=<PID>" for each, "done" after the last, and exits 0.  So the
 * process list shows children that are gone a moment later, before a
 * watcher of the tree (-pt) has opened, attached or frozen them. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	char self[MAX_PATH], cmd[MAX_PATH + 32], name[64];
	STARTUPINFOA si;
	PROCESS_INFORMATION pi;
	HANDLE go;
	int n, ms, gap, i;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2) { /* a child */
		Sleep((DWORD)atoi(argv[1]));
		return 0;
	}
	if (argc < 3)
		return 2;
	n = atoi(argv[1]);
	ms = atoi(argv[2]);
	gap = argc > 3 ? atoi(argv[3]) : 0;
	snprintf(name, sizeof name, "PdGo-%lu", GetCurrentProcessId());
	go = CreateEventA(NULL, TRUE, FALSE, name);
	printf("pid=%lu\nready\n", GetCurrentProcessId());
	printf("go=%lu\n", WaitForSingleObject(go, 30000));
	GetModuleFileNameA(NULL, self, MAX_PATH);
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	for (i = 0; i < n; i++) {
		snprintf(cmd, sizeof cmd, "\"%s\" %d", self, ms);
		if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
			return 3;
		printf("child=%lu\n", pi.dwProcessId);
		WaitForSingleObject(pi.hProcess, INFINITE);
		CloseHandle(pi.hProcess);
		CloseHandle(pi.hThread);
		if (gap)
			Sleep((DWORD)gap);
	}
	printf("done\n");
	return 0;
}
