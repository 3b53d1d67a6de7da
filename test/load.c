/* load.c - targets for the monitor tests (-c -cl -m -ml -h).
 *
 * Usage: load.exe MODE [N]
 *   spin N     N threads burn CPU
 *   idle       does nothing (for -cl and for "does not fire" checks)
 *   alloc N    allocates N MiB and touches every page (Wine counts only
 *              touched pages as private bytes)
 *   area N M   N private allocations of M MiB each (an "area" for -mp), the
 *              first 16 bytes of each set; a pointer into allocation 2 at
 *              +10 MiB kept on the main stack.  Prints "block<k>=<addr>",
 *              "ref=<addr> bytes=<hex>", and a 4 MiB "other=<addr> bytes=<hex>"
 *   churn N    N threads that each start a short-lived thread, wait for
 *              it and start the next, forever (threads come and go all the time)
 *   window [event]  creates a visible window and pumps messages for 1 s
 *              (with "event": until the named event PdHang-<PID> is set),
 *              then prints "hung at=HH:MM:SS.mmm" (local time, as
 *              procdump's stamps) and stops pumping (a hung window after 5 s)
 *   grow N M [K]  idles until the named event PdGrow-<PID> is set, then
 *              starts N threads that sleep, opens M events and touches K
 *              MiB, and prints "grown threads=N handles=M mib=K" (for -tc,
 *              -hc and threshold lists)
 *   ymm        a thread holds 32 marker bytes in AVX register ymm5 and spins
 *              (pause); prints "tid=<TID> ymm5=<hex of the 32 bytes>"
 *   gostack    a thread moves its stack pointer into a 256 KiB heap block, as
 *              Go's runtime does for a goroutine, and sleeps there with a
 *              16-byte local; prints "oslocal=<addr> bytes=<hex>" (a local
 *              on its own stack), then "tid=<TID> local=<addr> bytes=<hex>
 *              block=<addr>" (x86_64 only)
 * Prints "pid=<PID>", then "ready" once the load is in place, then
 * "heartbeat N" every 100 ms from the main thread (except in window mode,
 * whose main thread is the hung one). */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static DWORD WINAPI
spin(void *arg)
{
	volatile unsigned long long x = (unsigned long long)(ULONG_PTR)arg;
	for (;;)
		x = x * 6364136223846793005ULL + 1;
	return 0;
}

static DWORD WINAPI
brief(void *arg)
{
	volatile int x = 0;
	(void)arg;
	while (x < 1000)
		x++;
	return 0;
}

static DWORD WINAPI
churner(void *arg)
{
	(void)arg;
	for (;;) {
		HANDLE t = CreateThread(NULL, 0, brief, NULL, 0, NULL);
		if (t) {
			WaitForSingleObject(t, INFINITE);
			CloseHandle(t);
		}
	}
	return 0;
}

static unsigned char ymm_marker[32] __attribute__((aligned(32)));
static volatile LONG ymm_ready;

/* one asm block, so that nothing the compiler emits touches ymm5 after it
 * is loaded; the loop holds it for good */
static DWORD WINAPI
ymm_hold(void *arg)
{
	(void)arg;
	__asm__ volatile("vmovdqu %0, %%ymm5\n\t"
	                 "movl $1, %1\n"
	                 "1:\tpause\n\t"
	                 "jmp 1b"
	                 : : "m"(ymm_marker), "m"(ymm_ready) : "xmm5", "memory");
	return 0;
}

#ifdef __x86_64__
/* on_stack(top, fn, arg): calls fn(arg) with the stack pointer at top (a
 * heap block outside the TEB's StackLimit..StackBase), as Go runs a
 * goroutine; rbp keeps the way back to the thread's own stack. */
