/* libuse.c - uses procdump.c in library mode (-DPROCDUMP_NO_MAIN).
 *
 *   libuse.exe PID DUMP        pd_write_dump(): a Mini dump; prints "rc=<code>"
 *   libuse.exe twice PID DIR   pd_main twice in this process: a series
 *                              (-n 3 -s 30) that a Ctrl+C ends after its first
 *                              dump, then one -mm dump (DIR\second.dmp);
 *                              prints "rc1=<code> rc2=<code>".  The second
 *                              call works only if the first left no
 *                              process-wide state behind (the Ctrl+C). */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

int pd_write_dump(unsigned long pid, const wchar_t *path, int type,
                  const wchar_t *comment, int overwrite);
int pd_main(int argc, wchar_t **argv);

static const wchar_t *series_dir;

/* Waits (30 s at most) for the series' first dump, then sends this process
 * a Ctrl+C the way Windows does: a thread at kernelbase's CtrlRoutine. */
static DWORD WINAPI
ctrl_c_after_first_dump(void *arg)
{
	wchar_t pattern[MAX_PATH];
	WIN32_FIND_DATAW fd;
	FARPROC ctrl = GetProcAddress(GetModuleHandleW(L"kernelbase.dll"), "CtrlRoutine");
	int i;
	(void)arg;
	swprintf(pattern, MAX_PATH, L"%ls\\*.dmp", series_dir);
	for (i = 0; i < 300; i++) {
		HANDLE h = FindFirstFileW(pattern, &fd);
		if (h != INVALID_HANDLE_VALUE) {
			FindClose(h);
			break;
		}
		Sleep(100);
	}
	if (!ctrl)
		ctrl = GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "CtrlRoutine");
	if (ctrl)
		CloseHandle(CreateThread(NULL, 0, (LPTHREAD_START_ROUTINE)(void (*)(void))ctrl,
		                         (void *)(ULONG_PTR)CTRL_C_EVENT, 0, NULL));
	return 0;
}

static int
twice(wchar_t *pid, wchar_t *dir)
{
	wchar_t second[MAX_PATH];
	wchar_t *a1[] = { L"libuse", L"-n", L"3", L"-s", L"30", pid, dir, NULL };
	wchar_t *a2[] = { L"libuse", L"-mm", pid, second, NULL };
	int rc1, rc2;
	series_dir = dir;
	swprintf(second, MAX_PATH, L"%ls\\second.dmp", dir);
	CloseHandle(CreateThread(NULL, 0, ctrl_c_after_first_dump, NULL, 0, NULL));
	rc1 = pd_main(7, a1);
	rc2 = pd_main(4, a2);
	printf("rc1=%d rc2=%d\n", rc1, rc2);
	return rc2;
}

int
wmain(int argc, wchar_t **argv)
{
	int rc;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 4 && !wcscmp(argv[1], L"twice"))
		return twice(argv[2], argv[3]);
	if (argc < 3)
		return 2;
	rc = pd_write_dump(wcstoul(argv[1], NULL, 10), argv[2], 0 /* PD_MINI */,
	                   L"written by libuse", 0);
	printf("rc=%d\n", rc);
	return rc;
}
