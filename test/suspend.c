/* suspend.c - suspends or resumes one thread of another process, so that a
 * test can give a target a thread with a suspend count of its own.
 *   suspend.exe s|r TID     prints the previous suspend count */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	HANDLE h;
	DWORD prev;
	if (argc != 3 || !(h = OpenThread(THREAD_SUSPEND_RESUME, FALSE, (DWORD)strtoul(argv[2], NULL, 10))))
		return 1;
	prev = argv[1][0] == 's' ? SuspendThread(h) : ResumeThread(h);
	printf("prev=%ld\n", (long)prev);
	return prev == (DWORD)-1;
}
