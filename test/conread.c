/* conread.c - runs a command on a console of its own and reads the screen,
 * for the progress tests: what a user at the console would see.
 *
 * Usage: conread.exe OUTFILE COMMAND_LINE
 * Allocates a console (120 columns), runs COMMAND_LINE on it (its standard
 * handles are the console's), and every 20 ms reads the screen buffer:
 * each new text of a row holding "% of" is written to OUTFILE as
 * "progress=<row>".  When the command ends: "screen=<row>" for each
 * non-blank row of the screen, then "exit=<its exit code>".  Exit 0, or 2
 * if the command could not be run.
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#define COLS 120
#define ROWS 300

static void
row_text(HANDLE con, SHORT y, char *out, size_t cap)
{
	wchar_t w[COLS + 1];
	COORD at = { 0, y };
	DWORD n = 0;
	int len;
	ReadConsoleOutputCharacterW(con, w, COLS, at, &n);
	w[n] = 0;
	while (n && (w[n - 1] == L' ' || w[n - 1] == 0))
		w[--n] = 0;
	len = WideCharToMultiByte(CP_UTF8, 0, w, (int)n, out, (int)cap - 1, NULL, NULL);
	out[len > 0 ? len : 0] = 0;
}

int
wmain(int argc, wchar_t **argv)
{
	SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	HANDLE con, in;
	COORD size = { COLS, ROWS };
	char row[4 * COLS], last[4 * COLS] = "";
	DWORD code = 0;
	FILE *f;
	SHORT y;
	int done = 0;
	if (argc < 3 || !(f = _wfopen(argv[1], L"wb")))
		return 2;
	FreeConsole();
	if (!AllocConsole()) {
		fprintf(f, "error=AllocConsole %lu\n", GetLastError());
		fclose(f);
		return 2;
	}
	con = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
	                  OPEN_EXISTING, 0, NULL);
	in = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
	                 OPEN_EXISTING, 0, NULL);
	SetConsoleScreenBufferSize(con, size);
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = in;
	si.hStdOutput = con;
	si.hStdError = con;
	if (!CreateProcessW(NULL, argv[2], NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
		fprintf(f, "error=CreateProcess %lu\n", GetLastError());
		fclose(f);
		return 2;
	}
	while (!done) {
		done = WaitForSingleObject(pi.hProcess, 20) == WAIT_OBJECT_0;
		for (y = 0; y < ROWS; y++) {
			row_text(con, y, row, sizeof row);
			if (strstr(row, "% of") && strcmp(row, last)) {
				fprintf(f, "progress=%s\n", row);
				fflush(f);
				strcpy(last, row);
			}
		}
	}
	for (y = 0; y < ROWS; y++) {
		row_text(con, y, row, sizeof row);
		if (row[0])
			fprintf(f, "screen=%s\n", row);
	}
	GetExitCodeProcess(pi.hProcess, &code);
	fprintf(f, "exit=%lu\n", code);
	fclose(f);
	return 0;
}
