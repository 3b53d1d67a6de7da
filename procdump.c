/* procdump.c - an open-source ProcDump for Windows, in one C file.
 *
 * Writes minidumps of a running process with its own minidump writer (not
 * dbghelp), takes the same command lines as Sysinternals ProcDump, and has
 * documented exit codes.  Cross-compiled from Linux, tested under Wine.
 *
 * Build (mingw-w64; the Makefile does this):
 *   x86_64-w64-mingw32-gcc -O2 -municode -static procdump.c -o procdump64.exe -ladvapi32
 *   i686-w64-mingw32-gcc   -O2 -municode -static procdump.c -o procdump.exe   -ladvapi32
 * Library mode (no main, no exit; call pd_main() or pd_write_dump()):
 *   x86_64-w64-mingw32-gcc -c -DPROCDUMP_NO_MAIN procdump.c
 *
 * Exit codes (also in man/procdump.1 and `procdump -?`):
 *   0  every requested dump was written
 *   1  monitoring ended before the count was reached (target exited, cancelled)
 *   2  usage error (bad switch, bad value, conflicting switches, not implemented)
 *   3  target problem (not found, several match a name, access denied)
 *   4  a dump could not be written (I/O error, file exists without -o)
 *
 * Sections, callees before callers (grep -n '^/\* ===' procdump.c):
 *   Config   build settings, the configuration struct, the library API
 *   Util     messages, strings, buffers, time
 *   Win32    wrappers around Windows and ntdll calls, NT structures
 *   Args     the option table, parser, validation, usage text
 *   Targets  PID / process name / service name to a process
 *   Writer   the minidump writer: snapshot, collect, plan (Mini, Full,
 *            Triage, MiniPlus, custom masks, -md callbacks), write, rename;
 *            -dbghelp hands the same request to MiniDumpWriteDump
 *   Triggers when to dump: the timed series (-n/-s), the sampled monitors
 *            (-c -cl -m -ml -p -pl -h), file names, cancellation, -at
 *   Debugger attach or launch (-x), debug events (-e -b -l -ld -ud -ct -et
 *            -t -g), detach
 *   Install  AeDebug postmortem registration (-i -u -j: not yet)
 *   Main     pd_main(): parse, resolve, run, choose the exit code
 *
 * SPDX-License-Identifier: MIT
 */

/* ================================ Config ================================ */
/* Build-time settings, the parsed command line (struct pd_config) and the
 * functions exported in library mode.  No Windows calls here. */

#define __USE_MINGW_ANSI_STDIO 1
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tlhelp32.h>
#include <dbghelp.h>   /* types only (MINIDUMP_CALLBACK_*): dbghelp.dll is loaded at run time */
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>
#include <time.h>
#if defined(__i386__) || defined(__x86_64__)
#include <cpuid.h>
#endif

#ifndef PD_VERSION
#define PD_VERSION "0.1.0"
#endif
#ifndef PD_API
#define PD_API
#endif
#define PD_WIDEN2(x) L ## x
#define PD_WIDEN(x) PD_WIDEN2(x)
#define PD_VERSION_W PD_WIDEN(PD_VERSION)
#ifdef _WIN64
#define PD_ARCH L"amd64"
#else
#define PD_ARCH L"x86"
#endif

/* "not given" for numeric options, so that any value a user types
 * (even -1) is seen and range-checked. */
#define PD_UNSET LLONG_MIN

#define PD_EXIT_OK       0
#define PD_EXIT_NOTDONE  1
#define PD_EXIT_USAGE    2
#define PD_EXIT_TARGET   3
#define PD_EXIT_WRITE    4
/* internal, never an exit code: a collection cancelled by -at; the run goes on */
#define PD_TIMEOUT       100

/* Dump types, in the order ProcDump lists them. */
enum pd_type { PD_MINI, PD_FULL, PD_TRIAGE, PD_MINIPLUS, PD_CUSTOM, PD_CALLBACK, PD_NTYPES };

struct pd_config {
	int types[PD_NTYPES];   /* dump types in command-line order */
	int ntypes;
	int mm, ma, mt, mp, mk; /* dump type switches seen */
	wchar_t *mc;            /* -mc mask text (hex) */
	unsigned long long mc_mask;
	wchar_t *md;            /* -md callback DLL */
	long long n, s;         /* -n count, -s seconds; PD_UNSET = not given */
	long long c, cl;        /* CPU thresholds; PD_UNSET = not given */
	int u;                  /* -u: per core with -c/-cl, uninstall alone */
	long long m, ml;        /* commit thresholds in MB; PD_UNSET = not given */
	wchar_t *p, *pl;        /* performance counter paths */
	long long p_thr, pl_thr;
	int h, e, e_first, g, b, ld, ud, ct, et, l, t;
	wchar_t *f, *fx;        /* comma-separated filter lists (may be "") */
	int f_set, fx_set;
	wchar_t *dc;            /* dump comment */
	int o, r, r_n, a, wer, x64, w, k, v, accepteula, help;
	int dbghelp;            /* -dbghelp: system MiniDumpWriteDump */
	wchar_t *y;             /* hidden -y activation id */
	long long at;           /* -at seconds; PD_UNSET = not given */
	wchar_t *x_folder, *x_image, **x_args;  /* -x folder image args... */
	int x, x_nargs;
	int i;                  /* -i [folder] */
	wchar_t *i_folder;
	int j;                  /* hidden AeDebug entry point */
	long long cancel;       /* -cancel PID; PD_UNSET = not given */
	wchar_t *target;        /* PID, process name or service name */
	wchar_t *output;        /* dump file or folder */
	int uninstall;          /* -u alone */
};

/* The whole tool: parses argv, runs, returns an exit code above. */
PD_API int pd_main(int argc, wchar_t **argv);
/* Write one dump of process pid to path (type PD_MINI or PD_FULL).
 * Returns 0 or an exit code above; prints diagnostics to stderr. */
PD_API int pd_write_dump(unsigned long pid, const wchar_t *path, int type,
                         const wchar_t *comment, int overwrite);

/* ================================= Util ================================= */
/* Messages, strings, growable buffers and time.  Everything that prints goes
 * through out()/warn() so that UTF-8, consoles and pipes behave the same. */

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

static int g_verbose;

/* Writes UTF-8 text: WriteConsoleW on a console, bytes on a pipe or file. */
static void
emit(FILE *fp, const char *s)
{
	HANDLE h = GetStdHandle(fp == stderr ? STD_ERROR_HANDLE : STD_OUTPUT_HANDLE);
	DWORD mode, n;
	if (h != INVALID_HANDLE_VALUE && h && GetConsoleMode(h, &mode)) {
		int wn = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
		wchar_t *w = wn > 0 ? malloc(wn * sizeof *w) : NULL;
		if (w) {
			MultiByteToWideChar(CP_UTF8, 0, s, -1, w, wn);
			WriteConsoleW(h, w, wn - 1, &n, NULL);
			free(w);
			return;
		}
	}
	fputs(s, fp);
	fflush(fp);
}

static void
vemit(FILE *fp, const char *fmt, va_list ap)
{
	char buf[4096];
	vsnprintf(buf, sizeof buf, fmt, ap);
	emit(fp, buf);
}

static void
out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(stdout, fmt, ap);
	va_end(ap);
}

/* Wide to UTF-8 in one of eight rotating buffers: for messages only. */
static const char *
u8s(const wchar_t *w)
{
	static char ring[8][2048];
	static int k;
	char *b = ring[k++ & 7];
	if (!w)
		w = L"(null)";
	if (!WideCharToMultiByte(CP_UTF8, 0, w, -1, b, sizeof ring[0], NULL, NULL))
		b[sizeof ring[0] - 1] = 0;
	return b;
}

/* warn("OpenProcess %lu:", pid) -> "procdump: OpenProcess 1234: Access is
 * denied. (5)".  A trailing ':' appends the system text of GetLastError(),
 * which is read before anything else can change it. */
static void
warn(const char *fmt, ...)
{
	DWORD err = GetLastError();
	char buf[2048], sys[512] = "";
	size_t len;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	if (len && buf[len - 1] == ':') {
		wchar_t w[400];
		DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
		                         NULL, err, 0, w, 400, NULL);
		while (n && (w[n - 1] == L'\n' || w[n - 1] == L'\r' || w[n - 1] == L' '))
			w[--n] = 0;
		snprintf(sys, sizeof sys, " %s (%lu)", n ? u8s(w) : "error", err);
	}
	{
		char line[2600];
		snprintf(line, sizeof line, "procdump: %s%s\n", buf, sys);
		emit(stderr, line);
	}
	SetLastError(err);
}

static void
vlog(const char *fmt, ...)
{
	va_list ap;
	if (!g_verbose)
		return;
	va_start(ap, fmt);
	emit(stderr, "procdump: [v] ");
	vemit(stderr, fmt, ap);
	va_end(ap);
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		warn("out of memory (%zu bytes)", n * sz);
	return p;
}

static wchar_t *
wdup(const wchar_t *s)
{
	size_t n = wcslen(s) + 1;
	wchar_t *d = malloc(n * sizeof *d);
	if (d)
		memcpy(d, s, n * sizeof *d);
	return d;
}

/* A growable byte buffer; offsets into it are file offsets (RVAs). */
struct buf {
	u8 *p;
	size_t len, cap;
	int oom;
};

static int
buf_reserve(struct buf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (b->len + extra > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		u8 *p;
		while (cap < b->len + extra)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			warn("out of memory (%zu bytes)", cap);
			return -1;
		}
		memset(p + b->cap, 0, cap - b->cap);
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

/* Appends n bytes (zeros if data is NULL) aligned to align; returns the offset. */
static size_t
buf_add(struct buf *b, const void *data, size_t n, size_t align)
{
	size_t pad = align > 1 ? (align - b->len % align) % align : 0, off;
	if (buf_reserve(b, pad + n) < 0)
		return 0;
	memset(b->p + b->len, 0, pad);
	b->len += pad;
	off = b->len;
	if (data)
		memcpy(b->p + off, data, n);
	else
		memset(b->p + off, 0, n);
	b->len += n;
	return off;
}

/* Makes room for one more element in a malloc'd array: *pp holds n of
 * *cap elements of size bytes.  Returns 0, or -1 (array unchanged). */
static int
vec_grow(void *pp, int *cap, int n, size_t size, int first)
{
	void **p = pp, *q;
	int c;
	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : first;
	q = realloc(*p, (size_t)c * size);
	if (!q) {
		warn("out of memory");
		return -1;
	}
	*p = q;
	*cap = c;
	return 0;
}

static double
now_sec(void)
{
	static LARGE_INTEGER f;
	LARGE_INTEGER c;
	if (!f.QuadPart)
		QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (double)c.QuadPart / (double)f.QuadPart;
}

/* "[HH:MM:SS] " prefix of ProcDump's event lines. */
static const char *
stamp(void)
{
	static char s[16];
	SYSTEMTIME t;
	GetLocalTime(&t);
	snprintf(s, sizeof s, "[%02u:%02u:%02u]", t.wHour, t.wMinute, t.wSecond);
	return s;
}

/* 100 ns ticks since 1601 to seconds since 1970. */
static u32
ticks_to_time_t(u64 t)
{
	if (t < 116444736000000000ULL)
		return 0;
	return (u32)((t - 116444736000000000ULL) / 10000000ULL);
}

static const wchar_t *
path_basename(const wchar_t *p)
{
	const wchar_t *b = p, *s;
	for (s = p; *s; s++)
		if (*s == L'\\' || *s == L'/')
			b = s + 1;
	return b;
}

/* the runtime of .NET: CLR 2 (workstation, server), 4, and Core */
static int
path_is_clr(const wchar_t *p)
{
	static const wchar_t *clr[] = { L"clr.dll", L"coreclr.dll", L"mscorwks.dll", L"mscorsvr.dll" };
	size_t k;
	for (k = 0; k < sizeof clr / sizeof clr[0]; k++)
		if (!_wcsicmp(path_basename(p), clr[k]))
			return 1;
	return 0;
}

static int
wcs_endswith_i(const wchar_t *s, const wchar_t *suf)
{
	size_t a = wcslen(s), b = wcslen(suf);
	return a >= b && !_wcsicmp(s + a - b, suf);
}

/* Parses a whole decimal integer; 0 on success. */
static int
parse_int(const wchar_t *s, long long *v)
{
	wchar_t *end;
	long long x;
	if (!s || !*s)
		return -1;
	errno = 0;
	x = wcstoll(s, &end, 10);
	if (*end || errno)
		return -1;
	*v = x;
	return 0;
}

static int
parse_hex(const wchar_t *s, unsigned long long *v)
{
	wchar_t *end;
	if (!s || !*s)
		return -1;
	if (s[0] == L'0' && (s[1] == L'x' || s[1] == L'X'))
		s += 2;
	if (!*s)
		return -1;
	errno = 0;
	*v = wcstoull(s, &end, 16);
	return *end || errno ? -1 : 0;
}

static int
all_digits(const wchar_t *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < L'0' || *s > L'9')
			return 0;
	return 1;
}

/* ================================= Win32 ================================ */
/* Small wrappers named by intent, ntdll entry points resolved at run time,
 * and the NT structures the mingw headers lack.  Callers never call
 * GetLastError themselves: wrappers warn() and return NULL/-1. */

typedef LONG pd_ntstatus;
#define PD_NT_SUCCESS(s) ((s) >= 0)
#define PD_STATUS_INFO_LENGTH_MISMATCH ((pd_ntstatus)0xC0000004L)

typedef pd_ntstatus (NTAPI *fn_NtQuerySystemInformation)(ULONG, PVOID, ULONG, PULONG);
typedef pd_ntstatus (NTAPI *fn_NtQueryInformationProcess)(HANDLE, ULONG, PVOID, ULONG, PULONG);
typedef pd_ntstatus (NTAPI *fn_NtQueryInformationThread)(HANDLE, ULONG, PVOID, ULONG, PULONG);
typedef pd_ntstatus (NTAPI *fn_RtlGetVersion)(OSVERSIONINFOEXW *);

static struct {
	fn_NtQuerySystemInformation NtQuerySystemInformation;
	fn_NtQueryInformationProcess NtQueryInformationProcess;
	fn_NtQueryInformationThread NtQueryInformationThread;
	fn_RtlGetVersion RtlGetVersion;
} nt;

struct pd_unicode_string {
	USHORT Length, MaximumLength;
	PWSTR Buffer;
};

/* SYSTEM_THREAD_INFORMATION and SYSTEM_PROCESS_INFORMATION as Windows
 * lays them out; Wine fills the same offsets (it calls the field after
 * SessionId dwUnknown4 and follows it with VM_COUNTERS_EX, same size). */
struct pd_sys_thread {
	LARGE_INTEGER KernelTime, UserTime, CreateTime;
	ULONG WaitTime;
	PVOID StartAddress;             /* 0 under Wine */
	HANDLE UniqueProcess, UniqueThread;
	LONG Priority, BasePriority;
	ULONG ContextSwitches, ThreadState, WaitReason;
};

struct pd_sys_process {
	ULONG NextEntryOffset, NumberOfThreads;
	LARGE_INTEGER WorkingSetPrivateSize;
	ULONG HardFaultCount, NumberOfThreadsHighWatermark;
	ULONGLONG CycleTime;
	LARGE_INTEGER CreateTime, UserTime, KernelTime;
	struct pd_unicode_string ImageName;
	LONG BasePriority;
	HANDLE UniqueProcessId, InheritedFromUniqueProcessId;
	ULONG HandleCount, SessionId;
	ULONG_PTR UniqueProcessKey;
	SIZE_T PeakVirtualSize, VirtualSize;
	ULONG PageFaultCount;
	SIZE_T PeakWorkingSetSize, WorkingSetSize, QuotaPeakPagedPoolUsage,
	       QuotaPagedPoolUsage, QuotaPeakNonPagedPoolUsage, QuotaNonPagedPoolUsage,
	       PagefileUsage, PeakPagefileUsage, PrivatePageCount;
	LARGE_INTEGER IoCounters[6];
	/* struct pd_sys_thread Threads[NumberOfThreads] follows */
};

#ifdef _WIN64
_Static_assert(sizeof(struct pd_sys_thread) == 0x50, "SYSTEM_THREAD_INFORMATION x64");
_Static_assert(sizeof(struct pd_sys_process) == 0x100, "SYSTEM_PROCESS_INFORMATION x64");
#else
_Static_assert(sizeof(struct pd_sys_thread) == 0x40, "SYSTEM_THREAD_INFORMATION x86");
_Static_assert(sizeof(struct pd_sys_process) == 0xB8, "SYSTEM_PROCESS_INFORMATION x86");
#endif

struct pd_vm_counters {        /* VM_COUNTERS_EX (ProcessVmCounters = 3) */
	SIZE_T PeakVirtualSize, VirtualSize;
	ULONG PageFaultCount;
	SIZE_T PeakWorkingSetSize, WorkingSetSize, QuotaPeakPagedPoolUsage, QuotaPagedPoolUsage,
	       QuotaPeakNonPagedPoolUsage, QuotaNonPagedPoolUsage, PagefileUsage,
	       PeakPagefileUsage, PrivateUsage;
};
#ifdef _WIN64
_Static_assert(sizeof(struct pd_vm_counters) == 96, "VM_COUNTERS_EX x64");
#endif

struct pd_thread_basic {
	pd_ntstatus ExitStatus;
	PVOID TebBaseAddress;
	HANDLE UniqueProcess, UniqueThread;
	ULONG_PTR AffinityMask;
	LONG Priority, BasePriority;
};

struct pd_process_basic {
	pd_ntstatus ExitStatus;
	PVOID PebBaseAddress;
	ULONG_PTR AffinityMask;
	LONG BasePriority;
	ULONG_PTR UniqueProcessId, InheritedFromUniqueProcessId;
};

static int
w32_init(void)
{
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
	if (!ntdll) {
		warn("ntdll.dll:");
		return -1;
	}
	nt.NtQuerySystemInformation = (fn_NtQuerySystemInformation)(void (*)(void))
		GetProcAddress(ntdll, "NtQuerySystemInformation");
	nt.NtQueryInformationProcess = (fn_NtQueryInformationProcess)(void (*)(void))
		GetProcAddress(ntdll, "NtQueryInformationProcess");
	nt.NtQueryInformationThread = (fn_NtQueryInformationThread)(void (*)(void))
		GetProcAddress(ntdll, "NtQueryInformationThread");
	nt.RtlGetVersion = (fn_RtlGetVersion)(void (*)(void))GetProcAddress(ntdll, "RtlGetVersion");
	if (!nt.NtQuerySystemInformation || !nt.NtQueryInformationProcess ||
	    !nt.NtQueryInformationThread) {
		warn("ntdll.dll lacks NtQuery* entry points");
		return -1;
	}
	return 0;
}

/* Best effort: lets an administrator dump other users' processes. */
static void
w32_enable_privilege(const wchar_t *name)
{
	HANDLE tok;
	TOKEN_PRIVILEGES tp = { 1, { { { 0, 0 }, SE_PRIVILEGE_ENABLED } } };
	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &tok))
		return;
	if (LookupPrivilegeValueW(NULL, name, &tp.Privileges[0].Luid))
		AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL);
	CloseHandle(tok);
}

/* The SystemProcessInformation snapshot of every process (free() it). */
static struct pd_sys_process *
w32_process_list(void)
{
	ULONG size = 256 * 1024, need = 0;
	int tries;
	for (tries = 0; tries < 20; tries++) {
		void *p = malloc(size);
		pd_ntstatus st;
		if (!p) {
			warn("out of memory (%lu bytes)", size);
			return NULL;
		}
		st = nt.NtQuerySystemInformation(5 /* SystemProcessInformation */, p, size, &need);
		if (PD_NT_SUCCESS(st))
			return p;
		free(p);
		if (st != PD_STATUS_INFO_LENGTH_MISMATCH) {
			warn("NtQuerySystemInformation failed (status 0x%08lX)", (unsigned long)st);
			return NULL;
		}
		size = (need > size ? need : size * 2) + 65536;
	}
	warn("NtQuerySystemInformation: the process list keeps growing");
	return NULL;
}

static struct pd_sys_process *
w32_process_next(struct pd_sys_process *p)
{
	return p->NextEntryOffset ? (struct pd_sys_process *)((u8 *)p + p->NextEntryOffset) : NULL;
}

static struct pd_sys_thread *
w32_process_threads(struct pd_sys_process *p)
{
	return (struct pd_sys_thread *)(p + 1);
}

static struct pd_sys_process *
w32_process_find(struct pd_sys_process *list, DWORD pid)
{
	struct pd_sys_process *p;
	for (p = list; p; p = w32_process_next(p))
		if ((DWORD)(ULONG_PTR)p->UniqueProcessId == pid)
			return p;
	return NULL;
}

static int
w32_read(HANDLE h, u64 addr, void *buf, size_t n)
{
	SIZE_T got = 0;
	if (!n)
		return 0;
	if (addr + n < addr || addr > (u64)(ULONG_PTR)-1)
		return -1;
	if (!ReadProcessMemory(h, (LPCVOID)(ULONG_PTR)addr, buf, n, &got) || got != n)
		return -1;
	return 0;
}

static u64
w32_read_ptr(HANDLE h, u64 addr, int *ok)
{
	ULONG_PTR v = 0;
	if (w32_read(h, addr, &v, sizeof v) < 0)
		*ok = 0;
	return v;
}

/* The directory part of a path, with its trailing separator removed. */
static wchar_t *
w32_dirname(const wchar_t *path)
{
	wchar_t *d = wdup(path), *s;
	if (!d)
		return NULL;
	s = wcsrchr(d, L'\\');
	if (!s || (wcsrchr(d, L'/') && wcsrchr(d, L'/') > s))
		s = wcsrchr(d, L'/');
	if (!s)
		wcscpy(d, L".");
	else if (s == d || (s == d + 2 && d[1] == L':'))
		s[1] = 0;
	else
		*s = 0;
	return d;
}

static int
w32_is_dir(const wchar_t *path)
{
	DWORD a = GetFileAttributesW(path);
	return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

static int
w32_exists(const wchar_t *path)
{
	return GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES;
}

static wchar_t *
w32_full_path(const wchar_t *path)
{
	DWORD n = GetFullPathNameW(path, 0, NULL, NULL);
	wchar_t *p = n ? malloc((n + 1) * sizeof *p) : NULL;
	if (!p || !GetFullPathNameW(path, n + 1, p, NULL)) {
		free(p);
		return wdup(path);
	}
	return p;
}

/* ================================= Args ================================= */
/* One table drives parsing, the -? text and the man-page test.  Args speaks
 * in plain C types; cross-option rules live in args_validate() only. */

enum optkind {
	OPT_FLAG,    /* -x */
	OPT_INT,     /* -x N */
	OPT_STR,     /* -x TEXT */
	OPT_LIST,    /* -x TEXT, may repeat; values are joined with ',' */
	OPT_HEX,     /* -x HEXMASK */
	OPT_COUNTER, /* -x "\Object(Instance)\Counter" N */
	OPT_E,       /* -e [1] */
	OPT_R,       /* -r [1..5] */
	OPT_I,       /* -i [folder] */
	OPT_X,       /* -x folder image [args...] */
	OPT_REST,    /* swallows the rest (hidden -j) */
	OPT_TYPE     /* a dump type switch */
};

#define OF_NOTYET  1  /* parsed and validated, but not implemented yet */
#define OF_HIDDEN  2  /* not in -? (documented in the man page) */
#define OF_INSTALL 4  /* allowed with -i */

struct opt {
	const wchar_t *name;    /* without the leading - or / */
	enum optkind kind;
	size_t off;             /* offsetof(struct pd_config, field) */
	size_t off2;            /* second field (counter threshold, type id) */
	const char *arg;        /* metavariable in usage, NULL for flags */
	const char *help;       /* one line */
	int flags;
};

#define CO(f) offsetof(struct pd_config, f)
static const struct opt opts[] = {
	{ L"mm", OPT_TYPE, CO(mm), PD_MINI, NULL, "Write a 'Mini' dump file (default): stacks and the code around each thread.", OF_INSTALL },
	{ L"ma", OPT_TYPE, CO(ma), PD_FULL, NULL, "Write a 'Full' dump file: all committed readable memory.", OF_INSTALL },
	{ L"mt", OPT_TYPE, CO(mt), PD_TRIAGE, NULL, "Write a 'Triage' dump file: stacks, limited metadata, sensitive data removed.", OF_INSTALL },
	{ L"mp", OPT_TYPE, CO(mp), PD_MINIPLUS, NULL, "Write a 'MiniPlus' dump file: private and writable memory, less the largest area over 512 MB.", OF_INSTALL },
	{ L"mc", OPT_HEX, CO(mc), PD_CUSTOM, "<Mask>", "Write a 'Custom' dump file from a MINIDUMP_TYPE mask (hex).", OF_INSTALL },
	{ L"md", OPT_STR, CO(md), PD_CALLBACK, "<Callback_DLL>", "Write a 'Callback' dump file shaped by the DLL's MiniDumpCallbackRoutine.", OF_INSTALL },
	{ L"mk", OPT_FLAG, CO(mk), 0, NULL, "Also write a 'Kernel' dump file of the threads' kernel stacks.", OF_NOTYET | OF_INSTALL },
	{ L"n", OPT_INT, CO(n), 0, "<Count>", "Number of dumps to write before exiting (default 1).", 0 },
	{ L"s", OPT_INT, CO(s), 0, "<Seconds>", "Consecutive seconds before a dump is written; with no trigger, seconds between dumps (default 10).", 0 },
	{ L"c", OPT_INT, CO(c), 0, "<CPU_Usage>", "CPU threshold (percent) above which to write a dump.", 0 },
	{ L"cl", OPT_INT, CO(cl), 0, "<CPU_Usage>", "CPU threshold (percent) below which to write a dump.", 0 },
	{ L"u", OPT_FLAG, CO(u), 0, NULL, "With -c/-cl: CPU usage relative to one core. Alone: uninstall the postmortem debugger.", 0 },
	{ L"m", OPT_INT, CO(m), 0, "<Commit_Usage>", "Memory commit threshold in MB at which to write a dump.", 0 },
	{ L"ml", OPT_INT, CO(ml), 0, "<Commit_Usage>", "Write a dump when memory commit drops below this many MB.", 0 },
	{ L"p", OPT_COUNTER, CO(p), CO(p_thr), "<Counter> <Threshold>", "Write a dump when the performance counter is at or above the threshold.", 0 },
	{ L"pl", OPT_COUNTER, CO(pl), CO(pl_thr), "<Counter> <Threshold>", "Write a dump when the performance counter falls below the threshold.", 0 },
	{ L"h", OPT_FLAG, CO(h), 0, NULL, "Write a dump when a window of the process does not respond for 5 seconds.", 0 },
	{ L"e", OPT_E, CO(e), 0, "[1]", "Write a dump on an unhandled exception; with 1, also on first-chance exceptions.", 0 },
	{ L"g", OPT_FLAG, CO(g), 0, NULL, "Run as a native debugger in a managed process (no interop).", 0 },
	{ L"b", OPT_FLAG, CO(b), 0, NULL, "Treat debug breakpoints as exceptions (otherwise ignore them).", 0 },
	{ L"ld", OPT_FLAG, CO(ld), 0, NULL, "With -e: write a dump when a DLL is loaded (filters apply).", 0 },
	{ L"ud", OPT_FLAG, CO(ud), 0, NULL, "With -e: write a dump when a DLL is unloaded (filters apply).", 0 },
	{ L"ct", OPT_FLAG, CO(ct), 0, NULL, "With -e: write a dump when a thread is created.", 0 },
	{ L"et", OPT_FLAG, CO(et), 0, NULL, "With -e: write a dump when a thread exits.", 0 },
	{ L"l", OPT_FLAG, CO(l), 0, NULL, "Display the debug logging (OutputDebugString) of the process.", 0 },
	{ L"t", OPT_FLAG, CO(t), 0, NULL, "Write a dump when the process terminates.", 0 },
	{ L"f", OPT_LIST, CO(f), CO(f_set), "<Include_Filter>,...", "Include filter on exception, debug string or DLL name; * wildcards.", 0 },
	{ L"fx", OPT_LIST, CO(fx), CO(fx_set), "<Exclude_Filter>,...", "Exclude filter on exception, debug string or DLL name; * wildcards.", 0 },
	{ L"dc", OPT_STR, CO(dc), 0, "<Comment>", "Add the comment to the dump (CommentStreamA/W).", 0 },
	{ L"o", OPT_FLAG, CO(o), 0, NULL, "Overwrite an existing dump file.", 0 },
	{ L"r", OPT_R, CO(r), 0, "[1..5]", "Dump using a clone; optional concurrent limit (default 1, max 5).", OF_NOTYET | OF_INSTALL },
	{ L"a", OPT_FLAG, CO(a), 0, NULL, "Avoid outage: skip a trigger that would wait for the concurrent limit (needs -r).", OF_NOTYET },
	{ L"at", OPT_INT, CO(at), 0, "<Timeout>", "Cancel a collection that takes longer than Timeout seconds.", OF_INSTALL },
	{ L"wer", OPT_FLAG, CO(wer), 0, NULL, "Queue the (largest) dump to Windows Error Reporting.", OF_NOTYET | OF_INSTALL },
	{ L"dbghelp", OPT_FLAG, CO(dbghelp), 0, NULL, "Write the dumps with the system's dbghelp MiniDumpWriteDump instead of procdump.c's writer.", 0 },
	{ L"64", OPT_FLAG, CO(x64), 0, NULL, "Write a 64-bit (native) dump of a 32-bit (WOW64) process.", 0 },
	{ L"w", OPT_FLAG, CO(w), 0, NULL, "Wait for the named process to launch if it is not running.", 0 },
	{ L"x", OPT_X, CO(x), 0, "<Dump_Folder> <Image_File> [Argument, ...]", "Launch the image with its arguments and monitor it.", 0 },
	{ L"i", OPT_I, CO(i), 0, "[Dump_Folder]", "Install as the (AeDebug) postmortem debugger.", OF_NOTYET },
	{ L"k", OPT_FLAG, CO(k), 0, NULL, "Kill the process at the end of dump collection.", OF_INSTALL },
	{ L"v", OPT_FLAG, CO(v), 0, NULL, "Verbose: timings and details on stderr.", 0 },
	{ L"y", OPT_STR, CO(y), 0, "<Activation>", "Store application activation (hidden).", OF_NOTYET | OF_HIDDEN },
	{ L"j", OPT_REST, CO(j), 0, "<Dump_Folder> <PID> <Event> <JIT_DEBUG_INFO>", "AeDebug entry point written by -i (hidden).", OF_NOTYET | OF_HIDDEN },
	{ L"cancel", OPT_INT, CO(cancel), 0, "<PID>", "Gracefully stop every procdump monitoring PID (as Ctrl+C).", 0 },
	{ L"accepteula", OPT_FLAG, CO(accepteula), 0, NULL, "Accepted for compatibility; there is no EULA to accept.", OF_INSTALL },
	{ L"?", OPT_FLAG, CO(help), 0, NULL, "Show this help; -? -e shows example command lines.", 0 },
};
#define NOPTS (sizeof opts / sizeof opts[0])

static const struct opt *
args_find(const wchar_t *a)
{
	size_t i;
	if (a[0] != L'-' && a[0] != L'/')
		return NULL;
	for (i = 0; i < NOPTS; i++)
		if (!_wcsicmp(a + 1, opts[i].name))
			return &opts[i];
	return NULL;
}

static int
args_is_switch(const wchar_t *a)
{
	return (a[0] == L'-' || a[0] == L'/') && a[1];
}

static const char usage_text[] =
"Capture Usage:\n"
"   procdump.exe [-mm] [-ma] [-mt] [-mp] [-mc <Mask>] [-md <Callback_DLL>] [-mk]\n"
"                [-n <Count>]\n"
"                [-s <Seconds>]\n"
"                [-c|-cl <CPU_Usage> [-u]]\n"
"                [-m|-ml <Commit_Usage>]\n"
"                [-p|-pl <Counter> <Threshold>]\n"
"                [-h]\n"
"                [-e [1] [-g] [-b] [-ld] [-ud] [-ct] [-et]]\n"
"                [-l]\n"
"                [-t]\n"
"                [-f  <Include_Filter>, ...]\n"
"                [-fx <Exclude_Filter>, ...]\n"
"                [-dc <Comment>]\n"
"                [-o]\n"
"                [-r [1..5] [-a]]\n"
"                [-at <Timeout>]\n"
"                [-wer]\n"
"                [-64]\n"
"                {\n"
"                    {{[-w] <Process_Name> | <Service_Name> | <PID>} [<Dump_File> | <Dump_Folder>]}\n"
"                |\n"
"                    {-x <Dump_Folder> <Image_File> [Argument, ...]}\n"
"                }\n"
"\n"
"Install Usage:\n"
"   procdump.exe -i [Dump_Folder]\n"
"                [-mm] [-ma] [-mt] [-mp] [-mc <Mask>] [-md <Callback_DLL>] [-mk]\n"
"                [-r]\n"
"                [-at <Timeout>]\n"
"                [-k]\n"
"                [-wer]\n"
"\n"
"Uninstall Usage:\n"
"   procdump.exe -u\n"
"\n"
"Automated Termination:\n"
"   procdump.exe -cancel <Target Process PID>\n"
"   (or set the event named ProcDump-<PID>)\n"
"\n"
"Options:\n";

static const char usage_tail[] =
"\n"
"Dump file name: PROCESSNAME_YYMMDD_HHMMSS.dmp by default. A given file name may\n"
"use the substitutions PROCESSNAME, PID, EXCEPTIONCODE, YYMMDD and HHMMSS.\n"
"\n"
"Exit codes:\n"
"   0  every requested dump was written\n"
"   1  monitoring ended before the count was reached (target exited, cancelled)\n"
"   2  usage error (bad switch or value, conflicting switches, not implemented)\n"
"   3  target problem (not found, several processes match, access denied)\n"
"   4  a dump could not be written (I/O error, file exists without -o)\n"
"\n"
"Use -? -e to see example command lines.\n";

static const char examples_text[] =
"Examples:\n"
"\n"
"   Write a Mini dump of a process named 'notepad' (only one match can exist):\n"
"      C:\\>procdump notepad\n"
"\n"
"   Write a Full dump of a process with PID '4572':\n"
"      C:\\>procdump -ma 4572\n"
"\n"
"   Write a Mini first, and then a Full dump of a process with PID '4572':\n"
"      C:\\>procdump -mm -ma 4572\n"
"\n"
"   Write 3 Mini dumps 5 seconds apart of a process named 'notepad':\n"
"      C:\\>procdump -n 3 -s 5 notepad\n"
"\n"
"   Write up to 3 Mini dumps of a process named 'consume' when it exceeds\n"
"   20% CPU usage for five seconds:\n"
"      C:\\>procdump -n 3 -s 5 -c 20 consume\n"
"\n"
"   Write a Mini dump for a process named 'hang.exe' when one of its\n"
"   windows is unresponsive for more than 5 seconds:\n"
"      C:\\>procdump -h hang.exe\n"
"\n"
"   Write a Full and Kernel dump for a process named 'hang.exe' when one of its\n"
"   windows is unresponsive for more than 5 seconds:\n"
"      C:\\>procdump -ma -mk -h hang.exe\n"
"\n"
"   Write a Mini dump of a process named 'outlook' when total system CPU\n"
"   usage exceeds 20% for 10 seconds:\n"
"      C:\\>procdump outlook -s 10 -p \"\\Processor(_Total)\\% Processor Time\" 20\n"
"\n"
"   Write a Full dump of a process named 'outlook' when Outlook's handle\n"
"   count exceeds 10,000:\n"
"      C:\\>procdump -ma outlook -p \"\\Process(Outlook)\\Handle Count\" 10000\n"
"\n"
"   Write a Full dump of 'svchost' PID 1234, Instance #87, when the handle\n"
"   count exceeds 10,000:\n"
"      C:\\>procdump -ma 1234 -p \"\\Process(svchost#87)\\Handle Count\" 10000\n"
"\n"
"   Write a Full dump for a 2nd chance exception:\n"
"      C:\\>procdump -ma -e w3wp.exe\n"
"\n"
"   Write a Full dump for a 1st or 2nd chance exception:\n"
"      C:\\>procdump -ma -e 1 w3wp.exe\n"
"\n"
"   Write a Full dump for a debug string message:\n"
"      C:\\>procdump -ma -l w3wp.exe\n"
"\n"
"   Write up to 10 Full dumps of each 1st or 2nd chance exception of w3wp.exe:\n"
"      C:\\>procdump -ma -n 10 -e 1 w3wp.exe\n"
"\n"
"   Write up to 10 Full dumps if an exception's code/name/msg contains 'NotFound':\n"
"      C:\\>procdump -ma -n 10 -e 1 -f NotFound w3wp.exe\n"
"\n"
"   Write up to 10 Full dumps if a debug string message contains 'NotFound':\n"
"      C:\\>procdump -ma -n 10 -l -f NotFound w3wp.exe\n"
"\n"
"   Wait for a process called 'notepad' (and monitor it for exceptions):\n"
"      C:\\>procdump -e -w notepad\n"
"\n"
"   Launch a process called 'notepad' (and monitor it for exceptions):\n"
"      C:\\>procdump -e -x c:\\dumps notepad\n"
"\n"
"   Register for launch, and attempt to activate, a store 'application'. A new\n"
"   ProcDump instance will start when it is activated:\n"
"      C:\\>procdump -e -x c:\\dumps Microsoft.BingMaps_8wekyb3d8bbwe!AppexMaps\n"
"\n"
"   Register for launch of a store 'package'. A new ProcDump instance will start\n"
"   when it is (manually) activated:\n"
"      C:\\>procdump -e -x c:\\dumps Microsoft.BingMaps_1.2.0.136_x64__8wekyb3d8bbwe\n"
"\n"
"   Write a MiniPlus dump of the Microsoft Exchange Information Store when it\n"
"   has an unhandled exception:\n"
"      C:\\>procdump -mp -e store.exe\n"
"\n"
"   Display without writing a dump, the exception codes/names of w3wp.exe:\n"
"      C:\\>procdump -e 1 -f \"\" w3wp.exe\n"
"\n"
"   Use a clone to reduce outage for 5 consecutive triggers:\n"
"      C:\\>procdump -r -ma -n 5 -s 15 wmplayer.exe\n"
"\n"
"   Use a clone to reduce outage for 5 concurrent triggers:\n"
"      C:\\>procdump -r 5 -ma -n 5 -s 15 wmplayer.exe\n"
"\n"
"   Install ProcDump as the (AeDebug) postmortem debugger:\n"
"      C:\\>procdump -ma -i c:\\dumps\n"
"     ..or..\n"
"      C:\\Dumps>procdump -ma -i\n"
"\n"
"   Uninstall ProcDump as the (AeDebug) postmortem debugger:\n"
"      C:\\>procdump -u\n"
"\n"
"   Stop every procdump monitoring PID 4572 (the target keeps running):\n"
"      C:\\>procdump -cancel 4572\n";

static void
args_usage(int examples)
{
	size_t i;
	if (examples) {
		out("%s", examples_text);
		return;
	}
	out("%s", usage_text);
	for (i = 0; i < NOPTS; i++) {
		char left[64];
		if (opts[i].flags & OF_HIDDEN)
			continue;
		snprintf(left, sizeof left, "-%s", u8s(opts[i].name));
		out("   %-12s%s%s\n", left, opts[i].help,
		    (opts[i].flags & OF_NOTYET) ? " [not implemented yet]" : "");
	}
	out("%s", usage_tail);
}

static int
args_fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	SetLastError(0);
	warn("%s (see procdump -?)", buf);
	return PD_EXIT_USAGE;
}

