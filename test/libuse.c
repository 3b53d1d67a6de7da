/* libuse.c - uses procdump.c in library mode (-DPROCDUMP_NO_MAIN).
 * Usage: libuse.exe <pid> <dump-path>   -> prints "rc=<code>" */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int pd_write_dump(unsigned long pid, const wchar_t *path, int type,
                  const wchar_t *comment, int overwrite);

int
wmain(int argc, wchar_t **argv)
{
	int rc;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 3)
		return 2;
	rc = pd_write_dump(wcstoul(argv[1], NULL, 10), argv[2], 0 /* PD_MINI */,
	                   L"written by libuse", 0);
	printf("rc=%d\n", rc);
	return rc;
}
