/* crasher.c - one debug event per mode, for the debugger-trigger tests.
 *
 * Usage: crasher.exe MODE [ARG]
 * Prints "pid=<PID>", "tid=<TID>", "ready", then waits (30 s deadline) until
 * a debugger is attached, so that a test can attach procdump first.  Then:
 *   av             write to address 0x10 (unhandled access violation)
 *   postmortem [MS] the same at once, or MS milliseconds (decimal) after
 *                  "ready", without waiting for a debugger (the AeDebug
 *                  debugger, procdump -j, attaches after the crash)
 *   so             unbounded recursion (stack overflow)
 *   raise CODE     RaiseException(CODE) with no handler (second chance)
 *   caught CODE    RaiseException(CODE) caught by a vectored handler (first
 *                  chance only); then prints "survived" and keeps running
 *   int3           __debugbreak(), stepped over by a vectored handler
 *   ods            OutputDebugStringA then OutputDebugStringW
 *   dll PATH       LoadLibrary(PATH) then FreeLibrary
 *   thread         starts a thread that exits at once
 *   exit CODE      returns CODE from main
 *   sleep          nothing: keeps running
 *   spawn MODE     starts a child, this program with MODE (its lines go to the
 *                  same output), prints "child=<PID>", waits for it to end,
 *                  prints "child ended", and exits 0
 *   tree           at once (no wait for a debugger): starts a child, this
 *                  program in mode sleep, prints "child=<PID>", then "ready"
 *                  and heartbeats (a process tree that exists before procdump)
 *   every CODE     one event of each kind, in turn, each line printed once
 *                  it is past: "ods" (two debug strings), "dll" (loads and
 *                  frees pdtestdll.dll, found beside this program), "thread"
 *                  (one that exits at once), "int3" (stepped over), "caught"
 *                  (E0005678, handled); then "exiting" and ExitProcess(CODE)
 *                  (every debugger mode has something to see, -t the exit)
 * The modes dll, thread, exit and every then also wait for the event PdGo-<PID>
 * (set by the test once procdump has finished attaching), because a DLL or
 * thread that appears during the attach is reported with the existing ones,
 * and -t can plant its breakpoint only once attached.
 * Before the event it prints "event=<FILETIME, 100 ns since 1601>" (from
 * GetSystemTimePreciseAsFileTime) for the latency benchmark.  Modes that
 * survive print "heartbeat N" every 100 ms afterwards. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (WINAPI *precise_fn)(FILETIME *);

static void
stamp_event(void)
{
	FILETIME ft;
	precise_fn f = (precise_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("kernel32.dll"),
	                                                         "GetSystemTimePreciseAsFileTime");
	if (f)
		f(&ft);
	else
		GetSystemTimeAsFileTime(&ft);
	printf("event=%llu\n", ((unsigned long long)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
}

static LONG WINAPI
veh(EXCEPTION_POINTERS *ep)
{
	DWORD code = ep->ExceptionRecord->ExceptionCode;
	if (code == EXCEPTION_BREAKPOINT) {
#ifdef _WIN64
		if (*(unsigned char *)ep->ContextRecord->Rip == 0xCC)
			ep->ContextRecord->Rip++;
#endif
		return EXCEPTION_CONTINUE_EXECUTION;
	}
	if ((code & 0xF0000000u) == 0xE0000000u)
		return EXCEPTION_CONTINUE_EXECUTION;
	return EXCEPTION_CONTINUE_SEARCH;
}

__attribute__((noinline)) static int
crash_recurse(volatile int *depth)
{
	volatile char pad[4096];
	pad[0] = (char)*depth;
	if (++*depth < 0)   /* never: keeps the compiler from calling it infinite */
		return 0;
	return crash_recurse(depth) + pad[0];
}

__attribute__((noinline)) static void
crash_av(void)
{
	*(volatile int *)0x10 = 1;
}

static DWORD WINAPI
short_thread(void *arg)
{
	(void)arg;
	return 7;
}

/* tree: the child first, then "ready" */
static int
tree(void)
{
	char self[MAX_PATH], cmd[MAX_PATH + 16];
	STARTUPINFOA si;
	PROCESS_INFORMATION pi;
	int n = 0;
	SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
	HANDLE nul = CreateFileA("NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
	                         OPEN_EXISTING, 0, NULL);
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES; /* its pid= would mix with ours */
	si.hStdInput = si.hStdOutput = si.hStdError = nul;
	GetModuleFileNameA(NULL, self, MAX_PATH);
	snprintf(cmd, sizeof cmd, "\"%s\" sleep", self);
	if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
		return 2;
	printf("pid=%lu\nchild=%lu\nready\n", GetCurrentProcessId(), pi.dwProcessId);
	for (;;) {
		printf("heartbeat %d\n", n++);
		Sleep(100);
	}
}

