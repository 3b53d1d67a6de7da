/* trace_enter.c - the entry hook of bench/trace.sh's instrumented build
 * (gcc -finstrument-functions): every function entry of procdump.c is
 * recorded as (thread id, address relative to the image base) and written
 * to the file named by PD_TRACE_FILE when the process exits.  Test-only:
 * never linked into the product.  Built without -finstrument-functions. */
#include <windows.h>
#include <stdlib.h>

struct trace_rec { unsigned long long rva; unsigned long tid, pad; };
#define TRACE_MAX (1u << 22)
static struct trace_rec trace_buf[TRACE_MAX];
static volatile LONG trace_n;
extern IMAGE_DOS_HEADER __ImageBase;

void __cyg_profile_func_enter(void *fn, void *site) __attribute__((no_instrument_function));
void __cyg_profile_func_exit(void *fn, void *site) __attribute__((no_instrument_function));

void
__cyg_profile_func_enter(void *fn, void *site)
{
	LONG i = InterlockedIncrement(&trace_n) - 1;
	(void)site;
	if (i < (LONG)TRACE_MAX) {
		trace_buf[i].rva = (unsigned long long)((char *)fn - (char *)&__ImageBase);
		trace_buf[i].tid = GetCurrentThreadId();
	}
}

void
__cyg_profile_func_exit(void *fn, void *site)
{
	(void)fn;
	(void)site;
}

static void __attribute__((destructor, no_instrument_function))
trace_flush(void)
{
	char path[1024];
	DWORD n = GetEnvironmentVariableA("PD_TRACE_FILE", path, sizeof path), w;
	LONG cnt = trace_n < (LONG)TRACE_MAX ? trace_n : (LONG)TRACE_MAX;
	HANDLE f;
	if (!n || n >= sizeof path)
		return;
	f = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	if (f == INVALID_HANDLE_VALUE)
		return;
	WriteFile(f, trace_buf, (DWORD)(cnt * sizeof *trace_buf), &w, NULL);
	CloseHandle(f);
}