/* Parses argv into cfg; returns 0 or PD_EXIT_USAGE after a one-line error. */
static int
args_parse(struct pd_config *cfg, int argc, wchar_t **argv)
{
	unsigned char seen[NOPTS] = { 0 };
	int k, npos = 0;

	memset(cfg, 0, sizeof *cfg);
	cfg->n = cfg->s = cfg->c = cfg->cl = cfg->m = cfg->ml = cfg->at = cfg->cancel = PD_UNSET;
	for (k = 1; k < argc; k++) {
		const wchar_t *a = argv[k];
		const struct opt *o;
		char *base = (char *)cfg;
		const char *nm;
		if (!args_is_switch(a)) {
			if (npos == 0)
				cfg->target = (wchar_t *)a;
			else if (npos == 1)
				cfg->output = (wchar_t *)a;
			else
				return args_fail("unexpected argument '%s': the target and the dump file are already given",
				                 u8s(a));
			npos++;
			continue;
		}
		o = args_find(a);
		if (!o)
			return args_fail("unknown switch '%s'", u8s(a));
		nm = u8s(o->name);
		if (seen[o - opts] && o->kind != OPT_LIST)
			return args_fail("-%s is given twice", nm);
		seen[o - opts] = 1;
		switch (o->kind) {
		case OPT_FLAG:
			*(int *)(base + o->off) = 1;
			break;
		case OPT_TYPE:
			*(int *)(base + o->off) = 1;
			cfg->types[cfg->ntypes++] = (int)o->off2;
			break;
		case OPT_INT: {
			long long v;
			if (k + 1 >= argc || args_find(argv[k + 1]))
				return args_fail("-%s needs a value (%s)", nm, o->arg);
			if (parse_int(argv[k + 1], &v) < 0)
				return args_fail("-%s: '%s' is not a whole number", nm, u8s(argv[k + 1]));
			*(long long *)(base + o->off) = v;
			k++;
			break;
		}
		case OPT_HEX:
			if (k + 1 >= argc || args_find(argv[k + 1]))
				return args_fail("-%s needs a value (%s)", nm, o->arg);
			if (parse_hex(argv[k + 1], &cfg->mc_mask) < 0)
				return args_fail("-%s: '%s' is not a hexadecimal mask", nm, u8s(argv[k + 1]));
			*(wchar_t **)(base + o->off) = argv[++k];
			cfg->types[cfg->ntypes++] = (int)o->off2;
			break;
		case OPT_STR:
			if (k + 1 >= argc || args_find(argv[k + 1]))
				return args_fail("-%s needs a value (%s)", nm, o->arg);
			*(wchar_t **)(base + o->off) = argv[++k];
			if (o->off == CO(md))
				cfg->types[cfg->ntypes++] = (int)o->off2;
			break;
		case OPT_LIST: {
			wchar_t **dst = (wchar_t **)(base + o->off), *v, *old = *dst;
			if (k + 1 >= argc || args_find(argv[k + 1]))
				return args_fail("-%s needs a value (%s)", nm, o->arg);
			v = argv[++k];
			if (old && *old && *v) {
				size_t n = wcslen(old) + wcslen(v) + 2;
				wchar_t *j = malloc(n * sizeof *j);
				if (!j)
					return PD_EXIT_USAGE;
				swprintf(j, n, L"%ls,%ls", old, v);
				v = j;
			} else if (old && *old)
				v = old;
			*dst = v;
			*(int *)(base + o->off2) = 1;
			break;
		}
		case OPT_COUNTER: {
			long long v;
			if (k + 2 >= argc || args_find(argv[k + 1]))
				return args_fail("-%s needs a counter path and a threshold", nm);
			if (parse_int(argv[k + 2], &v) < 0)
				return args_fail("-%s: threshold '%s' is not a whole number", nm, u8s(argv[k + 2]));
			*(wchar_t **)(base + o->off) = argv[k + 1];
			*(long long *)(base + o->off2) = v;
			k += 2;
			break;
		}
		case OPT_E:
			cfg->e = 1;
			if (k + 1 < argc && !wcscmp(argv[k + 1], L"1")) {
				cfg->e_first = 1;
				k++;
			}
			break;
		case OPT_R:
			/* Only a single digit is taken as the limit, so `-r 1234`
			 * still means PID 1234 (Windows PIDs below 10 are System). */
			cfg->r = 1;
			cfg->r_n = 1;
			if (k + 1 < argc && all_digits(argv[k + 1]) && wcslen(argv[k + 1]) == 1) {
				cfg->r_n = argv[++k][0] - L'0';
				if (cfg->r_n < 1 || cfg->r_n > 5)
					return args_fail("-r: the concurrent limit must be 1 to 5, not %d", cfg->r_n);
			}
			break;
		case OPT_I:
			cfg->i = 1;
			if (k + 1 < argc && !args_is_switch(argv[k + 1]))
				cfg->i_folder = argv[++k];
			break;
		case OPT_X:
			if (k + 2 >= argc)
				return args_fail("-x needs a dump folder and an image file");
			cfg->x = 1;
			cfg->x_folder = argv[k + 1];
			cfg->x_image = argv[k + 2];
			cfg->x_args = argv + k + 3;
			cfg->x_nargs = argc - (k + 3);
			k = argc;
			break;
		case OPT_REST:
			*(int *)(base + o->off) = 1;
			k = argc;
			break;
		}
	}
	return 0;
}

/* Cross-option rules.  Returns 0 or PD_EXIT_USAGE after a one-line error. */
static int
args_validate(struct pd_config *cfg)
{
	size_t i;
	int ncpu;
	SYSTEM_INFO si;

	if (cfg->help)
		return 0;
	GetSystemInfo(&si);
	ncpu = (int)si.dwNumberOfProcessors;

	if (cfg->n != PD_UNSET && cfg->n < 1)
		return args_fail("-n: the dump count must be at least 1, not %lld", cfg->n);
	if (cfg->s != PD_UNSET && cfg->s < 1)
		return args_fail("-s: seconds must be at least 1, not %lld", cfg->s);
	if (cfg->c != PD_UNSET && cfg->cl != PD_UNSET)
		return args_fail("-c and -cl cannot be used together");
	if (cfg->m != PD_UNSET && cfg->ml != PD_UNSET)
		return args_fail("-m and -ml cannot be used together");
	if (cfg->p && cfg->pl)
		return args_fail("-p and -pl cannot be used together");
	{
		long long cpu = cfg->c != PD_UNSET ? cfg->c : cfg->cl;
		long long max = cfg->u ? 100LL : 100LL;
		const char *sw = cfg->c != PD_UNSET ? "-c" : "-cl";
		/* -u makes the value relative to one core; the whole machine is
		 * then ncpu*100 percent of one core. */
		if (cfg->u)
			max = 100LL * ncpu;
		if (cpu != PD_UNSET && (cpu < 0 || cpu > max))
			return args_fail("%s: CPU usage must be 0 to %lld%s, not %lld", sw, max,
			                 cfg->u ? " (percent of one core, -u)" : " percent", cpu);
	}
	if (cfg->m != PD_UNSET && cfg->m < 1)
		return args_fail("-m: commit must be at least 1 MB, not %lld", cfg->m);
	if (cfg->ml != PD_UNSET && cfg->ml < 1)
		return args_fail("-ml: commit must be at least 1 MB, not %lld", cfg->ml);
	if (cfg->at != PD_UNSET && cfg->at < 1)
		return args_fail("-at: the timeout must be at least 1 second, not %lld", cfg->at);
	if (cfg->cancel != PD_UNSET && (cfg->cancel < 1 || cfg->cancel > 0xFFFFFFFFLL))
		return args_fail("-cancel: '%lld' is not a process id", cfg->cancel);
	if ((cfg->p && !cfg->p[0]) || (cfg->pl && !cfg->pl[0]))
		return args_fail("%s: the counter path is empty", cfg->p ? "-p" : "-pl");
	if (cfg->a && !cfg->r)
		return args_fail("-a needs -r");
	if (cfg->mk && cfg->r)
		return args_fail("-mk cannot be used with -r (the OS cannot write a kernel dump of a clone)");
	if ((cfg->f_set || cfg->fx_set) && !cfg->e && !cfg->l)
		return args_fail("%s needs -e or -l", cfg->f_set ? "-f" : "-fx");
	if (!cfg->e) {
		static const struct { size_t off; const char *n; } sub[] = {
			{ CO(g), "-g" }, { CO(b), "-b" }, { CO(ld), "-ld" },
			{ CO(ud), "-ud" }, { CO(ct), "-ct" }, { CO(et), "-et" } };
		for (i = 0; i < sizeof sub / sizeof sub[0]; i++)
			if (*(int *)((char *)cfg + sub[i].off))
				return args_fail("%s needs -e", sub[i].n);
	}
#ifndef _WIN64
	if (cfg->x64)
		return args_fail("-64 needs procdump64.exe (this is the 32-bit procdump.exe)");
#endif

	/* Modes: cancel, uninstall, install, launch, capture. */
	if (cfg->cancel != PD_UNSET) {
		if (cfg->target || cfg->ntypes || cfg->n != PD_UNSET || cfg->x || cfg->i || cfg->u)
			return args_fail("-cancel takes only a PID and no other switch or target");
		return 0;
	}
	if (cfg->u && cfg->c == PD_UNSET && cfg->cl == PD_UNSET) {
		/* -u alone: uninstall */
		if (cfg->target || cfg->ntypes || cfg->i || cfg->x || cfg->n != PD_UNSET)
			return args_fail("-u needs -c or -cl (or stands alone to uninstall)");
		cfg->uninstall = 1;
		return 0;
	}
	if (cfg->i) {
		char bad[32] = "";
		for (i = 0; i < NOPTS; i++) {
			const struct opt *o = &opts[i];
			int set;
			if ((o->flags & OF_INSTALL) || o->off == CO(i) || o->off == CO(v) || o->off == CO(help))
				continue;
			switch (o->kind) {
			case OPT_INT: set = *(long long *)((char *)cfg + o->off) != PD_UNSET; break;
			case OPT_STR: case OPT_COUNTER: case OPT_HEX:
				set = *(wchar_t **)((char *)cfg + o->off) != NULL; break;
			case OPT_LIST: set = *(int *)((char *)cfg + o->off2); break;
			default: set = *(int *)((char *)cfg + o->off) != 0; break;
			}
			if (set) {
				snprintf(bad, sizeof bad, "-%s", u8s(o->name));
				break;
			}
		}
		if (bad[0])
			return args_fail("%s cannot be used with -i", bad);
		if (cfg->target)
			return args_fail("-i takes a dump folder, not a target ('%s')", u8s(cfg->target));
		return 0;
	}
	if (cfg->j)
		return 0;
	if (cfg->x) {
		if (cfg->w)
			return args_fail("-w cannot be used with -x");
		if (cfg->target)
			return args_fail("-x launches its own target; '%s' is extra", u8s(cfg->target));
		return 0;
	}
	if (!cfg->target)
		return args_fail("no target: give a PID, a process name or a service name");
	if (cfg->w && all_digits(cfg->target))
		return args_fail("-w waits for a process name, not a PID (%s)", u8s(cfg->target));
	if (cfg->target[0] == 0)
		return args_fail("the target is empty");
	return 0;
}

/* A switch that is parsed but not built yet says so and exits 2. */
static int
args_check_implemented(const struct pd_config *cfg)
{
	size_t i;
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		int set;
		if (!(o->flags & OF_NOTYET))
			continue;
		switch (o->kind) {
		case OPT_INT: set = *(long long *)((const char *)cfg + o->off) != PD_UNSET; break;
		case OPT_STR: case OPT_COUNTER: case OPT_HEX:
			set = *(wchar_t *const *)((const char *)cfg + o->off) != NULL; break;
		case OPT_LIST: set = *(const int *)((const char *)cfg + o->off2); break;
		default: set = *(const int *)((const char *)cfg + o->off) != 0; break;
		}
		if (set) {
			SetLastError(0);
			warn("-%s is not implemented yet in procdump.c " PD_VERSION, u8s(o->name));
			return PD_EXIT_USAGE;
		}
	}
	if (cfg->uninstall) {
		warn("-u (uninstall) is not implemented yet in procdump.c " PD_VERSION);
		return PD_EXIT_USAGE;
	}
	return 0;
}

/* ================================ Targets =============================== */
/* Turns a PID, a process name (with or without .exe, any case) or a service
 * name into an open process.  Owns struct pd_target; prints nothing but
 * errors. */

struct pd_target {
	DWORD pid;
	u64 create_time;        /* with the PID, identifies the process */
	wchar_t name[MAX_PATH]; /* image name, e.g. app.exe */
	HANDLE h;
	int wow64;
};

static const DWORD TGT_ACCESS = PROCESS_QUERY_INFORMATION | PROCESS_VM_READ |
	PROCESS_DUP_HANDLE | 0x0800 /* PROCESS_SUSPEND_RESUME */ | SYNCHRONIZE;

static int
tgt_open(struct pd_target *t, int kill)
{
	DWORD access = TGT_ACCESS | (kill ? PROCESS_TERMINATE : 0);
	BOOL w = FALSE;
	t->h = OpenProcess(access, FALSE, t->pid);
	if (!t->h) {
		if (GetLastError() == ERROR_INVALID_PARAMETER)
			warn("no process with PID %lu", t->pid);
		else
			warn("OpenProcess %lu:", t->pid);
		return PD_EXIT_TARGET;
	}
	if (IsWow64Process(t->h, &w))
		t->wow64 = w;
#ifndef _WIN64
	{
		BOOL self = FALSE;
		IsWow64Process(GetCurrentProcess(), &self);
		if (self && !w) {
			warn("process %lu is 64-bit: use procdump64.exe", t->pid);
			return PD_EXIT_TARGET;
		}
	}
#endif
	return 0;
}

static void
tgt_close(struct pd_target *t)
{
	if (t->h)
		CloseHandle(t->h);
	t->h = NULL;
}

static void
tgt_fill(struct pd_target *t, struct pd_sys_process *p)
{
	size_t n = p->ImageName.Length / 2;
	if (n >= MAX_PATH)
		n = MAX_PATH - 1;
	if (p->ImageName.Buffer)
		memcpy(t->name, p->ImageName.Buffer, n * 2);
	t->name[n] = 0;
	t->pid = (DWORD)(ULONG_PTR)p->UniqueProcessId;
	t->create_time = (u64)p->CreateTime.QuadPart;
}

static int
tgt_name_matches(const wchar_t *image, const wchar_t *want)
{
	size_t n = wcslen(want);
	if (!_wcsicmp(image, want))
		return 1;
	/* "notepad" matches "notepad.exe" */
	return !_wcsnicmp(image, want, n) && !_wcsicmp(image + n, L".exe");
}

static int
tgt_from_service(struct pd_target *t, const wchar_t *name, struct pd_sys_process *list)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS_PROCESS ss;
	DWORD need;
	struct pd_sys_process *p;
	int rc = -1;

	scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
	if (!scm)
		return -1;
	svc = OpenServiceW(scm, name, SERVICE_QUERY_STATUS);
	if (svc) {
		if (QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&ss, sizeof ss, &need)) {
			if (!ss.dwProcessId) {
				SetLastError(0);
				warn("service '%s' is not running", u8s(name));
				rc = PD_EXIT_TARGET;
			} else if ((p = w32_process_find(list, ss.dwProcessId))) {
				tgt_fill(t, p);
				rc = 0;
			}
		}
		CloseServiceHandle(svc);
	}
	CloseServiceHandle(scm);
	return rc;
}

/* Resolves cfg->target; returns 0 or PD_EXIT_TARGET after an error line. */
static int
tgt_resolve_ex(struct pd_target *t, const wchar_t *spec, int quiet_missing);

static int
tgt_resolve(struct pd_target *t, const wchar_t *spec)
{
	return tgt_resolve_ex(t, spec, 0);
}

/* Resolves spec; with quiet_missing, "not found" returns -1 silently (-w). */
static int
tgt_resolve_ex(struct pd_target *t, const wchar_t *spec, int quiet_missing)
{
	struct pd_sys_process *list, *p;
	DWORD self = GetCurrentProcessId();
	DWORD pids[64];
	int n = 0, rc = PD_EXIT_TARGET;

	memset(t, 0, sizeof *t);
	list = w32_process_list();
	if (!list)
		return PD_EXIT_TARGET;
	if (all_digits(spec)) {
		long long v;
		parse_int(spec, &v);
		p = v > 0 && v <= 0xFFFFFFFFLL ? w32_process_find(list, (DWORD)v) : NULL;
		if (!p || !v) {
			SetLastError(0);
			warn("no process with PID %s", u8s(spec));
		} else if ((DWORD)v == self) {
			SetLastError(0);
			warn("PID %lu is procdump itself", (DWORD)v);
		} else {
			tgt_fill(t, p);
			rc = 0;
		}
		free(list);
		return rc;
	}
	for (p = list; p; p = w32_process_next(p)) {
		wchar_t img[MAX_PATH];
		size_t len = p->ImageName.Length / 2;
		if (!p->ImageName.Buffer || len >= MAX_PATH || (DWORD)(ULONG_PTR)p->UniqueProcessId == self)
			continue;
		memcpy(img, p->ImageName.Buffer, len * 2);
		img[len] = 0;
		if (tgt_name_matches(img, spec)) {
			if (n == 0)
				tgt_fill(t, p);
			if (n < 64)
				pids[n] = (DWORD)(ULONG_PTR)p->UniqueProcessId;
			n++;
		}
	}
	if (n == 1) {
		rc = 0;
	} else if (n > 1) {
		char lst[64 * 12] = "";
		int i;
		for (i = 0; i < n && i < 64; i++)
			snprintf(lst + strlen(lst), sizeof lst - strlen(lst), "%s%lu", i ? ", " : "", pids[i]);
		SetLastError(0);
		warn("Multiple processes match the specified name '%s' (PIDs %s%s); give a PID",
		     u8s(spec), lst, n > 64 ? ", ..." : "");
	} else if (quiet_missing) {
		rc = -1;
	} else {
		int s = tgt_from_service(t, spec, list);
		if (s == 0)
			rc = 0;
		else if (s < 0) {
			SetLastError(0);
			warn("no process or service named '%s'", u8s(spec));
		}
	}
	free(list);
	return rc;
}

/* Is the process identified by pid and creation time still alive? */
static int
tgt_alive(const struct pd_target *t)
{
	return WaitForSingleObject(t->h, 0) == WAIT_TIMEOUT;
}

/* ================================ Writer ================================ */
/* The minidump writer: snapshot (suspend every thread) -> collect (threads,
 * modules, memory map) -> plan (ranges, every RVA) -> write sequentially ->
 * signature last -> rename into place.  It never reads trigger state: what
 * it needs arrives in struct pd_dump_req.  Resumes the target on every path. */

#pragma pack(push, 4)
struct md_header {
	u32 sig, version, nstreams, dir_rva, checksum, timestamp;
	u64 flags;
};
struct md_dir { u32 type, size, rva; };
struct md_loc { u32 size, rva; };
struct md_memdesc { u64 start; struct md_loc mem; };
struct md_memdesc64 { u64 start, size; };
struct md_thread {
	u32 id, suspend, prio_class, prio;
	u64 teb;
	struct md_memdesc stack;
	struct md_loc ctx;
};
struct md_vsfixed { u32 v[13]; };
struct md_module {
	u64 base;
	u32 size, checksum, timestamp, name_rva;
	struct md_vsfixed ver;
	struct md_loc cv, misc;
	u64 r0, r1;
};
struct md_sysinfo {
	u16 arch, level, revision;
	u8 nproc, product_type;
	u32 major, minor, build, platform, csd_rva;
	u16 suite, reserved2;
	union {
		struct { u32 vendor[3], version, features, amd_ext; } x86;
		struct { u64 features[2]; } other;
	} cpu;
};
struct md_misc1 { u32 size, flags1, pid, create, user, kernel; };
/* MINIDUMP_MISC_INFO_5: level 1 + processor power (2) + integrity, execute
 * flags, protection, time zone (3) + build strings (4) + XState, cookie (5) */
struct md_misc5 {
	struct md_misc1 m1;
	u32 max_mhz, cur_mhz, mhz_limit, max_idle, cur_idle;
	u32 integrity, execute_flags, protected_process, tz_id;
	u8 tz[172];                /* TIME_ZONE_INFORMATION */
	u16 build[260], dbg_bld[40];
	u32 xs_size, xs_context_size;
	u64 xs_enabled;
	struct { u32 offset, size; } xs_features[64];
	u32 cookie;
};
struct md_meminfo_list { u32 hdr_size, entry_size; u64 n; };
struct md_meminfo {
	u64 base, alloc_base;
	u32 alloc_protect, pad1;
	u64 size;
	u32 state, protect, type, pad2;
};
struct md_threadinfo_list { u32 hdr_size, entry_size, n; };
struct md_threadinfo {
	u32 tid, dump_flags, dump_error, exit_status;
	u64 create_time, exit_time, kernel_time, user_time, start_address, affinity;
};
struct md_threadname { u32 tid; u64 name_rva; };
struct md_unloaded_list { u32 hdr_size, entry_size, n; };
struct md_unloaded { u64 base; u32 size, checksum, timestamp, name_rva; };
struct md_handle_stream { u32 hdr_size, desc_size, n, reserved; };
struct md_handle {
	u64 handle;
	u32 type_rva, name_rva, attributes, granted_access, handle_count, pointer_count, info_rva, reserved0;
};
struct md_exception {
	u32 tid, pad;
	u32 code, flags;
	u64 record, address;
	u32 nparams, pad2;
	u64 info[15];
	struct md_loc ctx;
};
#pragma pack(pop)

_Static_assert(sizeof(struct md_header) == 32, "MINIDUMP_HEADER");
_Static_assert(sizeof(struct md_dir) == 12, "MINIDUMP_DIRECTORY");
_Static_assert(sizeof(struct md_memdesc) == 16, "MINIDUMP_MEMORY_DESCRIPTOR");
_Static_assert(sizeof(struct md_thread) == 48, "MINIDUMP_THREAD");
_Static_assert(sizeof(struct md_vsfixed) == 52, "VS_FIXEDFILEINFO");
_Static_assert(sizeof(struct md_module) == 108, "MINIDUMP_MODULE");
_Static_assert(sizeof(struct md_sysinfo) == 56, "MINIDUMP_SYSTEM_INFO");
_Static_assert(sizeof(struct md_misc1) == 24, "MINIDUMP_MISC_INFO");
_Static_assert(sizeof(struct md_misc5) == 1364, "MINIDUMP_MISC_INFO_5");
_Static_assert(offsetof(struct md_misc5, tz) == 60 && offsetof(struct md_misc5, build) == 232 &&
               offsetof(struct md_misc5, xs_size) == 832, "MINIDUMP_MISC_INFO_5 layout");
_Static_assert(sizeof(struct md_meminfo_list) == 16, "MINIDUMP_MEMORY_INFO_LIST");
_Static_assert(sizeof(struct md_meminfo) == 48, "MINIDUMP_MEMORY_INFO");
_Static_assert(sizeof(struct md_exception) == 168, "MINIDUMP_EXCEPTION_STREAM");
_Static_assert(sizeof(struct md_threadinfo_list) == 12, "MINIDUMP_THREAD_INFO_LIST");
_Static_assert(sizeof(struct md_handle_stream) == 16, "MINIDUMP_HANDLE_DATA_STREAM");
_Static_assert(sizeof(struct md_handle) == 40, "MINIDUMP_HANDLE_DESCRIPTOR_2");
_Static_assert(sizeof(struct md_threadinfo) == 64, "MINIDUMP_THREAD_INFO");
_Static_assert(sizeof(struct md_threadname) == 12, "MINIDUMP_THREAD_NAME");
_Static_assert(sizeof(struct md_unloaded_list) == 12, "MINIDUMP_UNLOADED_MODULE_LIST");
_Static_assert(sizeof(struct md_unloaded) == 24, "MINIDUMP_UNLOADED_MODULE");
#ifdef _WIN64
_Static_assert(sizeof(CONTEXT) == 1232, "CONTEXT AMD64");
#else
_Static_assert(sizeof(CONTEXT) == 716, "CONTEXT x86");
#endif

enum {
	MD_THREADLIST = 3, MD_MODULELIST = 4, MD_MEMORYLIST = 5, MD_EXCEPTION = 6,
	MD_SYSTEMINFO = 7, MD_MEMORY64LIST = 9, MD_COMMENTA = 10, MD_COMMENTW = 11, MD_HANDLEDATA = 12,
	MD_UNLOADEDMODULELIST = 14, MD_MISCINFO = 15, MD_MEMORYINFOLIST = 16, MD_THREADINFOLIST = 17,
	MD_TOKEN = 19, MD_PROCESSVMCOUNTERS = 22, MD_THREADNAMES = 24
};

/* MINIDUMP_TYPE bits this writer honours, by dump type. */
#define MDT_DATASEGS          0x00001
#define MDT_FULLMEMORY        0x00002
#define MDT_HANDLEDATA        0x00004
#define MDT_UNLOADEDMODULES   0x00020
#define MDT_INDIRECT          0x00040
#define MDT_FILTERMODULEPATHS 0x00080
#define MDT_PROCESSTHREADDATA 0x00100
#define MDT_PRIVATERW         0x00200
#define MDT_WITHOUTOPTIONAL   0x00400
#define MDT_FULLMEMORYINFO    0x00800
#define MDT_THREADINFO        0x01000
#define MDT_CODESEGS          0x02000
#define MDT_PRIVATEWC         0x10000
#define MDT_SCANMEMORY        0x00010
#define MDT_FILTERMEMORY      0x00008
#define MDT_WITHOUTAUXSTATE   0x04000 /* honoured by nature: no auxiliary providers */
#define MDT_MODULEHEADERS     0x80000
#define MDT_TOKEN             0x40000
#define MDT_FILTERTRIAGE      0x100000
#define MDT_XSTATE            0x200000 /* native 64-bit view only */
/* what this writer honours; any other bit of -mc is named and dropped */
#define MDT_HONOURED (MDT_DATASEGS | MDT_FULLMEMORY | MDT_HANDLEDATA | MDT_SCANMEMORY | \
	MDT_UNLOADEDMODULES | MDT_INDIRECT | MDT_FILTERMODULEPATHS | MDT_PROCESSTHREADDATA | \
	MDT_PRIVATERW | MDT_WITHOUTOPTIONAL | MDT_FULLMEMORYINFO | MDT_THREADINFO | MDT_CODESEGS | \
	MDT_PRIVATEWC | MDT_IGNOREINACCESSIBLE | MDT_MODULEHEADERS | MDT_FILTERTRIAGE | MDT_TOKEN | \
	MDT_FILTERMEMORY | MDT_WITHOUTAUXSTATE | MDT_XSTATE)
/* Triage keeps the memory map (addresses, no contents): Breakpad's readers
 * reject a dump without one. */
#define MDT_TRIAGE (MDT_HANDLEDATA | MDT_FILTERTRIAGE | MDT_FULLMEMORYINFO | MDT_IGNOREINACCESSIBLE)
#define MDT_MINI  (MDT_DATASEGS | MDT_HANDLEDATA | MDT_UNLOADEDMODULES | MDT_INDIRECT | \
	MDT_PROCESSTHREADDATA | MDT_FULLMEMORYINFO | MDT_THREADINFO | MDT_IGNOREINACCESSIBLE | MDT_TOKEN)
#define MDT_FULL  (MDT_FULLMEMORY | MDT_HANDLEDATA | MDT_UNLOADEDMODULES | MDT_FULLMEMORYINFO | \
	MDT_THREADINFO | MDT_IGNOREINACCESSIBLE | MDT_TOKEN)
#define MDT_IGNOREINACCESSIBLE 0x20000

/* What caused a dump (filled by a trigger, read by the writer). */
struct pd_event {
	int has_exception;
	int at_exit;               /* the process is exiting (-t) */
	DWORD tid;                 /* faulting thread */
	EXCEPTION_RECORD rec;
	CONTEXT ctx;
	DWORD exception_code;      /* for EXCEPTIONCODE in file names */
};

