/* target.c - a live process for the dump tests.
 *
 * Prints, one per line, before anything else can be asked of it:
 *   pid=<PID>
 *   tid=<TID> role=<main|worker>          (one line per thread)
 *   marker=<hex address> bytes=<hex of the first 16 bytes>   (heap buffer)
 *   stack=<hex address> bytes=<hex of 16 bytes>              (main's stack local)
 *   guard=<hex address>              (a committed PAGE_READWRITE|PAGE_GUARD page)
 *   indirect=<hex address> bytes=<hex of 16 bytes>  (64 KiB heap block that only
 *                                    a pointer on the heartbeat's stack refers to)
 *   data=<hex address> bytes=<hex of 16 bytes>      (a global in .data)
 *   ready
 * then "heartbeat N guard=<protection of that page, hex>" every 100 ms, so a
 * test can see that it still runs and that its guard page was not touched.
 *   unloaded=<base> size=<hex> path=<path>  (with a DLL argument: loaded, then freed)
 * Threads are named (SetThreadDescription): pd-main, pd-worker-1, ...
 * Handles: an event named PdTestEvent-<PID>, and a synchronous named pipe
 * \\.\pipe\PdTestPipe-<PID> whose server thread blocks in ConnectNamedPipe
 * (the case where a name query on the handle can hang).
 * Usage: target.exe [threads] [heap-MiB] [dll-to-load-and-free]
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile LONG started;

typedef HRESULT (WINAPI *set_desc_fn)(HANDLE, PCWSTR);

static void
name_thread(const wchar_t *name)
{
	set_desc_fn f = (set_desc_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("kernel32.dll"),
	                                                           "SetThreadDescription");
	if (!f)
		f = (set_desc_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("kernelbase.dll"),
		                                              "SetThreadDescription");
	if (f)
		f(GetCurrentThread(), name);
}

static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

static void
hex(const unsigned char *p, int n, char *out)
{
	int i;
	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static DWORD WINAPI
pipe_server(void *arg)
{
	ConnectNamedPipe((HANDLE)arg, NULL);   /* blocks: nobody connects */
	return 0;
}

__attribute__((noinline)) static DWORD WINAPI
target_worker(void *arg)
{
	volatile unsigned char local[64];
	wchar_t name[32];
	swprintf(name, 32, L"pd-worker-%d", (int)(ULONG_PTR)arg);
	name_thread(name);
	local[0] = 1;
	printf("tid=%lu role=worker\n", GetCurrentThreadId());
	/* the first worker impersonates: its token is a TokenStream record */
	if ((ULONG_PTR)arg == 1 && ImpersonateSelf(SecurityImpersonation))
		printf("impersonating=%lu\n", GetCurrentThreadId());
	InterlockedIncrement(&started);
	for (;;)
		Sleep(1000 + local[0]);
	return 0;
}

static void *guard;
static unsigned char data_marker[64] = "PDDATASEG!global in .data of target.exe";

__attribute__((noinline)) static void
target_heartbeat(unsigned char *stack_marker, unsigned char *indirect)
{
	int n = 0;
	unsigned char *volatile ref = indirect; /* kept on this stack frame */
	for (;;) {
		MEMORY_BASIC_INFORMATION mbi;
		VirtualQuery(guard, &mbi, sizeof mbi);
		printf("heartbeat %d guard=%lx %02x %02x\n", n++, mbi.Protect, stack_marker[0], ref[0]);
		Sleep(100);
	}
}