/* every CODE: each debug event in turn, then ExitProcess(CODE) */
static void
every(unsigned long code)
{
	ULONG_PTR args[2] = { 0x11, 0x22 };
	HANDLE t;
	HMODULE h;
	OutputDebugStringA("procdump-test every ansi\n");
	OutputDebugStringW(L"procdump-test every wide\n");
	printf("ods\n");
	if ((h = LoadLibraryA("pdtestdll.dll")))
		FreeLibrary(h);
	printf("dll=%d\n", h != NULL);
	t = CreateThread(NULL, 0, short_thread, NULL, 0, NULL);
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
	printf("thread\n");
	__debugbreak();
	printf("int3\n");
	RaiseException(0xE0005678, 0, 2, args);
	printf("caught\n");
	printf("exiting\n");
	ExitProcess((UINT)code);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "sleep";
	unsigned long code = argc > 2 ? strtoul(argv[2], NULL, 16) : 0;
	int i, n = 0;
	volatile int depth = 0;
	void *veh_handle;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "tree"))
		return tree();
	printf("pid=%lu\ntid=%lu\nready\n", GetCurrentProcessId(), GetCurrentThreadId());
	for (i = 0; i < 3000 && strcmp(mode, "postmortem") && !IsDebuggerPresent(); i++)
		Sleep(10);
	printf("debugger=%d\n", IsDebuggerPresent());
	if (!strcmp(mode, "dll") || !strcmp(mode, "thread") || !strcmp(mode, "exit") || !strcmp(mode, "every")) {
		char name[64];
		HANDLE go;
		snprintf(name, sizeof name, "PdGo-%lu", GetCurrentProcessId());
		go = CreateEventA(NULL, TRUE, FALSE, name);
		printf("waiting for %s\n", name);
		printf("go=%lu\n", WaitForSingleObject(go, 30000));
	}
	veh_handle = AddVectoredExceptionHandler(1, veh);
	stamp_event();
	if (!strcmp(mode, "postmortem") && argc > 2)
		Sleep((DWORD)strtoul(argv[2], NULL, 10));
	if (!strcmp(mode, "av") || !strcmp(mode, "postmortem"))
		crash_av();
	else if (!strcmp(mode, "so"))
		crash_recurse(&depth);
	else if (!strcmp(mode, "raise")) {
		RemoveVectoredExceptionHandler(veh_handle);
		RaiseException(code, 0, 0, NULL);
	} else if (!strcmp(mode, "caught")) {
		ULONG_PTR args[2] = { 0x11, 0x22 };
		RaiseException(code, 0, 2, args);
		printf("survived\n");
	} else if (!strcmp(mode, "int3")) {
		__debugbreak();
		printf("survived\n");
	} else if (!strcmp(mode, "ods")) {
		OutputDebugStringA("procdump-test ansi NotFound\n");
		OutputDebugStringW(L"procdump-test wide\n");
	} else if (!strcmp(mode, "dll")) {
		HMODULE h = LoadLibraryA(argv[2]);
		printf("loaded=%p\n", (void *)h);
		if (h)
			FreeLibrary(h);
		printf("freed\n");
	} else if (!strcmp(mode, "thread")) {
		HANDLE t = CreateThread(NULL, 0, short_thread, NULL, 0, NULL);
		WaitForSingleObject(t, INFINITE);
		printf("thread done\n");
	} else if (!strcmp(mode, "exit"))
		return (int)code;
	else if (!strcmp(mode, "every"))
		every(code);
	else if (!strcmp(mode, "spawn")) {
		char self[MAX_PATH], cmd[MAX_PATH + 64];
		STARTUPINFOA si;
		PROCESS_INFORMATION pi;
		memset(&si, 0, sizeof si);
		si.cb = sizeof si;
		GetModuleFileNameA(NULL, self, MAX_PATH);
		snprintf(cmd, sizeof cmd, "\"%s\" %s", self, argc > 2 ? argv[2] : "sleep");
		if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
			return 2;
		printf("child=%lu\n", pi.dwProcessId);
		WaitForSingleObject(pi.hProcess, INFINITE);
		printf("child ended\n");
		return 0;
	}
	for (;;) {
		printf("heartbeat %d\n", n++);
		Sleep(100);
	}
}