struct pd_dump_req {
	int type;                  /* PD_MINI, PD_FULL or PD_CUSTOM */
	u64 mask;                  /* PD_CUSTOM: the MINIDUMP_TYPE bits asked for */
	const wchar_t *path;       /* final file name */
	const wchar_t *comment;    /* -dc, may be NULL */
	int overwrite;
	const struct pd_event *ev; /* may be NULL */
	volatile LONG *cancel;     /* set by Ctrl+C / ProcDump-<PID>; may be NULL */
	double deadline;           /* -at: now_sec() limit for the collection; 0 = none */
	int timed_out;             /* set by the writer when the deadline passed */
	int at_exit;               /* stopped at EXIT_PROCESS: no threads left */
	int dbghelp;               /* -dbghelp: the system's MiniDumpWriteDump */
	int native_view;           /* -64: a WOW64 target's 64-bit view, not its x86 one */
	MINIDUMP_CALLBACK_ROUTINE callback; /* -md: the DLL's MiniDumpCallbackRoutine */
	void *callback_param;
	void (*on_plan)(void *ctx, u64 bytes); /* size known, before writing */
	void *ctx;
};

struct pd_dump_result {
	u64 bytes;
	double seconds;
};

struct dthread {
	DWORD tid;
	HANDLE h;
	int suspended;         /* we hold one suspension */
	DWORD prev_suspend;    /* suspend count before us */
	int ctx_ok;
	CONTEXT *ctx;
	u64 teb, stack_base, stack_limit, sp, ip;
	int prio;
	u64 stk_start, stk_size; /* captured stack range */
	u32 stk_rva;
	struct md_threadinfo info; /* ThreadInfoList entry */
	ULONG write_flags;       /* THREAD_WRITE_FLAGS left by a -md callback */
	wchar_t *name;           /* GetThreadDescription, or NULL */
	u8 *xctx; u32 xlen;      /* WithAvxXStateContext: CONTEXT, CONTEXT_EX, XSAVE */
};

struct dmodule {
	u64 base;
	u32 size, checksum, timestamp;
	wchar_t *name;
	u8 *cv;  u32 cv_len;
	u8 *misc; u32 misc_len;
	struct md_vsfixed ver;
	struct { u32 rva, size; } wsec[16]; /* writable sections (DataSegs) */
	int nwsec;
	struct { u32 rva, size; } csec[16]; /* code sections (CodeSegs) */
	ULONG write_flags;                  /* MODULE_WRITE_FLAGS left by a -md callback */
	int ncsec;
	u32 header_size;                    /* SizeOfHeaders (ModuleHeaders) */
};

struct dregion {
	u64 base, alloc_base, size;
	u32 alloc_protect, state, protect, type;
};

struct range { u64 start, size; };

struct dunloaded {
	u64 base;
	u32 size, checksum, timestamp;
	wchar_t name[33];
};

struct dhandle {
	u64 value;
	u32 attributes, access, handle_count, pointer_count;
	wchar_t *type, *name;
};

struct dump_state {
	HANDLE h;
	u64 mask;                  /* MINIDUMP_TYPE bits this dump honours */
	int miniplus;              /* -mp: MiniPlus selection, Memory64List */
	u64 mp_excluded, mp_excluded_size; /* the area left out, and its allocation size */
	int mp_excluded_count;
	struct dhandle *hdl; int nhdl; int have_hdl;
	struct dunloaded *unl; int nunl; int have_unl;
	struct buf tok; u32 ntok; int have_tok; /* TokenStream records */
	/* GetThreadDescription (Windows 10 1607+; Wine): not in mingw headers */
	HRESULT (WINAPI *get_description)(HANDLE, PWSTR *);
	DWORD pid;
	struct dthread *th; int nth, cap_th;
	int nth_all;               /* suspended threads; nth of them are written */
	struct dmodule *mod; int nmod;
	struct dregion *reg; int nreg;
	struct range *rng; int nrng, cap_rng;
	u64 create_time, user_time, kernel_time;
	const struct pd_dump_req *req;
	/* The view: native, or (procdump64, WOW64 target, no -64) x86: 32-bit
	 * contexts, TEBs, PEB and modules, the address space below 4 GiB. */
	int x86;
	int wow_native;            /* the -64 view of a WOW64 process */
	u32 ps;                    /* the view's pointer size */
	u64 peb;                   /* the view's PEB */
};

/* The 32-bit TEB of a WOW64 thread, from its 64-bit one: TEB64.WowTebOffset
 * (Windows 10+, Wine), else the fixed two pages of earlier WOW64 */
static u64
dump_teb32(const struct dump_state *d, u64 teb64)
{
	LONG off = 0;
	if (w32_read(d->h, teb64 + 0x180C, &off, 4) < 0 || off <= 0 || off > 0x10000)
		off = 0x2000;
	return teb64 + (u64)off;
}

/* A pointer of the view's size in target memory */
static u64
dump_rptr(const struct dump_state *d, u64 addr, int *ok)
{
	u32 v = 0;
	if (d->ps == 8)
		return w32_read_ptr(d->h, addr, ok);
	if (w32_read(d->h, addr, &v, 4) < 0)
		*ok = 0;
	return v;
}

static int
dump_readable(const struct dregion *r)
{
	return r->state == MEM_COMMIT && r->protect &&
	       !(r->protect & (PAGE_NOACCESS | PAGE_GUARD));
}

/* Suspends every thread, re-listing until no new thread appears, so nothing
 * runs while the dump is read.  Threads that cannot be opened are skipped. */
static int
dump_suspend(struct dump_state *d)
{
	int pass;
	for (pass = 0; pass < 16; pass++) {
		struct pd_sys_process *list = w32_process_list(), *p;
		struct pd_sys_thread *st;
		ULONG i;
		int added = 0;
		if (!list)
			return -1;
		p = w32_process_find(list, d->pid);
		if (!p) {
			/* Gone from the list: at EXIT_PROCESS (-t) the address space
			 * is still there to read, with no thread left. */
			free(list);
			if (pass == 0 && d->req->at_exit)
				return 0;
			SetLastError(0);
			warn("process %lu has exited", d->pid);
			return -1;
		}
		if (pass == 0) {
			d->create_time = (u64)p->CreateTime.QuadPart;
			d->user_time = (u64)p->UserTime.QuadPart;
			d->kernel_time = (u64)p->KernelTime.QuadPart;
		}
		st = w32_process_threads(p);
		for (i = 0; i < p->NumberOfThreads; i++) {
			DWORD tid = (DWORD)(ULONG_PTR)st[i].UniqueThread;
			int j, known = 0;
			HANDLE th;
			DWORD prev;
			for (j = 0; j < d->nth; j++)
				if (d->th[j].tid == tid)
					known = 1;
			if (known)
				continue;
			th = OpenThread(THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT |
			                THREAD_QUERY_INFORMATION, FALSE, tid);
			if (!th)
				continue;
			prev = SuspendThread(th);
			if (prev == (DWORD)-1) {
				CloseHandle(th);
				continue;
			}
			if (vec_grow(&d->th, &d->cap_th, d->nth, sizeof *d->th, 64) < 0) {
				ResumeThread(th);
				CloseHandle(th);
				free(list);
				return -1;
			}
			memset(&d->th[d->nth], 0, sizeof d->th[0]);
			d->th[d->nth].tid = tid;
			d->th[d->nth].h = th;
			d->th[d->nth].suspended = 1;
			d->th[d->nth].prev_suspend = prev;
			d->th[d->nth].prio = st[i].Priority;
			d->nth++;
			added++;
		}
		free(list);
		if (!added && pass > 0)
			return 0;
	}
	return 0;
}

static void
dump_resume(struct dump_state *d)
{
	int i;
	if (d->nth_all > d->nth)
		d->nth = d->nth_all;
	for (i = 0; i < d->nth; i++) {
		if (d->th[i].suspended)
			ResumeThread(d->th[i].h);
		d->th[i].suspended = 0;
		CloseHandle(d->th[i].h);
		free(d->th[i].name);
	}
	free(d->th);
	d->th = NULL;
	d->nth = 0;
}

/* GetThreadContext can block for ever under Wine on a thread that was
 * suspended before it first ran (its context is never saved: seen with a
 * process whose threads start and exit all the time).  So the context is
 * asked for on a worker thread with a deadline; on timeout the worker and
 * its job are abandoned (it finishes when the target resumes) and the
 * thread is written without a context (ThreadInfo INVALID_CONTEXT). */
struct ctx_job {
	CONTEXT ctx;               /* first: 16-byte aligned with the job */
	HANDLE h;
	int wow;                   /* a WOW64_CONTEXT, in ctx's first 716 bytes */
	CONTEXT *xctx;             /* or an XState context (InitializeContext), in xbuf */
	void *xbuf;
	DWORD xbuf_len;
	volatile LONG ok;
};

/* XState contexts (Windows 7 SP1+, Wine): resolved at run time */
typedef DWORD64 (WINAPI *fn_GetEnabledXStateFeatures)(void);
typedef BOOL (WINAPI *fn_InitializeContext)(PVOID, DWORD, PCONTEXT *, PDWORD);
typedef BOOL (WINAPI *fn_SetXStateFeaturesMask)(PCONTEXT, DWORD64);
#ifndef CONTEXT_XSTATE
#define CONTEXT_XSTATE (CONTEXT_AMD64 | 0x40)
#endif

_Static_assert(sizeof(WOW64_CONTEXT) == 716, "WOW64_CONTEXT");
_Static_assert(sizeof(WOW64_CONTEXT) <= sizeof(CONTEXT), "WOW64_CONTEXT fits a CONTEXT");

/* Wow64GetThreadContext (Windows 7+, Wine) and the XState calls, resolved
 * at run time, once (before any context worker starts) */
typedef BOOL (WINAPI *fn_Wow64GetThreadContext)(HANDLE, WOW64_CONTEXT *);
static struct {
	int done;
	fn_Wow64GetThreadContext wow64_get;
	fn_GetEnabledXStateFeatures xs_enabled;
	fn_InitializeContext init;
	fn_SetXStateFeaturesMask xs_mask;
} ctxfn;

static void
w32_resolve_context_fns(void)
{
	HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
	if (ctxfn.done)
		return;
	ctxfn.wow64_get = (fn_Wow64GetThreadContext)(void (*)(void))GetProcAddress(k32, "Wow64GetThreadContext");
	ctxfn.xs_enabled = (fn_GetEnabledXStateFeatures)(void (*)(void))GetProcAddress(k32, "GetEnabledXStateFeatures");
	ctxfn.init = (fn_InitializeContext)(void (*)(void))GetProcAddress(k32, "InitializeContext");
	ctxfn.xs_mask = (fn_SetXStateFeaturesMask)(void (*)(void))GetProcAddress(k32, "SetXStateFeaturesMask");
	ctxfn.done = 1;
}

static DWORD WINAPI
dump_ctx_worker(void *arg)
{
	struct ctx_job *j = arg;
	if (j->wow)
		j->ok = ctxfn.wow64_get && ctxfn.wow64_get(j->h, (WOW64_CONTEXT *)&j->ctx);
	else if (j->xctx)
		j->ok = GetThreadContext(j->h, j->xctx) != 0;
	else
		j->ok = GetThreadContext(j->h, &j->ctx) != 0;
	return 0;
}

/* out: a CONTEXT, or (wow) a WOW64_CONTEXT in its first bytes; its
 * ContextFlags say what to read.  With xlen (the native 64-bit view,
 * WithAvxXStateContext), the context is read with its XSAVE state and
 * *xout gets the whole of it (CONTEXT, CONTEXT_EX, XSAVE area: what
 * CONTEXT_EX.All covers), *xlen its size; out gets its CONTEXT part. */
static int
dump_get_context(HANDLE h, CONTEXT *out, int wow, u8 **xout, u32 *xlen)
{
	struct ctx_job *j = _aligned_malloc(sizeof *j, 16);
	HANDLE w;
	int ok = 0;
	if (!j)
		return 0;
	memset(j, 0, sizeof *j);
	j->wow = wow;
	memcpy(&j->ctx, out, sizeof j->ctx); /* its ContextFlags, wherever the layout keeps them */
	w32_resolve_context_fns();
#ifdef _WIN64
	if (xlen) {
		DWORD len = 0;
		u64 features = ctxfn.xs_enabled && ctxfn.init && ctxfn.xs_mask ? ctxfn.xs_enabled() : 0;
		*xlen = 0;
		if (features & ~3ULL) { /* more than x87 and SSE, which the CONTEXT holds */
			ctxfn.init(NULL, CONTEXT_ALL | CONTEXT_XSTATE, NULL, &len);
			j->xbuf = len ? malloc(len) : NULL;
			j->xbuf_len = len;
			if (j->xbuf && (!ctxfn.init(j->xbuf, CONTEXT_ALL | CONTEXT_XSTATE, &j->xctx, &len) ||
			                !ctxfn.xs_mask(j->xctx, features))) {
				free(j->xbuf);
				j->xbuf = NULL;
				j->xctx = NULL;
			}
		}
	}
#else
	(void)xout;
	(void)xlen;
#endif
	if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &j->h, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
		_aligned_free(j);
		return 0;
	}
	w = CreateThread(NULL, 64 * 1024, dump_ctx_worker, j, 0, NULL);
	if (!w) {
		CloseHandle(j->h);
		_aligned_free(j);
		return 0;
	}
	if (WaitForSingleObject(w, 1000) == WAIT_OBJECT_0) {
		ok = j->ok;
		if (ok && j->xctx) {
			/* CONTEXT_EX follows the CONTEXT: {All, Legacy, XState}, each
			 * {LONG Offset (from CONTEXT_EX), DWORD Length}.  Where the
			 * XSAVE area starts depends on the buffer's address (64-byte
			 * alignment); the dump gets one layout for every thread: the
			 * XSAVE area at 1280 (64-aligned from the CONTEXT's start) */
			LONG xs_off;
			DWORD xs_len;
			const u32 at = (sizeof(CONTEXT) + 24 + 63) & ~63u;
			const u8 *cx = (const u8 *)j->xctx + sizeof(CONTEXT);
			memcpy(out, j->xctx, sizeof *out);
			memcpy(&xs_off, cx + 16, 4);
			memcpy(&xs_len, cx + 20, 4);
			if (xs_off > 0 && xs_len >= 64 &&
			    (size_t)(cx - (const u8 *)j->xbuf) + (size_t)xs_off + xs_len <= j->xbuf_len &&
			    (*xout = calloc(1, at + xs_len)) != NULL) {
				LONG ex[6] = { -(LONG)sizeof(CONTEXT), (LONG)(at + xs_len),     /* All */
				               -(LONG)sizeof(CONTEXT), (LONG)sizeof(CONTEXT),   /* Legacy */
				               (LONG)(at - sizeof(CONTEXT)), (LONG)xs_len };     /* XState */
				memcpy(*xout, j->xctx, sizeof(CONTEXT));
				memcpy(*xout + sizeof(CONTEXT), ex, sizeof ex);
				memcpy(*xout + at, cx + xs_off, xs_len);
				*xlen = at + xs_len;
			}
		} else if (ok)
			memcpy(out, &j->ctx, sizeof *out);
		CloseHandle(j->h);
		free(j->xbuf);
		_aligned_free(j);
	} else
		vlog("GetThreadContext did not return in 1 s\n");
	CloseHandle(w);
	return ok;
}

static void
dump_collect_threads(struct dump_state *d)
{
	int i, ok;
	const u64 ps = d->ps;
	for (i = 0; i < d->nth; i++) {
		struct dthread *t = &d->th[i];
		struct pd_thread_basic tbi;
		t->ctx = _aligned_malloc(sizeof(CONTEXT), 16);
		if (t->ctx && d->x86) {
			WOW64_CONTEXT *w = (WOW64_CONTEXT *)t->ctx;
			memset(t->ctx, 0, sizeof(CONTEXT));
			w->ContextFlags = WOW64_CONTEXT_ALL;
			t->ctx_ok = dump_get_context(t->h, t->ctx, 1, NULL, NULL);
			t->sp = w->Esp;
			t->ip = w->Eip;
		} else if (t->ctx) {
			memset(t->ctx, 0, sizeof(CONTEXT));
			t->ctx->ContextFlags = CONTEXT_ALL;
			t->ctx_ok = dump_get_context(t->h, t->ctx, 0, &t->xctx,
			                             (d->mask & MDT_XSTATE) ? &t->xlen : NULL);
#ifdef _WIN64
			t->sp = t->ctx->Rsp;
			t->ip = t->ctx->Rip;
#else
			t->sp = t->ctx->Esp;
			t->ip = t->ctx->Eip;
#endif
		}
		t->info.tid = t->tid;
		t->info.exit_status = STILL_ACTIVE;
		{
			FILETIME c, e, k, u;
			ULONG_PTR start = 0;
			if (GetThreadTimes(t->h, &c, &e, &k, &u)) {
				t->info.create_time = ((u64)c.dwHighDateTime << 32) | c.dwLowDateTime;
				t->info.exit_time = ((u64)e.dwHighDateTime << 32) | e.dwLowDateTime;
				t->info.kernel_time = ((u64)k.dwHighDateTime << 32) | k.dwLowDateTime;
				t->info.user_time = ((u64)u.dwHighDateTime << 32) | u.dwLowDateTime;
			} else
				t->info.dump_flags |= 0x8; /* MINIDUMP_THREAD_INFO_INVALID_INFO */
			if (PD_NT_SUCCESS(nt.NtQueryInformationThread(t->h, 9 /* ThreadQuerySetWin32StartAddress */,
			                                              &start, sizeof start, NULL)))
				t->info.start_address = start;
			if (d->get_description) {
				wchar_t *desc = NULL;
				if (SUCCEEDED(d->get_description(t->h, &desc)) && desc) {
					if (desc[0])
						t->name = wdup(desc);
					LocalFree(desc);
				}
			}
		}
		if (!t->ctx_ok) {
			vlog("thread %lu: written without a context\n", (unsigned long)t->tid);
			t->info.dump_flags |= 0x10; /* MINIDUMP_THREAD_INFO_INVALID_CONTEXT */
		}
		if (PD_NT_SUCCESS(nt.NtQueryInformationThread(t->h, 0, &tbi, sizeof tbi, NULL))) {
			t->info.exit_status = (u32)tbi.ExitStatus;
			t->info.affinity = tbi.AffinityMask;
			t->teb = (u64)(ULONG_PTR)tbi.TebBaseAddress;
			ok = 1;
			if (d->x86 && t->teb)
				t->teb = dump_teb32(d, t->teb);
			/* NT_TIB: ExceptionList, StackBase, StackLimit */
			t->stack_base = dump_rptr(d, t->teb + ps, &ok);
			t->stack_limit = dump_rptr(d, t->teb + 2 * ps, &ok);
			if (!ok)
				t->stack_base = t->stack_limit = 0;
		}
	}
}

/* The view's PEB: the native one, or the 32-bit one that a 32-bit TEB
 * names (TEB32.ProcessEnvironmentBlock), else ProcessWow64Information. */
static void
dump_find_peb(struct dump_state *d)
{
	struct pd_process_basic pbi;
	int i, ok;
	if (!d->x86) {
		if (PD_NT_SUCCESS(nt.NtQueryInformationProcess(d->h, 0, &pbi, sizeof pbi, NULL)))
			d->peb = (u64)(ULONG_PTR)pbi.PebBaseAddress;
		return;
	}
	for (i = 0; i < d->nth && !d->peb; i++) {
		ok = 1;
		if (d->th[i].teb)
			d->peb = dump_rptr(d, d->th[i].teb + 0x30, &ok);
		if (!ok || d->peb < 0x10000)
			d->peb = 0;
	}
	if (!d->peb) {
		ULONG_PTR p = 0;
		if (PD_NT_SUCCESS(nt.NtQueryInformationProcess(d->h, 26 /* ProcessWow64Information */, &p,
		                                               sizeof p, NULL)) && p >= 0x10000)
			d->peb = p;
	}
}

/* free with _aligned_free: contexts come from _aligned_malloc */
static void
dump_free_contexts(struct dump_state *d)
{
	int i;
	if (d->nth_all > d->nth)
		d->nth = d->nth_all;
	for (i = 0; i < d->nth; i++) {
		_aligned_free(d->th[i].ctx);
		d->th[i].ctx = NULL;
		free(d->th[i].xctx);
		d->th[i].xctx = NULL;
		d->th[i].xlen = 0;
	}
}

static int
dump_collect_memory_map(struct dump_state *d)
{
	u64 addr = 0;
	int cap = 0;
	for (;;) {
		MEMORY_BASIC_INFORMATION mbi;
		if (!VirtualQueryEx(d->h, (LPCVOID)(ULONG_PTR)addr, &mbi, sizeof mbi))
			break;
		if (vec_grow(&d->reg, &cap, d->nreg, sizeof *d->reg, 512) < 0)
			return -1;
		d->reg[d->nreg].base = (u64)(ULONG_PTR)mbi.BaseAddress;
		d->reg[d->nreg].alloc_base = (u64)(ULONG_PTR)mbi.AllocationBase;
		d->reg[d->nreg].size = mbi.RegionSize;
		d->reg[d->nreg].alloc_protect = mbi.AllocationProtect;
		d->reg[d->nreg].state = mbi.State;
		d->reg[d->nreg].protect = mbi.Protect;
		d->reg[d->nreg].type = mbi.Type;
		d->nreg++;
		if ((u64)(ULONG_PTR)mbi.BaseAddress + mbi.RegionSize <= addr)
			break;
		addr = (u64)(ULONG_PTR)mbi.BaseAddress + mbi.RegionSize;
		if (d->x86 && addr >= (1ULL << 32)) { /* the x86 view ends at 4 GiB */
			struct dregion *r = &d->reg[d->nreg - 1];
			if (r->base >= (1ULL << 32))
				d->nreg--;
			else
				r->size = (1ULL << 32) - r->base;
			break;
		}
		if (addr == 0 || addr > (u64)(ULONG_PTR)-1)
			break;
	}
	if (!d->nreg) {
		if (d->req->at_exit) {
			SetLastError(0);
			warn("process %lu released its memory before its exit event could be dumped "
			     "(it ended without ExitProcess)", d->pid);
		} else
			warn("VirtualQueryEx %lu:", d->pid);
		return -1;
	}
	return 0;
}

/* Reads what the PE headers in target memory say about a module: size,
 * checksum, timestamp, the CodeView and Misc debug records and the fixed
 * version resource.  Reading target memory (not the file on disk) gives
 * the image that is really loaded. */
static void
dump_module_pe(struct dump_state *d, struct dmodule *m)
{
	u8 hdr[4096];
	u32 lfanew, opt, ndirs, dd, i;
	u16 magic;
	u32 dbg_rva, dbg_size, rsrc_rva, rsrc_size;

	if (w32_read(d->h, m->base, hdr, sizeof hdr) < 0)
		return;
	memcpy(&lfanew, hdr + 0x3C, 4);
	if (hdr[0] != 'M' || hdr[1] != 'Z' || lfanew > sizeof hdr - 264 || memcmp(hdr + lfanew, "PE\0\0", 4))
		return;
	memcpy(&m->timestamp, hdr + lfanew + 8, 4);
	opt = lfanew + 24;
	memcpy(&magic, hdr + opt, 2);
	if (magic == 0x20B) {
		memcpy(&ndirs, hdr + opt + 108, 4);
		dd = opt + 112;
	} else if (magic == 0x10B) {
		memcpy(&ndirs, hdr + opt + 92, 4);
		dd = opt + 96;
	} else
		return;
	memcpy(&m->checksum, hdr + opt + 64, 4);
	if (!m->size)
		memcpy(&m->size, hdr + opt + 56, 4);
	memcpy(&m->header_size, hdr + opt + 60, 4);
	{ /* section table: writable sections (DataSegs) and code (CodeSegs) */
		u16 nsec, optsize;
		u32 k, sec;
		memcpy(&nsec, hdr + lfanew + 6, 2);
		memcpy(&optsize, hdr + lfanew + 20, 2);
		sec = opt + optsize;
		for (k = 0; k < nsec && sec + 40 * (k + 1) <= sizeof hdr; k++) {
			u32 vsize, va, ch;
			memcpy(&vsize, hdr + sec + 40 * k + 8, 4);
			memcpy(&va, hdr + sec + 40 * k + 12, 4);
			memcpy(&ch, hdr + sec + 40 * k + 36, 4);
			if ((ch & 0x80000000u /* IMAGE_SCN_MEM_WRITE */) && vsize && va < m->size && m->nwsec < 16) {
				m->wsec[m->nwsec].rva = va;
				m->wsec[m->nwsec].size = vsize;
				m->nwsec++;
			}
			if ((ch & (0x20u /* CNT_CODE */ | 0x20000000u /* MEM_EXECUTE */)) && vsize &&
			    va < m->size && m->ncsec < 16) {
				m->csec[m->ncsec].rva = va;
				m->csec[m->ncsec].size = vsize;
				m->ncsec++;
			}
		}
	}
	if (dd + 8 * 7 > sizeof hdr)
		return;
	memcpy(&rsrc_rva, hdr + dd + 8 * 2, 4);
	memcpy(&rsrc_size, hdr + dd + 8 * 2 + 4, 4);
	memcpy(&dbg_rva, hdr + dd + 8 * 6, 4);
	memcpy(&dbg_size, hdr + dd + 8 * 6 + 4, 4);
	if (ndirs <= 6)
		dbg_rva = dbg_size = 0;
	if (ndirs <= 2)
		rsrc_rva = rsrc_size = 0;

	/* Debug directory: CodeView (type 2) and Misc (type 4) records. */
	if (dbg_rva && dbg_size && dbg_size % 28 == 0 && dbg_size <= 28 * 32) {
		u8 dir[28 * 32];
		if (w32_read(d->h, m->base + dbg_rva, dir, dbg_size) == 0) {
			for (i = 0; i < dbg_size / 28; i++) {
				u32 type, size, rva;
				u8 *rec;
				memcpy(&type, dir + i * 28 + 12, 4);
				memcpy(&size, dir + i * 28 + 16, 4);
				memcpy(&rva, dir + i * 28 + 20, 4);
				if (!rva || !size || size > 4096 || (type != 2 && type != 4))
					continue;
				if ((type == 2 && m->cv) || (type == 4 && m->misc))
					continue;
				rec = xcalloc(size + 1, 1);
				if (!rec)
					continue;
				if (w32_read(d->h, m->base + rva, rec, size) < 0) {
					free(rec);
					continue;
				}
				if (type == 2) {
					if (size < 24 || (memcmp(rec, "RSDS", 4) && memcmp(rec, "NB10", 4))) {
						free(rec);
						continue;
					}
					/* Breakpad wants the PDB name NUL-terminated */
					if (rec[size - 1] != 0)
						size++;
					m->cv = rec;
					m->cv_len = size;
				} else {
					m->misc = rec;
					m->misc_len = size;
				}
			}
		}
	}

	/* Resource directory: RT_VERSION (16) -> first name -> first language. */
	if (rsrc_rva && rsrc_size >= 16) {
		u8 dirb[16 + 8 * 64], ent[8];
		u64 root = m->base + rsrc_rva;
		u32 off = 0, lvl;
		for (lvl = 0; lvl < 3; lvl++) {
			u16 named, ids;
			u32 cnt, k, found = 0;
			if (w32_read(d->h, root + off, dirb, 16) < 0)
				return;
			memcpy(&named, dirb + 12, 2);
			memcpy(&ids, dirb + 14, 2);
			cnt = (u32)named + ids;
			if (cnt > 64)
				cnt = 64;
			for (k = 0; k < cnt; k++) {
				u32 id, to;
				if (w32_read(d->h, root + off + 16 + 8 * k, ent, 8) < 0)
					return;
				memcpy(&id, ent, 4);
				memcpy(&to, ent + 4, 4);
				if (lvl == 0 && id != 16)
					continue;
				if (lvl < 2 && !(to & 0x80000000u))
					return;
				if (lvl == 2 && (to & 0x80000000u))
					return;
				off = to & 0x7FFFFFFFu;
				found = 1;
				break;
			}
			if (!found)
				return;
		}
		{
			u32 data_rva, data_size;
			u8 vi[40 + 52];
			u16 wlen, vlen;
			u32 sig;
			if (w32_read(d->h, root + off, ent, 8) < 0)
				return;
			memcpy(&data_rva, ent, 4);
			memcpy(&data_size, ent + 4, 4);
			if (data_size < sizeof vi || w32_read(d->h, m->base + data_rva, vi, sizeof vi) < 0)
				return;
			memcpy(&wlen, vi, 2);
			memcpy(&vlen, vi + 2, 2);
			memcpy(&sig, vi + 40, 4);
			if (vlen == 52 && sig == 0xFEEF04BDu && !memcmp(vi + 6, L"VS_VERSION_INFO", 30)) {
				memcpy(&m->ver, vi + 40, 52);
				m->ver.v[10] &= m->ver.v[9]; /* FileFlags &= FileFlagsMask */
			}
			(void)wlen;
		}
	}
}

/* Modules in load order from the PEB's loader list (main executable first). */
static int
dump_collect_modules(struct dump_state *d)
{
	const u64 ps = d->ps;
	/* PEB.Ldr, PEB_LDR_DATA.InLoadOrderModuleList and LDR_DATA_TABLE_ENTRY
	 * offsets for the view's pointer size */
	const u64 off_ldr = ps == 8 ? 0x18 : 0x0C, off_list = ps == 8 ? 0x10 : 0x0C;
	const u64 off_base = ps == 8 ? 0x30 : 0x18, off_size = ps == 8 ? 0x40 : 0x20;
	const u64 off_name = ps == 8 ? 0x48 : 0x24;
	u64 head, cur;
	int ok = 1, guard = 0, cap = 0;

	if (!d->peb) {
		warn("cannot read the process environment block of %lu", d->pid);
		return -1;
	}
	head = dump_rptr(d, d->peb + off_ldr, &ok) + off_list;
	if (!ok)
		return -1;
	cur = dump_rptr(d, head, &ok);
	while (ok && cur && cur != head && guard++ < 4096) {
		struct dmodule m;
		u16 len = 0;
		u64 nbuf;
		memset(&m, 0, sizeof m);
		m.base = dump_rptr(d, cur + off_base, &ok);
		{
			u32 sz = 0;
			if (w32_read(d->h, cur + off_size, &sz, 4) < 0)
				ok = 0;
			m.size = sz;
		}
		if (w32_read(d->h, cur + off_name, &len, 2) < 0)
			ok = 0;
		nbuf = dump_rptr(d, cur + off_name + ps, &ok);
		if (!ok)
			break;
		if (m.base) {
			m.name = xcalloc(len / 2 + 1, sizeof(wchar_t));
			if (m.name && len && w32_read(d->h, nbuf, m.name, len & ~1u) < 0)
				m.name[0] = 0;
			dump_module_pe(d, &m);
			if (vec_grow(&d->mod, &cap, d->nmod, sizeof *d->mod, 64) < 0) {
				free(m.name);
				free(m.cv);
				free(m.misc);
				break;
			}
			d->mod[d->nmod++] = m;
		}
		cur = dump_rptr(d, cur, &ok); /* InLoadOrderLinks.Flink */
	}
	return 0;
}

/* Reads count entries of ntdll's unload ring at addr in the target into
 * d->unl, keeping those that look like modules.  Returns how many. */
static int
dump_read_unload_ring(struct dump_state *d, u64 addr, u32 esize, u32 count)
{
	const u64 ps = d->ps;
	u8 *ring;
	u32 i;
	if (!addr || esize < 2 * ps + 12 + 64 || esize > 4096 || count > 1024)
		return 0;
	ring = xcalloc(count, esize);
	if (!ring || w32_read(d->h, addr, ring, (size_t)esize * count) < 0) {
		free(ring);
		return 0;
	}
	free(d->unl);
	d->unl = xcalloc(count ? count : 1, sizeof *d->unl);
	d->nunl = 0;
	for (i = 0; d->unl && i < count; i++) {
		const u8 *e = ring + (size_t)i * esize;
		struct dunloaded u;
		u64 base = 0, size = 0; /* little-endian: the view's pointer size */
		memset(&u, 0, sizeof u);
		memcpy(&base, e, ps);
		memcpy(&size, e + ps, ps);
		memcpy(&u.timestamp, e + 2 * ps + 4, 4);
		memcpy(&u.checksum, e + 2 * ps + 8, 4);
		memcpy(u.name, e + 2 * ps + 12, 64);
		u.name[32] = 0;
		if (!base || !size || size > 0xFFFFFFFFu || !u.name[0])
			continue;
		u.base = base;
		u.size = (u32)size;
		d->unl[d->nunl++] = u;
	}
	free(ring);
	return d->nunl;
}

/* The x86 view: the 32-bit ntdll's unload trace.  Its
 * RtlGetUnloadEventTraceEx stores three addresses of globals through its
 * three arguments, "mov dword ptr [reg], imm32" (C7 /0) each, in Windows'
 * and Wine's builds alike: take the first three such immediates that lie
 * inside that ntdll, from the export found in target memory. */