int
main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 3, i;
	size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 1;
	unsigned char stack_local[256];
	unsigned char *marker, *indirect;
	char h[64];

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("pid=%lu\n", GetCurrentProcessId());
	printf("tid=%lu role=main\n", GetCurrentThreadId());
	name_thread(L"pd-main");
	{ /* the user SID, as bytes, for the TokenStream test */
		HANDLE tok;
		union { TOKEN_USER u; unsigned char b[256]; } tu;
		DWORD got;
		char sh[2 * 68 + 1];
		if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok) &&
		    GetTokenInformation(tok, TokenUser, &tu, sizeof tu, &got) && GetLengthSid(tu.u.User.Sid) <= 68) {
			hex(tu.u.User.Sid, GetLengthSid(tu.u.User.Sid), sh);
			printf("usersid=%s\n", sh);
		}
	}
	{
		char name[64];
		HANDLE pipe;
		snprintf(name, sizeof name, "PdTestEvent-%lu", GetCurrentProcessId());
		CreateEventA(NULL, TRUE, FALSE, name);
		snprintf(name, sizeof name, "\\\\.\\pipe\\PdTestPipe-%lu", GetCurrentProcessId());
		pipe = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
		if (pipe != INVALID_HANDLE_VALUE) {
			DWORD ptid;
			CloseHandle(CreateThread(NULL, 0, pipe_server, pipe, 0, &ptid));
			printf("tid=%lu role=pipe\n", ptid);
		}
	}
	if (argc > 3) {
		HMODULE dll = LoadLibraryA(argv[3]);
		if (dll) {
			unsigned char *b = (unsigned char *)dll;
			DWORD size = *(DWORD *)(b + *(LONG *)(b + 0x3C) + 24 + 56); /* SizeOfImage */
			if (FreeLibrary(dll))
				printf("unloaded=%p size=%lx path=%s\n", (void *)b, size, argv[3]);
		}
	}
	marker = VirtualAlloc(NULL, mib << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
	if (!marker)
		return 1;
	fill(marker, mib << 20, GetCurrentProcessId());
	memcpy(marker, "PDMARKER", 8);
	fill(stack_local, sizeof stack_local, GetCurrentProcessId() ^ 0x5a5a);
	memcpy(stack_local, "PDSTACK!", 8);
	for (i = 0; i < nthreads; i++)
		CloseHandle(CreateThread(NULL, 0, target_worker, (void *)(ULONG_PTR)(i + 1), 0, NULL));
	while (started < nthreads)
		Sleep(1);
	hex(marker, 16, h);
	printf("marker=%p bytes=%s\n", (void *)marker, h);
	hex(stack_local, 16, h);
	printf("stack=%p bytes=%s\n", (void *)stack_local, h);
	guard = VirtualAlloc(NULL, 65536, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE | PAGE_GUARD);
	printf("guard=%p\n", guard);
	indirect = malloc(65536);
	fill(indirect, 65536, GetCurrentProcessId() ^ 0x1d1d);
	memcpy(indirect, "PDINDIRECT", 10);
	hex(indirect, 16, h);
	printf("indirect=%p bytes=%s\n", (void *)indirect, h);
	/* changed at run time, so that a reader that falls back to the image
	 * file on disk (lldb does, for image sections) cannot fake it */
	fill(data_marker, sizeof data_marker, GetCurrentProcessId() ^ 0xda7a);
	memcpy(data_marker, "PDDATARUN", 9);
	hex(data_marker, 16, h);
	printf("data=%p bytes=%s\n", (void *)data_marker, h);
	{ /* PDTEST_ZERO_MIB=N: N MiB of committed zeros with a marker page in
	   the middle (the holes test of t-disk.sh) */
		const char *z = getenv("PDTEST_ZERO_MIB");
		size_t zn = z ? (size_t)atoi(z) << 20 : 0;
		unsigned char *zero = zn ? VirtualAlloc(NULL, zn, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE) : NULL;
		if (zero) {
			unsigned char *mid = zero + zn / 2;
			fill(mid, 4096, GetCurrentProcessId() ^ 0x2e70);
			memcpy(mid, "PDZEROMID", 9);
			hex(mid, 16, h);
			printf("zeros=%p size=%lx\n", (void *)zero, (unsigned long)zn);
			printf("zmark=%p bytes=%s\n", (void *)mid, h);
		}
	}
	printf("ready\n");
	target_heartbeat(stack_local, indirect);
	return 0;
}