void on_stack(void *top, void (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl on_stack\n"
        "on_stack:\n\t"
        "pushq %rbp\n\t"
        "movq %rsp, %rbp\n\t"
        "movq %rcx, %rsp\n\t"
        "subq $32, %rsp\n\t"      /* the callee's home space */
        "movq %r8, %rcx\n\t"
        "callq *%rdx\n\t"
        "movq %rbp, %rsp\n\t"
        "popq %rbp\n\t"
        "ret\n");

static volatile LONG gostack_ready, gostack_quit;

static void __attribute__((noinline))
gostack_sleep(volatile unsigned char *pad)
{
	gostack_ready = 1;
	while (!gostack_quit) /* never set: the thread sleeps there for good */
		Sleep(100 + pad[0]);
}

/* 4 KiB frames between the stack pointer and gostack_hold's local, so that
 * no reader finds it by luck (indirect memory around a register) */
static void __attribute__((noinline))
gostack_deep(int depth)
{
	volatile unsigned char pad[4096];
	pad[0] = pad[4095] = (unsigned char)depth;
	if (depth > 0)
		gostack_deep(depth - 1);
	else
		gostack_sleep(pad);
	pad[1] = pad[0];
}

static void __attribute__((noinline))
gostack_hold(void *block)
{
	volatile unsigned char local[16];
	int i;
	for (i = 0; i < 16; i++)
		local[i] = (unsigned char)(0x60 + i) ^ (unsigned char)GetCurrentThreadId();
	memcpy((void *)local, "PDGO", 4);
	printf("tid=%lu local=%p bytes=", GetCurrentThreadId(), (void *)local);
	for (i = 0; i < 16; i++)
		printf("%02x", local[i]);
	printf(" block=%p\n", block);
	gostack_deep(4);
	local[0] = 0; /* keeps local alive across the call */
}

/* The thread's own (TEB) stack keeps a 16-byte local too, printed first:
 * "oslocal=<addr> bytes=<hex>" */
static DWORD WINAPI
gostack(void *arg)
{
	unsigned char *block = VirtualAlloc(NULL, 256 << 10, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
	volatile unsigned char oslocal[16];
	int i;
	(void)arg;
	for (i = 0; i < 16; i++)
		oslocal[i] = (unsigned char)(0x70 + i) ^ (unsigned char)GetCurrentThreadId();
	memcpy((void *)oslocal, "PDOS", 4);
	printf("oslocal=%p bytes=", (void *)oslocal);
	for (i = 0; i < 16; i++)
		printf("%02x", oslocal[i]);
	printf("\n");
	if (block)
		on_stack(block + (256 << 10) - 64, gostack_hold, block);
	oslocal[0] = 0; /* keeps it alive across the call */
	return 0;
}
#endif

static DWORD WINAPI
sleeper(void *arg)
{
	(void)arg;
	for (;;)
		Sleep(INFINITE);
	return 0;
}

/* grow N M: nothing until PdGrow-<PID> is set, then N more threads and M
 * more handles; the heartbeat goes on meanwhile */
static void
grow(int n, int m, int mib)
{
	char name[64];
	HANDLE go;
	unsigned char *p;
	int i, k = 0;
	snprintf(name, sizeof name, "PdGrow-%lu", GetCurrentProcessId());
	go = CreateEventA(NULL, TRUE, FALSE, name);
	printf("ready\n");
	while (WaitForSingleObject(go, 100) == WAIT_TIMEOUT)
		printf("heartbeat %d\n", k++);
	for (i = 0; i < n; i++)
		CloseHandle(CreateThread(NULL, 0, sleeper, NULL, 0, NULL));
	for (i = 0; i < m; i++)
		CreateEventA(NULL, TRUE, FALSE, NULL);
	if (mib && (p = VirtualAlloc(NULL, (size_t)mib << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)))
		for (i = 0; (size_t)i < (size_t)mib << 20; i += 4096)
			p[i] = (unsigned char)i;
	printf("grown threads=%d handles=%d mib=%d\n", n, m, mib);
	for (;; k++) {
		printf("heartbeat %d\n", k);
		Sleep(100);
	}
}

static LRESULT CALLBACK
wndproc(HWND w, UINT m, WPARAM wp, LPARAM lp)
{
	return DefWindowProcW(w, m, wp, lp);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "idle";
	int n = argc > 2 ? atoi(argv[2]) : 1, i;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("pid=%lu\n", GetCurrentProcessId());
	if (!strcmp(mode, "spin")) {
		for (i = 0; i < n; i++)
			CloseHandle(CreateThread(NULL, 0, spin, (void *)(ULONG_PTR)(i + 1), 0, NULL));
	} else if (!strcmp(mode, "churn")) {
		for (i = 0; i < n; i++)
			CloseHandle(CreateThread(NULL, 0, churner, NULL, 0, NULL));
	} else if (!strcmp(mode, "alloc")) {
		size_t sz = (size_t)n << 20;
		unsigned char *p = VirtualAlloc(NULL, sz, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
		if (!p)
			return 1;
		for (i = 0; (size_t)i < sz; i += 4096)
			p[i] = (unsigned char)i;
	} else if (!strcmp(mode, "area")) {
		int m = argc > 3 ? atoi(argv[3]) : 96;
		unsigned char *blk[64], *other;
		unsigned char *volatile ref;
		for (i = 0; i < n && i < 64; i++) {
			blk[i] = VirtualAlloc(NULL, (size_t)m << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
			if (!blk[i])
				return 1;
			snprintf((char *)blk[i], 16, "PDAREA%02d-%lu", i, GetCurrentProcessId());
			printf("block%d=%p\n", i, (void *)blk[i]);
		}
		ref = blk[2 < n ? 2 : 0] + (10u << 20);
		snprintf((char *)ref, 16, "PDREF-%lu", GetCurrentProcessId());
		printf("ref=%p bytes=", (void *)ref);
		for (i = 0; i < 16; i++)
			printf("%02x", ref[i]);
		other = VirtualAlloc(NULL, 4u << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
		snprintf((char *)other, 16, "PDOTHER-%lu", GetCurrentProcessId());
		printf("\nother=%p bytes=", (void *)other);
		for (i = 0; i < 16; i++)
			printf("%02x", other[i]);
		printf("\n");
		/* no pointer to the blocks may stay on the stack but ref */
		SecureZeroMemory(blk, sizeof blk);
		other = NULL;
		printf("ready\n");
		for (i = 0;; i++) {
			printf("heartbeat %d %02x\n", i, ref[0]);
			Sleep(100);
		}
	} else if (!strcmp(mode, "ymm")) {
		DWORD tid;
		for (i = 0; i < 32; i++)
			ymm_marker[i] = (unsigned char)(0xA0 + i) ^ (unsigned char)GetCurrentProcessId();
		memcpy(ymm_marker, "PDYMM5", 6);
		CloseHandle(CreateThread(NULL, 0, ymm_hold, NULL, 0, &tid));
		while (!ymm_ready)
			Sleep(1);
		printf("tid=%lu ymm5=", tid);
		for (i = 0; i < 32; i++)
			printf("%02x", ymm_marker[i]);
		printf("\n");
#ifdef __x86_64__
	} else if (!strcmp(mode, "gostack")) {
		CloseHandle(CreateThread(NULL, 0, gostack, NULL, 0, NULL));
		while (!gostack_ready)
			Sleep(1);
#endif
	} else if (!strcmp(mode, "grow")) {
		grow(n, argc > 3 ? atoi(argv[3]) : 0, argc > 4 ? atoi(argv[4]) : 0);
	} else if (!strcmp(mode, "window")) {
		WNDCLASSW wc;
		HWND w;
		MSG msg;
		DWORD end;
		char name[64];
		HANDLE hang = NULL;
		memset(&wc, 0, sizeof wc);
		wc.lpfnWndProc = wndproc;
		wc.hInstance = GetModuleHandleW(NULL);
		wc.lpszClassName = L"PdHangTest";
		RegisterClassW(&wc);
		w = CreateWindowW(L"PdHangTest", L"procdump hang test", WS_OVERLAPPEDWINDOW | WS_VISIBLE,
		                  0, 0, 200, 100, NULL, NULL, wc.hInstance, NULL);
		if (!w) {
			printf("no window (%lu)\n", GetLastError());
			return 1;
		}
		if (argc > 2 && !strcmp(argv[2], "event")) {
			snprintf(name, sizeof name, "PdHang-%lu", GetCurrentProcessId());
			hang = CreateEventA(NULL, TRUE, FALSE, name);
		}
		printf("ready\n");
		end = GetTickCount() + 1000;
		while (hang ? WaitForSingleObject(hang, 0) == WAIT_TIMEOUT : GetTickCount() < end) {
			while (PeekMessageW(&msg, NULL, 0, 0, PM_REMOVE)) {
				TranslateMessage(&msg);
				DispatchMessageW(&msg);
			}
			Sleep(10);
		}
		{
			SYSTEMTIME t;
			GetLocalTime(&t);
			printf("hung at=%02u:%02u:%02u.%03u\n", t.wHour, t.wMinute, t.wSecond, t.wMilliseconds);
		}
		for (;;)
			Sleep(1000);
	}
	printf("ready\n");
	for (i = 0;; i++) {
		printf("heartbeat %d\n", i);
		Sleep(100);
	}
}
