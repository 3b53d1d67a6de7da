/* pdrun.c - runs a command line and records its full exit code.
 *
 *   pdrun.exe CODEFILE SECONDS PROGRAM [ARGS...]
 *
 * Starts PROGRAM with the rest of pdrun's own command line, unchanged, on the
 * same standard handles and folder; waits for it; writes the exit code that
 * GetExitCodeProcess gives (decimal, all 32 bits) to CODEFILE.  After SECONDS
 * it terminates the program and writes "timeout".  A program that did not
 * return from its main (killed, crashed) is written as "killed": procdump
 * writes its exit code to the file PROCDUMP_TEST_EXIT_FILE names, which pdrun
 * sets to CODEFILE.exit, when it returns, and only then.  (Under Wine a
 * process killed with SIGKILL has exit code 0: GetExitCodeProcess alone
 * cannot tell it from a success.)  Ctrl+C sent to pdrun (under
 * Wine: kill -INT) is passed on as a Ctrl+C to the program, by the thread
 * Windows itself would start there (kernelbase's CtrlRoutine).
 *
 * Why the tests need it: the shell sees 8 bits of an exit code, and under Wine
 * it can see 137 for a program that returned 0.  wineserver sends SIGKILL to a
 * Unix process that is still there half a second after its last thread ended
 * (server/process.c, process_sigkill); on a loaded machine exit() can take
 * that long.  The code the Windows side recorded is the program's own.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static HANDLE child;
static LPTHREAD_START_ROUTINE ctrl_routine;

/* skip one command-line word, as the C runtime splits them */
static wchar_t *
next_word(wchar_t *s)
{
	int quoted = 0;
	while (*s == L' ' || *s == L'\t')
		s++;
	for (; *s && (quoted || (*s != L' ' && *s != L'\t')); s++) {
		if (*s == L'\\' && s[1] == L'"')
			s++;
		else if (*s == L'"')
			quoted = !quoted;
	}
	while (*s == L' ' || *s == L'\t')
		s++;
	return s;
}

static BOOL WINAPI
on_ctrl(DWORD type)
{
	HANDLE t;
	if (type != CTRL_C_EVENT || !child || !ctrl_routine)
		return FALSE;
	t = CreateRemoteThread(child, NULL, 0, ctrl_routine, (void *)(ULONG_PTR)CTRL_C_EVENT, 0, NULL);
	if (t)
		CloseHandle(t);
	return TRUE;
}

/* The exit code procdump wrote at its clean exit, or -1 if there is none. */
static long long
returned(const wchar_t *file)
{
	FILE *f = _wfopen(file, L"r");
	long long v = -1;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void
record(const wchar_t *file, const char *text)
{
	FILE *f = _wfopen(file, L"w");
	if (f) {
		fprintf(f, "%s\n", text);
		fclose(f);
	}
}

int
wmain(int argc, wchar_t **argv)
{
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
	HANDLE job;
	HMODULE kb;
	wchar_t *cmd, exitfile[MAX_PATH + 8];
	char text[32];
	DWORD code, ms;
	int i, tries = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: pdrun.exe CODEFILE SECONDS PROGRAM [ARGS...]\n");
		return 2;
	}
	ms = (DWORD)wcstoul(argv[2], NULL, 10) * 1000;
	cmd = GetCommandLineW();
	for (i = 0; i < 3; i++)
		cmd = next_word(cmd);
	kb = GetModuleHandleW(L"kernelbase.dll");
	if (kb)
		ctrl_routine = (LPTHREAD_START_ROUTINE)(void (*)(void))GetProcAddress(kb, "CtrlRoutine");
	if (!ctrl_routine)
		ctrl_routine = (LPTHREAD_START_ROUTINE)(void (*)(void))GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "CtrlRoutine");

	swprintf(exitfile, MAX_PATH + 8, L"%ls.exit", argv[1]);
	DeleteFileW(exitfile);
	SetEnvironmentVariableW(L"PROCDUMP_TEST_EXIT_FILE", exitfile);

	memset(&si, 0, sizeof si);
	memset(&lim, 0, sizeof lim);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
	si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
	SetHandleInformation(si.hStdInput, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
	SetHandleInformation(si.hStdOutput, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
	SetHandleInformation(si.hStdError, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
	SetConsoleCtrlHandler(on_ctrl, TRUE);
	/* Wine, rarely: the new process dies before its first instruction
	 * (exit code 0, so ERROR_INTERNAL_ERROR); nothing of it ran, so try again */
	while (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
		DWORD e = GetLastError();
		if (e != ERROR_INTERNAL_ERROR || ++tries == 5) {
			fprintf(stderr, "pdrun: cannot start %ls (error %lu)\n", argv[3], e);
			return 2;
		}
		Sleep(100);
	}
	/* if pdrun is killed, the program goes with it; a process it starts
	 * with CREATE_BREAKAWAY_FROM_JOB (procdump's freeze guard) may leave */
	job = CreateJobObjectW(NULL, NULL);
	lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
	if (job && SetInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof lim))
		AssignProcessToJobObject(job, pi.hProcess);
	child = pi.hProcess;
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	if (WaitForSingleObject(pi.hProcess, ms) != WAIT_OBJECT_0) {
		TerminateProcess(pi.hProcess, 1);
		WaitForSingleObject(pi.hProcess, 5000);
		record(argv[1], "timeout");
		return 124;
	}
	GetExitCodeProcess(pi.hProcess, &code);
	if (returned(exitfile) < 0) {
		record(argv[1], "killed");
		return 137;
	}
	snprintf(text, sizeof text, "%lu", code);
	record(argv[1], text);
	return (int)code;
}
