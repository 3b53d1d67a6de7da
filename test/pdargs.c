/* pdargs.c - an -ondump action for the tests: records what it was given.
 *
 * Usage: pdargs.exe OUTFILE MODE [ARG...]
 * Writes to OUTFILE (UTF-8, one a line): "n=<count of ARGs>", each ARG as
 * "arg=<text>", "env=<PD_DUMP_FILE>", and, if the first ARG is a file,
 * "sig=<its first 4 bytes>" (MDMP: a complete dump under its final name);
 * then, by MODE: ok exits 0, fail exits 7, hang sleeps until killed.
 * The file is written whole and closed before a hang, so that a test sees
 * the action started.
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

static void
put(FILE *f, const char *key, const wchar_t *w)
{
	char u[8192];
	WideCharToMultiByte(CP_UTF8, 0, w, -1, u, sizeof u, NULL, NULL);
	fprintf(f, "%s=%s\n", key, u);
}

int
wmain(int argc, wchar_t **argv)
{
	wchar_t env[4096] = L"";
	char sig[5] = "";
	FILE *f, *d;
	int i;
	if (argc < 3)
		return 2;
	if (!(f = _wfopen(argv[1], L"wb")))
		return 3;
	fprintf(f, "n=%d\n", argc - 3);
	for (i = 3; i < argc; i++)
		put(f, "arg", argv[i]);
	GetEnvironmentVariableW(L"PD_DUMP_FILE", env, 4096);
	put(f, "env", env);
	if (argc > 3 && (d = _wfopen(argv[3], L"rb"))) {
		if (fread(sig, 1, 4, d) != 4)
			sig[0] = 0;
		fclose(d);
	}
	fprintf(f, "sig=%s\n", sig);
	fclose(f);
	if (!wcscmp(argv[2], L"fail"))
		return 7;
	if (!wcscmp(argv[2], L"hang"))
		Sleep(INFINITE);
	return 0;
}
