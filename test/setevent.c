/* setevent.c - sets a named event, as any program may do to stop procdump
 * (ProcDump-<PID>).  Usage: setevent.exe NAME   prints "set NAME" and exits
 * 0 if set; exits 1 if absent.  (The tests read the line: under Wine the
 * shell can see 137 for a clean exit.) */
#include <windows.h>
#include <stdio.h>

int
wmain(int argc, wchar_t **argv)
{
	HANDLE e;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2)
		return 2;
	e = OpenEventW(EVENT_MODIFY_STATE, FALSE, argv[1]);
	if (!e) {
		printf("no event %ls (%lu)\n", argv[1], GetLastError());
		return 1;
	}
	if (!SetEvent(e)) {
		printf("cannot set %ls (%lu)\n", argv[1], GetLastError());
		return 1;
	}
	CloseHandle(e);
	printf("set %ls\n", argv[1]);
	return 0;
}