static int
dump_unload_trace32(struct dump_state *d, u64 *psize, u64 *pcount, u64 *ptrace)
{
	const struct dmodule *nt = NULL;
	u8 hdr[1024], code[64], *ex = NULL;
	u32 lfanew, erva = 0, esz = 0, nnames, afun, anames, aords, i, found = 0, fn = 0;
	u64 imm[3];
	int k;
	for (k = 0; k < d->nmod; k++)
		if (d->mod[k].name && !_wcsicmp(path_basename(d->mod[k].name), L"ntdll.dll"))
			nt = &d->mod[k];
	if (!nt || w32_read(d->h, nt->base, hdr, sizeof hdr) < 0)
		return -1;
	memcpy(&lfanew, hdr + 0x3C, 4);
	if (lfanew > sizeof hdr - 128 || memcmp(hdr + lfanew, "PE\0\0", 4))
		return -1;
	memcpy(&erva, hdr + lfanew + 24 + 96, 4); /* PE32: DataDirectory[0] */
	memcpy(&esz, hdr + lfanew + 24 + 100, 4);
	if (!erva || esz < 40 || esz > (16u << 20) || (u64)erva + esz > nt->size)
		return -1;
	ex = malloc(esz);
	if (!ex || w32_read(d->h, nt->base + erva, ex, esz) < 0)
		goto out;
	memcpy(&nnames, ex + 24, 4);
	memcpy(&afun, ex + 28, 4);
	memcpy(&anames, ex + 32, 4);
	memcpy(&aords, ex + 36, 4);
	for (i = 0; i < nnames && !found; i++) { /* names and tables lie in the export section */
		u32 nrva = 0, o = anames - erva + 4 * i;
		u16 ord = 0;
		static const char want[] = "RtlGetUnloadEventTraceEx";
		if ((u64)o + 4 > esz)
			break;
		memcpy(&nrva, ex + o, 4);
		if (nrva < erva || (u64)nrva - erva + sizeof want > esz || memcmp(ex + (nrva - erva), want, sizeof want))
			continue;
		o = aords - erva + 2 * i;
		if ((u64)o + 2 > esz)
			break;
		memcpy(&ord, ex + o, 2);
		o = afun - erva + 4 * ord;
		if ((u64)o + 4 > esz)
			break;
		memcpy(&fn, ex + o, 4);
		found = 1;
	}
	if (!found || !fn || fn >= nt->size || w32_read(d->h, nt->base + fn, code, sizeof code) < 0)
		goto out;
	for (i = 0, k = 0; i + 6 <= sizeof code && k < 3; i++) {
		u8 m = code[i + 1];
		u32 v;
		if (code[i] != 0xC7 || (m & 0xF8) != 0 || (m & 7) == 4 || (m & 7) == 5) /* C7 /0, [reg] */
			continue;
		memcpy(&v, code + i + 2, 4);
		if (v < nt->base || v >= nt->base + nt->size)
			continue;
		imm[k++] = v;
		i += 5;
	}
	if (k == 3) {
		*psize = imm[0];
		*pcount = imm[1];
		*ptrace = imm[2];
		free(ex);
		return 0;
	}
out:
	free(ex);
	return -1;
}

/* Unloaded modules from ntdll's unload event trace.  RtlGetUnloadEventTraceEx
 * answers with addresses inside our own ntdll; ntdll sits at the same base
 * in every process of a boot, so the same addresses hold the target's ring
 * (Crashpad does the same).  Skipped when the bases differ.  The x86 view
 * reads the 32-bit ntdll's trace instead (dump_unload_trace32). */
static void
dump_collect_unloaded(struct dump_state *d)
{
	typedef void (NTAPI *fn_trace)(PULONG *, PULONG *, PVOID *);
	HMODULE nt_self = GetModuleHandleW(L"ntdll.dll");
	fn_trace f = (fn_trace)(void (*)(void))GetProcAddress(nt_self, "RtlGetUnloadEventTraceEx");
	PULONG psize = NULL, pcount = NULL;
	PVOID ptrace = NULL;
	u32 esize = 0, count = 0;
	int i, same = 0, ok = 1;
	u64 ring;
	if (d->x86) {
		u64 s32, c32, t32;
		if (dump_unload_trace32(d, &s32, &c32, &t32) < 0 || w32_read(d->h, s32, &esize, 4) < 0 ||
		    w32_read(d->h, c32, &count, 4) < 0)
			return;
		d->have_unl = 1;
		ring = dump_rptr(d, t32, &ok);
		if (!ok || !dump_read_unload_ring(d, ring, esize, count))
			dump_read_unload_ring(d, t32, esize, count);
		return;
	}
	if (!f)
		return;
	for (i = 0; i < d->nmod; i++)
		if (d->mod[i].name && !_wcsicmp(path_basename(d->mod[i].name), L"ntdll.dll") &&
		    d->mod[i].base == (u64)(ULONG_PTR)nt_self)
			same = 1;
	if (!same)
		return;
	f(&psize, &pcount, &ptrace);
	if (!psize || !pcount || !ptrace || w32_read(d->h, (u64)(ULONG_PTR)psize, &esize, 4) < 0 ||
	    w32_read(d->h, (u64)(ULONG_PTR)pcount, &count, 4) < 0)
		return;
	d->have_unl = 1;
	/* ptrace holds the address of the ring's pointer (Windows); if what it
	 * points to holds no module, take ptrace as the ring itself. */
	ring = dump_rptr(d, (u64)(ULONG_PTR)ptrace, &ok);
	if (!ok || !dump_read_unload_ring(d, ring, esize, count))
		dump_read_unload_ring(d, (u64)(ULONG_PTR)ptrace, esize, count);
}

/* ---- Handles: SystemExtendedHandleInformation lists them (per-process
 * handle queries are missing under Wine); each is duplicated to read its
 * type, counts and name.  Name queries can block for ever on synchronous
 * pipes, so File names are read on a worker thread with a deadline, and
 * after one timeout no more File names are asked for in this dump. */

struct pd_handle_entry {       /* SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX */
	PVOID Object;
	ULONG_PTR UniqueProcessId, HandleValue;
	ULONG GrantedAccess;
	USHORT CreatorBackTraceIndex, ObjectTypeIndex;
	ULONG HandleAttributes, Reserved;
};

typedef pd_ntstatus (NTAPI *fn_NtQueryObject)(HANDLE, ULONG, PVOID, ULONG, PULONG);

struct name_job {
	fn_NtQueryObject query;
	HANDLE h;
	u8 buf[2048];
	pd_ntstatus st;
};

static DWORD WINAPI
dump_name_worker(void *arg)
{
	struct name_job *j = arg;
	j->st = j->query(j->h, 1 /* ObjectNameInformation */, j->buf, sizeof j->buf - 2, NULL);
	return 0;
}

static wchar_t *
dump_unicode_dup(const u8 *buf)
{
	const struct pd_unicode_string *us = (const struct pd_unicode_string *)buf;
	wchar_t *w;
	if (!us->Buffer || !us->Length)
		return NULL;
	w = xcalloc(us->Length / 2 + 1, sizeof *w);
	if (w)
		memcpy(w, us->Buffer, us->Length & ~1u);
	return w;
}

static void
dump_collect_handles(struct dump_state *d)
{
	fn_NtQueryObject query = (fn_NtQueryObject)(void (*)(void))
		GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryObject");
	ULONG size = 2u << 20;
	u8 *buf = NULL;
	ULONG_PTR n, i;
	struct pd_handle_entry *e;
	int file_names = 1, cap = 0, names = !(d->mask & MDT_FILTERTRIAGE); /* triage: types only */
	pd_ntstatus st;

	if (!query)
		return;
	for (;;) {
		free(buf);
		buf = malloc(size);
		if (!buf)
			return;
		st = nt.NtQuerySystemInformation(64 /* SystemExtendedHandleInformation */, buf, size, NULL);
		if (st != PD_STATUS_INFO_LENGTH_MISMATCH || size >= (256u << 20))
			break;
		size *= 2; /* the length it reports is not what it needs */
	}
	if (!PD_NT_SUCCESS(st)) {
		vlog("SystemExtendedHandleInformation failed (0x%08lX)\n", (unsigned long)st);
		free(buf);
		return;
	}
	d->have_hdl = 1;
	n = *(ULONG_PTR *)buf;
	e = (struct pd_handle_entry *)(buf + 2 * sizeof(ULONG_PTR));
	for (i = 0; i < n; i++) {
		struct dhandle h;
		HANDLE dup = NULL;
		u8 info[1024];
		if (e[i].UniqueProcessId != d->pid)
			continue;
		memset(&h, 0, sizeof h);
		h.value = e[i].HandleValue;
		h.attributes = e[i].HandleAttributes;
		h.access = e[i].GrantedAccess;
		if (DuplicateHandle(d->h, (HANDLE)e[i].HandleValue, GetCurrentProcess(), &dup, 0, FALSE,
		                    DUPLICATE_SAME_ACCESS)) {
			ULONG basic[14];
			if (PD_NT_SUCCESS(query(dup, 0 /* ObjectBasicInformation */, basic, sizeof basic, NULL))) {
				/* less the references our duplicate adds */
				h.handle_count = basic[2] ? basic[2] - 1 : 0;
				h.pointer_count = basic[3] >= 2 ? basic[3] - 2 : 0;
			}
			memset(info, 0, sizeof info);
			if (PD_NT_SUCCESS(query(dup, 2 /* ObjectTypeInformation */, info, sizeof info - 2, NULL)))
				h.type = dump_unicode_dup(info);
			if (!names) {
				; /* no strings from handles in a triage dump */
			} else if (h.type && !wcscmp(h.type, L"File")) {
				if (file_names) {
					struct name_job *j = xcalloc(1, sizeof *j);
					HANDLE th = NULL;
					if (j) {
						j->query = query;
						j->h = dup;
						th = CreateThread(NULL, 0, dump_name_worker, j, 0, NULL);
					}
					if (th && WaitForSingleObject(th, 200) == WAIT_OBJECT_0) {
						if (PD_NT_SUCCESS(j->st))
							h.name = dump_unicode_dup(j->buf);
						free(j);
						CloseHandle(dup);
					} else if (th) {
						/* blocked (a synchronous pipe): leave the thread,
						 * its job and the duplicate; ask no more File names */
						file_names = 0;
						vlog("handle 0x%llx: name query blocked; File names skipped\n", h.value);
					} else {
						free(j);
						CloseHandle(dup);
					}
					if (th)
						CloseHandle(th);
					dup = NULL;
				}
			} else {
				memset(info, 0, sizeof info);
				if (PD_NT_SUCCESS(query(dup, 1 /* ObjectNameInformation */, info, sizeof info - 2, NULL)))
					h.name = dump_unicode_dup(info);
			}
			if (dup)
				CloseHandle(dup);
		}
		if (vec_grow(&d->hdl, &cap, d->nhdl, sizeof *d->hdl, 64) < 0) {
			free(h.type);
			free(h.name);
			break;
		}
		d->hdl[d->nhdl++] = h;
	}
	free(buf);
}

/* TokenStream (WithTokenInformation, 0x40000).  Only the list header
 * (MINIDUMP_TOKEN_INFO_LIST) and each record's MINIDUMP_TOKEN_INFO_HEADER
 * are in minidumpapiset.h; the data after them is undocumented.  We write
 * the layout of a reverse-engineered account of dbghelp's: after the header,
 * seven {offset, size} pairs (offsets from the record's start) for
 * TokenSessionId, TokenUser, TokenGroups, TokenPrimaryGroup,
 * TokenPrivileges, TokenStatistics and TokenRestrictedSids, each field
 * 8-aligned, with every SID pointer replaced by its offset from the start
 * of its field.  ElementHeaderSize is therefore 16 + 7 * 8.  One record for
 * the process token (TokenId = PID) and one per impersonating thread
 * (TokenId = TID); a class the token does not answer has size 0. */
#define TOK_NFIELDS 7

static u8 *
dump_token_query(HANDLE tok, TOKEN_INFORMATION_CLASS c, DWORD *len)
{
	DWORD need = 0;
	u8 *p;
	*len = 0;
	if (GetTokenInformation(tok, c, NULL, 0, &need) || GetLastError() != ERROR_INSUFFICIENT_BUFFER || !need)
		return NULL;
	p = malloc(need);
	if (p && !GetTokenInformation(tok, c, p, need, &need)) {
		free(p);
		return NULL;
	}
	*len = need;
	return p;
}

/* A SID pointed to from inside a GetTokenInformation buffer, checked */
static DWORD
dump_token_sid(const u8 *info, DWORD len, PSID sid)
{
	if (!sid || (const u8 *)sid < info || (const u8 *)sid + 8 > info + len || !IsValidSid(sid))
		return 0;
	if ((const u8 *)sid + GetLengthSid(sid) > info + len)
		return 0;
	return GetLengthSid(sid);
}

/* {u32 count, count x {u32 sid_offset, u32 attributes}}, 8-aligned, SIDs */
static int
dump_token_groups(struct buf *b, const u8 *info, DWORD len)
{
	const TOKEN_GROUPS *g = (const TOKEN_GROUPS *)info;
	size_t start = b->len;
	u32 i;
	if (len < sizeof(DWORD) || g->GroupCount > (len - offsetof(TOKEN_GROUPS, Groups)) / sizeof(SID_AND_ATTRIBUTES))
		return -1;
	buf_add(b, &g->GroupCount, 4, 1);
	buf_add(b, NULL, 8 * (size_t)g->GroupCount, 1);
	for (i = 0; i < g->GroupCount && !b->oom; i++) {
		DWORD n = dump_token_sid(info, len, g->Groups[i].Sid);
		u32 pair[2];
		size_t at;
		if (!n)
			return -1;
		at = buf_add(b, g->Groups[i].Sid, n, i ? 1 : 8);
		pair[0] = (u32)(at - start);
		pair[1] = g->Groups[i].Attributes;
		if (!b->oom)
			memcpy(b->p + start + 4 + 8 * (size_t)i, pair, 8);
	}
	return b->oom ? -1 : 0;
}

/* One record in d->tok; 0, or -1 if the token says too little (no user) */
static int
dump_token_record(struct dump_state *d, HANDLE tok, DWORD id)
{
	static const TOKEN_INFORMATION_CLASS cls[TOK_NFIELDS] = {
		TokenSessionId, TokenUser, TokenGroups, TokenPrimaryGroup,
		TokenPrivileges, TokenStatistics, TokenRestrictedSids };
	struct buf *b = &d->tok;
	u32 pairs[2 * TOK_NFIELDS];
	int i, ok = 0;
	size_t start;

	memset(pairs, 0, sizeof pairs);
	start = buf_add(b, NULL, 16 + sizeof pairs, 8); /* header and pairs, filled in last */
	for (i = 0; i < TOK_NFIELDS && !b->oom; i++) {
		DWORD len;
		u8 *info = dump_token_query(tok, cls[i], &len);
		size_t at;
		buf_add(b, NULL, 0, 8);
		at = b->len;
		if (info) {
			if (cls[i] == TokenUser || cls[i] == TokenPrimaryGroup) {
				/* {u32 sid_offset = 8, u32 attributes}, SID */
				PSID sid = cls[i] == TokenUser ? ((TOKEN_USER *)info)->User.Sid
				                               : ((TOKEN_PRIMARY_GROUP *)info)->PrimaryGroup;
				DWORD n = len >= sizeof(void *) ? dump_token_sid(info, len, sid) : 0;
				if (n) {
					u32 two[2] = { 8, cls[i] == TokenUser ? ((TOKEN_USER *)info)->User.Attributes : 0 };
					buf_add(b, two, 8, 1);
					buf_add(b, sid, n, 1);
					ok |= cls[i] == TokenUser;
				}
			} else if (cls[i] == TokenGroups || cls[i] == TokenRestrictedSids) {
				if (dump_token_groups(b, info, len) < 0)
					b->len = at; /* a malformed answer: left out */
			} else {
				buf_add(b, info, len, 1); /* no pointers inside */
			}
			free(info);
		}
		pairs[2 * i] = (u32)(at - start);
		pairs[2 * i + 1] = (u32)(b->len - at);
	}
	buf_add(b, NULL, 0, 8);
	if (b->oom || !ok) {
		b->len = start;
		return -1;
	}
	{
		u32 h[4];
		u64 hv = (u64)(ULONG_PTR)tok;
		h[0] = (u32)(b->len - start);
		h[1] = id;
		memcpy(&h[2], &hv, 8);
		memcpy(b->p + start, h, 16);
		memcpy(b->p + start + 16, pairs, sizeof pairs);
	}
	d->ntok++;
	return 0;
}

static void
dump_collect_tokens(struct dump_state *d)
{
	HANDLE tok;
	int i;
	buf_add(&d->tok, NULL, 16, 1); /* MINIDUMP_TOKEN_INFO_LIST, filled in at the end */
	if (OpenProcessToken(d->h, TOKEN_QUERY, &tok)) {
		dump_token_record(d, tok, d->pid);
		CloseHandle(tok);
	} else {
		vlog("token of process %lu: error %lu\n", d->pid, GetLastError());
	}
	for (i = 0; i < d->nth; i++)
		if (OpenThreadToken(d->th[i].h, TOKEN_QUERY, TRUE, &tok)) { /* impersonating */
			dump_token_record(d, tok, d->th[i].tid);
			CloseHandle(tok);
		}
	if (d->tok.oom || !d->ntok) {
		free(d->tok.p);
		memset(&d->tok, 0, sizeof d->tok);
		d->ntok = 0;
		return;
	}
	{
		u32 h[4] = { (u32)d->tok.len, d->ntok, 16, 16 + 8 * TOK_NFIELDS };
		memcpy(d->tok.p, h, 16);
	}
	d->have_tok = 1;
}

static void
dump_free_modules(struct dump_state *d)
{
	int i;
	for (i = 0; i < d->nmod; i++) {
		free(d->mod[i].name);
		free(d->mod[i].cv);
		free(d->mod[i].misc);
	}
	free(d->mod);
	d->mod = NULL;
	d->nmod = 0;
}

static int
dump_add_range(struct dump_state *d, u64 start, u64 size)
{
	if (!size)
		return 0;
	if (vec_grow(&d->rng, &d->cap_rng, d->nrng, sizeof *d->rng, 256) < 0)
		return -1;
	d->rng[d->nrng].start = start;
	d->rng[d->nrng].size = size;
	d->nrng++;
	return 0;
}

