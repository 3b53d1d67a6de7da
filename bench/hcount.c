/* hcount.c - prints "handles=<N>", the handle count of process PID
 * (GetProcessHandleCount), for bench/churn.sh's leak check.
 * Usage: hcount.exe PID */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	HANDLE h = argc > 1 ? OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, strtoul(argv[1], NULL, 10)) : NULL;
	DWORD n = 0;
	if (!h || !GetProcessHandleCount(h, &n)) {
		printf("error=%lu\n", GetLastError());
		return 1;
	}
	printf("handles=%lu\n", n);
	return 0;
}
