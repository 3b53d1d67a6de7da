/* setevent.c - sets a named event, as any program may do to stop procdump
 * (ProcDump-<PID>).  Usage: setevent.exe NAME   exit 0 if set, 1 if absent. */
#include <windows.h>
#include <stdio.h>

int
wmain(int argc, wchar_t **argv)
{
	HANDLE e;
	if (argc < 2)
		return 2;
	e = OpenEventW(EVENT_MODIFY_STATE, FALSE, argv[1]);
	if (!e) {
		printf("no event %ls (%lu)\n", argv[1], GetLastError());
		return 1;
	}
	SetEvent(e);
	CloseHandle(e);
	return 0;
}