/* The index of the region holding addr, or of the first one after it. */
static int
dump_region_index(const struct dump_state *d, u64 addr)
{
	int lo = 0, hi = d->nreg;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (d->reg[mid].base + d->reg[mid].size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct dregion *
dump_region_of(const struct dump_state *d, u64 addr)
{
	int i = dump_region_index(d, addr);
	return i < d->nreg && d->reg[i].base <= addr ? &d->reg[i] : NULL;
}

/* Adds [start, start+size) clipped to readable regions of the map. */
static void
dump_add_readable(struct dump_state *d, u64 start, u64 size)
{
	u64 end = start + size;
	int i;
	if (end < start)
		end = ~0ULL;
	for (i = dump_region_index(d, start); i < d->nreg && d->reg[i].base < end; i++) {
		const struct dregion *r = &d->reg[i];
		u64 a = r->base, b = r->base + r->size;
		if (b <= start || a >= end || !dump_readable(r))
			continue;
		if (a < start)
			a = start;
		if (b > end)
			b = end;
		dump_add_range(d, a, b - a);
	}
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sorts, then merges overlapping and touching ranges: no reader accepts
 * overlaps, and a read that straddles two descriptors gets truncated. */
static void
dump_coalesce(struct dump_state *d, u64 max_size)
{
	int i, o = 0;
	if (!d->nrng)
		return;
	qsort(d->rng, d->nrng, sizeof *d->rng, range_cmp);
	for (i = 1; i < d->nrng; i++) {
		struct range *c = &d->rng[o];
		u64 cend = c->start + c->size, nend = d->rng[i].start + d->rng[i].size;
		if (d->rng[i].start <= cend && (nend <= cend || nend - c->start <= max_size)) {
			if (nend > cend)
				c->size = nend - c->start;
		} else
			d->rng[++o] = d->rng[i];
	}
	d->nrng = o + 1;
}

/* Reads target memory, zero-filling pages that cannot be read so that the
 * layout planned before writing stays exact. */
static u64
dump_read_fill(HANDLE h, u64 addr, u8 *buf, size_t n)
{
	SIZE_T got = 0;
	u64 bad = 0;
	size_t off = 0;
	if (ReadProcessMemory(h, (LPCVOID)(ULONG_PTR)addr, buf, n, &got) && got == n)
		return 0;
	while (off < n) {
		size_t step = 4096 - (size_t)((addr + off) & 4095);
		if (step > n - off)
			step = n - off;
		if (!ReadProcessMemory(h, (LPCVOID)(ULONG_PTR)(addr + off), buf + off, step, &got) || got != step) {
			memset(buf + off, 0, step);
			bad += step;
		}
		off += step;
	}
	return bad;
}

static u32
dump_add_string(struct buf *b, const wchar_t *s)
{
	u32 len = (u32)(wcslen(s) * 2);
	size_t off = buf_add(b, &len, 4, 4);
	buf_add(b, s, len + 2, 1);
	return (u32)off;
}

static void
dump_system_info(struct buf *b, struct md_dir *dir, int x86)
{
	struct md_sysinfo si;
	SYSTEM_INFO ns;
	OSVERSIONINFOEXW v;
	size_t off;
	u32 csd;
	int i;

	memset(&si, 0, sizeof si);
	memset(&v, 0, sizeof v);
	v.dwOSVersionInfoSize = sizeof v;
	GetNativeSystemInfo(&ns);
	if (!nt.RtlGetVersion || !PD_NT_SUCCESS(nt.RtlGetVersion(&v))) {
		v.dwOSVersionInfoSize = sizeof v;
		GetVersionExW((OSVERSIONINFOW *)&v);
	}
	if (!x86) {
		si.arch = PROCESSOR_ARCHITECTURE_AMD64;
		for (i = 0; i < 128; i++)
			if (IsProcessorFeaturePresent(i))
				si.cpu.other.features[i / 64] |= 1ULL << (i % 64);
	} else {
		unsigned a, bx, c, dx;
		si.arch = PROCESSOR_ARCHITECTURE_INTEL;
		if (__get_cpuid(0, &a, &bx, &c, &dx)) {
			si.cpu.x86.vendor[0] = bx;
			si.cpu.x86.vendor[1] = dx;
			si.cpu.x86.vendor[2] = c;
			if (__get_cpuid(1, &a, &bx, &c, &dx)) {
				si.cpu.x86.version = a;
				si.cpu.x86.features = dx;
			}
			if (si.cpu.x86.vendor[0] == 0x68747541 /* "Auth" */ &&
			    __get_cpuid(0x80000001, &a, &bx, &c, &dx))
				si.cpu.x86.amd_ext = dx;
		}
	}
	si.level = ns.wProcessorLevel;
	si.revision = ns.wProcessorRevision;
	si.nproc = (u8)(ns.dwNumberOfProcessors > 255 ? 255 : ns.dwNumberOfProcessors);
	si.product_type = v.wProductType;
	si.major = v.dwMajorVersion;
	si.minor = v.dwMinorVersion;
	si.build = v.dwBuildNumber;
	si.platform = VER_PLATFORM_WIN32_NT;
	si.suite = v.wSuiteMask;
	off = buf_add(b, &si, sizeof si, 4);
	csd = dump_add_string(b, v.szCSDVersion);
	memcpy(b->p + off + offsetof(struct md_sysinfo, csd_rva), &csd, 4);
	dir->type = MD_SYSTEMINFO;
	dir->size = sizeof si;
	dir->rva = (u32)off;
}

/* ProcessThreadData: the PEB, the loader data and its module entries with
 * their names, the process parameters with their strings and environment,
 * and every TEB: what !peb and !teb read.  Layouts for this build's pointer
 * size (the target has the same).  Every pointer is checked against the
 * memory map before it is followed; a suspended loader may be mid-update. */
static void
dump_plan_process_data(struct dump_state *d)
{
	const u64 ps = d->ps;
	const u64 peb_size = ps == 8 ? 0x7C8 : 0x480, ldr_size = ps == 8 ? 0x58 : 0x30;
	const u64 entry_size = ps == 8 ? 0x120 : 0xA8, params_size = ps == 8 ? 0x440 : 0x2C0;
	const u64 teb_size = ps == 8 ? 0x1838 : 0xFE4;
	u64 peb, ldr, params, head, cur, env;
	int ok = 1, i, guard = 0;
	/* UNICODE_STRING fields of RTL_USER_PROCESS_PARAMETERS: CurrentDirectory,
	 * DllPath, ImagePathName, CommandLine, WindowTitle, DesktopInfo, ShellInfo */
	static const u16 str64[] = { 0x38, 0x50, 0x60, 0x70, 0xB0, 0xC0, 0xD0 };
	static const u16 str32[] = { 0x24, 0x30, 0x38, 0x40, 0x70, 0x78, 0x80 };

	for (i = 0; i < d->nth; i++)
		if (d->th[i].teb)
			dump_add_readable(d, d->th[i].teb, teb_size);
	if (!d->peb)
		return;
	peb = d->peb;
	dump_add_readable(d, peb, peb_size);
	ldr = dump_rptr(d, peb + (ps == 8 ? 0x18 : 0x0C), &ok);
	if (ok && dump_region_of(d, ldr)) {
		dump_add_readable(d, ldr, ldr_size);
		head = ldr + (ps == 8 ? 0x10 : 0x0C);
		cur = dump_rptr(d, head, &ok);
		while (ok && cur && cur != head && guard++ < 4096 && dump_region_of(d, cur)) {
			int k;
			dump_add_readable(d, cur, entry_size);
			for (k = 0; k < 2; k++) { /* FullDllName, BaseDllName */
				u64 us = cur + (ps == 8 ? 0x48 : 0x24) + k * (ps == 8 ? 16 : 8);
				u16 len = 0;
				u64 buf;
				if (w32_read(d->h, us, &len, 2) < 0)
					break;
				buf = dump_rptr(d, us + ps, &ok);
				if (ok && buf && len)
					dump_add_readable(d, buf, (u64)len + 2);
			}
			cur = dump_rptr(d, cur, &ok);
		}
	}
	ok = 1;
	params = dump_rptr(d, peb + (ps == 8 ? 0x20 : 0x10), &ok);
	if (!ok || !dump_region_of(d, params))
		return;
	dump_add_readable(d, params, params_size);
	for (i = 0; i < 7; i++) {
		u64 us = params + (ps == 8 ? str64[i] : str32[i]);
		u16 len = 0;
		u64 buf;
		if (w32_read(d->h, us, &len, 2) < 0)
			continue;
		buf = dump_rptr(d, us + ps, &ok);
		if (ok && buf && len)
			dump_add_readable(d, buf, (u64)len + 2);
		ok = 1;
	}
	/* the environment block ends with two NULs; at most 32 K characters */
	env = dump_rptr(d, params + (ps == 8 ? 0x80 : 0x48), &ok);
	if (ok && env && dump_region_of(d, env)) {
		wchar_t chunk[2048];
		u64 n = 0;
		while (n < 32768) {
			size_t k;
			if (w32_read(d->h, env + n * 2, chunk, sizeof chunk) < 0)
				break;
			for (k = 0; k + 1 < 2048; k++)
				if (!chunk[k] && !chunk[k + 1])
					break;
			if (k + 1 < 2048) {
				n += k + 2;
				break;
			}
			n += 2047;
		}
		dump_add_readable(d, env, n * 2);
	}
}

/* Indirectly referenced memory (Crashpad's algorithm): every register and
 * every pointer-aligned word of each captured stack that points into
 * readable memory outside that stack adds [v-128, v+384).  One level, with
 * a budget of 16 MiB of windows. */
#define PD_INDIRECT_BUDGET (16u << 20)

/* Calls fn for every register and every pointer-aligned word of each
 * thread's captured stack ([SP, StackBase), at most 4 MiB), with the stack's
 * bounds; fn returns nonzero to stop.  Values that cannot be user-space
 * pointers (below 64 KiB or in the top 64 KiB) are skipped. */
typedef int (*dump_word_fn)(struct dump_state *, u64 lo, u64 hi, u64 v, void *ctx);

static void
dump_scan_pointers(struct dump_state *d, dump_word_fn fn, void *ctx)
{
	u64 top = d->nreg ? d->reg[d->nreg - 1].base + d->reg[d->nreg - 1].size : 0;
	int i;
	for (i = 0; i < d->nth; i++) {
		struct dthread *t = &d->th[i];
		u8 *words = NULL;
		size_t nw = 0, k, nreg = 0;
		u64 lo, hi = t->stack_base, regs[17];
		int stop = 0;
		if (t->ctx_ok && d->x86) {
			const WOW64_CONTEXT *c = (const WOW64_CONTEXT *)t->ctx;
			u64 r[] = { c->Eax, c->Ebx, c->Ecx, c->Edx, c->Esi, c->Edi, c->Ebp };
			for (nreg = 0; nreg < sizeof r / sizeof r[0]; nreg++)
				regs[nreg] = r[nreg];
		} else if (t->ctx_ok) {
#ifdef _WIN64
			const CONTEXT *c = t->ctx;
			u64 r[] = { c->Rax, c->Rbx, c->Rcx, c->Rdx, c->Rsi, c->Rdi, c->Rbp, c->R8, c->R9,
			            c->R10, c->R11, c->R12, c->R13, c->R14, c->R15 };
#else
			const CONTEXT *c = t->ctx;
			u64 r[] = { c->Eax, c->Ebx, c->Ecx, c->Edx, c->Esi, c->Edi, c->Ebp };
#endif
			for (nreg = 0; nreg < sizeof r / sizeof r[0]; nreg++)
				regs[nreg] = r[nreg];
		}
		lo = t->sp & ~(u64)(d->ps - 1);
		if (!t->ctx_ok || t->sp < t->stack_limit || t->sp > t->stack_base)
			lo = t->stack_limit;
		if (hi > lo && hi - lo <= (4u << 20)) {
			nw = (size_t)((hi - lo) / d->ps);
			words = malloc(nw * d->ps);
			if (!words || dump_read_fill(d->h, lo, words, nw * d->ps) == nw * d->ps)
				nw = 0; /* nothing readable */
		}
		for (k = 0; k < nreg + nw && !stop; k++) {
			u64 v = 0;
			if (k < nreg)
				v = regs[k];
			else
				memcpy(&v, words + (k - nreg) * d->ps, d->ps); /* little-endian */
			if (v < 0x10000 || v > top - 0x10000)
				continue;
			stop = fn(d, lo, hi, v, ctx);
		}
		free(words);
		if (stop)
			break;
	}
}

static int
dump_indirect_word(struct dump_state *d, u64 lo, u64 hi, u64 v, void *ctx)
{
	u64 *spent = ctx;
	const struct dregion *r;
	if (v >= lo && v < hi)
		return 0; /* into this thread's own stack: already there */
	r = dump_region_of(d, v);
	if (!r || !dump_readable(r))
		return 0;
	dump_add_readable(d, v - 128, 512);
	*spent += 512;
	return *spent >= PD_INDIRECT_BUDGET;
}

static void
dump_plan_indirect(struct dump_state *d)
{
	u64 spent = 0;
	dump_scan_pointers(d, dump_indirect_word, &spent);
	if (spent >= PD_INDIRECT_BUDGET)
		vlog("indirectly referenced memory: budget of %u MiB spent\n", PD_INDIRECT_BUDGET >> 20);
}

/* MiniPlus (Windows Sysinternals Administrator's Reference, p. 234): the
 * Mini content plus all private memory and the writable image and mapped
 * pages, less the heaviest "area" over 512 MB (an area is every private
 * allocation of one size; its weight is count times size), of which each
 * 4 MB chunk that a register or stack word points into comes back. */
struct mp_alloc { u64 base, size; int excluded; };

struct mp_ctx { struct mp_alloc *a; int n; };

static int
dump_mp_word(struct dump_state *d, u64 lo, u64 hi, u64 v, void *ctx)
{
	struct mp_ctx *c = ctx;
	int i;
	(void)lo; (void)hi;
	for (i = 0; i < c->n; i++)
		if (c->a[i].excluded && v >= c->a[i].base && v < c->a[i].base + c->a[i].size) {
			u64 chunk = c->a[i].base + ((v - c->a[i].base) & ~(u64)((4u << 20) - 1));
			dump_add_readable(d, chunk, 4u << 20);
		}
	return 0;
}

static int
mp_alloc_cmp(const void *x, const void *y)
{
	const struct mp_alloc *a = x, *b = y;
	return a->size < b->size ? -1 : a->size > b->size;
}

static void
dump_plan_miniplus(struct dump_state *d)
{
	struct mp_alloc *a = NULL;
	struct mp_ctx c;
	int n = 0, cap = 0, i, j;
	u64 best_size = 0, best_weight = 0;
	int best_count = 0;

	/* private allocations (by AllocationBase) and their committed readable sizes */
	for (i = 0; i < d->nreg; i++) {
		const struct dregion *r = &d->reg[i];
		if (!dump_readable(r) || r->type != MEM_PRIVATE)
			continue;
		if (n && a[n - 1].base == r->alloc_base) {
			a[n - 1].size += r->size;
			continue;
		}
		if (vec_grow(&a, &cap, n, sizeof *a, 256) < 0) {
			free(a);
			return;
		}
		a[n].base = r->alloc_base;
		a[n].size = r->size;
		a[n].excluded = 0;
		n++;
	}
	/* the heaviest area: sort by size, weigh runs of equal sizes */
	{
		struct mp_alloc *s = n ? malloc(n * sizeof *s) : NULL;
		if (s) {
			memcpy(s, a, n * sizeof *s);
			qsort(s, n, sizeof *s, mp_alloc_cmp);
			for (i = 0; i < n; i = j) {
				for (j = i; j < n && s[j].size == s[i].size; j++)
					;
				if ((u64)(j - i) * s[i].size > best_weight) {
					best_weight = (u64)(j - i) * s[i].size;
					best_size = s[i].size;
					best_count = j - i;
				}
			}
			free(s);
		}
	}
	if (best_weight > (512ULL << 20)) {
		for (i = 0; i < n; i++)
			a[i].excluded = a[i].size == best_size;
		d->mp_excluded = best_weight;
		d->mp_excluded_count = best_count;
		d->mp_excluded_size = best_size;
	}
	/* candidates: private memory not excluded, writable image/mapped pages */
	for (i = 0; i < d->nreg; i++) {
		const struct dregion *r = &d->reg[i];
		DWORD p = r->protect & 0xFF;
		if (!dump_readable(r))
			continue;
		if (r->type == MEM_PRIVATE) {
			int ex = 0;
			for (j = 0; j < n; j++)
				if (a[j].base == r->alloc_base && a[j].excluded)
					ex = 1;
			if (!ex)
				dump_add_range(d, r->base, r->size);
		} else if (p == PAGE_READWRITE || p == PAGE_WRITECOPY || p == PAGE_EXECUTE_READWRITE ||
		           p == PAGE_EXECUTE_WRITECOPY)
			dump_add_range(d, r->base, r->size);
	}
	/* second chance for the excluded area: chunks something points into */
	if (d->mp_excluded) {
		c.a = a;
		c.n = n;
		dump_scan_pointers(d, dump_mp_word, &c);
	}
	free(a);
}

/* Breakpad rejects a MemoryList of more than 4096 ranges: merge ranges
 * across small gaps (within one readable region) until few enough. */
static void
dump_limit_ranges(struct dump_state *d, int max)
{
	u64 gap = 4096;
	while (d->nrng > max && gap < (1ULL << 32)) {
		int i, o = 0;
		for (i = 1; i < d->nrng; i++) {
			struct range *c = &d->rng[o];
			u64 cend = c->start + c->size;
			const struct dregion *ra = dump_region_of(d, cend - 1), *rb = dump_region_of(d, d->rng[i].start);
			if (d->rng[i].start - cend <= gap && ra && ra == rb)
				c->size = d->rng[i].start + d->rng[i].size - c->start;
			else
				d->rng[++o] = d->rng[i];
		}
		d->nrng = o + 1;
		gap *= 4;
	}
}

/* ---- -md: MiniDumpWriteDump's callback protocol, called as dbghelp calls
 * it: IncludeThread and Thread for each thread, IncludeModule and Module
 * for each module (FALSE leaves it out; the write flags it leaves out
 * parts), then Memory until it returns FALSE or size 0 (ranges to add),
 * RemoveMemory likewise (ranges to cut), and Cancel before writing. */

/* Clears both blocks for the next call; flags is the Thread/ModuleWriteFlags
 * default (the same union slot). */
static void
dump_call_reset(MINIDUMP_CALLBACK_INPUT *in, MINIDUMP_CALLBACK_OUTPUT *out, ULONG flags)
{
	memset(in, 0, sizeof *in);
	memset(out, 0, sizeof *out);
	out->ModuleWriteFlags = flags;
}

static BOOL
dump_call(struct dump_state *d, ULONG type, MINIDUMP_CALLBACK_INPUT *in, MINIDUMP_CALLBACK_OUTPUT *out)
{
	in->ProcessId = d->pid;
	in->ProcessHandle = d->h;
	in->CallbackType = type;
	return d->req->callback(d->req->callback_param, in, out);
}

/* Cuts [start, start+size) out of the planned ranges; they are left
 * unsorted (the caller sorts once after all cuts). */
static void
dump_remove_range(struct dump_state *d, u64 start, u64 size)
{
	u64 end = start + size;
	int i;
	for (i = 0; i < d->nrng; i++) {
		struct range *r = &d->rng[i];
		u64 rs = r->start, re = r->start + r->size;
		if (re <= start || rs >= end)
			continue;
		if (rs < start && re > end) { /* split in two */
			r->size = start - rs;
			dump_add_range(d, end, re - end);
			continue;
		}
		if (rs < start)
			r->size = start - rs;
		else if (re > end) {
			r->start = end;
			r->size = re - end;
		} else
			r->size = 0;
	}
	for (i = 0; i < d->nrng;) /* drop emptied ranges */
		if (!d->rng[i].size)
			d->rng[i] = d->rng[--d->nrng];
		else
			i++;
}

/* Thread and module callbacks; before the plan.  Returns -1 on no memory. */
static int
dump_callbacks_select(struct dump_state *d)
{
	MINIDUMP_CALLBACK_INPUT *in = _aligned_malloc(sizeof *in, 16);
	MINIDUMP_CALLBACK_OUTPUT out;
	int i, keep;
	if (!in)
		return -1;
	d->nth_all = d->nth;
	for (i = 0, keep = 0; i < d->nth; i++) {
		struct dthread *t = &d->th[i], tmp;
		int ok;
		dump_call_reset(in, &out, 0x7F);
		in->IncludeThread.ThreadId = t->tid;
		ok = dump_call(d, IncludeThreadCallback, in, &out);
		t->write_flags = out.ThreadWriteFlags;
		if (ok) {
			dump_call_reset(in, &out, t->write_flags);
			in->Thread.ThreadId = t->tid;
			in->Thread.ThreadHandle = t->h;
			if (t->ctx)
				memcpy(&in->Thread.Context, t->ctx, sizeof(CONTEXT));
			in->Thread.SizeOfContext = d->x86 ? sizeof(WOW64_CONTEXT) : sizeof(CONTEXT);
			in->Thread.StackBase = t->stack_base;
			in->Thread.StackEnd = t->stack_limit;
			ok = dump_call(d, ThreadCallback, in, &out);
			t->write_flags = out.ThreadWriteFlags;
		}
		if (!ok || !(t->write_flags & 0x1 /* ThreadWriteThread */)) {
			vlog("callback: thread %lu left out\n", t->tid);
			continue;
		}
		/* keep: move to the front; excluded ones stay suspended at the end */
		tmp = d->th[keep];
		d->th[keep] = *t;
		*t = tmp;
		keep++;
	}
	d->nth = keep;
	for (i = 0, keep = 0; i < d->nmod; i++) {
		struct dmodule *m = &d->mod[i];
		int ok;
		dump_call_reset(in, &out, 0x7F);
		in->IncludeModule.BaseOfImage = m->base;
		ok = dump_call(d, IncludeModuleCallback, in, &out);
		m->write_flags = out.ModuleWriteFlags;
		if (ok) {
			dump_call_reset(in, &out, m->write_flags);
			in->Module.FullPath = m->name;
			in->Module.BaseOfImage = m->base;
			in->Module.SizeOfImage = m->size;
			in->Module.CheckSum = m->checksum;
			in->Module.TimeDateStamp = m->timestamp;
			memcpy(&in->Module.VersionInfo, &m->ver, sizeof m->ver);
			in->Module.CvRecord = m->cv;
			in->Module.SizeOfCvRecord = m->cv_len;
			in->Module.MiscRecord = m->misc;
			in->Module.SizeOfMiscRecord = m->misc_len;
			ok = dump_call(d, ModuleCallback, in, &out);
			m->write_flags = out.ModuleWriteFlags;
		}
		if (!ok || !(m->write_flags & 0x1 /* ModuleWriteModule */)) {
			vlog("callback: module %s left out\n", u8s(m->name ? m->name : L"?"));
			free(m->name);
			free(m->cv);
			free(m->misc);
			continue;
		}
		if (!(m->write_flags & 0x8)) { /* ModuleWriteCvRecord */
			free(m->cv);
			m->cv = NULL;
		}
		if (!(m->write_flags & 0x4)) { /* ModuleWriteMiscRecord */
			free(m->misc);
			m->misc = NULL;
		}
		if (!(m->write_flags & 0x2)) /* ModuleWriteDataSeg */
			m->nwsec = 0;
		if (!(m->write_flags & 0x40)) /* ModuleWriteCodeSegs */
			m->ncsec = 0;
		d->mod[keep++] = *m;
	}
	d->nmod = keep;
	_aligned_free(in);
	return 0;
}

/* Memory and RemoveMemory callbacks, after the plan; then Cancel.
 * Returns 1 when the callback cancels the dump. */
static int
dump_callbacks_memory(struct dump_state *d)
{
	MINIDUMP_CALLBACK_INPUT *in = _aligned_malloc(sizeof *in, 16);
	MINIDUMP_CALLBACK_OUTPUT out;
	int k, cancel = 0, added = 0, removed = 0;
	if (!in)
		return 0;
	for (k = 0; k < 100000; k++) {
		dump_call_reset(in, &out, 0);
		if (!dump_call(d, MemoryCallback, in, &out) || !out.MemorySize)
			break;
		dump_add_readable(d, out.MemoryBase, out.MemorySize);
		added = 1;
	}
	if (added)
		dump_coalesce(d, 0xFFFFF000ULL);
	for (k = 0; k < 100000; k++) {
		dump_call_reset(in, &out, 0);
		if (!dump_call(d, RemoveMemoryCallback, in, &out) || !out.MemorySize)
			break;
		dump_remove_range(d, out.MemoryBase, out.MemorySize);
		removed = 1;
	}
	if (removed)
		qsort(d->rng, d->nrng, sizeof *d->rng, range_cmp);
	dump_call_reset(in, &out, 0);
	if (dump_call(d, CancelCallback, in, &out) && out.Cancel)
		cancel = 1;
	_aligned_free(in);
	return cancel;
}

/* The -64 view of a WOW64 process also holds what lets a reader switch to
 * the x86 side (lldb reads the x86 CONTEXT at TEB64.TlsSlots[1] + 4,
 * WOW64_TLS_CPURESERVED; WinDbg's !wow64exts.sw): that area, the 32-bit
 * TEB, the 32-bit stack from ESP to its base and the code around EIP. */
static void
dump_plan_wow64_thread(struct dump_state *d, const struct dthread *t)
{
	u64 cpu, teb32, base, limit, lo;
	u32 v = 0, esp = 0, eip = 0;
	int ok = 1;
	if (!t->teb)
		return;
	cpu = w32_read_ptr(d->h, t->teb + 0x1480 + 8, &ok); /* TlsSlots[1] */
	if (ok && cpu) {
		dump_add_readable(d, cpu, 4 + sizeof(WOW64_CONTEXT));
		w32_read(d->h, cpu + 4 + offsetof(WOW64_CONTEXT, Esp), &esp, 4);
		w32_read(d->h, cpu + 4 + offsetof(WOW64_CONTEXT, Eip), &eip, 4);
	}
	teb32 = dump_teb32(d, t->teb);
	dump_add_readable(d, teb32, 0xFE4);
	if (w32_read(d->h, teb32 + 4, &v, 4) < 0)
		return;
	base = v;
	if (w32_read(d->h, teb32 + 8, &v, 4) < 0)
		return;
	limit = v;
	lo = esp >= limit && esp < base ? esp - 4 : limit;
	if (base > lo && base - lo <= (16u << 20))
		dump_add_readable(d, lo, base - lo);
	if (eip > 128)
		dump_add_readable(d, eip - 128, 256);
}

/* Plans the memory ranges of a MINIDUMP_TYPE mask (minidump-writer-spec.md
 * section 1.4; -mm and -ma are fixed masks). */
static int
dump_plan_memory(struct dump_state *d, u64 mask)
{
	int i;
	/* WithoutOptionalData drops what these flags would add */
	u64 opt = mask & MDT_WITHOUTOPTIONAL ? mask & ~(u64)(MDT_PROCESSTHREADDATA | MDT_INDIRECT |
	                                                     MDT_PRIVATERW) : mask;
	if (mask & MDT_FULLMEMORY) {
		for (i = 0; i < d->nreg; i++)
			if (dump_readable(&d->reg[i]))
				dump_add_range(d, d->reg[i].base, d->reg[i].size);
		dump_coalesce(d, ~0ULL);
		return 0;
	}
	/* Mini: every stack from SP (less one word) to its base, and 256 bytes
	 * around every instruction pointer. */
	for (i = 0; i < d->nth; i++) {
		struct dthread *t = &d->th[i];
		ULONG wf = d->req->callback ? t->write_flags : 0x7F;
		if (t->stack_base > t->stack_limit && (wf & 0x2 /* ThreadWriteStack */)) {
			u64 lo = t->sp - d->ps;
			if (!t->ctx_ok || t->sp < t->stack_limit || t->sp > t->stack_base)
				lo = t->stack_limit;
			dump_add_readable(d, lo, t->stack_base - lo);
		}
		if (t->ctx_ok && t->ip > 128 && (wf & 0x10 /* ThreadWriteInstructionWindow */))
			dump_add_readable(d, t->ip - 128, 256);
		if (d->wow_native && (wf & 0x2))
			dump_plan_wow64_thread(d, t);
	}
	if (d->req->ev && d->req->ev->has_exception) {
		u64 a = (u64)(ULONG_PTR)d->req->ev->rec.ExceptionAddress;
		if (a > 128)
			dump_add_readable(d, a - 128, 256);
	}
	for (i = 0; i < d->nmod; i++) {
		const struct dmodule *m = &d->mod[i];
		int k;
		if (mask & MDT_DATASEGS) /* every writable section: the globals */
			for (k = 0; k < m->nwsec; k++)
				dump_add_readable(d, m->base + m->wsec[k].rva, m->wsec[k].size);
		if (mask & MDT_CODESEGS)
			for (k = 0; k < m->ncsec; k++)
				dump_add_readable(d, m->base + m->csec[k].rva, m->csec[k].size);
		if ((mask & MDT_MODULEHEADERS) && m->header_size)
			dump_add_readable(d, m->base, m->header_size);
	}
	for (i = 0; i < d->nreg && !d->miniplus; i++) { /* (MiniPlus selects its own) */
		const struct dregion *r = &d->reg[i];
		if (!dump_readable(r))
			continue;
		if ((opt & MDT_PRIVATERW) && r->type == MEM_PRIVATE && (r->protect & 0xFF) == PAGE_READWRITE)
			dump_add_range(d, r->base, r->size);
		if ((mask & MDT_PRIVATEWC) && (r->protect & 0xFF) == PAGE_WRITECOPY)
			dump_add_range(d, r->base, r->size);
	}
	if (opt & MDT_PROCESSTHREADDATA)
		dump_plan_process_data(d);
	if (opt & MDT_INDIRECT)
		dump_plan_indirect(d);
	if (d->miniplus)
		dump_plan_miniplus(d);
	/* Keep descriptors under 4 GiB each (DataSize is 32-bit). */
	dump_coalesce(d, 0xFFFFF000ULL);
	dump_limit_ranges(d, 4000);
	return 0;
}

/* MINIDUMP_MISC_INFO_5.XStateData (XSTATE_CONFIG_FEATURE_MSC_INFO): the
 * size of the thread contexts and, from KUSER_SHARED_DATA.XState (the
 * XSTATE_CONFIGURATION at 0x7FFE03D8, as dbghelp copies it), the enabled
 * features and each one's offset and size in the XSAVE area. */
static void
dump_misc_xstate(struct md_misc5 *mi, u32 context_size)
{
#ifdef _WIN64
	const u8 *cfg = (const u8 *)(ULONG_PTR)0x7FFE03D8;
	u64 enabled;
	int i;
	memcpy(&enabled, cfg, 8);
	mi->xs_size = 16 + 8 * 64;
	mi->xs_context_size = context_size;
	mi->xs_enabled = enabled;
	for (i = 0; i < 64; i++)
		if (enabled & (1ULL << i))
			memcpy(&mi->xs_features[i], cfg + 24 + 8 * i, 8);
#else
	(void)mi;
	(void)context_size;
#endif
}

/* MiscInfo processor power (level 2): CallNtPowerInformation's
 * PROCESSOR_POWER_INFORMATION of CPU 0, from powrprof.dll if it is there. */
static void
dump_misc_power(struct md_misc5 *mi)
{
	typedef LONG (WINAPI *fn_power)(int, PVOID, ULONG, PVOID, ULONG);
	struct { ULONG number, max_mhz, cur_mhz, mhz_limit, max_idle, cur_idle; } ppi[64];
	HMODULE pp = LoadLibraryW(L"powrprof.dll");
	fn_power f = pp ? (fn_power)(void (*)(void))GetProcAddress(pp, "CallNtPowerInformation") : NULL;
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	if (f && si.dwNumberOfProcessors <= 64 &&
	    f(11 /* ProcessorInformation */, NULL, 0, ppi, sizeof ppi[0] * si.dwNumberOfProcessors) == 0 &&
	    ppi[0].max_mhz) {
		mi->m1.flags1 |= 0x4; /* PROCESSOR_POWER_INFO */
		mi->max_mhz = ppi[0].max_mhz;
		mi->cur_mhz = ppi[0].cur_mhz;
		mi->mhz_limit = ppi[0].mhz_limit;
		mi->max_idle = ppi[0].max_idle;
		mi->cur_idle = ppi[0].cur_idle;
	}
	if (pp)
		FreeLibrary(pp);
}

/* MiscInfo levels 3-4: the target's integrity level, the time zone, the
 * OS build string and which writer wrote the dump. */
static void
dump_misc_more(struct dump_state *d, struct md_misc5 *mi)
{
	TIME_ZONE_INFORMATION tz;
	HANDLE tok;
	DWORD id;
	HKEY key;
	OSVERSIONINFOEXW v;
	wchar_t lab[128] = L"", w[260];
	DWORD n = sizeof lab;

	if (OpenProcessToken(d->h, TOKEN_QUERY, &tok)) {
		u8 buf[64];
		DWORD got;
		if (GetTokenInformation(tok, TokenIntegrityLevel, buf, sizeof buf, &got)) {
			PSID sid = ((TOKEN_MANDATORY_LABEL *)buf)->Label.Sid;
			UCHAR cnt = *GetSidSubAuthorityCount(sid);
			if (cnt) {
				mi->integrity = *GetSidSubAuthority(sid, cnt - 1);
				mi->m1.flags1 |= 0x10; /* PROCESS_INTEGRITY */
			}
		}
		CloseHandle(tok);
	}
	id = GetTimeZoneInformation(&tz);
	if (id != TIME_ZONE_ID_INVALID) {
		_Static_assert(sizeof tz == 172, "TIME_ZONE_INFORMATION");
		memcpy(mi->tz, &tz, sizeof tz);
		mi->tz_id = id;
		mi->m1.flags1 |= 0x40; /* TIMEZONE */
	}
	memset(&v, 0, sizeof v);
	v.dwOSVersionInfoSize = sizeof v;
	if (nt.RtlGetVersion)
		nt.RtlGetVersion(&v);
	if (!RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", 0,
	                   KEY_QUERY_VALUE, &key)) {
		if (RegQueryValueExW(key, L"BuildLabEx", NULL, NULL, (BYTE *)lab, &n) != 0) {
			n = sizeof lab;
			if (RegQueryValueExW(key, L"BuildLab", NULL, NULL, (BYTE *)lab, &n) != 0)
				lab[0] = 0;
		}
		lab[127] = 0;
		RegCloseKey(key);
	}
	if (lab[0])
		swprintf(w, 260, L"%ls", lab);
	else
		swprintf(w, 260, L"%lu.%lu.%lu", v.dwMajorVersion, v.dwMinorVersion, v.dwBuildNumber);
	memcpy(mi->build, w, (wcslen(w) + 1) * 2);
	swprintf(w, 40, L"procdump.c." PD_ARCH "," PD_VERSION_W);
	memcpy(mi->dbg_bld, w, (wcslen(w) + 1) * 2);
	mi->m1.flags1 |= 0x100; /* BUILDSTRING */
}

/* The captured stack of a thread: the part of [SP-word, StackBase) that the
 * planned ranges hold, within the range that contains SP. */
static void
dump_thread_stack(struct dump_state *d, struct dthread *t)
{
	u64 lo, hi = t->stack_base;
	int i;
	t->stk_start = t->stk_size = 0;
	if (t->stack_base <= t->stack_limit)
		return;
	lo = t->sp - d->ps;
	if (!t->ctx_ok || t->sp < t->stack_limit || t->sp > t->stack_base)
		lo = t->stack_limit;
	for (i = 0; i < d->nrng; i++) {
		const struct range *r = &d->rng[i];
		u64 e = r->start + r->size;
		if (lo < r->start) {
			/* SP fell into a hole (unreadable page): take what follows */
			if (r->start < hi)
				lo = r->start;
			else
				continue;
		}
		if (lo >= r->start && lo < e) {
			t->stk_start = lo;
			t->stk_size = (hi < e ? hi : e) - lo;
			return;
		}
	}
}

/* FilterTriage (model: Breakpad's SanitizeStackCopy): in the stack part of
 * [addr, addr+n), keep a word only if it is a small integer (|v| <= 4096),
 * points into that thread's stack, or points into executable memory (return
 * addresses); overwrite the rest with 0x0defaced.  Frames still walk; data
 * such as strings and keys on the stacks is gone. */
static void
dump_sanitize_stacks(struct dump_state *d, u64 addr, u8 *bytes, u64 n)
{
	const size_t ws = d->ps;
	const u64 vmax = ws == 8 ? ~0ULL : 0xFFFFFFFFULL;
	int i;
	for (i = 0; i < d->nth; i++) {
		const struct dthread *t = &d->th[i];
		u64 lo = t->stk_start, hi = t->stk_start + t->stk_size, a;
		if (!t->stk_size || hi <= addr || lo >= addr + n)
			continue;
		if (lo < addr)
			lo = addr;
		if (hi > addr + n)
			hi = addr + n;
		lo = (lo + ws - 1) & ~(u64)(ws - 1);
		for (a = lo; a + ws <= hi; a += ws) {
			u64 v = 0;
			const struct dregion *r;
			memcpy(&v, bytes + (a - addr), ws); /* little-endian */
			if (v <= 4096 || v >= vmax - 4095)
				continue;
			if (v >= t->stack_limit && v < t->stack_base)
				continue;
			r = dump_region_of(d, v);
			if (r && r->state == MEM_COMMIT && (r->protect & 0xF0)) /* PAGE_EXECUTE* */
				continue;
			v = 0x0defaced0defacedULL; /* its low 4 bytes in the x86 view */
			memcpy(bytes + (a - addr), &v, ws);
		}
	}
}

/* Double-buffered copy of target memory to the file: the worker thread
 * writes one buffer while the caller reads the next. */
struct wq {
	HANDLE file;
	HANDLE go[2], done[2], thread;
	u8 *b[2];
	DWORD len[2];
	volatile LONG err;
	volatile LONG quit;
};

static DWORD WINAPI
wq_worker(void *arg)
{
	struct wq *q = arg;
	unsigned k;
	for (k = 0;; k++) {
		int i = k & 1;
		DWORD put;
		WaitForSingleObject(q->go[i], INFINITE);
		if (q->quit)
			return 0;
		if (!q->err && (!WriteFile(q->file, q->b[i], q->len[i], &put, NULL) || put != q->len[i]))
			q->err = GetLastError() ? (LONG)GetLastError() : ERROR_WRITE_FAULT;
		SetEvent(q->done[i]);
	}
}

#define WQ_CHUNK (4u << 20)

static int
wq_start(struct wq *q, HANDLE file)
{
	int i;
	memset(q, 0, sizeof *q);
	q->file = file;
	for (i = 0; i < 2; i++) {
		q->go[i] = CreateEventW(NULL, FALSE, FALSE, NULL);
		q->done[i] = CreateEventW(NULL, FALSE, TRUE, NULL);
		q->b[i] = VirtualAlloc(NULL, WQ_CHUNK, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
		if (!q->go[i] || !q->done[i] || !q->b[i]) {
			warn("cannot set up the write buffers:");
			return -1;
		}
	}
	q->thread = CreateThread(NULL, 0, wq_worker, q, 0, NULL);
	if (!q->thread) {
		warn("CreateThread:");
		return -1;
	}
	return 0;
}

static void
wq_stop(struct wq *q)
{
	int i;
	if (q->thread) {
		WaitForSingleObject(q->done[0], INFINITE);
		WaitForSingleObject(q->done[1], INFINITE);
		q->quit = 1;
		SetEvent(q->go[0]);
		SetEvent(q->go[1]);
		WaitForSingleObject(q->thread, INFINITE);
		CloseHandle(q->thread);
	}
	for (i = 0; i < 2; i++) {
		if (q->go[i]) CloseHandle(q->go[i]);
		if (q->done[i]) CloseHandle(q->done[i]);
		if (q->b[i]) VirtualFree(q->b[i], 0, MEM_RELEASE);
	}
}

static int
dump_cancelled(const struct pd_dump_req *r)
{
	if (r->deadline > 0 && now_sec() > r->deadline) {
		((struct pd_dump_req *)r)->timed_out = 1;
		return 1;
	}
	return r->cancel && *r->cancel;
}

/* A zeroed context that still names the CPU (ContextFlags), for a thread
 * whose context could not be read: readers expect one per thread. */
static void
dump_context_cpu(const struct dump_state *d, u8 *ctx)
{
#ifdef _WIN64
	DWORD cpu = d->x86 ? WOW64_CONTEXT_i386 : CONTEXT_AMD64;
	memcpy(ctx + (d->x86 ? offsetof(WOW64_CONTEXT, ContextFlags) : offsetof(CONTEXT, ContextFlags)), &cpu, 4);
#else
	DWORD cpu = CONTEXT_i386;
	(void)d;
	memcpy(ctx + offsetof(CONTEXT, ContextFlags), &cpu, 4);
#endif
}

/* Builds the whole dump.  Metadata (and, for Mini, the memory bytes) are
 * laid out in one buffer whose offsets are the file offsets; Full memory is
 * streamed after it as the Memory64 blob. */
static int
dump_build_and_write(struct dump_state *d, HANDLE file, struct pd_dump_result *res)
{
	const struct pd_dump_req *rq = d->req;
	struct buf b = { 0 };
	struct md_dir dir[20];
	int nd = 0, i, rc = -1;
	struct md_header hd;
	size_t dir_off, threads_off, mem_off = 0;
	u64 blob_rva = 0, blob_size = 0, bad = 0;
	u32 *stack_rvas = NULL;
	DWORD put;
	u64 mask = d->mask;
	int full = (mask & MDT_FULLMEMORY) != 0;
	u64 planned = 0;
	const u32 ctx_size = d->x86 ? (u32)sizeof(WOW64_CONTEXT) : (u32)sizeof(CONTEXT);
	int xstate = 0;            /* some thread has an XState context */

	for (i = 0; i < d->nrng; i++)
		planned += d->rng[i].size;
	/* RVAs are 32-bit: a large custom selection goes to Memory64List too;
	 * MiniPlus always does, as Full (rule 5 of the writer spec) */
	if (planned > (7ULL << 29) || d->miniplus)
		full = 1;

	memset(dir, 0, sizeof dir);
	memset(&hd, 0, sizeof hd);
	buf_add(&b, NULL, sizeof hd, 1);
	dir_off = buf_add(&b, NULL, sizeof dir, 4); /* trimmed to nd entries below */

	dump_system_info(&b, &dir[nd++], d->x86 || sizeof(void *) == 4);

	{ /* MiscInfo: level 5, or level 2 for triage (no build strings) */
		struct md_misc5 mi;
		int triage = (mask & MDT_FILTERTRIAGE) != 0;
		memset(&mi, 0, sizeof mi);
		mi.m1.size = triage ? 44 : sizeof mi;
		mi.m1.flags1 = 0x1 | 0x2; /* PROCESS_ID, PROCESS_TIMES */
		mi.m1.pid = d->pid;
		mi.m1.create = ticks_to_time_t(d->create_time);
		mi.m1.user = (u32)((d->user_time + 5000000) / 10000000);
		mi.m1.kernel = (u32)((d->kernel_time + 5000000) / 10000000);
		dump_misc_power(&mi);
		if (!triage)
			dump_misc_more(d, &mi);
		for (i = 0; i < d->nth && !triage; i++)
			if (d->th[i].xlen) { /* XStateData: the machine's XSTATE_CONFIGURATION */
				xstate = 1;
				dump_misc_xstate(&mi, d->th[i].xlen);
				break;
			}
		dir[nd].type = MD_MISCINFO;
		dir[nd].size = mi.m1.size;
		dir[nd++].rva = (u32)buf_add(&b, &mi, mi.m1.size, 4);
	}

	{ /* ThreadList: entries now, contexts after; stack RVAs patched later */
		u32 n = (u32)d->nth, prio_class = GetPriorityClass(d->h);
		size_t off = buf_add(&b, &n, 4, 4);
		threads_off = buf_add(&b, NULL, sizeof(struct md_thread) * n, 4);
		dir[nd].type = MD_THREADLIST;
		dir[nd].size = 4 + sizeof(struct md_thread) * n;
		dir[nd++].rva = (u32)off;
		for (i = 0; i < d->nth; i++) {
			struct dthread *t = &d->th[i];
			struct md_thread mt;
			memset(&mt, 0, sizeof mt);
			mt.id = t->tid;
			mt.suspend = t->prev_suspend;
			mt.prio_class = prio_class;
			mt.prio = (u32)t->prio;
			mt.teb = t->teb;
			mt.stack.start = t->stk_start;
			mt.stack.mem.size = (u32)t->stk_size;
			mt.ctx.size = ctx_size;
			if (t->ctx_ok && t->xlen) { /* WithAvxXStateContext: CONTEXT, CONTEXT_EX, XSAVE */
				mt.ctx.size = t->xlen;
				mt.ctx.rva = (u32)buf_add(&b, t->xctx, t->xlen, 64);
			} else if (t->ctx_ok && t->ctx)
				mt.ctx.rva = (u32)buf_add(&b, t->ctx, ctx_size, 16);
			else {
				/* no context could be read: a zeroed one that still names
				 * the CPU, as readers expect one per thread (ThreadInfo says
				 * INVALID_CONTEXT) */
				mt.ctx.rva = (u32)buf_add(&b, NULL, ctx_size, 16);
				if (!b.oom)
					dump_context_cpu(d, b.p + mt.ctx.rva);
			}
			if (b.oom)
				goto out;
			memcpy(b.p + threads_off + i * sizeof mt, &mt, sizeof mt);
		}
	}

	if (mask & MDT_THREADINFO) { /* ThreadInfoList: times, start address, affinity, exit status */
		struct md_threadinfo_list hl = { sizeof hl, sizeof(struct md_threadinfo), (u32)d->nth };
		size_t off = buf_add(&b, &hl, sizeof hl, 4);
		for (i = 0; i < d->nth; i++)
			buf_add(&b, &d->th[i].info, sizeof d->th[i].info, 1);
		dir[nd].type = MD_THREADINFOLIST;
		dir[nd].size = (u32)(sizeof hl + sizeof(struct md_threadinfo) * d->nth);
		dir[nd++].rva = (u32)off;
	}

	if (!(mask & MDT_FILTERTRIAGE)) { /* ThreadNames, when some thread has a description */
		u32 n = 0;
		for (i = 0; i < d->nth; i++)
			n += d->th[i].name != NULL;
		if (n) {
			size_t off = buf_add(&b, &n, 4, 4), ents = buf_add(&b, NULL, sizeof(struct md_threadname) * n, 1);
			u32 k = 0;
			dir[nd].type = MD_THREADNAMES;
			dir[nd].size = 4 + sizeof(struct md_threadname) * n;
			dir[nd++].rva = (u32)off;
			for (i = 0; i < d->nth; i++) {
				struct md_threadname tn;
				if (!d->th[i].name)
					continue;
				tn.tid = d->th[i].tid;
				tn.name_rva = dump_add_string(&b, d->th[i].name);
				if (b.oom)
					goto out;
				memcpy(b.p + ents + sizeof tn * k++, &tn, sizeof tn);
			}
		}
	}

	if (d->have_unl && (mask & MDT_UNLOADEDMODULES)) { /* UnloadedModuleList */
		struct md_unloaded_list hl = { sizeof hl, sizeof(struct md_unloaded), (u32)d->nunl };
		size_t off = buf_add(&b, &hl, sizeof hl, 4), ents = buf_add(&b, NULL, sizeof(struct md_unloaded) * d->nunl, 1);
		dir[nd].type = MD_UNLOADEDMODULELIST;
		dir[nd].size = (u32)(sizeof hl + sizeof(struct md_unloaded) * d->nunl);
		dir[nd++].rva = (u32)off;
		for (i = 0; i < d->nunl; i++) {
			struct md_unloaded u;
			u.base = d->unl[i].base;
			u.size = d->unl[i].size;
			u.checksum = d->unl[i].checksum;
			u.timestamp = d->unl[i].timestamp;
			u.name_rva = dump_add_string(&b, d->unl[i].name);
			if (b.oom)
				goto out;
			memcpy(b.p + ents + sizeof u * i, &u, sizeof u);
		}
	}

	{ /* ModuleList */
		u32 n = (u32)d->nmod;
		size_t off = buf_add(&b, &n, 4, 4), mods = buf_add(&b, NULL, sizeof(struct md_module) * n, 4);
		dir[nd].type = MD_MODULELIST;
		dir[nd].size = 4 + sizeof(struct md_module) * n;
		dir[nd++].rva = (u32)off;
		for (i = 0; i < d->nmod; i++) {
			struct dmodule *m = &d->mod[i];
			struct md_module mm;
			memset(&mm, 0, sizeof mm);
			mm.base = m->base;
			mm.size = m->size;
			mm.checksum = m->checksum;
			mm.timestamp = m->timestamp;
			mm.name_rva = dump_add_string(&b, !m->name ? L"" :
			                              (mask & MDT_FILTERMODULEPATHS) ? path_basename(m->name) : m->name);
			mm.ver = m->ver;
			mm.ver.v[0] = 0xFEEF04BDu;
			if (!mm.ver.v[1])
				mm.ver.v[1] = 0x10000;
			if (m->cv) {
				mm.cv.size = m->cv_len;
				mm.cv.rva = (u32)buf_add(&b, m->cv, m->cv_len, 4);
			}
			if (m->misc) {
				mm.misc.size = m->misc_len;
				mm.misc.rva = (u32)buf_add(&b, m->misc, m->misc_len, 4);
			}
			if (b.oom)
				goto out;
			memcpy(b.p + mods + i * sizeof mm, &mm, sizeof mm);
		}
	}

	if (rq->ev && rq->ev->has_exception) { /* Exception */
		struct md_exception ex;
		const EXCEPTION_RECORD *er = &rq->ev->rec;
		DWORD k;
		memset(&ex, 0, sizeof ex);
		ex.tid = rq->ev->tid;
		ex.code = er->ExceptionCode;
		if (d->x86 && ex.code == 0x4000001F) /* STATUS_WX86_BREAKPOINT, as x86 sees it */
			ex.code = EXCEPTION_BREAKPOINT;
		if (d->x86 && ex.code == 0x4000001E) /* STATUS_WX86_SINGLE_STEP */
			ex.code = EXCEPTION_SINGLE_STEP;
		ex.flags = er->ExceptionFlags;
		ex.record = (u64)(ULONG_PTR)er->ExceptionRecord;
		ex.address = (u64)(ULONG_PTR)er->ExceptionAddress;
		ex.nparams = er->NumberParameters > 15 ? 15 : er->NumberParameters;
		for (k = 0; k < ex.nparams; k++)
			ex.info[k] = (u64)er->ExceptionInformation[k];
		ex.ctx.size = ctx_size;
		if (!d->x86)
			ex.ctx.rva = (u32)buf_add(&b, &rq->ev->ctx, sizeof(CONTEXT), 16);
		else { /* the x86 view: that thread's WOW64 context, read while it is stopped */
			const struct dthread *et = NULL;
			for (k = 0; k < (DWORD)d->nth; k++)
				if (d->th[k].tid == ex.tid && d->th[k].ctx_ok)
					et = &d->th[k];
			ex.ctx.rva = (u32)buf_add(&b, et ? (const void *)et->ctx : NULL, ctx_size, 16);
			if (!et && !b.oom)
				dump_context_cpu(d, b.p + ex.ctx.rva);
		}
		dir[nd].type = MD_EXCEPTION;
		dir[nd].size = sizeof ex;
		dir[nd++].rva = (u32)buf_add(&b, &ex, sizeof ex, 4);
	}

	if (mask & MDT_FULLMEMORYINFO) { /* MemoryInfoList: every region, free ones included */
		struct md_meminfo_list hl = { sizeof hl, sizeof(struct md_meminfo), (u64)d->nreg };
		size_t off = buf_add(&b, &hl, sizeof hl, 8);
		for (i = 0; i < d->nreg; i++) {
			struct md_meminfo mi;
			const struct dregion *r = &d->reg[i];
			memset(&mi, 0, sizeof mi);
			mi.base = r->base;
			mi.size = r->size;
			mi.state = r->state;
			mi.alloc_base = r->alloc_base;
			mi.alloc_protect = r->alloc_protect;
			mi.protect = r->protect;
			mi.type = r->type;
			buf_add(&b, &mi, sizeof mi, 1);
		}
		dir[nd].type = MD_MEMORYINFOLIST;
		dir[nd].size = (u32)(sizeof hl + sizeof(struct md_meminfo) * d->nreg);
		dir[nd++].rva = (u32)off;
	}

	if (d->have_hdl && (mask & MDT_HANDLEDATA)) { /* HandleData, descriptor v2; type names shared */
		struct md_handle_stream hs = { sizeof hs, sizeof(struct md_handle), (u32)d->nhdl, 0 };
		size_t off = buf_add(&b, &hs, sizeof hs, 4), ents = buf_add(&b, NULL, sizeof(struct md_handle) * d->nhdl, 1);
		dir[nd].type = MD_HANDLEDATA;
		dir[nd].size = (u32)(sizeof hs + sizeof(struct md_handle) * d->nhdl);
		dir[nd++].rva = (u32)off;
		/* the few distinct type names, each written once (a table past
		 * its size only costs repeated strings) */
		struct { const wchar_t *name; u32 rva; } types[128];
		int ntypes = 0;
		for (i = 0; i < d->nhdl; i++) {
			struct md_handle mh;
			int k;
			memset(&mh, 0, sizeof mh);
			mh.handle = d->hdl[i].value;
			mh.attributes = d->hdl[i].attributes;
			mh.granted_access = d->hdl[i].access;
			mh.handle_count = d->hdl[i].handle_count;
			mh.pointer_count = d->hdl[i].pointer_count;
			for (k = 0; k < ntypes && d->hdl[i].type; k++)
				if (!wcscmp(types[k].name, d->hdl[i].type)) {
					mh.type_rva = types[k].rva;
					break;
				}
			if (d->hdl[i].type && !mh.type_rva) {
				mh.type_rva = dump_add_string(&b, d->hdl[i].type);
				if (ntypes < (int)(sizeof types / sizeof types[0])) {
					types[ntypes].name = d->hdl[i].type;
					types[ntypes++].rva = mh.type_rva;
				}
			}
			if (d->hdl[i].name)
				mh.name_rva = dump_add_string(&b, d->hdl[i].name);
			if (b.oom)
				goto out;
			memcpy(b.p + ents + sizeof mh * i, &mh, sizeof mh);
		}
	}

	if (!(mask & MDT_FILTERTRIAGE)) { /* ProcessVmCounters (22), as recent dbghelp writes by default */
		struct pd_vm_counters vm;
		u8 v[152];
		u16 rev = 2, flags = 0x1 | 0x2 | 0x4; /* VM_COUNTERS, VIRTUALSIZE, EX */
		u64 f[11];
		memset(&vm, 0, sizeof vm);
		if (PD_NT_SUCCESS(nt.NtQueryInformationProcess(d->h, 3 /* ProcessVmCounters */, &vm, sizeof vm, NULL))) {
			memset(v, 0, sizeof v);
			f[0] = vm.PeakWorkingSetSize; f[1] = vm.WorkingSetSize;
			f[2] = vm.QuotaPeakPagedPoolUsage; f[3] = vm.QuotaPagedPoolUsage;
			f[4] = vm.QuotaPeakNonPagedPoolUsage; f[5] = vm.QuotaNonPagedPoolUsage;
			f[6] = vm.PagefileUsage; f[7] = vm.PeakPagefileUsage;
			f[8] = vm.PeakVirtualSize; f[9] = vm.VirtualSize; f[10] = vm.PrivateUsage;
			memcpy(v, &rev, 2);
			memcpy(v + 2, &flags, 2);
			memcpy(v + 4, &vm.PageFaultCount, 4);
			memcpy(v + 8, f, sizeof f);
			dir[nd].type = MD_PROCESSVMCOUNTERS;
			dir[nd].size = sizeof v;
			dir[nd++].rva = (u32)buf_add(&b, v, sizeof v, 8);
		}
	}

	if (d->have_tok && (mask & MDT_TOKEN)) { /* Token: built whole by dump_collect_tokens */
		dir[nd].type = MD_TOKEN;
		dir[nd].size = (u32)d->tok.len;
		dir[nd++].rva = (u32)buf_add(&b, d->tok.p, d->tok.len, 8);
	}

	if (rq->comment) { /* CommentStreamA and CommentStreamW, NUL included */
		int na = WideCharToMultiByte(CP_ACP, 0, rq->comment, -1, NULL, 0, NULL, NULL);
		char *a = na > 0 ? xcalloc(na, 1) : NULL;
		if (a) {
			WideCharToMultiByte(CP_ACP, 0, rq->comment, -1, a, na, NULL, NULL);
			dir[nd].type = MD_COMMENTA;
			dir[nd].size = (u32)na;
			dir[nd++].rva = (u32)buf_add(&b, a, na, 4);
			free(a);
		}
		dir[nd].type = MD_COMMENTW;
		dir[nd].size = (u32)((wcslen(rq->comment) + 1) * 2);
		dir[nd].rva = (u32)buf_add(&b, rq->comment, dir[nd].size, 4);
		nd++;
	}

	stack_rvas = xcalloc(d->nth ? d->nth : 1, sizeof *stack_rvas);
	if (!stack_rvas)
		goto out;

	if (!full) { /* MemoryList with the bytes right after it */
		u32 n = (u32)d->nrng;
		size_t off = buf_add(&b, &n, 4, 4), descs = buf_add(&b, NULL, 16 * (size_t)n, 4);
		dir[nd].type = MD_MEMORYLIST;
		dir[nd].size = 4 + 16 * n;
		dir[nd++].rva = (u32)off;
		for (i = 0; i < d->nrng; i++) {
			struct md_memdesc md;
			size_t at;
			int j;
			if (b.oom || dump_cancelled(rq))
				goto out;
			at = buf_add(&b, NULL, (size_t)d->rng[i].size, 16);
			if (b.oom)
				goto out;
			if (i == 0)
				mem_off = at;
			bad += dump_read_fill(d->h, d->rng[i].start, b.p + at, (size_t)d->rng[i].size);
			if (mask & (MDT_FILTERTRIAGE | MDT_FILTERMEMORY))
				dump_sanitize_stacks(d, d->rng[i].start, b.p + at, d->rng[i].size);
			md.start = d->rng[i].start;
			md.mem.size = (u32)d->rng[i].size;
			md.mem.rva = (u32)at;
			memcpy(b.p + descs + 16 * (size_t)i, &md, 16);
			for (j = 0; j < d->nth; j++) {
				struct dthread *t = &d->th[j];
				if (t->stk_size && t->stk_start >= md.start && t->stk_start < md.start + md.mem.size)
					stack_rvas[j] = (u32)(at + (t->stk_start - md.start));
			}
		}
#ifdef _WIN64
		if (b.len > 0xFFFFFFFFULL) {
			SetLastError(0);
			warn("a mini dump over 4 GiB cannot be written");
			goto out;
		}
#endif
	} else { /* Memory64List: descriptors here, the blob last and gap-free */
		u64 n = (u64)d->nrng, acc = 0;
		size_t off = buf_add(&b, &n, 8, 8);
		size_t base_at = buf_add(&b, NULL, 8, 1);
		for (i = 0; i < d->nrng; i++) {
			struct md_memdesc64 m = { d->rng[i].start, d->rng[i].size };
			buf_add(&b, &m, sizeof m, 1);
			blob_size += m.size;
		}
		dir[nd].type = MD_MEMORY64LIST;
		dir[nd].size = (u32)(16 + 16 * n);
		dir[nd++].rva = (u32)off;
		/* Stacks that would sit past 4 GiB in the blob get a copy here,
		 * because a thread's stack RVA is 32-bit. */
		{
			u64 meta_guess = b.len + 4096, copies = 0;
			for (i = 0; i < d->nth; i++)
				copies += d->th[i].stk_size;
			for (i = 0, acc = 0; i < d->nrng; i++) {
				int j;
				for (j = 0; j < d->nth; j++) {
					struct dthread *t = &d->th[j];
					if (!t->stk_size || t->stk_start < d->rng[i].start ||
					    t->stk_start + t->stk_size > d->rng[i].start + d->rng[i].size)
						continue;
					if (meta_guess + copies + acc + (t->stk_start - d->rng[i].start) + t->stk_size < 0xFFFFFFFFULL)
						stack_rvas[j] = 1; /* in the blob: patched below */
				}
				acc += d->rng[i].size;
			}
			for (i = 0; i < d->nth; i++) {
				struct dthread *t = &d->th[i];
				if (!t->stk_size || stack_rvas[i] == 1)
					continue;
				{
					size_t at = buf_add(&b, NULL, (size_t)t->stk_size, 16);
					if (b.oom)
						goto out;
					dump_read_fill(d->h, t->stk_start, b.p + at, (size_t)t->stk_size);
					stack_rvas[i] = (u32)at;
				}
			}
		}
		blob_rva = (b.len + 4095) & ~(u64)4095;
		memcpy(b.p + base_at, &blob_rva, 8);
		for (i = 0, acc = 0; i < d->nrng; i++) {
			int j;
			for (j = 0; j < d->nth; j++) {
				struct dthread *t = &d->th[j];
				if (stack_rvas[j] == 1 && t->stk_start >= d->rng[i].start &&
				    t->stk_start < d->rng[i].start + d->rng[i].size)
					stack_rvas[j] = (u32)(blob_rva + acc + (t->stk_start - d->rng[i].start));
			}
			acc += d->rng[i].size;
		}
		buf_add(&b, NULL, (size_t)(blob_rva - b.len), 1);
	}
	(void)mem_off;
	if (b.oom)
		goto out;

	/* Patch thread stack descriptors now that their bytes have RVAs. */
	for (i = 0; i < d->nth; i++) {
		struct md_thread *mt = (struct md_thread *)(b.p + threads_off + i * sizeof *mt);
		struct md_memdesc sd;
		memcpy(&sd, &mt->stack, sizeof sd);
		sd.mem.rva = stack_rvas[i];
		if (!sd.mem.rva)
			sd.mem.size = 0;
		memcpy(&mt->stack, &sd, sizeof sd);
	}

	/* Header (signature last) and the directory: nd entries; the rest of
	 * the space reserved for it stays zero and unreferenced. */
	hd.sig = 0;
	hd.version = 0xA793;
	hd.nstreams = (u32)nd;
	hd.dir_rva = (u32)dir_off;
	hd.timestamp = (u32)time(NULL);
	/* Flags: what was asked and honoured, less streams that could not be read */
	hd.flags = mask & ~(u64)((d->have_unl ? 0 : MDT_UNLOADEDMODULES) | (d->have_hdl ? 0 : MDT_HANDLEDATA) |
	                         (d->have_tok ? 0 : MDT_TOKEN) | (xstate ? 0 : MDT_XSTATE) |
	                         (full ? MDT_FILTERMEMORY : 0)); /* stacks in a Memory64 blob are not filtered */
	memcpy(b.p, &hd, sizeof hd);
	memcpy(b.p + dir_off, dir, sizeof dir);

	if (rq->on_plan)
		rq->on_plan(rq->ctx, b.len + blob_size);

	if (!WriteFile(file, b.p, (DWORD)b.len, &put, NULL) || put != b.len) {
		warn("writing the dump:");
		goto out;
	}
	if (full) {
		struct wq q;
		unsigned k = 0;
		if (wq_start(&q, file) < 0) {
			wq_stop(&q);
			goto out;
		}
		/* PROCDUMP_TEST_CHUNK_DELAY_MS slows the copy so that the test
		 * suite can cancel a dump in the middle, deterministically. */
		DWORD delay = 0;
		{
			wchar_t v[16];
			if (GetEnvironmentVariableW(L"PROCDUMP_TEST_CHUNK_DELAY_MS", v, 16) && v[0])
				delay = wcstoul(v, NULL, 10);
		}
		for (i = 0; i < d->nrng && !q.err; i++) {
			u64 a = d->rng[i].start, left = d->rng[i].size;
			while (left && !q.err) {
				int bi = k & 1;
				DWORD n = left > WQ_CHUNK ? WQ_CHUNK : (DWORD)left;
				if (dump_cancelled(rq)) {
					q.err = ERROR_CANCELLED;
					break;
				}
				WaitForSingleObject(q.done[bi], INFINITE);
				bad += dump_read_fill(d->h, a, q.b[bi], n);
				if (delay)
					Sleep(delay);
				q.len[bi] = n;
				SetEvent(q.go[bi]);
				a += n;
				left -= n;
				k++;
			}
		}
		wq_stop(&q);
		if (q.err) {
			if (q.err == ERROR_CANCELLED && rq->timed_out)
				; /* reported by the caller (-at) */
			else if (q.err == ERROR_CANCELLED)
				warn("dump cancelled");
			else {
				SetLastError((DWORD)q.err);
				warn("writing the dump:");
			}
			goto out;
		}
	}
	if (bad)
		vlog("%llu bytes could not be read and were written as zeros\n", bad);
	res->bytes = b.len + blob_size;
	rc = 0;
out:
	free(stack_rvas);
	free(b.p);
	return rc;
}

static void
dump_free_state(struct dump_state *d)
{
	dump_free_modules(d);
	free(d->unl);
	d->unl = NULL;
	free(d->tok.p);
	memset(&d->tok, 0, sizeof d->tok);
	{
		int i;
		for (i = 0; i < d->nhdl; i++) {
			free(d->hdl[i].type);
			free(d->hdl[i].name);
		}
		free(d->hdl);
		d->hdl = NULL;
		d->nhdl = 0;
	}
	free(d->reg);
	free(d->rng);
	d->reg = NULL;
	d->rng = NULL;
}

/* -dbghelp: the same dump type written by the system's dbghelp.dll
 * MiniDumpWriteDump, for Windows users who want it and as the baseline of
 * the benchmarks.  Under Wine it drops handle, thread-info, memory-info and
 * unloaded-module streams and writes full memory 1 KiB at a time (WINE.md
 * section 5).  The file is checked afterwards: Wine's can return TRUE
 * without writing. */
#pragma pack(push, 4)
struct pd_mdei { DWORD tid; EXCEPTION_POINTERS *ep; BOOL client_pointers; };
struct pd_user_stream { ULONG type, size; void *buffer; };
struct pd_user_streams { ULONG count; struct pd_user_stream *streams; };
#pragma pack(pop)
typedef BOOL (WINAPI *fn_MiniDumpWriteDump)(HANDLE, DWORD, HANDLE, DWORD, struct pd_mdei *,
                                            struct pd_user_streams *, MINIDUMP_CALLBACK_INFORMATION *);
typedef BOOL (WINAPI *fn_SymInitializeW)(HANDLE, PCWSTR, BOOL);
typedef BOOL (WINAPI *fn_SymCleanup)(HANDLE);

static int
dump_write_dbghelp(struct pd_target *t, const struct pd_dump_req *req, HANDLE file, u64 mask,
                   struct pd_dump_result *res)
{
	HMODULE dh = LoadLibraryW(L"dbghelp.dll");
	fn_MiniDumpWriteDump mdwd;
	fn_SymInitializeW sym_init;
	fn_SymCleanup sym_clean;
	struct pd_mdei ei, *pei = NULL;
	EXCEPTION_POINTERS ep;
	EXCEPTION_RECORD rec;
	CONTEXT *ctx = NULL;
	struct pd_user_stream us[2];
	struct pd_user_streams uss = { 0, us };
	char *ansi = NULL;
	LARGE_INTEGER size = { .QuadPart = 0 };
	HANDLE h = NULL;
	int rc = -1;
	MINIDUMP_CALLBACK_INFORMATION cbi;

	cbi.CallbackRoutine = req->callback;
	cbi.CallbackParam = req->callback_param;
	if (!dh) {
		warn("-dbghelp: dbghelp.dll:");
		return -1;
	}
	mdwd = (fn_MiniDumpWriteDump)(void (*)(void))GetProcAddress(dh, "MiniDumpWriteDump");
	sym_init = (fn_SymInitializeW)(void (*)(void))GetProcAddress(dh, "SymInitializeW");
	sym_clean = (fn_SymCleanup)(void (*)(void))GetProcAddress(dh, "SymCleanup");
	if (!mdwd) {
		SetLastError(0);
		warn("-dbghelp: dbghelp.dll has no MiniDumpWriteDump");
		goto out;
	}
	/* dbghelp wants PROCESS_ALL_ACCESS-like rights (it reads threads too) */
	h = OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | PROCESS_DUP_HANDLE, FALSE, t->pid);
	if (!h) {
		warn("-dbghelp: OpenProcess %lu:", t->pid);
		goto out;
	}
	if (req->ev && req->ev->has_exception) {
		rec = req->ev->rec;
		ctx = _aligned_malloc(sizeof *ctx, 16);
		if (ctx) {
			*ctx = req->ev->ctx;
			ep.ExceptionRecord = &rec;
			ep.ContextRecord = ctx;
			ei.tid = req->ev->tid;
			ei.ep = &ep;
			ei.client_pointers = FALSE; /* the record and context are ours */
			pei = &ei;
		}
	}
	if (req->comment) {
		int na = WideCharToMultiByte(CP_ACP, 0, req->comment, -1, NULL, 0, NULL, NULL);
		ansi = na > 0 ? xcalloc(na, 1) : NULL;
		if (ansi) {
			WideCharToMultiByte(CP_ACP, 0, req->comment, -1, ansi, na, NULL, NULL);
			us[uss.count].type = MD_COMMENTA;
			us[uss.count].size = (ULONG)na;
			us[uss.count++].buffer = ansi;
		}
		us[uss.count].type = MD_COMMENTW;
		us[uss.count].size = (ULONG)((wcslen(req->comment) + 1) * 2);
		us[uss.count++].buffer = (void *)req->comment;
	}
	/* SymInitialize without invading: dbghelp otherwise loads every
	 * module's symbols first (seconds under Wine) */
	if (sym_init)
		sym_init(h, NULL, FALSE);
	if (!mdwd(h, t->pid, file, (DWORD)mask, pei, uss.count ? &uss : NULL,
	          req->callback ? &cbi : NULL)) {
		warn("-dbghelp: MiniDumpWriteDump:");
	} else if (!GetFileSizeEx(file, &size) || size.QuadPart <= 32) {
		SetLastError(0);
		warn("-dbghelp: MiniDumpWriteDump reported success but wrote %lld bytes", (long long)size.QuadPart);
	} else {
		res->bytes = (u64)size.QuadPart;
		rc = 0;
	}
	if (sym_clean)
		sym_clean(h);
out:
	if (h)
		CloseHandle(h);
	_aligned_free(ctx);
	free(ansi);
	FreeLibrary(dh);
	return rc;
}

/* Writes one dump of target t as req says.  Returns 0 or PD_EXIT_*. */
static int
dump_write(struct pd_target *t, const struct pd_dump_req *req, struct pd_dump_result *res)
{
	static HRESULT (WINAPI *get_description)(HANDLE, PWSTR *);
	static int get_description_looked;
	struct dump_state d;
	wchar_t *tmp = NULL;
	HANDLE file = INVALID_HANDLE_VALUE;
	int rc = PD_EXIT_WRITE, written = 0;
	double t0 = now_sec(), t1;
	size_t n;

	memset(&d, 0, sizeof d);
	memset(res, 0, sizeof *res);
	d.h = t->h;
	d.pid = t->pid;
	d.req = req;
	d.ps = sizeof(void *);
#ifdef _WIN64
	d.x86 = t->wow64 && !req->native_view;
	d.wow_native = t->wow64 && req->native_view;
	if (d.x86)
		d.ps = 4;
#endif

	switch (req->type) {
	case PD_MINI: d.mask = MDT_MINI; break;
	case PD_FULL: d.mask = MDT_FULL; break;
	case PD_CUSTOM: d.mask = req->mask & MDT_HONOURED; break;
	case PD_TRIAGE: d.mask = MDT_TRIAGE; break;
	case PD_MINIPLUS: d.mask = MDT_MINI | MDT_PRIVATERW | MDT_PRIVATEWC; d.miniplus = 1; break;
	case PD_CALLBACK: d.mask = MDT_MINI; break; /* all metadata; memory as the callback says */
	default:
		SetLastError(0);
		warn("this dump type is not implemented yet");
		return PD_EXIT_USAGE;
	}
	if ((d.mask & MDT_XSTATE) && d.ps == 4) {
		static int warned; /* once, not at every dump of a series */
		if (!warned++) {
			SetLastError(0);
			warn("-mc: 0x200000 WithAvxXStateContext is written for 64-bit views only; left out of x86 dumps");
		}
		d.mask &= ~(u64)MDT_XSTATE;
	}
	if (!req->overwrite && w32_exists(req->path)) {
		SetLastError(0);
		warn("dump file '%s' already exists (use -o to overwrite)", u8s(req->path));
		return PD_EXIT_WRITE;
	}
	n = wcslen(req->path) + 32;
	tmp = malloc(n * sizeof *tmp);
	if (!tmp)
		return PD_EXIT_WRITE;
	swprintf(tmp, n, L"%ls.%lu.tmp", req->path, GetCurrentProcessId());
	file = CreateFileW(tmp, GENERIC_WRITE | GENERIC_READ, 0, NULL, CREATE_ALWAYS,
	                   FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
	if (file == INVALID_HANDLE_VALUE) {
		warn("cannot create '%s':", u8s(tmp));
		free(tmp);
		return PD_EXIT_WRITE;
	}

	if (req->dbghelp) {
		written = dump_write_dbghelp(t, req, file, req->type == PD_CUSTOM ? req->mask : d.mask, res) == 0;
		rc = written ? 0 : PD_EXIT_WRITE;
		goto out;
	}
	if (dump_suspend(&d) < 0) {
		rc = tgt_alive(t) ? PD_EXIT_WRITE : PD_EXIT_TARGET;
		goto out;
	}
	vlog("suspended %d threads in %.1f ms\n", d.nth, (now_sec() - t0) * 1e3);
	if (!get_description_looked) { /* Windows 10 1607 and later */
		get_description = (HRESULT (WINAPI *)(HANDLE, PWSTR *))(void (*)(void))
			GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "GetThreadDescription");
		if (!get_description)
			get_description = (HRESULT (WINAPI *)(HANDLE, PWSTR *))(void (*)(void))
				GetProcAddress(GetModuleHandleW(L"kernelbase.dll"), "GetThreadDescription");
		get_description_looked = 1;
	}
	d.get_description = get_description;
	dump_collect_threads(&d);
	dump_find_peb(&d);
	if (dump_collect_memory_map(&d) < 0)
		goto out;
	dump_collect_modules(&d);
	if (d.miniplus) {
		/* ProcDump: "CLR processes are dumped as Full (-ma)" */
		int i;
		for (i = 0; i < d.nmod; i++) {
			if (d.mod[i].name && path_is_clr(d.mod[i].name)) {
				out("%s MiniPlus: %s is loaded; writing a Full dump instead.\n", stamp(),
				    u8s(path_basename(d.mod[i].name)));
				d.mask = MDT_FULL;
				d.miniplus = 0;
				break;
			}
		}
	}
	if (d.mask & MDT_UNLOADEDMODULES)
		dump_collect_unloaded(&d);
	if (d.mask & MDT_HANDLEDATA)
		dump_collect_handles(&d);
	if (d.mask & MDT_TOKEN)
		dump_collect_tokens(&d);
	if (req->callback && dump_callbacks_select(&d) < 0)
		goto out;
	dump_plan_memory(&d, d.mask);
	if (req->callback && dump_callbacks_memory(&d)) {
		SetLastError(0);
		warn("the -md callback DLL cancelled the dump");
		goto out;
	}
	{ /* from the final ranges: a callback may have cut into a stack */
		int i;
		for (i = 0; i < d.nth; i++)
			dump_thread_stack(&d, &d.th[i]);
	}
	if (d.mp_excluded)
		out("%s MiniPlus: left out %d allocations of %llu MB (%llu MB); referenced 4 MB chunks kept.\n",
		    stamp(), d.mp_excluded_count, d.mp_excluded_size >> 20, d.mp_excluded >> 20);
	t1 = now_sec();
	vlog("collected %d threads, %d modules, %d regions, %d ranges in %.1f ms\n",
	     d.nth, d.nmod, d.nreg, d.nrng, (t1 - t0) * 1e3);
	if (dump_build_and_write(&d, file, res) < 0) {
		if (req->timed_out)
			rc = PD_TIMEOUT;
		goto out;
	}
	{ /* signature last: a file cut short is never taken for a dump */
		u32 sig = 0x504D444D;
		DWORD put;
		LARGE_INTEGER z = { 0 };
		if (!SetFilePointerEx(file, z, NULL, FILE_BEGIN) ||
		    !WriteFile(file, &sig, 4, &put, NULL) || put != 4) {
			warn("writing the dump header:");
			goto out;
		}
	}
	written = 1;
	rc = 0;
out:
	dump_free_contexts(&d);
	dump_resume(&d);
	dump_free_state(&d);
	if (file != INVALID_HANDLE_VALUE)
		CloseHandle(file);
	if (written) {
		if (!MoveFileExW(tmp, req->path, req->overwrite ? MOVEFILE_REPLACE_EXISTING : 0)) {
			if (GetLastError() == ERROR_ALREADY_EXISTS || GetLastError() == ERROR_FILE_EXISTS)
				warn("dump file '%s' appeared while writing; not replaced (use -o)", u8s(req->path));
			else
				warn("cannot rename '%s' to '%s':", u8s(tmp), u8s(req->path));
			rc = PD_EXIT_WRITE;
		}
	}
	if (rc != 0)
		DeleteFileW(tmp);
	free(tmp);
	res->seconds = now_sec() - t0;
	vlog("dump took %.3f s\n", res->seconds);
	return rc;
}

/* =============================== Triggers =============================== */
/* Decides when to dump.  This release has the immediate dump and the timed
 * series (-n N -s S with no other trigger); cancellation comes from Ctrl+C,
 * `procdump -cancel PID` or the named event ProcDump-<PID>. */

static volatile LONG g_cancel;
static HANDLE g_cancel_event;
static MINIDUMP_CALLBACK_ROUTINE g_md_callback; /* -md, loaded by Main */

static BOOL WINAPI
trig_ctrl_handler(DWORD type)
{
	if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
		InterlockedExchange(&g_cancel, 1);
		if (g_cancel_event)
			SetEvent(g_cancel_event);
		return TRUE;
	}
	return FALSE;
}

/* Names ProcDump shows after an exception code (C0000005.ACCESS_VIOLATION). */
static const struct { DWORD code; const char *name; } trig_exc_names[] = {
	{ 0x80000001, "GUARD_PAGE_VIOLATION" }, { 0x80000002, "DATATYPE_MISALIGNMENT" },
	{ 0x80000003, "BREAKPOINT" }, { 0x80000004, "SINGLE_STEP" },
	{ 0xC0000005, "ACCESS_VIOLATION" }, { 0xC0000006, "IN_PAGE_ERROR" },
	{ 0xC0000008, "INVALID_HANDLE" }, { 0xC000001D, "ILLEGAL_INSTRUCTION" },
	{ 0xC0000025, "NONCONTINUABLE_EXCEPTION" }, { 0xC0000026, "INVALID_DISPOSITION" },
	{ 0xC000008C, "ARRAY_BOUNDS_EXCEEDED" }, { 0xC000008D, "FLT_DENORMAL_OPERAND" },
	{ 0xC000008E, "FLT_DIVIDE_BY_ZERO" }, { 0xC000008F, "FLT_INEXACT_RESULT" },
	{ 0xC0000090, "FLT_INVALID_OPERATION" }, { 0xC0000091, "FLT_OVERFLOW" },
	{ 0xC0000092, "FLT_STACK_CHECK" }, { 0xC0000093, "FLT_UNDERFLOW" },
	{ 0xC0000094, "INT_DIVIDE_BY_ZERO" }, { 0xC0000095, "INT_OVERFLOW" },
	{ 0xC0000096, "PRIV_INSTRUCTION" }, { 0xC00000FD, "STACK_OVERFLOW" },
	{ 0xC0000194, "POSSIBLE_DEADLOCK" }, { 0xC0000374, "HEAP_CORRUPTION" },
	{ 0xC0000409, "STACK_BUFFER_OVERRUN" }, { 0xC0000417, "INVALID_CRUNTIME_PARAMETER" },
	{ 0xC0000420, "ASSERTION_FAILURE" }, { 0x4000001E, "WX86_SINGLE_STEP" },
	{ 0x4000001F, "WX86_BREAKPOINT" }, { 0x406D1388, "SET_THREAD_NAME" },
	{ 0xE06D7363, "CPP_EH_EXCEPTION" }, { 0xE0434F4D, "CLR_EXCEPTION" },
	{ 0xE0434352, "CLR_EXCEPTION" }, { 0x20474343, "GCC_EXCEPTION" },
	{ 0xC06D007E, "DELAYLOAD_MODULE_NOT_FOUND" }, { 0xC06D007F, "DELAYLOAD_PROC_NOT_FOUND" },
};

static const char *
trig_exception_name(DWORD code)
{
	size_t i;
	for (i = 0; i < sizeof trig_exc_names / sizeof trig_exc_names[0]; i++)
		if (trig_exc_names[i].code == code)
			return trig_exc_names[i].name;
	return "UNKNOWN";
}

/* '*' matches any run of characters, case-insensitively; the pattern may
 * match anywhere in text, as ProcDump's filters "contain" their text. */
static int
trig_glob(const wchar_t *p, const wchar_t *t)
{
	const wchar_t *star = NULL, *ts = NULL;
	while (*t) {
		if (*p == L'*') {
			star = p++;
			ts = t;
		} else if (*p && towlower(*p) == towlower(*t)) {
			p++;
			t++;
		} else if (star) {
			p = star + 1;
			t = ++ts;
		} else
			return 0;
	}
	while (*p == L'*')
		p++;
	return !*p;
}

/* Does one of the comma-separated patterns of list match one of texts? */
static int
trig_list_match(const wchar_t *list, const wchar_t *const *texts, int n)
{
	const wchar_t *s = list;
	while (s && *s) {
		const wchar_t *e = wcschr(s, L',');
		size_t len = e ? (size_t)(e - s) : wcslen(s);
		wchar_t pat[512];
		int i;
		while (len && *s == L' ') {
			s++;
			len--;
		}
		if (len && len + 3 < sizeof pat / sizeof pat[0]) {
			swprintf(pat, sizeof pat / sizeof pat[0], L"*%.*ls*", (int)len, s);
			for (i = 0; i < n; i++)
				if (texts[i] && trig_glob(pat, texts[i]))
					return 1;
		}
		s = e ? e + 1 : NULL;
	}
	return 0;
}

/* -f / -fx: an include list, when given, must match (an empty one, -f "",
 * matches nothing: display only); an exclude list must not. */
static int
trig_filter_pass(const struct pd_config *cfg, const wchar_t *const *texts, int n)
{
	if (cfg->f_set && !trig_list_match(cfg->f, texts, n))
		return 0;
	if (cfg->fx_set && trig_list_match(cfg->fx, texts, n))
		return 0;
	return 1;
}

typedef void (WINAPI *fn_GetSystemTimePreciseAsFileTime)(FILETIME *);

/* 100 ns ticks since 1601, as precise as the system offers (for -v). */
static u64
trig_precise_now(void)
{
	static fn_GetSystemTimePreciseAsFileTime f;
	static int looked;
	FILETIME ft;
	if (!looked) {
		f = (fn_GetSystemTimePreciseAsFileTime)(void (*)(void))GetProcAddress(
			GetModuleHandleW(L"kernel32.dll"), "GetSystemTimePreciseAsFileTime");
		looked = 1;
	}
	if (f)
		f(&ft);
	else
		GetSystemTimeAsFileTime(&ft);
	return ((u64)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
}

/* ProcDump-<PID>: the named event that -cancel (or any program) sets to
 * stop every procdump monitoring PID; manual-reset, so all of them see it. */
static HANDLE
trig_cancel_event(DWORD pid)
{
	wchar_t name[64];
	swprintf(name, 64, L"ProcDump-%lu", pid);
	return CreateEventW(NULL, TRUE, FALSE, name);
}

/* The file name of one dump (see "Filename" in the man page). */
struct trig_names {
	wchar_t **used;
	int n, cap;
};

static wchar_t *
trig_subst(const wchar_t *pat, const struct pd_target *t, const SYSTEMTIME *st, DWORD code)
{
	wchar_t val[5][64];
	static const wchar_t *keys[5] = { L"PROCESSNAME", L"PID", L"EXCEPTIONCODE", L"YYMMDD", L"HHMMSS" };
	size_t cap = wcslen(pat) * 4 + MAX_PATH + 64, o = 0;
	wchar_t *r = malloc(cap * sizeof *r);
	const wchar_t *s = pat;
	if (!r)
		return NULL;
	swprintf(val[0], 64, L"%ls", t->name);
	swprintf(val[1], 64, L"%lu", t->pid);
	swprintf(val[2], 64, L"%08lX", code);
	swprintf(val[3], 64, L"%02u%02u%02u", st->wYear % 100, st->wMonth, st->wDay);
	swprintf(val[4], 64, L"%02u%02u%02u", st->wHour, st->wMinute, st->wSecond);
	if (!code)
		wcscpy(val[2], L"0");
	while (*s) {
		int k, hit = 0;
		for (k = 0; k < 5; k++) {
			size_t kl = wcslen(keys[k]);
			if (!wcsncmp(s, keys[k], kl)) {
				size_t vl = wcslen(val[k]);
				if (o + vl + 1 >= cap)
					break;
				wmemcpy(r + o, val[k], vl);
				o += vl;
				s += kl;
				hit = 1;
				break;
			}
		}
		if (!hit) {
			if (o + 2 >= cap)
				break;
			r[o++] = *s++;
		}
	}
	r[o] = 0;
	return r;
}

/* Full path of the next dump: folder + default name, or the given file name
 * with substitutions and .dmp; a name this run already wrote gets -2, -3...
 * so several dumps in one second never collide. */
static wchar_t *
trig_dump_path(const struct pd_config *cfg, const struct pd_target *t, struct trig_names *nm,
               DWORD code, int out_is_dir)
{
	SYSTEMTIME st;
	wchar_t *name, *full, *cand;
	size_t n;
	int k, i;

	GetLocalTime(&st);
	if (!cfg->output || out_is_dir) {
		wchar_t *dflt = trig_subst(L"PROCESSNAME_YYMMDD_HHMMSS", t, &st, code);
		const wchar_t *dir = cfg->output ? cfg->output : L".";
		if (!dflt)
			return NULL;
		n = wcslen(dir) + wcslen(dflt) + 8;
		name = malloc(n * sizeof *name);
		if (!name) {
			free(dflt);
			return NULL;
		}
		swprintf(name, n, L"%ls%ls%ls.dmp", dir,
		         (wcs_endswith_i(dir, L"\\") || wcs_endswith_i(dir, L"/")) ? L"" : L"\\", dflt);
		free(dflt);
	} else {
		wchar_t *s = trig_subst(cfg->output, t, &st, code);
		if (!s)
			return NULL;
		n = wcslen(s) + 8;
		name = malloc(n * sizeof *name);
		if (!name) {
			free(s);
			return NULL;
		}
		swprintf(name, n, L"%ls%ls", s, wcs_endswith_i(s, L".dmp") ? L"" : L".dmp");
		free(s);
	}
	full = w32_full_path(name);
	free(name);
	if (!full)
		return NULL;
	for (k = 1; k < 10000; k++) {
		int clash = 0;
		if (k == 1)
			cand = wdup(full);
		else {
			n = wcslen(full) + 16;
			cand = malloc(n * sizeof *cand);
			if (cand)
				swprintf(cand, n, L"%.*ls-%d.dmp", (int)(wcslen(full) - 4), full, k);
		}
		if (!cand)
			break;
		for (i = 0; i < nm->n; i++)
			if (!_wcsicmp(nm->used[i], cand))
				clash = 1;
		if (!clash) {
			free(full);
			if (vec_grow(&nm->used, &nm->cap, nm->n, sizeof *nm->used, 16) < 0) {
				free(cand);
				return NULL;
			}
			nm->used[nm->n++] = wdup(cand);
			return cand;
		}
		free(cand);
	}
	free(full);
	return NULL;
}

static void
trig_names_free(struct trig_names *nm)
{
	int i;
	for (i = 0; i < nm->n; i++)
		free(nm->used[i]);
	free(nm->used);
	nm->used = NULL;
	nm->n = nm->cap = 0;
}

static const char *
trig_type_name(int type)
{
	static const char *n[PD_NTYPES] = { "Mini", "Full", "Triage", "MiniPlus", "Custom", "Callback" };
	return type >= 0 && type < PD_NTYPES ? n[type] : "?";
}

struct trig_plan_ctx { int num; };

static void
trig_on_plan(void *ctx, u64 bytes)
{
	struct trig_plan_ctx *c = ctx;
	out("%s Dump %d writing: Estimated dump file size is %llu MB.\n", stamp(), c->num,
	    (bytes + (1 << 20) - 1) >> 20);
}

/* Writes one dump of each requested type for one trigger.  Returns 0 or
 * PD_EXIT_*; *dumpno counts files across the run. */
static int
trig_fire(const struct pd_config *cfg, struct pd_target *t, struct trig_names *nm,
          const struct pd_event *ev, int out_is_dir, int *dumpno)
{
	int i;
	for (i = 0; i < cfg->ntypes; i++) {
		struct pd_dump_req rq;
		struct pd_dump_result res;
		struct trig_plan_ctx pc;
		wchar_t *path = trig_dump_path(cfg, t, nm, ev ? ev->exception_code : 0, out_is_dir);
		int rc;
		if (!path) {
			warn("cannot make a dump file name");
			return PD_EXIT_WRITE;
		}
		pc.num = ++*dumpno;
		memset(&rq, 0, sizeof rq);
		rq.type = cfg->types[i];
		rq.mask = cfg->mc_mask;
		rq.path = path;
		rq.comment = cfg->dc;
		rq.overwrite = cfg->o;
		rq.ev = ev;
		rq.at_exit = ev && ev->at_exit;
		rq.dbghelp = cfg->dbghelp;
		rq.native_view = cfg->x64;
		if (rq.type == PD_CALLBACK)
			rq.callback = g_md_callback;
		rq.cancel = &g_cancel;
		if (cfg->at != PD_UNSET)
			rq.deadline = now_sec() + (double)cfg->at;
		rq.on_plan = trig_on_plan;
		rq.ctx = &pc;
		out("%s Dump %d initiated: %s\n", stamp(), pc.num, u8s(path));
		vlog("dump type %s\n", trig_type_name(rq.type));
		rc = dump_write(t, &rq, &res);
		if (rc == PD_TIMEOUT) {
			out("%s Dump %d cancelled: the collection took longer than %lld seconds (-at); "
			    "the process was resumed.\n", stamp(), pc.num, cfg->at);
			free(path);
			return rc;
		}
		if (rc) {
			out("%s Dump %d failed.\n", stamp(), pc.num);
			free(path);
			return rc;
		}
		out("%s Dump %d complete: %llu MB written in %.1f seconds\n", stamp(), pc.num,
		    (res.bytes + (1 << 20) - 1) >> 20, res.seconds);
		vlog("dump %d complete at %llu (FILETIME)\n", pc.num, trig_precise_now());
		free(path);
	}
	return 0;
}

/* The timed series: dump now, then every S seconds until N triggers.
 * Ends early (exit 1) when the target exits or the run is cancelled. */
static int
trig_run_timed(const struct pd_config *cfg, struct pd_target *t, int out_is_dir)
{
	struct trig_names nm = { 0 };
	long long count = cfg->n == PD_UNSET ? 1 : cfg->n, sec = cfg->s == PD_UNSET ? 10 : cfg->s, k;
	long long missed = 0;
	int dumpno = 0, rc = 0;
	HANDLE named;

	named = trig_cancel_event(t->pid);
	for (k = 0; k < count; k++) {
		HANDLE w[3];
		DWORD r;
		int nw = 0;
		if (k > 0) {
			w[nw++] = g_cancel_event;
			w[nw++] = t->h;
			if (named)
				w[nw++] = named;
			r = WaitForMultipleObjects(nw, w, FALSE, (DWORD)(sec * 1000));
			if (r == WAIT_OBJECT_0 + 1) {
				out("%s The process has exited.\n", stamp());
				rc = PD_EXIT_NOTDONE;
				break;
			}
			if (r != WAIT_TIMEOUT) {
				out("%s Cancelled.\n", stamp());
				rc = PD_EXIT_NOTDONE;
				break;
			}
		}
		if (g_cancel || (named && WaitForSingleObject(named, 0) == WAIT_OBJECT_0)) {
			out("%s Cancelled.\n", stamp());
			rc = PD_EXIT_NOTDONE;
			break;
		}
		if (!tgt_alive(t)) {
			out("%s The process has exited.\n", stamp());
			rc = PD_EXIT_NOTDONE;
			break;
		}
		rc = trig_fire(cfg, t, &nm, NULL, out_is_dir, &dumpno);
		if (rc == PD_TIMEOUT) {
			rc = 0;
			missed++; /* -at cancelled it: not written, the series goes on */
			continue;
		}
		if (rc) {
			if (g_cancel || (named && WaitForSingleObject(named, 0) == WAIT_OBJECT_0))
				rc = PD_EXIT_NOTDONE;
			break;
		}
	}
	if (!rc && missed)
		rc = PD_EXIT_NOTDONE;
	if (!rc)
		out("%s Dump count reached.\n", stamp());
	else if (rc == PD_EXIT_NOTDONE)
		out("%s Dump count not reached.\n", stamp());
	if (named)
		CloseHandle(named);
	trig_names_free(&nm);
	return rc;
}

/* ---- Sampling monitors (-c -cl -m -ml -p -pl -h): rows of one table,
 * sampled once a second by whichever loop owns the target (the debugger
 * loop when attached, trig_run_monitors otherwise).  A row's condition
 * must hold for -s consecutive seconds (default 10; -h needs one sample:
 * IsHungAppWindow already waits 5 s) before a dump is wanted. */

struct pd_pdh_value {          /* PDH_FMT_COUNTERVALUE */
	DWORD status, pad;
	union { LONG l; double d; LONGLONG ll; void *p; } v;
};
typedef LONG (WINAPI *fn_PdhOpenQueryW)(LPCWSTR, DWORD_PTR, HANDLE *);
typedef LONG (WINAPI *fn_PdhAddCounterW)(HANDLE, LPCWSTR, DWORD_PTR, HANDLE *);
typedef LONG (WINAPI *fn_PdhCollectQueryData)(HANDLE);
typedef LONG (WINAPI *fn_PdhGetFormattedCounterValue)(HANDLE, DWORD, LPDWORD, struct pd_pdh_value *);
typedef LONG (WINAPI *fn_PdhCloseQuery)(HANDLE);
#define PD_PDH_FMT_LARGE 0x00000400
#define PD_PDH_FMT_NOCAP100 0x00008000

typedef BOOL (WINAPI *fn_EnumWindows)(WNDENUMPROC, LPARAM);
typedef DWORD (WINAPI *fn_GetWindowThreadProcessId)(HWND, LPDWORD);
typedef BOOL (WINAPI *fn_IsWindowVisible)(HWND);
typedef BOOL (WINAPI *fn_IsHungAppWindow)(HWND);
typedef HWND (WINAPI *fn_GetWindow)(HWND, UINT);

struct trig_mon;
struct trig_row {
	const char *name;       /* as printed: CPU, Commit, Counter, Hung Window */
	int above;              /* 1: fire at/above the threshold, 0: below it */
	int strict;             /* above means > rather than >= */
	long long thr;
	int need;               /* consecutive samples to fire */
	int held;               /* consecutive samples so far */
	int (*sample)(struct trig_mon *, long long *v); /* 1 value, 0 none yet, -1 error */
	const char *unit;
};

struct trig_mon {
	const struct pd_config *cfg;
	struct pd_target *t;
	int ncpu;
	u64 prev_cpu;           /* user+kernel 100 ns of the target */
	double prev_wall;
	int have_prev;
	HMODULE pdh;
	HANDLE query, counter;
	fn_PdhCollectQueryData PdhCollectQueryData;
	fn_PdhGetFormattedCounterValue PdhGetFormattedCounterValue;
	fn_PdhCloseQuery PdhCloseQuery;
	HMODULE user32;
	fn_EnumWindows EnumWindows;
	fn_GetWindowThreadProcessId GetWindowThreadProcessId;
	fn_IsWindowVisible IsWindowVisible;
	fn_IsHungAppWindow IsHungAppWindow;
	fn_GetWindow GetWindow;
	int hung_found;
	struct trig_row rows[4];
	int nrows;
	double next_tick;
	char why[128];          /* what fired, for the console */
};

/* CPU of the target in percent of the machine (of one core with -u), from
 * SystemProcessInformation: remote GetProcessTimes stays 0 under Wine. */
static int
trig_sample_cpu(struct trig_mon *m, long long *v)
{
	struct pd_sys_process *list = w32_process_list(), *p;
	double wall = now_sec();
	u64 cpu;
	int r = 0;
	if (!list)
		return -1;
	p = w32_process_find(list, m->t->pid);
	if (!p || (u64)p->CreateTime.QuadPart != m->t->create_time) {
		free(list);
		return -1;
	}
	cpu = (u64)p->UserTime.QuadPart + (u64)p->KernelTime.QuadPart;
	free(list);
	if (m->have_prev && wall > m->prev_wall) {
		double pct = (double)(cpu - m->prev_cpu) / 1e5 / (wall - m->prev_wall);
		if (!m->cfg->u)
			pct /= m->ncpu;
		*v = (long long)(pct + 0.5);
		r = 1;
	}
	m->prev_cpu = cpu;
	m->prev_wall = wall;
	m->have_prev = 1;
	return r;
}

/* Commit (private bytes) in MB.  Under Wine this counter is resident
 * memory: only touched pages count (WINE.md section 2). */
static int
trig_sample_commit(struct trig_mon *m, long long *v)
{
	struct pd_vm_counters vm;
	memset(&vm, 0, sizeof vm);
	if (!PD_NT_SUCCESS(nt.NtQueryInformationProcess(m->t->h, 3 /* ProcessVmCounters */, &vm, sizeof vm, NULL)))
		return -1;
	*v = (long long)((vm.PrivateUsage ? vm.PrivateUsage : vm.PagefileUsage) >> 20);
	return 1;
}

static int
trig_sample_counter(struct trig_mon *m, long long *v)
{
	struct pd_pdh_value val;
	DWORD type = 0;
	LONG st = m->PdhCollectQueryData(m->query);
	if (st)
		return 0;
	memset(&val, 0, sizeof val);
	/* integers as integers: PDH_FMT_DOUBLE gives 0 for them under Wine */
	st = m->PdhGetFormattedCounterValue(m->counter, PD_PDH_FMT_LARGE | PD_PDH_FMT_NOCAP100, &type, &val);
	if (st || (val.status != 0 && val.status != 1 /* PDH_CSTATUS_VALID_DATA, NEW_DATA */))
		return 0; /* rate counters need two samples */
	*v = val.v.ll;
	return 1;
}

static BOOL CALLBACK
trig_hung_cb(HWND w, LPARAM lp)
{
	struct trig_mon *m = (struct trig_mon *)lp;
	DWORD pid = 0;
	m->GetWindowThreadProcessId(w, &pid);
	/* visible, unowned top-level windows only (not the IME window) */
	if (pid == m->t->pid && m->IsWindowVisible(w) && !m->GetWindow(w, GW_OWNER) && m->IsHungAppWindow(w))
		m->hung_found = 1;
	return !m->hung_found;
}

static int
trig_sample_hung(struct trig_mon *m, long long *v)
{
	m->hung_found = 0;
	m->EnumWindows(trig_hung_cb, (LPARAM)m);
	*v = m->hung_found;
	return 1;
}

static const char *
trig_pdh_status(LONG st)
{
	switch ((DWORD)st) {
	case 0xC0000BB8: return "PDH_CSTATUS_NO_OBJECT: no such object";
	case 0xC0000BB9: return "PDH_CSTATUS_NO_COUNTER: no such counter";
	case 0xC0000BC0: return "PDH_CSTATUS_BAD_COUNTERNAME: the path is not a counter path";
	case 0x800007D1: return "PDH_CSTATUS_NO_INSTANCE: no such instance";
	case 0x800007D0: return "PDH_CSTATUS_NO_MACHINE: no such computer";
	case 0xC0000BD3: return "PDH_NOT_IMPLEMENTED: not implemented on this system";
	case 0xC0000BBD: return "PDH_INVALID_ARGUMENT: invalid argument";
	default: return "PDH error";
	}
}

/* Arms the rows the command line asks for and checks that each can be
 * measured now, so that a bad counter fails at once, not in the loop.
 * Returns 0, or PD_EXIT_USAGE after a one-line error. */
static int
trig_mon_init(struct trig_mon *m, const struct pd_config *cfg, struct pd_target *t)
{
	SYSTEM_INFO si;
	long long secs = cfg->s == PD_UNSET ? 10 : cfg->s;
	struct trig_row *r;

	memset(m, 0, sizeof *m);
	m->cfg = cfg;
	m->t = t;
	GetSystemInfo(&si);
	m->ncpu = si.dwNumberOfProcessors ? (int)si.dwNumberOfProcessors : 1;
	if (cfg->c != PD_UNSET || cfg->cl != PD_UNSET) {
		r = &m->rows[m->nrows++];
		r->name = "CPU";
		r->above = cfg->c != PD_UNSET;
		r->strict = 1;
		r->thr = r->above ? cfg->c : cfg->cl;
		r->sample = trig_sample_cpu;
		r->unit = "%";
	}
	if (cfg->m != PD_UNSET || cfg->ml != PD_UNSET) {
		r = &m->rows[m->nrows++];
		r->name = "Commit";
		r->above = cfg->m != PD_UNSET;
		r->thr = r->above ? cfg->m : cfg->ml;
		r->sample = trig_sample_commit;
		r->unit = " MB";
	}
	if (cfg->p || cfg->pl) {
		const char *sw = cfg->p ? "-p" : "-pl";
		const wchar_t *path = cfg->p ? cfg->p : cfg->pl;
		fn_PdhOpenQueryW open_q;
		fn_PdhAddCounterW add_c;
		LONG st;
		r = &m->rows[m->nrows++];
		r->name = "Counter";
		r->above = cfg->p != NULL;
		r->thr = r->above ? cfg->p_thr : cfg->pl_thr;
		r->sample = trig_sample_counter;
		r->unit = "";
		m->pdh = LoadLibraryW(L"pdh.dll");
		if (!m->pdh) {
			warn("%s: performance counters need pdh.dll:", sw);
			return PD_EXIT_USAGE;
		}
		open_q = (fn_PdhOpenQueryW)(void (*)(void))GetProcAddress(m->pdh, "PdhOpenQueryW");
		/* English names work on every UI language (Vista and later) */
		add_c = (fn_PdhAddCounterW)(void (*)(void))GetProcAddress(m->pdh, "PdhAddEnglishCounterW");
		if (!add_c)
			add_c = (fn_PdhAddCounterW)(void (*)(void))GetProcAddress(m->pdh, "PdhAddCounterW");
		m->PdhCollectQueryData = (fn_PdhCollectQueryData)(void (*)(void))GetProcAddress(m->pdh, "PdhCollectQueryData");
		m->PdhGetFormattedCounterValue = (fn_PdhGetFormattedCounterValue)(void (*)(void))
			GetProcAddress(m->pdh, "PdhGetFormattedCounterValue");
		m->PdhCloseQuery = (fn_PdhCloseQuery)(void (*)(void))GetProcAddress(m->pdh, "PdhCloseQuery");
		if (!open_q || !add_c || !m->PdhCollectQueryData || !m->PdhGetFormattedCounterValue || !m->PdhCloseQuery) {
			SetLastError(0);
			warn("%s: pdh.dll lacks the counter functions", sw);
			return PD_EXIT_USAGE;
		}
		if ((st = open_q(NULL, 0, &m->query)) != 0) {
			SetLastError(0);
			warn("%s: cannot open a counter query: %s (0x%08lX)", sw, trig_pdh_status(st), (unsigned long)st);
			return PD_EXIT_USAGE;
		}
		if ((st = add_c(m->query, path, 0, &m->counter)) != 0) {
			SetLastError(0);
			warn("%s: counter '%s' cannot be read: %s (0x%08lX)", sw, u8s(path),
			     trig_pdh_status(st), (unsigned long)st);
			return PD_EXIT_USAGE;
		}
		m->PdhCollectQueryData(m->query);
	}
	if (cfg->h) {
		r = &m->rows[m->nrows++];
		r->name = "Hung Window";
		r->above = 1;
		r->thr = 1;
		r->sample = trig_sample_hung;
		r->unit = "";
		m->user32 = LoadLibraryW(L"user32.dll");
		if (m->user32) {
			m->EnumWindows = (fn_EnumWindows)(void (*)(void))GetProcAddress(m->user32, "EnumWindows");
			m->GetWindowThreadProcessId = (fn_GetWindowThreadProcessId)(void (*)(void))
				GetProcAddress(m->user32, "GetWindowThreadProcessId");
			m->IsWindowVisible = (fn_IsWindowVisible)(void (*)(void))GetProcAddress(m->user32, "IsWindowVisible");
			m->IsHungAppWindow = (fn_IsHungAppWindow)(void (*)(void))GetProcAddress(m->user32, "IsHungAppWindow");
			m->GetWindow = (fn_GetWindow)(void (*)(void))GetProcAddress(m->user32, "GetWindow");
		}
		if (!m->EnumWindows || !m->GetWindowThreadProcessId || !m->IsWindowVisible ||
		    !m->IsHungAppWindow || !m->GetWindow) {
			SetLastError(0);
			warn("-h: user32.dll lacks the window functions");
			return PD_EXIT_USAGE;
		}
	}
	for (r = m->rows; r < m->rows + m->nrows; r++) {
		r->need = r->sample == trig_sample_hung ? 1 : (int)secs;
	}
	m->next_tick = now_sec() + 1.0;
	if (m->rows[0].sample == trig_sample_cpu)
		trig_sample_cpu(m, &secs); /* the baseline */
	return 0;
}

static void
trig_mon_free(struct trig_mon *m)
{
	if (m->query && m->PdhCloseQuery)
		m->PdhCloseQuery(m->query);
	if (m->pdh)
		FreeLibrary(m->pdh);
	if (m->user32)
		FreeLibrary(m->user32);
	m->pdh = m->user32 = NULL;
	m->query = NULL;
}

/* One sample of every row.  Returns 1 when a row held long enough (a dump
 * is wanted; m->why says which), 0 otherwise, -1 when the target is gone. */
static int
trig_mon_tick(struct trig_mon *m)
{
	int i;
	m->next_tick += 1.0;
	if (m->next_tick < now_sec())
		m->next_tick = now_sec() + 1.0;
	for (i = 0; i < m->nrows; i++) {
		struct trig_row *r = &m->rows[i];
		long long v = 0;
		int got = r->sample(m, &v), hold;
		if (got < 0)
			return -1;
		if (!got)
			continue;
		hold = r->above ? (r->strict ? v > r->thr : v >= r->thr) : v < r->thr;
		vlog("%s %lld%s (%s %lld%s)\n", r->name, v, r->unit,
		     r->above ? (r->strict ? ">" : ">=") : "<", r->thr, r->unit);
		if (!hold) {
			r->held = 0;
			continue;
		}
		r->held++;
		if (r->sample == trig_sample_hung)
			out("%s Hung Window: not responding for 5 seconds.\n", stamp());
		else
			out("%s %s: %lld%s %ds\n", stamp(), r->name, v, r->unit, r->held);
		if (r->held >= r->need) {
			if (r->sample == trig_sample_hung)
				snprintf(m->why, sizeof m->why, "Hung Window");
			else
				snprintf(m->why, sizeof m->why, "%s %lld%s for %d s", r->name, v, r->unit, r->held);
			r->held = 0;
			return 1;
		}
	}
	return 0;
}

/* After a dump (the target was suspended): start the CPU measure afresh. */
static void
trig_mon_after_dump(struct trig_mon *m)
{
	int i;
	long long v;
	m->have_prev = 0;
	for (i = 0; i < m->nrows; i++)
		if (m->rows[i].sample == trig_sample_cpu)
			trig_sample_cpu(m, &v);
	m->next_tick = now_sec() + 1.0;
}

/* Monitors without a debugger: sample once a second until -n dumps, the
 * target's exit, or cancellation. */
static int
trig_run_monitors(struct trig_mon *m, int out_is_dir)
{
	const struct pd_config *cfg = m->cfg;
	struct trig_names nm = { 0 };
	long long count = cfg->n == PD_UNSET ? 1 : cfg->n, written = 0;
	int dumpno = 0, rc = PD_EXIT_NOTDONE;
	HANDLE named, w[3];

	named = trig_cancel_event(m->t->pid);
	out("Press Ctrl-C to end monitoring without terminating the process.\n\n");
	w[0] = g_cancel_event;
	w[1] = m->t->h;
	w[2] = named;
	for (;;) {
		double wait = m->next_tick - now_sec();
		DWORD r = WaitForMultipleObjects(named ? 3 : 2, w, FALSE, wait > 0 ? (DWORD)(wait * 1000) : 0);
		int f;
		if (r == WAIT_OBJECT_0 + 1) {
			out("%s The process has exited.\n", stamp());
			break;
		}
		if (r != WAIT_TIMEOUT) {
			out("%s Cancelled.\n", stamp());
			break;
		}
		f = trig_mon_tick(m);
		if (f < 0) {
			out("%s The process has exited.\n", stamp());
			break;
		}
		if (f == 1) {
			int fr;
			out("%s Trigger: %s\n", stamp(), m->why);
			fr = trig_fire(cfg, m->t, &nm, NULL, out_is_dir, &dumpno);
			trig_mon_after_dump(m);
			if (fr == PD_TIMEOUT)
				continue;
			if (fr) {
				rc = g_cancel ? PD_EXIT_NOTDONE : fr;
				break;
			}
			if (++written >= count) {
				rc = PD_EXIT_OK;
				break;
			}
		}
	}
	if (rc == PD_EXIT_OK)
		out("%s Dump count reached.\n", stamp());
	else if (rc == PD_EXIT_NOTDONE)
		out("%s Dump count not reached.\n", stamp());
	if (named)
		CloseHandle(named);
	trig_names_free(&nm);
	return rc;
}

/* -cancel PID: set ProcDump-<PID>, which every instance monitoring PID waits on. */
static int
trig_cancel_pid(DWORD pid)
{
	wchar_t name[64];
	HANDLE e;
	swprintf(name, 64, L"ProcDump-%lu", pid);
	e = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
	if (!e) {
		SetLastError(0);
		warn("no procdump is monitoring PID %lu", pid);
		return PD_EXIT_TARGET;
	}
	SetEvent(e);
	CloseHandle(e);
	out("Cancel signalled to every procdump monitoring PID %lu.\n", pid);
	return 0;
}

/* =============================== Debugger =============================== */
/* Attaches (or launches with -x) as a debugger and turns debug events into
 * triggers.  Events handled:
 *   CREATE_PROCESS  remember the main thread; close the image file handle
 *   CREATE_THREAD   remember the thread; -ct dumps (after the initial break)
 *   EXIT_THREAD     -et dumps (not for the injected break-in thread)
 *   LOAD_DLL        remember base and name; -ld dumps (filtered by name)
 *   UNLOAD_DLL      -ud dumps (filtered by name)
 *   OUTPUT_DEBUG_STRING  -l shows it and dumps (filtered by text)
 *   EXCEPTION       the first breakpoint is the debugger's own (continued);
 *                   other breakpoints count only with -b; -e dumps second
 *                   chance, -e 1 first chance too (filtered by code/name);
 *                   every exception is passed to the target unchanged
 *   EXIT_PROCESS    -t dumps; the run ends
 *   RIP_INFO        ignored
 * The target keeps running when procdump ends (DebugSetProcessKillOnExit
 * FALSE, then DebugActiveProcessStop), unless -k asked to kill it. */

typedef BOOL (WINAPI *fn_WaitForDebugEventEx)(LPDEBUG_EVENT, DWORD);

struct dbg_dll {
	u64 base;
	wchar_t *name;
};

struct dbg_thread {
	DWORD tid;
	HANDLE h;          /* from the debug event: owned by the system */
};

struct dbg {
	const struct pd_config *cfg;
	struct pd_target *t;
	struct trig_names names;
	int out_is_dir;
	int dumpno;            /* files written */
	long long fired;       /* triggers that wrote their dumps */
	long long count;       /* -n */
	int initial_done;      /* the attach or loader breakpoint was seen */
	int wow_initial_done;  /* and, for a WOW64 target, its x86 one */
	DWORD breakin_tid;     /* thread injected by DebugActiveProcess */
	int attached;          /* we are its debugger */
	int exited;            /* EXIT_PROCESS seen */
	int done;              /* count reached or a dump failed */
	int rc;
	int triggers;          /* any debug-event trigger armed */
	HANDLE hproc;          /* the debug event's process handle (full access) */
	u64 exit_bp;           /* -t: int3 planted at ntdll!RtlExitUserProcess */
	u8 exit_bp_orig;       /* the byte it replaced */
	u64 exit_bp_was;       /* where it was, once removed */
	int exit_fired;        /* -t fired at that breakpoint */
	struct dbg_dll *dll;
	int ndll, capdll;
	struct dbg_thread *th;
	int nth, capth;
	HANDLE named;          /* ProcDump-<PID> */
	struct trig_mon *mon;  /* sampling monitors, or NULL */
};

static void
dbg_add_thread(struct dbg *d, DWORD tid, HANDLE h)
{
	if (vec_grow(&d->th, &d->capth, d->nth, sizeof *d->th, 32) < 0)
		return;
	d->th[d->nth].tid = tid;
	d->th[d->nth].h = h;
	d->nth++;
}

static HANDLE
dbg_thread_handle(struct dbg *d, DWORD tid)
{
	int i;
	for (i = 0; i < d->nth; i++)
		if (d->th[i].tid == tid)
			return d->th[i].h;
	return NULL;
}

static void
dbg_del_thread(struct dbg *d, DWORD tid)
{
	int i;
	for (i = 0; i < d->nth; i++)
		if (d->th[i].tid == tid) {
			d->th[i] = d->th[--d->nth];
			return;
		}
}

/* A module's name at LOAD_DLL: lpImageName (a pointer, in the target, to
 * the name) when the loader filled it, else the file handle's final path
 * (Wine gives NULL names for ntdll, and Unix paths for builtin DLLs). */
static wchar_t *
dbg_dll_name(struct dbg *d, HANDLE file, void *image_name, WORD unicode)
{
	wchar_t buf[MAX_PATH + 8];
	int ok = 1;
	u64 p = image_name ? w32_read_ptr(d->t->h, (u64)(ULONG_PTR)image_name, &ok) : 0;
	if (ok && p) {
		if (unicode) {
			/* in 64-byte steps: the name may end near an unreadable page */
			size_t k = 0;
			memset(buf, 0, sizeof buf);
			while (k < MAX_PATH - 32 && w32_read(d->t->h, p + k * 2, buf + k, 64) == 0) {
				if (wmemchr(buf + k, 0, 32))
					break;
				k += 32;
			}
			buf[MAX_PATH] = 0;
			if (buf[0])
				return wdup(buf);
		} else {
			char a[MAX_PATH + 1];
			SIZE_T got = 0;
			if (ReadProcessMemory(d->t->h, (LPCVOID)(ULONG_PTR)p, a, MAX_PATH, &got) && got) {
				a[got < MAX_PATH ? got : MAX_PATH] = 0;
				if (a[0] && MultiByteToWideChar(CP_ACP, 0, a, -1, buf, MAX_PATH))
					return wdup(buf);
			}
		}
	}
	if (file && GetFinalPathNameByHandleW(file, buf, MAX_PATH, 0)) {
		const wchar_t *b = buf;
		if (!wcsncmp(b, L"\\\\?\\", 4))
			b += 4;
		return wdup(b);
	}
	return wdup(L"");
}

static void
dbg_add_dll(struct dbg *d, u64 base, wchar_t *name)
{
	if (vec_grow(&d->dll, &d->capdll, d->ndll, sizeof *d->dll, 64) < 0) {
		free(name);
		return;
	}
	d->dll[d->ndll].base = base;
	d->dll[d->ndll].name = name;
	d->ndll++;
}

/* Writes the dumps of one trigger and counts it toward -n. */
static void
dbg_fire(struct dbg *d, const struct pd_event *ev)
{
	int rc = trig_fire(d->cfg, d->t, &d->names, ev, d->out_is_dir, &d->dumpno);
	if (rc == PD_TIMEOUT)
		return; /* not counted; monitoring goes on */
	if (rc) {
		d->rc = g_cancel ? PD_EXIT_NOTDONE : rc;
		d->done = 1;
		return;
	}
	if (++d->fired >= d->count) {
		d->rc = PD_EXIT_OK;
		d->done = 1;
	}
}

/* The context of a thread stopped at a debug event, for the Exception stream. */
static void
dbg_event_context(struct dbg *d, DWORD tid, CONTEXT *ctx)
{
	HANDLE h = dbg_thread_handle(d, tid), own = NULL;
	memset(ctx, 0, sizeof *ctx);
	if (!h)
		h = own = OpenThread(THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION, FALSE, tid);
	ctx->ContextFlags = CONTEXT_ALL;
	if (!h || !GetThreadContext(h, ctx))
		vlog("GetThreadContext %lu failed (%lu)\n", tid, GetLastError());
	if (own)
		CloseHandle(own);
}

/* -t: at EXIT_PROCESS the address space may already be gone (it is under
 * Wine, and on Windows every thread is), so plant an int3 at the entry of
 * ntdll!RtlExitUserProcess, which ExitProcess calls first: the -t dump then
 * shows all threads and the caller of ExitProcess.  ntdll sits at the same
 * base in every process of a boot; if the target's differs, only the
 * EXIT_PROCESS fallback is left. */
static void
dbg_plant_exit_breakpoint(struct dbg *d)
{
	HMODULE nt_self = GetModuleHandleW(L"ntdll.dll");
	FARPROC f = GetProcAddress(nt_self, "RtlExitUserProcess");
	u8 cc = 0xCC;
	SIZE_T n;
	int i, same = 0;
	if (!f || !d->hproc || d->t->wow64)
		return;
	for (i = 0; i < d->ndll; i++)
		if (!_wcsicmp(path_basename(d->dll[i].name), L"ntdll.dll") &&
		    d->dll[i].base == (u64)(ULONG_PTR)nt_self)
			same = 1;
	if (!same)
		return;
	if (!ReadProcessMemory(d->hproc, (LPCVOID)f, &d->exit_bp_orig, 1, &n) ||
	    !WriteProcessMemory(d->hproc, (LPVOID)f, &cc, 1, &n)) {
		vlog("cannot plant the exit breakpoint (%lu)\n", GetLastError());
		return;
	}
	FlushInstructionCache(d->hproc, (LPCVOID)f, 1);
	d->exit_bp = (u64)(ULONG_PTR)f;
	vlog("exit breakpoint at %p\n", (void *)f);
}

/* Puts a thread that executed the planted int3 back on the original
 * instruction at ip. */
static void
dbg_rewind(struct dbg *d, DWORD tid, u64 ip)
{
	HANDLE h = dbg_thread_handle(d, tid);
	CONTEXT *c = _aligned_malloc(sizeof *c, 16);
	if (h && c) {
		memset(c, 0, sizeof *c);
		c->ContextFlags = CONTEXT_CONTROL;
		if (GetThreadContext(h, c)) {
#ifdef _WIN64
			c->Rip = ip;
#else
			c->Eip = (DWORD)ip;
#endif
			SetThreadContext(h, c);
		}
	}
	_aligned_free(c);
}

/* Takes the planted int3 out and puts the thread back on the original
 * instruction, so RtlExitUserProcess runs as if nothing had happened. */
static void
dbg_remove_exit_breakpoint(struct dbg *d, DWORD tid)
{
	SIZE_T n;
	if (!d->exit_bp)
		return;
	WriteProcessMemory(d->hproc, (LPVOID)(ULONG_PTR)d->exit_bp, &d->exit_bp_orig, 1, &n);
	FlushInstructionCache(d->hproc, (LPCVOID)(ULONG_PTR)d->exit_bp, 1);
	if (tid)
		dbg_rewind(d, tid, d->exit_bp);
	d->exit_bp_was = d->exit_bp;
	d->exit_bp = 0;
}

static DWORD
dbg_on_exception(struct dbg *d, const DEBUG_EVENT *ev)
{
	const EXCEPTION_DEBUG_INFO *x = &ev->u.Exception;
	DWORD code = x->ExceptionRecord.ExceptionCode;
	int first = x->dwFirstChance != 0;
	int bp = code == EXCEPTION_BREAKPOINT || code == 0x4000001F /* STATUS_WX86_BREAKPOINT */;
	wchar_t hex[16], hex0x[16], name[64], both[96];
	const wchar_t *texts[4];
	const char *nm = trig_exception_name(code);

	if (bp && first && !d->initial_done && (!d->breakin_tid || ev->dwThreadId == d->breakin_tid)) {
		/* the attach (break-in thread) or loader breakpoint: ours; a
		 * breakpoint of the target's own that races the attach is not */
		d->initial_done = 1;
		if (d->attached == 1)
			d->breakin_tid = ev->dwThreadId;
		vlog("attached: initial breakpoint on thread %lu\n", ev->dwThreadId);
		return DBG_CONTINUE;
	}
	if (bp && first && d->exit_bp && (u64)(ULONG_PTR)x->ExceptionRecord.ExceptionAddress == d->exit_bp) {
		out("%s Process exit: thread %lu called ExitProcess.\n", stamp(), ev->dwThreadId);
		/* first put the code and the thread back, so that the dump shows
		 * the thread at the entry of RtlExitUserProcess, not after an int3 */
		dbg_remove_exit_breakpoint(d, ev->dwThreadId);
		if (!d->done) {
			struct pd_event pe;
			memset(&pe, 0, sizeof pe);
			pe.tid = ev->dwThreadId;
			d->exit_fired = 1;
			dbg_fire(d, &pe);
		}
		return DBG_CONTINUE;
	}
	if (bp && first && d->exit_bp_was && (u64)(ULONG_PTR)x->ExceptionRecord.ExceptionAddress == d->exit_bp_was) {
		/* a second thread that reached the int3 before it was taken out:
		 * on it goes into RtlExitUserProcess, not into an unhandled int3 */
		dbg_rewind(d, ev->dwThreadId, d->exit_bp_was);
		return DBG_CONTINUE;
	}
	if (code == 0x4000001F && first && d->t->wow64 && !d->wow_initial_done) {
		d->wow_initial_done = 1; /* the x86 loader breakpoint of a WOW64 target */
		return DBG_CONTINUE;
	}
	if (!d->cfg->e)
		return DBG_EXCEPTION_NOT_HANDLED;
	if (bp && first && !d->cfg->b)
		return DBG_EXCEPTION_NOT_HANDLED; /* breakpoints are passed over without -b */

	vlog("exception %08lX on thread %lu at %llu (FILETIME)\n", code, ev->dwThreadId, trig_precise_now());
	out("%s %s: %08lX.%s\n", stamp(), first ? "Exception" : "Unhandled", code, nm);
	swprintf(hex, 16, L"%08lX", code);
	swprintf(hex0x, 16, L"0x%08lX", code);
	MultiByteToWideChar(CP_ACP, 0, nm, -1, name, 64);
	swprintf(both, 96, L"%ls.%ls", hex, name);
	texts[0] = hex;
	texts[1] = hex0x;
	texts[2] = name;
	texts[3] = both;
	if ((!first || d->cfg->e_first) && trig_filter_pass(d->cfg, texts, 4)) {
		struct pd_event pe;
		memset(&pe, 0, sizeof pe);
		pe.has_exception = 1;
		pe.tid = ev->dwThreadId;
		pe.rec = x->ExceptionRecord;
		pe.exception_code = code;
		dbg_event_context(d, ev->dwThreadId, &pe.ctx);
		dbg_fire(d, &pe);
	}
	return DBG_EXCEPTION_NOT_HANDLED;
}

static void
dbg_on_debug_string(struct dbg *d, const DEBUG_EVENT *ev)
{
	const OUTPUT_DEBUG_STRING_INFO *o = &ev->u.DebugString;
	size_t n = o->nDebugStringLength;
	wchar_t *w = NULL;
	const wchar_t *texts[1];

	if (!d->cfg->l || !n)
		return;
	if (n > 65536)
		n = 65536;
	/* Wine delivers OutputDebugStringW as ANSI (fUnicode 0): handle both. */
	if (o->fUnicode) {
		w = xcalloc(n + 1, sizeof *w);
		if (!w || w32_read(d->t->h, (u64)(ULONG_PTR)o->lpDebugStringData, w, n * 2) < 0) {
			free(w);
			return;
		}
	} else {
		char *a = xcalloc(n + 1, 1);
		int wn;
		if (!a || w32_read(d->t->h, (u64)(ULONG_PTR)o->lpDebugStringData, a, n) < 0) {
			free(a);
			return;
		}
		wn = MultiByteToWideChar(CP_ACP, 0, a, -1, NULL, 0);
		w = wn > 0 ? xcalloc(wn, sizeof *w) : NULL;
		if (w)
			MultiByteToWideChar(CP_ACP, 0, a, -1, w, wn);
		free(a);
		if (!w)
			return;
	}
	n = wcslen(w);
	while (n && (w[n - 1] == L'\n' || w[n - 1] == L'\r'))
		w[--n] = 0;
	out("%s Debug String: %s\n", stamp(), u8s(w));
	texts[0] = w;
	if (trig_filter_pass(d->cfg, texts, 1)) {
		struct pd_event pe;
		memset(&pe, 0, sizeof pe);
		pe.tid = ev->dwThreadId;
		dbg_fire(d, &pe);
	}
	free(w);
}

static void
dbg_on_dll(struct dbg *d, const DEBUG_EVENT *ev, int load)
{
	const wchar_t *name = L"";
	const wchar_t *texts[2];
	int i;
	u64 base;

	if (load) {
		const LOAD_DLL_DEBUG_INFO *l = &ev->u.LoadDll;
		wchar_t *nmw = dbg_dll_name(d, l->hFile, l->lpImageName, l->fUnicode);
		base = (u64)(ULONG_PTR)l->lpBaseOfDll;
		if (l->hFile)
			CloseHandle(l->hFile);
		if (!nmw)
			return;
		dbg_add_dll(d, base, nmw);
		name = nmw;
	} else {
		base = (u64)(ULONG_PTR)ev->u.UnloadDll.lpBaseOfDll;
		for (i = 0; i < d->ndll; i++)
			if (d->dll[i].base == base)
				name = d->dll[i].name;
	}
	if (d->initial_done && (load ? d->cfg->ld : d->cfg->ud)) {
		out("%s DLL %s: %s\n", stamp(), load ? "Load" : "Unload", u8s(name));
		texts[0] = name;
		texts[1] = path_basename(name);
		if (trig_filter_pass(d->cfg, texts, 2)) {
			struct pd_event pe;
			memset(&pe, 0, sizeof pe);
			pe.tid = ev->dwThreadId;
			dbg_fire(d, &pe);
		}
	}
	if (!load) {
		for (i = 0; i < d->ndll; i++)
			if (d->dll[i].base == base) {
				free(d->dll[i].name);
				d->dll[i] = d->dll[--d->ndll];
				break;
			}
	}
}

static int
dbg_has_clr(const struct dbg *d)
{
	int i;
	for (i = 0; i < d->ndll; i++)
		if (path_is_clr(d->dll[i].name))
			return 1;
	return 0;
}

static int
dbg_cancelled(const struct dbg *d)
{
	return g_cancel || (d->named && WaitForSingleObject(d->named, 0) == WAIT_OBJECT_0);
}

/* Runs the event loop until the count is reached, the target exits, or the
 * run is cancelled.  With until_initial, returns at the initial breakpoint
 * (used by -x with no debug trigger: launch, then the timed series). */
static void
dbg_loop(struct dbg *d, int until_initial)
{
	static fn_WaitForDebugEventEx wait_ex;
	static FARPROC breakin;
	static int looked;
	DEBUG_EVENT ev;

	if (!looked) {
		/* WaitForDebugEventEx (Windows 10) delivers wide debug strings as
		 * wide; Wine 8 does not export it. */
		wait_ex = (fn_WaitForDebugEventEx)(void (*)(void))GetProcAddress(
			GetModuleHandleW(L"kernel32.dll"), "WaitForDebugEventEx");
		breakin = GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "DbgUiRemoteBreakin");
		looked = 1;
	}
	while (!d->done && !d->exited) {
		DWORD cont = DBG_CONTINUE;
		BOOL got;
		if (dbg_cancelled(d)) {
			out("%s Cancelled.\n", stamp());
			d->rc = PD_EXIT_NOTDONE;
			return;
		}
		/* the monitors run on this thread too, between debug events */
		if (d->mon && d->initial_done && now_sec() >= d->mon->next_tick) {
			if (trig_mon_tick(d->mon) == 1) {
				struct pd_event pe;
				memset(&pe, 0, sizeof pe);
				out("%s Trigger: %s\n", stamp(), d->mon->why);
				dbg_fire(d, &pe);
				trig_mon_after_dump(d->mon);
				continue;
			}
		}
		got = wait_ex ? wait_ex(&ev, 100) : WaitForDebugEvent(&ev, 100);
		if (!got) {
			DWORD e = GetLastError();
			if (e == ERROR_SEM_TIMEOUT || e == WAIT_TIMEOUT)
				continue;
			warn("WaitForDebugEvent:");
			d->rc = PD_EXIT_TARGET;
			return;
		}
		switch (ev.dwDebugEventCode) {
		case CREATE_PROCESS_DEBUG_EVENT: {
			const CREATE_PROCESS_DEBUG_INFO *c = &ev.u.CreateProcessInfo;
			d->hproc = c->hProcess;
			dbg_add_thread(d, ev.dwThreadId, c->hThread);
			dbg_add_dll(d, (u64)(ULONG_PTR)c->lpBaseOfImage,
			            dbg_dll_name(d, c->hFile, c->lpImageName, c->fUnicode));
			if (c->hFile)
				CloseHandle(c->hFile);
			break;
		}
		case CREATE_THREAD_DEBUG_EVENT:
			dbg_add_thread(d, ev.dwThreadId, ev.u.CreateThread.hThread);
			/* DebugActiveProcess injects a thread that starts at
			 * ntdll!DbgUiRemoteBreakin: its breakpoint is the attach one */
			if (!d->initial_done && d->attached == 1 &&
			    (ULONG_PTR)ev.u.CreateThread.lpStartAddress == (ULONG_PTR)breakin)
				d->breakin_tid = ev.dwThreadId;
			if (d->initial_done && d->cfg->ct) {
				struct pd_event pe;
				out("%s Thread Create: %lu\n", stamp(), ev.dwThreadId);
				memset(&pe, 0, sizeof pe);
				pe.tid = ev.dwThreadId;
				dbg_fire(d, &pe);
			}
			break;
		case EXIT_THREAD_DEBUG_EVENT:
			if (d->initial_done && d->cfg->et && ev.dwThreadId != d->breakin_tid) {
				struct pd_event pe;
				out("%s Thread Exit: %lu (exit code %lu)\n", stamp(), ev.dwThreadId,
				    ev.u.ExitThread.dwExitCode);
				memset(&pe, 0, sizeof pe);
				pe.tid = ev.dwThreadId;
				dbg_fire(d, &pe);
			}
			dbg_del_thread(d, ev.dwThreadId);
			break;
		case LOAD_DLL_DEBUG_EVENT:
			dbg_on_dll(d, &ev, 1);
			break;
		case UNLOAD_DLL_DEBUG_EVENT:
			dbg_on_dll(d, &ev, 0);
			break;
		case OUTPUT_DEBUG_STRING_EVENT:
			dbg_on_debug_string(d, &ev);
			break;
		case EXCEPTION_DEBUG_EVENT: {
			int was = d->initial_done;
			cont = dbg_on_exception(d, &ev);
			if (!was && d->initial_done) {
				if (d->cfg->t)
					dbg_plant_exit_breakpoint(d);
				if (d->cfg->g) {
					if (!dbg_has_clr(d)) {
						SetLastError(0);
						warn("-g: process %lu has no CLR loaded (clr.dll or coreclr.dll); "
						     "managed debugging needs one", d->t->pid);
						d->rc = PD_EXIT_TARGET;
					} else {
						SetLastError(0);
						warn("-g: managed-only debugging of a CLR process is not implemented yet");
						d->rc = PD_EXIT_USAGE;
					}
					d->done = 1;
				}
				if (until_initial)
					d->done = 1;
			}
			break;
		}
		case EXIT_PROCESS_DEBUG_EVENT:
			out("%s The process has exited. Exit code: 0x%08lX\n", stamp(), ev.u.ExitProcess.dwExitCode);
			if (d->cfg->t && !d->done && !d->exit_fired) {
				/* TerminateProcess or a crash: no ExitProcess breakpoint */
				struct pd_event pe;
				memset(&pe, 0, sizeof pe);
				pe.tid = ev.dwThreadId;
				pe.at_exit = 1;
				dbg_fire(d, &pe);
			}
			d->exited = 1;
			if (!d->done)
				d->rc = PD_EXIT_NOTDONE;
			break;
		default:
			break;
		}
		if (!ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId, cont)) {
			warn("ContinueDebugEvent:");
			d->rc = PD_EXIT_TARGET;
			return;
		}
	}
}

