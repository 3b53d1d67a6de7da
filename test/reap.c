/* reap.c - the exit code of other processes, all 32 bits, for the tests
 * (built as pdreap.exe).  Under Wine the shell sees 8 bits of a Windows
 * program's exit code (0xC0000005 reads 5) and a process nobody holds open
 * takes its code with it, so a test starts this while the process runs.
 *
 *   pdreap.exe PID
 *   pdreap.exe -new IMAGE COUNT
 *
 * PID: opens process PID and prints "reaping=PID"; at its end
 * "exit=<its exit code, 8 hex digits>".  "exit=none" if it cannot open it.
 * -new: prints "watching" once it knows the processes named IMAGE that run
 * already; then opens each of the next COUNT that start (it looks every 5 ms,
 * so it holds one before a debugger that polls can have it crash), printing
 * "reaping=PID", and at the end of each "exit=<code> pid=PID".
 * A deadline of 120 s: "exit=running" (with " pid=PID" for -new) for each
 * still running, "timeout" for -new if fewer than COUNT started.  Exit 0, or
 * 1 if something could not be read. */
#include <windows.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#define DEADLINE_MS 120000
#define MAXP 64

static int
one(DWORD pid)
{
	HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
	DWORD code = 0;
	if (!h) {
		printf("exit=none\n");
		return 1;
	}
	printf("reaping=%lu\n", pid);
	if (WaitForSingleObject(h, DEADLINE_MS) != WAIT_OBJECT_0 || !GetExitCodeProcess(h, &code)) {
		printf("exit=running\n");
		return 1;
	}
	printf("exit=%08lX\n", code);
	return 0;
}

/* the PIDs of the processes named image, into pids (at most MAXP) */
static int
named(const wchar_t *image, DWORD *pids)
{
	PROCESSENTRY32W pe;
	HANDLE s = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
	int n = 0;
	if (s == INVALID_HANDLE_VALUE)
		return 0;
	pe.dwSize = sizeof pe;
	for (BOOL ok = Process32FirstW(s, &pe); ok && n < MAXP; ok = Process32NextW(s, &pe))
		if (!_wcsicmp(pe.szExeFile, image))
			pids[n++] = pe.th32ProcessID;
	CloseHandle(s);
	return n;
}

static int
known(DWORD pid, const DWORD *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] == pid)
			return 1;
	return 0;
}

static int
new_ones(const wchar_t *image, int count)
{
	DWORD old[MAXP], now[MAXP], pid[MAXP], start = GetTickCount();
	HANDLE h[MAXP];
	int nold = named(image, old), n = 0, bad = 0;
	printf("watching\n");
	if (count > MAXP)
		count = MAXP;
	while (n < count && GetTickCount() - start < DEADLINE_MS) {
		int k = named(image, now);
		for (int i = 0; i < k && n < count; i++) {
			if (known(now[i], old, nold) || known(now[i], pid, n))
				continue;
			h[n] = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, now[i]);
			if (!h[n]) {
				printf("exit=none pid=%lu\n", now[i]);
				if (nold < MAXP)
					old[nold++] = now[i];
				bad = 1;
				continue;
			}
			pid[n++] = now[i];
			printf("reaping=%lu\n", now[i]);
		}
		Sleep(5);
	}
	if (n < count) {
		printf("timeout\n");
		bad = 1;
	}
	for (int i = 0; i < n; i++) {
		DWORD left = DEADLINE_MS, spent = GetTickCount() - start, code = 0;
		left = spent < left ? left - spent : 0;
		if (WaitForSingleObject(h[i], left) != WAIT_OBJECT_0 || !GetExitCodeProcess(h[i], &code)) {
			printf("exit=running pid=%lu\n", pid[i]);
			bad = 1;
		} else
			printf("exit=%08lX pid=%lu\n", code, pid[i]);
		CloseHandle(h[i]);
	}
	return bad;
}

int
wmain(int argc, wchar_t **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2)
		return one((DWORD)wcstoul(argv[1], NULL, 10));
	if (argc == 4 && !wcscmp(argv[1], L"-new"))
		return new_ones(argv[2], (int)wcstol(argv[3], NULL, 10));
	fprintf(stderr, "usage: pdreap.exe PID | pdreap.exe -new IMAGE COUNT\n");
	return 2;
}