/* Ends the debugging session: the target runs on (detached) unless -k. */
static void
dbg_finish(struct dbg *d)
{
	int i;
	if (!d->attached || d->exited)
		goto out;
	dbg_remove_exit_breakpoint(d, 0); /* a detached target must not hit it */
	if (d->cfg->k) {
		DEBUG_EVENT ev;
		DWORD end = GetTickCount() + 5000;
		if (TerminateProcess(d->t->h, 1))
			out("%s Killed process %lu (-k).\n", stamp(), d->t->pid);
		else
			warn("TerminateProcess %lu:", d->t->pid);
		/* drain events until the exit, so nothing is left pending */
		while (GetTickCount() < end && WaitForDebugEvent(&ev, 200)) {
			ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId,
			                   ev.dwDebugEventCode == EXCEPTION_DEBUG_EVENT ? DBG_EXCEPTION_NOT_HANDLED : DBG_CONTINUE);
			if (ev.dwDebugEventCode == EXIT_PROCESS_DEBUG_EVENT)
				break;
		}
	}
	if (!DebugActiveProcessStop(d->t->pid) && !d->cfg->k)
		warn("DebugActiveProcessStop %lu:", d->t->pid);
out:
	d->attached = 0;
	for (i = 0; i < d->ndll; i++)
		free(d->dll[i].name);
	free(d->dll);
	free(d->th);
	d->dll = NULL;
	d->th = NULL;
	d->ndll = d->nth = 0;
}

/* Attaches to t (or takes over the launched one) and runs the triggers. */
static int
dbg_run(const struct pd_config *cfg, struct pd_target *t, int launched, int out_is_dir,
        struct trig_mon *mon)
{
	struct dbg d;

	memset(&d, 0, sizeof d);
	d.cfg = cfg;
	d.t = t;
	d.out_is_dir = out_is_dir;
	d.count = cfg->n == PD_UNSET ? 1 : cfg->n;
	d.mon = mon;
	d.triggers = cfg->e || cfg->l || cfg->t || cfg->ld || cfg->ud || cfg->ct || cfg->et || mon;
	d.named = trig_cancel_event(t->pid);
	if (launched)
		d.attached = 2;
	else {
		if (!DebugActiveProcess(t->pid)) {
			warn("cannot attach to process %lu (is another debugger attached?):", t->pid);
			if (d.named)
				CloseHandle(d.named);
			return PD_EXIT_TARGET;
		}
		d.attached = 1;
	}
	/* procdump ending, even killed, must not take the target with it */
	DebugSetProcessKillOnExit(FALSE);
	if (d.triggers)
		out("Press Ctrl-C to end monitoring without terminating the process.\n\n");
	dbg_loop(&d, !d.triggers);
	if (!d.triggers && d.done && d.rc == PD_EXIT_OK) {
		/* -x with no debug trigger, at the initial breakpoint: detach and
		 * run the timed series */
		dbg_finish(&d);
		if (d.named)
			CloseHandle(d.named);
		return trig_run_timed(cfg, t, out_is_dir);
	}
	if (d.done && d.rc == PD_EXIT_OK)
		out("%s Dump count reached.\n", stamp());
	else if (d.rc == PD_EXIT_NOTDONE)
		out("%s Dump count not reached.\n", stamp());
	dbg_finish(&d);
	if (d.named)
		CloseHandle(d.named);
	trig_names_free(&d.names);
	return d.rc;
}

/* Quotes one argument the way CommandLineToArgvW reads it back. */
static void
dbg_quote_arg(wchar_t *dst, size_t cap, size_t *o, const wchar_t *a)
{
	int need = !*a || wcspbrk(a, L" \t\"") != NULL;
	size_t bs = 0;
#define PUT(c) do { if (*o + 1 < cap) dst[(*o)++] = (c); } while (0)
	if (*o)
		PUT(L' ');
	if (!need) {
		while (*a)
			PUT(*a++);
		return;
	}
	PUT(L'"');
	for (; *a; a++) {
		if (*a == L'\\') {
			bs++;
			continue;
		}
		if (*a == L'"') {
			bs = bs * 2 + 1;
		}
		while (bs) {
			PUT(L'\\');
			bs--;
		}
		PUT(*a);
	}
	bs *= 2;
	while (bs--)
		PUT(L'\\');
	PUT(L'"');
#undef PUT
}

/* -x: starts the image under the debugger; fills t. */
static int
dbg_launch(const struct pd_config *cfg, struct pd_target *t)
{
	size_t cap = wcslen(cfg->x_image) * 2 + 8, o = 0;
	wchar_t *cmd, path[MAX_PATH];
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	DWORD plen = MAX_PATH;
	int i;

	/* Store applications (Name_Publisher!App) and packages (..._x64__Publisher)
	 * are activated through the package manager, not CreateProcess. */
	if (wcschr(cfg->x_image, L'!') || wcsstr(cfg->x_image, L"__")) {
		SetLastError(0);
		warn("-x: Store application and package activation is not implemented yet ('%s')",
		     u8s(cfg->x_image));
		return PD_EXIT_USAGE;
	}
	for (i = 0; i < cfg->x_nargs; i++)
		cap += wcslen(cfg->x_args[i]) * 2 + 4;
	cmd = xcalloc(cap, sizeof *cmd);
	if (!cmd)
		return PD_EXIT_TARGET;
	dbg_quote_arg(cmd, cap, &o, cfg->x_image);
	for (i = 0; i < cfg->x_nargs; i++)
		dbg_quote_arg(cmd, cap, &o, cfg->x_args[i]);
	cmd[o] = 0;
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
	si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
	if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, DEBUG_ONLY_THIS_PROCESS, NULL, NULL, &si, &pi)) {
		warn("cannot launch '%s':", u8s(cfg->x_image));
		free(cmd);
		return PD_EXIT_TARGET;
	}
	free(cmd);
	CloseHandle(pi.hThread);
	memset(t, 0, sizeof *t);
	t->pid = pi.dwProcessId;
	t->h = pi.hProcess;
	if (QueryFullProcessImageNameW(pi.hProcess, 0, path, &plen))
		wcsncpy(t->name, path_basename(path), MAX_PATH - 1);
	else
		wcsncpy(t->name, path_basename(cfg->x_image), MAX_PATH - 1);
	{
		BOOL w = FALSE;
		if (IsWow64Process(pi.hProcess, &w))
			t->wow64 = w;
	}
	{
		struct pd_sys_process *list = w32_process_list(), *p;
		if (list && (p = w32_process_find(list, t->pid)))
			t->create_time = (u64)p->CreateTime.QuadPart;
		free(list);
	}
	out("Launched:              %s (%lu)\n", u8s(cfg->x_image), t->pid);
	return 0;
}

/* ================================ Install =============================== */
/* AeDebug registration (-i, -u, -j) is parsed and validated by Args and
 * built in a later release; using it says so. */

/* ================================= Main ================================= */
/* pd_main(): parse, validate, resolve the target, run the trigger, choose
 * the exit code.  The only place that prints the banner and summary. */

static void
main_banner(void)
{
	out("procdump.c v" PD_VERSION " - open-source process dump utility (ProcDump-compatible)\n");
	out("Free software (MIT). Exit codes are documented: procdump -?\n\n");
}

/* -mc: names the MINIDUMP_TYPE bits this writer cannot honour; they are
 * left out of the dump and of its header Flags. */
static void
main_check_mask(unsigned long long mask)
{
	static const struct { u64 bit; const char *name; } names[] = {
		{ 0x8000, "WithFullAuxiliaryState" },
		{ 0x100000, "FilterTriage" },
		{ 0x400000, "WithIptTrace" } };
	u64 bad = mask & ~(u64)MDT_HONOURED;
	size_t i;
	char list[512] = "";
	if ((mask & MDT_FILTERMEMORY) && (mask & MDT_FULLMEMORY)) {
		SetLastError(0);
		warn("-mc: 0x8 FilterMemory applies to stacks in a MemoryList; with 0x2 FullMemory it is "
		     "left out of the dump and its Flags");
	}
	if (!bad)
		return;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (bad & names[i].bit)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s0x%llx %s",
			         list[0] ? ", " : "", names[i].bit, names[i].name);
	{
		u64 rest = bad;
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			rest &= ~names[i].bit;
		if (rest)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s0x%llx (unknown)",
			         list[0] ? ", " : "", rest);
	}
	SetLastError(0);
	warn("-mc: not supported, left out of the dump and its Flags: %s", list);
}

/* The configuration table ProcDump prints before it monitors. */
static void
main_print_config(const struct pd_config *cfg, const struct pd_target *t)
{
	int i;
	out("Process:               %s (%lu)\n", u8s(t->name), t->pid);
	out("Dump types:           ");
	for (i = 0; i < cfg->ntypes; i++)
		out(" %s", trig_type_name(cfg->types[i]));
	out("\n");
	if (cfg->e)
		out("Exception monitor:     %s\n", cfg->e_first ? "First Chance+Unhandled" : "Unhandled");
	if (cfg->f_set || cfg->fx_set)
		out("Exception filter:      [Includes]%s%s [Excludes]%s%s\n",
		    cfg->f_set ? " " : "", cfg->f_set ? u8s(cfg->f) : "",
		    cfg->fx_set ? " " : "", cfg->fx_set ? u8s(cfg->fx) : "");
	if (cfg->c != PD_UNSET || cfg->cl != PD_UNSET)
		out("CPU threshold:         %s%lld%% of %s\n", cfg->c != PD_UNSET ? ">" : "<",
		    cfg->c != PD_UNSET ? cfg->c : cfg->cl, cfg->u ? "one core" : "the machine");
	if (cfg->m != PD_UNSET || cfg->ml != PD_UNSET)
		out("Commit threshold:      %s%lld MB\n", cfg->m != PD_UNSET ? ">=" : "<",
		    cfg->m != PD_UNSET ? cfg->m : cfg->ml);
	if (cfg->p || cfg->pl)
		out("Performance counter:   %s %s%lld\n", u8s(cfg->p ? cfg->p : cfg->pl), cfg->p ? ">=" : "<",
		    cfg->p ? cfg->p_thr : cfg->pl_thr);
	if (cfg->c != PD_UNSET || cfg->cl != PD_UNSET || cfg->m != PD_UNSET || cfg->ml != PD_UNSET ||
	    cfg->p || cfg->pl)
		out("Threshold seconds:     %lld\n", cfg->s == PD_UNSET ? 10LL : cfg->s);
	if (cfg->h)
		out("Hung window check:     Enabled\n");
	if (cfg->at != PD_UNSET)
		out("Collection timeout:    %lld seconds (-at)\n", cfg->at);
	if (cfg->l)
		out("Log debug strings:     Enabled\n");
	if (cfg->t)
		out("Terminate monitor:     Enabled\n");
	if (cfg->ld || cfg->ud || cfg->ct || cfg->et)
		out("Events:               %s%s%s%s\n", cfg->ld ? " DLL-load" : "", cfg->ud ? " DLL-unload" : "",
		    cfg->ct ? " thread-create" : "", cfg->et ? " thread-exit" : "");
	out("Number of dumps:       %lld\n", cfg->n == PD_UNSET ? 1LL : cfg->n);
	if (cfg->n != PD_UNSET && cfg->n > 1 && !(cfg->e || cfg->l || cfg->t || cfg->ld || cfg->ud || cfg->ct ||
	    cfg->et || cfg->c != PD_UNSET || cfg->cl != PD_UNSET || cfg->m != PD_UNSET || cfg->ml != PD_UNSET ||
	    cfg->p || cfg->pl || cfg->h))
		out("Seconds between dumps: %lld\n", cfg->s == PD_UNSET ? 10LL : cfg->s);
	if (cfg->output)
		out("Dump folder/file:      %s\n", u8s(cfg->output));
	if (cfg->k)
		out("Kill after dump:       Enabled\n");
	out("\n");
}

/* -w: waits for a process of that name (polling 10 times a second). */
static int
main_wait(const struct pd_config *cfg, struct pd_target *t)
{
	int rc = tgt_resolve_ex(t, cfg->target, 1);
	if (rc != -1)
		return rc;
	out("Waiting for process named %s...\n", u8s(cfg->target));
	for (;;) {
		if (WaitForSingleObject(g_cancel_event, 100) == WAIT_OBJECT_0) {
			out("%s Cancelled.\n", stamp());
			return PD_EXIT_NOTDONE;
		}
		rc = tgt_resolve_ex(t, cfg->target, 1);
		if (rc == 0)
			out("%s Process %s (%lu) started.\n", stamp(), u8s(t->name), t->pid);
		if (rc != -1)
			return rc;
	}
}

PD_API int
pd_write_dump(unsigned long pid, const wchar_t *path, int type, const wchar_t *comment, int overwrite)
{
	struct pd_target t;
	struct pd_dump_req rq;
	struct pd_dump_result res;
	wchar_t spec[16];
	int rc;
	if (!nt.NtQuerySystemInformation && w32_init() < 0)
		return PD_EXIT_TARGET;
	swprintf(spec, 16, L"%lu", pid);
	if ((rc = tgt_resolve(&t, spec)) || (rc = tgt_open(&t, 0)))
		return rc;
	memset(&rq, 0, sizeof rq);
	rq.type = type;
	rq.path = path;
	rq.comment = comment;
	rq.overwrite = overwrite;
	rc = dump_write(&t, &rq, &res);
	tgt_close(&t);
	return rc;
}

PD_API int
pd_main(int argc, wchar_t **argv)
{
	struct pd_config cfg;
	struct pd_target t;
	struct trig_mon mon;
	int rc, out_is_dir = 0, launched = 0, have_mon = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
	if (argc < 2) {
		main_banner();
		args_usage(0);
		return PD_EXIT_USAGE;
	}
	if ((rc = args_parse(&cfg, argc, argv)))
		return rc;
	if (cfg.help) {
		main_banner();
		args_usage(cfg.e);
		return PD_EXIT_OK;
	}
	if ((rc = args_validate(&cfg)) || (rc = args_check_implemented(&cfg)))
		return rc;
	g_verbose = cfg.v;
	if (w32_init() < 0)
		return PD_EXIT_TARGET;
	if (cfg.cancel != PD_UNSET)
		return trig_cancel_pid((DWORD)cfg.cancel);
	if (!cfg.ntypes)
		cfg.types[cfg.ntypes++] = PD_MINI;

	/* The output: a folder (existing, or named with a trailing separator)
	 * or a file name whose folder must exist. */
	if (cfg.output) {
		if (w32_is_dir(cfg.output))
			out_is_dir = 1;
		else if (wcs_endswith_i(cfg.output, L"\\") || wcs_endswith_i(cfg.output, L"/")) {
			SetLastError(0);
			warn("dump folder '%s' does not exist", u8s(cfg.output));
			return PD_EXIT_USAGE;
		} else {
			wchar_t *dir = w32_dirname(cfg.output);
			int ok = dir && w32_is_dir(dir);
			if (!ok) {
				SetLastError(0);
				warn("the folder of dump file '%s' does not exist", u8s(cfg.output));
				free(dir);
				return PD_EXIT_USAGE;
			}
			free(dir);
		}
	}

	main_banner();
	w32_enable_privilege(L"SeDebugPrivilege");
	g_cancel_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	SetConsoleCtrlHandler(trig_ctrl_handler, TRUE);

	/* before a target is opened or launched: nothing to undo on failure */
	if (cfg.mc && !cfg.dbghelp)
		main_check_mask(cfg.mc_mask);
	if (cfg.md) {
		HMODULE dll = LoadLibraryW(cfg.md);
		if (!dll) {
			warn("-md: cannot load '%s':", u8s(cfg.md));
			return PD_EXIT_USAGE;
		}
		g_md_callback = (MINIDUMP_CALLBACK_ROUTINE)(void (*)(void))GetProcAddress(dll, "MiniDumpCallbackRoutine");
		if (!g_md_callback) {
			SetLastError(0);
			warn("-md: '%s' exports no MiniDumpCallbackRoutine", u8s(cfg.md));
			return PD_EXIT_USAGE;
		}
	}
	if (cfg.x) {
		if (!w32_is_dir(cfg.x_folder)) {
			SetLastError(0);
			warn("-x: dump folder '%s' does not exist", u8s(cfg.x_folder));
			return PD_EXIT_USAGE;
		}
		cfg.output = cfg.x_folder;
		out_is_dir = 1;
		if ((rc = dbg_launch(&cfg, &t)))
			return rc;
		launched = 1;
	} else {
		rc = cfg.w ? main_wait(&cfg, &t) : tgt_resolve(&t, cfg.target);
		if (rc)
			return rc;
		if ((rc = tgt_open(&t, cfg.k)))
			return rc;
	}
#ifdef _WIN64
	if (t.wow64)
		vlog("process %lu is 32-bit (WOW64): writing its %s view\n", t.pid, cfg.x64 ? "native 64-bit" : "x86");
#endif
	have_mon = cfg.c != PD_UNSET || cfg.cl != PD_UNSET || cfg.m != PD_UNSET || cfg.ml != PD_UNSET ||
	           cfg.p || cfg.pl || cfg.h;
	if (have_mon && (rc = trig_mon_init(&mon, &cfg, &t))) {
		trig_mon_free(&mon);
		if (launched)
			TerminateProcess(t.h, 1);
		tgt_close(&t);
		return rc;
	}
	main_print_config(&cfg, &t);
	if (cfg.x || cfg.e || cfg.l || cfg.t || cfg.ld || cfg.ud || cfg.ct || cfg.et)
		rc = dbg_run(&cfg, &t, launched, out_is_dir, have_mon ? &mon : NULL);
	else if (have_mon)
		rc = trig_run_monitors(&mon, out_is_dir);
	else
		rc = trig_run_timed(&cfg, &t, out_is_dir);
	if (have_mon)
		trig_mon_free(&mon);

	if (cfg.k && tgt_alive(&t)) {
		if (TerminateProcess(t.h, 1))
			out("%s Killed process %lu (-k).\n", stamp(), t.pid);
		else
			warn("TerminateProcess %lu:", t.pid);
	}
	tgt_close(&t);
	if (g_cancel_event)
		CloseHandle(g_cancel_event);
	return rc;
}

#ifndef PROCDUMP_NO_MAIN
int
wmain(int argc, wchar_t **argv)
{
	return pd_main(argc, argv);
}
#endif
