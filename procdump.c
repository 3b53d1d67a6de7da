/* procdump.c - an open-source ProcDump for Windows, in one C file.
 *
 * Writes minidumps of a running process with its own minidump writer (not
 * dbghelp), takes the same command lines as Sysinternals ProcDump, and has
 * documented exit codes.  Cross-compiled from Linux, tested under Wine.
 *
 * Build (mingw-w64; the Makefile does this):
 *   x86_64-w64-mingw32-gcc -O2 -municode -static procdump.c -o procdump64.exe -ladvapi32
 *   i686-w64-mingw32-gcc   -O2 -municode -static procdump.c -o procdump.exe   -ladvapi32
 * The Makefile also links the version resource and manifest (the
 * RC_INVOKED block in Config, through windres), passes
 * -Wl,--no-insert-timestamp, so that a commit always gives the same bytes,
 * and -Wl,--large-address-aware to the i686 build (up to 4 GiB for a -r
 * clone's copy).
 * Library mode (no main, no exit; call pd_main() or pd_write_dump()):
 *   x86_64-w64-mingw32-gcc -c -DPROCDUMP_NO_MAIN procdump.c
 *
 * Exit codes (man/procdump.1 EXIT STATUS, README, doc/DESIGN.md "Exit codes"):
 *   0  every requested dump was written
 *   1  monitoring ended before the count was reached (the target exited,
 *      also before it could be attached or its dump begun; Ctrl+C, -cancel,
 *      -duration); -u found nothing installed
 *   2  usage error (bad switch or value, conflicting switches, not
 *      implemented yet)
 *   3  target problem (not found, several match a name, access denied,
 *      another debugger, service not running); -i, -u or -svc not elevated
 *   4  a dump could not be written (I/O error, disk full, the -minfree floor,
 *      clone refused, file exists without -o, the target vanished while
 *      read, too much of its memory unreadable), or a -json event line
 *      could not be written
 *   With -all or -pt: 0 if every process reached its count, else the first
 *   of 2, 4, 3, 1 that a run ended with; 1 if none was monitored.
 *
 * Sections, callees before callers (grep -n '^/\* ===' procdump.c):
 *   Config   build settings, the configuration struct, the library API
 *   Util     messages, strings, buffers, time; the process-wide state (g)
 *   Win32    wrappers around Windows and ntdll calls (processes, files,
 *            debugging, registry, WER, COM), the table of entry points
 *            resolved at run time, NT and minidump structures
 *   Args     the option table (parser, defaults, -? text), cross-option rules
 *   Targets  PID / process name / service name to a process
 *   Snapshot how a target is held and read (struct snap, snap_ops); a dump's
 *            request and result (pd_dump_req, pd_dump_result), in sub-sections:
 *     Snapshot: Live   the live process held still (live_*, live_ops)
 *     Snapshot: PSS    the PSS snapshot of -r (pss_*, pss_ops)
 *     Snapshot: Clone  the in-memory clone of -r (clone_*, clone_ops)
 *   Writer   the minidump writer: dump_write(), then its pipeline:
 *     Writer: Collect    what the streams show beyond the snapshot
 *     Writer: Memory     which memory each dump type holds; -md callbacks
 *     Writer: Streams    one put function per stream; the layout
 *     Writer: File       temporary file, write, signature, rename; -dbghelp
 *   Events   -json: the events as JSON Lines, each line written whole
 *   Actions  -ondump: the command run after each complete dump, on threads
 *            of its own, with a deadline
 *   Run      one run of a target's triggers: count, cancel (-cancel), file
 *            names, requests, -r job threads, reports, summary, exit code
 *   Triggers when to dump: the timed series (-n/-s), the sampled monitors
 *            (-c -cl -m -ml -tc -hc -p -pl -h), the filters (-f -fx)
 *   CLR      managed exceptions' type and message, through the runtime's
 *            own DAC over the held target (read-only)
 *   Debugger attach or launch (-x), debug events (-e -b -l -ld -ud -ct -et
 *            -t -g), detach
 *   Install  the postmortem debugger: AeDebug registration (-i -u), the
 *            dump of a crash (-j), -wer
 *   Service  -svc install, uninstall, list: the service control manager
 *   Main     pd_main(): parse, resolve, run, choose the exit code; the
 *            watcher of several targets (-all, -pt), a thread each;
 *            -duration; the service's run (-svc run)
 *
 * SPDX-License-Identifier: MIT
 */

/* ================================ Config ================================ */
/* Build settings, the version resource, exit codes, the parsed command
 * line (struct pd_config) and the library API.  Declarations only: no
 * code runs here. */

#define __USE_MINGW_ANSI_STDIO 1
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tlhelp32.h>
#include <winioctl.h>  /* FSCTL_SET_SPARSE */
#include <aclapi.h>    /* GetSecurityInfo */
#include <sddl.h>      /* ConvertSecurityDescriptorToStringSecurityDescriptorW */
#include <dbghelp.h>   /* types only (the minidump structures, MINIDUMP_CALLBACK_*): dbghelp.dll is loaded at run time */
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

/* The one version: numbers for the version resource's FILEVERSION, text
 * for the banner, -json and the resource's strings. */
#define PD_VERSION_MAJOR 0
#define PD_VERSION_MINOR 1
#define PD_VERSION_PATCH 0
#define PD_STR2(x) #x
#define PD_STR(x) PD_STR2(x)
#ifndef PD_VERSION
#define PD_VERSION PD_STR(PD_VERSION_MAJOR) "." PD_STR(PD_VERSION_MINOR) "." PD_STR(PD_VERSION_PATCH)
#endif

/* The version resource and manifest, for windres: the Makefile feeds it
 * this file up to the end of this block, so the one file stays one (a
 * compiler alone skips it).  AppLocker, WDAC and inventories read
 * ProductName, OriginalFilename and FileVersion.  The manifest: asInvoker
 * (no UAC prompt; unelevated, procdump dumps the user's own processes),
 * Windows 7 to 11 (no compatibility shims), long paths. */
#ifdef RC_INVOKED
#ifdef _WIN64
#define PD_RC_FILENAME "procdump64.exe"
#define PD_RC_DESCRIPTION "procdump.c: process dump utility (x64)"
#else
#define PD_RC_FILENAME "procdump.exe"
#define PD_RC_DESCRIPTION "procdump.c: process dump utility (x86)"
#endif
VS_VERSION_INFO VERSIONINFO
FILEVERSION PD_VERSION_MAJOR, PD_VERSION_MINOR, PD_VERSION_PATCH, 0
PRODUCTVERSION PD_VERSION_MAJOR, PD_VERSION_MINOR, PD_VERSION_PATCH, 0
FILEFLAGSMASK VS_FFI_FILEFLAGSMASK
FILEFLAGS 0
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_APP
FILESUBTYPE VFT2_UNKNOWN
BEGIN
	BLOCK "StringFileInfo"
	BEGIN
		BLOCK "040904B0" /* U.S. English, UTF-16 */
		BEGIN
			VALUE "CompanyName", "the procdump.c authors"
			VALUE "FileDescription", PD_RC_DESCRIPTION
			VALUE "FileVersion", PD_VERSION
			VALUE "InternalName", "procdump.c"
			VALUE "LegalCopyright", "Copyright (c) 2026 the procdump.c authors. MIT License."
			VALUE "OriginalFilename", PD_RC_FILENAME
			VALUE "ProductName", "procdump.c"
			VALUE "ProductVersion", PD_VERSION
		END
	END
	BLOCK "VarFileInfo"
	BEGIN
		VALUE "Translation", 0x409, 1200
	END
END
/* single-quoted XML attributes: no quote to escape in an RC string */
CREATEPROCESS_MANIFEST_RESOURCE_ID RT_MANIFEST
BEGIN
	"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
	"<assembly xmlns='urn:schemas-microsoft-com:asm.v1' manifestVersion='1.0'>\n"
	"<trustInfo xmlns='urn:schemas-microsoft-com:asm.v3'><security><requestedPrivileges>"
	"<requestedExecutionLevel level='asInvoker' uiAccess='false'/>"
	"</requestedPrivileges></security></trustInfo>\n"
	"<compatibility xmlns='urn:schemas-microsoft-com:compatibility.v1'><application>\n"
	"<supportedOS Id='{35138b9a-5d96-4fbd-8e2d-a2440225f93a}'/>\n" /* Windows 7 */
	"<supportedOS Id='{4a2f28e3-53b9-4441-ba9c-d69d4a4a6e38}'/>\n" /* Windows 8 */
	"<supportedOS Id='{1f676c76-80e1-4239-95bb-83d0f6d0da78}'/>\n" /* Windows 8.1 */
	"<supportedOS Id='{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}'/>\n" /* Windows 10 and 11 */
	"</application></compatibility>\n"
	"<application xmlns='urn:schemas-microsoft-com:asm.v3'><windowsSettings>"
	"<longPathAware xmlns='http://schemas.microsoft.com/SMI/2016/WindowsSettings'>true</longPathAware>"
	"</windowsSettings></application>\n"
	"</assembly>\n"
END
#endif /* RC_INVOKED: the Makefile's windres reads up to here */
#ifndef PD_API
#define PD_API
#endif
#define PD_WIDEN2(x) L ## x
#define PD_WIDEN(x) PD_WIDEN2(x)
#define PD_VERSION_W PD_WIDEN(PD_VERSION)
/* The build's bitness, for code outside Config and Win32 (a plain if):
 * PD_WIN64, a CONTEXT's CPU flag, its stack and instruction pointers and
 * its general registers (dump_context_registers). */
#ifdef _WIN64
#define PD_ARCH L"amd64"
#define PD_WIN64 1
#define PD_CONTEXT_CPU CONTEXT_AMD64
#define PD_CTX_SP(c) ((c)->Rsp)
#define PD_CTX_IP(c) ((c)->Rip)
#define PD_CTX_GPRS(c) { (c)->Rax, (c)->Rbx, (c)->Rcx, (c)->Rdx, (c)->Rsi, (c)->Rdi, (c)->Rbp, (c)->R8, \
                         (c)->R9, (c)->R10, (c)->R11, (c)->R12, (c)->R13, (c)->R14, (c)->R15 }
#else
#define PD_ARCH L"x86"
#define PD_WIN64 0
#define PD_CONTEXT_CPU CONTEXT_i386
#define PD_CTX_SP(c) ((c)->Esp)
#define PD_CTX_IP(c) ((c)->Eip)
#define PD_CTX_GPRS(c) { (c)->Eax, (c)->Ebx, (c)->Ecx, (c)->Edx, (c)->Esi, (c)->Edi, (c)->Ebp }
#endif

/* "not given" for numeric options, so that any value a user types
 * (even -1) is seen and range-checked. */
#define PD_UNSET LLONG_MIN
/* printf-style checking for the message functions (-Wformat=2 in the
 * Makefile): gnu_printf, as __USE_MINGW_ANSI_STDIO gives C99 formats */
#define PD_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))

#define PD_EXIT_OK       0
#define PD_EXIT_NOTDONE  1
#define PD_EXIT_USAGE    2
#define PD_EXIT_TARGET   3
#define PD_EXIT_WRITE    4
/* internal, never an exit code: a collection cancelled by -at; the run goes on */
#define PD_TIMEOUT       100
/* internal: a dump refused or stopped at the free-space floor (-minfree); a series goes on */
#define PD_NOSPACE       101
/* internal: -a skipped a trigger (the clones' limit, or no memory for one) */
#define PD_SKIPPED       102
/* internal: the target had ended before its dump could begin (nothing was
 * read); its run ends as at its exit, 1 */
#define PD_GONE          103

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

/* -svc's verbs (Service); run is the service's own command line. */
enum pd_svc { SVC_NONE, SVC_INSTALL, SVC_UNINSTALL, SVC_LIST, SVC_RUN };

/* Dump types, in the order ProcDump lists them. */
enum pd_type { PD_MINI, PD_FULL, PD_TRIAGE, PD_MINIPLUS, PD_CUSTOM, PD_CALLBACK, PD_NTYPES };

#define PD_MAXOPTS 64     /* room in pd_config.given for every switch */
#define PD_MAXSTEPS 10    /* values in one threshold list (-c 50,70,90) */

/* A monitor's thresholds in firing order: one value, or a list whose
 * values each fire once (increasing above, decreasing below). */
struct pd_steps {
	int n;
	long long v[PD_MAXSTEPS];
};

struct pd_config {
	int types[PD_NTYPES];   /* dump types in command-line order */
	int ntypes;
	int type_mini, type_full, type_triage, type_miniplus, kernel_dump; /* dump type switches seen */
	u64 custom_mask;        /* -mc: the MINIDUMP_TYPE bits asked for */
	wchar_t *callback_dll;  /* -md callback DLL */
	long long count, interval_secs; /* -n count (default 1), -s seconds (default 10) */
	long long cpu_above, cpu_below; /* CPU thresholds; PD_UNSET = not given */
	int per_core;           /* -u: per core with -c/-cl, uninstall alone */
	long long commit_above, commit_below; /* commit thresholds in MB; PD_UNSET = not given */
	long long threads_above, handles_above; /* thread and handle count thresholds; PD_UNSET = not given */
	/* every value of -c -cl -m -ml -tc -hc (the field above is the first) */
	struct pd_steps cpu_above_steps, cpu_below_steps, commit_above_steps, commit_below_steps,
	    threads_above_steps, handles_above_steps;
	int lists;              /* one of them is a list: each value fires once, -n is their number */
	long long hung_secs;    /* -h [N]: seconds a window does not respond before a dump (5) */
	wchar_t *counter_above, *counter_below; /* performance counter paths */
	long long counter_above_value, counter_below_value;
	int hung, on_exception, first_chance, native_only, breakpoints, on_dll_load,
	    on_dll_unload, on_thread_create, on_thread_exit, debug_log, on_terminate;
	wchar_t *include, *exclude; /* comma-separated filter lists (may be "") */
	int include_set, exclude_set;
	wchar_t *comment;       /* dump comment */
	int overwrite, clone, clone_limit, avoid_outage, wer, native_view, wait, kill_after,
	    verbose, accepteula, help;
	int dbghelp;            /* -dbghelp: system MiniDumpWriteDump */
	long long minfree;      /* -minfree MB to keep free; PD_UNSET = the default floor, 0 = no guard */
	long long keep;         /* -keep N dumps of the process name (each type) in the folder; PD_UNSET = all */
	int inheritacl;         /* -inheritacl: the folder's inherited ACL, not a protected one */
	wchar_t *activation;    /* hidden -y activation id */
	long long timeout_secs; /* -at seconds; PD_UNSET = not given */
	wchar_t *launch_folder, *launch_image, **launch_args; /* -x folder image args... */
	int launch, launch_nargs;
	int install;            /* -i [folder] */
	wchar_t *install_folder;
	int postmortem;         /* hidden AeDebug entry point */
	wchar_t **postmortem_args; /* -j folder pid event jitinfo: the arguments after -j */
	int postmortem_nargs;
	long long cancel;       /* -cancel PID; PD_UNSET = not given */
	long long freezeguard;  /* hidden -freezeguard PID: the guard of a suspension (Main) */
	long long exitguard;    /* hidden -exitguard PID: the guard of -t's breakpoint (Debugger) */
	int all;                /* -all: every process of the name (Main's watcher) */
	int children;           /* -pt: the targets' child processes too, and theirs */
	long long duration;     /* -duration seconds; PD_UNSET = not given */
	wchar_t *target;        /* PID, process name or service name */
	wchar_t *output;        /* dump file or folder */
	wchar_t *json;          /* -json: the events' file, or "-" for stdout (Events) */
	int svc;                /* -svc: SVC_INSTALL, SVC_UNINSTALL, SVC_LIST, SVC_RUN (Service) */
	wchar_t *svc_name;      /* -svc's NAME (the service is procdump.c-NAME) */
	int svc_at;             /* argv index of -svc: install passes the rest of argv to the service */
	wchar_t *svc_user;      /* -svcuser: the account the service runs as; NULL: LocalSystem (Service) */
	wchar_t *ondump;        /* -ondump: the command line run after each complete dump (Actions) */
	long long ondump_secs;  /* -ondumpat: seconds an action may run before it is killed */
	int uninstall;          /* -u alone */
	/* derived by Args from the option table */
	unsigned char given[PD_MAXOPTS]; /* by row of opts[]: the switch was on the command line */
	const wchar_t *typed[PD_MAXOPTS]; /* by row: a number as typed, read by args_check_numbers */
	wchar_t *mended[3];     /* output, -x folder and -i folder without the stray '"' (freed by args_free) */
	wchar_t *joined[2];     /* the -f/-fx lists args_join_list allocated (freed by args_free) */
	int debug;              /* a debugger trigger (-e -l -t -ld -ud -ct -et) is armed */
	int monitor;            /* a sampled monitor (-c -cl -m -ml -tc -hc -p -pl -h) is armed */
};

/* The library API.  One call at a time; each call undoes the process-wide
 * state it set up (handlers, events, DLLs; SeDebugPrivilege stays), so it
 * may be called again. */
/* The whole tool: parses argv, runs, returns an exit code above. */
PD_API int pd_main(int argc, wchar_t **argv);
/* Write one dump of process pid to path (type PD_MINI or PD_FULL).
 * Returns 0 or an exit code above; prints diagnostics to stderr. */
PD_API int pd_write_dump(unsigned long pid, const wchar_t *path, int type,
                         const wchar_t *comment, int overwrite);

/* ================================= Util ================================= */
/* Messages, strings, buffers, time and the process-wide state g.  Every
 * line printed goes through out(), warn() or vlog(), so UTF-8, consoles,
 * pipes and -all's tags behave the same.  Holds no target or dump: the
 * string rules it keeps for them (a line's [image:PID] tag, the dump-name
 * keywords of name_keys) take plain values. */

/* Process-wide state, kept in one place so that library mode can reset it
 * (main_reset) and pd_main can run again in the same process. */
static struct pd_global {
	int verbose;              /* -v */
	volatile LONG cancel;     /* Ctrl+C (or Break, or the console closing) */
	HANDLE cancel_event;      /* set with cancel: wakes every wait */
	int ctrl_handler;         /* run_ctrl_handler is installed */
	int xstate_warned;        /* the x86 XState warning was printed */
	unsigned long test_dumps; /* dumps begun (PROCDUMP_TEST_CHUNK_DELAY_DUMPS) */
	unsigned long test_refused; /* attaches refused (PROCDUMP_TEST_ATTACH_REFUSE) */
	int json_stdout;          /* -json -: stdout carries the JSON lines, console text goes to stderr */
	int tagged;               /* -all/-pt: each target's lines start with its tag (out_tag_target) */
	volatile LONG expired;    /* -duration: the deadline passed (it cancelled the run) */
} g;

/* "[image:PID] " before each line a thread prints while it watches one
 * target of several (-all, -pt); empty otherwise (ProcDump's output). */
static __thread char out_tag[MAX_PATH + 24];

/* The progress line of a dump being written (out_progress): shown on the
 * console only, erased before any other line. */
static struct {
	SRWLOCK lock;              /* len, and the line's writes */
	int len;                   /* its characters; 0: none shown */
} prog = { SRWLOCK_INIT, 0 };

/* Rewrites the progress line in place, or erases it (line NULL); on an
 * interactive console only, so redirected output never changes.  A line
 * longer than the console is cut: a wrapped one could not be taken back.
 * 0, or -1 where there is no console. */
static int
out_progress(const char *line)
{
	HANDLE h;
	CONSOLE_SCREEN_BUFFER_INFO ci;
	wchar_t w[256];
	DWORD mode, n;
	int len, text = 0, pad, width = 80, rc = 0;
	AcquireSRWLockExclusive(&prog.lock);
	if (!line && !prog.len)
		goto out;
	h = GetStdHandle(g.json_stdout ? STD_ERROR_HANDLE : STD_OUTPUT_HANDLE);
	if (!h || h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode)) {
		rc = -1;
		goto out;
	}
	if (GetConsoleScreenBufferInfo(h, &ci))
		width = ci.dwSize.X;
	width = width > 255 ? 255 : width < 2 ? 2 : width;
	/* (converted whole, then cut: a buffer too small fails the conversion) */
	if (line && (text = MultiByteToWideChar(CP_UTF8, 0, line, -1, w + 1, 255) - 1) < 0)
		text = 0;
	if (text > width - 1)
		text = width - 1;
	w[0] = L'\r';
	len = 1 + text;
	for (pad = prog.len - text; pad > 0 && len < 255; pad--)
		w[len++] = L' ';
	if (!line && len < 255)
		w[len++] = L'\r';
	WriteConsoleW(h, w, (DWORD)len, &n, NULL);
	prog.len = text;
out:
	ReleaseSRWLockExclusive(&prog.lock);
	return rc;
}

/* -svc run: the service's log file, where stdout and stderr text goes (Main). */
static HANDLE out_log;

static DWORD w32_console_write_utf8(HANDLE h, const char *s, DWORD n); /* (Win32) */

/* Writes UTF-8 text: WriteConsoleW on a console, bytes on a pipe or file. */
static void
emit(FILE *fp, const char *s)
{
	HANDLE h;
	DWORD mode, n;
	out_progress(NULL); /* a line of its own, not after the progress line */
	if (out_log) { /* -svc run: the service's log, appended to (the C runtime has no stdout there) */
		WriteFile(out_log, s, (DWORD)strlen(s), &n, NULL);
		return;
	}
	if (g.json_stdout) /* -json -: no console line reaches the JSON stream */
		fp = stderr;
	h = GetStdHandle(fp == stderr ? STD_ERROR_HANDLE : STD_OUTPUT_HANDLE);
	if (h != INVALID_HANDLE_VALUE && h && GetConsoleMode(h, &mode) && !w32_console_write_utf8(h, s, (DWORD)strlen(s)))
		return;
	fputs(s, fp);
	fflush(fp);
}

/* Puts out_tag before each non-empty line of s (into dst, cap bytes). */
static const char *
out_tagged(char *dst, size_t cap, const char *s)
{
	size_t n = 0, tl = strlen(out_tag);
	int bol = 1;
	if (!tl)
		return s;
	for (; *s && n + tl + 2 < cap; s++) {
		if (bol && *s != '\n') {
			memcpy(dst + n, out_tag, tl);
			n += tl;
		}
		dst[n++] = *s;
		bol = *s == '\n';
	}
	dst[n] = 0;
	return dst;
}

/* fmt's text in a malloc'd buffer of its own length (NULL: out of memory),
 * so that no fixed buffer cuts a message after a long echoed value. */
static char * PD_PRINTF(1, 0)
vfmt(const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int n;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !(s = malloc((size_t)n + 1)))
		return NULL;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static void PD_PRINTF(1, 2)
out(const char *fmt, ...)
{
	char *buf, *tagged = NULL;
	size_t cap;
	va_list ap;
	va_start(ap, fmt);
	buf = vfmt(fmt, ap);
	va_end(ap);
	if (!buf)
		return;
	cap = strlen(out_tag) ? 2 * strlen(buf) + strlen(out_tag) * (strlen(buf) + 1) + 2 : 0;
	if (cap && (tagged = malloc(cap)))
		emit(stdout, out_tagged(tagged, cap, buf));
	else
		emit(stdout, buf);
	free(tagged);
	free(buf);
}

/* A character that must not reach a terminal raw: C0 controls (newline,
 * CR, ESC ...), DEL, C1 controls (0x9b is a CSI on some terminals), the line
 * and paragraph separators, and the bidi controls that reorder a line. */
static int
unsafe_char(unsigned c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0x200e ||
	       c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* The code point at *w, a surrogate pair read as one (a lone surrogate
 * as itself); advances *w past it. */
static unsigned
wcs_next(const wchar_t **w)
{
	unsigned c = **w;
	if (c >= 0xd800 && c <= 0xdbff && (*w)[1] >= 0xdc00 && (*w)[1] <= 0xdfff) {
		c = 0x10000 + ((c - 0xd800) << 10) + ((*w)[1] - 0xdc00);
		(*w)++;
	}
	(*w)++;
	return c;
}

/* Code point c in UTF-8 (a lone surrogate as U+FFFD); its length. */
static int
utf8_put(unsigned c, u8 u[4])
{
	if (c >= 0xd800 && c <= 0xdfff)
		c = 0xfffd;
	if (c < 0x80)
		return u[0] = (u8)c, 1;
	if (c < 0x800)
		return u[0] = (u8)(0xc0 | c >> 6), u[1] = (u8)(0x80 | (c & 0x3f)), 2;
	if (c < 0x10000)
		return u[0] = (u8)(0xe0 | c >> 12), u[1] = (u8)(0x80 | ((c >> 6) & 0x3f)), u[2] = (u8)(0x80 | (c & 0x3f)), 3;
	u[0] = (u8)(0xf0 | c >> 18), u[1] = (u8)(0x80 | ((c >> 12) & 0x3f));
	u[2] = (u8)(0x80 | ((c >> 6) & 0x3f)), u[3] = (u8)(0x80 | (c & 0x3f));
	return 4;
}

/* Wide to UTF-8 in one of eight rotating buffers, for messages only: the
 * one way outside text reaches a message, so where it is made safe to
 * print on one line.  An unsafe_char shows as \xHH (\uHHHH above 0xff), a
 * form path segments such as \new do not take; text too long ends "...". */
static const char *
u8s(const wchar_t *w)
{
	static __thread char ring[8][2048]; /* per thread: -r writes dumps on threads of their own */
	static __thread int k;
	char *b = ring[k++ & 7], one[8];
	size_t n = 0, cap = sizeof ring[0] - 4; /* room for "..." and the NUL */
	int m;
	if (!w)
		w = L"(null)";
	while (*w) {
		unsigned c = wcs_next(&w);
		if (unsafe_char(c))
			m = snprintf(one, sizeof one, c < 0x100 ? "\\x%02x" : "\\u%04x", c);
		else
			m = utf8_put(c, (u8 *)one);
		if (n + (size_t)m > cap) {
			memcpy(b + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(b + n, one, (size_t)m);
		n += (size_t)m;
	}
	b[n] = 0;
	return b;
}

/* Sets this thread's out_tag to a target's image and PID (-all, -pt). */
static void
out_tag_target(const wchar_t *name, DWORD pid)
{
	if (g.tagged)
		snprintf(out_tag, sizeof out_tag, "[%s:%lu] ", u8s(name), pid);
}

/* One diagnostic line on stderr: prefix, the message, and, when fmt ends
 * with ':', the system text and code of GetLastError() (read first, and
 * kept).  Lines end with a newline whether or not fmt has one. */
static void PD_PRINTF(2, 0)
vmsg(const char *prefix, const char *fmt, va_list ap)
{
	DWORD err = GetLastError();
	char *buf = vfmt(fmt, ap), small[256], sys[512] = "", *line;
	size_t len;
	if (!buf) /* out of memory: what fits */
		vsnprintf(buf = small, sizeof small, fmt, ap);
	len = strlen(buf);
	while (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	if (len && buf[len - 1] == ':') {
		wchar_t w[400];
		DWORD k, n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
		                         NULL, err, 0, w, 400, NULL);
		while (n && (w[n - 1] == L'\n' || w[n - 1] == L'\r' || w[n - 1] == L' '))
			w[--n] = 0;
		for (k = 0; k < n; k++) /* a text of two sentences has a line break inside */
			if (w[k] == L'\r' || w[k] == L'\n')
				w[k] = L' ';
		snprintf(sys, sizeof sys, " %s (%lu)", n ? u8s(w) : "error", err);
	}
	len = strlen(prefix) + strlen(out_tag) + strlen(buf) + strlen(sys) + 2;
	if ((line = malloc(len))) {
		snprintf(line, len, "%s%s%s%s\n", prefix, out_tag, buf, sys);
		emit(stderr, line);
	} else {
		emit(stderr, prefix);
		emit(stderr, buf);
		emit(stderr, "\n");
	}
	free(line);
	if (buf != small)
		free(buf);
	SetLastError(err);
}

/* warn("OpenProcess %lu:", pid) -> "procdump: OpenProcess 1234: Access is
 * denied. (5)": a trailing ':' appends the text of GetLastError(). */
static void PD_PRINTF(1, 2)
warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("procdump: ", fmt, ap);
	va_end(ap);
}

/* -v: the same, on stderr, only when verbose. */
static void PD_PRINTF(1, 2)
vlog(const char *fmt, ...)
{
	va_list ap;
	if (!g.verbose)
		return;
	va_start(ap, fmt);
	vmsg("procdump: [v] ", fmt, ap);
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

/* a then b, malloc'd (NULL: no memory). */
static wchar_t *
wcs_cat(const wchar_t *a, const wchar_t *b)
{
	size_t len = wcslen(a) + wcslen(b) + 1;
	wchar_t *r = malloc(len * sizeof *r);
	if (r)
		swprintf(r, len, L"%ls%ls", a, b);
	return r;
}

static wchar_t *
wdup(const wchar_t *s)
{
	return wcs_cat(s, L"");
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

/* How cmd_add quotes: always; also a character cmd.exe acts on outside
 * quotes; the program's name (its backslashes are read as they are). */
enum { QUOTE_ALWAYS = 1, QUOTE_CMD = 2, QUOTE_PROGRAM = 4 };

/* Appends a to the wide command line b (after a blank, but first) so that
 * the C runtime and CommandLineToArgvW read it back as one argument: in
 * quotes when it is empty or holds a blank or a quote (or as how says),
 * where backslashes before a quote are doubled and a quote is \". */
static void
cmd_add(struct buf *b, const wchar_t *a, int how)
{
	int need = (how & QUOTE_ALWAYS) || !*a || wcspbrk(a, how & QUOTE_CMD ? L" \t\"&|<>^%!(),;=" : L" \t\"");
	size_t bs = 0;
	wchar_t c;
	if (b->len)
		buf_add(b, L" ", sizeof(wchar_t), 1);
	if (need)
		buf_add(b, L"\"", sizeof(wchar_t), 1);
	for (; *a; a++) {
		c = *a;
		if (c == L'\\' && !(how & QUOTE_PROGRAM)) {
			bs++;
			continue;
		}
		if (c == L'"')
			bs = bs * 2 + 1;
		for (; bs; bs--)
			buf_add(b, L"\\", sizeof(wchar_t), 1);
		buf_add(b, &c, sizeof c, 1);
	}
	if (need)
		bs *= 2;
	for (; bs; bs--)
		buf_add(b, L"\\", sizeof(wchar_t), 1);
	if (need)
		buf_add(b, L"\"", sizeof(wchar_t), 1);
}

/* Ends command line b: its NUL.  The line (malloc'd), or NULL: no memory. */
static wchar_t *
cmd_end(struct buf *b)
{
	buf_add(b, L"", sizeof(wchar_t), 1);
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	return (wchar_t *)b->p;
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

/* In an array of n spans, sorted and disjoint, each element stride bytes
 * with a u64 start at start_at and a u64 size at size_at: the index of the
 * first span that ends after addr (n: none). */
static int
span_index(const void *a, int n, size_t stride, size_t start_at, size_t size_at, u64 addr)
{
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const u8 *e = (const u8 *)a + (size_t)mid * stride;
		if (*(const u64 *)(e + start_at) + *(const u64 *)(e + size_at) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
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

/* "[HH:MM:SS]", the prefix of ProcDump's event lines (the caller adds the
 * space). */
static const char *
stamp(void)
{
	static __thread char s[16];
	SYSTEMTIME t;
	GetLocalTime(&t);
	snprintf(s, sizeof s, "[%02u:%02u:%02u]", t.wHour, t.wMinute, t.wSecond);
	return s;
}

/* Bytes as the whole MB (MiB) of ProcDump's "N MB" lines, rounded to the
 * nearest as StrFormatByteSizeEx does (2,160,248 bytes is 2 MB, not 3). */
static u64
size_mb(u64 bytes)
{
	return (bytes + (1 << 19)) >> 20;
}

/* A FILETIME as one number: 100 ns ticks since 1601. */
static u64
ft_u64(FILETIME f)
{
	return (u64)f.dwHighDateTime << 32 | f.dwLowDateTime;
}

/* 100 ns ticks since 1601 to seconds since 1970. */
static u32
ticks_to_time_t(u64 t)
{
	if (t < 116444736000000000ULL)
		return 0;
	return (u32)((t - 116444736000000000ULL) / 10000000ULL);
}

/* The keywords of a dump's file name (all but DUMPPATH) and of -ondump's
 * command line, in the order they are matched (DUMPPATH first: no other
 * is part of it). */
enum { KEY_DUMPPATH, KEY_PROCESSNAME, KEY_PID, KEY_EXCEPTIONCODE, KEY_YYMMDD, KEY_HHMMSS, NKEYS };
static const wchar_t *const name_keys[NKEYS] = {
	L"DUMPPATH", L"PROCESSNAME", L"PID", L"EXCEPTIONCODE", L"YYMMDD", L"HHMMSS"
};

/* The keyword s starts with, of those with a value (vals NULL: all), or NKEYS. */
static int
name_key_at(const wchar_t *s, const wchar_t *const vals[NKEYS])
{
	int k;
	for (k = 0; k < NKEYS; k++)
		if ((!vals || vals[k]) && !wcsncmp(s, name_keys[k], wcslen(name_keys[k])))
			break;
	return k;
}

/* The keywords' numbers as text: the PID, the exception code (0: none),
 * the date and the time. */
struct name_nums { wchar_t pid[16], exc[16], ymd[16], hms[16]; };

static void
name_nums(struct name_nums *n, DWORD pid, DWORD code, const SYSTEMTIME *st)
{
	swprintf(n->pid, 16, L"%lu", pid);
	swprintf(n->exc, 16, code ? L"%08lX" : L"0", code);
	swprintf(n->ymd, 16, L"%02u%02u%02u", st->wYear % 100, st->wMonth, st->wDay);
	swprintf(n->hms, 16, L"%02u%02u%02u", st->wHour, st->wMinute, st->wSecond);
}

/* s with each keyword that has a value in vals (by KEY_*) replaced by it;
 * *hit: one was.  malloc'd, or NULL. */
static wchar_t *
name_subst(const wchar_t *s, const wchar_t *const vals[NKEYS], int *hit)
{
	size_t cap = wcslen(s) + 1, o = 0, vl;
	wchar_t *r;
	int k;
	for (k = 0; k < NKEYS; k++)
		if (vals[k])
			cap += wcslen(vals[k]) * (wcslen(s) / wcslen(name_keys[k]) + 1);
	if (!(r = malloc(cap * sizeof *r)))
		return NULL;
	while (*s) {
		if ((k = name_key_at(s, vals)) == NKEYS) {
			r[o++] = *s++;
			continue;
		}
		vl = wcslen(vals[k]);
		wmemcpy(r + o, vals[k], vl);
		o += vl;
		s += wcslen(name_keys[k]);
		*hit = 1;
	}
	r[o] = 0;
	return r;
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

/* The directory part of a path, with its trailing separator removed. */
static wchar_t *
path_dirname(const wchar_t *path)
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

/* '*' matches any run of characters, case-insensitively; the whole of t
 * must match (ProcDump's filters "contain" their text: trig_list_match
 * puts * around them; -all names use it as it is). */
static int
wcs_glob(const wchar_t *p, const wchar_t *t)
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

static int
wcs_endswith_i(const wchar_t *s, const wchar_t *suf)
{
	size_t a = wcslen(s), b = wcslen(suf);
	return a >= b && !_wcsicmp(s + a - b, suf);
}

/* A number as a user types it: digits only (with hex, 0-9 a-f A-F after an
 * optional 0x), no sign, space, suffix or empty string, and at most max.
 * So no typed value is negative, and none can equal PD_UNSET.  0, or -1. */
static int
parse_num(const wchar_t *s, int hex, u64 max, u64 *v)
{
	u64 x = 0, base = hex ? 16 : 10, d;
	if (!s)
		return -1;
	if (hex && s[0] == L'0' && (s[1] == L'x' || s[1] == L'X'))
		s += 2;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s >= L'0' && *s <= L'9')
			d = (u64)(*s - L'0');
		else if (hex && ((*s >= L'a' && *s <= L'f') || (*s >= L'A' && *s <= L'F')))
			d = (u64)((*s | 0x20) - L'a' + 10);
		else
			return -1;
		if (d > max || x > (max - d) / base)
			return -1;
		x = x * base + d;
	}
	*v = x;
	return 0;
}

static int
all_digits(const wchar_t *s)
{
	return *s && !s[wcsspn(s, L"0123456789")];
}

/* ================================= Win32 ================================ */
/* Windows and ntdll calls: wrappers named by intent, the NT structures
 * mingw lacks, the run-time entry-point table (w32_load).  A failing
 * wrapper says so (warn(), or vlog() if expected) or leaves the last error
 * to its caller, as its comment says, and returns NULL, -1 or the error's
 * code; it decides nothing for the caller. */

typedef LONG pd_ntstatus;
#define PD_NT_SUCCESS(s) ((s) >= 0)
#define PD_STATUS_INFO_LENGTH_MISMATCH ((pd_ntstatus)0xC0000004L)

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

struct pd_pdh_value {          /* PDH_FMT_COUNTERVALUE */
	DWORD status, pad;
	union { LONG l; double d; LONGLONG ll; void *p; } v;
};
#define PD_PDH_FMT_LARGE 0x00000400
#define PD_PDH_FMT_NOCAP100 0x00008000

#ifndef CONTEXT_XSTATE
#define CONTEXT_XSTATE (CONTEXT_AMD64 | 0x40)
#endif
_Static_assert(sizeof(WOW64_CONTEXT) == 716, "WOW64_CONTEXT");
_Static_assert(sizeof(WOW64_CONTEXT) <= sizeof(CONTEXT), "WOW64_CONTEXT fits a CONTEXT");

/* Process snapshots (PSS, kernel32 on Windows 8.1 and later; absent under
 * Wine, doc/WINE.md section 4).  mingw-w64 has no processsnapshot.h here: the
 * few structures -r reads, as the SDK's processsnapshot.h lays them out
 * (its enums are 4-byte ints).  The pointers in a walk's entry are valid
 * until its walk marker is freed. */
enum {
	PD_PSS_CAPTURE_VA_CLONE = 0x1, PD_PSS_CAPTURE_HANDLES = 0x4, PD_PSS_CAPTURE_HANDLE_NAME_INFORMATION = 0x8,
	PD_PSS_CAPTURE_HANDLE_BASIC_INFORMATION = 0x10, PD_PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION = 0x20,
	PD_PSS_CAPTURE_THREADS = 0x80, PD_PSS_CAPTURE_THREAD_CONTEXT = 0x100, PD_PSS_CAPTURE_VA_SPACE = 0x800,
	PD_PSS_CREATE_BREAKAWAY_OPTIONAL = 0x04000000, PD_PSS_CREATE_BREAKAWAY = 0x08000000,
	PD_PSS_CREATE_RELEASE_SECTION = (int)0x80000000
};
enum { PD_PSS_QUERY_PROCESS_INFORMATION = 0, PD_PSS_QUERY_VA_CLONE_INFORMATION = 1 };
enum { PD_PSS_WALK_VA_SPACE = 1, PD_PSS_WALK_HANDLES = 2, PD_PSS_WALK_THREADS = 3 };
#define PD_PSS_HANDLE_HAVE_TYPE 0x1
#define PD_PSS_HANDLE_HAVE_NAME 0x2
#define PD_PSS_HANDLE_HAVE_BASIC_INFORMATION 0x4
#define PD_PSS_THREAD_FLAGS_TERMINATED 0x1

struct pd_pss_process {        /* PSS_PROCESS_INFORMATION */
	DWORD ExitStatus;
	void *PebBaseAddress;
	ULONG_PTR AffinityMask;
	LONG BasePriority;
	DWORD ProcessId, ParentProcessId, Flags;
	FILETIME CreateTime, ExitTime, KernelTime, UserTime;
	DWORD PriorityClass;
	ULONG_PTR PeakVirtualSize, VirtualSize;
	DWORD PageFaultCount;
	ULONG_PTR PeakWorkingSetSize, WorkingSetSize, QuotaPeakPagedPoolUsage, QuotaPagedPoolUsage,
	          QuotaPeakNonPagedPoolUsage, QuotaNonPagedPoolUsage, PagefileUsage, PeakPagefileUsage, PrivateUsage;
	DWORD ExecuteFlags;
	wchar_t ImageFileName[MAX_PATH];
};

struct pd_pss_va_space {       /* PSS_VA_SPACE_ENTRY */
	void *BaseAddress, *AllocationBase;
	DWORD AllocationProtect;
	ULONG_PTR RegionSize;
	DWORD State, Protect, Type, TimeDateStamp, SizeOfImage;
	void *ImageBase;
	DWORD CheckSum;
	WORD MappedFileNameLength;
	const wchar_t *MappedFileName;
};

struct pd_pss_handle {         /* PSS_HANDLE_ENTRY */
	HANDLE Handle;
	DWORD Flags, ObjectType;
	FILETIME CaptureTime;
	DWORD Attributes, GrantedAccess, HandleCount, PointerCount, PagedPoolCharge, NonPagedPoolCharge;
	FILETIME CreationTime;
	WORD TypeNameLength;
	const wchar_t *TypeName;
	WORD ObjectNameLength;
	const wchar_t *ObjectName;
	union {                    /* TypeSpecificInformation: its largest member, Thread */
		struct { DWORD ExitStatus; void *Teb; DWORD Pid, Tid; ULONG_PTR Affinity; int Prio, BasePrio; void *Start; } t;
		struct { void *Base; DWORD Attributes; LARGE_INTEGER MaximumSize; } section;
	} TypeSpecificInformation;
};

struct pd_pss_thread {         /* PSS_THREAD_ENTRY */
	DWORD ExitStatus;
	void *TebBaseAddress;
	DWORD ProcessId, ThreadId;
	ULONG_PTR AffinityMask;
	int Priority, BasePriority;
	void *LastSyscallFirstArgument;
	WORD LastSyscallNumber;
	FILETIME CreateTime, ExitTime, KernelTime, UserTime;
	void *Win32StartAddress;
	FILETIME CaptureTime;
	DWORD Flags;
	WORD SuspendCount, SizeOfContextRecord;
	CONTEXT *ContextRecord;
};

#ifdef _WIN64
_Static_assert(sizeof(struct pd_pss_thread) == 120 && offsetof(struct pd_pss_thread, CreateTime) == 52,
               "PSS_THREAD_ENTRY x64");
_Static_assert(offsetof(struct pd_pss_handle, TypeSpecificInformation) == 88, "PSS_HANDLE_ENTRY x64");
#endif

/* The DLLs of the table: the first three are in every process
 * (GetModuleHandle), the others loaded on first use, freed by w32_unload. */
enum w32_dll { W32_NTDLL, W32_KERNEL32, W32_KERNELBASE, W32_POWRPROF, W32_PDH, W32_USER32,
               W32_DBGHELP, W32_WER, W32_OLE32, W32_NDLL };

/* Every entry point resolved at run time; NULL where the system lacks it. */
static struct w32_fns {
	/* ntdll (the first three are required: w32_init fails without them) */
	pd_ntstatus (NTAPI *NtQuerySystemInformation)(ULONG, PVOID, ULONG, PULONG);
	pd_ntstatus (NTAPI *NtQueryInformationProcess)(HANDLE, ULONG, PVOID, ULONG, PULONG);
	pd_ntstatus (NTAPI *NtQueryInformationThread)(HANDLE, ULONG, PVOID, ULONG, PULONG);
	pd_ntstatus (NTAPI *NtQueryObject)(HANDLE, ULONG, PVOID, ULONG, PULONG);
	pd_ntstatus (NTAPI *RtlGetVersion)(OSVERSIONINFOEXW *);
	void (NTAPI *RtlGetUnloadEventTraceEx)(PULONG *, PULONG *, PVOID *);
	void (*RtlExitUserProcess)(void);   /* its address only: -t plants an int3 there */
	void (*DbgUiRemoteBreakin)(void);   /* its address only: the attach thread starts there */
	const char *(__cdecl *wine_get_version)(void); /* present under Wine only (w32_debug_close_handle) */
	pd_ntstatus (NTAPI *DbgUiConnectToDbg)(void); /* the thread's debug object, before attaching */
	pd_ntstatus (NTAPI *NtSystemDebugControl)(ULONG, PVOID, ULONG, PVOID, ULONG, PULONG); /* -mk */
	HANDLE (NTAPI *DbgUiGetThreadDebugObject)(void);   /* a thread's debug object (-r's dump threads) */
	void (NTAPI *DbgUiSetThreadDebugObject)(HANDLE);
	/* kernel32 (kernelbase for GetThreadDescription on some builds) */
	BOOL (WINAPI *Wow64GetThreadContext)(HANDLE, WOW64_CONTEXT *);       /* Windows 7 */
	DWORD64 (WINAPI *GetEnabledXStateFeatures)(void);                    /* 7 SP1 */
	BOOL (WINAPI *InitializeContext)(PVOID, DWORD, PCONTEXT *, PDWORD);  /* 7 SP1 */
	BOOL (WINAPI *SetXStateFeaturesMask)(PCONTEXT, DWORD64);             /* 7 SP1 */
	HRESULT (WINAPI *GetThreadDescription)(HANDLE, PWSTR *);             /* 10 1607 */
	void (WINAPI *GetSystemTimePreciseAsFileTime)(FILETIME *);           /* 8 */
	BOOL (WINAPI *WaitForDebugEventEx)(LPDEBUG_EVENT, DWORD);            /* 10; not Wine 8 */
	/* kernel32, Windows 8.1: process snapshots (-r); not Wine 8 (the tests: pss_test_provider) */
	DWORD (WINAPI *PssCaptureSnapshot)(HANDLE, DWORD, DWORD, void **);
	DWORD (WINAPI *PssQuerySnapshot)(void *, int, void *, DWORD);
	DWORD (WINAPI *PssWalkSnapshot)(void *, int, void *, void *, DWORD);
	DWORD (WINAPI *PssWalkMarkerCreate)(const void *, void **);
	DWORD (WINAPI *PssWalkMarkerFree)(void *);
	DWORD (WINAPI *PssFreeSnapshot)(HANDLE, void *);
	/* powrprof */
	LONG (WINAPI *CallNtPowerInformation)(int, PVOID, ULONG, PVOID, ULONG);
	/* pdh */
	LONG (WINAPI *PdhOpenQueryW)(LPCWSTR, DWORD_PTR, HANDLE *);
	LONG (WINAPI *PdhAddCounterW)(HANDLE, LPCWSTR, DWORD_PTR, HANDLE *); /* the English one if there */
	LONG (WINAPI *PdhCollectQueryData)(HANDLE);
	LONG (WINAPI *PdhGetFormattedCounterValue)(HANDLE, DWORD, LPDWORD, struct pd_pdh_value *);
	LONG (WINAPI *PdhCloseQuery)(HANDLE);
	/* user32 */
	BOOL (WINAPI *EnumWindows)(WNDENUMPROC, LPARAM);
	DWORD (WINAPI *GetWindowThreadProcessId)(HWND, LPDWORD);
	BOOL (WINAPI *IsWindowVisible)(HWND);
	BOOL (WINAPI *IsHungAppWindow)(HWND);
	HWND (WINAPI *GetWindow)(HWND, UINT);
	LRESULT (WINAPI *SendMessageTimeoutW)(HWND, UINT, WPARAM, LPARAM, UINT, UINT, PDWORD_PTR);
	/* dbghelp */
	BOOL (WINAPI *MiniDumpWriteDump)(HANDLE, DWORD, HANDLE, DWORD, MINIDUMP_EXCEPTION_INFORMATION *,
	                                 MINIDUMP_USER_STREAM_INFORMATION *, MINIDUMP_CALLBACK_INFORMATION *);
	BOOL (WINAPI *SymInitializeW)(HANDLE, PCWSTR, BOOL);
	BOOL (WINAPI *SymCleanup)(HANDLE);
	/* wer (-wer; the mingw werapi.h does not compile in C: own prototypes) */
	HRESULT (WINAPI *WerReportCreate)(PCWSTR, int, void *, HANDLE *);
	HRESULT (WINAPI *WerReportAddDump)(HANDLE, HANDLE, HANDLE, int, void *, void *, DWORD);
	HRESULT (WINAPI *WerReportSubmit)(HANDLE, int, DWORD, int *);
	HRESULT (WINAPI *WerReportCloseHandle)(HANDLE);
	/* ole32 (Store activation with -x) */
	HRESULT (WINAPI *CoInitializeEx)(void *, DWORD);
	HRESULT (WINAPI *CoCreateInstance)(const GUID *, void *, DWORD, const GUID *, void **);
	void (WINAPI *CoUninitialize)(void);
} w32;

#define W32_FN(dll, name, alt) { dll, #name, alt, offsetof(struct w32_fns, name) }
static const struct w32_import {
	enum w32_dll dll;
	const char *name, *alt;    /* the export, and a second choice */
	size_t off;                /* its slot in struct w32_fns */
} w32_imports[] = {
	W32_FN(W32_NTDLL, NtQuerySystemInformation, NULL),
	W32_FN(W32_NTDLL, NtQueryInformationProcess, NULL),
	W32_FN(W32_NTDLL, NtQueryInformationThread, NULL),
	W32_FN(W32_NTDLL, NtQueryObject, NULL),
	W32_FN(W32_NTDLL, RtlGetVersion, NULL),
	W32_FN(W32_NTDLL, RtlGetUnloadEventTraceEx, NULL),
	W32_FN(W32_NTDLL, RtlExitUserProcess, NULL),
	W32_FN(W32_NTDLL, DbgUiRemoteBreakin, NULL),
	W32_FN(W32_NTDLL, wine_get_version, NULL),
	W32_FN(W32_NTDLL, DbgUiConnectToDbg, NULL),
	W32_FN(W32_NTDLL, NtSystemDebugControl, NULL),
	W32_FN(W32_NTDLL, DbgUiGetThreadDebugObject, NULL),
	W32_FN(W32_NTDLL, DbgUiSetThreadDebugObject, NULL),
	W32_FN(W32_KERNEL32, Wow64GetThreadContext, NULL),
	W32_FN(W32_KERNEL32, GetEnabledXStateFeatures, NULL),
	W32_FN(W32_KERNEL32, InitializeContext, NULL),
	W32_FN(W32_KERNEL32, SetXStateFeaturesMask, NULL),
	W32_FN(W32_KERNEL32, GetThreadDescription, NULL),
	W32_FN(W32_KERNELBASE, GetThreadDescription, NULL),
	W32_FN(W32_KERNEL32, GetSystemTimePreciseAsFileTime, NULL),
	W32_FN(W32_KERNEL32, WaitForDebugEventEx, NULL),
	W32_FN(W32_KERNEL32, PssCaptureSnapshot, NULL),
	W32_FN(W32_KERNEL32, PssQuerySnapshot, NULL),
	W32_FN(W32_KERNEL32, PssWalkSnapshot, NULL),
	W32_FN(W32_KERNEL32, PssWalkMarkerCreate, NULL),
	W32_FN(W32_KERNEL32, PssWalkMarkerFree, NULL),
	W32_FN(W32_KERNEL32, PssFreeSnapshot, NULL),
	W32_FN(W32_POWRPROF, CallNtPowerInformation, NULL),
	W32_FN(W32_PDH, PdhOpenQueryW, NULL),
	/* English names work on every UI language (Vista and later) */
	W32_FN(W32_PDH, PdhAddCounterW, "PdhAddEnglishCounterW"),
	W32_FN(W32_PDH, PdhCollectQueryData, NULL),
	W32_FN(W32_PDH, PdhGetFormattedCounterValue, NULL),
	W32_FN(W32_PDH, PdhCloseQuery, NULL),
	W32_FN(W32_USER32, EnumWindows, NULL),
	W32_FN(W32_USER32, GetWindowThreadProcessId, NULL),
	W32_FN(W32_USER32, IsWindowVisible, NULL),
	W32_FN(W32_USER32, IsHungAppWindow, NULL),
	W32_FN(W32_USER32, GetWindow, NULL),
	W32_FN(W32_USER32, SendMessageTimeoutW, NULL),
	W32_FN(W32_DBGHELP, MiniDumpWriteDump, NULL),
	W32_FN(W32_DBGHELP, SymInitializeW, NULL),
	W32_FN(W32_DBGHELP, SymCleanup, NULL),
	W32_FN(W32_WER, WerReportCreate, NULL),
	W32_FN(W32_WER, WerReportAddDump, NULL),
	W32_FN(W32_WER, WerReportSubmit, NULL),
	W32_FN(W32_WER, WerReportCloseHandle, NULL),
	W32_FN(W32_OLE32, CoInitializeEx, NULL),
	W32_FN(W32_OLE32, CoCreateInstance, NULL),
	W32_FN(W32_OLE32, CoUninitialize, NULL),
};

static const wchar_t *const w32_dll_names[W32_NDLL] = {
	L"ntdll.dll", L"kernel32.dll", L"kernelbase.dll", L"powrprof.dll", L"pdh.dll", L"user32.dll",
	L"dbghelp.dll", L"wer.dll", L"ole32.dll" };
static HMODULE w32_dlls[W32_NDLL];   /* mapped or loaded; NULL: not yet, or missing */
static unsigned char w32_tried[W32_NDLL];

/* Resolves the table's rows of one DLL, once.  Returns 0, or -1 when the
 * DLL is missing (its rows stay NULL). */
static int
w32_load_locked(enum w32_dll dll)
{
	size_t i;
	if (w32_tried[dll])
		return w32_dlls[dll] ? 0 : -1;
	w32_tried[dll] = 1;
	w32_dlls[dll] = dll <= W32_KERNELBASE ? GetModuleHandleW(w32_dll_names[dll])
	                                      : LoadLibraryW(w32_dll_names[dll]);
	if (!w32_dlls[dll])
		return -1;
	for (i = 0; i < sizeof w32_imports / sizeof w32_imports[0]; i++) {
		const struct w32_import *r = &w32_imports[i];
		FARPROC p = NULL, have;
		if (r->dll != dll)
			continue;
		memcpy(&have, (char *)&w32 + r->off, sizeof have);
		if (have)
			continue;   /* a first choice (another DLL's row) is there */
		if (r->alt)
			p = GetProcAddress(w32_dlls[dll], r->alt);
		if (!p)
			p = GetProcAddress(w32_dlls[dll], r->name);
		memcpy((char *)&w32 + r->off, &p, sizeof p);
	}
	return 0;
}

/* One load at a time: the threads of several targets (-all, -pt) may load
 * one DLL at once (-h, -p, -dbghelp), and none may see it tried but not
 * yet loaded. */
static SRWLOCK w32_load_lock = SRWLOCK_INIT;

static int
w32_load(enum w32_dll dll)
{
	int rc;
	AcquireSRWLockExclusive(&w32_load_lock);
	rc = w32_load_locked(dll);
	ReleaseSRWLockExclusive(&w32_load_lock);
	return rc;
}

/* The process list that samplers share (w32_process_sample). */
static struct {
	SRWLOCK lock;
	struct pd_sys_process *list; /* NULL: none read yet */
	double at;                   /* now_sec() when it was read */
} w32_shared = { SRWLOCK_INIT, NULL, 0 };

/* Frees what w32_load loaded and the shared process list, and forgets
 * every entry point (library mode). */
static void
w32_unload(void)
{
	int k;
	free(w32_shared.list);
	w32_shared.list = NULL;
	for (k = W32_KERNELBASE + 1; k < W32_NDLL; k++)
		if (w32_dlls[k])
			FreeLibrary(w32_dlls[k]);
	memset(w32_dlls, 0, sizeof w32_dlls);
	memset(w32_tried, 0, sizeof w32_tried);
	memset(&w32, 0, sizeof w32);
}

static int
w32_init(void)
{
	w32_load(W32_NTDLL);
	w32_load(W32_KERNEL32);
	w32_load(W32_KERNELBASE);
	if (!w32.NtQuerySystemInformation || !w32.NtQueryInformationProcess ||
	    !w32.NtQueryInformationThread) {
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

/* OpenProcess, with a message that tells "no such PID" from "not allowed". */
static HANDLE
w32_open_process(DWORD pid, DWORD access)
{
	HANDLE h = OpenProcess(access, FALSE, pid);
	if (!h) {
		if (GetLastError() == ERROR_INVALID_PARAMETER)
			warn("no process with PID %lu", pid);
		else
			warn("OpenProcess %lu:", pid);
	}
	return h;
}

static int
w32_is_wow64(HANDLE h)
{
	BOOL w = FALSE;
	return IsWow64Process(h, &w) && w;
}

/* A process's VM_COUNTERS_EX (ProcessVmCounters).  0 or -1. */
static int
w32_vm_counters(HANDLE h, struct pd_vm_counters *vm)
{
	memset(vm, 0, sizeof *vm);
	return PD_NT_SUCCESS(w32.NtQueryInformationProcess(h, 3 /* ProcessVmCounters */, vm, sizeof *vm, NULL))
	       ? 0 : -1;
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
		st = w32.NtQuerySystemInformation(5 /* SystemProcessInformation */, p, size, &need);
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

/* The system's handle table (free() it), or NULL. */
static u8 *
w32_handle_table(void)
{
	ULONG size = 2u << 20;
	u8 *buf = NULL;
	pd_ntstatus st;
	for (;;) {
		free(buf);
		if (!(buf = malloc(size)))
			return NULL;
		st = w32.NtQuerySystemInformation(64 /* SystemExtendedHandleInformation */, buf, size, NULL);
		if (st != PD_STATUS_INFO_LENGTH_MISMATCH || size >= (256u << 20))
			break;
		size *= 2; /* the length it reports is not what it needs */
	}
	if (!PD_NT_SUCCESS(st)) {
		vlog("SystemExtendedHandleInformation failed (0x%08lX)", (unsigned long)st);
		free(buf);
		return NULL;
	}
	return buf;
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

/* A process's creation time from the process list, 0 if it is gone. */
static u64
w32_process_create_time(DWORD pid)
{
	struct pd_sys_process *list = w32_process_list(), *p;
	u64 t = 0;
	if (list && (p = w32_process_find(list, pid)))
		t = (u64)p->CreateTime.QuadPart;
	free(list);
	return t;
}

/* A process's counters from SystemProcessInformation, as sampled. */
struct w32_sample {
	u64 cpu;                /* user + kernel time, 100 ns */
	ULONG threads, handles;
	double at;              /* now_sec() when the list was read */
};

/* Each target of -all/-pt samples once a second, and one process list
 * costs about 4 ms under Wine (32 targets: 12 % of a core): they share
 * one, read again once older than this. */
#define W32_SHARED_AGE 0.5

/* The shared list, read again if older than max_age seconds, with its
 * lock held: w32_shared_release() when done.  NULL (lock held too) if it
 * cannot be read. */
static struct pd_sys_process *
w32_shared_take(double max_age)
{
	AcquireSRWLockExclusive(&w32_shared.lock);
	if (!w32_shared.list || now_sec() - w32_shared.at > max_age) {
		free(w32_shared.list);
		w32_shared.list = w32_process_list();
		w32_shared.at = now_sec();
	}
	return w32_shared.list;
}

static void
w32_shared_release(void)
{
	ReleaseSRWLockExclusive(&w32_shared.lock);
}

/* The counters of pid (with that creation time) from the shared list.  0,
 * -1 if the process is not in it, -2 if no list could be read (no sample
 * this time, the process is not known to be gone). */
static int
w32_process_sample(DWORD pid, u64 create_time, struct w32_sample *out)
{
	struct pd_sys_process *p;
	int rc = -1;
	if (!w32_shared_take(W32_SHARED_AGE))
		rc = -2;
	else if ((p = w32_process_find(w32_shared.list, pid)) && (u64)p->CreateTime.QuadPart == create_time) {
		out->cpu = (u64)p->UserTime.QuadPart + (u64)p->KernelTime.QuadPart;
		out->threads = p->NumberOfThreads;
		out->handles = p->HandleCount;
		out->at = w32_shared.at;
		rc = 0;
	}
	w32_shared_release();
	return rc;
}

/* A DLL of the target's (the CLR's DAC) by its full path, its dependencies
 * looked for beside it first; NULL after SetLastError. */
static HMODULE
w32_load_beside(const wchar_t *path)
{
	return LoadLibraryExW(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
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

/* A pointer of this build's size in another process; *ok = 0 if unreadable. */
static u64
w32_read_ptr(HANDLE h, u64 addr, int *ok)
{
	ULONG_PTR v = 0;
	if (w32_read(h, addr, &v, sizeof v) < 0)
		*ok = 0;
	return v;
}

/* Walks the memory map of process h, VirtualQueryEx region by region,
 * calling each(region, arg) until it returns nonzero, which is returned.
 * x86: the 32-bit view, which ends at 4 GiB (a region is cut there). */
static int
w32_region_walk(HANDLE h, int x86, int (*each)(const MEMORY_BASIC_INFORMATION *, void *), void *arg)
{
	MEMORY_BASIC_INFORMATION mbi;
	u64 addr = 0, base, end;
	int rc;
	while (VirtualQueryEx(h, (LPCVOID)(ULONG_PTR)addr, &mbi, sizeof mbi)) {
		base = (u64)(ULONG_PTR)mbi.BaseAddress;
		end = base + mbi.RegionSize;
		if (x86 && end > (1ULL << 32)) {
			if (base >= (1ULL << 32))
				break;
			mbi.RegionSize = (SIZE_T)((1ULL << 32) - base);
			end = 1ULL << 32;
		}
		if ((rc = each(&mbi, arg)))
			return rc;
		if (end <= addr || end > (u64)(ULONG_PTR)-1 || (x86 && end >= (1ULL << 32)))
			break;
		addr = end;
	}
	return 0;
}

/* Reads n bytes, zero-filling the pages that cannot be read; returns how
 * many bytes were zero-filled. */
static u64
w32_read_fill(HANDLE h, u64 addr, u8 *buf, size_t n)
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

/* Calls each(file, arg) for every file (not folder) of folder dir (with
 * its separator) whose name fits the wildcard pattern glob. */
static void
w32_folder_walk(const wchar_t *dir, const wchar_t *glob, void (*each)(const WIN32_FIND_DATAW *, void *), void *arg)
{
	wchar_t *all = wcs_cat(dir, glob);
	WIN32_FIND_DATAW fd;
	HANDLE fh;
	if (!all)
		return;
	fh = FindFirstFileW(all, &fd);
	free(all);
	if (fh == INVALID_HANDLE_VALUE)
		return;
	do
		if (!(fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
			each(&fd, arg);
	while (FindNextFileW(fh, &fd));
	FindClose(fh);
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

/* A log file opened for appending (created if missing): every write lands
 * at its end, whoever else writes or reads it.  INVALID_HANDLE_VALUE with
 * the error set on failure. */
static HANDLE
w32_open_append(const wchar_t *path)
{
	return CreateFileW(path, FILE_APPEND_DATA | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS,
	                   FILE_ATTRIBUTE_NORMAL, NULL);
}

/* An existing file opened for writing anywhere in it (-json cuts a half
 * line off the file it appends to).  NULL if it cannot be. */
static HANDLE
w32_open_rewrite(const wchar_t *path)
{
	HANDLE h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
	                       OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	return h == INVALID_HANDLE_VALUE ? NULL : h;
}

/* Can a new file be made in folder dir?  A probe file, deleted on close.
 * 0, or -1 with the last error set. */
static int
w32_folder_writable(const wchar_t *dir)
{
	size_t n = wcslen(dir) + 48;
	wchar_t *p = malloc(n * sizeof *p);
	int sep = wcs_endswith_i(dir, L"\\") || wcs_endswith_i(dir, L"/");
	HANDLE h;
	if (!p) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return -1;
	}
	swprintf(p, n, L"%ls%lsprocdump.c-%lu.probe", dir, sep ? L"" : L"\\", GetCurrentProcessId());
	h = CreateFileW(p, GENERIC_WRITE, 0, NULL, CREATE_NEW,
	                FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, NULL);
	free(p);
	if (h == INVALID_HANDLE_VALUE)
		return -1;
	CloseHandle(h);
	return 0;
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

/* A variable from the environment (test hooks) into v[n]; 0 if unset or
 * longer. */
static int
w32_env_string(const wchar_t *name, wchar_t *v, DWORD n)
{
	DWORD k = GetEnvironmentVariableW(name, v, n);
	return k && k < n;
}

/* A number from the environment (test hooks), 0 if unset. */
static unsigned long
w32_env_number(const wchar_t *name)
{
	wchar_t v[16];
	return w32_env_string(name, v, 16) && v[0] ? wcstoul(v, NULL, 10) : 0;
}

/* Test hook PROCDUMP_TEST_HOLD_DELAY_MS (test/README.md "Test hooks"). */
static void
w32_test_hold_delay(void)
{
	unsigned long ms = w32_env_number(L"PROCDUMP_TEST_HOLD_DELAY_MS");
	if (ms)
		Sleep(ms);
}

/* DebugActiveProcess, or the refusal of test hook
 * PROCDUMP_TEST_ATTACH_REFUSE (test/README.md "Test hooks"). */
static BOOL
w32_debug_attach(DWORD pid)
{
	if (g.test_refused < w32_env_number(L"PROCDUMP_TEST_ATTACH_REFUSE")) {
		g.test_refused++;
		SetLastError(ERROR_ACCESS_DENIED);
		return FALSE;
	}
	return DebugActiveProcess(pid);
}

/* Renames a flushed dump into place, the rename written through to disk.
 * 0, or -1 after a message (a file that appeared meanwhile is kept unless
 * overwrite). */
static int
w32_rename(const wchar_t *from, const wchar_t *to, int overwrite)
{
	if (MoveFileExW(from, to, MOVEFILE_WRITE_THROUGH | (overwrite ? MOVEFILE_REPLACE_EXISTING : 0)))
		return 0;
	if (GetLastError() == ERROR_ALREADY_EXISTS || GetLastError() == ERROR_FILE_EXISTS)
		warn("dump file '%s' appeared while writing; not replaced (use -o)", u8s(to));
	else
		warn("cannot rename '%s' to '%s':", u8s(from), u8s(to));
	return -1;
}

/* Removes a file.  0; 1 when it was not there (another writer or run
 * removed it first); -1 otherwise (GetLastError says why). */
static int
w32_delete_file(const wchar_t *path)
{
	if (DeleteFileW(path))
		return 0;
	return GetLastError() == ERROR_FILE_NOT_FOUND ? 1 : -1;
}

/* WriteFile of all n bytes; 0 or the Windows error, *done the bytes that
 * went out.  A short write is retried for the rest: Wine reports a full
 * disk as a successful short write, and only the next call says
 * ERROR_DISK_FULL (doc/WINE.md section 10). */
static DWORD
w32_write_counted(HANDLE f, const void *p, DWORD n, DWORD *done)
{
	const u8 *b = p;
	*done = 0;
	while (*done < n) {
		DWORD put = 0;
		SetLastError(0);
		if (!WriteFile(f, b + *done, n - *done, &put, NULL)) {
			*done += put;
			return GetLastError() ? GetLastError() : ERROR_WRITE_FAULT;
		}
		if (!put)
			return ERROR_WRITE_FAULT; /* success with nothing written: no cause to name */
		*done += put;
	}
	return 0;
}

static DWORD
w32_write_all(HANDLE f, const void *p, DWORD n)
{
	DWORD done;
	return w32_write_counted(f, p, n, &done);
}

/* n bytes of UTF-8 to a console, as UTF-16 (WriteConsoleW).  0, or an
 * error code. */
static DWORD
w32_console_write_utf8(HANDLE h, const char *s, DWORD n)
{
	int m = MultiByteToWideChar(CP_UTF8, 0, s, (int)n, NULL, 0);
	wchar_t *w = m > 0 ? malloc((size_t)m * sizeof *w) : NULL;
	DWORD put, e = 0;
	if (!w || !MultiByteToWideChar(CP_UTF8, 0, s, (int)n, w, m) || !WriteConsoleW(h, w, (DWORD)m, &put, NULL))
		e = w ? (GetLastError() ? GetLastError() : ERROR_WRITE_FAULT) : ERROR_NOT_ENOUGH_MEMORY;
	free(w);
	return e;
}

/* The size of an open file.  0, or -1. */
static int
w32_file_size(HANDLE f, u64 *size)
{
	LARGE_INTEGER z;
	if (!GetFileSizeEx(f, &z))
		return -1;
	*size = (u64)z.QuadPart;
	return 0;
}

/* Cuts off the n bytes a short write left at the end of f, which was
 * before bytes long before them (unless others appended since).  Leaves
 * f's position at the new end.  0, or -1. */
static int
w32_cut_tail(HANDLE f, u64 before, DWORD n)
{
	LARGE_INTEGER end;
	u64 size;
	if (w32_file_size(f, &size) < 0 || size != before + n) /* another writer appended: not ours to cut */
		return -1;
	end.QuadPart = (LONGLONG)(size - n);
	return SetFilePointerEx(f, end, NULL, FILE_BEGIN) && SetEndOfFile(f) ? 0 : -1;
}

/* n bytes at offset off of file f.  0, or -1 (short file, read error). */
static int
w32_read_at(HANDLE f, u64 off, void *p, DWORD n)
{
	LARGE_INTEGER o = { .QuadPart = (LONGLONG)off };
	DWORD got = 0;
	return SetFilePointerEx(f, o, NULL, FILE_BEGIN) && ReadFile(f, p, n, &got, NULL) && got == n ? 0 : -1;
}

/* Writes n bytes at offset off of the file.  0, or a Windows error. */
static DWORD
w32_write_at(HANDLE file, u64 off, const void *p, DWORD n)
{
	LARGE_INTEGER at = { .QuadPart = (LONGLONG)off };
	if (!SetFilePointerEx(file, at, NULL, FILE_BEGIN))
		return GetLastError();
	return w32_write_all(file, p, n);
}

/* Moves the file pointer n bytes on without writing: the bytes between
 * read as zeros and, on a sparse file (or under Wine), take no space.  0,
 * or the Windows error code. */
static DWORD
w32_skip(HANDLE f, u64 n)
{
	LARGE_INTEGER d = { .QuadPart = (LONGLONG)n };
	return SetFilePointerEx(f, d, NULL, FILE_CURRENT) ? 0 : GetLastError();
}

/* Ends the file at the file pointer (after a skipped tail).  0, or the
 * Windows error code. */
static DWORD
w32_end_here(HANDLE f)
{
	return SetEndOfFile(f) ? 0 : GetLastError();
}

/* Marks a file sparse, so that NTFS keeps skipped ranges as holes (without
 * it they are zeros on disk, still correct).  0, or -1 where the file
 * system has no sparse files (FAT, some shares): nothing to report. */
static int
w32_set_sparse(HANDLE f)
{
	DWORD got = 0;
	return DeviceIoControl(f, FSCTL_SET_SPARSE, NULL, 0, NULL, 0, &got, NULL) ? 0 : -1;
}

/* Free and total bytes of the volume of folder dir (the caller's free
 * space, with quotas).  0, or -1 after a message. */
static int
w32_disk_space(const wchar_t *dir, u64 *avail, u64 *total)
{
	ULARGE_INTEGER a, t;
	if (!GetDiskFreeSpaceExW(dir, &a, &t, NULL)) {
		warn("cannot read the free space of '%s':", u8s(dir));
		return -1;
	}
	*avail = a.QuadPart;
	*total = t.QuadPart;
	return 0;
}

/* The memory a clone may take: the smaller of the physical memory available
 * and this process's free address space (2 to 4 GiB for a 32-bit
 * procdump).  0 if unknown. */
static u64
w32_memory_available(void)
{
	MEMORYSTATUSEX ms = { .dwLength = sizeof ms };
	if (!GlobalMemoryStatusEx(&ms)) {
		vlog("GlobalMemoryStatusEx:");
		return 0;
	}
	return ms.ullAvailPhys < ms.ullAvailVirtual ? ms.ullAvailPhys : ms.ullAvailVirtual;
}

/* -mk: a live kernel dump with every thread's kernel stack
 * (NtSystemDebugControl SysDbgGetLiveKernelDump = 37, Windows 8.1+,
 * SeDebugPrivilege).  The request is phnt's SYSDBG_LIVEDUMP_CONTROL
 * version 2 with a selective control; unverified on Windows (Wine answers
 * STATUS_NOT_IMPLEMENTED, also returned where ntdll lacks the call). */
struct pd_livedump_selective {
	ULONG version, size;
	ULONGLONG flags;           /* bit 0: ThreadKernelStacks */
	ULONGLONG reserved[4];
};
struct pd_livedump_control {
	ULONG version, bugcheck_code;
	ULONG_PTR bugcheck_param[4];
	HANDLE file, cancel_event;
	ULONG flags;               /* bit 4: SelectiveDump */
	ULONG add_pages;
	struct pd_livedump_selective *selective;
};
#define PD_STATUS_NOT_IMPLEMENTED ((pd_ntstatus)0xC0000002L)

static pd_ntstatus
w32_live_kernel_dump(HANDLE file)
{
	struct pd_livedump_selective sel = { 1, sizeof sel, 1, { 0 } };
	struct pd_livedump_control c = { .version = 2, .bugcheck_code = 0x161 /* LIVE_SYSTEM_DUMP */, .file = file,
	                                 .flags = 1u << 4, .selective = &sel };
	ULONG got = 0;
	if (!w32.NtSystemDebugControl)
		return PD_STATUS_NOT_IMPLEMENTED;
	return w32.NtSystemDebugControl(37, &c, sizeof c, NULL, 0, &got);
}

/* GetTokenInformation into a malloc'd buffer (free() it); NULL if the
 * token does not answer that class. */
static u8 *
w32_token_info(HANDLE tok, TOKEN_INFORMATION_CLASS c, DWORD *len)
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

/* A new dump file's security: a protected DACL (nothing inherited from the
 * folder, which often grants Users read; dumps hold the target's secrets)
 * with full control for the current user, Administrators and SYSTEM only.
 * Keep a alive while creating files with a->sa.  0, or -1 (GetLastError). */
struct w32_acl {
	SECURITY_ATTRIBUTES sa;
	SECURITY_DESCRIPTOR sd;
	u8 *user;                  /* TOKEN_USER, malloc'd */
	union { ACL acl; u8 b[3 * (sizeof(ACCESS_ALLOWED_ACE) + SECURITY_MAX_SID_SIZE)]; } dacl;
};

static int
w32_private_acl(struct w32_acl *a)
{
	u8 admins[SECURITY_MAX_SID_SIZE], sys[SECURITY_MAX_SID_SIZE];
	DWORD na = sizeof admins, ns = sizeof sys, len;
	HANDLE tok;
	memset(a, 0, sizeof *a);
	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return -1;
	a->user = w32_token_info(tok, TokenUser, &len);
	CloseHandle(tok);
	if (!a->user)
		return -1;
	if (!CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, admins, &na) ||
	    !CreateWellKnownSid(WinLocalSystemSid, NULL, sys, &ns) ||
	    !InitializeAcl(&a->dacl.acl, sizeof a->dacl, ACL_REVISION) ||
	    !AddAccessAllowedAce(&a->dacl.acl, ACL_REVISION, FILE_ALL_ACCESS, ((TOKEN_USER *)a->user)->User.Sid) ||
	    !AddAccessAllowedAce(&a->dacl.acl, ACL_REVISION, FILE_ALL_ACCESS, admins) ||
	    !AddAccessAllowedAce(&a->dacl.acl, ACL_REVISION, FILE_ALL_ACCESS, sys) ||
	    !InitializeSecurityDescriptor(&a->sd, SECURITY_DESCRIPTOR_REVISION) ||
	    !SetSecurityDescriptorDacl(&a->sd, TRUE, &a->dacl.acl, FALSE) ||
	    !SetSecurityDescriptorControl(&a->sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED)) {
		free(a->user);
		a->user = NULL;
		return -1;
	}
	a->sa = (SECURITY_ATTRIBUTES){ .nLength = sizeof a->sa, .lpSecurityDescriptor = &a->sd };
	return 0;
}

/* The DACL of sd (with its protected flag) as SDDL, e.g. D:P(A;;FA;;;SY),
 * malloc'd UTF-8; NULL if it cannot be converted. */
static char *
w32_dacl_text(PSECURITY_DESCRIPTOR sd)
{
	wchar_t *w = NULL;
	char *r;
	if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &w,
	                                                         NULL))
		return NULL;
	r = strdup(u8s(w));
	LocalFree(w);
	return r;
}

/* The DACL an open file has, read back through GetSecurityInfo, as SDDL
 * (malloc'd); NULL if the file system does not say. */
static char *
w32_file_dacl_text(HANDLE f)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	char *r;
	if (GetSecurityInfo(f, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, NULL, NULL, &sd))
		return NULL;
	r = w32_dacl_text(sd);
	LocalFree(sd);
	return r;
}

static void
w32_acl_free(struct w32_acl *a)
{
	free(a->user);
	a->user = NULL;
}

/* A thread's description (Windows 10 1607+, Wine), or NULL. */
static wchar_t *
w32_thread_description(HANDLE th)
{
	wchar_t *desc = NULL, *r = NULL;
	if (w32.GetThreadDescription && SUCCEEDED(w32.GetThreadDescription(th, &desc)) && desc) {
		if (desc[0])
			r = wdup(desc);
		LocalFree(desc);
	}
	return r;
}

/* A call that can block for ever (GetThreadContext under Wine, a name
 * query on a synchronous pipe) runs on a worker thread with a deadline.
 * The job, on the heap, begins with struct w32_job: run makes the call,
 * done frees the job.  At the deadline the waiter abandons the job, and
 * whichever of the two comes last frees it (library mode: no memory is
 * left behind, though a worker still blocked stays in the host process;
 * the worker calls only what was copied into its job). */
struct w32_job {
	void (*run)(struct w32_job *);
	void (*done)(struct w32_job *);
	volatile LONG state;       /* JOB_RUNNING, JOB_DONE, JOB_ABANDONED */
};
enum { JOB_RUNNING, JOB_DONE, JOB_ABANDONED };

static DWORD WINAPI
w32_job_worker(void *arg)
{
	struct w32_job *j = arg;
	j->run(j);
	if (InterlockedExchange(&j->state, JOB_DONE) == JOB_ABANDONED)
		j->done(j);
	return 0;
}

/* Runs job j on a worker (stack bytes, 0: the default) for at most ms.
 * 0: it returned in time, the caller reads it and calls j->done; 1: it
 * was abandoned; -1: no worker (j is freed).  After 1 and -1 the caller
 * must not touch j. */
static int
w32_job_run(struct w32_job *j, DWORD ms, SIZE_T stack)
{
	HANDLE th = CreateThread(NULL, stack, w32_job_worker, j, 0, NULL);
	int late;
	if (!th) {
		j->done(j);
		return -1;
	}
	late = WaitForSingleObject(th, ms) != WAIT_OBJECT_0 &&
	       InterlockedExchange(&j->state, JOB_ABANDONED) == JOB_RUNNING;
	CloseHandle(th);
	return late;
}

/* 100 ns ticks since 1601, as precise as the system offers (for -v). */
static u64
w32_precise_now(void)
{
	FILETIME ft;
	if (w32.GetSystemTimePreciseAsFileTime)
		w32.GetSystemTimePreciseAsFileTime(&ft);
	else
		GetSystemTimeAsFileTime(&ft);
	return ft_u64(ft);
}

/* The number of logical processors (at least 1). */
static int
w32_cpu_count(void)
{
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	return si.dwNumberOfProcessors ? (int)si.dwNumberOfProcessors : 1;
}

/* Processor power of CPU 0 (CallNtPowerInformation ProcessorInformation):
 * max, current and limit MHz, max and current idle state.  0 or -1. */
static int
w32_power_info(u32 out[5])
{
	struct { ULONG number, v[5]; } ppi[64]; /* max_mhz, cur_mhz, mhz_limit, max_idle, cur_idle */
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	if (w32_load(W32_POWRPROF) < 0 || !w32.CallNtPowerInformation || si.dwNumberOfProcessors > 64 ||
	    w32.CallNtPowerInformation(11, NULL, 0, ppi, sizeof ppi[0] * si.dwNumberOfProcessors) != 0 ||
	    !ppi[0].v[0])
		return -1;
	memcpy(out, ppi[0].v, sizeof ppi[0].v);
	return 0;
}

/* Waits up to ms for a debug event.  1: got one; 0: none yet; -1: error
 * (after a message).  WaitForDebugEventEx (Windows 10) keeps wide debug
 * strings wide. */
static int
w32_wait_debug_event(DEBUG_EVENT *ev, DWORD ms)
{
	DWORD e;
	if (w32.WaitForDebugEventEx ? w32.WaitForDebugEventEx(ev, ms) : WaitForDebugEvent(ev, ms))
		return 1;
	e = GetLastError();
	if (e == ERROR_SEM_TIMEOUT || e == WAIT_TIMEOUT)
		return 0;
	warn("WaitForDebugEvent:");
	return -1;
}

/* Makes this thread a debugger whose debuggees outlive it, whatever ends
 * it: the debug object is made (DbgUiConnectToDbg) with kill-on-close off
 * BEFORE the attach or launch, which reuse it, so no instant of a killed
 * procdump takes the target along.  0 or -1 (vlog). */
static int
w32_debugger_keep_alive(void)
{
	if (w32.DbgUiConnectToDbg && !PD_NT_SUCCESS(w32.DbgUiConnectToDbg())) {
		vlog("DbgUiConnectToDbg failed");
		return -1;
	}
	if (!DebugSetProcessKillOnExit(FALSE)) {
		vlog("DebugSetProcessKillOnExit:");
		return -1;
	}
	return 0;
}

/* The process and thread handles of debug events: Windows' kernelbase
 * keeps and closes them itself, so the debugger must not; Wine's does not,
 * and each attach would leak about 5 (doc/WINE.md section 11).  Closes h
 * under Wine only. */
static void
w32_debug_close_handle(HANDLE h)
{
	if (h && w32.wine_get_version)
		CloseHandle(h);
}

/* The handles a debug event hands over that nobody keeps: its files
 * always, its process and thread handles where they are the debugger's
 * (w32_debug_close_handle). */
static void
w32_debug_event_drop(const DEBUG_EVENT *ev)
{
	switch (ev->dwDebugEventCode) {
	case CREATE_PROCESS_DEBUG_EVENT:
		if (ev->u.CreateProcessInfo.hFile)
			CloseHandle(ev->u.CreateProcessInfo.hFile);
		w32_debug_close_handle(ev->u.CreateProcessInfo.hProcess);
		w32_debug_close_handle(ev->u.CreateProcessInfo.hThread);
		break;
	case CREATE_THREAD_DEBUG_EVENT:
		w32_debug_close_handle(ev->u.CreateThread.hThread);
		break;
	case LOAD_DLL_DEBUG_EVENT:
		if (ev->u.LoadDll.hFile)
			CloseHandle(ev->u.LoadDll.hFile);
		break;
	}
}

/* Takes the queued debug events and passes each on as the loop would (an
 * exception as not handled, anything else continued), its handles dropped,
 * until none comes for wait_ms, the process exits, or ms have passed.
 * on, if given, sees each event first and returns its continue status
 * (0: that default).  1 if the process exited. */
static int
w32_debug_drain(DWORD ms, DWORD wait_ms, DWORD (*on)(const DEBUG_EVENT *, const void *), const void *arg)
{
	DWORD t0 = GetTickCount(), cont;
	DEBUG_EVENT ev;
	while (GetTickCount() - t0 < ms && WaitForDebugEvent(&ev, wait_ms)) {
		if (!on || !(cont = on(&ev, arg)))
			cont = ev.dwDebugEventCode == EXCEPTION_DEBUG_EVENT ? DBG_EXCEPTION_NOT_HANDLED : DBG_CONTINUE;
		w32_debug_event_drop(&ev);
		ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId, cont);
		if (ev.dwDebugEventCode == EXIT_PROCESS_DEBUG_EVENT)
			return 1;
	}
	return 0;
}

/* Closes the calling thread's debug object, if an attach made one (a
 * thread's end does not).  With kill-on-exit off, that releases anything
 * still attached. */
static void
w32_debugger_release(void)
{
	HANDLE h;
	if (!w32.DbgUiGetThreadDebugObject || !w32.DbgUiSetThreadDebugObject || !(h = w32.DbgUiGetThreadDebugObject()))
		return;
	CloseHandle(h);
	w32.DbgUiSetThreadDebugObject(NULL);
	vlog("closed the dump thread's debug object");
}

/* Gives the calling thread the debug object h (passed on by another
 * procdump: dbg_exit_guard), so that its debug calls act on that object's
 * debuggees.  0, or -1 where ntdll lacks the call. */
static int
w32_debugger_adopt(HANDLE h)
{
	if (!w32.DbgUiSetThreadDebugObject)
		return -1;
	w32.DbgUiSetThreadDebugObject(h);
	return 0;
}

/* The instruction pointer of a thread (stopped: at a debug event, or
 * suspended), or 0. */
static u64
w32_thread_ip(HANDLE th)
{
	CONTEXT *c = _aligned_malloc(sizeof *c, 16);
	u64 ip = 0;
	if (c) {
		memset(c, 0, sizeof *c);
		c->ContextFlags = CONTEXT_CONTROL;
		if (GetThreadContext(th, c))
#ifdef _WIN64
			ip = c->Rip;
#else
			ip = c->Eip;
#endif
	}
	_aligned_free(c);
	return ip;
}

/* Puts a stopped thread's instruction pointer at ip.  0 or -1. */
static int
w32_thread_set_ip(HANDLE th, u64 ip)
{
	CONTEXT *c = _aligned_malloc(sizeof *c, 16);
	int rc = -1;
	if (c) {
		memset(c, 0, sizeof *c);
		c->ContextFlags = CONTEXT_CONTROL;
		if (GetThreadContext(th, c)) {
#ifdef _WIN64
			c->Rip = ip;
#else
			c->Eip = (DWORD)ip;
#endif
			rc = SetThreadContext(th, c) ? 0 : -1;
		}
	}
	_aligned_free(c);
	return rc;
}

/* Starts a guard, this program with "-SW PID" (doc/DESIGN.md "A freeze
 * that dies with procdump"): its stdin is a pipe whose write end *to is
 * procdump's, so it reads end-of-input however procdump ends; its stdout
 * is the pipe *from (if from).  Out of procdump's job where allowed (a
 * kill-on-close job must not take it along) and detached from the console
 * (a logoff must not end it).  Only the guard's ends are inheritable, and
 * only during CreateProcess: no other child may keep its stdin open.  The
 * guard's process handle, or NULL after a vlog (always in library mode). */
static HANDLE
w32_start_guard(const wchar_t *sw, DWORD pid, HANDLE *to, HANDLE *from)
{
#ifdef PROCDUMP_NO_MAIN
	(void)sw; (void)pid; (void)to; (void)from;
	vlog("library mode: no guard process");
	return NULL;
#else
	HANDLE in_r = NULL, out_w = NULL, err = NULL, guard = NULL;
	wchar_t exe[MAX_PATH], cmd[MAX_PATH + 48];
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	*to = NULL;
	if (from)
		*from = NULL;
	if (!GetModuleFileNameW(NULL, exe, MAX_PATH) || !CreatePipe(&in_r, to, NULL, 0) ||
	    (from && !CreatePipe(from, &out_w, NULL, 0)) ||
	    !SetHandleInformation(in_r, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) ||
	    (out_w && !SetHandleInformation(out_w, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT))) {
		vlog("cannot start the guard process (-%s):", u8s(sw));
		goto out;
	}
	/* its stderr is procdump's, where procdump has one (a service has none:
	 * the guard then goes without) */
	if (!DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE), GetCurrentProcess(), &err, 0, TRUE,
	                     DUPLICATE_SAME_ACCESS))
		err = NULL;
	swprintf(cmd, MAX_PATH + 48, L"\"%ls\" -%ls %lu", exe, sw, pid);
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = in_r;
	si.hStdOutput = out_w;
	si.hStdError = err;
	if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_BREAKAWAY_FROM_JOB | DETACHED_PROCESS, NULL, NULL, &si, &pi) &&
	    !CreateProcessW(NULL, cmd, NULL, NULL, TRUE, DETACHED_PROCESS, NULL, NULL, &si, &pi)) {
		vlog("cannot start the guard process (-%s):", u8s(sw));
		goto out;
	}
	CloseHandle(pi.hThread);
	guard = pi.hProcess;
out:
	if (in_r) CloseHandle(in_r);
	if (out_w) CloseHandle(out_w);
	if (err) CloseHandle(err);
	if (!guard) {
		if (*to) CloseHandle(*to);
		if (from && *from) CloseHandle(*from);
		*to = NULL;
		if (from)
			*from = NULL;
	}
	return guard;
#endif
}

/* A guard (w32_start_guard) and procdump's ends of its pipes. */
struct w32_guard {
	HANDLE proc, to, from;
};

/* Lets a guard go: its stdin ends, so it exits (it resumes whatever it
 * still holds). */
static void
w32_guard_close(struct w32_guard *g)
{
	if (g->to)
		CloseHandle(g->to);
	if (g->from)
		CloseHandle(g->from);
	if (g->proc)
		CloseHandle(g->proc);
	memset(g, 0, sizeof *g);
}

/* One exchange with the freeze guard of process pid: a thread id, its
 * answer (the suspend count SuspendThread returned, -1: not suspended;
 * thread id 0: resume them all).  0, or -1: the guard is gone (killed: it
 * resumed nothing); then it is closed, after a message, and the caller
 * takes over the suspensions it held. */
static int
w32_guard_ask(struct w32_guard *g, DWORD pid, DWORD tid, DWORD *answer)
{
	DWORD got = 0;
	if (!w32_write_all(g->to, &tid, 4) && ReadFile(g->from, answer, 4, &got, NULL) && got == 4)
		return 0;
	warn("the freeze guard of process %lu ended: procdump resumes the threads itself", pid);
	w32_guard_close(g);
	return -1;
}

/* A thread's suspend count (ThreadSuspendCount, Windows 8.1, Wine), or -1. */
static DWORD
w32_thread_suspend_count(HANDLE th)
{
	ULONG n = 0;
	return PD_NT_SUCCESS(w32.NtQueryInformationThread(th, 35 /* ThreadSuspendCount */, &n, sizeof n, NULL))
	       ? (DWORD)n : (DWORD)-1;
}

/* A thread's start address (ThreadQuerySetWin32StartAddress), or 0. */
static u64
w32_thread_start(HANDLE th)
{
	PVOID a = NULL;
	return PD_NT_SUCCESS(w32.NtQueryInformationThread(th, 9, &a, sizeof a, NULL)) ? (u64)(ULONG_PTR)a : 0;
}

/* A performance counter (-p/-pl) through pdh.dll. */
struct w32_counter {
	HANDLE query, counter;
};

static const char *
w32_pdh_status(LONG st)
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

/* Opens the counter and takes a first sample.  0, or -1 after a message
 * naming sw. */
static int
w32_counter_open(struct w32_counter *c, const wchar_t *path, const char *sw)
{
	LONG st;
	memset(c, 0, sizeof *c);
	if (w32_load(W32_PDH) < 0) {
		warn("%s: performance counters need pdh.dll:", sw);
		return -1;
	}
	if (!w32.PdhOpenQueryW || !w32.PdhAddCounterW || !w32.PdhCollectQueryData ||
	    !w32.PdhGetFormattedCounterValue || !w32.PdhCloseQuery) {
		warn("%s: pdh.dll lacks the counter functions", sw);
		return -1;
	}
	if ((st = w32.PdhOpenQueryW(NULL, 0, &c->query)) != 0) {
		warn("%s: cannot open a counter query: %s (0x%08lX)", sw, w32_pdh_status(st), (unsigned long)st);
		return -1;
	}
	if ((st = w32.PdhAddCounterW(c->query, path, 0, &c->counter)) != 0) {
		warn("%s: counter '%s' cannot be read: %s (0x%08lX)", sw, u8s(path),
		     w32_pdh_status(st), (unsigned long)st);
		return -1;
	}
	w32.PdhCollectQueryData(c->query);
	return 0;
}

/* 1: *v is the counter's value now; 0: no value yet (rate counters need
 * two samples). */
static int
w32_counter_read(struct w32_counter *c, long long *v)
{
	struct pd_pdh_value val = { 0 };
	DWORD type = 0;
	LONG st;
	if (w32.PdhCollectQueryData(c->query))
		return 0;
	/* integers as integers: PDH_FMT_DOUBLE gives 0 for them under Wine */
	st = w32.PdhGetFormattedCounterValue(c->counter, PD_PDH_FMT_LARGE | PD_PDH_FMT_NOCAP100, &type, &val);
	if (st || (val.status != 0 && val.status != 1 /* PDH_CSTATUS_VALID_DATA, NEW_DATA */))
		return 0;
	*v = val.v.ll;
	return 1;
}

static void
w32_counter_close(struct w32_counter *c)
{
	if (c->query && w32.PdhCloseQuery)
		w32.PdhCloseQuery(c->query);
	c->query = c->counter = NULL;
}

/* -h: user32's window functions.  0, or -1 after a message. */
static int
w32_windows_open(void)
{
	if (w32_load(W32_USER32) < 0 || !w32.EnumWindows || !w32.GetWindowThreadProcessId ||
	    !w32.IsWindowVisible || !w32.IsHungAppWindow || !w32.GetWindow || !w32.SendMessageTimeoutW) {
		warn("-h: user32.dll lacks the window functions");
		return -1;
	}
	return 0;
}

struct w32_hung { DWORD pid; int probe, found; };

#define W32_PROBE_MS 200 /* how long a window has to answer WM_NULL */

static BOOL CALLBACK
w32_hung_cb(HWND w, LPARAM lp)
{
	struct w32_hung *h = (struct w32_hung *)lp;
	DWORD pid = 0;
	DWORD_PTR res;
	w32.GetWindowThreadProcessId(w, &pid);
	/* visible, unowned top-level windows only (not the IME window) */
	if (pid != h->pid || !w32.IsWindowVisible(w) || w32.GetWindow(w, GW_OWNER))
		return TRUE;
	if (w32.IsHungAppWindow(w))
		h->found = 2;
	else if (h->probe &&
	         !w32.SendMessageTimeoutW(w, WM_NULL, 0, 0, SMTO_ABORTIFHUNG | SMTO_BLOCK, W32_PROBE_MS, &res) &&
	         GetLastError() == ERROR_TIMEOUT)
		h->found = 1;
	return !h->found;
}

/* Does a top-level window of pid not respond?  2: Windows calls it hung
 * (IsHungAppWindow: no message pumped for 5 s); 1 (with probe): no answer
 * to WM_NULL within W32_PROBE_MS; 0: all answer. */
static int
w32_hung_window(DWORD pid, int probe)
{
	struct w32_hung h = { pid, probe, 0 };
	w32.EnumWindows(w32_hung_cb, (LPARAM)&h);
	return h.found;
}

/* -md: loads the DLL and finds its MiniDumpCallbackRoutine.  Returns it,
 * or NULL after a message; *dll is to be freed with FreeLibrary. */
static MINIDUMP_CALLBACK_ROUTINE
w32_load_callback(const wchar_t *path, HMODULE *dll)
{
	FARPROC p;
	MINIDUMP_CALLBACK_ROUTINE f;
	*dll = LoadLibraryW(path);
	if (!*dll) {
		warn("-md: cannot load '%s':", u8s(path));
		return NULL;
	}
	p = GetProcAddress(*dll, "MiniDumpCallbackRoutine");
	if (!p) {
		warn("-md: '%s' exports no MiniDumpCallbackRoutine", u8s(path));
		FreeLibrary(*dll);
		*dll = NULL;
		return NULL;
	}
	memcpy(&f, &p, sizeof f);
	return f;
}

/* Starts cmd (modified in place, as CreateProcessW may) with env (NULL:
 * procdump's) without a window or procdump's handles, in a job of its own
 * where Windows allows one (*job; NULL where procdump's job forbids
 * nesting), so that a kill ends what it started too.  0, or -1 (error set). */
static int
w32_spawn_hidden(wchar_t *cmd, wchar_t *env, PROCESS_INFORMATION *pi, HANDLE *job)
{
	STARTUPINFOW si = { .cb = sizeof si, .dwFlags = STARTF_USESHOWWINDOW, .wShowWindow = SW_HIDE };
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim = { .BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE };
	memset(pi, 0, sizeof *pi);
	if ((*job = CreateJobObjectW(NULL, NULL)))
		SetInformationJobObject(*job, JobObjectExtendedLimitInformation, &lim, sizeof lim);
	if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW | CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT,
	                    env, NULL, &si, pi)) {
		DWORD e = GetLastError();
		if (*job)
			CloseHandle(*job);
		*job = NULL;
		SetLastError(e);
		return -1;
	}
	if (*job && !AssignProcessToJobObject(*job, pi->hProcess)) {
		CloseHandle(*job);
		*job = NULL;
	}
	ResumeThread(pi->hThread);
	CloseHandle(pi->hThread);
	pi->hThread = NULL;
	return 0;
}

/* Ends a process w32_spawn_hidden started, and what it started in its job. */
static void
w32_kill_spawned(HANDLE proc, HANDLE job)
{
	if (!job || !TerminateJobObject(job, 1))
		TerminateProcess(proc, 1);
}

/* The process's environment with the "NAME=value" pairs added or
 * replaced; malloc'd, NULL if out of memory. */
static wchar_t *
w32_env_with(const wchar_t *const *pairs, int n)
{
	wchar_t *cur = GetEnvironmentStringsW(), *p, *r;
	size_t len = 0, extra = 0, o = 0, l;
	int k, skip;
	if (!cur)
		return NULL;
	for (p = cur; *p; p += wcslen(p) + 1)
		len += wcslen(p) + 1;
	for (k = 0; k < n; k++)
		extra += wcslen(pairs[k]) + 1;
	if ((r = malloc((len + extra + 1) * sizeof *r))) {
		for (p = cur; *p; p += l + 1) {
			l = wcslen(p);
			for (skip = k = 0; k < n; k++) {
				size_t nl = wcscspn(pairs[k], L"=") + 1;
				if (l >= nl && !_wcsnicmp(p, pairs[k], nl))
					skip = 1;
			}
			if (!skip) {
				wmemcpy(r + o, p, l + 1);
				o += l + 1;
			}
		}
		for (k = 0; k < n; k++) {
			l = wcslen(pairs[k]);
			wmemcpy(r + o, pairs[k], l + 1);
			o += l + 1;
		}
		r[o] = 0;
	}
	FreeEnvironmentStringsW(cur);
	return r;
}

/* ---- Registry (Install: AeDebug).  Reg* return their error rather than
 * set the last error: each wrapper sets it, so that warn("...:") names it. */

/* Opens HKLM\path in a registry view (KEY_WOW64_64KEY, KEY_WOW64_32KEY or
 * 0) for reading and writing; with create, makes it if missing and sets
 * *created.  The key, or NULL with the last error set and *why: 1 missing,
 * 2 access denied (not elevated), 3 another error. */
static HKEY
w32_reg_open(const wchar_t *path, REGSAM view, int create, int *created, int *why)
{
	HKEY k = NULL;
	DWORD disp = 0;
	REGSAM sam = KEY_QUERY_VALUE | KEY_SET_VALUE | KEY_ENUMERATE_SUB_KEYS | view;
	LONG r = create ? RegCreateKeyExW(HKEY_LOCAL_MACHINE, path, 0, NULL, 0, sam, NULL, &k, &disp)
	                : RegOpenKeyExW(HKEY_LOCAL_MACHINE, path, 0, sam, &k);
	if (created)
		*created = r == ERROR_SUCCESS && disp == REG_CREATED_NEW_KEY;
	*why = r == ERROR_SUCCESS ? 0 : r == ERROR_FILE_NOT_FOUND ? 1 : r == ERROR_ACCESS_DENIED ? 2 : 3;
	SetLastError((DWORD)r);
	return r == ERROR_SUCCESS ? k : NULL;
}

/* A value as stored: its type and bytes (malloc'd, plus a NUL wchar so
 * that a string is terminated).  1 read, 0 absent, -1 error (set). */
static int
w32_reg_get(HKEY k, const wchar_t *name, DWORD *type, BYTE **data, DWORD *len)
{
	LONG r;
	*data = NULL;
	*len = 0;
	for (;;) {
		DWORD n = *len;
		r = RegQueryValueExW(k, name, NULL, type, *data, &n);
		if (r == ERROR_FILE_NOT_FOUND)
			return 0;
		if (r == ERROR_SUCCESS && *data) {
			*len = n;
			return 1;
		}
		if (r != ERROR_SUCCESS && r != ERROR_MORE_DATA)
			break;
		free(*data);
		if (!(*data = calloc(n + 2 * sizeof(wchar_t), 1))) { /* a wide NUL even after odd-length data */
			r = ERROR_NOT_ENOUGH_MEMORY;
			break;
		}
		*len = n;
	}
	free(*data);
	*data = NULL;
	SetLastError((DWORD)r);
	return -1;
}

/* Writes a value (type and bytes as given).  0, or -1 with the error set. */
static int
w32_reg_set(HKEY k, const wchar_t *name, DWORD type, const void *data, DWORD len)
{
	BYTE *copy = NULL;
	LONG r;
	/* RegSetValueExW counts one more wide NUL when a string's data lacks
	 * one and a NUL follows it in memory: a non-NUL after the copy keeps
	 * the bytes as given (-u restores a value exactly) */
	if ((type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ) && len && (copy = malloc(len + 4))) {
		memcpy(copy, data, len);
		memset(copy + len, 0xFF, 4);
		data = copy;
	}
	r = RegSetValueExW(k, name, 0, type, data, len);
	free(copy);
	SetLastError((DWORD)r);
	return r == ERROR_SUCCESS ? 0 : -1;
}

static int
w32_reg_set_string(HKEY k, const wchar_t *name, const wchar_t *s)
{
	return w32_reg_set(k, name, REG_SZ, s, (DWORD)((wcslen(s) + 1) * sizeof *s));
}

/* Removes a value; one that is not there is no error.  0 or -1 (set). */
static int
w32_reg_delete_value(HKEY k, const wchar_t *name)
{
	LONG r = RegDeleteValueW(k, name);
	SetLastError((DWORD)r);
	return r == ERROR_SUCCESS || r == ERROR_FILE_NOT_FOUND ? 0 : -1;
}

/* Removes HKLM\path of a view if it holds no value and no subkey (a key
 * -i made).  0 (removed or not empty), -1 (set). */
static int
w32_reg_delete_if_empty(HKEY k, const wchar_t *path, REGSAM view)
{
	DWORD nvals = 1, nkeys = 1;
	LONG r = RegQueryInfoKeyW(k, NULL, NULL, NULL, &nkeys, NULL, NULL, &nvals, NULL, NULL, NULL, NULL);
	if (r == ERROR_SUCCESS && !nvals && !nkeys)
		r = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, path, view, 0);
	SetLastError((DWORD)r);
	return r == ERROR_SUCCESS ? 0 : -1;
}

/* Windows' build string (BuildLabEx, else BuildLab) into lab (n wide
 * characters); empty if neither can be read. */
static void
w32_build_lab(wchar_t *lab, DWORD n)
{
	HKEY key;
	DWORD bytes = n * sizeof(wchar_t);
	lab[0] = 0;
	if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", 0, KEY_QUERY_VALUE,
	                  &key))
		return;
	if (RegQueryValueExW(key, L"BuildLabEx", NULL, NULL, (BYTE *)lab, &bytes) != 0) {
		bytes = n * sizeof(wchar_t);
		if (RegQueryValueExW(key, L"BuildLab", NULL, NULL, (BYTE *)lab, &bytes) != 0)
			lab[0] = 0;
	}
	lab[n - 1] = 0;
	RegCloseKey(key);
}

/* ---- Windows Error Reporting (-wer) */

/* WER_REPORT_INFORMATION */
struct pd_wer_info {
	DWORD dwSize;
	HANDLE hProcess;
	WCHAR wzConsentKey[64], wzFriendlyEventName[128], wzApplicationName[128];
	WCHAR wzApplicationPath[MAX_PATH], wzDescription[512];
	HWND hwndParent;
};

/* Queues a report on process h (image name) to WER with a dump WER
 * writes itself (heap: a full one, else a mini one).  0 and *result (a
 * WER_SUBMIT_RESULT), or the failing HRESULT with *step naming the call
 * (wer.dll missing: E_NOINTERFACE, "wer.dll"). */
static HRESULT
w32_wer_queue(HANDLE h, const wchar_t *name, int heap, const char **step, int *result)
{
	struct pd_wer_info info = { .dwSize = sizeof info, .hProcess = h };
	HANDLE rep = NULL;
	HRESULT hr;
	*result = 0;
	*step = "wer.dll";
	if (w32_load(W32_WER) < 0 || !w32.WerReportCreate || !w32.WerReportAddDump || !w32.WerReportSubmit ||
	    !w32.WerReportCloseHandle)
		return E_NOINTERFACE;
	wcsncpy(info.wzApplicationName, name, 127);
	wcscpy(info.wzDescription, L"Dump written by procdump.c");
	*step = "WerReportCreate";
	hr = w32.WerReportCreate(L"ProcDump", 0 /* WerReportNonCritical */, &info, &rep);
	if (SUCCEEDED(hr)) {
		*step = "WerReportAddDump";
		hr = w32.WerReportAddDump(rep, h, NULL, heap ? 3 /* WerDumpTypeHeapDump */ : 2 /* MiniDump */, NULL,
		                          NULL, 0);
	}
	if (SUCCEEDED(hr)) {
		*step = "WerReportSubmit";
		hr = w32.WerReportSubmit(rep, 1 /* WerConsentNotAsked */, 4 /* WER_SUBMIT_QUEUE */, result);
	}
	if (rep)
		w32.WerReportCloseHandle(rep);
	return hr;
}


/* ---- Store applications and packages (-x) */

/* The documented COM classes (shobjidl.h) and the IUnknown of any object. */
static const GUID w32_clsid_debug_settings = { 0xb1aec16f, 0x2383, 0x4852, { 0xb0, 0xe9, 0x8f, 0x0b, 0x1d, 0xc6, 0x6b, 0x4d } };
static const GUID w32_iid_debug_settings = { 0xf27c3930, 0x8029, 0x4ad1, { 0x94, 0xe3, 0x3d, 0xba, 0x41, 0x78, 0x10, 0xc1 } };
static const GUID w32_clsid_activation = { 0x45ba127d, 0x10a8, 0x46ea, { 0x8a, 0xb7, 0x56, 0xea, 0x90, 0x78, 0x94, 0x3c } };
static const GUID w32_iid_activation = { 0x2e941141, 0x7f97, 0x4756, { 0xba, 0x1d, 0x9d, 0xec, 0xde, 0x89, 0x4a, 0x3d } };
struct w32_unknown {
	const struct {
		HRESULT (STDMETHODCALLTYPE *QueryInterface)(void *, const GUID *, void **);
		ULONG (STDMETHODCALLTYPE *AddRef)(void *);
		ULONG (STDMETHODCALLTYPE *Release)(void *);
	} *v;
};

/* Can the objects Store activation needs be made: PackageDebugSettings
 * (procdump started on the next activation) and, for an application,
 * ApplicationActivationManager?  0, or the HRESULT with *which naming the
 * class (ole32 missing: E_NOINTERFACE, "ole32.dll"). */
static HRESULT
w32_store_classes(int app, const char **which)
{
	const GUID *cls[2] = { &w32_clsid_debug_settings, &w32_clsid_activation };
	const GUID *iid[2] = { &w32_iid_debug_settings, &w32_iid_activation };
	static const char *names[2] = { "PackageDebugSettings", "ApplicationActivationManager" };
	HRESULT hr = E_NOINTERFACE, init;
	int i;
	*which = "ole32.dll";
	if (w32_load(W32_OLE32) < 0 || !w32.CoInitializeEx || !w32.CoCreateInstance || !w32.CoUninitialize)
		return hr;
	init = w32.CoInitializeEx(NULL, 0x2 /* COINIT_APARTMENTTHREADED */);
	for (i = 0, hr = S_OK; i < 1 + !!app && SUCCEEDED(hr); i++) {
		struct w32_unknown *o = NULL;
		*which = names[i];
		hr = w32.CoCreateInstance(cls[i], NULL, CLSCTX_ALL, iid[i], (void **)&o);
		if (SUCCEEDED(hr) && o)
			o->v->Release(o);
	}
	if (SUCCEEDED(init))
		w32.CoUninitialize();
	return hr;
}

/* ---- The minidump file format (doc/MINIDUMP.md): the structures
 * <dbghelp.h> lacks, and the MINIDUMP_TYPE bits the writer uses. */
#pragma pack(push, 4)
/* MINIDUMP_MISC_INFO_5: level 1 + processor power (2) + integrity, execute
 * flags, protection, time zone (3) + build strings (4) + XState, cookie (5) */
struct md_misc5 {
	MINIDUMP_MISC_INFO m1;
	u32 max_mhz, cur_mhz, mhz_limit, max_idle, cur_idle;
	u32 integrity, execute_flags, protected_process, tz_id;
	u8 tz[172];                /* TIME_ZONE_INFORMATION */
	u16 build[260], dbg_bld[40];
	u32 xs_size, xs_context_size;
	u64 xs_enabled;
	struct { u32 offset, size; } xs_features[64];
	u32 cookie;
};
struct md_threadinfo {
	u32 tid, dump_flags, dump_error, exit_status;
	u64 create_time, exit_time, kernel_time, user_time, start_address, affinity;
};
struct md_threadname { u32 tid; u64 name_rva; };
struct md_handle {
	u64 handle;
	u32 type_rva, name_rva, attributes, granted_access, handle_count, pointer_count, info_rva, reserved0;
};
#pragma pack(pop)

_Static_assert(sizeof(MINIDUMP_HEADER) == 32 && sizeof(MINIDUMP_DIRECTORY) == 12 &&
               sizeof(MINIDUMP_THREAD) == 48 && sizeof(MINIDUMP_MODULE) == 108, "<dbghelp.h>'s layouts");
_Static_assert(sizeof(struct md_misc5) == 1364, "MINIDUMP_MISC_INFO_5");
_Static_assert(offsetof(struct md_misc5, tz) == 60 && offsetof(struct md_misc5, build) == 232 &&
               offsetof(struct md_misc5, xs_size) == 832, "MINIDUMP_MISC_INFO_5 layout");
_Static_assert(sizeof(struct md_handle) == 40, "MINIDUMP_HANDLE_DESCRIPTOR_2");
_Static_assert(sizeof(struct md_threadinfo) == 64, "MINIDUMP_THREAD_INFO");
_Static_assert(sizeof(struct md_threadname) == 12, "MINIDUMP_THREAD_NAME");
#ifdef _WIN64
_Static_assert(sizeof(CONTEXT) == 1232, "CONTEXT AMD64");
#else
_Static_assert(sizeof(CONTEXT) == 716, "CONTEXT x86");
#endif

/* MINIDUMP_TYPE bits this writer honours, by dump type. */
#define MDT_DATASEGS          0x00001
#define MDT_FULLMEMORY        0x00002
#define MDT_HANDLEDATA        0x00004
#define MDT_FILTERMEMORY      0x00008
#define MDT_SCANMEMORY        0x00010
#define MDT_UNLOADEDMODULES   0x00020
#define MDT_INDIRECT          0x00040
#define MDT_FILTERMODULEPATHS 0x00080
#define MDT_PROCESSTHREADDATA 0x00100
#define MDT_PRIVATERW         0x00200
#define MDT_WITHOUTOPTIONAL   0x00400
#define MDT_FULLMEMORYINFO    0x00800
#define MDT_THREADINFO        0x01000
#define MDT_CODESEGS          0x02000
#define MDT_WITHOUTAUXSTATE   0x04000 /* honoured by nature: no auxiliary providers */
#define MDT_PRIVATEWC         0x10000
#define MDT_IGNOREINACCESSIBLE 0x20000
#define MDT_TOKEN             0x40000
#define MDT_MODULEHEADERS     0x80000
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

/* The service control manager, with access, or the refusal of test hook
 * PROCDUMP_TEST_SCM_DENIED (test/README.md "Test hooks").  NULL with the
 * error set. */
static SC_HANDLE
w32_scm_open(DWORD access)
{
	if (w32_env_number(L"PROCDUMP_TEST_SCM_DENIED") && (access & SC_MANAGER_CREATE_SERVICE)) {
		SetLastError(ERROR_ACCESS_DENIED);
		return NULL;
	}
	return OpenSCManagerW(NULL, NULL, access);
}

/* ================================= Args ================================= */
/* One table, opts[], describes every switch: parser, defaults, -? text,
 * numeric ranges; args_validate() holds the rules between switches.  Plain
 * C types; opens no process. */

enum optkind {
	OPT_FLAG,    /* -x */
	OPT_INT,     /* -x N */
	OPT_STR,     /* -x TEXT */
	OPT_LIST,    /* -x TEXT, may repeat; values are joined with ',' */
	OPT_HEX,     /* -x HEXMASK */
	OPT_COUNTER, /* -x "\Object(Instance)\Counter" N */
	OPT_E,       /* -e [1] */
	OPT_R,       /* -r [1..5] */
	OPT_DIGIT,   /* -x [N]: a flag whose value, when the next argument is one digit, is that digit (lo..hi) */
	OPT_I,       /* -i [folder] */
	OPT_X,       /* -x folder image [args...] */
	OPT_SVC,     /* -svc install|uninstall NAME, -svc list */
	OPT_REST     /* swallows the rest (hidden -j) */
};

#define OF_HIDDEN  0x02 /* not in -? (documented in the man page) */
#define OF_INSTALL 0x04 /* allowed with -i */
#define OF_TYPE    0x08 /* asks for a dump type (off2 = enum pd_type) */
#define OF_DEBUG   0x10 /* a debugger trigger: procdump attaches */
#define OF_MONITOR 0x20 /* a sampled monitor */
#define OF_NEEDS_E 0x40 /* only with -e */
#define OF_PERCORE 0x80 /* a percentage: with -u, hi is per core (times the cores) */
#define OF_STEPS   0x100 /* OPT_INT that takes a threshold list (off2 = struct pd_steps) */
#define OF_BELOW   0x200 /* its list fires below each value: the values decrease */
#define OF_ANY     0x400 /* taken with every form (-cancel -i -u -x -j -?), any number of times:
                          * Sysinternals scripts prepend -accepteula to every line, wrappers add it again */

/* Where a switch stands in the -? synopsis: not there, first on a line,
 * beside the previous one, an alternative to it (-c|-cl), or nested in
 * its brackets (-e [-g]). */
enum optsyn { SYN_NONE, SYN_LINE, SYN_SAME, SYN_ALT, SYN_SUB };

struct opt {
	const wchar_t *name;    /* without the leading - or / */
	enum optkind kind;
	size_t off;             /* offsetof(struct pd_config, field) */
	size_t off2;            /* second field (counter threshold, list given) or dump type */
	const char *arg;        /* metavariable in usage, NULL for flags */
	const char *help;       /* one line */
	int flags;              /* OF_* */
	enum optsyn syn;
	long long dflt;         /* OPT_INT: the value when not given (PD_UNSET: none) */
	long long lo, hi;       /* OPT_INT, OPT_HEX, OPT_COUNTER (its threshold): the range */
};

#define CO(include) offsetof(struct pd_config, include)
#define U PD_UNSET, 0, 0 /* no default, no range (a numeric row without one takes 0 up) */
static const struct opt opts[] = {
	{ L"mm", OPT_FLAG, CO(type_mini), PD_MINI, NULL, "Write a 'Mini' dump file (default): stacks and the code around each thread.", OF_INSTALL | OF_TYPE, SYN_LINE, U },
	{ L"ma", OPT_FLAG, CO(type_full), PD_FULL, NULL, "Write a 'Full' dump file: all committed readable memory.", OF_INSTALL | OF_TYPE, SYN_SAME, U },
	{ L"mt", OPT_FLAG, CO(type_triage), PD_TRIAGE, NULL, "Write a 'Triage' dump file: stacks, limited metadata, sensitive data removed.", OF_INSTALL | OF_TYPE, SYN_SAME, U },
	{ L"mp", OPT_FLAG, CO(type_miniplus), PD_MINIPLUS, NULL, "Write a 'MiniPlus' dump file: private and writable memory, less the largest area over 512 MB.", OF_INSTALL | OF_TYPE, SYN_SAME, U },
	{ L"mc", OPT_HEX, CO(custom_mask), PD_CUSTOM, "<Mask>", "Write a 'Custom' dump file from a MINIDUMP_TYPE mask (hex).", OF_INSTALL | OF_TYPE, SYN_SAME, PD_UNSET, 0, 0xFFFFFFFF },
	{ L"md", OPT_STR, CO(callback_dll), PD_CALLBACK, "<Callback_DLL>", "Write a 'Callback' dump file shaped by the DLL's MiniDumpCallbackRoutine.", OF_INSTALL | OF_TYPE, SYN_SAME, U },
	{ L"mk", OPT_FLAG, CO(kernel_dump), 0, NULL, "Also write a 'Kernel' dump file of the threads' kernel stacks.", OF_INSTALL, SYN_SAME, U },
	{ L"n", OPT_INT, CO(count), 0, "<Count>", "Number of dumps to write before exiting (default 1).", 0, SYN_LINE, 1, 1, 2147483647 },
	{ L"s", OPT_INT, CO(interval_secs), 0, "<Seconds>", "Consecutive seconds before a dump is written; with no trigger, seconds between dumps (default 10).", 0, SYN_LINE, 10, 1, 4294967 },
	{ L"c", OPT_INT, CO(cpu_above), CO(cpu_above_steps), "<CPU_Usage>[,...]", "CPU threshold (percent) above which to write a dump; a list (50,70,90) writes one at each.", OF_MONITOR | OF_PERCORE | OF_STEPS, SYN_LINE, PD_UNSET, 0, 100 },
	{ L"cl", OPT_INT, CO(cpu_below), CO(cpu_below_steps), "<CPU_Usage>[,...]", "CPU threshold (percent) below which to write a dump; a list decreases (30,20,10).", OF_MONITOR | OF_PERCORE | OF_STEPS | OF_BELOW, SYN_ALT, PD_UNSET, 0, 100 },
	{ L"u", OPT_FLAG, CO(per_core), 0, NULL, "With -c/-cl: CPU usage relative to one core. Alone: uninstall the postmortem debugger.", 0, SYN_SUB, U },
	{ L"m", OPT_INT, CO(commit_above), CO(commit_above_steps), "<Commit_Usage>[,...]", "Memory commit threshold in MB at which to write a dump; a list (500,1000) writes one at each.", OF_MONITOR | OF_STEPS, SYN_LINE, PD_UNSET, 1, 1073741824 },
	{ L"ml", OPT_INT, CO(commit_below), CO(commit_below_steps), "<Commit_Usage>[,...]", "Write a dump when memory commit drops below this many MB; a list decreases.", OF_MONITOR | OF_STEPS | OF_BELOW, SYN_ALT, PD_UNSET, 1, 1073741824 },
	{ L"tc", OPT_INT, CO(threads_above), CO(threads_above_steps), "<Thread_Count>[,...]", "Write a dump when the process has at least this many threads; a list writes one at each.", OF_MONITOR | OF_STEPS, SYN_LINE, PD_UNSET, 1, 16777216 },
	{ L"hc", OPT_INT, CO(handles_above), CO(handles_above_steps), "<Handle_Count>[,...]", "Write a dump when the process has at least this many handles open; a list writes one at each.", OF_MONITOR | OF_STEPS, SYN_SAME, PD_UNSET, 1, 16777216 },
	{ L"p", OPT_COUNTER, CO(counter_above), CO(counter_above_value), "<Counter> <Threshold>", "Write a dump when the performance counter is at or above the threshold.", OF_MONITOR, SYN_LINE, PD_UNSET, 0, 9007199254740992 },
	{ L"pl", OPT_COUNTER, CO(counter_below), CO(counter_below_value), "<Counter> <Threshold>", "Write a dump when the performance counter falls below the threshold.", OF_MONITOR, SYN_ALT, PD_UNSET, 0, 9007199254740992 },
	{ L"h", OPT_DIGIT, CO(hung), CO(hung_secs), "[1..9]", "Write a dump when a window of the process does not respond for 5 seconds (or 1 to 9).", OF_MONITOR, SYN_LINE, 5, 1, 9 },
	{ L"e", OPT_E, CO(on_exception), 0, "[1]", "Write a dump on an unhandled exception; with 1, also on first-chance exceptions.", OF_DEBUG, SYN_LINE, U },
	{ L"g", OPT_FLAG, CO(native_only), 0, NULL, "With -e: run as a native debugger in a managed process (no interop): CLR exceptions by code only.", OF_NEEDS_E, SYN_SUB, U },
	{ L"b", OPT_FLAG, CO(breakpoints), 0, NULL, "With -e: treat debug breakpoints as exceptions (otherwise ignore them).", OF_NEEDS_E, SYN_SUB, U },
	{ L"ld", OPT_FLAG, CO(on_dll_load), 0, NULL, "With -e: write a dump when a DLL is loaded (filters apply).", OF_NEEDS_E | OF_DEBUG, SYN_SUB, U },
	{ L"ud", OPT_FLAG, CO(on_dll_unload), 0, NULL, "With -e: write a dump when a DLL is unloaded (filters apply).", OF_NEEDS_E | OF_DEBUG, SYN_SUB, U },
	{ L"ct", OPT_FLAG, CO(on_thread_create), 0, NULL, "With -e: write a dump when a thread is created.", OF_NEEDS_E | OF_DEBUG, SYN_SUB, U },
	{ L"et", OPT_FLAG, CO(on_thread_exit), 0, NULL, "With -e: write a dump when a thread exits.", OF_NEEDS_E | OF_DEBUG, SYN_SUB, U },
	{ L"l", OPT_FLAG, CO(debug_log), 0, NULL, "Display the debug logging (OutputDebugString) of the process, and dump at each string (with -f: those that match).", OF_DEBUG, SYN_LINE, U },
	{ L"t", OPT_FLAG, CO(on_terminate), 0, NULL, "Write a dump when the process terminates.", OF_DEBUG, SYN_LINE, U },
	{ L"f", OPT_LIST, CO(include), CO(include_set), "<Include_Filter>, ...", "Include filter on exception (code, name; .NET: type, message), debug string or DLL name; * wildcards.", 0, SYN_LINE, U },
	{ L"fx", OPT_LIST, CO(exclude), CO(exclude_set), "<Exclude_Filter>, ...", "Exclude filter on exception (code, name; .NET: type, message), debug string or DLL name; * wildcards.", 0, SYN_LINE, U },
	{ L"dc", OPT_STR, CO(comment), 0, "<Comment>", "Add the comment to the dump (CommentStreamA/W).", 0, SYN_LINE, U },
	{ L"o", OPT_FLAG, CO(overwrite), 0, NULL, "Overwrite an existing dump file.", 0, SYN_LINE, U },
	{ L"r", OPT_R, CO(clone), 0, "[1..5]", "Dump using a clone; optional concurrent limit (default 1, max 5).", OF_INSTALL, SYN_LINE, U },
	{ L"a", OPT_FLAG, CO(avoid_outage), 0, NULL, "Avoid outage: skip a trigger that would wait for the concurrent limit (needs -r).", 0, SYN_SUB, U },
	{ L"at", OPT_INT, CO(timeout_secs), 0, "<Timeout>", "Cancel a collection that takes longer than Timeout seconds (not counted toward -n).", OF_INSTALL, SYN_LINE, PD_UNSET, 1, 4294967 },
	{ L"k", OPT_FLAG, CO(kill_after), 0, NULL, "Kill the process at the end of dump collection.", OF_INSTALL, SYN_LINE, U },
	{ L"wer", OPT_FLAG, CO(wer), 0, NULL, "Queue the (largest) dump to Windows Error Reporting.", OF_INSTALL, SYN_LINE, U },
	{ L"minfree", OPT_INT, CO(minfree), 0, "<MB>", "Free space (MB) every dump must leave on its volume (default: the larger of 1 GB and 5%; 0: no check).", OF_INSTALL, SYN_LINE, PD_UNSET, 0, 1099511627776 },
	{ L"keep", OPT_INT, CO(keep), 0, "<Count>", "Keep at most Count dumps of the process name (of each type) that procdump.c wrote in the folder; older ones are removed.", OF_INSTALL, SYN_SAME, PD_UNSET, 1, 100000 },
	{ L"inheritacl", OPT_FLAG, CO(inheritacl), 0, NULL, "Give dumps the folder's inherited ACL instead of owner, Administrators and SYSTEM only.", OF_INSTALL, SYN_SAME, U },
	{ L"dbghelp", OPT_FLAG, CO(dbghelp), 0, NULL, "Write the dumps with the system's dbghelp MiniDumpWriteDump instead of procdump.c's writer.", 0, SYN_LINE, U },
	{ L"64", OPT_FLAG, CO(native_view), 0, NULL, "Write a 64-bit (native) dump of a 32-bit (WOW64) process.", 0, SYN_LINE, U },
	{ L"v", OPT_FLAG, CO(verbose), 0, NULL, "Verbose: timings and details on stderr.", 0, SYN_LINE, U },
	{ L"json", OPT_STR, CO(json), 0, "<File|->", "Write events as JSON Lines, appended to File, or with - to stdout (console text then goes to stderr); each line whole or not at all (a lost line: exit 4).", 0, SYN_SAME, U },
	{ L"ondump", OPT_STR, CO(ondump), 0, "<Command_Line>", "Run the command line after each complete dump, without a window; DUMPPATH, PROCESSNAME, PID, EXCEPTIONCODE, YYMMDD, HHMMSS each become one quoted argument.", 0, SYN_LINE, U },
	{ L"ondumpat", OPT_INT, CO(ondump_secs), 0, "<Seconds>", "Kill an -ondump action still running after that many seconds (default 300); 2 run at once, the next ones wait.", 0, SYN_SUB, 300, 1, 86400 },
	{ L"w", OPT_FLAG, CO(wait), 0, NULL, "Wait for the named process to launch if it is not running.", 0, SYN_NONE, U },
	{ L"all", OPT_FLAG, CO(all), 0, NULL, "Monitor every process of the name (* wildcards); with -w, also each one started later.", 0, SYN_LINE, U },
	{ L"pt", OPT_FLAG, CO(children), 0, NULL, "Also monitor the target's child processes, and theirs, each as a target of its own.", 0, SYN_SAME, U },
	{ L"duration", OPT_INT, CO(duration), 0, "<Seconds>", "Stop monitoring after that many seconds (exit 1 if a count was not reached).", 0, SYN_SAME, PD_UNSET, 1, 4294967 },
	{ L"x", OPT_X, CO(launch), 0, "<Dump_Folder> <Image_File> [Argument, ...]", "Launch the image with its arguments and monitor it.", 0, SYN_NONE, U },
	{ L"i", OPT_I, CO(install), 0, "[Dump_Folder]", "Install as the (AeDebug) postmortem debugger, once the folder takes a file and the -md DLL loads.", 0, SYN_NONE, U },
	{ L"y", OPT_STR, CO(activation), 0, "<Activation>", "Store application activation (hidden).", OF_HIDDEN, SYN_NONE, U },
	{ L"j", OPT_REST, CO(postmortem), 0, "<Dump_Folder> <PID> <Event> <JIT_DEBUG_INFO>", "AeDebug entry point written by -i (hidden).", OF_HIDDEN, SYN_NONE, U },
	{ L"svcuser", OPT_STR, CO(svc_user), 0, "<Account>", "With -svc install: the account the service runs as, one that needs no password (NT AUTHORITY\\LocalService, NT AUTHORITY\\NetworkService, NT SERVICE\\Name, a gMSA DOMAIN\\Name$); default LocalSystem.", 0, SYN_NONE, U },
	{ L"svc", OPT_SVC, CO(svc), 0, "install|uninstall <Name> | list", "Install the monitor given with it as a Windows service procdump.c-Name (elevated), uninstall it, or list them.", 0, SYN_NONE, U },
	{ L"cancel", OPT_INT, CO(cancel), 0, "<PID>", "Gracefully stop every procdump monitoring PID (as Ctrl+C).", 0, SYN_NONE, PD_UNSET, 1, 4294967295 },
	{ L"freezeguard", OPT_INT, CO(freezeguard), 0, "<PID>", "Guard of a suspension procdump started itself (hidden).", OF_HIDDEN, SYN_NONE, PD_UNSET, 1, 4294967295 },
	{ L"exitguard", OPT_INT, CO(exitguard), 0, "<PID>", "Guard of the exit breakpoint of -t, started by procdump itself (hidden).", OF_HIDDEN, SYN_NONE, PD_UNSET, 1, 4294967295 },
	{ L"accepteula", OPT_FLAG, CO(accepteula), 0, NULL, "Accepted for compatibility, anywhere and any number of times; there is no EULA to accept.", OF_INSTALL | OF_ANY, SYN_LINE, U },
	{ L"?", OPT_FLAG, CO(help), 0, NULL, "Show this help; -? -e shows example command lines.", 0, SYN_NONE, U },
};
#undef U
#define NOPTS (sizeof opts / sizeof opts[0])
_Static_assert(sizeof opts / sizeof opts[0] <= PD_MAXOPTS, "pd_config.given has a slot per switch");

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

/* Was the switch whose field is at off on the command line? */
static int
args_given(const struct pd_config *cfg, size_t off)
{
	size_t i;
	for (i = 0; i < NOPTS; i++)
		if (opts[i].off == off)
			return cfg->given[i];
	return 0;
}
#define GIVEN(cfg, include) args_given(cfg, CO(include))

/* The first switch given whose row has one of flags, or NULL. */
static const struct opt *
args_first_with(const struct pd_config *cfg, int flags)
{
	size_t i;
	for (i = 0; i < NOPTS; i++)
		if (cfg->given[i] && (opts[i].flags & flags))
			return &opts[i];
	return NULL;
}

/* The first switch given that a mode does not take: not the mode's own
 * (at off), not -v, not one every form takes (OF_ANY), and without any of
 * flags.  NULL if none. */
static const struct opt *
args_stray(const struct pd_config *cfg, size_t off, int flags)
{
	size_t i;
	for (i = 0; i < NOPTS; i++)
		if (cfg->given[i] && opts[i].off != off && opts[i].off != CO(verbose) && !(opts[i].flags & (flags | OF_ANY)))
			return &opts[i];
	return NULL;
}

/* One part of the synopsis, built from the rows' syn: lines of
 * "[-a|-b <arg> [-c]] [-d]", each after lead.  install: the rows allowed
 * with -i, without their optional arguments. */
static void
args_synopsis(const char *lead, int install)
{
	char line[512] = "";
	const char *arg = NULL;     /* the open bracket's argument, written when it closes */
	size_t i, n = 0;
#define ADD(...) (n += snprintf(line + n, n < sizeof line ? sizeof line - n : 0, __VA_ARGS__))
#define CLOSE() do { if (arg) ADD(" %s", arg); if (n) ADD("]"); arg = NULL; } while (0)
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *a = o->arg && !(install && o->arg[0] == '[') ? o->arg : NULL;
		if (o->syn == SYN_NONE || (o->flags & OF_HIDDEN) || (install && !(o->flags & OF_INSTALL)))
			continue;
		if (o->syn == SYN_ALT && n) {
			ADD("|-%s", u8s(o->name));
			arg = a;
		} else if (o->syn == SYN_SUB && n) {
			if (arg)
				ADD(" %s", arg);
			arg = NULL;
			ADD(" [-%s%s%s]", u8s(o->name), a ? " " : "", a ? a : "");
		} else {
			CLOSE();
			if (o->syn == SYN_LINE && n) {
				out("%s%s\n", lead, line);
				lead = "                ";
				n = 0;
			}
			ADD("%s[-%s", n ? " " : "", u8s(o->name));
			arg = a;
		}
	}
	CLOSE();
	out("%s%s\n", lead, line);
#undef ADD
#undef CLOSE
}

static const char usage_tail[] =
"\n"
"Dump file name: PROCESSNAME_YYMMDD_HHMMSS.dmp by default. A given file name may\n"
"use the substitutions PROCESSNAME, PID, EXCEPTIONCODE, YYMMDD and HHMMSS.\n"
"\n"
"Exit codes:\n"
"   0  every requested dump was written\n"
"   1  monitoring ended before the count was reached (the target exited,\n"
"      also before it could be attached or its dump begun; Ctrl+C, -cancel,\n"
"      -duration); -u found nothing installed\n"
"   2  usage error (bad switch or value, conflicting switches, not\n"
"      implemented yet)\n"
"   3  target problem (not found, several match a name, access denied,\n"
"      another debugger, service not running); -i, -u or -svc not elevated\n"
"   4  a dump could not be written (I/O error, disk full, the -minfree floor,\n"
"      clone refused, file exists without -o, the target vanished while\n"
"      read, too much of its memory unreadable), or a -json event line could\n"
"      not be written (the file lacks it; said once on stderr)\n"
"   With -all or -pt: 0 if every process reached its count, else the first\n"
"   of 2, 4, 3, 1 that a run ended with; 1 if none was monitored (Ctrl+C or\n"
"   -duration while waiting).\n"
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
"   Write a Full dump of each w3wp.exe, running or started later, at its\n"
"   unhandled exception, for one hour:\n"
"      C:\\>procdump -ma -e -all -w -duration 3600 w3wp.exe c:\\dumps\n"
"\n"
"   Write a Mini dump of an unhandled exception in a service or in any\n"
"   process it starts:\n"
"      C:\\>procdump -e -pt MyService c:\\dumps\n"
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
	out("Capture Usage:\n");
	args_synopsis("   procdump.exe ", 0);
	out("                {\n"
	    "                    {{[-w] <Process_Name> | <Service_Name> | <PID>} [<Dump_File> | <Dump_Folder>]}\n"
	    "                |\n"
	    "                    {-x <Dump_Folder> <Image_File> [Argument, ...]}\n"
	    "                }\n\n"
	    "Install Usage:\n"
	    "   procdump.exe -i [Dump_Folder]\n");
	args_synopsis("                ", 1);
	out("\nUninstall Usage:\n   procdump.exe -u\n\n"
	    "Service Usage:\n   procdump.exe -svc install <Name> [-svcuser <Account>] [options] <Process_Name> <Dump_Folder>\n"
	    "   procdump.exe -svc uninstall <Name>\n   procdump.exe -svc list\n\n"
	    "Automated Termination:\n   procdump.exe -cancel <Target Process PID>\n"
	    "   (or set the event named ProcDump-<PID>; with -all or -pt, procdump's own\n"
	    "   PID ends the run of every process)\n\nOptions:\n");
	for (i = 0; i < NOPTS; i++) {
		char left[64];
		if (opts[i].flags & OF_HIDDEN)
			continue;
		snprintf(left, sizeof left, "-%s", u8s(opts[i].name));
		out("   %-12s%s\n", left, opts[i].help);
	}
	out("%s", usage_tail);
}

static int PD_PRINTF(1, 2)
args_fail(const char *fmt, ...)
{
	char *buf;
	va_list ap;
	va_start(ap, fmt);
	buf = vfmt(fmt, ap); /* (no fixed buffer: the reason after a long value stays whole) */
	va_end(ap);
	warn("%s (see procdump -?)", buf ? buf : fmt);
	free(buf);
	return PD_EXIT_USAGE;
}

/* The value after switch k (a switch there means it is missing). */
static const wchar_t *
args_value(int argc, wchar_t **argv, int k)
{
	return k + 1 < argc && !args_find(argv[k + 1]) ? argv[k + 1] : NULL;
}

/* -f a -f b: "a,b" (an empty list stays empty: -f "" shows, never dumps).
 * slot keeps the joined string, freed by args_free. */
static int
args_join_list(wchar_t **dst, wchar_t *v, wchar_t **slot)
{
	wchar_t *old = *dst;
	if (old && *old && *v) {
		size_t n = wcslen(old) + wcslen(v) + 2;
		wchar_t *j = malloc(n * sizeof *j);
		if (!j)
			return -1;
		swprintf(j, n, L"%ls,%ls", old, v);
		free(*slot);    /* a list joined before: old, replaced */
		*slot = v = j;
	} else if (old && *old)
		v = old;
	*dst = v;
	return 0;
}

static void
args_free(struct pd_config *cfg)
{
	free(cfg->joined[0]);
	free(cfg->joined[1]);
	free(cfg->mended[0]);
	free(cfg->mended[1]);
	free(cfg->mended[2]);
}

/* Windows' argv rules read \" as a literal quote, so "c:\my dumps\" reaches
 * procdump as c:\my dumps" and, if more follows, as c:\my dumps" -n 2.  A
 * '"' is never part of a Windows path: at the end it stood for \, inside
 * it means the arguments after it were swallowed. */
static int
args_swallowed(const wchar_t *path)
{
	const wchar_t *q = wcschr(path, L'"');
	return q && q[1];
}

/* The refusal of a swallowing path, with the two quotings that work. */
static int
args_quote_fail(const char *what, const wchar_t *path)
{
	wchar_t head[MAX_PATH];
	size_t n = (size_t)(wcschr(path, L'"') - path);
	if (n >= MAX_PATH)
		n = MAX_PATH - 1;
	memcpy(head, path, n * sizeof *head);
	head[n] = 0;
	return args_fail("%s '%s': a \\ before a closing quote makes the quote text, so the arguments after it "
	                 "were read into this one; write \"%s\" or \"%s\\\\\"", what, u8s(path), u8s(head), u8s(head));
}

/* A folder or file name as Windows can hold it: no control character, and
 * a '"' only at the end, where it is read as the \ it stood for (a mended
 * copy in *slot replaces *p; -v says so).  0 or PD_EXIT_USAGE. */
static int
args_mend_path(const struct pd_config *cfg, const char *what, wchar_t **p, wchar_t **slot)
{
	const wchar_t *c;
	if (!*p)
		return 0;
	for (c = *p; *c; c++)
		if (*c < 0x20)
			return args_fail("%s '%s': a Windows file name cannot hold a control character", what, u8s(*p));
	if (args_swallowed(*p))
		return args_quote_fail(what, *p);
	if (!wcs_endswith_i(*p, L"\""))
		return 0;
	if (!(*slot = wdup(*p))) {
		warn("out of memory");
		return PD_EXIT_USAGE;
	}
	(*slot)[wcslen(*slot) - 1] = L'\\';
	if (cfg->verbose) /* vlog would not print yet: -v takes effect once the command line is accepted */
		warn("[v] %s '%s' ends in a quote, which no Windows path holds: read as the folder '%s' "
		     "(\"folder\\\" passes folder\")", what, u8s(*p), u8s(*slot));
	*p = *slot;
	return 0;
}

/* -svc VERB [NAME]: install and uninstall take a NAME of letters, digits,
 * - _ . (at most 64), the name of the service after procdump.c-; run
 * (the service's own command line) too.  0 or PD_EXIT_USAGE. */
static int
args_take_svc(struct pd_config *cfg, int argc, wchar_t **argv, int *k)
{
	static const wchar_t *const verbs[] = { NULL, L"install", L"uninstall", L"list", L"run" };
	const wchar_t *v = *k + 1 < argc ? argv[*k + 1] : NULL, *n;
	int i;
	if (cfg->svc)
		return args_fail("-svc is given twice");
	for (i = SVC_INSTALL; v && i <= SVC_RUN; i++)
		if (!_wcsicmp(v, verbs[i]))
			cfg->svc = i;
	if (!cfg->svc)
		return args_fail("-svc needs install, uninstall or list%s%s%s", v ? " ('" : "", v ? u8s(v) : "", v ? "' is none)" : "");
	cfg->svc_at = (*k)++;
	if (cfg->svc == SVC_LIST)
		return 0;
	n = *k + 1 < argc ? argv[*k + 1] : NULL;
	if (!n || args_is_switch(n))
		return args_fail("-svc %s needs a name (letters, digits, - _ .)", u8s(verbs[cfg->svc]));
	if (!n[0] || wcslen(n) > 64 || n[wcsspn(n, L"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")])
		return args_fail("-svc %s: '%s' is not a name of 1 to 64 letters, digits, - _ .", u8s(verbs[cfg->svc]), u8s(n));
	cfg->svc_name = argv[++*k];
	return 0;
}

/* Reads the value(s) of one switch at argv[*k] into cfg, by its kind, and
 * moves *k past them.  Returns 0 or PD_EXIT_USAGE. */
static int
args_take(struct pd_config *cfg, const struct opt *o, int argc, wchar_t **argv, int *k)
{
	char *base = (char *)cfg;
	const char *nm = u8s(o->name);
	const wchar_t *v = args_value(argc, argv, *k);
	switch (o->kind) {
	case OPT_FLAG:
		*(int *)(base + o->off) = 1;
		return 0;
	case OPT_REST: /* -j: the rest is its */
		cfg->postmortem = 1;
		cfg->postmortem_args = argv + *k + 1;
		cfg->postmortem_nargs = argc - (*k + 1);
		*k = argc;
		return 0;
	case OPT_INT:
	case OPT_HEX:
	case OPT_STR:
	case OPT_LIST:
		if (!v)
			return args_fail("-%s needs a value (%s)", nm, o->arg);
		if (o->kind == OPT_INT || o->kind == OPT_HEX)
			cfg->typed[o - opts] = v; /* read once -u is known */
		else if (o->kind == OPT_STR)
			*(wchar_t **)(base + o->off) = argv[*k + 1];
		else if (o->kind == OPT_LIST) {
			if (args_join_list((wchar_t **)(base + o->off), argv[*k + 1],
			                   &cfg->joined[o->off == CO(exclude)]) < 0)
				return PD_EXIT_USAGE;
			*(int *)(base + o->off2) = 1;
		}
		++*k;
		return 0;
	case OPT_COUNTER:
		if (!v || *k + 2 >= argc)
			return args_fail("-%s needs a counter path and a threshold", nm);
		*(wchar_t **)(base + o->off) = argv[*k + 1];
		cfg->typed[o - opts] = argv[*k + 2];
		*k += 2;
		return 0;
	case OPT_E:
		cfg->on_exception = 1;
		if (*k + 1 < argc && !wcscmp(argv[*k + 1], L"1")) {
			cfg->first_chance = 1;
			++*k;
		}
		return 0;
	case OPT_R:
		/* Only a single digit is taken as the limit, so `-r 1234`
		 * still means PID 1234 (Windows PIDs below 10 are System). */
		cfg->clone = 1;
		cfg->clone_limit = 1;
		if (*k + 1 < argc && all_digits(argv[*k + 1]) && wcslen(argv[*k + 1]) == 1) {
			cfg->clone_limit = argv[++*k][0] - L'0';
			if (cfg->clone_limit < 1 || cfg->clone_limit > 5)
				return args_fail("-r: the concurrent limit must be 1 to 5, not %d", cfg->clone_limit);
		}
		return 0;
	case OPT_DIGIT:
		/* As -r: one digit only (`-h 1234` means PID 1234). */
		*(int *)(base + o->off) = 1;
		*(long long *)(base + o->off2) = o->dflt;
		if (*k + 1 < argc && all_digits(argv[*k + 1]) && wcslen(argv[*k + 1]) == 1) {
			long long d = argv[++*k][0] - L'0';
			if (d < o->lo || d > o->hi)
				return args_fail("-%s: %lld is not from %lld to %lld", nm, d, o->lo, o->hi);
			*(long long *)(base + o->off2) = d;
		}
		return 0;
	case OPT_I:
		cfg->install = 1;
		if (*k + 1 < argc && !args_is_switch(argv[*k + 1]))
			cfg->install_folder = argv[++*k];
		return 0;
	case OPT_SVC:
		return args_take_svc(cfg, argc, argv, k);
	case OPT_X:
		if (*k + 1 < argc && args_swallowed(argv[*k + 1]))
			return args_quote_fail("-x: dump folder", argv[*k + 1]);
		if (*k + 2 >= argc)
			return args_fail("-x needs a dump folder and an image file");
		cfg->launch = 1;
		cfg->launch_folder = argv[*k + 1];
		cfg->launch_image = argv[*k + 2];
		cfg->launch_args = argv + *k + 3;
		cfg->launch_nargs = argc - (*k + 3);
		*k = argc;
		return 0;
	}
	return 0;
}

/* Parses argv into cfg; returns 0 or PD_EXIT_USAGE after a one-line error. */
static int
args_parse(struct pd_config *cfg, int argc, wchar_t **argv)
{
	int k, npos = 0, rc;
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < NOPTS; i++)   /* "not given", so that any value typed is range-checked */
		if (opts[i].kind == OPT_INT)
			*(long long *)((char *)cfg + opts[i].off) = PD_UNSET;
	for (k = 1; k < argc; k++) {
		wchar_t *a = argv[k];
		const struct opt *o;
		if (!args_is_switch(a)) {
			if (npos == 0)
				cfg->target = a;
			else if (npos == 1)
				cfg->output = a;
			else
				return args_fail("unexpected argument '%s': the target and the dump file are already given",
				                 u8s(a));
			npos++;
			continue;
		}
		o = args_find(a);
		if (!o)
			return args_fail("unknown switch '%s'", u8s(a));
		if (cfg->given[o - opts] && o->kind != OPT_LIST && !(o->flags & OF_ANY))
			return args_fail("-%s is given twice", u8s(o->name));
		cfg->given[o - opts] = 1;
		if ((rc = args_take(cfg, o, argc, argv, &k)))
			return rc;
		if (o->flags & OF_TYPE)
			cfg->types[cfg->ntypes++] = (int)o->off2;
	}
	cfg->debug = args_first_with(cfg, OF_DEBUG) != NULL;
	cfg->monitor = args_first_with(cfg, OF_MONITOR) != NULL;
	return 0;
}

/* A threshold list (-c 50,70,90) of row o as typed: each value read as the
 * row's one number would be (lo to hi), at most PD_MAXSTEPS of them, none
 * empty, increasing (decreasing for a "below" row, OF_BELOW) so that each
 * fires once in order.  Fills the row's struct pd_steps and its field (the
 * first value).  0, or PD_EXIT_USAGE after a one-line error naming the switch. */
static int
args_check_steps(struct pd_config *cfg, const struct opt *o, u64 hi, const char *unit)
{
	struct pd_steps *st = (struct pd_steps *)((char *)cfg + o->off2);
	const wchar_t *s = cfg->typed[o - opts], *e;
	const char *nm = u8s(o->name);
	st->n = 0;
	for (;; s = e + 1) {
		wchar_t one[24];
		size_t len;
		u64 v;
		e = wcschr(s, L',');
		len = e ? (size_t)(e - s) : wcslen(s);
		if (!len)
			return args_fail("-%s: '%s' has an empty value", nm, u8s(cfg->typed[o - opts]));
		if (st->n == PD_MAXSTEPS)
			return args_fail("-%s: '%s' has more than %d values", nm, u8s(cfg->typed[o - opts]),
			                 PD_MAXSTEPS);
		swprintf(one, 24, L"%.*ls", (int)(len < 23 ? len : 23), s);
		if (len > 22 || parse_num(one, 0, hi, &v) < 0 || v < (u64)o->lo)
			return args_fail("-%s: '%s' is not a whole number from %lld to %llu%s", nm, u8s(one), o->lo,
			                 hi, unit);
		if (st->n && ((o->flags & OF_BELOW) ? (long long)v >= st->v[st->n - 1]
		                                      : (long long)v <= st->v[st->n - 1]))
			return args_fail("-%s: '%s': the values must %s (%lld after %lld)", nm,
			                 u8s(cfg->typed[o - opts]), (o->flags & OF_BELOW) ? "decrease" : "increase",
			                 (long long)v, st->v[st->n - 1]);
		st->v[st->n++] = (long long)v;
		if (!e)
			break;
	}
	*(long long *)((char *)cfg + o->off) = st->v[0];
	return 0;
}

/* Every number given, read by its row of opts[] (parse_num), from lo to
 * hi; a percentage with -u is per core, up to hi times the cores.  One
 * rule and one message for every numeric switch.  0 or PD_EXIT_USAGE. */
static int
args_check_numbers(struct pd_config *cfg)
{
	char *base = (char *)cfg;
	size_t i;
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *unit = "";
		u64 v, hi = o->hi ? (u64)o->hi : (u64)LLONG_MAX; /* a row without a range: 0 up */
		if (!cfg->given[i] || !cfg->typed[i])
			continue;
		if ((o->flags & OF_PERCORE) && cfg->per_core) {
			hi *= (u64)w32_cpu_count();
			unit = " (percent of one core, -u)";
		}
		if (o->flags & OF_STEPS) {
			if (args_check_steps(cfg, o, hi, unit))
				return PD_EXIT_USAGE;
			continue;
		}
		if (parse_num(cfg->typed[i], o->kind == OPT_HEX, hi, &v) < 0 || v < (u64)o->lo) {
			if (o->kind == OPT_HEX)
				return args_fail("-%s: '%s' is not a hexadecimal mask from 0 to 0x%llx", u8s(o->name),
				                 u8s(cfg->typed[i]), hi);
			return args_fail("-%s: %s'%s' is not a whole number from %lld to %llu%s", u8s(o->name),
			                 o->kind == OPT_COUNTER ? "threshold " : "", u8s(cfg->typed[i]), o->lo, hi, unit);
		}
		if (o->kind == OPT_HEX)
			*(u64 *)(base + o->off) = v;
		else
			*(long long *)(base + (o->kind == OPT_COUNTER ? o->off2 : o->off)) = (long long)v;
	}
	return 0;
}

/* Switches that exclude each other, then an empty -p or -pl counter path.
 * 0 or PD_EXIT_USAGE. */
static int
args_check_values(const struct pd_config *cfg)
{
	if (GIVEN(cfg, cpu_above) && GIVEN(cfg, cpu_below))
		return args_fail("-c and -cl cannot be used together");
	if (GIVEN(cfg, commit_above) && GIVEN(cfg, commit_below))
		return args_fail("-m and -ml cannot be used together");
	if (cfg->counter_above && cfg->counter_below)
		return args_fail("-p and -pl cannot be used together");
	if ((cfg->counter_above && !cfg->counter_above[0]) || (cfg->counter_below && !cfg->counter_below[0]))
		return args_fail("%s: the counter path is empty", cfg->counter_above ? "-p" : "-pl");
	return 0;
}

/* Switches that need another, or cannot be used with it.  0 or
 * PD_EXIT_USAGE. */
static int
args_check_needs(const struct pd_config *cfg)
{
	const struct opt *o;
	if (cfg->avoid_outage && !cfg->clone)
		return args_fail("-a needs -r");
	if (GIVEN(cfg, ondump_secs) && !cfg->ondump)
		return args_fail("-ondumpat needs -ondump");
	if (cfg->ondump && !cfg->ondump[wcsspn(cfg->ondump, L" \t")])
		return args_fail("-ondump: the command line is empty");
	if (cfg->kernel_dump && cfg->clone)
		return args_fail("-mk cannot be used with -r (the OS cannot write a kernel dump of a clone)");
	if (cfg->clone && cfg->dbghelp)
		return args_fail("-dbghelp cannot be used with -r (dbghelp reads the live process, not a clone)");
	if ((cfg->include_set || cfg->exclude_set) && !cfg->on_exception && !cfg->debug_log)
		return args_fail("%s needs -e or -l", cfg->include_set ? "-f" : "-fx");
	if (!cfg->on_exception && (o = args_first_with(cfg, OF_NEEDS_E)))
		return args_fail("-%s needs -e", u8s(o->name));
	if (!PD_WIN64 && cfg->native_view)
		return args_fail("-64 needs procdump64.exe (this is the 32-bit procdump.exe)");
	return 0;
}

/* The mode (cancel, uninstall, install, launch, capture, -svc's verbs and
 * -svcuser, -j and the guards) and what each takes.  0 or PD_EXIT_USAGE. */
static int
args_check_mode(struct pd_config *cfg)
{
	const struct opt *o;
	size_t i;
	if (cfg->svc == SVC_LIST || cfg->svc == SVC_UNINSTALL) {
		if ((o = args_stray(cfg, CO(svc), 0)) || cfg->target)
			return args_fail("-svc %s takes no other switch or target ('%s')", cfg->svc == SVC_LIST ? "list" : "uninstall",
			                 o ? u8s(o->name) : u8s(cfg->target));
		return 0;
	}
	if (cfg->svc) { /* install, run: a monitor of a process by name, into a folder */
		if (cfg->install || cfg->postmortem || cfg->launch || GIVEN(cfg, cancel) || cfg->help)
			return args_fail("-svc install takes a monitor (switches, a process name and a dump folder), "
			                 "not -%s", cfg->install ? "i" : cfg->postmortem ? "j" : cfg->launch ? "x" : cfg->help ? "?" : "cancel");
		if (!cfg->target || !cfg->output)
			return args_fail("-svc install needs a process name and a dump folder (where the dumps and the "
			                 "service's log go)");
		if (all_digits(cfg->target))
			return args_fail("-svc install monitors a process by name, not a PID (%s): a PID does not outlive a reboot",
			                 u8s(cfg->target));
	}
	if (cfg->svc_user && (cfg->svc != SVC_INSTALL || !cfg->svc_user[0]))
		return args_fail(cfg->svc_user[0] ? "-svcuser goes with -svc install (the account the service runs as)"
		                                  : "-svcuser needs an account name");
	for (i = 0; i < NOPTS; i++) {
		o = &opts[i];
		if (!cfg->given[i] || (o->off != CO(cancel) && o->off != CO(freezeguard) && o->off != CO(exitguard)))
			continue;
		if (args_stray(cfg, o->off, 0) || cfg->target)
			return args_fail("-%s takes only a PID and no other switch or target", u8s(o->name));
		return 0;
	}
	if (cfg->per_core && !GIVEN(cfg, cpu_above) && !GIVEN(cfg, cpu_below)) {
		if (cfg->target || cfg->ntypes || cfg->install || cfg->launch || GIVEN(cfg, count))
			return args_fail("-u needs -c or -cl (or stands alone to uninstall)");
		if ((o = args_stray(cfg, CO(per_core), 0))) /* alone: -accepteula and -v at most */
			return args_fail("-%s cannot be used with -u (uninstall)", u8s(o->name));
		cfg->uninstall = 1;
		return 0;
	}
	if (cfg->install) {
		if ((o = args_stray(cfg, CO(install), OF_INSTALL)))
			return args_fail("-%s cannot be used with -i", u8s(o->name));
		if (cfg->target)
			return args_fail("-i takes a dump folder, not a target ('%s')", u8s(cfg->target));
		return 0;
	}
	if (cfg->postmortem) {
		if ((o = args_stray(cfg, CO(postmortem), OF_INSTALL)))
			return args_fail("-%s cannot be used with -j", u8s(o->name));
		return 0;
	}
	if (cfg->launch) {
		if (cfg->wait || cfg->all || cfg->children)
			return args_fail("-%s cannot be used with -x", cfg->wait ? "w" : cfg->all ? "all" : "pt");
		if (cfg->target)
			return args_fail("-x launches its own target; '%s' is extra", u8s(cfg->target));
		return 0;
	}
	if (!cfg->target)
		return args_fail("no target: give a PID, a process name or a service name");
	if (cfg->wait && all_digits(cfg->target))
		return args_fail("-w waits for a process name, not a PID (%s)", u8s(cfg->target));
	if (cfg->all && all_digits(cfg->target))
		return args_fail("-all monitors every process of a name, not a PID (%s)", u8s(cfg->target));
	if (cfg->target[0] == 0)
		return args_fail("the target is empty");
	if (cfg->output && !cfg->output[0]) /* ("" would be the hidden file .dmp in the current folder) */
		return args_fail("the dump file name is empty: name a file or a folder, or give none");
	return 0;
}

/* Threshold lists: once one has several values, each monitor fires once
 * per value and stops, so -n is their total and may not be given.  After
 * the defaults.  0 or PD_EXIT_USAGE. */
static int
args_check_lists(struct pd_config *cfg)
{
	const struct opt *list = NULL;
	long long total = 0;
	size_t i;
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		int n = 1;
		if (!cfg->given[i] || !(o->flags & OF_MONITOR))
			continue;
		if (o->flags & OF_STEPS)
			n = ((const struct pd_steps *)((const char *)cfg + o->off2))->n;
		if (n > 1 && !list)
			list = o;
		total += n;
	}
	if (!list)
		return 0;
	if (GIVEN(cfg, count))
		return args_fail("-n cannot be used with a threshold list: -%s %s writes one dump per value",
		                 u8s(list->name), u8s(cfg->typed[list - opts]));
	cfg->lists = 1;
	cfg->count = total;
	return 0;
}

/* Cross-option rules, then the defaults (-n 1, -s 10, a Mini dump) of what
 * was not given.  Returns 0 or PD_EXIT_USAGE after a one-line error. */
static int
args_validate(struct pd_config *cfg)
{
	size_t i;
	int rc;
	if (cfg->help)
		return 0;
	if ((rc = args_check_numbers(cfg)) || (rc = args_check_values(cfg)) ||
	    (rc = args_check_needs(cfg)) || (rc = args_check_mode(cfg)) ||
	    (rc = args_mend_path(cfg, "dump folder/file", &cfg->output, &cfg->mended[0])) ||
	    (rc = args_mend_path(cfg, "-x: dump folder", &cfg->launch_folder, &cfg->mended[1])) ||
	    (rc = args_mend_path(cfg, "-i: dump folder", &cfg->install_folder, &cfg->mended[2])))
		return rc;
	for (i = 0; i < NOPTS; i++)
		if (opts[i].kind == OPT_INT && !cfg->given[i] && opts[i].dflt != PD_UNSET)
			*(long long *)((char *)cfg + opts[i].off) = opts[i].dflt;
	if ((rc = args_check_lists(cfg)))
		return rc;
	if (cfg->activation) { /* -y (hidden): a Store activation is parsed, not built */
		warn("-y is not implemented yet in procdump.c " PD_VERSION);
		return PD_EXIT_USAGE;
	}
	if (!cfg->ntypes)
		cfg->types[cfg->ntypes++] = PD_MINI;
	return 0;
}

/* ================================ Targets =============================== */
/* Owns struct pd_target: a PID, a process name (-all: with * wildcards) or
 * a service name to an open process, known by PID and creation time.
 * Prints errors, and -k's kill line (tgt_kill); never holds the target
 * still or reads its memory. */

struct pd_target {
	DWORD pid;
	u64 create_time;        /* with the PID, identifies the process */
	wchar_t name[MAX_PATH]; /* image name, e.g. app.exe */
	HANDLE h;
	int wow64;
	int exit_said;          /* its target_exit event was written (Events) */
};

static const DWORD TGT_ACCESS = PROCESS_QUERY_INFORMATION | PROCESS_VM_READ |
	PROCESS_DUP_HANDLE | 0x0800 /* PROCESS_SUSPEND_RESUME */ | SYNCHRONIZE;

static int
tgt_open(struct pd_target *t, int kill)
{
	t->h = w32_open_process(t->pid, TGT_ACCESS | (kill ? PROCESS_TERMINATE : 0));
	if (!t->h)
		return PD_EXIT_TARGET;
	t->wow64 = w32_is_wow64(t->h);
	if (!PD_WIN64 && w32_is_wow64(GetCurrentProcess()) && !t->wow64) {
		warn("process %lu is 64-bit: use procdump64.exe", t->pid);
		return PD_EXIT_TARGET;
	}
	return 0;
}

static void
tgt_close(struct pd_target *t)
{
	if (t->h)
		CloseHandle(t->h);
	t->h = NULL;
}

/* The image name of a process-list entry, into img (MAX_PATH wide
 * characters).  0, or -1 for an entry without one (the idle process). */
static int
tgt_image(const struct pd_sys_process *p, wchar_t *img)
{
	size_t len = p->ImageName.Length / 2;
	if (!p->ImageName.Buffer || len >= MAX_PATH)
		return -1;
	memcpy(img, p->ImageName.Buffer, len * 2);
	img[len] = 0;
	return 0;
}

static void
tgt_fill(struct pd_target *t, struct pd_sys_process *p)
{
	if (tgt_image(p, t->name) < 0) /* (a file name is at most 255 characters) */
		t->name[0] = 0;
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

/* Has the listed process started: is its creation time set?  Wine lists a
 * process being created with 0x5555555555555555 for a moment (doc/WINE.md
 * fact 5); keyed by it, it would be taken twice. */
static int
tgt_listed_started(const struct pd_sys_process *p)
{
	u64 t = (u64)p->CreateTime.QuadPart;
	return t && t != 0x5555555555555555ULL; /* (a time window would drop processes when the clock goes back) */
}

/* The process of the service called name: 0, PD_EXIT_TARGET after a line
 * when it is not running (quiet: -1, for -w to wait for it to start), or -1
 * when there is no such service (or its process is not in list yet). */
static int
tgt_from_service(struct pd_target *t, const wchar_t *name, struct pd_sys_process *list, int quiet)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS_PROCESS ss;
	DWORD need;
	struct pd_sys_process *p;
	int rc = -1;

	scm = w32_scm_open(SC_MANAGER_CONNECT);
	if (!scm)
		return -1;
	svc = OpenServiceW(scm, name, SERVICE_QUERY_STATUS);
	if (svc) {
		if (QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&ss, sizeof ss, &need)) {
			if (!ss.dwProcessId) {
				if (!quiet)
					warn("service '%s' is not running", u8s(name));
				rc = quiet ? -1 : PD_EXIT_TARGET;
			} else if ((p = w32_process_find(list, ss.dwProcessId)) && tgt_listed_started(p)) {
				tgt_fill(t, p);
				rc = 0;
			}
		}
		CloseServiceHandle(svc);
	}
	CloseServiceHandle(scm);
	return rc;
}

/* Resolves spec: a PID, else a process name, else a service name; 0 or
 * PD_EXIT_TARGET after an error line.  With quiet_missing, "not found"
 * (and a service that is not running) returns -1 silently, so that -w
 * waits for a process or a service alike. */
static int
tgt_resolve(struct pd_target *t, const wchar_t *spec, int quiet_missing)
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
		u64 v = 0; /* a PID is 32 bits: a longer number is no PID */
		p = !parse_num(spec, 0, 0xFFFFFFFF, &v) && v ? w32_process_find(list, (DWORD)v) : NULL;
		if (!p) {
			warn("no process with PID %s", u8s(spec));
		} else if ((DWORD)v == self) {
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
		if (tgt_image(p, img) < 0 || (DWORD)(ULONG_PTR)p->UniqueProcessId == self ||
		    !tgt_listed_started(p)) /* (-w: taken at its next look) */
			continue;
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
		warn("Multiple processes match the specified name '%s' (PIDs %s%s); give a PID",
		     u8s(spec), lst, n > 64 ? ", ..." : "");
	} else {
		int s = tgt_from_service(t, spec, list, quiet_missing);
		if (s == 0)
			rc = 0;
		else if (quiet_missing)
			rc = -1;
		else if (s < 0)
			warn("no process or service named '%s'", u8s(spec));
	}
	free(list);
	return rc;
}

/* -all: does image fit the name, which may hold * wildcards?  As without
 * -all, "app" also fits "app.exe"; case does not matter. */
static int
tgt_name_fits(const wchar_t *image, const wchar_t *want)
{
	wchar_t exe[MAX_PATH + 8];
	if (!wcschr(want, L'*'))
		return tgt_name_matches(image, want);
	if (wcs_glob(want, image))
		return 1;
	return wcslen(want) < MAX_PATH && swprintf(exe, MAX_PATH + 8, L"%ls.exe", want) > 0 && wcs_glob(exe, image);
}

/* Opens a process found in a list (pid and create_time filled) and checks
 * that it is still that process (its PID may have been reused; the handle
 * now pins it).  0, PD_EXIT_TARGET after a message, or -1 (silently) when
 * it has ended. */
static int
tgt_open_listed(struct pd_target *t, int kill)
{
	u64 was = t->create_time;
	int rc;
	if (w32_process_create_time(t->pid) != was)
		return -1;
	rc = tgt_open(t, kill); /* (a process that ends this instant is named in a line) */
	if (w32_process_create_time(t->pid) != was || (t->h && WaitForSingleObject(t->h, 0) != WAIT_TIMEOUT))
		return -1;
	return rc;
}

/* Is the process identified by pid and creation time still alive? */
static int
tgt_alive(const struct pd_target *t)
{
	return WaitForSingleObject(t->h, 0) == WAIT_TIMEOUT;
}

/* -k: ends the target with exit code 1 and says so. */
static void
tgt_kill(const struct pd_target *t)
{
	if (TerminateProcess(t->h, 1))
		out("%s Killed process %lu (-k).\n", stamp(), t->pid);
	else
		warn("TerminateProcess %lu:", t->pid);
}

/* =============================== Snapshot =============================== */
/* How a target is held and read.  struct snap is everything the writer
 * knows of the target; struct snap_ops says how a snapshot is taken and
 * read, and its implementations follow, each beside its table: the live
 * process (Snapshot: Live, live_ops), the PSS snapshot (Snapshot: PSS,
 * pss_ops) and the in-memory clone of -r (Snapshot: Clone, clone_ops).
 * The request a dump is taken for (struct pd_dump_req) and its result
 * (struct pd_dump_result) are declared here.  Nothing here lays out or
 * writes a dump file. */

/* What caused a dump (filled by a trigger, read by the writer). */
struct pd_event {
	int has_exception;         /* rec and ctx hold an exception */
	int at_exit;               /* the process is exiting (-t) */
	DWORD tid;                 /* faulting thread */
	EXCEPTION_RECORD rec;
	CONTEXT ctx;
	DWORD exception_code;      /* for EXCEPTIONCODE in file names */
};

struct pd_dump_req {
	int type;                  /* enum pd_type */
	u64 mask;                  /* PD_CUSTOM: the MINIDUMP_TYPE bits asked for */
	const wchar_t *path;       /* final file name */
	const wchar_t *comment;    /* -dc, may be NULL */
	int overwrite;
	const struct pd_event *ev; /* may be NULL */
	volatile LONG *cancel;     /* set by Ctrl+C; may be NULL */
	HANDLE cancel_event;       /* ProcDump-<PID>, set by -cancel or any program; may be NULL */
	double deadline;           /* -at: now_sec() limit for the collection; 0 = none */
	int dbghelp;               /* -dbghelp: the system's MiniDumpWriteDump */
	int native_view;           /* -64: a WOW64 target's 64-bit view, not its x86 one */
	long long minfree_mb;      /* -minfree: MB that must stay free; PD_UNSET = default, 0 = no guard */
	int inherit_acl;           /* -inheritacl: no protected DACL of our own */
	int held;                  /* the target is stopped at a debug event of ours (Debugger): no freeze needed */
	int clone;                 /* -r: freeze, copy into memory, release, write from the copy */
	void (*on_clone)(void *ctx); /* -r: the copy is taken and the target runs on */
	MINIDUMP_CALLBACK_ROUTINE callback; /* -md: the DLL's MiniDumpCallbackRoutine */
	void *callback_param;
	int num;                   /* Dump N: the writer says its estimated size (0: silent) */
	/* the memory blob: after each chunk, bytes of the file written, its size
	 * and the seconds since its writing began (may be NULL) */
	void (*on_progress)(void *ctx, u64 done, u64 total, double secs);
	void *ctx;
};

/* What the writer says of a dump (the request stays as the caller made it). */
struct pd_dump_result {
	u64 bytes;
	double seconds;
	double outage;             /* seconds the target was held frozen for this dump (-r: the copy) */
	int timed_out;             /* -at: the deadline passed */
	int no_space;              /* refused or stopped at the free-space floor (-minfree) */
	int no_memory;             /* -r: the clone would not fit in memory */
	int released;              /* -r: the copy is taken: -at's deadline no longer applies */
	double event_checked;      /* when the writer last looked at the request's cancel_event */
};

/* A thread as captured, and where its stack goes in the dump. */
struct dthread {
	DWORD tid;
	HANDLE h;
	int suspended;           /* we hold one suspension */
	DWORD prev_suspend;      /* suspend count before us */
	int ctx_ok;
	CONTEXT *ctx;            /* a CONTEXT, or in the x86 view a WOW64_CONTEXT in its first bytes */
	u8 *xctx; u32 xlen;      /* WithAvxXStateContext: CONTEXT, CONTEXT_EX, XSAVE */
	u64 teb, stack_base, stack_limit, sp, ip;
	u64 stk_lo, stk_hi;      /* the stack to capture (dump_stack_bounds) */
	int alt_stack;           /* SP lies outside the TEB's stack (Go, fibers) */
	int prio;
	u64 stk_start, stk_size; /* the captured part, from the final ranges */
	int stk_copied;          /* Memory64: copied into the metadata (it would end past 4 GiB) */
	struct md_threadinfo info; /* ThreadInfoList entry */
	ULONG write_flags;       /* THREAD_WRITE_FLAGS left by a -md callback */
	wchar_t *name;           /* GetThreadDescription, or NULL */
};

struct dmodule {
	u64 base;
	u32 size, checksum, timestamp;
	wchar_t *name;
	u8 *cv;  u32 cv_len;
	u8 *misc; u32 misc_len;
	VS_FIXEDFILEINFO ver;
	struct { u32 rva, size; } wsec[16]; /* writable sections (DataSegs) */
	int nwsec;
	struct { u32 rva, size; } csec[16]; /* code sections (CodeSegs) */
	int ncsec;
	u32 header_size;                    /* SizeOfHeaders (ModuleHeaders) */
	ULONG write_flags;                  /* MODULE_WRITE_FLAGS left by a -md callback */
};

struct dregion {
	u64 base, alloc_base, size;
	u32 alloc_protect, state, protect, type;
};

struct range { u64 start, size; };

static int
snap_range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sorts r[0..n) and merges overlapping and touching ranges (no reader of
 * a dump accepts overlaps, and a read that straddles two descriptors gets
 * truncated); a merge grows to max_size at most (a range inside another
 * always merges): past it, the next range starts where this one ends.
 * Returns the new count. */
static int
snap_range_merge(struct range *r, int n, u64 max_size)
{
	int i, o = 0;
	if (!n)
		return 0;
	qsort(r, (size_t)n, sizeof *r, snap_range_cmp);
	for (i = 1; i < n; i++) {
		u64 cend = r[o].start + r[o].size, nend = r[i].start + r[i].size;
		if (r[i].start <= cend && (nend <= cend || nend - r[o].start <= max_size)) {
			if (nend > cend)
				r[o].size = nend - r[o].start;
		} else {
			r[++o] = r[i];
			if (r[o].start < cend) { /* overlapping, too long to merge: the rest only */
				r[o].start = cend;
				r[o].size = nend - cend;
			}
		}
	}
	return o + 1;
}

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

/* The snapshot: everything the writer knows of the target, and the one
 * way it reads the target's memory.  Filled through a struct snap_ops
 * (Snapshot), but for the modules and unloaded modules, which Writer:
 * Collect reads through it; the rest of the writer reads only this. */
struct snap_ops;
struct snap {
	const struct snap_ops *ops;
	void *impl;                /* the implementation's own state */
	DWORD pid;
	HANDLE process_handle;     /* the process, where there is one (-md callbacks get it) */
	int at_exit;               /* stopped at EXIT_PROCESS: no threads left */
	u64 fault_lo, fault_hi;    /* test hook: reads of [lo, hi) fail (live_open) */
	/* The view: native, or (procdump64, WOW64 target, no -64) x86: 32-bit
	 * contexts, TEBs, PEB and modules, the address space below 4 GiB. */
	int x86;
	int wow_native;            /* the -64 view of a WOW64 process */
	u32 ps;                    /* the view's pointer size */
	u64 peb;                   /* the view's PEB */
	u64 create_time, user_time, kernel_time;
	u32 prio_class;
	struct pd_vm_counters vm; int have_vm;
	u32 integrity; int have_integrity;
	struct dthread *th; int nth, cap_th;
	int nth_all;               /* threads held; the first nth of them are written */
	struct dregion *reg; int nreg, cap_reg;
	struct dmodule *mod; int nmod;
	struct dunloaded *unl; int nunl; int have_unl;
	struct dhandle *hdl; int nhdl; int have_hdl;
	struct buf tok; u32 ntok; int have_tok; /* Token stream records */
	u8 *pre; u64 pre_size;     /* -r: memory made ready for the clone before the freeze (clone_prepare) */
	double frozen_at, thawed_at; /* now_sec() of the freeze and of the thaw (0: not yet): the outage */
};

/* Ctrl+C, the named event, or (-at) the collection's deadline passed.
 * The event is a system call: looked at every 20 ms at most. */
static int
snap_cancelled(const struct pd_dump_req *r, struct pd_dump_result *res)
{
	double now = now_sec();
	if (r->deadline > 0 && !res->released && now > r->deadline) {
		res->timed_out = 1;
		return 1;
	}
	if (r->cancel && *r->cancel)
		return 1;
	if (r->cancel_event && now - res->event_checked >= 0.02) {
		res->event_checked = now;
		return WaitForSingleObject(r->cancel_event, 0) == WAIT_OBJECT_0;
	}
	return 0;
}

struct snap_ops {
	int (*freeze)(struct snap *);       /* stop the target changing: s->th; 0 or -1 (NULL: held already) */
	void (*thaw)(struct snap *);        /* undo freeze, on every path */
	u64 (*read)(struct snap *, u64 addr, void *buf, size_t n); /* bytes not read (zero-filled) */
	int (*regions)(struct snap *);      /* the memory map, s->reg; 0 or -1 */
	void (*threads)(struct snap *, int xstate); /* contexts, TEBs, times, names */
	void (*process)(struct snap *);     /* priority class, VM counters, integrity */
	void (*handles)(struct snap *, int names);
	void (*tokens)(struct snap *);
	int (*gone)(struct snap *);         /* the source vanished while it was read */
};

/* Reads all of [addr, addr+n); 0, or -1 if any byte could not be read. */
static int
snap_read(struct snap *s, u64 addr, void *buf, size_t n)
{
	if (!n)
		return 0;
	if (addr + n < addr)
		return -1;
	return s->ops->read(s, addr, buf, n) ? -1 : 0;
}

/* Reads [addr, addr+n), zeros where it cannot; returns how many bytes are zeros. */
static u64
snap_read_fill(struct snap *s, u64 addr, void *buf, size_t n)
{
	return n ? s->ops->read(s, addr, buf, n) : 0;
}

/* A pointer of the view's size in target memory; *ok = 0 if unreadable. */
static u64
snap_ptr(struct snap *s, u64 addr, int *ok)
{
	u64 v = 0; /* little-endian: the low bytes take a 4-byte pointer */
	if (snap_read(s, addr, &v, s->ps) < 0)
		*ok = 0;
	return v;
}

static int
snap_readable(const struct dregion *r)
{
	return r->state == MEM_COMMIT && r->protect &&
	       !(r->protect & (PAGE_NOACCESS | PAGE_GUARD));
}

/* Adds a region to the memory map of snapshot s (a w32_region_walk
 * callback; pss_region passes a PSS entry's fields).  0, or -1: no memory. */
static int
snap_region_add(const MEMORY_BASIC_INFORMATION *m, void *snapshot)
{
	struct snap *s = snapshot;
	struct dregion *r;
	if (vec_grow(&s->reg, &s->cap_reg, s->nreg, sizeof *s->reg, 512) < 0)
		return -1;
	r = &s->reg[s->nreg++];
	r->base = (u64)(ULONG_PTR)m->BaseAddress;
	r->alloc_base = (u64)(ULONG_PTR)m->AllocationBase;
	r->size = m->RegionSize;
	r->alloc_protect = m->AllocationProtect;
	r->state = m->State;
	r->protect = m->Protect;
	r->type = m->Type;
	return 0;
}

/* The index of the region holding addr, or of the first one after it. */
static int
snap_region_index(const struct snap *s, u64 addr)
{
	return span_index(s->reg, s->nreg, sizeof *s->reg, offsetof(struct dregion, base), offsetof(struct dregion, size),
	                  addr);
}

static const struct dregion *
snap_region_of(const struct snap *s, u64 addr)
{
	int i = snap_region_index(s, addr);
	return i < s->nreg && s->reg[i].base <= addr ? &s->reg[i] : NULL;
}

/* The 32-bit TEB of a WOW64 thread, from its 64-bit one: TEB64.WowTebOffset
 * (Windows 10+, Wine), else the fixed two pages of earlier WOW64 */
static u64
snap_teb32(struct snap *s, u64 teb64)
{
	LONG off = 0;
	if (snap_read(s, teb64 + 0x180C, &off, 4) < 0 || off <= 0 || off > 0x10000)
		off = 0x2000;
	return teb64 + (u64)off;
}

/* A zeroed context that still names the CPU (ContextFlags), for a thread
 * whose context could not be read: readers expect one per thread. */
static void
snap_context_cpu(const struct snap *s, u8 *ctx)
{
	DWORD cpu = s->x86 ? WOW64_CONTEXT_i386 : PD_CONTEXT_CPU;
	memcpy(ctx + (s->x86 ? offsetof(WOW64_CONTEXT, ContextFlags) : offsetof(CONTEXT, ContextFlags)), &cpu, 4);
}

static u32
snap_context_size(const struct snap *s)
{
	return s->x86 ? (u32)sizeof(WOW64_CONTEXT) : (u32)sizeof(CONTEXT);
}

static void
snap_free_tokens(struct snap *s)
{
	free(s->tok.p);
	memset(&s->tok, 0, sizeof s->tok);
	s->ntok = 0;
}

/* Frees what a snapshot holds (after thaw). */
static void
snap_free(struct snap *s)
{
	int i;
	for (i = 0; i < s->nth_all; i++) {
		_aligned_free(s->th[i].ctx);
		free(s->th[i].xctx);
		free(s->th[i].name);
	}
	for (i = 0; i < s->nmod; i++) {
		free(s->mod[i].name);
		free(s->mod[i].cv);
		free(s->mod[i].misc);
	}
	for (i = 0; i < s->nhdl; i++) {
		free(s->hdl[i].type);
		free(s->hdl[i].name);
	}
	free(s->th);
	free(s->mod);
	free(s->unl);
	free(s->hdl);
	free(s->tok.p);
	free(s->reg);
	if (s->pre) /* (-r: made ready, not taken by a clone) */
		VirtualFree(s->pre, 0, MEM_RELEASE);
	memset(s, 0, sizeof *s);
}

/* ============================ Snapshot: Live ============================ */
/* The live process, read while it is held still (enum live_hold) in a way
 * that ends with procdump: freeze and thaw, memory, the memory map, thread
 * contexts and TEBs, handles, tokens and the process facts, gathered in
 * the table live_ops that live_open() installs.  Reads through Win32; the
 * one layout it makes is the token records (s->tok, the Token stream's
 * bytes, since only a live process has a token to read). */

/* The test hook PROCDUMP_TEST_UNREADABLE (live_test_fault): a read of a
 * snapshot that lost nothing loses the hook's bytes.  Returns the bytes
 * lost. */
static u64
live_fault(const struct snap *s, u64 addr, void *buf, size_t n, u64 lost)
{
	u64 lo, hi;
	if (s->fault_hi <= addr || s->fault_lo >= addr + n || lost)
		return lost;
	lo = s->fault_lo > addr ? s->fault_lo : addr;
	hi = s->fault_hi < addr + n ? s->fault_hi : addr + n;
	memset((u8 *)buf + (lo - addr), 0, (size_t)(hi - lo));
	return hi - lo;
}

/* How the live target is held still; each hold ends with procdump,
 * whatever ends it (doc/DESIGN.md "A freeze that dies with procdump"):
 *   LIVE_EVENT    procdump is its debugger and holds a debug event
 *   LIVE_ATTACH   attached for this dump, its first event never continued
 *   LIVE_SUSPEND  SuspendThread through the freeze guard (live_guard_serve);
 *                 forced by PROCDUMP_TEST_FREEZE=suspend.  Without a
 *                 guard (library mode, or it could not start) procdump
 *                 suspends the threads itself: that hold alone does not
 *                 end with a procdump that is killed. */
enum live_hold { LIVE_SUSPEND, LIVE_ATTACH, LIVE_EVENT };

struct live {
	HANDLE h;                  /* the process */
	enum live_hold hold;       /* how it is held (live_freeze chose) */
	DWORD ev_tid;              /* LIVE_ATTACH: the thread of the event held */
	struct w32_guard guard;    /* LIVE_SUSPEND: the freeze guard */
	DWORD *before, *before_count; int nbefore; /* LIVE_ATTACH: thread ids and suspend counts before the attach */
	u64 bd_at[2]; u8 bd_was[2]; int nbd; /* LIVE_ATTACH: PEB.BeingDebugged (native, WOW64) before it */
	int wow64;                 /* a 32-bit process: never attached for the hold (live_attach) */
	DWORD attach_told;         /* the attach's thread -v named: the threads are re-listed till none is new */
};

#define LIVE_ATTACH_DEADLINE_MS 2000

static HANDLE
live_process(const struct snap *s)
{
	return ((const struct live *)s->impl)->h;
}

static const char *
live_hold_name(const struct live *l)
{
	switch (l->hold) {
	case LIVE_EVENT: return "held at procdump's debug event";
	case LIVE_ATTACH: return "held at a debug event (attached)";
	default: return l->guard.proc ? "suspended, guarded" : "suspended, unguarded";
	}
}

/* The ids of the target's threads before the attach, and their suspend
 * counts: on Windows the system suspends each thread while its attach
 * event is pending, so the count read during the hold may be one more than
 * the process's own (-1: unknown). */
static void
live_threads_before(struct live *l, DWORD pid)
{
	struct pd_sys_process *list = w32_process_list(), *p;
	struct pd_sys_thread *st;
	ULONG i;
	HANDLE th;
	if (list && (p = w32_process_find(list, pid)) && (l->before = xcalloc(p->NumberOfThreads + 1, sizeof *l->before)) &&
	    (l->before_count = xcalloc(p->NumberOfThreads + 1, sizeof *l->before_count))) {
		st = w32_process_threads(p);
		for (i = 0; i < p->NumberOfThreads; i++) {
			l->before[l->nbefore] = (DWORD)(ULONG_PTR)st[i].UniqueThread;
			l->before_count[l->nbefore] = (DWORD)-1;
			if ((th = OpenThread(THREAD_QUERY_INFORMATION, FALSE, l->before[l->nbefore]))) {
				l->before_count[l->nbefore] = w32_thread_suspend_count(th);
				CloseHandle(th);
			}
			l->nbefore++;
		}
	}
	free(list);
}

/* The suspend count of thread tid before the attach, or -1. */
static DWORD
live_count_before(const struct live *l, DWORD tid)
{
	int i;
	for (i = 0; i < l->nbefore && l->before_count; i++)
		if (l->before[i] == tid)
			return l->before_count[i];
	return (DWORD)-1;
}

/* Is th the thread DebugActiveProcess injected to break in (Windows and
 * Wine), not the target's?  It starts at ntdll!DbgUiRemoteBreakin; under
 * Wine its start address reads 0 until it has run, so a thread new since
 * the attach with no start address yet is taken for it (a thread of the
 * target's in that state has run none of its code either). */
static int
live_attach_thread(const struct live *l, DWORD tid, HANDLE th)
{
	u64 start;
	int i;
	if (l->hold == LIVE_SUSPEND)
		return 0;
	start = w32_thread_start(th);
	if (w32.DbgUiRemoteBreakin && start == (u64)(ULONG_PTR)w32.DbgUiRemoteBreakin)
		return 1;
	if (l->hold != LIVE_ATTACH || start || !l->before)
		return 0;
	for (i = 0; i < l->nbefore; i++)
		if (l->before[i] == tid)
			return 0;
	return 1;
}

/* The attach sets PEB.BeingDebugged (both PEBs of a WOW64 process): the
 * bytes before it, which live_read shows instead, so that the dump claims
 * no debugger the process never had. */
static void
live_being_debugged_save(struct live *l)
{
	struct pd_process_basic pbi;
	ULONG_PTR wow = 0;
	u64 at[2];
	int i, n = 0;
	if (PD_NT_SUCCESS(w32.NtQueryInformationProcess(l->h, 0, &pbi, sizeof pbi, NULL)) && pbi.PebBaseAddress)
		at[n++] = (u64)(ULONG_PTR)pbi.PebBaseAddress + 2;
	if (PD_NT_SUCCESS(w32.NtQueryInformationProcess(l->h, 26 /* ProcessWow64Information */, &wow, sizeof wow, NULL)) &&
	    wow)
		at[n++] = (u64)wow + 2;
	for (i = 0; i < n; i++)
		if (w32_read(l->h, at[i], &l->bd_was[l->nbd], 1) == 0)
			l->bd_at[l->nbd++] = at[i];
}

/* Ends the attach.  Detaching with the CREATE_PROCESS event pending
 * releases every thread (Windows and Wine) without the moment a
 * ContinueDebugEvent would give the target to run attached.  If the detach
 * fails, the queued events (each stops a thread) are let go and the detach
 * retried for 2 s; after that procdump's end releases it (kill-on-exit is
 * off).  0, or -1 after a message. */
static int
live_detach(DWORD pid, DWORD ev_tid)
{
	DWORD t0 = GetTickCount();
	if (DebugActiveProcessStop(pid))
		return 0;
	ContinueDebugEvent(pid, ev_tid, DBG_CONTINUE);
	while (!DebugActiveProcessStop(pid)) {
		if (w32_debug_drain(100, 100, NULL, NULL))
			return 0;
		if (GetTickCount() - t0 > 2000) {
			warn("cannot detach from process %lu (it runs on; procdump's end releases it):", pid);
			return -1;
		}
	}
	return 0;
}

/* LIVE_ATTACH: attaches and waits (with a deadline) for the first debug
 * event, CREATE_PROCESS, which stays pending until live_thaw.  0, or -1
 * (detached again, or never attached: the caller suspends instead). */
static int
live_attach(struct snap *s)
{
	struct live *l = s->impl;
	DEBUG_EVENT ev;
	DWORD t0 = GetTickCount();
	wchar_t mode[16];
	if (w32_env_string(L"PROCDUMP_TEST_FREEZE", mode, 16) && !wcscmp(mode, L"suspend"))
		return -1;
	/* a 32-bit process is suspended under the guard instead: under Wine's
	 * WoW64 mode it dies after an attach and detach (doc/WINE.md section 11) */
	if (l->wow64) {
		vlog("process %lu is 32-bit: its threads are suspended under the guard, not held at a debug event", s->pid);
		return -1;
	}
	if (w32_debugger_keep_alive() < 0)
		return -1;
	live_threads_before(l, s->pid);
	live_being_debugged_save(l);
	if (!DebugActiveProcess(s->pid)) {
		vlog("cannot debug process %lu to hold it (its threads are suspended instead):", s->pid);
		return -1;
	}
	for (;;) {
		int got = w32_wait_debug_event(&ev, 100);
		if (got > 0 && ev.dwDebugEventCode == CREATE_PROCESS_DEBUG_EVENT && ev.dwProcessId == s->pid) {
			if (ev.u.CreateProcessInfo.hFile)
				CloseHandle(ev.u.CreateProcessInfo.hFile);
			w32_debug_close_handle(ev.u.CreateProcessInfo.hProcess); /* (not used: the snapshot has its own) */
			w32_debug_close_handle(ev.u.CreateProcessInfo.hThread);
			l->ev_tid = ev.dwThreadId;
			return 0;
		}
		if (got > 0) { /* not expected first: let it go */
			if (ev.dwDebugEventCode == LOAD_DLL_DEBUG_EVENT && ev.u.LoadDll.hFile)
				CloseHandle(ev.u.LoadDll.hFile);
			ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId, DBG_CONTINUE);
		}
		if (got < 0 || GetTickCount() - t0 > LIVE_ATTACH_DEADLINE_MS) {
			vlog("no first debug event from process %lu in %d ms: its threads are suspended instead",
			     s->pid, LIVE_ATTACH_DEADLINE_MS);
			live_detach(s->pid, 0);
			return -1;
		}
	}
}

/* LIVE_SUSPEND: starts the freeze guard (-freezeguard PID).  Protocol: a
 * thread id on its stdin, the previous suspend count back (-1: not
 * suspended); id 0 or end of input resumes all (live_guard_serve, the
 * guard's side).  On failure, no guard: procdump suspends the threads
 * itself. */
static void
live_guard_start(struct snap *s)
{
	struct live *l = s->impl;
	l->guard.proc = w32_start_guard(L"freezeguard", s->pid, &l->guard.to, &l->guard.from);
}

/* One exchange with the guard (w32_guard_ask); if it is gone, procdump
 * takes over the suspensions it held. */
static int
live_guard_ask(struct snap *s, DWORD tid, DWORD *answer)
{
	struct live *l = s->impl;
	int i;
	if (w32_guard_ask(&l->guard, s->pid, tid, answer) == 0)
		return 0;
	for (i = 0; i < s->nth_all; i++)
		s->th[i].suspended = 1;
	return -1;
}

/* The guard's side: resumes and closes the *n threads it holds. */
static void
live_guard_resume(HANDLE *th, int *n)
{
	while (*n > 0) {
		ResumeThread(th[--*n]);
		CloseHandle(th[*n]);
	}
}

/* The freeze guard, hidden -freezeguard PID (protocol: live_guard_start).
 * When stdin ends, procdump has thawed or died: the guard resumes what it
 * still holds and exits 0.  It keeps a handle of the process and of each
 * thread, so that no id is reused meanwhile, and checks each is PID's. */
static int
live_guard_serve(DWORD pid)
{
	HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE);
	HANDLE proc = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid), *th = NULL, h;
	DWORD tid, got, prev;
	int n = 0, cap = 0, held;
	SetEnvironmentVariableW(L"PROCDUMP_TEST_EXIT_FILE", NULL); /* procdump's own, not the guard's */
	while (ReadFile(in, &tid, 4, &got, NULL) && got == 4) {
		prev = (DWORD)-1;
		if (!tid) {
			live_guard_resume(th, &n);
			prev = 0;
		} else if ((h = OpenThread(THREAD_SUSPEND_RESUME | THREAD_QUERY_LIMITED_INFORMATION, FALSE, tid))) {
			if (proc && GetProcessIdOfThread(h) == pid && vec_grow(&th, &cap, n, sizeof *th, 64) == 0 &&
			    (prev = SuspendThread(h)) != (DWORD)-1)
				th[n++] = h;
			else
				CloseHandle(h);
		}
		if (w32_write_all(out, &prev, 4))
			break;
	}
	if ((held = n) > 0) {
		live_guard_resume(th, &n);
		warn("procdump ended while process %lu was frozen: the guard resumed its %d threads", pid, held);
	}
	free(th);
	if (proc)
		CloseHandle(proc);
	return 0;
}

/* Stops one thread as the hold says; its suspend count before us, or -1 if
 * it could not be suspended.  *own: procdump suspended it itself (no
 * guard, or one that could not), and resumes it at the thaw. */
static DWORD
live_stop_thread(struct snap *s, DWORD tid, HANDLE th, int *own)
{
	struct live *l = s->impl;
	DWORD prev;
	*own = 0;
	if (l->hold != LIVE_SUSPEND) {
		/* already stopped: its count, read, not changed */
		if (l->hold == LIVE_ATTACH && (prev = live_count_before(l, tid)) != (DWORD)-1)
			return prev;
		prev = w32_thread_suspend_count(th);
		return prev == (DWORD)-1 ? 0 : prev;
	}
	if (l->guard.proc && live_guard_ask(s, tid, &prev) == 0 && prev != (DWORD)-1)
		return prev;
	/* no guard, or one that could not (its own access): better held
	 * unguarded than running, and missing from the dump */
	if ((prev = SuspendThread(th)) != (DWORD)-1)
		*own = 1;
	return prev;
}

/* Opens and stops one thread not held yet.  1: added; 0: known, gone,
 * the attach's own thread, or not ours to stop; -1: no memory. */
static int
live_freeze_thread(struct snap *s, DWORD tid, LONG prio)
{
	struct live *l = s->impl;
	struct dthread *t;
	HANDLE th;
	DWORD prev;
	int j, own;
	for (j = 0; j < s->nth; j++)
		if (s->th[j].tid == tid)
			return 0;
	th = OpenThread(THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION, FALSE, tid);
	if (!th)
		return 0;
	/* the attach's break-in thread is not the target's */
	if (live_attach_thread(l, tid, th)) {
		if (l->attach_told != tid)
			vlog("thread %lu left out: the attach's own", tid);
		l->attach_told = tid;
		CloseHandle(th);
		return 0;
	}
	if ((prev = live_stop_thread(s, tid, th, &own)) == (DWORD)-1) {
		CloseHandle(th);
		return 0;
	}
	if (vec_grow(&s->th, &s->cap_th, s->nth, sizeof *s->th, 64) < 0) {
		if (own)
			ResumeThread(th);
		CloseHandle(th);
		return -1;
	}
	t = &s->th[s->nth++];
	memset(t, 0, sizeof *t);
	t->tid = tid;
	t->h = th;
	t->suspended = own;
	t->prev_suspend = prev;
	t->prio = prio;
	s->nth_all = s->nth;
	return 1;
}

/* Every thread of the target, re-listed until no new one appears (a
 * suspension races with thread creation).  The process times come from
 * the first listing.  A target gone from the list fails silently: the
 * caller says it (a run ends as at the target's exit, PD_GONE). */
static int
live_freeze_threads(struct snap *s)
{
	int pass;
	for (pass = 0; pass < 16; pass++) {
		struct pd_sys_process *list = w32_process_list(), *p;
		struct pd_sys_thread *st;
		ULONG i;
		int added = 0, r;
		if (!list)
			return -1;
		p = w32_process_find(list, s->pid);
		if (!p) {
			/* Gone from the list: at EXIT_PROCESS (-t) the address space
			 * is still there to read, with no thread left. */
			free(list);
			return pass == 0 && s->at_exit ? 0 : -1;
		}
		if (pass == 0) {
			s->create_time = (u64)p->CreateTime.QuadPart;
			s->user_time = (u64)p->UserTime.QuadPart;
			s->kernel_time = (u64)p->KernelTime.QuadPart;
		}
		st = w32_process_threads(p);
		for (i = 0; i < p->NumberOfThreads; i++) {
			if ((r = live_freeze_thread(s, (DWORD)(ULONG_PTR)st[i].UniqueThread, st[i].Priority)) < 0) {
				free(list);
				return -1;
			}
			added += r;
		}
		free(list);
		if (!added && pass > 0)
			return 0;
	}
	return 0;
}

/* Holds the target still: LIVE_EVENT if procdump holds a debug event, else
 * LIVE_ATTACH, else LIVE_SUSPEND (enum live_hold). */
static int
live_freeze(struct snap *s)
{
	struct live *l = s->impl;
	double t0;
	int rc;
	if (l->hold != LIVE_EVENT)
		w32_test_hold_delay();
	s->frozen_at = t0 = now_sec();
	if (l->hold != LIVE_EVENT) {
		if (live_attach(s) == 0)
			l->hold = LIVE_ATTACH;
		else
			live_guard_start(s);
	}
	rc = live_freeze_threads(s);
	vlog("froze %d threads in %.2f ms (%s)", s->nth, (now_sec() - t0) * 1e3, live_hold_name(l));
	return rc;
}

/* Lets every thread go, those a -md callback left out too, and closes them. */
static void
live_thaw(struct snap *s)
{
	struct live *l = s->impl;
	double t0 = now_sec();
	DWORD done;
	int i;
	if (!l)
		return;
	/* the guard resumes what it suspended (thread id 0), then ends */
	if (l->guard.proc && s->nth_all)
		live_guard_ask(s, 0, &done);
	w32_guard_close(&l->guard);
	for (i = 0; i < s->nth_all; i++) {
		if (s->th[i].suspended)
			ResumeThread(s->th[i].h);
		s->th[i].suspended = 0;
		CloseHandle(s->th[i].h);
	}
	if (l->hold == LIVE_ATTACH)
		live_detach(s->pid, l->ev_tid);
	if (s->frozen_at && !s->thawed_at)
		s->thawed_at = now_sec(); /* (-r: here, once the copy is taken) */
	if (s->nth_all || l->hold == LIVE_ATTACH)
		vlog("thawed %d threads in %.2f ms", s->nth_all, (now_sec() - t0) * 1e3);
	free(l->before);
	free(l->before_count);
	free(l);
	s->impl = NULL;
}

static u64
live_read(struct snap *s, u64 addr, void *buf, size_t n)
{
	const struct live *l = s->impl;
	u64 lost;
	int i;
	if (addr + n < addr || addr + n - 1 > (u64)(ULONG_PTR)-1) {
		memset(buf, 0, n);
		return n;
	}
	lost = w32_read_fill(l->h, addr, buf, n);
	for (i = 0; i < l->nbd && l->hold == LIVE_ATTACH; i++)
		if (l->bd_at[i] >= addr && l->bd_at[i] < addr + n)
			((u8 *)buf)[l->bd_at[i] - addr] = l->bd_was[i];
	return live_fault(s, addr, buf, n, lost);
}

/* The process exited (or was killed) after the freeze: what was read after
 * that is zeros.  At EXIT_PROCESS (-t) it is ending by design. */
static int
live_gone(struct snap *s)
{
	return !s->at_exit && WaitForSingleObject(live_process(s), 0) == WAIT_OBJECT_0;
}

/* The memory map, VirtualQueryEx region by region (the x86 view ends at
 * 4 GiB). */
static int
live_regions(struct snap *s)
{
	if (w32_region_walk(live_process(s), s->x86, snap_region_add, s) < 0)
		return -1;
	if (!s->nreg) {
		if (s->at_exit)
			warn("process %lu released its memory before its exit event could be dumped "
			     "(it ended without ExitProcess)", s->pid);
		else
			warn("VirtualQueryEx %lu:", s->pid);
		return -1;
	}
	return 0;
}

/* GetThreadContext can block for ever under Wine on a thread suspended
 * before it first ran (doc/WINE.md section 11): the context is read on a
 * worker with a deadline; on timeout the worker and its job are abandoned
 * (it finishes when the target resumes) and the thread is written without
 * a context (ThreadInfo INVALID_CONTEXT). */
struct live_ctx_job {
	struct w32_job job;        /* first (w32_job_run) */
	CONTEXT ctx;               /* 16-byte aligned by its type, in a 16-byte aligned job */
	HANDLE h;                  /* our duplicate of the thread's handle */
	BOOL (WINAPI *wow64_get)(HANDLE, WOW64_CONTEXT *); /* set: a WOW64_CONTEXT, in ctx's first bytes */
	CONTEXT *xctx;             /* or an XState context (InitializeContext), in xbuf */
	void *xbuf;
	DWORD xbuf_len;
	volatile LONG ok;
};

#define PD_CONTEXT_DEADLINE_MS 1000

static void
live_ctx_free(struct w32_job *job)
{
	struct live_ctx_job *j = (struct live_ctx_job *)job;
	CloseHandle(j->h);
	free(j->xbuf);
	_aligned_free(j);
}

static void
live_ctx_call(struct w32_job *job)
{
	struct live_ctx_job *j = (struct live_ctx_job *)job;
	if (j->wow64_get)
		j->ok = j->wow64_get(j->h, (WOW64_CONTEXT *)&j->ctx);
	else if (j->xctx)
		j->ok = GetThreadContext(j->h, j->xctx) != 0;
	else
		j->ok = GetThreadContext(j->h, &j->ctx) != 0;
}

/* Prepares an XState context buffer in the job (InitializeContext with
 * every enabled feature), if the machine has more than x87 and SSE. */
static void
live_ctx_xstate_buffer(struct live_ctx_job *j)
{
#ifdef _WIN64
	DWORD len = 0;
	u64 features = w32.GetEnabledXStateFeatures && w32.InitializeContext && w32.SetXStateFeaturesMask
	             ? w32.GetEnabledXStateFeatures() : 0;
	if (!(features & ~3ULL)) /* x87 and SSE are in the CONTEXT */
		return;
	w32.InitializeContext(NULL, CONTEXT_ALL | CONTEXT_XSTATE, NULL, &len);
	j->xbuf = len ? malloc(len) : NULL;
	j->xbuf_len = len;
	if (j->xbuf && (!w32.InitializeContext(j->xbuf, CONTEXT_ALL | CONTEXT_XSTATE, &j->xctx, &len) ||
	                !w32.SetXStateFeaturesMask(j->xctx, features))) {
		free(j->xbuf);
		j->xbuf = NULL;
		j->xctx = NULL;
	}
#else
	(void)j;
#endif
}

/* The dump's XState context: the CONTEXT, a CONTEXT_EX {All, Legacy,
 * XState}, each {LONG Offset (from CONTEXT_EX), DWORD Length}, and the
 * XSAVE area.  Where Windows puts the XSAVE area depends on the buffer's
 * address (64-byte alignment); the dump gets one layout for every thread:
 * the XSAVE area at 1280 (64-aligned from the CONTEXT's start). */
static void
live_ctx_xstate_copy(const struct live_ctx_job *j, u8 **xout, u32 *xlen)
{
	const u32 at = (sizeof(CONTEXT) + 24 + 63) & ~63u;
	const u8 *cx = (const u8 *)j->xctx + sizeof(CONTEXT);
	LONG xs_off;
	DWORD xs_len;
	memcpy(&xs_off, cx + 16, 4);
	memcpy(&xs_len, cx + 20, 4);
	if (xs_off <= 0 || xs_len < 64 ||
	    (size_t)(cx - (const u8 *)j->xbuf) + (size_t)xs_off + xs_len > j->xbuf_len ||
	    !(*xout = calloc(1, at + xs_len)))
		return;
	{
		LONG ex[6] = { -(LONG)sizeof(CONTEXT), (LONG)(at + xs_len),     /* All */
		               -(LONG)sizeof(CONTEXT), (LONG)sizeof(CONTEXT),   /* Legacy */
		               (LONG)(at - sizeof(CONTEXT)), (LONG)xs_len };     /* XState */
		memcpy(*xout, j->xctx, sizeof(CONTEXT));
		memcpy(*xout + sizeof(CONTEXT), ex, sizeof ex);
		memcpy(*xout + at, cx + xs_off, xs_len);
		*xlen = at + xs_len;
	}
}

/* out: a CONTEXT, or (wow) a WOW64_CONTEXT in its first bytes; its
 * ContextFlags say what to read.  With xlen (the native 64-bit view,
 * WithAvxXStateContext), the context is read with its XSAVE state into
 * *xout (live_ctx_xstate_copy), *xlen its size; out gets its CONTEXT part.
 * Returns 1 when read within the deadline. */
static int
live_get_context(HANDLE h, CONTEXT *out, int wow, u8 **xout, u32 *xlen)
{
	struct live_ctx_job *j = _aligned_malloc(sizeof *j, 16);
	int ok = 0, late;
	if (!j)
		return 0;
	memset(j, 0, sizeof *j);
	j->job.run = live_ctx_call;
	j->job.done = live_ctx_free;
	if (wow && !(j->wow64_get = w32.Wow64GetThreadContext)) {
		_aligned_free(j);
		return 0;
	}
	memcpy(&j->ctx, out, sizeof j->ctx); /* its ContextFlags, wherever the layout keeps them */
	if (xlen) {
		*xlen = 0;
		live_ctx_xstate_buffer(j);
	}
	if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &j->h, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
		free(j->xbuf);
		_aligned_free(j);
		return 0;
	}
	if ((late = w32_job_run(&j->job, PD_CONTEXT_DEADLINE_MS, 64 * 1024))) {
		if (late > 0)
			vlog("GetThreadContext did not return in %d ms", PD_CONTEXT_DEADLINE_MS);
		return 0; /* the worker frees the job when (if) it returns */
	}
	ok = j->ok;
	if (ok && j->xctx) {
		memcpy(out, j->xctx, sizeof *out);
		live_ctx_xstate_copy(j, xout, xlen);
	} else if (ok)
		memcpy(out, &j->ctx, sizeof *out);
	live_ctx_free(&j->job);
	return ok;
}

/* The thread's context in the view: sp and ip from it. */
static void
live_thread_context(struct snap *s, struct dthread *t, int xstate)
{
	t->ctx = _aligned_malloc(sizeof(CONTEXT), 16);
	if (!t->ctx)
		return;
	memset(t->ctx, 0, sizeof(CONTEXT));
	if (s->x86) {
		WOW64_CONTEXT *w = (WOW64_CONTEXT *)t->ctx;
		w->ContextFlags = WOW64_CONTEXT_ALL;
		t->ctx_ok = live_get_context(t->h, t->ctx, 1, NULL, NULL);
		t->sp = w->Esp;
		t->ip = w->Eip;
		return;
	}
	t->ctx->ContextFlags = CONTEXT_ALL;
	t->ctx_ok = live_get_context(t->h, t->ctx, 0, &t->xctx, xstate ? &t->xlen : NULL);
	t->sp = PD_CTX_SP(t->ctx);
	t->ip = PD_CTX_IP(t->ctx);
}

/* ThreadInfo (times, start address, affinity, exit status), the name, the
 * TEB and, from its NT_TIB, the stack's base and limit. */
static void
live_thread_info(struct snap *s, struct dthread *t)
{
	struct pd_thread_basic tbi;
	FILETIME c, e, k, u;
	ULONG_PTR start = 0;
	int ok = 1;
	t->info.tid = t->tid;
	t->info.exit_status = STILL_ACTIVE;
	if (GetThreadTimes(t->h, &c, &e, &k, &u)) {
		t->info.create_time = ft_u64(c);
		t->info.exit_time = ft_u64(e);
		t->info.kernel_time = ft_u64(k);
		t->info.user_time = ft_u64(u);
	} else
		t->info.dump_flags |= 0x8; /* MINIDUMP_THREAD_INFO_INVALID_INFO */
	if (PD_NT_SUCCESS(w32.NtQueryInformationThread(t->h, 9 /* ThreadQuerySetWin32StartAddress */,
	                                               &start, sizeof start, NULL)))
		t->info.start_address = start;
	t->name = w32_thread_description(t->h);
	if (!t->ctx_ok) {
		vlog("thread %lu: written without a context", (unsigned long)t->tid);
		t->info.dump_flags |= 0x10; /* MINIDUMP_THREAD_INFO_INVALID_CONTEXT */
	}
	if (!PD_NT_SUCCESS(w32.NtQueryInformationThread(t->h, 0, &tbi, sizeof tbi, NULL)))
		return;
	t->info.exit_status = (u32)tbi.ExitStatus;
	t->info.affinity = tbi.AffinityMask;
	t->teb = (u64)(ULONG_PTR)tbi.TebBaseAddress;
	if (s->x86 && t->teb)
		t->teb = snap_teb32(s, t->teb);
	/* NT_TIB: ExceptionList, StackBase, StackLimit */
	t->stack_base = snap_ptr(s, t->teb + s->ps, &ok);
	t->stack_limit = snap_ptr(s, t->teb + 2 * s->ps, &ok);
	if (!ok)
		t->stack_base = t->stack_limit = 0;
}

static void
live_threads(struct snap *s, int xstate)
{
	int i;
	for (i = 0; i < s->nth; i++) {
		live_thread_context(s, &s->th[i], xstate);
		live_thread_info(s, &s->th[i]);
	}
}

/* The HandleData stream, and the live snapshot's handle walk: the target's
 * handles from the system-wide list (Wine lacks the per-process query),
 * each duplicated to read its type, counts and name. */

struct pd_handle_entry {       /* SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX */
	PVOID Object;
	ULONG_PTR UniqueProcessId, HandleValue;
	ULONG GrantedAccess;
	USHORT CreatorBackTraceIndex, ObjectTypeIndex;
	ULONG HandleAttributes, Reserved;
};

struct live_name_job {
	struct w32_job job;        /* first (w32_job_run) */
	HANDLE h;                  /* our duplicate of the target's handle */
	pd_ntstatus (NTAPI *query)(HANDLE, ULONG, PVOID, ULONG, PULONG); /* NtQueryObject */
	u8 buf[2048];
	pd_ntstatus st;
};

static void
live_name_call(struct w32_job *job)
{
	struct live_name_job *j = (struct live_name_job *)job;
	j->st = j->query(j->h, 1 /* ObjectNameInformation */, j->buf, sizeof j->buf - 2, NULL);
}

static void
live_name_free(struct w32_job *job)
{
	CloseHandle(((struct live_name_job *)job)->h);
	free(job);
}

static wchar_t *
live_unicode_dup(const u8 *buf)
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

/* The name of a File handle (our duplicate dup, which this takes), on a
 * worker with a 200 ms deadline: NtQueryObject blocks for ever on a
 * synchronous pipe.  On timeout the worker keeps the job and the duplicate
 * (freed if it ever returns) and *file_names becomes 0: no more File names
 * in this dump. */
static wchar_t *
live_file_name(HANDLE dup, u64 value, int *file_names)
{
	struct live_name_job *j = xcalloc(1, sizeof *j);
	wchar_t *name = NULL;
	int late;
	if (!j) {
		CloseHandle(dup);
		return NULL;
	}
	j->job.run = live_name_call;
	j->job.done = live_name_free;
	j->h = dup;
	j->query = w32.NtQueryObject;
	if ((late = w32_job_run(&j->job, 200, 0)) > 0) {
		/* blocked (a synchronous pipe): ask no more File names */
		*file_names = 0;
		vlog("handle 0x%llx: name query blocked; File names skipped", value);
	} else if (!late) {
		if (PD_NT_SUCCESS(j->st))
			name = live_unicode_dup(j->buf);
		live_name_free(&j->job);
	}
	return name;
}

/* Type, counts and (unless names is 0) name of one handle of the target. */
static void
live_handle_detail(struct snap *s, struct dhandle *h, int names, int *file_names)
{
	HANDLE dup = NULL;
	u8 info[1024];
	ULONG basic[14];
	if (!DuplicateHandle(live_process(s), (HANDLE)(ULONG_PTR)h->value, GetCurrentProcess(), &dup, 0,
	                     FALSE, DUPLICATE_SAME_ACCESS))
		return;
	if (PD_NT_SUCCESS(w32.NtQueryObject(dup, 0 /* ObjectBasicInformation */, basic, sizeof basic, NULL))) {
		/* less the references our duplicate adds */
		h->handle_count = basic[2] ? basic[2] - 1 : 0;
		h->pointer_count = basic[3] >= 2 ? basic[3] - 2 : 0;
	}
	memset(info, 0, sizeof info);
	if (PD_NT_SUCCESS(w32.NtQueryObject(dup, 2 /* ObjectTypeInformation */, info, sizeof info - 2, NULL)))
		h->type = live_unicode_dup(info);
	if (names && h->type && !wcscmp(h->type, L"File")) {
		if (*file_names)
			h->name = live_file_name(dup, h->value, file_names);
		else
			CloseHandle(dup);
		return;
	}
	memset(info, 0, sizeof info);
	if (names && PD_NT_SUCCESS(w32.NtQueryObject(dup, 1 /* ObjectNameInformation */, info, sizeof info - 2, NULL)))
		h->name = live_unicode_dup(info);
	CloseHandle(dup);
}

/* Every handle of the target; names: with their names (not in triage). */
static void
live_handles(struct snap *s, int names)
{
	u8 *buf = w32.NtQueryObject ? w32_handle_table() : NULL;
	ULONG_PTR n, i;
	struct pd_handle_entry *e;
	int file_names = 1, cap = 0;
	if (!buf)
		return;
	s->have_hdl = 1;
	n = *(ULONG_PTR *)buf;
	e = (struct pd_handle_entry *)(buf + 2 * sizeof(ULONG_PTR));
	for (i = 0; i < n; i++) {
		struct dhandle h;
		if (e[i].UniqueProcessId != s->pid)
			continue;
		memset(&h, 0, sizeof h);
		h.value = e[i].HandleValue;
		h.attributes = e[i].HandleAttributes;
		h.access = e[i].GrantedAccess;
		live_handle_detail(s, &h, names, &file_names);
		if (vec_grow(&s->hdl, &cap, s->nhdl, sizeof *s->hdl, 64) < 0) {
			free(h.type);
			free(h.name);
			break;
		}
		s->hdl[s->nhdl++] = h;
	}
	free(buf);
}

/* Only MINIDUMP_TOKEN_INFO_LIST and MINIDUMP_TOKEN_INFO_HEADER are
 * documented; the data after a header follows a reverse-engineered account
 * of dbghelp's: seven {offset, size} pairs (from the record's start) for
 * TokenSessionId, TokenUser, TokenGroups, TokenPrimaryGroup,
 * TokenPrivileges, TokenStatistics and TokenRestrictedSids, each field
 * 8-aligned, every SID pointer replaced by its offset from its field's
 * start; so ElementHeaderSize is 16 + 7 * 8.  A class the token does not
 * answer has size 0. */
#define TOK_NFIELDS 7

/* A SID pointed to from inside a GetTokenInformation buffer, checked */
static DWORD
live_token_sid(const u8 *info, DWORD len, PSID sid)
{
	if (!sid || (const u8 *)sid < info || (const u8 *)sid + 8 > info + len || !IsValidSid(sid) ||
	    (const u8 *)sid + GetLengthSid(sid) > info + len)
		return 0;
	return GetLengthSid(sid);
}

/* {u32 count, count x {u32 sid_offset, u32 attributes}}, 8-aligned, SIDs */
static int
live_token_groups(struct buf *b, const u8 *info, DWORD len)
{
	const TOKEN_GROUPS *g = (const TOKEN_GROUPS *)info;
	size_t start = b->len;
	u32 i;
	if (len < offsetof(TOKEN_GROUPS, Groups) ||
	    g->GroupCount > (len - offsetof(TOKEN_GROUPS, Groups)) / sizeof(SID_AND_ATTRIBUTES))
		return -1;
	buf_add(b, &g->GroupCount, 4, 1);
	buf_add(b, NULL, 8 * (size_t)g->GroupCount, 1);
	for (i = 0; i < g->GroupCount && !b->oom; i++) {
		DWORD n = live_token_sid(info, len, g->Groups[i].Sid);
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

/* TokenUser or TokenPrimaryGroup: {u32 sid_offset = 8, u32 attributes},
 * SID.  Returns 1 if written. */
static int
live_token_sid_field(struct buf *b, TOKEN_INFORMATION_CLASS c, const u8 *info, DWORD len)
{
	PSID sid;
	DWORD n;
	u32 two[2] = { 8, 0 };
	if (len < (c == TokenUser ? sizeof(TOKEN_USER) : sizeof(TOKEN_PRIMARY_GROUP)))
		return 0;
	sid = c == TokenUser ? ((const TOKEN_USER *)info)->User.Sid : ((const TOKEN_PRIMARY_GROUP *)info)->PrimaryGroup;
	if (c == TokenUser)
		two[1] = ((const TOKEN_USER *)info)->User.Attributes;
	if (!(n = live_token_sid(info, len, sid)))
		return 0;
	buf_add(b, two, 8, 1);
	buf_add(b, sid, n, 1);
	return 1;
}

/* One record in s->tok; 0, or -1 if the token says too little (no user) */
static int
live_token_record(struct snap *s, HANDLE tok, DWORD id)
{
	static const TOKEN_INFORMATION_CLASS cls[TOK_NFIELDS] = {
		TokenSessionId, TokenUser, TokenGroups, TokenPrimaryGroup,
		TokenPrivileges, TokenStatistics, TokenRestrictedSids };
	struct buf *b = &s->tok;
	u32 pairs[2 * TOK_NFIELDS], h[4];
	u64 hv = (u64)(ULONG_PTR)tok;
	int i, user = 0;
	size_t start;

	memset(pairs, 0, sizeof pairs);
	start = buf_add(b, NULL, 16 + sizeof pairs, 8); /* header and pairs, filled in last */
	for (i = 0; i < TOK_NFIELDS && !b->oom; i++) {
		DWORD len;
		u8 *info = w32_token_info(tok, cls[i], &len);
		size_t at;
		buf_add(b, NULL, 0, 8);
		at = b->len;
		if (!info)
			;
		else if (cls[i] == TokenUser || cls[i] == TokenPrimaryGroup)
			user |= live_token_sid_field(b, cls[i], info, len) && cls[i] == TokenUser;
		else if (cls[i] == TokenGroups || cls[i] == TokenRestrictedSids) {
			if (live_token_groups(b, info, len) < 0)
				b->len = at; /* a malformed answer: left out */
		} else
			buf_add(b, info, len, 1); /* no pointers inside */
		free(info);
		pairs[2 * i] = (u32)(at - start);
		pairs[2 * i + 1] = (u32)(b->len - at);
	}
	buf_add(b, NULL, 0, 8);
	if (b->oom || !user) {
		b->len = start;
		return -1;
	}
	h[0] = (u32)(b->len - start);
	h[1] = id;
	memcpy(&h[2], &hv, 8);
	memcpy(b->p + start, h, 16);
	memcpy(b->p + start + 16, pairs, sizeof pairs);
	s->ntok++;
	return 0;
}

/* The process token and every impersonating thread's, as one stream. */
static void
live_tokens(struct snap *s)
{
	HANDLE tok;
	int i;
	buf_add(&s->tok, NULL, 16, 1); /* MINIDUMP_TOKEN_INFO_LIST, filled in at the end */
	if (OpenProcessToken(live_process(s), TOKEN_QUERY, &tok)) {
		live_token_record(s, tok, s->pid);
		CloseHandle(tok);
	} else
		vlog("token of process %lu:", s->pid);
	for (i = 0; i < s->nth; i++)
		if (OpenThreadToken(s->th[i].h, TOKEN_QUERY, TRUE, &tok)) { /* impersonating */
			live_token_record(s, tok, s->th[i].tid);
			CloseHandle(tok);
		}
	if (s->tok.oom || !s->ntok) {
		snap_free_tokens(s);
		return;
	}
	{
		u32 h[4] = { (u32)s->tok.len, s->ntok, 16, 16 + 8 * TOK_NFIELDS };
		memcpy(s->tok.p, h, 16);
	}
	s->have_tok = 1;
}

/* The view's PEB (the native one, or the 32-bit one that a 32-bit TEB
 * names: TEB32.ProcessEnvironmentBlock, else ProcessWow64Information), the
 * priority class, the VM counters and the integrity level. */
static void
live_facts(struct snap *s)
{
	HANDLE h = live_process(s), tok;
	struct pd_process_basic pbi;
	ULONG_PTR p = 0;
	int i, ok;
	u8 buf[64];
	DWORD got;
	if (!s->x86 && PD_NT_SUCCESS(w32.NtQueryInformationProcess(h, 0, &pbi, sizeof pbi, NULL)))
		s->peb = (u64)(ULONG_PTR)pbi.PebBaseAddress;
	for (i = 0; s->x86 && i < s->nth && !s->peb; i++) {
		ok = 1;
		if (s->th[i].teb)
			s->peb = snap_ptr(s, s->th[i].teb + 0x30, &ok);
		if (!ok || s->peb < 0x10000)
			s->peb = 0;
	}
	if (s->x86 && !s->peb && PD_NT_SUCCESS(w32.NtQueryInformationProcess(h, 26 /* ProcessWow64Information */,
	                                                                     &p, sizeof p, NULL)) && p >= 0x10000)
		s->peb = p;
	s->prio_class = GetPriorityClass(h);
	s->have_vm = w32_vm_counters(h, &s->vm) == 0;
	if (OpenProcessToken(h, TOKEN_QUERY, &tok)) {
		if (GetTokenInformation(tok, TokenIntegrityLevel, buf, sizeof buf, &got)) {
			PSID sid = ((TOKEN_MANDATORY_LABEL *)buf)->Label.Sid;
			UCHAR cnt = *GetSidSubAuthorityCount(sid);
			if (cnt) {
				s->integrity = *GetSidSubAuthority(sid, cnt - 1);
				s->have_integrity = 1;
			}
		}
		CloseHandle(tok);
	}
}

/* Test hook PROCDUMP_TEST_UNREADABLE=<hex address>:<bytes> (test/README.md
 * "Test hooks"). */
static void
live_test_fault(struct snap *s)
{
	wchar_t v[64], *e;
	if (!w32_env_string(L"PROCDUMP_TEST_UNREADABLE", v, 64))
		return;
	s->fault_lo = wcstoull(v, &e, 16);
	if (*e == L':')
		s->fault_hi = s->fault_lo + wcstoull(e + 1, NULL, 10);
}

/* The live process, held still as live_freeze says. */
static const struct snap_ops live_ops = {
	live_freeze, live_thaw, live_read, live_regions, live_threads, live_facts, live_handles, live_tokens,
	live_gone,
};

static int
live_open(struct snap *s, const struct pd_target *t, const struct pd_dump_req *req)
{
	struct live *l = xcalloc(1, sizeof *l);
	memset(s, 0, sizeof *s);
	if (!l)
		return -1;
	l->h = t->h;
	l->hold = req->held ? LIVE_EVENT : LIVE_SUSPEND;
	l->wow64 = t->wow64;
	s->ops = &live_ops;
	s->impl = l;
	s->process_handle = t->h;
	s->pid = t->pid;
	s->at_exit = req->ev && req->ev->at_exit;
	s->ps = sizeof(void *);
	live_test_fault(s);
	if (PD_WIN64) { /* (a 32-bit procdump sees only 32-bit processes, natively) */
		s->x86 = t->wow64 && !req->native_view;
		s->wow_native = t->wow64 && req->native_view;
		if (s->x86)
			s->ps = 4;
	}
	return 0;
}

/* ============================= Snapshot: PSS ============================ */
/* The PSS snapshot (-r on Windows 8.1 and later).  PssCaptureSnapshot
 * (the system suspends the process for the capture alone) takes a VA clone
 * (a copy-on-write fork of the address space, in a process of its own),
 * the threads with their contexts, the memory map and, for dump types with
 * handles, the handle table; the target runs on as soon as it returns.
 * The writer then reads memory from the clone and the rest from the
 * snapshot; the process's own facts (token, PEB) from the target, which
 * the snapshot names: the dump shows the target's PID and thread ids,
 * never the clone's.  Where there is no PSS (Windows 7 and 8.0, Wine),
 * for 32-bit contexts or XState (PSS gives 64-bit contexts without it), or
 * when the capture fails, -r falls back to the in-memory clone (pss_unfit),
 * and -v says why.  Built to Microsoft's documentation and unverified on
 * Windows; the tests run it through a provider of that contract over a
 * live process (pss_test_provider; doc/DESIGN.md, the clone). */

struct pss {
	struct live l;             /* first: l.h is the clone for live_read and live_regions */
	HANDLE target;             /* procdump's own handle on the target, with PROCESS_CREATE_PROCESS */
	HANDLE clone;              /* the VA clone process; the snapshot owns it */
	void *snap;                /* HPSS */
	int cap_hdl, names;
};

/* The rights the capture needs: the VA clone is a process created from the
 * target; threads, contexts and handles are read from it. */
#define PSS_TARGET_ACCESS (PROCESS_CREATE_PROCESS | PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | \
	PROCESS_VM_OPERATION | PROCESS_DUP_HANDLE | 0x0800 /* PROCESS_SUSPEND_RESUME */ | SYNCHRONIZE)

/* Test hook PROCDUMP_TEST_PSS_DLL=path: the Pss functions from that DLL
 * instead of kernel32's (test/pssprov.c: the documented contract over a
 * live process, with faults on demand), so that the tests run this path
 * under Wine, which has no PSS.  Loaded once and kept: a test hook. */
static void
pss_test_provider(void)
{
	static HMODULE dll;
	wchar_t path[MAX_PATH];
	size_t i;
	if (!w32_env_string(L"PROCDUMP_TEST_PSS_DLL", path, MAX_PATH))
		return;
	AcquireSRWLockExclusive(&w32_load_lock);
	if (!dll && !(dll = LoadLibraryW(path)))
		vlog("PROCDUMP_TEST_PSS_DLL: cannot load '%s':", u8s(path));
	for (i = 0; dll && i < sizeof w32_imports / sizeof w32_imports[0]; i++)
		if (!strncmp(w32_imports[i].name, "Pss", 3)) {
			FARPROC f = GetProcAddress(dll, w32_imports[i].name);
			memcpy((char *)&w32 + w32_imports[i].off, &f, sizeof f);
		}
	ReleaseSRWLockExclusive(&w32_load_lock);
}

/* Frees the snapshot and what came with it.  PssFreeSnapshot's
 * documentation does not say that it ends the VA clone; the clone is a
 * process procdump made, ended here first so that it cannot outlive the
 * dump whatever PssFreeSnapshot does (it then closes the handle). */
static void
pss_release(struct pss *p)
{
	DWORD e;
	if (p->clone)
		TerminateProcess(p->clone, 0);
	if (p->snap) {
		if ((e = w32.PssFreeSnapshot(GetCurrentProcess(), p->snap))) {
			SetLastError(e);
			vlog("PssFreeSnapshot:");
		} else
			vlog("freed the PSS snapshot");
	}
	if (p->target)
		CloseHandle(p->target);
	free(p);
}

/* Why the PSS snapshot cannot serve this dump, or NULL if it can. */
static const char *
pss_unfit(const struct snap *s, u64 mask)
{
	if (!w32.PssCaptureSnapshot || !w32.PssQuerySnapshot || !w32.PssWalkSnapshot || !w32.PssWalkMarkerCreate ||
	    !w32.PssWalkMarkerFree || !w32.PssFreeSnapshot)
		return "this system has no PSS: kernel32 lacks PssCaptureSnapshot (Windows before 8.1, or Wine)";
	if (s->x86)
		return "a 32-bit view: PSS captures the threads' 64-bit contexts";
	if (w32_is_wow64(GetCurrentProcess()))
		return "a 32-bit procdump on 64-bit Windows: PSS captures 64-bit contexts";
	if (mask & MDT_XSTATE)
		return "WithAvxXStateContext: PSS's extended contexts are not read";
	if (s->at_exit)
		return "the process is exiting";
	return NULL;
}

/* The capture and its VA clone.  0, or a Win32 error (p->snap set if the
 * capture itself succeeded: the caller frees it). */
static DWORD
pss_capture(struct pss *p, u64 mask)
{
	DWORD flags = PD_PSS_CAPTURE_VA_CLONE | PD_PSS_CAPTURE_THREADS | PD_PSS_CAPTURE_THREAD_CONTEXT |
	              PD_PSS_CAPTURE_VA_SPACE | PD_PSS_CREATE_BREAKAWAY | PD_PSS_CREATE_BREAKAWAY_OPTIONAL |
	              (DWORD)PD_PSS_CREATE_RELEASE_SECTION, e;
	HANDLE clone = NULL;       /* PSS_VA_CLONE_INFORMATION */
	if (mask & MDT_HANDLEDATA)
		flags |= PD_PSS_CAPTURE_HANDLES | PD_PSS_CAPTURE_HANDLE_NAME_INFORMATION |
		         PD_PSS_CAPTURE_HANDLE_BASIC_INFORMATION | PD_PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION;
	if ((e = w32.PssCaptureSnapshot(p->target, flags, CONTEXT_ALL, &p->snap))) {
		p->snap = NULL;
		return e;
	}
	if ((e = w32.PssQuerySnapshot(p->snap, PD_PSS_QUERY_VA_CLONE_INFORMATION, &clone, sizeof clone)))
		return e;
	p->clone = p->l.h = clone;
	return 0;
}

/* Calls each(s, entry) for every entry of one PssWalkSnapshot class, in a
 * buffer of size bytes.  0, or a Win32 error. */
static DWORD
pss_walk(struct snap *s, int cls, void *entry, DWORD size, void (*each)(struct snap *, const void *))
{
	struct pss *p = s->impl;
	void *marker = NULL;
	DWORD e;
	if ((e = w32.PssWalkMarkerCreate(NULL, &marker)))
		return e;
	while (!(e = w32.PssWalkSnapshot(p->snap, cls, marker, entry, size)))
		each(s, entry);
	w32.PssWalkMarkerFree(marker);
	return e == ERROR_NO_MORE_ITEMS ? 0 : e;
}

/* A counted string of the snapshot (bytes, maybe without a NUL), or NULL. */
static wchar_t *
pss_string(const wchar_t *w, WORD bytes)
{
	wchar_t *d;
	if (!w || bytes < 2 || !(d = xcalloc(bytes / 2 + 1, sizeof *d)))
		return NULL;
	memcpy(d, w, bytes & ~1u);
	return d;
}

/* Frees the snapshot (on every path: dump_write thaws at its end). */
static void
pss_thaw(struct snap *s)
{
	int i;
	for (i = 0; i < s->nth_all; i++)
		if (s->th[i].h)
			CloseHandle(s->th[i].h);
	pss_release(s->impl);
	s->impl = NULL;
}

static void
pss_region(struct snap *s, const void *entry)
{
	const struct pd_pss_va_space *e = entry;
	MEMORY_BASIC_INFORMATION m = { .BaseAddress = e->BaseAddress, .AllocationBase = e->AllocationBase,
	                               .AllocationProtect = e->AllocationProtect, .RegionSize = e->RegionSize,
	                               .State = e->State, .Protect = e->Protect, .Type = e->Type };
	snap_region_add(&m, s);
}

/* The memory map at the capture, in address order as the system lists it;
 * else the clone's own (VirtualQueryEx). */
static int
pss_regions(struct snap *s)
{
	struct pd_pss_va_space e;
	DWORD err = pss_walk(s, PD_PSS_WALK_VA_SPACE, &e, sizeof e, pss_region);
	if (!err && s->nreg)
		return 0;
	SetLastError(err);
	vlog("the PSS memory map (%d regions), the clone's instead:", s->nreg);
	free(s->reg);
	s->reg = NULL;
	s->nreg = s->cap_reg = 0;
	return live_regions(s);
}

/* One thread as captured: its context, TEB, times and ids; a handle on the
 * real thread for its name and token, where it still runs. */
static void
pss_thread(struct snap *s, const void *entry)
{
	const struct pd_pss_thread *e = entry;
	struct dthread *t;
	if (e->Flags & PD_PSS_THREAD_FLAGS_TERMINATED)
		return;
	if (vec_grow(&s->th, &s->cap_th, s->nth, sizeof *s->th, 64) < 0)
		return;
	t = &s->th[s->nth++];
	s->nth_all = s->nth;
	memset(t, 0, sizeof *t);
	t->tid = t->info.tid = e->ThreadId;
	t->prev_suspend = e->SuspendCount;
	t->prio = e->Priority;
	t->teb = (u64)(ULONG_PTR)e->TebBaseAddress;
	t->info.exit_status = e->ExitStatus;
	t->info.affinity = e->AffinityMask;
	t->info.start_address = (u64)(ULONG_PTR)e->Win32StartAddress;
	t->info.create_time = ft_u64(e->CreateTime);
	t->info.exit_time = ft_u64(e->ExitTime);
	t->info.kernel_time = ft_u64(e->KernelTime);
	t->info.user_time = ft_u64(e->UserTime);
	if (e->ContextRecord && e->SizeOfContextRecord && (t->ctx = _aligned_malloc(sizeof(CONTEXT), 16))) {
		memset(t->ctx, 0, sizeof(CONTEXT));
		memcpy(t->ctx, e->ContextRecord, e->SizeOfContextRecord < sizeof(CONTEXT) ? e->SizeOfContextRecord
		                                                                          : sizeof(CONTEXT));
		t->ctx_ok = 1;
		t->sp = PD_CTX_SP(t->ctx);
		t->ip = PD_CTX_IP(t->ctx);
	}
	t->h = OpenThread(THREAD_QUERY_INFORMATION | THREAD_QUERY_LIMITED_INFORMATION, FALSE, t->tid);
}

/* Undoes what pss_thread did, for the fallback. */
static void
pss_drop_threads(struct snap *s)
{
	int i;
	for (i = 0; i < s->nth; i++) {
		_aligned_free(s->th[i].ctx);
		if (s->th[i].h)
			CloseHandle(s->th[i].h);
	}
	free(s->th);
	s->th = NULL;
	s->nth = s->nth_all = s->cap_th = 0;
}

/* The threads' names and, from each TEB's NT_TIB read in the clone, their
 * stacks' bounds (the threads themselves are walked at the capture). */
static void
pss_threads(struct snap *s, int xstate)
{
	int i, ok;
	(void)xstate; /* (an XState dump never takes this path: pss_unfit) */
	for (i = 0; i < s->nth; i++) {
		struct dthread *t = &s->th[i];
		if (t->h)
			t->name = w32_thread_description(t->h);
		if (!t->ctx_ok) {
			vlog("thread %lu: written without a context", (unsigned long)t->tid);
			t->info.dump_flags |= 0x10; /* MINIDUMP_THREAD_INFO_INVALID_CONTEXT */
		}
		ok = 1;
		t->stack_base = snap_ptr(s, t->teb + s->ps, &ok);
		t->stack_limit = snap_ptr(s, t->teb + 2 * s->ps, &ok);
		if (!ok)
			t->stack_base = t->stack_limit = 0;
	}
}

/* The process's facts from the target itself (PEB, token), then those the
 * snapshot took at the capture (priority class, times, VM counters). */
static void
pss_facts(struct snap *s)
{
	struct pss *p = s->impl;
	struct pd_pss_process pi;
	p->l.h = p->target;
	live_facts(s);
	p->l.h = p->clone;
	if (w32.PssQuerySnapshot(p->snap, PD_PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof pi))
		return;
	s->prio_class = pi.PriorityClass;
	s->create_time = ft_u64(pi.CreateTime);
	s->user_time = ft_u64(pi.UserTime);
	s->kernel_time = ft_u64(pi.KernelTime);
	/* PeakVirtualSize to PrivateUsage: VM_COUNTERS_EX's fields, in its order */
	_Static_assert(offsetof(struct pd_pss_process, PrivateUsage) - offsetof(struct pd_pss_process, PeakVirtualSize) ==
	               offsetof(struct pd_vm_counters, PrivateUsage), "PSS_PROCESS_INFORMATION's VM counters");
	memcpy(&s->vm, &pi.PeakVirtualSize, sizeof s->vm);
	s->have_vm = 1;
}

static void
pss_handle(struct snap *s, const void *entry)
{
	const struct pd_pss_handle *e = entry;
	struct pss *p = s->impl;
	struct dhandle *h;
	if (vec_grow(&s->hdl, &p->cap_hdl, s->nhdl, sizeof *s->hdl, 64) < 0)
		return;
	h = &s->hdl[s->nhdl++];
	memset(h, 0, sizeof *h);
	h->value = (u64)(ULONG_PTR)e->Handle;
	if (e->Flags & PD_PSS_HANDLE_HAVE_BASIC_INFORMATION) {
		h->attributes = e->Attributes;
		h->access = e->GrantedAccess;
		h->handle_count = e->HandleCount;
		h->pointer_count = e->PointerCount;
	}
	/* (the strings only where the flags say the capture filled them) */
	h->type = e->Flags & PD_PSS_HANDLE_HAVE_TYPE ? pss_string(e->TypeName, e->TypeNameLength) : NULL;
	h->name = p->names && (e->Flags & PD_PSS_HANDLE_HAVE_NAME) ? pss_string(e->ObjectName, e->ObjectNameLength)
	                                                          : NULL;
}

/* The handle table as captured; names: with their names (not in triage). */
static void
pss_handles(struct snap *s, int names)
{
	struct pd_pss_handle e;
	DWORD err;
	((struct pss *)s->impl)->names = names;
	if ((err = pss_walk(s, PD_PSS_WALK_HANDLES, &e, sizeof e, pss_handle))) {
		SetLastError(err);
		vlog("the handles of the PSS snapshot of process %lu:", s->pid);
	}
	s->have_hdl = !err || s->nhdl;
}

/* The target's tokens (the process's, and each impersonating thread's). */
static void
pss_tokens(struct snap *s)
{
	struct pss *p = s->impl;
	p->l.h = p->target;
	live_tokens(s);
	p->l.h = p->clone;
}

/* The snapshot: memory from the clone, the rest from the capture; no
 * freeze (the capture holds the target still). */
static const struct snap_ops pss_ops = {
	NULL, pss_thaw, live_read, pss_regions, pss_threads, pss_facts, pss_handles, pss_tokens, NULL,
};

/* -r: takes the PSS snapshot and makes it s (its table, pss_ops).  0, or
 * -1 with s still the live snapshot after -v said why. */
static int
pss_take(struct snap *s, u64 mask)
{
	const struct snap_ops *live = s->ops;
	void *live_impl = s->impl;
	struct snap tmp;
	struct pd_pss_thread te;
	struct pss *p;
	const char *why;
	double t0 = now_sec();
	DWORD e;
	pss_test_provider();
	if ((why = pss_unfit(s, mask))) {
		vlog("-r: no PSS snapshot (%s): the in-memory clone instead", why);
		return -1;
	}
	if (!(p = xcalloc(1, sizeof *p)))
		return -1;
	p->l.hold = LIVE_SUSPEND; /* (nothing held: live_read takes no bytes back) */
	if (!(p->target = OpenProcess(PSS_TARGET_ACCESS, FALSE, s->pid))) {
		vlog("-r: cannot open process %lu for a PSS snapshot, the in-memory clone instead:", s->pid);
		pss_release(p);
		return -1;
	}
	s->ops = &pss_ops;
	s->impl = p;
	/* a snapshot without its threads would make a dump without them: the
	 * in-memory clone instead */
	if ((e = pss_capture(p, mask)) ||
	    (e = pss_walk(s, PD_PSS_WALK_THREADS, &te, sizeof te, pss_thread)) || (!s->nth && (e = ERROR_NOT_FOUND))) {
		pss_drop_threads(s);
		s->ops = live;
		s->impl = live_impl;
		pss_release(p); /* (a snapshot taken is freed before the fallback) */
		SetLastError(e);
		vlog("-r: the PSS snapshot of process %lu failed, the in-memory clone instead:", s->pid);
		return -1;
	}
	memset(&tmp, 0, sizeof tmp);
	tmp.impl = live_impl;
	tmp.pid = s->pid;
	live->thaw(&tmp); /* (the live table's state: nothing was frozen) */
	s->frozen_at = t0; /* the outage (-json): the system suspends the target for the capture at most */
	s->thawed_at = now_sec();
	s->process_handle = p->clone; /* -md callbacks read the snapshot */
	vlog("-r: took a PSS snapshot of process %lu (%d threads) in %.3f s; process %lu runs on", s->pid, s->nth,
	     now_sec() - t0, s->pid);
	return 0;
}

/* ============================ Snapshot: Clone =========================== */
/* The in-memory clone (-r without PSS; doc/DESIGN.md "The clone
 * (-r)"): clone_take copies the planned ranges, releases the target and
 * takes the live table's place.  Until the release the live hold applies,
 * so a procdump killed during the copy leaves the target running. */

struct clone_part { u64 start, size; u8 *p; };

struct clone {
	struct clone_part *part; int n; /* the copy: sorted, disjoint */
	u8 *pool;                  /* the parts' memory when clone_prepare made it ready; else one each */
	struct range *lost; int nlost, cap_lost; /* pages the copy could not read (zeros), sorted */
	int gone;                  /* the target vanished before the copy was complete */
	u64 bytes;                 /* the copy's size */
};

/* bytes per read of the copy: under Wine 4 MiB copied at 745 MB/s, 16 and
 * 64 MiB at 330 and 200-250 MB/s (bench/outage.sh; doc/WINE.md section 3) */
#define CLONE_READ (4u << 20)
#define CLONE_SPARE (64ull << 20)   /* memory left beside the clone, for the writer and the system */

/* The planned ranges, sorted and merged (a -md callback may leave them
 * unsorted or overlapping).  0 or -1. */
static int
clone_parts(struct clone *c, const struct range *rng, int nrng)
{
	struct range *m = xcalloc((size_t)nrng + 1, sizeof *m);
	int i, n = 0;
	if (!m)
		return -1;
	for (i = 0; i < nrng; i++)
		if (rng[i].size)
			m[n++] = rng[i];
	n = snap_range_merge(m, n, ~0ULL);
	if ((c->part = xcalloc((size_t)n + 1, sizeof *c->part)))
		for (c->n = n, i = 0; i < n; i++) {
			c->part[i].start = m[i].start;
			c->bytes += c->part[i].size = m[i].size;
		}
	free(m);
	return c->part ? 0 : -1;
}

/* Records [at, at+n) as not read; adjacent pages become one span. */
static void
clone_lost(struct clone *c, u64 at, u64 n)
{
	struct range *l = c->nlost ? &c->lost[c->nlost - 1] : NULL;
	if (l && l->start + l->size == at) {
		l->size += n;
		return;
	}
	if (vec_grow(&c->lost, &c->cap_lost, c->nlost, sizeof *c->lost, 16) < 0)
		return; /* (then the bytes read as copied zeros) */
	c->lost[c->nlost].start = at;
	c->lost[c->nlost++].size = n;
}

/* Copies one part through the live table in CLONE_READ reads; a read that
 * lost bytes is done again page by page, to know which.  0, or -1: the
 * dump was cancelled (Ctrl+C, the event, -at). */
static int
clone_copy_part(struct snap *s, struct clone *c, struct clone_part *p, const struct pd_dump_req *req,
                struct pd_dump_result *res)
{
	u64 off = 0;
	while (off < p->size) {
		if (snap_cancelled(req, res))
			return -1;
		size_t n = p->size - off > CLONE_READ ? CLONE_READ : (size_t)(p->size - off);
		u64 a = p->start + off, end = a + n;
		if (s->ops->read(s, a, p->p + off, n))
			while (a < end) {
				size_t step = 4096 - (size_t)(a & 4095);
				if (step > end - a)
					step = (size_t)(end - a);
				if (s->ops->read(s, a, p->p + (a - p->start), step))
					clone_lost(c, a, step);
				a += step;
			}
		off += n;
	}
	return 0;
}

/* Bytes of [addr, addr+n) the copy could not read. */
static u64
clone_lost_in(const struct clone *c, u64 addr, u64 end)
{
	u64 lost = 0;
	int i;
	for (i = 0; i < c->nlost && c->lost[i].start < end; i++) {
		u64 a = c->lost[i].start, b = a + c->lost[i].size;
		if (b > addr)
			lost += (b < end ? b : end) - (a > addr ? a : addr);
	}
	return lost;
}

/* Reads from the copy.  A byte outside it (no plan asked for it: a bug)
 * counts as unread, as the copy's own lost pages do. */
static u64
clone_read(struct snap *s, u64 addr, void *buf, size_t n)
{
	const struct clone *c = s->impl;
	u64 a = addr, end = addr + n, lost = 0;
	int i;
	if (end < addr) {
		memset(buf, 0, n);
		return n;
	}
	i = span_index(c->part, c->n, sizeof *c->part, offsetof(struct clone_part, start), offsetof(struct clone_part, size),
	               addr);
	while (a < end) {
		const struct clone_part *p = i < c->n ? &c->part[i] : NULL;
		u64 stop;
		if (p && p->start <= a) {
			stop = p->start + p->size < end ? p->start + p->size : end;
			memcpy((u8 *)buf + (a - addr), p->p + (a - p->start), (size_t)(stop - a));
			i++;
		} else {
			stop = p && p->start < end ? p->start : end;
			memset((u8 *)buf + (a - addr), 0, (size_t)(stop - a));
			lost += stop - a;
		}
		a = stop;
	}
	return live_fault(s, addr, buf, n, lost + clone_lost_in(c, addr, end));
}

/* A copy holds no process still: its thaw frees the copy. */
static void
clone_thaw(struct snap *s)
{
	struct clone *c = s->impl;
	int i;
	if (!c)
		return;
	for (i = 0; i < c->n && !c->pool; i++)
		if (c->part[i].p)
			VirtualFree(c->part[i].p, 0, MEM_RELEASE);
	if (c->pool)
		VirtualFree(c->pool, 0, MEM_RELEASE);
	free(c->part);
	free(c->lost);
	free(c);
	s->impl = NULL;
}

/* The target vanished during the copy: the copy holds zeros. */
static int
clone_gone(struct snap *s)
{
	return ((const struct clone *)s->impl)->gone;
}

/* The copy.  Taken after collect and plan: its table has no freeze and no
 * collection of its own. */
static const struct snap_ops clone_ops = {
	NULL, clone_thaw, clone_read, NULL, NULL, NULL, NULL, NULL, clone_gone,
};

/* Does a clone of bytes fit in the memory available, with CLONE_SPARE
 * beside it (PROCDUMP_TEST_CLONE_MEMORY_MB lowers it for the tests)?  0,
 * or -1 after one line (*no_memory). */
static int
clone_fits(const struct snap *s, u64 bytes, int *no_memory)
{
	unsigned long mb = w32_env_number(L"PROCDUMP_TEST_CLONE_MEMORY_MB");
	u64 avail = mb ? (u64)mb << 20 : w32_memory_available();
	if (!avail || bytes + CLONE_SPARE <= avail)
		return 0;
	warn("cannot clone process %lu: the clone needs %llu MB of memory and %llu MB is available", s->pid,
	     (bytes + CLONE_SPARE) >> 20, avail >> 20);
	*no_memory = 1;
	return -1;
}

/* The parts laid end to end (page-aligned) in the memory clone_prepare
 * made ready.  0, or -1 if they do not fit in it. */
static int
clone_carve(struct clone *c, u8 *pool, u64 size)
{
	u64 at = 0;
	int i;
	for (i = 0; i < c->n; i++)
		at += (c->part[i].size + 4095) & ~(u64)4095;
	if (at > size)
		return -1;
	for (i = 0, at = 0; i < c->n; i++) {
		c->part[i].p = pool + at;
		at += (c->part[i].size + 4095) & ~(u64)4095;
	}
	return 0;
}

/* Adds a readable region's size to *need (a w32_region_walk callback). */
static int
clone_need_add(const MEMORY_BASIC_INFORMATION *m, void *need)
{
	struct dregion r = { 0 };
	r.state = m->State;
	r.protect = m->Protect;
	if (snap_readable(&r))
		*(u64 *)need += m->RegionSize;
	return 0;
}

/* Before the freeze of a full dump with -r: allocates the copy (all
 * committed readable memory) and touches every page, so that neither a
 * refusal nor the first-touch faults fall inside the outage (doc/WINE.md
 * section 3).  0, or -1 after one line (*no_memory) when it would not fit;
 * an allocation that fails here is no failure (the copy makes its own). */
static int
clone_prepare(struct snap *s, int *no_memory)
{
	u64 need = 0, i;
	double t0 = now_sec();
	w32_region_walk(s->process_handle, s->x86, clone_need_add, &need);
	need += need / 64 + (16 << 20); /* what the process commits between now and the freeze */
	if (clone_fits(s, need, no_memory) < 0)
		return -1;
	if (need > (SIZE_T)-1 || !(s->pre = VirtualAlloc(NULL, (SIZE_T)need, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)))
		return 0;
	for (i = 0; i < need; i += 4096)
		s->pre[i] = 0;
	s->pre_size = need;
	vlog("made %llu MB ready for the clone in %.3f s", need >> 20, now_sec() - t0);
	return 0;
}

/* Fits and allocates the copy.  0, or -1 after one line (*no_memory). */
static int
clone_alloc(struct snap *s, struct clone *c, int *no_memory)
{
	int i;
	/* the memory clone_prepare made ready is taken already: counted once */
	if (s->pre && clone_carve(c, s->pre, s->pre_size) == 0) {
		c->pool = s->pre;
		s->pre = NULL;
		return 0;
	}
	if (s->pre) { /* too small after all: given back before the count */
		VirtualFree(s->pre, 0, MEM_RELEASE);
		s->pre = NULL;
		s->pre_size = 0;
	}
	if (clone_fits(s, c->bytes, no_memory) < 0)
		return -1;
	for (i = 0; i < c->n; i++) {
		if (c->part[i].size > (SIZE_T)-1 ||
		    !(c->part[i].p = VirtualAlloc(NULL, (SIZE_T)c->part[i].size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE))) {
			warn("cannot clone process %lu: no memory for its %llu MB:", s->pid, c->bytes >> 20);
			*no_memory = 1;
			return -1;
		}
	}
	return 0;
}

/* -r: copies the planned ranges of the frozen live snapshot s, releases
 * the target, and makes s the copy.  0, or -1 (the target still frozen:
 * the caller thaws it) after one line. */
static int
clone_take(struct snap *s, const struct range *rng, int nrng, const struct pd_dump_req *req, struct pd_dump_result *res)
{
	struct clone *c;
	u64 flo = s->fault_lo, fhi = s->fault_hi;
	double t0 = now_sec(), t1;
	long hold;
	int i, cancelled = 0;
	/* PSS: the clone was taken at the capture and the target runs on; the
	 * trigger goes on only now, after the collection, which read the
	 * target's token and thread names (-k would have ended it first) */
	if (s->ops == &pss_ops) {
		res->released = 1;
		if (req->on_clone)
			req->on_clone(req->ctx);
		return 0;
	}
	if (!(c = xcalloc(1, sizeof *c)) || clone_parts(c, rng, nrng) < 0 || clone_alloc(s, c, &res->no_memory) < 0) {
		if (c) {
			struct snap tmp = { .impl = c };
			clone_thaw(&tmp);
		}
		return -1;
	}
	vlog("copying %llu MB of process %lu in %d parts", c->bytes >> 20, s->pid, c->n);
	s->fault_lo = s->fault_hi = 0; /* the hook applies to reads of the copy */
	for (i = 0; i < c->n && !cancelled; i++)
		cancelled = clone_copy_part(s, c, &c->part[i], req, res) < 0;
	s->fault_lo = flo;
	s->fault_hi = fhi;
	/* test hook: the copy takes this much longer (a kill or -at lands in it) */
	for (hold = (long)w32_env_number(L"PROCDUMP_TEST_CLONE_HOLD_MS"); hold > 0 && !cancelled; hold -= 50) {
		Sleep(50);
		cancelled = snap_cancelled(req, res);
	}
	if (cancelled) {
		struct snap tmp = { .impl = c };
		if (!res->timed_out)
			warn("dump cancelled: '%s' not written", u8s(req->path));
		clone_thaw(&tmp);
		return -1; /* the caller thaws the target */
	}
	c->gone = s->ops->gone && s->ops->gone(s);
	s->ops->thaw(s);
	res->released = 1; /* -at bounds the outage: once the clone is taken, the target runs */
	s->ops = &clone_ops;
	s->impl = c;
	t1 = now_sec();
	vlog("cloned %llu MB in %.3f s (%.0f MB/s); process %lu runs on", c->bytes >> 20, t1 - t0,
	     t1 > t0 ? (double)c->bytes / (1 << 20) / (t1 - t0) : 0.0, s->pid);
	if (req->on_clone)
		req->on_clone(req->ctx);
	return 0;
}

/* -r, before the freeze: the PSS snapshot where it serves, else the
 * in-memory clone's preparation (clone_prepare, full dumps).  0, or -1
 * after one line (*no_memory). */
static int
clone_begin(struct snap *s, u64 mask, int *no_memory)
{
	if (pss_take(s, mask) == 0)
		return 0;
	return (mask & MDT_FULLMEMORY) ? clone_prepare(s, no_memory) : 0;
}

/* ================================ Writer ================================ */
/* The minidump writer (doc/MINIDUMP.md).  Its entries, dump_write() and
 * dump_write_kernel(), come first; the pipeline runs down the sub-sections:
 *   snapshot (Snapshot: live_open, then freeze through its table)
 *   -> collect (Writer: Collect: modules, PE headers, system facts)
 *   -> plan (Writer: Memory: the ranges of the type, the -md callbacks)
 *   -> lay out (Writer: Streams: one row of dump_streams[] per stream)
 *   -> write sequentially, signature last, rename into place (Writer: File).
 * It never reads trigger state: what it needs arrives in struct
 * pd_dump_req, and it reads the target only through struct snap.  The
 * target is thawed on every path.  One prefix: dump_. */

/* Where the note on unreadable memory goes if there is one: after the -dc
 * text, in its CommentStreamW, or else as a CommentStreamW of its own in a
 * spare directory entry.  Room is kept at layout, filled at the end. */
struct dump_note {
	u32 rva;                   /* where the note's text starts (0: no room kept) */
	u32 start;                 /* the stream's RVA: the -dc text, or the note */
	u32 base;                  /* bytes of -dc text before the note, NUL left out */
	size_t entry;              /* its directory entry's offset in the file */
	int spare;                 /* the entry is the spare one: the header counts one more */
};

/* One dump being built: the snapshot, the plan, and the layout. */
struct dump_state {
	struct snap *s;
	const struct pd_dump_req *req;
	struct pd_dump_result *res; /* what the writer says back (dump_write's caller's) */
	u64 mask;                  /* MINIDUMP_TYPE bits this dump honours */
	u64 dropped;               /* bits of mask the dump could not honour (not in Flags) */
	int miniplus;              /* -mp: MiniPlus selection, Memory64List */
	u64 mp_excluded, mp_excluded_size; /* the area left out, and its allocation size */
	int mp_excluded_count;      /* its allocations */
	struct range *rng; int nrng, cap_rng; /* the planned memory, sorted and merged once planned */
	int full;                  /* memory as a Memory64List blob */
	MINIDUMP_SYSTEM_INFO sysinfo; wchar_t csd[128]; /* csd: the CSDVersion string */
	struct md_misc5 misc;
	size_t threads_off;        /* the ThreadList entries in the buffer (stack RVAs patched last) */
	u32 *stack_rvas;           /* per thread, where its stack bytes lie (dump_patch_stacks) */
	u64 blob_rva, blob_size;   /* Memory64 bytes, streamed after the buffer */
	u64 head_size;             /* the buffer's bytes, written before the blob (progress) */
	u64 unread;                /* bytes that could not be read, written as zeros */
	u64 planned;               /* bytes of memory the dump takes (the ranges) */
	double write_t0;           /* now_sec() when its writing began (on_progress) */
	int gone;                  /* the target vanished while it was read (dump_source_gone) */
	u32 nd;                    /* directory entries used */
	struct dump_note note;     /* room for the unread-memory note (dump_reserve_note) */
	DWORD chunk_delay;         /* test hook: ms of sleep per Memory64 chunk (dump_test_delay) */
	u64 floor;                 /* bytes that must stay free on its volume (-minfree); 0 = no guard */
	MINIDUMP_USER_STREAM comment[2]; /* -dc as CommentStreamA and W (dump_comment_streams) */
};

/* Test hooks PROCDUMP_TEST_CHUNK_DELAY_MS and _DUMPS (test/README.md "Test
 * hooks"): the ms to sleep per Memory64 chunk of this dump, or 0. */
static DWORD
dump_test_delay(void)
{
	unsigned long ms = w32_env_number(L"PROCDUMP_TEST_CHUNK_DELAY_MS");
	unsigned long first = w32_env_number(L"PROCDUMP_TEST_CHUNK_DELAY_DUMPS");
	if (ms)
		g.test_dumps++;
	return first && g.test_dumps > first ? 0 : (DWORD)ms;
}

/* The MINIDUMP_TYPE bits of the requested dump type.  0, or -1. */
static int
dump_type_mask(struct dump_state *d, const struct pd_dump_req *req)
{
	switch (req->type) {
	case PD_MINI: d->mask = MDT_MINI; break;
	case PD_FULL: d->mask = MDT_FULL; break;
	case PD_CUSTOM: d->mask = req->mask & MDT_HONOURED; break;
	case PD_TRIAGE: d->mask = MDT_TRIAGE; break;
	case PD_MINIPLUS: d->mask = MDT_MINI | MDT_PRIVATERW | MDT_PRIVATEWC; d->miniplus = 1; break;
	case PD_CALLBACK: d->mask = MDT_MINI; break; /* all metadata; memory as the callback says */
	default:
		warn("this dump type is not implemented yet");
		return -1;
	}
	if ((d->mask & MDT_XSTATE) && d->s->ps == 4) {
		if (!g.xstate_warned++) /* once, not at every dump of a series */
			warn("-mc: 0x200000 WithAvxXStateContext is written for 64-bit views only; left out of x86 dumps");
		d->mask &= ~(u64)MDT_XSTATE;
	}
	return 0;
}

/* -mc: names the MINIDUMP_TYPE bits this writer cannot honour; they are
 * left out of the dump and of its header Flags. */
static void
dump_check_mask(u64 mask)
{
	static const struct { u64 bit; const char *name; } names[] = {
		{ 0x8000, "WithFullAuxiliaryState" },
		{ 0x400000, "WithIptTrace" } };
	u64 bad = mask & ~(u64)MDT_HONOURED, rest = bad;
	size_t i, n = 0;
	char list[512] = "";
	if ((mask & (MDT_FILTERMEMORY | MDT_FILTERTRIAGE)) && (mask & MDT_FULLMEMORY))
		warn("-mc: 0x8 FilterMemory and 0x100000 FilterTriage sanitize stacks in a MemoryList; with "
		     "0x2 FullMemory the stacks are not sanitized and the bits are left out of its Flags");
	if (!bad)
		return;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (bad & names[i].bit) {
			n += snprintf(list + n, sizeof list - n, "%s0x%llx %s", n ? ", " : "", names[i].bit, names[i].name);
			rest &= ~names[i].bit;
		}
	if (rest)
		snprintf(list + n, sizeof list - n, "%s0x%llx (unknown)", n ? ", " : "", rest);
	warn("-mc: not supported, left out of the dump and its Flags: %s", list);
}

/* One dump at a time where the other side expects it: dbghelp, and a -md
 * callback DLL (dump_write). */
static SRWLOCK dump_serial_lock = SRWLOCK_INIT;

/* The pipeline's stages that dump_write() calls, defined in Writer: File. */
static HANDLE dump_create_temp(const struct pd_dump_req *req, wchar_t **tmp);
static int dump_write_dbghelp(const struct snap *s, const struct pd_dump_req *req, HANDLE file, u64 mask,
                              struct pd_dump_result *res);
static int dump_judge(struct dump_state *d);
static int dump_build_and_write(struct dump_state *d, HANDLE file, struct pd_dump_result *res, double t0);
static int dump_flush(HANDLE file, const wchar_t *tmp);

/* Writes one dump of target t as req says.  Returns 0, PD_EXIT_*, or
 * PD_TIMEOUT when -at cancelled the collection; PD_EXIT_TARGET, with no
 * message, when the target had ended before it could be held (the caller
 * says it: nothing of it was read). */
static int
dump_write(struct pd_target *t, const struct pd_dump_req *req, struct pd_dump_result *res)
{
	struct snap s;
	struct dump_state d;
	wchar_t *tmp = NULL;
	HANDLE file = INVALID_HANDLE_VALUE;
	int rc = PD_EXIT_WRITE;
	double t0 = now_sec();

	memset(&d, 0, sizeof d);
	memset(res, 0, sizeof *res);
	if (live_open(&s, t, req) < 0)
		return PD_EXIT_WRITE;
	d.s = &s;
	d.req = req;
	d.res = res;
	d.chunk_delay = dump_test_delay();
	if (dump_type_mask(&d, req) < 0)
		rc = PD_EXIT_USAGE;
	else if (!req->overwrite && w32_exists(req->path))
		warn("dump file '%s' already exists (use -o to overwrite)", u8s(req->path));
	else
		file = dump_create_temp(req, &tmp);
	if (file == INVALID_HANDLE_VALUE) {
		s.ops->thaw(&s); /* (frees what live_open allocated) */
		return rc;
	}
	if (req->dbghelp) { /* dbghelp reads and writes itself: only the target's end is judged */
		s.frozen_at = now_sec(); /* (it suspends the threads for the whole call) */
		rc = dump_write_dbghelp(&s, req, file, req->type == PD_CUSTOM ? req->mask : d.mask, res) ||
		     dump_judge(&d) ? PD_EXIT_WRITE : 0;
		s.thawed_at = now_sec();
	} else {
		/* a -md callback DLL written for ProcDump expects one dump at a
		 * time: several targets (-all, -pt) and -r N take turns */
		if (req->callback)
			AcquireSRWLockExclusive(&dump_serial_lock);
		if ((req->clone && clone_begin(&s, d.mask, &res->no_memory) < 0) ||
		    (s.ops->freeze && s.ops->freeze(&s) < 0))
			rc = tgt_alive(t) ? PD_EXIT_WRITE : PD_EXIT_TARGET;
		else
			rc = dump_build_and_write(&d, file, res, t0) ? (res->timed_out ? PD_TIMEOUT : PD_EXIT_WRITE) : 0;
	}
	s.ops->thaw(&s);
	if (req->callback && !req->dbghelp)
		ReleaseSRWLockExclusive(&dump_serial_lock);
	res->outage = s.frozen_at && s.thawed_at ? s.thawed_at - s.frozen_at : 0;
	snap_free(&s);
	free(d.rng);
	free(d.stack_rvas);
	free(d.comment[0].Buffer);
	if (rc == 0 && dump_flush(file, tmp) < 0)
		rc = PD_EXIT_WRITE;
	CloseHandle(file);
	if (rc == 0 && w32_rename(tmp, req->path, req->overwrite) < 0)
		rc = PD_EXIT_WRITE;
	if (rc != 0)
		w32_delete_file(tmp);
	free(tmp);
	res->seconds = now_sec() - t0;
	vlog("dump took %.3f s", res->seconds);
	return rc;
}

/* -mk: beside the user dump at req->path, PATH_kernel.dmp (PATH without
 * its .dmp), the system's live kernel dump of the threads' kernel stacks.
 * Where the system cannot write one (Windows before 8.1, Wine) one line
 * says so; the user dump stands either way.  0, or -1 after one line. */
static int
dump_write_kernel(const struct pd_dump_req *req)
{
	struct pd_dump_req k = *req;
	size_t n = wcslen(req->path) + 16;
	wchar_t *path = malloc(n * sizeof *path), *tmp = NULL;
	HANDLE file;
	pd_ntstatus st;
	int rc = -1;
	if (!path)
		return -1;
	swprintf(path, n, L"%ls", req->path);
	if (wcs_endswith_i(path, L".dmp"))
		path[wcslen(path) - 4] = 0;
	wcscat(path, L"_kernel.dmp");
	k.path = path;
	if ((file = dump_create_temp(&k, &tmp)) == INVALID_HANDLE_VALUE) {
		free(path);
		return -1;
	}
	st = w32_live_kernel_dump(file);
	if (st == PD_STATUS_NOT_IMPLEMENTED)
		warn("-mk: this system cannot write a live kernel dump (NtSystemDebugControl: not implemented); "
		     "no kernel dump beside '%s'", u8s(req->path));
	else if (!PD_NT_SUCCESS(st))
		warn("-mk: the live kernel dump failed (NtSystemDebugControl: NTSTATUS 0x%08lX); no '%s'",
		     (unsigned long)st, u8s(path));
	else if (dump_flush(file, tmp) == 0)
		rc = 0;
	CloseHandle(file);
	if (rc == 0 && w32_rename(tmp, path, req->overwrite) < 0)
		rc = -1;
	if (rc == 0)
		out("%s Kernel dump written: %s\n", stamp(), u8s(path));
	else
		w32_delete_file(tmp);
	free(tmp);
	free(path);
	return rc;
}

/* ============================ Writer: Collect =========================== */
/* What the streams show beyond the snapshot's own lists, read from the
 * frozen snapshot through snap_read(): each thread's stack bounds, the
 * modules and their PE headers, the unloaded modules, the system and
 * process facts, the -dc comment.  dump_collect() runs it all; nothing
 * here lays out or writes. */

/* A stack pointer outside the TEB's stack (Go's goroutines, fibers,
 * coroutines) gets at most this much of its region. */
#define PD_ALT_STACK_MAX (1u << 20)

/* The stack to capture, [stk_lo, stk_hi): from SP less one word to the
 * TEB's StackBase; or, when SP lies elsewhere in readable memory, from SP
 * less one word to the end of its region (capped), with alt_stack set; or,
 * with no usable SP, the TEB's committed range.  Needs the memory map. */
static void
dump_stack_bounds(const struct snap *s, struct dthread *t)
{
	const struct dregion *r = t->ctx_ok ? snap_region_of(s, t->sp) : NULL;
	t->stk_lo = t->stack_limit;
	t->stk_hi = t->stack_base;
	t->alt_stack = 0;
	if (!t->ctx_ok)
		return;
	if (t->stack_base > t->stack_limit && t->sp >= t->stack_limit && t->sp <= t->stack_base) {
		t->stk_lo = t->sp - s->ps > t->stack_limit ? t->sp - s->ps : t->stack_limit;
		return;
	}
	if (!r || !snap_readable(r))
		return;
	t->alt_stack = 1;
	t->stk_lo = t->sp - s->ps >= r->base ? t->sp - s->ps : r->base;
	t->stk_hi = r->base + r->size;
	if (t->stk_hi - t->sp > PD_ALT_STACK_MAX)
		t->stk_hi = t->sp + PD_ALT_STACK_MAX;
}

/* Modules from the PEB's loader list, each one's PE headers read from
 * target memory (the image loaded, not the file on disk); unloaded modules
 * from ntdll's unload trace. */

/* The data directories a module's headers point to. */
struct pe_dirs { u32 rsrc_rva, rsrc_size, dbg_rva, dbg_size; };

/* A PE image's first page, read from target memory, and where its parts
 * are in it. */
struct pe_hdr {
	u8 b[4096];
	u32 lfanew, opt, dd, ndirs; /* offsets of the PE signature, optional header, data directories; their count */
	u16 magic;                 /* 0x10B PE32, 0x20B PE32+ */
};

/* Reads the headers of the image at base.  0, or -1: not a PE image. */
static int
dump_pe_read(struct snap *s, u64 base, struct pe_hdr *h)
{
	if (snap_read(s, base, h->b, sizeof h->b) < 0)
		return -1;
	memcpy(&h->lfanew, h->b + 0x3C, 4);
	if (h->b[0] != 'M' || h->b[1] != 'Z' || h->lfanew > sizeof h->b - 264 || memcmp(h->b + h->lfanew, "PE\0\0", 4))
		return -1;
	h->opt = h->lfanew + 24;
	memcpy(&h->magic, h->b + h->opt, 2);
	if (h->magic != 0x20B && h->magic != 0x10B)
		return -1;
	memcpy(&h->ndirs, h->b + h->opt + (h->magic == 0x20B ? 108 : 92), 4);
	h->dd = h->opt + (h->magic == 0x20B ? 112 : 96);
	return 0;
}

/* Data directory k: its RVA and size, or 0 and 0. */
static void
dump_pe_dir(const struct pe_hdr *h, u32 k, u32 *rva, u32 *size)
{
	*rva = *size = 0;
	if (k < h->ndirs && h->dd + 8 * (k + 1) <= sizeof h->b) {
		memcpy(rva, h->b + h->dd + 8 * k, 4);
		memcpy(size, h->b + h->dd + 8 * k + 4, 4);
	}
}

/* Records a section: writable ones are DataSegs, code ones CodeSegs. */
static void
dump_pe_section(struct dmodule *m, const u8 *sec)
{
	u32 vsize, va, ch;
	memcpy(&vsize, sec + 8, 4);
	memcpy(&va, sec + 12, 4);
	memcpy(&ch, sec + 36, 4);
	if (!vsize || va >= m->size)
		return;
	if ((ch & 0x80000000u /* IMAGE_SCN_MEM_WRITE */) && m->nwsec < 16) {
		m->wsec[m->nwsec].rva = va;
		m->wsec[m->nwsec++].size = vsize;
	}
	if ((ch & (0x20u /* CNT_CODE */ | 0x20000000u /* MEM_EXECUTE */)) && m->ncsec < 16) {
		m->csec[m->ncsec].rva = va;
		m->csec[m->ncsec++].size = vsize;
	}
}

/* The PE headers: timestamp, checksum, size, SizeOfHeaders, the section
 * table, and where the resource and debug directories are.  0 or -1. */
static int
dump_pe_headers(struct snap *s, struct dmodule *m, struct pe_dirs *pd)
{
	struct pe_hdr h;
	u32 sec, k;
	u16 nsec, optsize;
	memset(pd, 0, sizeof *pd);
	if (dump_pe_read(s, m->base, &h) < 0)
		return -1;
	memcpy(&m->timestamp, h.b + h.lfanew + 8, 4);
	memcpy(&m->checksum, h.b + h.opt + 64, 4);
	if (!m->size)
		memcpy(&m->size, h.b + h.opt + 56, 4);
	memcpy(&m->header_size, h.b + h.opt + 60, 4);
	memcpy(&nsec, h.b + h.lfanew + 6, 2);
	memcpy(&optsize, h.b + h.lfanew + 20, 2);
	sec = h.opt + optsize;
	for (k = 0; k < nsec && sec + 40 * (k + 1) <= sizeof h.b; k++)
		dump_pe_section(m, h.b + sec + 40 * k);
	dump_pe_dir(&h, 2, &pd->rsrc_rva, &pd->rsrc_size);
	dump_pe_dir(&h, 6, &pd->dbg_rva, &pd->dbg_size);
	return 0;
}

/* The debug directory: the first CodeView (type 2, RSDS or NB10) and Misc
 * (type 4) records. */
static void
dump_pe_debug(struct snap *s, struct dmodule *m, const struct pe_dirs *pd)
{
	u8 dir[28 * 32];
	u32 i;
	if (!pd->dbg_rva || !pd->dbg_size || pd->dbg_size % 28 || pd->dbg_size > sizeof dir ||
	    snap_read(s, m->base + pd->dbg_rva, dir, pd->dbg_size) < 0)
		return;
	for (i = 0; i < pd->dbg_size / 28; i++) {
		u32 type, size, rva;
		u8 *rec;
		memcpy(&type, dir + i * 28 + 12, 4);
		memcpy(&size, dir + i * 28 + 16, 4);
		memcpy(&rva, dir + i * 28 + 20, 4);
		if (!rva || !size || size > 4096 || (type != 2 && type != 4) || (type == 2 && m->cv) ||
		    (type == 4 && m->misc))
			continue;
		rec = xcalloc(size + 1, 1);
		if (!rec || snap_read(s, m->base + rva, rec, size) < 0 ||
		    (type == 2 && (size < 24 || (memcmp(rec, "RSDS", 4) && memcmp(rec, "NB10", 4))))) {
			free(rec);
			continue;
		}
		if (type == 4) {
			m->misc = rec;
			m->misc_len = size;
			continue;
		}
		/* Breakpad wants the PDB name NUL-terminated (rec has a spare 0) */
		m->cv = rec;
		m->cv_len = rec[size - 1] ? size + 1 : size;
	}
}

/* The resource directory: RT_VERSION (16) -> its first name -> its first
 * language: the offset of that data entry, or 0. */
static u32
dump_pe_version_entry(struct snap *s, u64 root)
{
	u8 dirb[16], ent[8];
	u32 off = 0, lvl;
	for (lvl = 0; lvl < 3; lvl++) {
		u16 named, ids;
		u32 cnt, k, found = 0;
		if (snap_read(s, root + off, dirb, 16) < 0)
			return 0;
		memcpy(&named, dirb + 12, 2);
		memcpy(&ids, dirb + 14, 2);
		cnt = (u32)named + ids;
		for (k = 0; k < cnt && k < 64 && !found; k++) {
			u32 id, to;
			if (snap_read(s, root + off + 16 + 8 * k, ent, 8) < 0)
				return 0;
			memcpy(&id, ent, 4);
			memcpy(&to, ent + 4, 4);
			if (lvl == 0 && id != 16)
				continue;
			if ((lvl < 2) != !!(to & 0x80000000u)) /* subdirectories, then a data entry */
				return 0;
			off = to & 0x7FFFFFFFu;
			found = 1;
		}
		if (!found)
			return 0;
	}
	return off;
}

/* The fixed part of VS_VERSION_INFO (VS_FIXEDFILEINFO). */
static void
dump_pe_version(struct snap *s, struct dmodule *m, const struct pe_dirs *pd)
{
	u64 root = m->base + pd->rsrc_rva;
	u32 off, data_rva, data_size, sig;
	u8 ent[8], vi[40 + 52];
	u16 vlen;
	if (!pd->rsrc_rva || pd->rsrc_size < 16 || !(off = dump_pe_version_entry(s, root)) ||
	    snap_read(s, root + off, ent, 8) < 0)
		return;
	memcpy(&data_rva, ent, 4);
	memcpy(&data_size, ent + 4, 4);
	if (data_size < sizeof vi || snap_read(s, m->base + data_rva, vi, sizeof vi) < 0)
		return;
	memcpy(&vlen, vi + 2, 2);
	memcpy(&sig, vi + 40, 4);
	if (vlen == 52 && sig == 0xFEEF04BDu && !memcmp(vi + 6, L"VS_VERSION_INFO", 30)) {
		memcpy(&m->ver, vi + 40, 52);
		m->ver.dwFileFlags &= m->ver.dwFileFlagsMask;
	}
}

/* Modules in load order from the PEB's loader list (main executable first). */
static int
dump_collect_modules(struct snap *s)
{
	const u64 ps = s->ps;
	/* PEB.Ldr, PEB_LDR_DATA.InLoadOrderModuleList and LDR_DATA_TABLE_ENTRY
	 * offsets for the view's pointer size */
	const u64 off_ldr = ps == 8 ? 0x18 : 0x0C, off_list = ps == 8 ? 0x10 : 0x0C;
	const u64 off_base = ps == 8 ? 0x30 : 0x18, off_size = ps == 8 ? 0x40 : 0x20;
	const u64 off_name = ps == 8 ? 0x48 : 0x24;
	u64 head, cur;
	int ok = 1, guard = 0, cap = 0;

	if (!s->peb) {
		warn("cannot read the process environment block of %lu", s->pid);
		return -1;
	}
	head = snap_ptr(s, s->peb + off_ldr, &ok) + off_list;
	cur = ok ? snap_ptr(s, head, &ok) : 0;
	while (ok && cur && cur != head && guard++ < 4096) {
		struct dmodule m;
		struct pe_dirs pd;
		u16 len = 0;
		u64 nbuf;
		memset(&m, 0, sizeof m);
		m.base = snap_ptr(s, cur + off_base, &ok);
		if (snap_read(s, cur + off_size, &m.size, 4) < 0 || snap_read(s, cur + off_name, &len, 2) < 0)
			ok = 0;
		nbuf = snap_ptr(s, cur + off_name + ps, &ok);
		if (!ok)
			break;
		if (m.base) {
			m.name = xcalloc(len / 2 + 1, sizeof(wchar_t));
			if (m.name && len && snap_read(s, nbuf, m.name, len & ~1u) < 0)
				m.name[0] = 0;
			if (dump_pe_headers(s, &m, &pd) == 0) {
				dump_pe_debug(s, &m, &pd);
				dump_pe_version(s, &m, &pd);
			}
			if (vec_grow(&s->mod, &cap, s->nmod, sizeof *s->mod, 64) < 0) {
				free(m.name);
				free(m.cv);
				free(m.misc);
				break;
			}
			s->mod[s->nmod++] = m;
		}
		cur = snap_ptr(s, cur, &ok); /* InLoadOrderLinks.Flink */
	}
	return 0;
}

static const struct dmodule *
dump_find_module(const struct snap *s, const wchar_t *base_name)
{
	int i;
	for (i = 0; i < s->nmod; i++)
		if (s->mod[i].name && !_wcsicmp(path_basename(s->mod[i].name), base_name))
			return &s->mod[i];
	return NULL;
}

/* Reads count entries of ntdll's unload ring at addr in the target into
 * s->unl, keeping those that look like modules.  Returns how many. */
static int
dump_read_unload_ring(struct snap *s, u64 addr, u32 esize, u32 count)
{
	const u64 ps = s->ps;
	u8 *ring;
	u32 i;
	if (!addr || esize < 2 * ps + 12 + 64 || esize > 4096 || count > 1024)
		return 0;
	ring = xcalloc(count, esize);
	if (!ring || snap_read(s, addr, ring, (size_t)esize * count) < 0) {
		free(ring);
		return 0;
	}
	free(s->unl);
	s->unl = xcalloc(count ? count : 1, sizeof *s->unl);
	s->nunl = 0;
	for (i = 0; s->unl && i < count; i++) {
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
		s->unl[s->nunl++] = u;
	}
	free(ring);
	return s->nunl;
}

/* The RVA of an export of an image in target memory, or 0. */
static u32
dump_export(struct snap *s, const struct dmodule *m, const char *want)
{
	struct pe_hdr h;
	u8 *ex = NULL;
	u32 erva = 0, esz = 0, nnames, afun, anames, aords, i, fn = 0;
	size_t wl = strlen(want) + 1;
	if (dump_pe_read(s, m->base, &h) < 0)
		return 0;
	dump_pe_dir(&h, 0, &erva, &esz);
	if (!erva || esz < 40 || esz > (16u << 20) || (u64)erva + esz > m->size || !(ex = malloc(esz)) ||
	    snap_read(s, m->base + erva, ex, esz) < 0) {
		free(ex);
		return 0;
	}
	memcpy(&nnames, ex + 24, 4);
	memcpy(&afun, ex + 28, 4);
	memcpy(&anames, ex + 32, 4);
	memcpy(&aords, ex + 36, 4);
	for (i = 0; i < nnames && !fn; i++) { /* names and tables lie in the export section */
		u32 nrva = 0, o = anames - erva + 4 * i;
		u16 ord = 0;
		if ((u64)o + 4 > esz)
			break;
		memcpy(&nrva, ex + o, 4);
		if (nrva < erva || (u64)nrva - erva + wl > esz || memcmp(ex + (nrva - erva), want, wl))
			continue;
		o = aords - erva + 2 * i;
		if ((u64)o + 2 > esz)
			break;
		memcpy(&ord, ex + o, 2);
		o = afun - erva + 4 * ord;
		if ((u64)o + 4 > esz)
			break;
		memcpy(&fn, ex + o, 4);
	}
	free(ex);
	return fn < m->size ? fn : 0;
}

/* The x86 view: the 32-bit ntdll's unload trace.  Its
 * RtlGetUnloadEventTraceEx stores three addresses of globals through its
 * three arguments, "mov dword ptr [reg], imm32" (C7 /0) each, in Windows'
 * and Wine's builds alike: take the first three such immediates that lie
 * inside that ntdll, from the export found in target memory. */
static int
dump_unload_trace32(struct snap *s, u64 out[3])
{
	const struct dmodule *nt = dump_find_module(s, L"ntdll.dll");
	u8 code[64];
	u32 fn, i;
	int k;
	if (!nt || !(fn = dump_export(s, nt, "RtlGetUnloadEventTraceEx")) ||
	    snap_read(s, nt->base + fn, code, sizeof code) < 0)
		return -1;
	for (i = 0, k = 0; i + 6 <= sizeof code && k < 3; i++) {
		u8 m = code[i + 1];
		u32 v;
		if (code[i] != 0xC7 || (m & 0xF8) != 0 || (m & 7) == 4 || (m & 7) == 5) /* C7 /0, [reg] */
			continue;
		memcpy(&v, code + i + 2, 4);
		if (v < nt->base || v >= nt->base + nt->size)
			continue;
		out[k++] = v;
		i += 5;
	}
	return k == 3 ? 0 : -1;
}

/* Unloaded modules from ntdll's unload event trace.  RtlGetUnloadEventTraceEx
 * answers with addresses in our own ntdll, which is at the same base in
 * every process of a boot (as Crashpad relies on); skipped when the bases
 * differ.  The x86 view reads the 32-bit ntdll's (dump_unload_trace32). */
static void
dump_collect_unloaded(struct snap *s)
{
	const struct dmodule *nt = dump_find_module(s, L"ntdll.dll");
	u64 a[3] = { 0, 0, 0 }, ring;  /* the addresses of: entry size, count, ring */
	u32 esize = 0, count = 0;
	int ok = 1;
	if (s->x86) {
		if (dump_unload_trace32(s, a) < 0)
			return;
	} else {
		PULONG psize = NULL, pcount = NULL;
		PVOID ptrace = NULL;
		if (!w32.RtlGetUnloadEventTraceEx || !nt || nt->base != (u64)(ULONG_PTR)w32_dlls[W32_NTDLL])
			return;
		w32.RtlGetUnloadEventTraceEx(&psize, &pcount, &ptrace);
		a[0] = (u64)(ULONG_PTR)psize;
		a[1] = (u64)(ULONG_PTR)pcount;
		a[2] = (u64)(ULONG_PTR)ptrace;
	}
	if (!a[0] || !a[1] || !a[2] || snap_read(s, a[0], &esize, 4) < 0 || snap_read(s, a[1], &count, 4) < 0)
		return;
	s->have_unl = 1;
	/* a[2] holds the address of the ring's pointer (Windows); if what it
	 * points to holds no module, a[2] is the ring itself. */
	ring = snap_ptr(s, a[2], &ok);
	if (!ok || !dump_read_unload_ring(s, ring, esize, count))
		dump_read_unload_ring(s, a[2], esize, count);
}

static void
dump_os_version(OSVERSIONINFOEXW *v)
{
	memset(v, 0, sizeof *v);
	v->dwOSVersionInfoSize = sizeof *v;
	if (!w32.RtlGetVersion || !PD_NT_SUCCESS(w32.RtlGetVersion(v))) {
		v->dwOSVersionInfoSize = sizeof *v;
		GetVersionExW((OSVERSIONINFOW *)v);
	}
}

/* SystemInfo of the view: AMD64 with the processor feature bits, or x86
 * with cpuid's vendor, version and feature words. */
static void
dump_collect_sysinfo(struct dump_state *d)
{
	MINIDUMP_SYSTEM_INFO *si = &d->sysinfo;
	SYSTEM_INFO ns;
	OSVERSIONINFOEXW v;
	int i;
	memset(si, 0, sizeof *si);
	GetNativeSystemInfo(&ns);
	dump_os_version(&v);
	if (!d->s->x86 && sizeof(void *) == 8) {
		si->ProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
		for (i = 0; i < 128; i++)
			if (IsProcessorFeaturePresent(i))
				si->Cpu.OtherCpuInfo.ProcessorFeatures[i / 64] |= 1ULL << (i % 64);
	} else {
		unsigned a, bx, c, dx;
		si->ProcessorArchitecture = PROCESSOR_ARCHITECTURE_INTEL;
		if (__get_cpuid(0, &a, &bx, &c, &dx)) {
			si->Cpu.X86CpuInfo.VendorId[0] = bx;
			si->Cpu.X86CpuInfo.VendorId[1] = dx;
			si->Cpu.X86CpuInfo.VendorId[2] = c;
			if (__get_cpuid(1, &a, &bx, &c, &dx)) {
				si->Cpu.X86CpuInfo.VersionInformation = a;
				si->Cpu.X86CpuInfo.FeatureInformation = dx;
			}
			if (si->Cpu.X86CpuInfo.VendorId[0] == 0x68747541 /* "Auth" */ && __get_cpuid(0x80000001, &a, &bx, &c, &dx))
				si->Cpu.X86CpuInfo.AMDExtendedCpuFeatures = dx;
		}
	}
	si->ProcessorLevel = ns.wProcessorLevel;
	si->ProcessorRevision = ns.wProcessorRevision;
	si->NumberOfProcessors = (u8)(ns.dwNumberOfProcessors > 255 ? 255 : ns.dwNumberOfProcessors);
	si->ProductType = v.wProductType;
	si->MajorVersion = v.dwMajorVersion;
	si->MinorVersion = v.dwMinorVersion;
	si->BuildNumber = v.dwBuildNumber;
	si->PlatformId = VER_PLATFORM_WIN32_NT;
	si->SuiteMask = v.wSuiteMask;
	wcsncpy(d->csd, v.szCSDVersion, sizeof d->csd / sizeof d->csd[0] - 1);
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

/* MiscInfo levels 3-4: integrity, time zone, the OS build string and which
 * writer wrote the dump. */
static void
dump_misc_build(const struct snap *s, struct md_misc5 *mi)
{
	TIME_ZONE_INFORMATION tz;
	DWORD id = GetTimeZoneInformation(&tz);
	OSVERSIONINFOEXW v;
	wchar_t lab[128], w[260];
	if (s->have_integrity) {
		mi->integrity = s->integrity;
		mi->m1.Flags1 |= 0x10; /* PROCESS_INTEGRITY */
	}
	if (id != TIME_ZONE_ID_INVALID) {
		_Static_assert(sizeof tz == 172, "TIME_ZONE_INFORMATION");
		memcpy(mi->tz, &tz, sizeof tz);
		mi->tz_id = id;
		mi->m1.Flags1 |= 0x40; /* TIMEZONE */
	}
	dump_os_version(&v);
	w32_build_lab(lab, 128);
	if (lab[0])
		swprintf(w, 260, L"%ls", lab);
	else
		swprintf(w, 260, L"%lu.%lu.%lu", v.dwMajorVersion, v.dwMinorVersion, v.dwBuildNumber);
	memcpy(mi->build, w, (wcslen(w) + 1) * 2);
	swprintf(w, 40, L"procdump.c." PD_ARCH "," PD_VERSION_W);
	memcpy(mi->dbg_bld, w, (wcslen(w) + 1) * 2);
	mi->m1.Flags1 |= 0x100; /* BUILDSTRING */
}

/* MiscInfo: level 5, or level 2 for triage (no build strings): PID,
 * process times, processor power, and the rest above. */
static void
dump_collect_misc(struct dump_state *d)
{
	const struct snap *s = d->s;
	struct md_misc5 *mi = &d->misc;
	int triage = (d->mask & MDT_FILTERTRIAGE) != 0;
	u32 power[5];
	memset(mi, 0, sizeof *mi);
	mi->m1.SizeOfInfo = triage ? 44 : sizeof *mi;
	mi->m1.Flags1 = 0x1 | 0x2; /* PROCESS_ID, PROCESS_TIMES */
	mi->m1.ProcessId = s->pid;
	mi->m1.ProcessCreateTime = ticks_to_time_t(s->create_time);
	mi->m1.ProcessUserTime = (u32)((s->user_time + 5000000) / 10000000);
	mi->m1.ProcessKernelTime = (u32)((s->kernel_time + 5000000) / 10000000);
	if (w32_power_info(power) == 0) {
		mi->m1.Flags1 |= 0x4; /* PROCESSOR_POWER_INFO */
		memcpy(&mi->max_mhz, power, sizeof power);
	}
	if (!triage)
		dump_misc_build(s, mi);
}

/* CommentStreamA and CommentStreamW of a -dc comment, NUL included, as
 * MiniDumpWriteDump user streams (our writer's and -dbghelp's): us[0] the
 * ANSI text (malloc'd; size 0 if it cannot be converted), us[1] the wide. */
static void
dump_comment_streams(const wchar_t *comment, MINIDUMP_USER_STREAM us[2])
{
	int na = WideCharToMultiByte(CP_ACP, 0, comment, -1, NULL, 0, NULL, NULL);
	char *a = na > 0 ? xcalloc(na, 1) : NULL;
	us[0].Type = CommentStreamA;
	us[0].BufferSize = 0;
	us[0].Buffer = a;
	if (a && WideCharToMultiByte(CP_ACP, 0, comment, -1, a, na, NULL, NULL))
		us[0].BufferSize = (ULONG)na;
	us[1].Type = CommentStreamW;
	us[1].BufferSize = (ULONG)((wcslen(comment) + 1) * 2);
	us[1].Buffer = (void *)comment;
}

/* ProcDump: "CLR processes are dumped as Full (-ma)" when MiniPlus is asked. */
static void
dump_miniplus_clr(struct dump_state *d)
{
	int i;
	for (i = 0; i < d->s->nmod && d->miniplus; i++)
		if (d->s->mod[i].name && path_is_clr(d->s->mod[i].name)) {
			out("%s MiniPlus: %s is loaded; writing a Full dump instead.\n", stamp(),
			    u8s(path_basename(d->s->mod[i].name)));
			d->mask = MDT_FULL;
			d->miniplus = 0;
		}
}

/* Everything the streams show, read from the frozen target.  0 or -1. */
static int
dump_collect(struct dump_state *d)
{
	struct snap *s = d->s;
	int i;
	s->ops->threads(s, (d->mask & MDT_XSTATE) != 0);
	if (s->ops->regions(s) < 0)
		return -1;
	s->ops->process(s);
	for (i = 0; i < s->nth; i++)
		dump_stack_bounds(s, &s->th[i]);
	dump_collect_modules(s);
	dump_miniplus_clr(d);
	if (d->mask & MDT_UNLOADEDMODULES)
		dump_collect_unloaded(s);
	if (d->mask & MDT_HANDLEDATA)
		s->ops->handles(s, !(d->mask & MDT_FILTERTRIAGE)); /* triage: types only */
	if (d->mask & MDT_TOKEN)
		s->ops->tokens(s);
	dump_collect_sysinfo(d);
	dump_collect_misc(d);
	if (d->req->comment)
		dump_comment_streams(d->req->comment, d->comment);
	return 0;
}

/* ============================ Writer: Memory ============================ */
/* Which memory a dump holds (doc/MINIDUMP.md section 1): ranges added,
 * clipped to readable regions, coalesced and cut; the plan of each dump
 * type (Mini: stacks, code around each IP, data sections, PEB/TEBs,
 * indirectly referenced memory; Full; MiniPlus); the triage sanitizer; and
 * with -md, the callback DLL's say over threads, modules and memory.
 * dump_plan(), last, makes the plan.  Lays out and writes nothing. */

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

/* Adds [start, start+size) clipped to readable regions of the map. */
static void
dump_add_readable(struct dump_state *d, u64 start, u64 size)
{
	const struct snap *s = d->s;
	u64 end = start + size;
	int i;
	if (end < start)
		end = ~0ULL;
	for (i = snap_region_index(s, start); i < s->nreg && s->reg[i].base < end; i++) {
		const struct dregion *r = &s->reg[i];
		u64 a = r->base, b = r->base + r->size;
		if (b <= start || a >= end || !snap_readable(r))
			continue;
		dump_add_range(d, a < start ? start : a, (b > end ? end : b) - (a < start ? start : a));
	}
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
			const struct dregion *ra = snap_region_of(d->s, cend - 1), *rb = snap_region_of(d->s, d->rng[i].start);
			if (d->rng[i].start - cend <= gap && ra && ra == rb)
				c->size = d->rng[i].start + d->rng[i].size - c->start;
			else
				d->rng[++o] = d->rng[i];
		}
		d->nrng = o + 1;
		gap *= 4;
	}
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

/* A UNICODE_STRING at us in the target: its buffer, with the NUL after. */
static void
dump_add_unicode_string(struct dump_state *d, u64 us)
{
	u16 len = 0;
	int ok = 1;
	u64 buf;
	if (snap_read(d->s, us, &len, 2) < 0)
		return;
	buf = snap_ptr(d->s, us + d->s->ps, &ok);
	if (ok && buf && len)
		dump_add_readable(d, buf, (u64)len + 2);
}

/* The environment block: it ends with two NULs; at most 32 K characters. */
static void
dump_add_environment(struct dump_state *d, u64 env)
{
	wchar_t chunk[2048];
	u64 n = 0;
	while (n < 32768) {
		size_t k;
		if (snap_read(d->s, env + n * 2, chunk, sizeof chunk) < 0)
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

/* ProcessThreadData: the PEB, the loader data and its module entries with
 * their names, the process parameters with their strings and environment,
 * and every TEB: what !peb and !teb read.  Layouts for the view's pointer
 * size.  Every pointer is checked against the memory map before it is
 * followed; a suspended loader may be mid-update. */
static void
dump_plan_process_data(struct dump_state *d)
{
	struct snap *s = d->s;
	const u64 ps = s->ps;
	const u64 peb_size = ps == 8 ? 0x7C8 : 0x480, ldr_size = ps == 8 ? 0x58 : 0x30;
	const u64 entry_size = ps == 8 ? 0x120 : 0xA8, params_size = ps == 8 ? 0x440 : 0x2C0;
	const u64 teb_size = ps == 8 ? 0x1838 : 0xFE4;
	/* UNICODE_STRING fields of RTL_USER_PROCESS_PARAMETERS: CurrentDirectory,
	 * DllPath, ImagePathName, CommandLine, WindowTitle, DesktopInfo, ShellInfo */
	static const u16 str64[] = { 0x38, 0x50, 0x60, 0x70, 0xB0, 0xC0, 0xD0 };
	static const u16 str32[] = { 0x24, 0x30, 0x38, 0x40, 0x70, 0x78, 0x80 };
	u64 ldr, params, head, cur, env;
	int ok = 1, i, guard = 0;

	for (i = 0; i < s->nth; i++)
		if (s->th[i].teb)
			dump_add_readable(d, s->th[i].teb, teb_size);
	if (!s->peb)
		return;
	dump_add_readable(d, s->peb, peb_size);
	ldr = snap_ptr(s, s->peb + (ps == 8 ? 0x18 : 0x0C), &ok);
	if (ok && snap_region_of(s, ldr)) {
		dump_add_readable(d, ldr, ldr_size);
		head = ldr + (ps == 8 ? 0x10 : 0x0C);
		cur = snap_ptr(s, head, &ok);
		while (ok && cur && cur != head && guard++ < 4096 && snap_region_of(s, cur)) {
			dump_add_readable(d, cur, entry_size);
			dump_add_unicode_string(d, cur + (ps == 8 ? 0x48 : 0x24));          /* FullDllName */
			dump_add_unicode_string(d, cur + (ps == 8 ? 0x48 + 16 : 0x24 + 8)); /* BaseDllName */
			cur = snap_ptr(s, cur, &ok);
		}
	}
	ok = 1;
	params = snap_ptr(s, s->peb + (ps == 8 ? 0x20 : 0x10), &ok);
	if (!ok || !snap_region_of(s, params))
		return;
	dump_add_readable(d, params, params_size);
	for (i = 0; i < 7; i++)
		dump_add_unicode_string(d, params + (ps == 8 ? str64[i] : str32[i]));
	env = snap_ptr(s, params + (ps == 8 ? 0x80 : 0x48), &ok);
	if (ok && env && snap_region_of(s, env))
		dump_add_environment(d, env);
}

/* The general registers of a thread's context, as pointer-sized values. */
static size_t
dump_context_registers(const struct snap *s, const struct dthread *t, u64 regs[17])
{
	size_t n = 0;
	if (!t->ctx_ok)
		return 0;
	if (s->x86) {
		const WOW64_CONTEXT *c = (const WOW64_CONTEXT *)t->ctx;
		u64 r[] = { c->Eax, c->Ebx, c->Ecx, c->Edx, c->Esi, c->Edi, c->Ebp };
		for (n = 0; n < sizeof r / sizeof r[0]; n++)
			regs[n] = r[n];
	} else {
		const CONTEXT *c = t->ctx;
		u64 r[] = PD_CTX_GPRS(c);
		for (n = 0; n < sizeof r / sizeof r[0]; n++)
			regs[n] = r[n];
	}
	return n;
}

/* Calls fn for every register and every pointer-aligned word of each
 * thread's stack ([stk_lo, stk_hi), at most 4 MiB), with the stack's
 * bounds; fn returns nonzero to stop.  Values that cannot be user-space
 * pointers (below 64 KiB or in the top 64 KiB) are skipped. */
typedef int (*dump_word_fn)(struct dump_state *, u64 lo, u64 hi, u64 v, void *ctx);

static void
dump_scan_pointers(struct dump_state *d, dump_word_fn fn, void *ctx)
{
	struct snap *s = d->s;
	u64 top = s->nreg ? s->reg[s->nreg - 1].base + s->reg[s->nreg - 1].size : 0;
	int i, stop = 0;
	for (i = 0; i < s->nth && !stop; i++) {
		const struct dthread *t = &s->th[i];
		u8 *words = NULL;
		size_t nw = 0, k, nreg;
		u64 lo = (t->ctx_ok && t->sp > t->stk_lo && t->sp < t->stk_hi ? t->sp : t->stk_lo) & ~(u64)(s->ps - 1);
		u64 hi = t->stk_hi, regs[17];
		nreg = dump_context_registers(s, t, regs);
		if (hi > lo && hi - lo <= (4u << 20)) {
			nw = (size_t)((hi - lo) / s->ps);
			words = malloc(nw * s->ps);
			if (!words || snap_read_fill(s, lo, words, nw * s->ps) == nw * s->ps)
				nw = 0; /* nothing readable */
		}
		for (k = 0; k < nreg + nw && !stop; k++) {
			u64 v = 0;
			if (k < nreg)
				v = regs[k];
			else
				memcpy(&v, words + (k - nreg) * s->ps, s->ps); /* little-endian */
			if (v < 0x10000 || v > top - 0x10000)
				continue;
			stop = fn(d, lo, hi, v, ctx);
		}
		free(words);
	}
}

/* Indirectly referenced memory (Crashpad's algorithm): every register and
 * every pointer-aligned word of each captured stack that points into
 * readable memory outside that stack adds [v-128, v+384).  One level, with
 * a budget of 16 MiB of windows. */
#define PD_INDIRECT_BUDGET (16u << 20)

static int
dump_indirect_word(struct dump_state *d, u64 lo, u64 hi, u64 v, void *ctx)
{
	u64 *spent = ctx;
	const struct dregion *r;
	if (v >= lo && v < hi)
		return 0; /* into this thread's own stack: already there */
	r = snap_region_of(d->s, v);
	if (!r || !snap_readable(r))
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
		vlog("indirectly referenced memory: budget of %u MiB spent", PD_INDIRECT_BUDGET >> 20);
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
dump_mp_alloc_cmp(const void *x, const void *y)
{
	const struct mp_alloc *a = x, *b = y;
	return a->size < b->size ? -1 : a->size > b->size;
}

/* Private allocations (by AllocationBase) and their committed readable
 * sizes, in address order.  Returns how many, or -1. */
static int
dump_mp_allocations(const struct snap *s, struct mp_alloc **out)
{
	struct mp_alloc *a = NULL;
	int n = 0, cap = 0, i;
	for (i = 0; i < s->nreg; i++) {
		const struct dregion *r = &s->reg[i];
		if (!snap_readable(r) || r->type != MEM_PRIVATE)
			continue;
		if (n && a[n - 1].base == r->alloc_base) {
			a[n - 1].size += r->size;
			continue;
		}
		if (vec_grow(&a, &cap, n, sizeof *a, 256) < 0) {
			free(a);
			return -1;
		}
		a[n].base = r->alloc_base;
		a[n].size = r->size;
		a[n].excluded = 0;
		n++;
	}
	*out = a;
	return n;
}

/* Marks the heaviest area over 512 MB excluded (sort by size, weigh runs
 * of equal sizes) and records it in d. */
static void
dump_mp_exclude_heaviest(struct dump_state *d, struct mp_alloc *a, int n)
{
	struct mp_alloc *s = n ? malloc(n * sizeof *s) : NULL;
	u64 best_size = 0, best_weight = 0;
	int best_count = 0, i, j;
	if (!s)
		return;
	memcpy(s, a, n * sizeof *s);
	qsort(s, n, sizeof *s, dump_mp_alloc_cmp);
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
	if (best_weight <= (512ULL << 20))
		return;
	for (i = 0; i < n; i++)
		a[i].excluded = a[i].size == best_size;
	d->mp_excluded = best_weight;
	d->mp_excluded_count = best_count;
	d->mp_excluded_size = best_size;
}

static void
dump_plan_miniplus(struct dump_state *d)
{
	const struct snap *s = d->s;
	struct mp_alloc *a = NULL;
	struct mp_ctx c;
	int n = dump_mp_allocations(s, &a), i, j;
	if (n < 0)
		return;
	dump_mp_exclude_heaviest(d, a, n);
	/* candidates: private memory not excluded, writable image/mapped pages */
	for (i = 0; i < s->nreg; i++) {
		const struct dregion *r = &s->reg[i];
		DWORD p = r->protect & 0xFF;
		int ex = 0;
		if (!snap_readable(r))
			continue;
		for (j = 0; j < n && r->type == MEM_PRIVATE; j++)
			if (a[j].base == r->alloc_base && a[j].excluded)
				ex = 1;
		if ((r->type == MEM_PRIVATE && !ex) ||
		    (r->type != MEM_PRIVATE && (p == PAGE_READWRITE || p == PAGE_WRITECOPY ||
		                                p == PAGE_EXECUTE_READWRITE || p == PAGE_EXECUTE_WRITECOPY)))
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

/* The -64 view of a WOW64 process also holds what lets a reader switch to
 * the x86 side (lldb reads the x86 CONTEXT at TEB64.TlsSlots[1] + 4,
 * WOW64_TLS_CPURESERVED; WinDbg's !wow64exts.sw): that area, the 32-bit
 * TEB, the 32-bit stack from ESP to its base and the code around EIP. */
static void
dump_plan_wow64_thread(struct dump_state *d, const struct dthread *t)
{
	struct snap *s = d->s;
	u64 cpu, teb32, base, limit, lo;
	u32 v = 0, esp = 0, eip = 0;
	int ok = 1;
	if (!t->teb)
		return;
	cpu = snap_ptr(s, t->teb + 0x1480 + 8, &ok); /* TlsSlots[1] */
	if (ok && cpu) {
		dump_add_readable(d, cpu, 4 + sizeof(WOW64_CONTEXT));
		snap_read(s, cpu + 4 + offsetof(WOW64_CONTEXT, Esp), &esp, 4);
		snap_read(s, cpu + 4 + offsetof(WOW64_CONTEXT, Eip), &eip, 4);
	}
	teb32 = snap_teb32(s, t->teb);
	dump_add_readable(d, teb32, 0xFE4);
	if (snap_read(s, teb32 + 4, &v, 4) < 0)
		return;
	base = v;
	if (snap_read(s, teb32 + 8, &v, 4) < 0)
		return;
	limit = v;
	lo = esp >= limit && esp < base ? esp - 4 : limit;
	if (base > lo && base - lo <= (16u << 20))
		dump_add_readable(d, lo, base - lo);
	if (eip > 128)
		dump_add_readable(d, eip - 128, 256);
}

/* Every stack (dump_stack_bounds; for an SP outside the TEB's stack, the
 * TEB's committed stack too, where the OS frames are), 256 bytes around
 * every IP and the exception address, as the -md write flags allow. */
static void
dump_plan_threads(struct dump_state *d)
{
	const struct snap *s = d->s;
	const struct pd_event *ev = d->req->ev;
	int i;
	for (i = 0; i < s->nth; i++) {
		const struct dthread *t = &s->th[i];
		ULONG wf = d->req->callback ? t->write_flags : 0x7F;
		if (t->stk_hi > t->stk_lo && (wf & 0x2 /* ThreadWriteStack */))
			dump_add_readable(d, t->stk_lo, t->stk_hi - t->stk_lo);
		if (t->alt_stack && t->stack_base > t->stack_limit && (wf & 0x2))
			dump_add_readable(d, t->stack_limit, t->stack_base - t->stack_limit);
		if (t->ctx_ok && t->ip > 128 && (wf & 0x10 /* ThreadWriteInstructionWindow */))
			dump_add_readable(d, t->ip - 128, 256);
		if (s->wow_native && (wf & 0x2))
			dump_plan_wow64_thread(d, t);
	}
	if (ev && ev->has_exception && (u64)(ULONG_PTR)ev->rec.ExceptionAddress > 128)
		dump_add_readable(d, (u64)(ULONG_PTR)ev->rec.ExceptionAddress - 128, 256);
}

/* Module sections: writable ones (DataSegs: the globals), code (CodeSegs),
 * the headers (ModuleHeaders). */
static void
dump_plan_modules(struct dump_state *d, u64 mask)
{
	int i, k;
	for (i = 0; i < d->s->nmod; i++) {
		const struct dmodule *m = &d->s->mod[i];
		for (k = 0; k < m->nwsec && (mask & MDT_DATASEGS); k++)
			dump_add_readable(d, m->base + m->wsec[k].rva, m->wsec[k].size);
		for (k = 0; k < m->ncsec && (mask & MDT_CODESEGS); k++)
			dump_add_readable(d, m->base + m->csec[k].rva, m->csec[k].size);
		if ((mask & MDT_MODULEHEADERS) && m->header_size)
			dump_add_readable(d, m->base, m->header_size);
	}
}

/* Plans the memory ranges of a MINIDUMP_TYPE mask (-mm and -ma are fixed
 * masks). */
static void
dump_plan_memory(struct dump_state *d)
{
	const struct snap *s = d->s;
	u64 mask = d->mask;
	/* WithoutOptionalData drops what these flags would add */
	u64 opt = mask & MDT_WITHOUTOPTIONAL ? mask & ~(u64)(MDT_PROCESSTHREADDATA | MDT_INDIRECT |
	                                                     MDT_PRIVATERW) : mask;
	int i;
	if (mask & MDT_FULLMEMORY) {
		for (i = 0; i < s->nreg; i++)
			if (snap_readable(&s->reg[i]))
				dump_add_range(d, s->reg[i].base, s->reg[i].size);
		d->nrng = snap_range_merge(d->rng, d->nrng, ~0ULL);
		return;
	}
	dump_plan_threads(d);
	dump_plan_modules(d, mask);
	for (i = 0; i < s->nreg && !d->miniplus; i++) { /* (MiniPlus selects its own) */
		const struct dregion *r = &s->reg[i];
		if (!snap_readable(r))
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
	d->nrng = snap_range_merge(d->rng, d->nrng, 0xFFFFF000ULL);
	dump_limit_ranges(d, 4000);
}

/* The captured stack of a thread: the part of [stk_lo, stk_hi) that the
 * planned ranges hold, within the range that contains its start. */
static void
dump_thread_stack(struct dump_state *d, struct dthread *t)
{
	u64 lo = t->stk_lo, hi = t->stk_hi;
	int i;
	t->stk_start = t->stk_size = 0;
	if (hi <= lo)
		return;
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

/* FilterTriage on one stack [lo, hi) of thread t within [addr, addr+n)
 * (the rule: dump_sanitize_stacks). */
static void
dump_sanitize_range(const struct snap *s, const struct dthread *t, u64 lo, u64 hi, u64 addr, u8 *bytes, u64 n)
{
	const size_t ws = s->ps;
	const u64 vmax = ws == 8 ? ~0ULL : 0xFFFFFFFFULL;
	u64 a;
	if (hi <= lo || hi <= addr || lo >= addr + n)
		return;
	lo = ((lo < addr ? addr : lo) + ws - 1) & ~(u64)(ws - 1);
	if (hi > addr + n)
		hi = addr + n;
	for (a = lo; a + ws <= hi; a += ws) {
		u64 v = 0;
		const struct dregion *r;
		memcpy(&v, bytes + (a - addr), ws); /* little-endian */
		if (v <= 4096 || v >= vmax - 4095 || (v >= t->stk_lo && v < t->stk_hi) ||
		    (v >= t->stack_limit && v < t->stack_base))
			continue;
		r = snap_region_of(s, v);
		if (r && r->state == MEM_COMMIT && (r->protect & 0xF0)) /* PAGE_EXECUTE* */
			continue;
		v = 0x0defaced0defacedULL; /* its low 4 bytes in the x86 view */
		memcpy(bytes + (a - addr), &v, ws);
	}
}

/* FilterTriage (model: Breakpad's SanitizeStackCopy): in the stacks in
 * [addr, addr+n) (each thread's captured stack, and for a thread on a
 * stack of its own the TEB's stack too), keep a word only if it is a small
 * integer (|v| <= 4096), points into that thread's stacks, or points into
 * executable memory (return addresses); overwrite the rest with 0x0defaced.
 * Frames still walk; data such as strings and keys on the stacks is gone. */
static void
dump_sanitize_stacks(struct dump_state *d, u64 addr, u8 *bytes, u64 n)
{
	const struct snap *s = d->s;
	int i;
	for (i = 0; i < s->nth; i++) {
		const struct dthread *t = &s->th[i];
		if (t->stk_size)
			dump_sanitize_range(s, t, t->stk_start, t->stk_start + t->stk_size, addr, bytes, n);
		if (t->alt_stack)
			dump_sanitize_range(s, t, t->stack_limit, t->stack_base, addr, bytes, n);
	}
}

/* -md: a MiniDumpCallbackRoutine DLL written for ProcDump, called as
 * dbghelp calls it, edits the threads, modules and ranges of the plan.
 * Owns nothing else; the DLL is loaded by Main. */

/* The order dbghelp calls in: IncludeThread and Thread for each thread,
 * IncludeModule and Module for each module (FALSE leaves it out; the write
 * flags leave out parts), then Memory until FALSE or size 0 (ranges to
 * add), RemoveMemory likewise (ranges to cut), and Cancel before writing. */

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
	in->ProcessId = d->s->pid;
	in->ProcessHandle = d->s->process_handle;
	in->CallbackType = type;
	return d->req->callback(d->req->callback_param, in, out);
}

/* IncludeThread, then Thread: does the callback keep t?  t->write_flags
 * gets what it left. */
static int
dump_callback_thread(struct dump_state *d, MINIDUMP_CALLBACK_INPUT *in, struct dthread *t)
{
	MINIDUMP_CALLBACK_OUTPUT out;
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
		in->Thread.SizeOfContext = snap_context_size(d->s);
		in->Thread.StackBase = t->stack_base;
		in->Thread.StackEnd = t->stack_limit;
		ok = dump_call(d, ThreadCallback, in, &out);
		t->write_flags = out.ThreadWriteFlags;
	}
	return ok && (t->write_flags & 0x1 /* ThreadWriteThread */);
}

/* IncludeModule, then Module: does the callback keep m?  m->write_flags
 * gets what it left. */
static int
dump_callback_module(struct dump_state *d, MINIDUMP_CALLBACK_INPUT *in, struct dmodule *m)
{
	MINIDUMP_CALLBACK_OUTPUT out;
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
	return ok && (m->write_flags & 0x1 /* ModuleWriteModule */);
}

/* A kept module loses the parts its write flags leave out. */
static void
dump_module_flags(struct dmodule *m)
{
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
}

/* Thread and module callbacks; before the plan.  Threads left out move to
 * the end (still held: thawed with the rest), modules left out are freed.
 * Returns -1 on no memory. */
static int
dump_callbacks_select(struct dump_state *d)
{
	struct snap *s = d->s;
	MINIDUMP_CALLBACK_INPUT *in = _aligned_malloc(sizeof *in, 16);
	int i, keep;
	if (!in)
		return -1;
	for (i = 0, keep = 0; i < s->nth; i++) {
		struct dthread tmp;
		if (!dump_callback_thread(d, in, &s->th[i])) {
			vlog("callback: thread %lu left out", s->th[i].tid);
			continue;
		}
		tmp = s->th[keep];
		s->th[keep++] = s->th[i];
		s->th[i] = tmp;
	}
	s->nth = keep;
	for (i = 0, keep = 0; i < s->nmod; i++) {
		struct dmodule *m = &s->mod[i];
		if (!dump_callback_module(d, in, m)) {
			vlog("callback: module %s left out", u8s(m->name ? m->name : L"?"));
			free(m->name);
			free(m->cv);
			free(m->misc);
			continue;
		}
		dump_module_flags(m);
		s->mod[keep++] = *m;
	}
	s->nmod = keep;
	_aligned_free(in);
	return 0;
}

/* Memory and RemoveMemory callbacks, after the plan; then Cancel.
 * Returns 1 when the callback cancels the dump, -1 on no memory. */
static int
dump_callbacks_memory(struct dump_state *d)
{
	MINIDUMP_CALLBACK_INPUT *in = _aligned_malloc(sizeof *in, 16);
	MINIDUMP_CALLBACK_OUTPUT out;
	int k, cancel = 0, added = 0, removed = 0;
	if (!in)
		return -1;
	for (k = 0; k < 100000; k++) {
		dump_call_reset(in, &out, 0);
		if (!dump_call(d, MemoryCallback, in, &out) || !out.MemorySize)
			break;
		dump_add_readable(d, out.MemoryBase, out.MemorySize);
		added = 1;
	}
	if (added)
		d->nrng = snap_range_merge(d->rng, d->nrng, 0xFFFFF000ULL);
	for (k = 0; k < 100000; k++) {
		dump_call_reset(in, &out, 0);
		if (!dump_call(d, RemoveMemoryCallback, in, &out) || !out.MemorySize)
			break;
		dump_remove_range(d, out.MemoryBase, out.MemorySize);
		removed = 1;
	}
	if (removed)
		qsort(d->rng, d->nrng, sizeof *d->rng, snap_range_cmp);
	dump_call_reset(in, &out, 0);
	if (dump_call(d, CancelCallback, in, &out) && out.Cancel)
		cancel = 1;
	_aligned_free(in);
	return cancel;
}

/* The memory ranges and the captured stacks, the -md callbacks having
 * their say.  0 or -1 (no memory, or the callback cancelled). */
static int
dump_plan(struct dump_state *d)
{
	int i, rc;
	if (d->req->callback && dump_callbacks_select(d) < 0)
		return -1;
	dump_plan_memory(d);
	if (d->req->callback && (rc = dump_callbacks_memory(d))) {
		if (rc > 0)
			warn("the -md callback DLL cancelled the dump");
		return -1;
	}
	for (i = 0; i < d->s->nth; i++) /* from the final ranges: a callback may have cut into a stack */
		dump_thread_stack(d, &d->s->th[i]);
	if (d->mp_excluded)
		out("%s MiniPlus: left out %d allocations of %llu MB (%llu MB); referenced 4 MB chunks kept.\n",
		    stamp(), d->mp_excluded_count, d->mp_excluded_size >> 20, d->mp_excluded >> 20);
	return 0;
}

/* ============================ Writer: Streams =========================== */
/* The streams, one dump_put_* each, in the order of dump_streams[] below,
 * then the MemoryList or Memory64List; dump_layout() lays the dump out in
 * one buffer, all but a Memory64 blob (which follows it in the file).
 * Reads the snapshot, the plan and the request (its exception, its cancel
 * event); writes nothing to the file. */

/* A MINIDUMP_STRING (length, UTF-16, NUL) in the buffer; returns its RVA. */
static u32
dump_add_string(struct buf *b, const wchar_t *s)
{
	u32 len = (u32)(wcslen(s) * 2);
	size_t off = buf_add(b, &len, 4, 4);
	buf_add(b, s, len + 2, 1);
	return (u32)off;
}

/* A thread's context into the buffer: its XState context, its CONTEXT, or
 * a zeroed one naming the CPU (ThreadInfo says INVALID_CONTEXT). */
static MINIDUMP_LOCATION_DESCRIPTOR
dump_put_context(struct dump_state *d, struct buf *b, const struct dthread *t)
{
	MINIDUMP_LOCATION_DESCRIPTOR l;
	l.DataSize = snap_context_size(d->s);
	if (t->ctx_ok && t->xlen) {
		l.DataSize = t->xlen;
		l.Rva = (u32)buf_add(b, t->xctx, t->xlen, 64);
	} else if (t->ctx_ok && t->ctx)
		l.Rva = (u32)buf_add(b, t->ctx, l.DataSize, 16);
	else {
		l.Rva = (u32)buf_add(b, NULL, l.DataSize, 16);
		if (!b->oom)
			snap_context_cpu(d->s, b->p + l.Rva);
	}
	return l;
}

/* ThreadList: entries now, their stack RVAs once the memory is laid out
 * (dump_patch_stacks). */
static int
dump_put_thread_list(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	struct snap *s = d->s;
	u32 n = (u32)s->nth;
	int i, xstate = 0;
	dir->Location.Rva = (u32)buf_add(b, &n, 4, 4);
	dir->Location.DataSize = 4 + sizeof(MINIDUMP_THREAD) * n;
	d->threads_off = buf_add(b, NULL, sizeof(MINIDUMP_THREAD) * n, 4);
	for (i = 0; i < s->nth && !b->oom; i++) {
		const struct dthread *t = &s->th[i];
		MINIDUMP_THREAD mt;
		memset(&mt, 0, sizeof mt);
		mt.ThreadId = t->tid;
		mt.SuspendCount = t->prev_suspend;
		mt.PriorityClass = s->prio_class;
		mt.Priority = (u32)t->prio;
		mt.Teb = t->teb;
		mt.Stack.StartOfMemoryRange = t->stk_start;
		mt.Stack.Memory.DataSize = (u32)t->stk_size;
		mt.ThreadContext = dump_put_context(d, b, t);
		xstate |= t->ctx_ok && t->xlen && !(d->mask & MDT_FILTERTRIAGE); /* triage: no XStateData */
		if (!b->oom)
			memcpy(b->p + d->threads_off + i * sizeof mt, &mt, sizeof mt);
	}
	if (!xstate)
		d->dropped |= MDT_XSTATE;
	return b->oom ? -1 : 1;
}

/* ThreadInfoList: times, start address, affinity, exit status. */
static int
dump_put_thread_info(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	MINIDUMP_THREAD_INFO_LIST hl = { sizeof hl, sizeof(struct md_threadinfo), (u32)d->s->nth };
	int i;
	dir->Location.Rva = (u32)buf_add(b, &hl, sizeof hl, 4);
	dir->Location.DataSize = (u32)(sizeof hl + sizeof(struct md_threadinfo) * d->s->nth);
	for (i = 0; i < d->s->nth; i++)
		buf_add(b, &d->s->th[i].info, sizeof d->s->th[i].info, 1);
	return b->oom ? -1 : 1;
}

/* ThreadNames, when some thread has a description. */
static int
dump_put_thread_names(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	struct snap *s = d->s;
	u32 n = 0, k = 0;
	size_t ents;
	int i;
	for (i = 0; i < s->nth; i++)
		n += s->th[i].name != NULL;
	if (!n)
		return 0;
	dir->Location.Rva = (u32)buf_add(b, &n, 4, 4);
	dir->Location.DataSize = 4 + sizeof(struct md_threadname) * n;
	ents = buf_add(b, NULL, sizeof(struct md_threadname) * n, 1);
	for (i = 0; i < s->nth && !b->oom; i++) {
		struct md_threadname tn;
		if (!s->th[i].name)
			continue;
		tn.tid = s->th[i].tid;
		tn.name_rva = dump_add_string(b, s->th[i].name);
		if (!b->oom)
			memcpy(b->p + ents + sizeof tn * k++, &tn, sizeof tn);
	}
	return b->oom ? -1 : 1;
}

static int
dump_put_unloaded(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	struct snap *s = d->s;
	MINIDUMP_UNLOADED_MODULE_LIST hl = { sizeof hl, sizeof(MINIDUMP_UNLOADED_MODULE), (u32)s->nunl };
	size_t ents;
	int i;
	if (!s->have_unl)
		return 0;
	dir->Location.Rva = (u32)buf_add(b, &hl, sizeof hl, 4);
	dir->Location.DataSize = (u32)(sizeof hl + sizeof(MINIDUMP_UNLOADED_MODULE) * s->nunl);
	ents = buf_add(b, NULL, sizeof(MINIDUMP_UNLOADED_MODULE) * s->nunl, 1);
	for (i = 0; i < s->nunl && !b->oom; i++) {
		MINIDUMP_UNLOADED_MODULE u;
		u.BaseOfImage = s->unl[i].base;
		u.SizeOfImage = s->unl[i].size;
		u.CheckSum = s->unl[i].checksum;
		u.TimeDateStamp = s->unl[i].timestamp;
		u.ModuleNameRva = dump_add_string(b, s->unl[i].name);
		if (!b->oom)
			memcpy(b->p + ents + sizeof u * i, &u, sizeof u);
	}
	return b->oom ? -1 : 1;
}

static int
dump_put_modules(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	struct snap *s = d->s;
	u32 n = (u32)s->nmod;
	size_t mods;
	int i;
	dir->Location.Rva = (u32)buf_add(b, &n, 4, 4);
	dir->Location.DataSize = 4 + sizeof(MINIDUMP_MODULE) * n;
	mods = buf_add(b, NULL, sizeof(MINIDUMP_MODULE) * n, 4);
	for (i = 0; i < s->nmod && !b->oom; i++) {
		const struct dmodule *m = &s->mod[i];
		MINIDUMP_MODULE mm;
		memset(&mm, 0, sizeof mm);
		mm.BaseOfImage = m->base;
		mm.SizeOfImage = m->size;
		mm.CheckSum = m->checksum;
		mm.TimeDateStamp = m->timestamp;
		mm.ModuleNameRva = dump_add_string(b, !m->name ? L"" :
		                              (d->mask & MDT_FILTERMODULEPATHS) ? path_basename(m->name) : m->name);
		mm.VersionInfo = m->ver;
		mm.VersionInfo.dwSignature = VS_FFI_SIGNATURE;
		if (!mm.VersionInfo.dwStrucVersion)
			mm.VersionInfo.dwStrucVersion = 0x10000;
		if (m->cv) {
			mm.CvRecord.DataSize = m->cv_len;
			mm.CvRecord.Rva = (u32)buf_add(b, m->cv, m->cv_len, 4);
		}
		if (m->misc) {
			mm.MiscRecord.DataSize = m->misc_len;
			mm.MiscRecord.Rva = (u32)buf_add(b, m->misc, m->misc_len, 4);
		}
		if (!b->oom)
			memcpy(b->p + mods + i * sizeof mm, &mm, sizeof mm);
	}
	return b->oom ? -1 : 1;
}

/* HandleData, descriptor v2; each distinct type name written once (a table
 * past its size only costs repeated strings). */
static int
dump_put_handles(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	struct snap *s = d->s;
	MINIDUMP_HANDLE_DATA_STREAM hs = { sizeof hs, sizeof(struct md_handle), (u32)s->nhdl, 0 };
	struct { const wchar_t *name; u32 rva; } types[128];
	int ntypes = 0, i, k;
	size_t ents;
	if (!s->have_hdl)
		return 0;
	dir->Location.Rva = (u32)buf_add(b, &hs, sizeof hs, 4);
	dir->Location.DataSize = (u32)(sizeof hs + sizeof(struct md_handle) * s->nhdl);
	ents = buf_add(b, NULL, sizeof(struct md_handle) * s->nhdl, 1);
	for (i = 0; i < s->nhdl && !b->oom; i++) {
		const struct dhandle *h = &s->hdl[i];
		struct md_handle mh;
		memset(&mh, 0, sizeof mh);
		mh.handle = h->value;
		mh.attributes = h->attributes;
		mh.granted_access = h->access;
		mh.handle_count = h->handle_count;
		mh.pointer_count = h->pointer_count;
		for (k = 0; k < ntypes && h->type; k++)
			if (!wcscmp(types[k].name, h->type)) {
				mh.type_rva = types[k].rva;
				break;
			}
		if (h->type && !mh.type_rva) {
			mh.type_rva = dump_add_string(b, h->type);
			if (ntypes < (int)(sizeof types / sizeof types[0])) {
				types[ntypes].name = h->type;
				types[ntypes++].rva = mh.type_rva;
			}
		}
		if (h->name)
			mh.name_rva = dump_add_string(b, h->name);
		if (!b->oom)
			memcpy(b->p + ents + sizeof mh * i, &mh, sizeof mh);
	}
	return b->oom ? -1 : 1;
}

/* Token: built whole by live_tokens. */
static int
dump_put_tokens(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	if (!d->s->have_tok)
		return 0;
	dir->Location.DataSize = (u32)d->s->tok.len;
	dir->Location.Rva = (u32)buf_add(b, d->s->tok.p, d->s->tok.len, 8);
	return b->oom ? -1 : 1;
}

static int
dump_put_system_info(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	size_t off = buf_add(b, &d->sysinfo, sizeof d->sysinfo, 4);
	u32 csd = dump_add_string(b, d->csd);
	if (b->oom)
		return -1;
	memcpy(b->p + off + offsetof(MINIDUMP_SYSTEM_INFO, CSDVersionRva), &csd, 4);
	dir->Location.DataSize = sizeof d->sysinfo;
	dir->Location.Rva = (u32)off;
	return 1;
}

/* MiscInfo; XStateData (level 5) from the threads the dump keeps. */
static int
dump_put_misc_info(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	int i;
	for (i = 0; i < d->s->nth && d->misc.m1.SizeOfInfo == sizeof d->misc; i++)
		if (d->s->th[i].ctx_ok && d->s->th[i].xlen) { /* the machine's XSTATE_CONFIGURATION */
			dump_misc_xstate(&d->misc, d->s->th[i].xlen);
			break;
		}
	dir->Location.DataSize = d->misc.m1.SizeOfInfo;
	dir->Location.Rva = (u32)buf_add(b, &d->misc, d->misc.m1.SizeOfInfo, 4);
	return b->oom ? -1 : 1;
}

/* ProcessVmCounters (22): MINIDUMP_PROCESS_VM_COUNTERS_2, as recent dbghelp
 * writes by default. */
static int
dump_put_vm_counters(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	const struct pd_vm_counters *vm = &d->s->vm;
	u8 v[152];
	u16 rev = 2, flags = 0x1 | 0x2 | 0x4; /* VM_COUNTERS, VIRTUALSIZE, EX */
	u64 f[11];
	if (!d->s->have_vm)
		return 0;
	memset(v, 0, sizeof v);
	f[0] = vm->PeakWorkingSetSize; f[1] = vm->WorkingSetSize;
	f[2] = vm->QuotaPeakPagedPoolUsage; f[3] = vm->QuotaPagedPoolUsage;
	f[4] = vm->QuotaPeakNonPagedPoolUsage; f[5] = vm->QuotaNonPagedPoolUsage;
	f[6] = vm->PagefileUsage; f[7] = vm->PeakPagefileUsage;
	f[8] = vm->PeakVirtualSize; f[9] = vm->VirtualSize; f[10] = vm->PrivateUsage;
	memcpy(v, &rev, 2);
	memcpy(v + 2, &flags, 2);
	memcpy(v + 4, &vm->PageFaultCount, 4);
	memcpy(v + 8, f, sizeof f);
	dir->Location.DataSize = sizeof v;
	dir->Location.Rva = (u32)buf_add(b, v, sizeof v, 8);
	return b->oom ? -1 : 1;
}

/* Exception: the record, and the faulting thread's context (in the x86
 * view, its WOW64 context, read while it is stopped). */
static int
dump_put_exception(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	const struct pd_event *ev = d->req->ev;
	const EXCEPTION_RECORD *er;
	MINIDUMP_EXCEPTION_STREAM ex;
	const struct dthread *et = NULL;
	DWORD k;
	int i;
	if (!ev || !ev->has_exception)
		return 0;
	er = &ev->rec;
	memset(&ex, 0, sizeof ex);
	ex.ThreadId = ev->tid;
	ex.ExceptionRecord.ExceptionCode = er->ExceptionCode;
	if (d->s->x86 && ex.ExceptionRecord.ExceptionCode == 0x4000001F) /* STATUS_WX86_BREAKPOINT, as x86 sees it */
		ex.ExceptionRecord.ExceptionCode = EXCEPTION_BREAKPOINT;
	if (d->s->x86 && ex.ExceptionRecord.ExceptionCode == 0x4000001E) /* STATUS_WX86_SINGLE_STEP */
		ex.ExceptionRecord.ExceptionCode = EXCEPTION_SINGLE_STEP;
	ex.ExceptionRecord.ExceptionFlags = er->ExceptionFlags;
	ex.ExceptionRecord.ExceptionRecord = (u64)(ULONG_PTR)er->ExceptionRecord;
	ex.ExceptionRecord.ExceptionAddress = (u64)(ULONG_PTR)er->ExceptionAddress;
	ex.ExceptionRecord.NumberParameters = er->NumberParameters > 15 ? 15 : er->NumberParameters;
	for (k = 0; k < ex.ExceptionRecord.NumberParameters; k++)
		ex.ExceptionRecord.ExceptionInformation[k] = (u64)er->ExceptionInformation[k];
	ex.ThreadContext.DataSize = snap_context_size(d->s);
	if (!d->s->x86)
		ex.ThreadContext.Rva = (u32)buf_add(b, &ev->ctx, sizeof(CONTEXT), 16);
	else {
		for (i = 0; i < d->s->nth; i++)
			if (d->s->th[i].tid == ex.ThreadId && d->s->th[i].ctx_ok)
				et = &d->s->th[i];
		ex.ThreadContext.Rva = (u32)buf_add(b, et ? (const void *)et->ctx : NULL, ex.ThreadContext.DataSize, 16);
		if (!et && !b->oom)
			snap_context_cpu(d->s, b->p + ex.ThreadContext.Rva);
	}
	dir->Location.DataSize = sizeof ex;
	dir->Location.Rva = (u32)buf_add(b, &ex, sizeof ex, 4);
	return b->oom ? -1 : 1;
}

/* CommentStreamA or W (dump_layout set dir->StreamType before the call). */
static int
dump_put_comment(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	const MINIDUMP_USER_STREAM *us = &d->comment[dir->StreamType == CommentStreamW];
	if (!us->BufferSize)
		return 0;
	dir->Location.DataSize = us->BufferSize;
	dir->Location.Rva = (u32)buf_add(b, us->Buffer, us->BufferSize, 4);
	return b->oom ? -1 : 1;
}

/* Room kept at layout for the note on unreadable memory (struct dump_note),
 * inside 32-bit RVAs; CommentStreamW is the last stream so the note can
 * extend it.  Triage dumps carry no text that was not asked for. */
#define DUMP_NOTE_BYTES 512

static void
dump_reserve_note(struct dump_state *d, struct buf *b, const MINIDUMP_DIRECTORY *dir, u32 nd, size_t dir_off)
{
	struct dump_note *n = &d->note;
	memset(n, 0, sizeof *n);
	if (d->mask & MDT_FILTERTRIAGE)
		return;
	if (nd && dir[nd - 1].StreamType == CommentStreamW && dir[nd - 1].Location.Rva + dir[nd - 1].Location.DataSize == b->len) {
		n->start = dir[nd - 1].Location.Rva;
		n->base = dir[nd - 1].Location.DataSize - 2;
		n->rva = n->start + n->base;
		n->entry = dir_off + (nd - 1) * sizeof *dir;
		buf_add(b, NULL, DUMP_NOTE_BYTES, 1);
	} else {
		n->rva = n->start = (u32)buf_add(b, NULL, DUMP_NOTE_BYTES, 4);
		n->spare = 1; /* its entry comes after the memory list's (dump_layout) */
	}
}

/* MemoryInfoList: every region, free ones included. */
static int
dump_put_memory_info(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	const struct snap *s = d->s;
	MINIDUMP_MEMORY_INFO_LIST hl = { sizeof hl, sizeof(MINIDUMP_MEMORY_INFO), (u64)s->nreg };
	int i;
	dir->Location.Rva = (u32)buf_add(b, &hl, sizeof hl, 8);
	dir->Location.DataSize = (u32)(sizeof hl + sizeof(MINIDUMP_MEMORY_INFO) * s->nreg);
	for (i = 0; i < s->nreg; i++) {
		MINIDUMP_MEMORY_INFO mi;
		const struct dregion *r = &s->reg[i];
		memset(&mi, 0, sizeof mi);
		mi.BaseAddress = r->base;
		mi.RegionSize = r->size;
		mi.State = r->state;
		mi.AllocationBase = r->alloc_base;
		mi.AllocationProtect = r->alloc_protect;
		mi.Protect = r->protect;
		mi.Type = r->type;
		buf_add(b, &mi, sizeof mi, 1);
	}
	return b->oom ? -1 : 1;
}

/* The stacks whose captured part starts in [start, start+size), laid at
 * rva: their RVAs, where they end below 4 GiB (a stack RVA is 32-bit).
 * Stacks copied into the metadata keep theirs. */
static void
dump_stacks_at(struct dump_state *d, u64 start, u64 size, u64 rva)
{
	int j;
	for (j = 0; j < d->s->nth; j++) {
		const struct dthread *t = &d->s->th[j];
		if (t->stk_size && !t->stk_copied && t->stk_start >= start && t->stk_start < start + size &&
		    rva + (t->stk_start - start) + t->stk_size < 0xFFFFFFFFULL)
			d->stack_rvas[j] = (u32)(rva + (t->stk_start - start));
	}
}

/* MemoryList, with the bytes right after it (Mini and custom dumps whose
 * memory fits 32-bit RVAs).  Returns 1, or -1 (no memory, cancelled). */
static int
dump_put_memory_list(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	u32 n = (u32)d->nrng;
	size_t descs;
	int i;
	dir->StreamType = MemoryListStream;
	dir->Location.Rva = (u32)buf_add(b, &n, 4, 4);
	dir->Location.DataSize = 4 + 16 * n;
	descs = buf_add(b, NULL, 16 * (size_t)n, 4);
	for (i = 0; i < d->nrng; i++) {
		MINIDUMP_MEMORY_DESCRIPTOR md;
		size_t at;
		if (b->oom || snap_cancelled(d->req, d->res))
			return -1;
		at = buf_add(b, NULL, (size_t)d->rng[i].size, 16);
		if (b->oom)
			return -1;
		d->unread += snap_read_fill(d->s, d->rng[i].start, b->p + at, (size_t)d->rng[i].size);
		if (d->mask & (MDT_FILTERTRIAGE | MDT_FILTERMEMORY))
			dump_sanitize_stacks(d, d->rng[i].start, b->p + at, d->rng[i].size);
		md.StartOfMemoryRange = d->rng[i].start;
		md.Memory.DataSize = (u32)d->rng[i].size;
		md.Memory.Rva = (u32)at;
		memcpy(b->p + descs + 16 * (size_t)i, &md, 16);
		dump_stacks_at(d, md.StartOfMemoryRange, md.Memory.DataSize, at);
	}
	if ((u64)b->len >> 32) { /* (never in a 32-bit procdump) */
		warn("a mini dump over 4 GiB cannot be written");
		return -1;
	}
	return 1;
}

/* Memory64List: descriptors here, the blob last and gap-free (written by
 * dump_write_blob).  A stack that would end past 4 GiB in the blob gets a
 * copy in the buffer, because a thread's stack RVA is 32-bit.  Stacks in
 * a blob are not sanitized: FilterMemory and FilterTriage are dropped from
 * Flags, so that no reader trusts them to be. */
static int
dump_put_memory64(struct dump_state *d, struct buf *b, MINIDUMP_DIRECTORY *dir)
{
	struct snap *s = d->s;
	u64 n = (u64)d->nrng, acc, guess;
	size_t base_at;
	int i;
	dir->StreamType = Memory64ListStream;
	dir->Location.Rva = (u32)buf_add(b, &n, 8, 8);
	dir->Location.DataSize = (u32)(16 + 16 * n);
	base_at = buf_add(b, NULL, 8, 1);
	for (i = 0; i < d->nrng; i++) {
		MINIDUMP_MEMORY_DESCRIPTOR64 m = { d->rng[i].start, d->rng[i].size };
		buf_add(b, &m, sizeof m, 1);
		d->blob_size += m.DataSize;
	}
	d->dropped |= d->mask & (MDT_FILTERMEMORY | MDT_FILTERTRIAGE);
	/* the blob starts at most here, after a copy of every stack (each
	 * 16-byte aligned) and the rounding to a page */
	guess = b->len + 4096;
	for (i = 0; i < s->nth; i++)
		guess += s->th[i].stk_size + 15;
	for (i = 0, acc = 0; i < d->nrng; acc += d->rng[i++].size)
		dump_stacks_at(d, d->rng[i].start, d->rng[i].size, guess + acc);
	for (i = 0; i < s->nth; i++) {
		struct dthread *t = &s->th[i];
		size_t at;
		if (!t->stk_size || d->stack_rvas[i])
			continue;
		at = buf_add(b, NULL, (size_t)t->stk_size, 16);
		if (b->oom)
			return -1;
		d->unread += snap_read_fill(s, t->stk_start, b->p + at, (size_t)t->stk_size);
		d->stack_rvas[i] = (u32)at;
		t->stk_copied = 1;
	}
	d->blob_rva = (b->len + 4095) & ~(u64)4095;
	memcpy(b->p + base_at, &d->blob_rva, 8);
	for (i = 0; i < s->nth; i++) /* from the guess to where the blob really starts */
		if (!s->th[i].stk_copied)
			d->stack_rvas[i] = 0;
	for (i = 0, acc = 0; i < d->nrng; acc += d->rng[i++].size)
		dump_stacks_at(d, d->rng[i].start, d->rng[i].size, d->blob_rva + acc);
	buf_add(b, NULL, (size_t)(d->blob_rva - b->len), 1);
	return b->oom ? -1 : 1;
}

/* Each thread's Stack descriptor, now that its bytes have an RVA (none:
 * an empty stack). */
static void
dump_patch_stacks(struct dump_state *d, struct buf *b)
{
	int i;
	for (i = 0; i < d->s->nth; i++) {
		u8 *at = b->p + d->threads_off + i * sizeof(MINIDUMP_THREAD) + offsetof(MINIDUMP_THREAD, Stack);
		MINIDUMP_MEMORY_DESCRIPTOR sd;
		memcpy(&sd, at, sizeof sd);
		sd.Memory.Rva = d->stack_rvas[i];
		if (!sd.Memory.Rva)
			sd.Memory.DataSize = 0;
		memcpy(at, &sd, sizeof sd);
	}
}

/* One row per stream, in file order: its type, the MINIDUMP_TYPE bits that
 * ask for it (0: every dump), the bits that leave it out, its put.  A put
 * appends the stream to the buffer and fills its directory entry: 1; 0 if
 * it has nothing to write (a wanted stream that wrote nothing takes its
 * bits out of the header's Flags); -1 if out of memory.  A new stream is a
 * row and a put function.  The memory list follows them. */
static const struct dump_stream {
	u32 type;
	u64 want, unless;
	int (*put)(struct dump_state *, struct buf *, MINIDUMP_DIRECTORY *);
} dump_streams[] = {
	{ SystemInfoStream, 0, 0, dump_put_system_info },
	{ MiscInfoStream, 0, 0, dump_put_misc_info },
	{ ThreadListStream, 0, 0, dump_put_thread_list },
	{ ThreadInfoListStream, MDT_THREADINFO, 0, dump_put_thread_info },
	{ ThreadNamesStream, 0, MDT_FILTERTRIAGE, dump_put_thread_names },
	{ UnloadedModuleListStream, MDT_UNLOADEDMODULES, 0, dump_put_unloaded },
	{ ModuleListStream, 0, 0, dump_put_modules },
	{ ExceptionStream, 0, 0, dump_put_exception },
	{ MemoryInfoListStream, MDT_FULLMEMORYINFO, 0, dump_put_memory_info },
	{ HandleDataStream, MDT_HANDLEDATA, 0, dump_put_handles },
	{ ProcessVmCountersStream, 0, MDT_FILTERTRIAGE, dump_put_vm_counters },
	{ TokenStream, MDT_TOKEN, 0, dump_put_tokens },
	{ CommentStreamA, 0, 0, dump_put_comment },
	{ CommentStreamW, 0, 0, dump_put_comment },
};
#define NSTREAMS (sizeof dump_streams / sizeof dump_streams[0])

/* The bytes of memory the plan takes, which a clone is checked against
 * before it is copied. */
static u64
dump_planned_bytes(const struct dump_state *d)
{
	u64 n = 0;
	int i;
	for (i = 0; i < d->nrng; i++)
		n += d->rng[i].size;
	return n;
}

/* Lays the whole dump out in b (offsets are file offsets): header,
 * directory, the table's streams, the memory list (a Memory64List's bytes
 * follow the buffer: d->blob_*), stack RVAs.  The signature stays 0 until
 * everything else is on disk.  0 or -1. */
static int
dump_layout(struct dump_state *d, struct buf *b)
{
	MINIDUMP_DIRECTORY dir[NSTREAMS + 2]; /* + the memory list, + a spare for the note */
	MINIDUMP_HEADER hd;
	size_t dir_off, i;
	u32 nd = 0;
	int w;

	memset(dir, 0, sizeof dir);
	memset(&hd, 0, sizeof hd);
	buf_add(b, NULL, sizeof hd, 1);
	dir_off = buf_add(b, NULL, sizeof dir, 4);
	for (i = 0; i < NSTREAMS; i++) {
		const struct dump_stream *r = &dump_streams[i];
		if ((r->want && !(d->mask & r->want)) || (d->mask & r->unless))
			continue;
		dir[nd].StreamType = r->type; /* (kept by the next put if this one writes nothing) */
		if ((w = r->put(d, b, &dir[nd])) < 0 || b->oom)
			return -1;
		if (w)
			nd++;
		else
			d->dropped |= r->want;
	}
	dump_reserve_note(d, b, dir, nd, dir_off);
	d->planned = dump_planned_bytes(d);
	/* RVAs are 32-bit: a large custom selection goes to a Memory64List;
	 * MiniPlus always does, as Full (doc/MINIDUMP.md section 2) */
	d->full = (d->mask & MDT_FULLMEMORY) || d->planned > (7ULL << 29) || d->miniplus;
	d->stack_rvas = xcalloc(d->s->nth ? d->s->nth : 1, sizeof *d->stack_rvas);
	if (!d->stack_rvas)
		return -1;
	w = d->full ? dump_put_memory64(d, b, &dir[nd]) : dump_put_memory_list(d, b, &dir[nd]);
	if (w < 0 || b->oom)
		return -1;
	nd++;
	if (d->note.spare)
		d->note.entry = dir_off + nd * sizeof dir[0];
	dump_patch_stacks(d, b);
	d->nd = nd;
	hd.Version = MINIDUMP_VERSION;
	hd.NumberOfStreams = nd;
	hd.StreamDirectoryRva = (u32)dir_off;
	hd.TimeDateStamp = (u32)time(NULL);
	hd.Flags = d->mask & ~d->dropped; /* what was asked and could be honoured */
	memcpy(b->p, &hd, sizeof hd);
	memcpy(b->p + dir_off, dir, sizeof dir);
	return 0;
}

/* ============================= Writer: File ============================= */
/* One dump file: created under a temporary name beside the final one,
 * written sequentially (the Memory64 blob through a double-buffered write
 * queue), signature last, renamed into place only when complete; on any
 * failure the partial file is removed.  dump_build_and_write() runs the
 * pipeline; -dbghelp hands the request to the system's MiniDumpWriteDump;
 * -keep, and the sweep of ended runs' temporary files. */

/* Did the target vanish (killed, exited) after the freeze?  Remembered. */
static int
dump_source_gone(struct dump_state *d)
{
	if (!d->gone && d->s->ops->gone && d->s->ops->gone(d->s))
		d->gone = 1;
	return d->gone;
}

/* Double-buffered copy of target memory to the file: the worker thread
 * writes one buffer while the caller reads the next. */
struct wq {
	HANDLE file;
	HANDLE go[2], done[2], thread;
	u8 *b[2];                  /* the two buffers: caller fills one, worker writes the other */
	DWORD len[2];
	int holes;                 /* runs of zero pages are skipped, not written */
	volatile LONG err;         /* the worker's first write error (Windows code) */
	volatile LONG quit;
};

#define WQ_CHUNK (4u << 20)
#define WQ_PAGE 4096u          /* the unit of holes */
#define WQ_GUARD_EVERY 4       /* chunks between two free-space checks (16 MiB) */

/* The length of the page at off of an n-byte buffer. */
static DWORD
dump_wq_page_len(DWORD n, DWORD off)
{
	return n - off < WQ_PAGE ? n - off : WQ_PAGE;
}

static int
dump_wq_zero(const u8 *p, DWORD n)
{
	DWORD i;
	for (i = 0; i + 8 <= n; i += 8) {
		u64 w;
		memcpy(&w, p + i, 8);
		if (w)
			return 0;
	}
	for (; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* One buffer to the file: with holes, each run of zero pages is skipped
 * (the file pointer moves on) and each other run written.  0, or the
 * Windows error code. */
static DWORD
dump_wq_put(struct wq *q, const u8 *p, DWORD n)
{
	DWORD off = 0, e;
	if (!q->holes)
		return w32_write_all(q->file, p, n);
	while (off < n) {
		DWORD start = off;
		int zero = dump_wq_zero(p + off, dump_wq_page_len(n, off));
		do
			off += dump_wq_page_len(n, off);
		while (off < n && dump_wq_zero(p + off, dump_wq_page_len(n, off)) == zero);
		e = zero ? w32_skip(q->file, off - start) : w32_write_all(q->file, p + start, off - start);
		if (e)
			return e;
	}
	return 0;
}

static DWORD WINAPI
dump_wq_worker(void *arg)
{
	struct wq *q = arg;
	unsigned k;
	for (k = 0;; k++) {
		int i = k & 1;
		DWORD e;
		WaitForSingleObject(q->go[i], INFINITE);
		if (q->quit)
			return 0;
		if (!q->err && (e = dump_wq_put(q, q->b[i], q->len[i])))
			q->err = (LONG)e;
		SetEvent(q->done[i]);
	}
}

static int
dump_wq_start(struct wq *q, HANDLE file)
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
	q->thread = CreateThread(NULL, 0, dump_wq_worker, q, 0, NULL);
	if (!q->thread) {
		warn("CreateThread:");
		return -1;
	}
	return 0;
}

static void
dump_wq_stop(struct wq *q)
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

/* A write to the dump failed: one line naming the file and the cause
 * (ERROR_DISK_FULL when the volume filled). */
static void
dump_write_error(const struct dump_state *d, DWORD e)
{
	SetLastError(e);
	warn("cannot write '%s':", u8s(d->req->path));
}

/* Holes, unless test hook PROCDUMP_TEST_NO_HOLES (test/README.md "Test
 * hooks"). */
static int
dump_holes_wanted(void)
{
	return !w32_env_number(L"PROCDUMP_TEST_NO_HOLES");
}

/* The folder of a dump path, with its trailing separator (what
 * GetDiskFreeSpaceExW takes); "." for a bare name.  NULL if out of memory. */
static wchar_t *
dump_folder(const wchar_t *path)
{
	const wchar_t *a = wcsrchr(path, L'\\'), *b = wcsrchr(path, L'/');
	const wchar_t *end = a > b ? a : b;
	wchar_t *r;
	if (!end)
		return wdup(L".");
	if (!(r = malloc(((size_t)(end - path) + 2) * sizeof *r)))
		return NULL;
	wmemcpy(r, path, (size_t)(end - path) + 1);
	r[end - path + 1] = 0;
	return r;
}

/* The free space of the dump's volume and the floor to keep: -minfree MB,
 * by default the larger of 1 GiB and 5 % of the volume.  0, or -1 with no
 * guard (-minfree 0) or when the volume does not say (after a message:
 * the dump goes on unguarded). */
static int
dump_guard_space(const struct dump_state *d, u64 *avail, u64 *floor, wchar_t **dir)
{
	long long mb = d->req->minfree_mb;
	u64 total;
	*dir = NULL;
	if (mb == 0 || !(*dir = dump_folder(d->req->path)))
		return -1;
	if (w32_disk_space(*dir, avail, &total) < 0) {
		vlog("no free-space check for this dump");
		return -1;
	}
	if (mb != PD_UNSET)
		*floor = (u64)mb << 20;
	else
		*floor = total / 20 > (1ull << 30) ? total / 20 : 1ull << 30;
	return 0;
}

/* Before writing: refuses a dump whose estimated size would leave less
 * than the floor free on its volume.  The estimate is the file's size; its
 * holes may make it take less.  0, or -1 after one line (res->no_space). */
static int
dump_guard_before(struct dump_state *d, u64 estimate)
{
	u64 avail = 0, floor = 0;
	wchar_t *dir;
	int rc = 0;
	if (dump_guard_space(d, &avail, &floor, &dir) == 0) {
		d->floor = floor;
		if (avail < floor || avail - floor < estimate) {
			warn("not enough free space for '%s': the dump needs about %llu MB, '%s' has %llu MB free "
			     "and %llu MB must stay free (-minfree)", u8s(d->req->path), size_mb(estimate), u8s(dir),
			     avail >> 20, floor >> 20);
			d->res->no_space = 1;
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

/* While writing: stops when the volume's free space fell to the floor
 * (another writer filled it).  0, or -1 after one line (res->no_space). */
static int
dump_guard_during(struct dump_state *d)
{
	u64 avail = 0, floor = 0;
	wchar_t *dir = NULL;
	int rc = 0;
	if (d->floor && dump_guard_space(d, &avail, &floor, &dir) == 0 && avail < floor) {
		warn("stopped writing '%s': '%s' has %llu MB free, below the %llu MB that must stay free (-minfree)",
		     u8s(d->req->path), u8s(dir), avail >> 20, floor >> 20);
		d->res->no_space = 1;
		rc = -1;
	}
	free(dir);
	return rc;
}

/* The Memory64 blob, every range in order in 4 MiB chunks through the
 * write queue; the free space checked every WQ_GUARD_EVERY chunks.  0 or
 * -1 (after a message; the caller reports an -at cancellation). */
static int
dump_write_blob(struct dump_state *d, HANDLE file)
{
	struct wq q;
	unsigned k = 0;
	int i, low = 0;
	u64 done = 0;              /* blob bytes handed to the writer thread */
	if (dump_wq_start(&q, file) < 0) {
		dump_wq_stop(&q);
		return -1;
	}
	q.holes = dump_holes_wanted();
	for (i = 0; i < d->nrng && !q.err && !d->gone; i++) {
		u64 a = d->rng[i].start, left = d->rng[i].size;
		while (left && !q.err && !d->gone) {
			u64 lost;
			int bi = k & 1;
			DWORD n = left > WQ_CHUNK ? WQ_CHUNK : (DWORD)left;
			if (snap_cancelled(d->req, d->res)) {
				q.err = ERROR_CANCELLED;
				break;
			}
			if (k++ % WQ_GUARD_EVERY == WQ_GUARD_EVERY - 1 && dump_guard_during(d) < 0) {
				q.err = ERROR_DISK_FULL;
				low = 1;
				break;
			}
			WaitForSingleObject(q.done[bi], INFINITE);
			d->unread += lost = snap_read_fill(d->s, a, q.b[bi], n);
			if (d->chunk_delay)
				Sleep(d->chunk_delay);
			q.len[bi] = n;
			SetEvent(q.go[bi]);
			a += n;
			left -= n;
			done += n;
			if (d->req->on_progress)
				d->req->on_progress(d->req->ctx, d->head_size + done, d->head_size + d->blob_size,
				                    now_sec() - d->write_t0);
			if (lost && dump_source_gone(d))
				break; /* dump_judge says so */
		}
	}
	dump_wq_stop(&q);
	if (!q.err && q.holes) /* a skipped tail: the file ends after it */
		q.err = (LONG)w32_end_here(file);
	if (!q.err)
		return 0;
	if (q.err == ERROR_CANCELLED && !d->res->timed_out)
		warn("dump cancelled: '%s' not written", u8s(d->req->path));
	else if (q.err != ERROR_CANCELLED && !low)
		dump_write_error(d, (DWORD)q.err);
	return -1;
}

/* Share of the planned memory that may be unreadable in a dump that still
 * counts (man page, RELIABILITY). */
#define DUMP_UNREAD_MAX_PCT 1

/* Is what was read a dump?  Not if more than DUMP_UNREAD_MAX_PCT was
 * unreadable or the target vanished while read.  0, or -1 after one line
 * naming the file. */
static int
dump_judge(struct dump_state *d)
{
	const char *path = u8s(d->req->path);
	if (d->gone || dump_source_gone(d)) {
		warn("no dump written to '%s': process %lu exited while it was being dumped", path, d->s->pid);
		return -1;
	}
	if (d->unread && d->unread * 100 > d->planned * DUMP_UNREAD_MAX_PCT) {
		warn("no dump written to '%s': %llu of %llu bytes of memory could not be read "
		     "(more than %d%%)", path, d->unread, d->planned, DUMP_UNREAD_MAX_PCT);
		return -1;
	}
	return 0;
}

/* The note that says how much memory could not be read, in the room
 * dump_reserve_note kept: WinDbg shows it as the dump's comment.  0 or -1. */
static int
dump_write_note(struct dump_state *d, HANDLE file)
{
	struct dump_note *n = &d->note;
	wchar_t text[DUMP_NOTE_BYTES / 2];
	MINIDUMP_DIRECTORY e;
	DWORD err = 0;
	int len;
	if (!d->unread || !n->rva)
		return 0;
	len = swprintf(text, DUMP_NOTE_BYTES / 2, L"%lsprocdump.c: %llu of %llu bytes of memory could not be read; "
	               L"they are zeros in this dump.", n->base ? L"\n" : L"", d->unread, d->planned);
	if (len < 0)
		return 0;
	e.StreamType = CommentStreamW;
	e.Location.DataSize = n->base + (u32)(len + 1) * 2;
	e.Location.Rva = n->start;
	if ((err = w32_write_at(file, n->rva, text, (DWORD)(len + 1) * 2)) == 0 &&
	    (err = w32_write_at(file, n->entry, &e, sizeof e)) == 0 && n->spare) {
		u32 nd = d->nd + 1;
		err = w32_write_at(file, offsetof(MINIDUMP_HEADER, NumberOfStreams), &nd, 4);
	}
	if (err) {
		SetLastError(err);
		warn("writing the dump '%s':", u8s(d->req->path));
		return -1;
	}
	vlog("%llu bytes could not be read and were written as zeros (noted in the dump)", d->unread);
	return 0;
}

/* The signature, last: a file cut short is never taken for a dump. */
static int
dump_write_signature(HANDLE file)
{
	u32 sig = 0x504D444D; /* "MDMP" */
	DWORD e = w32_write_at(file, 0, &sig, 4);
	if (e) {
		SetLastError(e);
		warn("writing the dump header:");
		return -1;
	}
	return 0;
}

/* ---- -keep: after each dump, at most N dumps of the process name in its
 * folder.  Only our own files count: a name that fits the dump's pattern
 * and type suffix (dump_name_fits), and a complete minidump whose MiscInfo
 * DbgBldStr says procdump.c.  No other file is ever removed. */

/* How many leading characters of name are digits (hex: hex digits), up to most. */
static size_t
dump_digits(const wchar_t *name, int hex, size_t most)
{
	size_t n = 0;
	while (n < most && (hex ? iswxdigit(name[n]) : iswdigit(name[n])))
		n++;
	return n;
}

/* Does name (without folder) fit the pattern pat (name_keys' keywords,
 * PROCESSNAME standing for proc), then _tag when tag is not empty, then
 * maybe -N, then .dmp?  A PID is 1 to 10 digits (every length is tried, so
 * that PIDYYMMDD fits too), EXCEPTIONCODE 0 or 8 hex digits, YYMMDD and
 * HHMMSS 6 digits; the rest compares without case. */
static int
dump_name_fits(const wchar_t *name, const wchar_t *pat, const wchar_t *proc, const wchar_t *tag)
{
	size_t kl = 0, n;
	int k;
	if (!*pat || !_wcsicmp(pat, L".dmp")) { /* (the pattern's own .dmp is the one below) */
		if (*tag && (*name != L'_' || _wcsnicmp(name + 1, tag, wcslen(tag))))
			return 0;
		name += *tag ? wcslen(tag) + 1 : 0;
		if (*name == L'-' && iswdigit(name[1]))
			for (name++; iswdigit(*name); name++)
				;
		return !_wcsicmp(name, L".dmp");
	}
	if ((k = name_key_at(pat, NULL)) < NKEYS)
		kl = wcslen(name_keys[k]);
	switch (k) {
	case KEY_PROCESSNAME:
		return !_wcsnicmp(name, proc, n = wcslen(proc)) && dump_name_fits(name + n, pat + kl, proc, tag);
	case KEY_PID:
		for (n = dump_digits(name, 0, 10); n > 0; n--)
			if (dump_name_fits(name + n, pat + kl, proc, tag))
				return 1;
		return 0;
	case KEY_EXCEPTIONCODE:
		return (dump_digits(name, 1, 8) == 8 && dump_name_fits(name + 8, pat + kl, proc, tag)) ||
		       (*name == L'0' && dump_name_fits(name + 1, pat + kl, proc, tag));
	case KEY_YYMMDD:
	case KEY_HHMMSS:
		return dump_digits(name, 0, 6) == 6 && dump_name_fits(name + 6, pat + kl, proc, tag);
	default: /* (DUMPPATH is text here) */
		return *name && towlower(*name) == towlower(*pat) && dump_name_fits(name + 1, pat + 1, proc, tag);
	}
}

/* The file is a complete minidump that procdump.c wrote (MDMP signature,
 * written last, and "procdump.c." in MiscInfo's DbgBldStr). */
static int
dump_file_ours(const wchar_t *path)
{
	static const wchar_t mark[] = L"procdump.c.";
	u32 h[4], e[3], i;
	wchar_t bld[sizeof mark / sizeof mark[0] - 1];
	int ours = 0;
	HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	if (f == INVALID_HANDLE_VALUE)
		return 0;
	if (!w32_read_at(f, 0, h, sizeof h) && h[0] == 0x504D444D && h[2] < 4096)
		for (i = 0; i < h[2] && !ours; i++) {
			if (w32_read_at(f, (u64)h[3] + 12 * i, e, sizeof e) < 0)
				break;
			if (e[0] == MiscInfoStream && e[1] >= offsetof(struct md_misc5, dbg_bld) + sizeof bld)
				ours = !w32_read_at(f, (u64)e[2] + offsetof(struct md_misc5, dbg_bld), bld, sizeof bld) &&
				       !memcmp(bld, mark, sizeof bld);
		}
	CloseHandle(f);
	return ours;
}

struct dump_old { wchar_t *path; u64 time; };

static int
dump_old_newer_first(const void *a, const void *b)
{
	const struct dump_old *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? 1 : -1;
	return -wcscmp(x->path, y->path);
}

/* Our dumps in folder dir whose names fit pat, proc and tag
 * (dump_name_fits), with their last-write times; the dump just written
 * (path) is one of them whatever its content. */
struct dump_retain {
	const wchar_t *dir, *path, *pat, *proc, *tag;
	struct dump_old *old;
	int n, cap;
};

/* A w32_folder_walk callback: adds one file to a struct dump_retain. */
static void
dump_retain_one(const WIN32_FIND_DATAW *fd, void *arg)
{
	struct dump_retain *r = arg;
	wchar_t *full;
	if (!dump_name_fits(fd->cFileName, r->pat, r->proc, r->tag) || !(full = wcs_cat(r->dir, fd->cFileName)))
		return;
	if ((!_wcsicmp(full, r->path) || dump_file_ours(full)) && !vec_grow(&r->old, &r->cap, r->n, sizeof *r->old, 16)) {
		r->old[r->n].path = full;
		r->old[r->n++].time = ft_u64(fd->ftLastWriteTime);
	} else
		free(full);
}

/* -keep: one at a time in this procdump (-all, -pt: several targets of one
 * name dump into one folder; each sees the others' finished dumps). */
static SRWLOCK dump_keep_lock = SRWLOCK_INIT;

/* Keeps path and the keep-1 newest of our other dumps that fit pattern
 * pat and type suffix tag ("": none) in its folder; removes the rest and
 * says so on stdout.  path counts as the newest even if another target's
 * dump finished a moment later (-all, -pt); if path is gone already (that
 * target's retention removed it), nothing to do.  A file that cannot be
 * removed is a warning, not a failed dump. */
static void
dump_retain(const wchar_t *path, const wchar_t *pat, const wchar_t *proc, const char *tag, long long keep)
{
	wchar_t *dir = dump_folder(path), wtag[32];
	struct dump_retain r = { dir, path, path_basename(pat), proc, wtag, NULL, 0, 0 };
	struct dump_old *old;
	int n, i;
	if (!dir)
		return;
	swprintf(wtag, 32, L"%hs", tag ? tag : "");
	AcquireSRWLockExclusive(&dump_keep_lock);
	w32_folder_walk(dir, L"*.dmp", dump_retain_one, &r);
	old = r.old;
	n = r.n;
	for (i = 0; i < n && _wcsicmp(old[i].path, path); i++)
		;
	if (i < n) { /* (else path is gone: nothing to do) */
		old[i].time = ~0ull; /* path first, then the newest others */
		qsort(old, (size_t)n, sizeof *old, dump_old_newer_first);
		for (i = (int)keep; i < n; i++) {
			int rm = w32_delete_file(old[i].path);
			if (rm == 0)
				out("%s Removed the older dump %s (-keep %lld).\n", stamp(), u8s(old[i].path), keep);
			else if (rm < 0)
				warn("-keep: cannot remove '%s':", u8s(old[i].path));
		}
	}
	for (i = 0; i < n; i++)
		free(old[i].path);
	ReleaseSRWLockExclusive(&dump_keep_lock);
	free(old);
	free(dir);
}

/* Collect, plan, lay out and write a frozen snapshot to file.  0 or -1. */
static int
dump_build_and_write(struct dump_state *d, HANDLE file, struct pd_dump_result *res, double t0)
{
	struct buf b = { 0 };
	DWORD e;
	int rc = -1;
	if (dump_collect(d) < 0 || dump_plan(d) < 0)
		return -1;
	vlog("collected %d threads, %d modules, %d regions, %d ranges in %.1f ms",
	     d->s->nth, d->s->nmod, d->s->nreg, d->nrng, (now_sec() - t0) * 1e3);
	if (d->req->clone && (dump_guard_before(d, dump_planned_bytes(d) + (1 << 20)) < 0 ||
	                      clone_take(d->s, d->rng, d->nrng, d->req, d->res) < 0))
		return -1; /* (a dump the disk cannot take is refused before its copy) */
	if (dump_layout(d, &b) < 0)
		goto out;
	if (d->req->num)
		out("%s Dump %d writing: Estimated dump file size is %llu MB.\n", stamp(), d->req->num,
		    size_mb(b.len + d->blob_size));
	d->write_t0 = now_sec();
	if (dump_guard_before(d, b.len + d->blob_size) < 0)
		goto out;
	if ((e = w32_write_all(file, b.p, (DWORD)b.len))) {
		dump_write_error(d, e);
		goto out;
	}
	d->head_size = b.len;
	if (d->full && dump_write_blob(d, file) < 0)
		goto out;
	if (dump_judge(d) < 0 || dump_write_note(d, file) < 0 || dump_write_signature(file) < 0)
		goto out;
	res->bytes = b.len + d->blob_size;
	rc = 0;
out:
	free(b.p);
	return rc;
}

/* -dbghelp: the same dump type through the system's MiniDumpWriteDump (the
 * benchmarks' baseline).  Wine's drops several streams and can return
 * TRUE without writing (doc/WINE.md section 5): the file is checked
 * afterwards.  0 or -1. */
static int
dump_write_dbghelp(const struct snap *s, const struct pd_dump_req *req, HANDLE file, u64 mask,
                   struct pd_dump_result *res)
{
	MINIDUMP_EXCEPTION_INFORMATION ei;
	EXCEPTION_POINTERS ep;
	EXCEPTION_RECORD rec;
	CONTEXT *ctx = NULL;
	MINIDUMP_USER_STREAM us[2];
	MINIDUMP_USER_STREAM_INFORMATION uss = { 0, us };
	LARGE_INTEGER size = { .QuadPart = 0 };
	MINIDUMP_CALLBACK_INFORMATION cbi = { req->callback, req->callback_param };
	HANDLE h;
	int rc = -1;

	if (w32_load(W32_DBGHELP) < 0) {
		warn("-dbghelp: dbghelp.dll:");
		return -1;
	}
	if (!w32.MiniDumpWriteDump) {
		warn("-dbghelp: dbghelp.dll has no MiniDumpWriteDump");
		return -1;
	}
	/* dbghelp reads threads and handles too: a handle of its own */
	if (!(h = OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | PROCESS_DUP_HANDLE, FALSE, s->pid))) {
		warn("-dbghelp: OpenProcess %lu:", s->pid);
		return -1;
	}
	if (req->ev && req->ev->has_exception && (ctx = _aligned_malloc(sizeof *ctx, 16))) {
		rec = req->ev->rec;
		*ctx = req->ev->ctx;
		ep.ExceptionRecord = &rec;
		ep.ContextRecord = ctx;
		ei.ThreadId = req->ev->tid;
		ei.ExceptionPointers = &ep;
		ei.ClientPointers = FALSE; /* the record and context are ours */
	}
	memset(us, 0, sizeof us);
	if (req->comment) {
		dump_comment_streams(req->comment, us);
		uss.UserStreamCount = us[0].BufferSize ? 2 : 1; /* no ANSI text: the wide stream alone */
		uss.UserStreamArray = us[0].BufferSize ? us : us + 1;
	}
	/* dbghelp is single-threaded: one dump at a time (-all, -pt) */
	AcquireSRWLockExclusive(&dump_serial_lock);
	/* SymInitialize without invading: dbghelp otherwise loads every
	 * module's symbols first (seconds under Wine) */
	if (w32.SymInitializeW)
		w32.SymInitializeW(h, NULL, FALSE);
	if (!w32.MiniDumpWriteDump(h, s->pid, file, (DWORD)mask, ctx ? &ei : NULL, uss.UserStreamCount ? &uss : NULL,
	                           req->callback ? &cbi : NULL))
		warn("-dbghelp: MiniDumpWriteDump:");
	else if (!GetFileSizeEx(file, &size) || size.QuadPart <= 32)
		warn("-dbghelp: MiniDumpWriteDump reported success but wrote %lld bytes", (long long)size.QuadPart);
	else {
		res->bytes = (u64)size.QuadPart;
		rc = 0;
	}
	if (w32.SymCleanup)
		w32.SymCleanup(h);
	ReleaseSRWLockExclusive(&dump_serial_lock);
	CloseHandle(h);
	_aligned_free(ctx);
	free(us[0].Buffer);
	return rc;
}

/* -v: the DACL asked for and the one the new file has (read back from the
 * handle): under Wine the second is what the Unix mode maps back to. */
static void
dump_log_acl(struct w32_acl *acl, HANDLE f)
{
	char *asked = w32_dacl_text(&acl->sd), *has = w32_file_dacl_text(f);
	vlog("dump ACL asked: %s; the file has: %s", asked ? asked : "?", has ? has : "?");
	free(asked);
	free(has);
}

/* ---- Temporary files of ended runs.  A dump is written as
 * PATH.PID.TIME.tmp, the writer's PID and creation time (16 hex digits):
 * a file whose writer no longer runs (no such PID, or another process's
 * now) is a killed procdump's.  The older PATH.PID.tmp counts as ended
 * only when no process has the PID.  A sweep runs when a dump begins in a
 * folder, before the free-space check; a live writer's file is also kept
 * by its open without sharing. */

static SRWLOCK dump_self_lock = SRWLOCK_INIT;
/* One sweep at a time in this procdump: several targets (-all, -pt) begin
 * dumps in one folder at once, and Wine lets two DeleteFileW of one file
 * both succeed (each would count it). */
static SRWLOCK dump_sweep_lock = SRWLOCK_INIT;

/* This procdump's creation time as the process list gives it (as others
 * will read it); 0 if the list cannot be read. */
static u64
dump_self_time(void)
{
	static u64 t;
	AcquireSRWLockExclusive(&dump_self_lock);
	if (!t)
		t = w32_process_create_time(GetCurrentProcessId());
	ReleaseSRWLockExclusive(&dump_self_lock);
	return t;
}

/* The digits (hex: hex digits) just before end, back to at most start. */
static const wchar_t *
dump_digits_before(const wchar_t *start, const wchar_t *end, int hex)
{
	while (end > start && (hex ? iswxdigit(end[-1]) : iswdigit(end[-1])))
		end--;
	return end;
}

/* Is name (without folder) a dump's temporary file, NAME.dmp.PID.TIME.tmp
 * or NAME.dmp.PID.tmp?  Then its writer's PID and creation time (0 for the
 * older form). */
static int
dump_temp_parse(const wchar_t *name, DWORD *pid, u64 *time)
{
	size_t n = wcslen(name);
	const wchar_t *e = name + n - 4, *last, *id, *base;
	u64 v;
	if (n < 10 || _wcsicmp(e, L".tmp"))
		return 0;
	last = dump_digits_before(name, e, 1); /* TIME, or the PID of the older form */
	if (last == e || last == name || last[-1] != L'.')
		return 0;
	if (e - last == 16) {
		id = dump_digits_before(name, last - 1, 0);
		if (id == last - 1 || id == name || id[-1] != L'.' || last - 1 - id > 10)
			return 0;
		*time = wcstoull(last, NULL, 16);
	} else {
		if (e - last > 10 || dump_digits_before(last, e, 0) != last)
			return 0;
		id = last;
		*time = 0;
	}
	base = id - 1; /* (the dot after NAME.dmp) */
	v = wcstoull(id, NULL, 10);
	if (v > 0xFFFFFFFFull || base - name < 4 || _wcsnicmp(base - 4, L".dmp", 4))
		return 0;
	*pid = (DWORD)v;
	return 1;
}

/* Has the writer of a temporary file ended: no process of the list has its
 * PID and (when the name gives it) its creation time? */
static int
dump_temp_ended(struct pd_sys_process *list, DWORD pid, u64 time)
{
	struct pd_sys_process *p = w32_process_find(list, pid);
	return !p || (time && (u64)p->CreateTime.QuadPart != time);
}

struct dump_stale { wchar_t *name; DWORD pid; u64 time, bytes; };

/* May any of the n temporary files be another procdump's?  This one's own
 * (-all, -pt, -r) need no process list to be left alone. */
static int
dump_temp_others(const struct dump_stale *st, int n)
{
	int i;
	for (i = 0; i < n; i++)
		if (st[i].pid != GetCurrentProcessId() || st[i].time != dump_self_time())
			return 1;
	return 0;
}

/* The temporary dump files of a folder (a w32_folder_walk with dump_temp_one). */
struct dump_temps { struct dump_stale *st; int n, cap; };

static void
dump_temp_one(const WIN32_FIND_DATAW *fd, void *arg)
{
	struct dump_temps *t = arg;
	struct dump_stale x;
	if (dump_temp_parse(fd->cFileName, &x.pid, &x.time) && !vec_grow(&t->st, &t->cap, t->n, sizeof *t->st, 8) &&
	    (x.name = wdup(fd->cFileName))) {
		x.bytes = (u64)fd->nFileSizeHigh << 32 | fd->nFileSizeLow;
		t->st[t->n++] = x;
	}
}

/* Removes the temporary files in path's folder whose procdump has ended,
 * and says so in one line (-v: each file).  The process list is read after
 * the folder, so every live writer of a listed file is in it; without a
 * list nothing is removed. */
static void
dump_sweep(const wchar_t *path)
{
	wchar_t *dir = dump_folder(path), *full;
	struct dump_temps t = { NULL, 0, 0 };
	struct dump_stale *st;
	struct pd_sys_process *list = NULL;
	int i, gone = 0;
	u64 bytes = 0;
	AcquireSRWLockExclusive(&dump_sweep_lock);
	if (dir && wcscmp(dir, L"."))
		w32_folder_walk(dir, L"*.tmp", dump_temp_one, &t);
	st = t.st;
	if (t.n > 0 && dump_temp_others(st, t.n) && (list = w32_process_list()))
		for (i = 0; i < t.n; i++) {
			if (!dump_temp_ended(list, st[i].pid, st[i].time) || !(full = wcs_cat(dir, st[i].name)))
				continue;
			switch (w32_delete_file(full)) {
			case 0:
				gone++;
				bytes += st[i].bytes;
				vlog("removed '%s': its procdump (PID %lu) has ended", u8s(full), st[i].pid);
				break;
			case -1: /* (open without sharing: a writer on another machine; or not ours to remove) */
				vlog("cannot remove the temporary file '%s', whose procdump (PID %lu) has ended here:",
				     u8s(full), st[i].pid);
				break;
			}
			free(full);
		}
	ReleaseSRWLockExclusive(&dump_sweep_lock);
	if (gone)
		out("%s Removed %d temporary file%s of ended procdump runs from %s (%llu MB).\n", stamp(), gone,
		    gone > 1 ? "s" : "", u8s(dir), size_mb(bytes));
	for (i = 0; i < t.n; i++)
		free(st[i].name);
	free(st);
	free(list);
	free(dir);
}

/* The temporary file PATH.PID.TIME.tmp beside the final one, with the
 * protected ACL of w32_private_acl (unless -inheritacl), which the rename
 * keeps, and sparse for the holes; the folder swept first. */
static HANDLE
dump_create_temp(const struct pd_dump_req *req, wchar_t **tmp)
{
	size_t n = wcslen(req->path) + 40;
	struct w32_acl acl;
	HANDLE f;
	dump_sweep(req->path);
	if (!req->inherit_acl && w32_private_acl(&acl) < 0) {
		warn("no dump written to '%s': its protected ACL could not be built (-inheritacl does without):",
		     u8s(req->path));
		return INVALID_HANDLE_VALUE;
	}
	*tmp = malloc(n * sizeof **tmp);
	if (*tmp) {
		u64 self = dump_self_time();
		if (self)
			swprintf(*tmp, n, L"%ls.%lu.%016llX.tmp", req->path, GetCurrentProcessId(), self);
		else /* (the list cannot be read: the older form, removed once the PID is gone) */
			swprintf(*tmp, n, L"%ls.%lu.tmp", req->path, GetCurrentProcessId());
		f = CreateFileW(*tmp, GENERIC_WRITE | GENERIC_READ, 0, req->inherit_acl ? NULL : &acl.sa, CREATE_ALWAYS,
		                FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
	} else
		f = INVALID_HANDLE_VALUE;
	if (!req->inherit_acl) {
		if (g.verbose && f != INVALID_HANDLE_VALUE)
			dump_log_acl(&acl, f);
		w32_acl_free(&acl);
	}
	if (f == INVALID_HANDLE_VALUE && *tmp) {
		warn("cannot create '%s':", u8s(*tmp));
		free(*tmp);
		*tmp = NULL;
	} else if (!*tmp)
		warn("no dump written to '%s': out of memory", u8s(req->path));
	if (f != INVALID_HANDLE_VALUE && dump_holes_wanted() && w32_set_sparse(f) < 0)
		vlog("'%s' cannot be sparse here: zero pages take disk space", u8s(*tmp));
	return f;
}

/* Durable before final: the data reaches the disk before the file takes
 * its final name (not with test hook PROCDUMP_TEST_NO_FLUSH).  0, or -1
 * after a message. */
static int
dump_flush(HANDLE file, const wchar_t *tmp)
{
	if (w32_env_number(L"PROCDUMP_TEST_NO_FLUSH") == 1 || FlushFileBuffers(file))
		return 0;
	warn("cannot flush '%s' to disk:", u8s(tmp));
	return -1;
}

/* ================================ Events ================================ */
/* -json: the events as JSON Lines (man page, JSON EVENTS).  Owns the
 * stream and its lock; each ev_* call writes one whole line, or nothing
 * without -json.  Reads no trigger or writer state: callers pass it. */

static struct {
	HANDLE h;                  /* the file (appended to) or stdout; NULL: no -json */
	HANDLE cut;                /* the file again, for writing: truncates a half line (NULL: h itself) */
	int console;               /* -json - on a console: WriteConsoleW, as emit() */
	int disk;                  /* h is a file (-json FILE, or - redirected to one): a half line can be cut */
	int failed;                /* a line could not be written: said once */
	int lost;                  /* lines lost (the exit code says so: main_finish) */
	int half;                  /* a half line could not be cut: the next line starts on a new one */
	const wchar_t *name;       /* the file, for the message */
	CRITICAL_SECTION lock;     /* one line at a time */
	volatile LONG dumps;       /* dump_end lines so far (finish) */
} ev;

static void
ev_put(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s), 1);
}

static void PD_PRINTF(2, 3)
ev_fmt(struct buf *b, const char *fmt, ...)
{
	char t[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t, sizeof t, fmt, ap);
	va_end(ap);
	ev_put(b, t);
}

/* One character as JSON wants it in a string: " and \ escaped, controls
 * (C0, DEL, C1), the line separators and lone surrogates as \uXXXX, the
 * rest as UTF-8. */
static void
ev_char(struct buf *b, unsigned c)
{
	u8 u[4];
	if (c == '"' || c == '\\')
		ev_fmt(b, "\\%c", (int)c);
	else if (c == '\n')
		ev_put(b, "\\n");
	else if (c == '\r')
		ev_put(b, "\\r");
	else if (c == '\t')
		ev_put(b, "\\t");
	else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0xd800 && c <= 0xdfff))
		ev_fmt(b, "\\u%04x", c); /* (a lone surrogate too: JSON can carry it escaped) */
	else
		buf_add(b, u, (size_t)utf8_put(c, u), 1);
}

/* A JSON string from UTF-16 (a Windows path, a name, a debug string);
 * NULL is null. */
static void
ev_wstr(struct buf *b, const wchar_t *w)
{
	if (!w) {
		ev_put(b, "null");
		return;
	}
	ev_put(b, "\"");
	while (*w)
		ev_char(b, wcs_next(&w));
	ev_put(b, "\"");
}

/* A JSON string from procdump's own UTF-8 text (names, kinds); NULL is null. */
static void
ev_str(struct buf *b, const char *s)
{
	if (!s) {
		ev_put(b, "null");
		return;
	}
	ev_put(b, "\"");
	for (; *s; s++) {
		unsigned c = (u8)*s;
		if (c >= 0x80)
			buf_add(b, s, 1, 1); /* a UTF-8 byte: as it is */
		else
			ev_char(b, c);
	}
	ev_put(b, "\"");
}

/* ,"key": before a value */
static void
ev_key(struct buf *b, const char *key)
{
	ev_fmt(b, ",\"%s\":", key);
}

/* A FILETIME (100 ns since 1601, UTC) as ISO 8601 with milliseconds. */
static void
ev_time(struct buf *b, u64 ft)
{
	FILETIME f;
	SYSTEMTIME t;
	f.dwLowDateTime = (DWORD)ft;
	f.dwHighDateTime = (DWORD)(ft >> 32);
	if (!ft || !FileTimeToSystemTime(&f, &t)) {
		ev_put(b, "null");
		return;
	}
	ev_fmt(b, "\"%04u-%02u-%02uT%02u:%02u:%02u.%03uZ\"", t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute,
	       t.wSecond, t.wMilliseconds);
}

/* Starts a line: {"ts":...,"event":name, and (pid) the target's PID.
 * 0, or -1 without -json (nothing to do). */
static int
ev_begin(struct buf *b, const char *name, const struct pd_target *t)
{
	FILETIME now;
	memset(b, 0, sizeof *b);
	if (!ev.h)
		return -1;
	GetSystemTimeAsFileTime(&now);
	ev_put(b, "{\"ts\":");
	ev_time(b, ft_u64(now));
	ev_key(b, "event");
	ev_str(b, name);
	if (t)
		ev_fmt(b, ",\"pid\":%lu", t->pid);
	return 0;
}

/* Sets the line's "ts" (ev_begin left its place) to now, under the lock,
 * so that the times of several threads' lines increase down the file. */
static void
ev_stamp(struct buf *b)
{
	struct buf t = { 0 };
	FILETIME now;
	GetSystemTimeAsFileTime(&now);
	ev_time(&t, ft_u64(now));
	if (!t.oom && t.len == 26 && b->len > 6 + 26 && b->p[6] == '"')
		memcpy(b->p + 6, t.p, 26);
	free(t.p);
}

/* Writes one line whole or not at all: after a short write (a full disk
 * takes what fits) the part that went out is cut off again (w32_cut_tail),
 * through a second handle for -json FILE (the first only appends, so no
 * writer overwrites another's lines), through stdout itself for a
 * redirected -json - (Wine's stdout handle refuses it).  Where nothing can
 * be cut (a pipe), the next line starts with a line break.  0, or the
 * error (the line is lost).  Under ev.lock. */
static DWORD
ev_write_line(const u8 *p, DWORD n)
{
	HANDLE cut = ev.cut ? ev.cut : ev.h;
	DWORD e, done;
	u64 before = 0;
	int known;
	if (ev.console)
		return w32_console_write_utf8(ev.h, (const char *)p, n);
	if (ev.half && w32_write_all(ev.h, "\n", 1) == 0)
		ev.half = 0;
	if (ev.half)
		return ERROR_WRITE_FAULT; /* (not even the line break went out) */
	known = ev.disk && w32_file_size(cut, &before) == 0;
	if (!(e = w32_write_counted(ev.h, p, n, &done)) || !done)
		return e;
	if (!known || w32_cut_tail(cut, before, done) < 0)
		ev.half = 1;
	return e;
}

/* Ends the line and writes it whole, or not at all (ev_write_line).  A
 * lost line is said once on stderr and makes the exit code 4 (main_finish);
 * the run goes on. */
static void
ev_end(struct buf *b)
{
	DWORD e;
	ev_put(b, "}\n");
	if (!b->oom) {
		EnterCriticalSection(&ev.lock);
		ev_stamp(b); /* (under the lock: the lines' times increase down the file) */
		if ((e = ev_write_line(b->p, (DWORD)b->len))) {
			ev.lost++;
			if (!ev.failed++) {
				SetLastError(e);
				warn("-json: events are being lost: cannot write to %s%s%s:", ev.name ? "'" : "",
				     ev.name ? u8s(ev.name) : "standard output", ev.name ? "'" : "");
			}
		}
		LeaveCriticalSection(&ev.lock);
	} else
		ev.lost++;
	free(b->p);
}

/* Were event lines lost (not written)? */
static int
ev_lost(void)
{
	return ev.lost > 0;
}

/* The switches given, by their rows: a flag is true, a number a number,
 * text a string, the rest as its row reads it. */
static void
ev_switches(struct buf *b, const struct pd_config *cfg)
{
	const char *base = (const char *)cfg;
	size_t i;
	int k, n = 0;
	ev_put(b, "{");
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		if (!cfg->given[i])
			continue;
		ev_fmt(b, "%s\"%s\":", n++ ? "," : "", u8s(o->name));
		switch (o->kind) {
		case OPT_INT:
			if ((o->flags & OF_STEPS) && ((const struct pd_steps *)(base + o->off2))->n > 1) {
				const struct pd_steps *st = (const struct pd_steps *)(base + o->off2);
				for (k = 0; k < st->n; k++) /* a threshold list: an array */
					ev_fmt(b, "%s%lld", k ? "," : "[", st->v[k]);
				ev_put(b, "]");
			} else
				ev_fmt(b, "%lld", *(const long long *)(base + o->off));
			break;
		case OPT_DIGIT: ev_fmt(b, "%d", (int)*(const long long *)(base + o->off2)); break;
		case OPT_HEX: ev_fmt(b, "%llu", *(const u64 *)(base + o->off)); break;
		case OPT_STR:
		case OPT_LIST: ev_wstr(b, *(wchar_t *const *)(base + o->off)); break;
		case OPT_COUNTER:
			ev_put(b, "{\"counter\":");
			ev_wstr(b, *(wchar_t *const *)(base + o->off));
			ev_fmt(b, ",\"threshold\":%lld}", *(const long long *)(base + o->off2));
			break;
		case OPT_E: ev_put(b, cfg->first_chance ? "1" : "true"); break;
		case OPT_R: ev_fmt(b, "%d", cfg->clone_limit); break;
		case OPT_I:
			if (cfg->install_folder)
				ev_wstr(b, cfg->install_folder);
			else
				ev_put(b, "true");
			break;
		case OPT_X:
			ev_put(b, "{\"folder\":");
			ev_wstr(b, cfg->launch_folder);
			ev_put(b, ",\"image\":");
			ev_wstr(b, cfg->launch_image);
			ev_put(b, ",\"args\":[");
			for (k = 0; k < cfg->launch_nargs; k++) {
				ev_put(b, k ? "," : "");
				ev_wstr(b, cfg->launch_args[k]);
			}
			ev_put(b, "]}");
			break;
		default:
			if (cfg->typed[i])
				ev_wstr(b, cfg->typed[i]);
			else
				ev_put(b, "true");
		}
	}
	ev_put(b, "}");
}

/* start: the version, procdump's PID, the command line and the switches. */
static void
ev_start(const struct pd_config *cfg, int argc, wchar_t **argv)
{
	struct buf b;
	int k;
	if (ev_begin(&b, "start", NULL) < 0)
		return;
	ev_put(&b, ",\"version\":\"" PD_VERSION "\"");
	ev_fmt(&b, ",\"arch\":\"%s\",\"procdump_pid\":%lu", sizeof(void *) == 8 ? "amd64" : "x86", GetCurrentProcessId());
	ev_key(&b, "argv");
	ev_put(&b, "[");
	for (k = 1; k < argc; k++) {
		ev_put(&b, k > 1 ? "," : "");
		ev_wstr(&b, argv[k]);
	}
	ev_put(&b, "]");
	ev_key(&b, "target");
	ev_wstr(&b, cfg->target);
	ev_key(&b, "output");
	ev_wstr(&b, cfg->output);
	ev_fmt(&b, ",\"count\":%lld,\"seconds\":%lld", cfg->count, cfg->interval_secs);
	ev_key(&b, "switches");
	ev_switches(&b, cfg);
	ev_end(&b);
}

/* Opens the -json stream (the file appended to, or stdout for -) and
 * writes start.  0, or PD_EXIT_USAGE after a line naming -json. */
static int
ev_open(const struct pd_config *cfg, int argc, wchar_t **argv)
{
	DWORD mode;
	if (!cfg->json)
		return 0;
	if (!wcscmp(cfg->json, L"-")) {
		ev.h = GetStdHandle(STD_OUTPUT_HANDLE);
		if (!ev.h || ev.h == INVALID_HANDLE_VALUE) {
			ev.h = NULL;
			warn("-json -: there is no standard output:");
			return PD_EXIT_USAGE;
		}
		ev.console = GetConsoleMode(ev.h, &mode) != 0;
		ev.disk = GetFileType(ev.h) == FILE_TYPE_DISK;
		g.json_stdout = 1;
	} else if ((ev.h = w32_open_append(cfg->json)) == INVALID_HANDLE_VALUE) {
		ev.h = NULL;
		warn("-json: cannot open '%s' for writing:", u8s(cfg->json));
		return PD_EXIT_USAGE;
	} else {
		ev.name = cfg->json;
		ev.disk = 1;
		ev.cut = w32_open_rewrite(cfg->json); /* (NULL: a half line is ended, not cut) */
	}
	InitializeCriticalSection(&ev.lock);
	ev_start(cfg, argc, argv);
	return 0;
}

/* finish: the exit code and the dumps written; then the stream closes. */
static void
ev_finish(int rc)
{
	struct buf b;
	if (ev_begin(&b, "finish", NULL) < 0)
		return;
	ev_fmt(&b, ",\"exit_code\":%d,\"dumps\":%ld", rc, ev.dumps);
	ev_end(&b);
}

static void
ev_close(void)
{
	if (!ev.h)
		return;
	if (!g.json_stdout)
		CloseHandle(ev.h);
	if (ev.cut)
		CloseHandle(ev.cut);
	DeleteCriticalSection(&ev.lock);
	memset(&ev, 0, sizeof ev);
}

/* The target's name and creation time, after its pid. */
static void
ev_target_fields(struct buf *b, const struct pd_target *t)
{
	ev_key(b, "name");
	ev_wstr(b, t->name);
	ev_key(b, "created");
	ev_time(b, t->create_time);
}

/* target_found: the target is open (launched: started by -x). */
static void
ev_target_found(const struct pd_target *t, int launched)
{
	struct buf b;
	if (ev_begin(&b, "target_found", t) < 0)
		return;
	ev_target_fields(&b, t);
	ev_fmt(&b, ",\"wow64\":%s,\"launched\":%s", t->wow64 ? "true" : "false", launched ? "true" : "false");
	ev_end(&b);
}

/* target_exit, once, when the target has ended: with its exit code (code
 * < 0: read from the process, null where it cannot be). */
static void
ev_target_exit(struct pd_target *t, long long code)
{
	struct buf b;
	DWORD c;
	if (!ev.h || t->exit_said || !t->h || (code < 0 && WaitForSingleObject(t->h, 0) != WAIT_OBJECT_0))
		return;
	if (code < 0 && GetExitCodeProcess(t->h, &c) && c != STILL_ACTIVE)
		code = c;
	t->exit_said = 1;
	if (ev_begin(&b, "target_exit", t) < 0)
		return;
	ev_target_fields(&b, t);
	if (code >= 0)
		ev_fmt(&b, ",\"exit_code\":%lld", code);
	else
		ev_put(&b, ",\"exit_code\":null");
	ev_end(&b);
}

/* target_failed: a process of several (-all, -pt) that was found but
 * could not be monitored: gone before it could be opened (exit code 1),
 * or refused (access denied: 3). */
static void
ev_target_failed(const struct pd_target *t, const char *reason, int code)
{
	struct buf b;
	if (ev_begin(&b, "target_failed", t) < 0)
		return;
	ev_target_fields(&b, t);
	ev_fmt(&b, ",\"reason\":\"%s\",\"exit_code\":%d", reason, code);
	ev_end(&b);
}

/* trigger: what fired (kind), its value (a number, num, or text, text;
 * neither: null), the seconds it held (monitors), the thread it is about
 * (0: none), the console's words for it (detail) and, for an exception
 * (managed not NULL), the managed exception's type and message (CLR), or
 * null for both when it is not one or was not named. */
static void
ev_trigger(const struct pd_target *t, const char *kind, long long num, const wchar_t *text, const char *detail,
           int held, DWORD tid, const wchar_t *const managed[2])
{
	struct buf b;
	char k[64];
	size_t i;
	if (ev_begin(&b, "trigger", t) < 0)
		return;
	for (i = 0; kind[i] && i < sizeof k - 1; i++) /* a monitor's row name: "Hung Window" is hung_window */
		k[i] = kind[i] == ' ' ? '_' : kind[i] >= 'A' && kind[i] <= 'Z' ? (char)(kind[i] + 32) : kind[i];
	k[i] = 0;
	ev_key(&b, "kind");
	ev_str(&b, k);
	ev_key(&b, "value");
	if (text)
		ev_wstr(&b, text);
	else if (num != PD_UNSET)
		ev_fmt(&b, "%lld", num);
	else
		ev_put(&b, "null");
	ev_fmt(&b, ",\"held\":%d,\"tid\":%lu", held, tid);
	ev_key(&b, "detail");
	ev_str(&b, detail);
	if (managed) {
		ev_key(&b, "managed_type");
		ev_wstr(&b, managed[0]);
		ev_key(&b, "managed_message");
		ev_wstr(&b, managed[1]);
	}
	ev_end(&b);
}

/* What dump_begin, dump_end and dump_failed share: Dump N, type, path. */
static int
ev_dump_line(struct buf *b, const char *name, const struct pd_target *t, int num, const char *type,
             const wchar_t *path)
{
	if (ev_begin(b, name, t) < 0)
		return -1;
	ev_fmt(b, ",\"number\":%d", num);
	ev_key(b, "type");
	ev_str(b, type);
	ev_key(b, "path");
	ev_wstr(b, path);
	return 0;
}

/* dump_begin: Dump N of this type is about to be written to path. */
static void
ev_dump_begin(const struct pd_target *t, int num, const char *type, const wchar_t *path)
{
	struct buf b;
	if (ev_dump_line(&b, "dump_begin", t, num, type, path) == 0)
		ev_end(&b);
}

/* dump_progress: Dump N is being written, every few seconds of a long
 * one: bytes done of the estimate, the rate, the seconds left at it. */
static void
ev_dump_progress(const struct pd_target *t, int num, const char *type, const wchar_t *path, u64 done, u64 total,
                 double rate, double left)
{
	struct buf b;
	if (ev_dump_line(&b, "dump_progress", t, num, type, path) < 0)
		return;
	ev_fmt(&b, ",\"bytes\":%llu,\"estimate\":%llu,\"percent\":%d,\"mb_per_s\":%.1f,\"seconds_left\":%.0f", done,
	       total, total ? (int)(done * 100 / total) : 0, rate / 1048576.0, left);
	ev_end(&b);
}

/* Why a dump was not written, from its end as run_report judged it (rc:
 * PD_EXIT_*, PD_TIMEOUT, PD_NOSPACE, PD_SKIPPED, PD_GONE) and the writer's
 * result (NULL: it never started); *code is the exit code it stands for
 * (-1: none, the run goes on without it). */
static const char *
ev_dump_reason(const struct pd_target *t, const struct pd_dump_result *res, int rc, int cancelled, int *code)
{
	*code = -1;
	if (rc == PD_TIMEOUT)
		return "timeout";
	if (rc == PD_SKIPPED)
		return res && res->no_memory ? "no_memory" : "clone_limit";
	if (rc == PD_GONE) { /* ended before it was held: its run ends as at its exit */
		*code = PD_EXIT_NOTDONE;
		return "exited";
	}
	*code = PD_EXIT_WRITE;
	if (rc == PD_NOSPACE)
		return "no_space";
	if (cancelled || rc == PD_EXIT_NOTDONE) {
		*code = PD_EXIT_NOTDONE;
		return "cancelled";
	}
	if (rc == PD_EXIT_USAGE || rc == PD_EXIT_TARGET)
		*code = rc;
	if (rc == PD_EXIT_USAGE)
		return "usage";
	if (t->h && WaitForSingleObject(t->h, 0) == WAIT_OBJECT_0)
		return "target_exited";
	return res && res->no_memory ? "no_memory" : "write_error";
}

/* dump_end (rc 0) or dump_failed: how Dump N of this type ended.  res may
 * be NULL (it never started); cancelled: the run was cancelled. */
static void
ev_dump_result(const struct pd_target *t, const struct pd_dump_req *rq, const char *type, int num, int rc,
               const struct pd_dump_result *res, int cancelled)
{
	struct buf b;
	const char *why;
	int code;
	if (ev_dump_line(&b, rc ? "dump_failed" : "dump_end", t, num, type, rq->path) < 0)
		return;
	if (!rc) {
		InterlockedIncrement(&ev.dumps);
		ev_fmt(&b, ",\"bytes\":%llu,\"ms\":%.0f,\"outage_ms\":%.0f", res->bytes, res->seconds * 1e3,
		       res->outage * 1e3);
	} else {
		why = ev_dump_reason(t, res, rc, cancelled, &code);
		ev_key(&b, "reason");
		ev_str(&b, why);
		if (code >= 0)
			ev_fmt(&b, ",\"exit_code\":%d", code);
		else
			ev_put(&b, ",\"exit_code\":null");
		if (res)
			ev_fmt(&b, ",\"ms\":%.0f,\"outage_ms\":%.0f", res->seconds * 1e3, res->outage * 1e3);
	}
	ev_end(&b);
}

/* action_end: how the -ondump action of Dump N ended (the results: man
 * page, JSON EVENTS) and ms from its start (0: it never started). */
static void
ev_action_end(DWORD pid, int num, const wchar_t *path, const wchar_t *cmd, long long code, double ms,
              const char *result)
{
	struct buf b;
	if (ev_begin(&b, "action_end", NULL) < 0)
		return;
	ev_fmt(&b, ",\"pid\":%lu,\"number\":%d", pid, num);
	ev_key(&b, "path");
	ev_wstr(&b, path);
	ev_key(&b, "command");
	ev_wstr(&b, cmd);
	if (code >= 0)
		ev_fmt(&b, ",\"exit_code\":%lld", code);
	else
		ev_put(&b, ",\"exit_code\":null");
	ev_fmt(&b, ",\"ms\":%.0f", ms);
	ev_key(&b, "result");
	ev_str(&b, result);
	ev_end(&b);
}

/* ================================ Actions =============================== */
/* -ondump: the command run after each complete dump, on a thread of its
 * own with a deadline.  Owns the actions' threads and slots; reads no
 * trigger or writer state; never changes a dump's result or exit code. */

#define ACT_SLOTS 2    /* actions running at once; the next ones wait for a slot */
#define ACT_QUEUE 16   /* actions running or waiting: past it, a dump's action is not run (said) */

/* The environment variables that carry the keywords' values (name_keys),
 * by KEY_*: cmd.exe reads "%PD_DUMP_FILE%" without reading the value
 * again; no variable's name holds a keyword, which would be substituted. */
static const wchar_t *const act_vars[NKEYS] = {
	L"PD_DUMP_FILE", L"PD_PROCESS", L"PD_PROCESS_ID", L"PD_EXCEPTION", L"PD_DATE", L"PD_TIME"
};

struct act_job {
	wchar_t *cmd;              /* the command line, its substitutions quoted */
	wchar_t *env;              /* procdump's environment and the PD_* values */
	wchar_t *path;             /* the dump */
	DWORD pid;                 /* the target's, for -json */
	int num;                   /* Dump N */
	DWORD ms;                  /* the deadline (-ondumpat) */
	char tag[MAX_PATH + 24];   /* the target's out_tag (-all, -pt) */
};

static struct {
	HANDLE slots;              /* a semaphore of ACT_SLOTS; NULL: no -ondump */
	HANDLE threads[ACT_QUEUE]; /* the actions' threads, running or waiting for a slot */
	int n;
	CRITICAL_SECTION lock;     /* threads[] and n (-r, -all: dumps end on several threads) */
} act;

/* One argument of a command line, by the C runtime's rules (the first, the
 * program, without backslash escapes, as CreateProcess reads it).  *s
 * moves past it; NULL at the end or out of memory. */
static wchar_t *
act_next_arg(const wchar_t **s, int first)
{
	const wchar_t *p = *s + wcsspn(*s, L" \t");
	wchar_t *r = malloc((wcslen(p) + 1) * sizeof *r);
	size_t o = 0, bs;
	int inq = 0;
	if (!r || !*p) {
		free(r);
		*s = p;
		return NULL;
	}
	while (*p && (inq || (*p != L' ' && *p != L'\t'))) {
		if (*p == L'\\' && !first) {
			for (bs = 0; *p == L'\\'; p++)
				bs++;
			if (*p == L'"') {
				while (bs >= 2)
					r[o++] = L'\\', bs -= 2;
				if (bs) {
					r[o++] = L'"';
					p++;
				}
			} else
				while (bs--)
					r[o++] = L'\\';
		} else if (*p == L'"') {
			if (inq && p[1] == L'"' && !first) /* "" inside quotes: one quote (msvcrt) */
				r[o++] = *p++;
			else
				inq = !inq;
			p++;
		} else
			r[o++] = *p++;
	}
	r[o] = 0;
	*s = p;
	return r;
}

/* Is the program cmd.exe or a batch file?  cmd.exe reads its command line
 * again: inside quotes it still expands %NAME% and (with /v:on) !NAME!. */
static int
act_is_cmd(const wchar_t *prog)
{
	const wchar_t *base = prog, *p;
	for (p = prog; *p; p++)
		if (*p == L'\\' || *p == L'/' || *p == L':')
			base = p + 1;
	return !_wcsicmp(base, L"cmd") || !_wcsicmp(base, L"cmd.exe") || wcs_endswith_i(base, L".bat") ||
	       wcs_endswith_i(base, L".cmd");
}

/* The action's command line: the -ondump text split into arguments, each
 * with the substitutions made and quoted again, so that no value (a path,
 * a process name) can add an argument or a command.  NULL, with *why set,
 * where it cannot be made (*why "refused": a value cmd.exe would expand). */
static wchar_t *
act_command(const wchar_t *tmpl, const wchar_t *const vals[NKEYS], const char **why)
{
	struct buf b = { 0 };
	const wchar_t *s = tmpl;
	wchar_t *a, *v;
	int k, hit, cmd = 0;
	*why = "not_started";
	for (k = 0; (a = act_next_arg(&s, k == 0)); k++) {
		hit = 0;
		v = name_subst(a, vals, &hit);
		if (k == 0)
			cmd = v && act_is_cmd(v);
		if (v && hit && cmd && wcspbrk(v, L"%!")) {
			warn("-ondump: cmd.exe would expand the %% or ! in '%s': pass the value through its environment "
			     "variable (\"%%PD_DUMP_FILE%%\", \"%%PD_PROCESS%%\"...); the action is not run", u8s(v));
			*why = "refused";
			free(v);
			free(a);
			free(b.p);
			return NULL;
		}
		if (v) /* (a blank, a quote or a character cmd.exe acts on: in quotes, where cmd takes it as text) */
			cmd_add(&b, v, k == 0 ? QUOTE_CMD | QUOTE_PROGRAM : QUOTE_CMD);
		else
			b.oom = 1;
		free(v);
		free(a);
	}
	if (!k)
		b.oom = 1;
	return cmd_end(&b);
}

/* Waits for h up to ms (INFINITE: no deadline) or a cancel (Ctrl+C,
 * -cancel; not -duration: a dump finished before it keeps its action).
 * 0: h is signalled; 1: the deadline; 2: cancelled. */
static int
act_wait(HANDLE h, DWORD ms)
{
	HANDLE w[2];
	double end = now_sec() + ms / 1e3, left;
	DWORD k;
	w[0] = h;
	w[1] = g.cancel_event;
	for (;;) {
		left = (end - now_sec()) * 1e3;
		k = WaitForMultipleObjects(g.cancel_event && (g.cancel || !g.expired) ? 2 : 1, w, FALSE,
		                           ms == INFINITE ? INFINITE : left > 0 ? (DWORD)left : 0);
		if (k == WAIT_OBJECT_0)
			return 0;
		if (k == WAIT_TIMEOUT || k == WAIT_FAILED)
			return 1;
		if (g.cancel)
			return 2;
	}
}

/* The end of an action: its line and action_end. */
static void
act_said(const struct act_job *j, long long code, double t0, const char *result)
{
	double secs = t0 ? now_sec() - t0 : 0;
	if (!strcmp(result, "exited"))
		out("%s Dump %d action exited with code %lld after %.1f seconds.\n", stamp(), j->num, code, secs);
	else if (!strcmp(result, "timeout"))
		out("%s Dump %d action killed: still running after %lu seconds (-ondumpat).\n", stamp(), j->num,
		    j->ms / 1000);
	else if (!strcmp(result, "cancelled"))
		out("%s Dump %d action %s: monitoring was cancelled.\n", stamp(), j->num, t0 ? "killed" : "not run");
	ev_action_end(j->pid, j->num, j->path, j->cmd, code, secs * 1e3, result);
}

static void
act_free(struct act_job *j)
{
	free(j->cmd);
	free(j->env);
	free(j->path);
	free(j);
}

/* One action: a slot, the process, its deadline. */
static DWORD WINAPI
act_main(void *arg)
{
	struct act_job *j = arg;
	PROCESS_INFORMATION pi;
	HANDLE job;
	DWORD code = 0;
	double t0;
	int w;
	memcpy(out_tag, j->tag, sizeof out_tag);
	if (act_wait(act.slots, INFINITE)) {
		act_said(j, -1, 0, "cancelled");
		act_free(j);
		return 0;
	}
	t0 = now_sec();
	vlog("Dump %d action: %s", j->num, u8s(j->cmd));
	if (w32_spawn_hidden(j->cmd, j->env, &pi, &job) < 0) {
		warn("Dump %d action could not start: %s:", j->num, u8s(j->cmd));
		act_said(j, -1, 0, "not_started");
	} else {
		if ((w = act_wait(pi.hProcess, j->ms))) {
			w32_kill_spawned(pi.hProcess, job);
			WaitForSingleObject(pi.hProcess, 5000);
			act_said(j, -1, t0, w == 1 ? "timeout" : "cancelled");
		} else {
			GetExitCodeProcess(pi.hProcess, &code);
			act_said(j, code, t0, "exited");
		}
		CloseHandle(pi.hProcess);
		if (job)
			CloseHandle(job);
	}
	ReleaseSemaphore(act.slots, 1, NULL);
	act_free(j);
	return 0;
}

/* Closes the threads of the actions that have ended (all: waits for them,
 * each within its slot's wait and its deadline).  Under act.lock. */
static void
act_reap(int all)
{
	int i, o = 0;
	for (i = 0; i < act.n; i++) {
		if (WaitForSingleObject(act.threads[i], all ? INFINITE : 0) == WAIT_OBJECT_0)
			CloseHandle(act.threads[i]);
		else
			act.threads[o++] = act.threads[i];
	}
	act.n = o;
}

/* Starts the action of a complete dump (path) of process name/pid, Dump
 * num, exception code (0: none), on its own thread; returns at once. */
static void
act_start(const struct pd_config *cfg, const wchar_t *path, const wchar_t *name, DWORD pid, DWORD exc, int num)
{
	struct name_nums n;
	const wchar_t *vals[NKEYS] = { path, name, n.pid, n.exc, n.ymd, n.hms };
	wchar_t *pairs[NKEYS];
	struct act_job *j;
	const char *why = "not_started";
	SYSTEMTIME st;
	HANDLE th;
	int k;
	if (!act.slots || !(j = xcalloc(1, sizeof *j)))
		return;
	GetLocalTime(&st); /* (the time the dump completed) */
	name_nums(&n, pid, exc, &st);
	for (k = 0; k < NKEYS; k++)
		if ((pairs[k] = malloc((wcslen(vals[k]) + 32) * sizeof(wchar_t))))
			swprintf(pairs[k], wcslen(vals[k]) + 32, L"%ls=%ls", act_vars[k], vals[k]);
	j->path = wdup(path);
	j->pid = pid;
	j->num = num;
	j->ms = (DWORD)cfg->ondump_secs * 1000;
	memcpy(j->tag, out_tag, sizeof j->tag);
	j->cmd = act_command(cfg->ondump, vals, &why);
	for (k = 0; k < NKEYS && pairs[k]; k++)
		;
	j->env = k == NKEYS ? w32_env_with((const wchar_t *const *)pairs, NKEYS) : NULL;
	for (k = 0; k < NKEYS; k++)
		free(pairs[k]);
	EnterCriticalSection(&act.lock);
	act_reap(0);
	if (!j->cmd || !j->env || !j->path) {
		if (strcmp(why, "refused"))
			warn("Dump %d action: out of memory", num);
		act_said(j, -1, 0, why);
		act_free(j);
	} else if (act.n == ACT_QUEUE) {
		out("%s Dump %d action not run: %d actions are running or waiting.\n", stamp(), num, ACT_QUEUE);
		act_said(j, -1, 0, "queue_full");
		act_free(j);
	} else if (!(th = CreateThread(NULL, 0, act_main, j, 0, NULL))) {
		warn("Dump %d action: cannot start its thread:", num);
		act_said(j, -1, 0, "not_started");
		act_free(j);
	} else
		act.threads[act.n++] = th;
	LeaveCriticalSection(&act.lock);
}

/* -ondump given: the slots, before any dump. */
static void
act_open(const struct pd_config *cfg)
{
	if (!cfg->ondump)
		return;
	if (!(act.slots = CreateSemaphoreW(NULL, ACT_SLOTS, ACT_SLOTS, NULL))) {
		warn("-ondump: no action will run (cannot create its semaphore):");
		return;
	}
	InitializeCriticalSection(&act.lock);
}

/* Before procdump ends: waits for the actions still running (each ends by
 * its deadline; Ctrl+C kills them), so that every action_end is written. */
static void
act_close(void)
{
	if (!act.slots)
		return;
	EnterCriticalSection(&act.lock);
	act_reap(0);
	if (act.n)
		out("%s Waiting for %d -ondump action%s to end.\n", stamp(), act.n, act.n == 1 ? "" : "s");
	act_reap(1);
	LeaveCriticalSection(&act.lock);
	DeleteCriticalSection(&act.lock);
	CloseHandle(act.slots);
	memset(&act, 0, sizeof act);
}

/* ================================== Run ================================= */
/* One run of a target's triggers (struct pd_run, run_*): the count,
 * cancellation (Ctrl+C, -cancel, the named event ProcDump-<PID>), the dump
 * file names, each dump's request, progress and report line (-r: on job
 * threads of their own), the summary and the exit code.  Triggers, the
 * Debugger and Install decide when and call run_fire(); the run never
 * decides when, and only the writer touches dump files. */

static BOOL WINAPI
run_ctrl_handler(DWORD type)
{
	if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
		InterlockedExchange(&g.cancel, 1);
		if (g.cancel_event)
			SetEvent(g.cancel_event);
		return TRUE;
	}
	return FALSE;
}

/* ProcDump-<PID>: the named event that -cancel (or any program) sets to
 * stop every procdump monitoring PID; manual-reset, so all of them see it. */
static HANDLE
run_cancel_event(DWORD pid)
{
	wchar_t name[64];
	swprintf(name, 64, L"ProcDump-%lu", pid);
	return CreateEventW(NULL, TRUE, FALSE, name);
}

/* The dump file names a run has made (the man page's DUMP FILES). */
struct run_names {
	wchar_t **used;
	int n, cap;
};

/* The default file name.  It holds the PID with several targets (-all,
 * -pt: one name, several processes at once) and for a service (-svc: one
 * process after another). */
static const wchar_t *
run_default_name(const struct pd_config *cfg)
{
	return cfg->all || cfg->children || cfg->svc ? L"PROCESSNAME_PID_YYMMDD_HHMMSS" : L"PROCESSNAME_YYMMDD_HHMMSS";
}

/* The pattern a dump's file name is made from: the given file name (with
 * its folder, as typed), or the default name (-keep finds a dump's kin by
 * it). */
static const wchar_t *
run_name_pattern(const struct pd_config *cfg, int out_is_dir)
{
	return cfg->output && !out_is_dir ? cfg->output : run_default_name(cfg);
}

/* Full path of the next dump: folder + default name, or the given name
 * with substitutions and .dmp; _TAG (_Mini...) before .dmp where a trigger
 * writes several types; a name this run already wrote gets -2, -3... */
static wchar_t *
run_dump_path(const struct pd_config *cfg, const struct pd_target *t, struct run_names *nm,
               DWORD code, int out_is_dir, const char *tag)
{
	SYSTEMTIME st;
	struct name_nums nn;
	const wchar_t *vals[NKEYS] = { NULL, t->name, nn.pid, nn.exc, nn.ymd, nn.hms };
	wchar_t *s, *name, *full, *cand;
	const wchar_t *dir = !cfg->output ? L"." : out_is_dir ? cfg->output : L""; /* a given name has its own */
	size_t n;
	int k, i, hit = 0;

	GetLocalTime(&st);
	name_nums(&nn, t->pid, code, &st);
	if (!(s = name_subst(run_name_pattern(cfg, out_is_dir), vals, &hit)))
		return NULL;
	n = wcslen(dir) + wcslen(s) + 8;
	if ((name = malloc(n * sizeof *name)))
		swprintf(name, n, L"%ls%ls%ls%ls", dir,
		         !*dir || wcs_endswith_i(dir, L"\\") || wcs_endswith_i(dir, L"/") ? L"" : L"\\", s,
		         wcs_endswith_i(s, L".dmp") ? L"" : L".dmp");
	free(s);
	if (!name)
		return NULL;
	if (tag && (cand = malloc((wcslen(name) + 32) * sizeof *cand))) {
		swprintf(cand, wcslen(name) + 32, L"%.*ls_%hs.dmp", (int)(wcslen(name) - 4), name, tag);
		free(name);
		name = cand;
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
		/* several targets: another process may have had this PID, and
		 * dumped, in the same second */
		if (g.tagged && !cfg->overwrite && GetFileAttributesW(cand) != INVALID_FILE_ATTRIBUTES)
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

static const char *
run_type_name(int type)
{
	static const char *n[PD_NTYPES] = { "Mini", "Full", "Triage", "MiniPlus", "Custom", "Callback" };
	return type >= 0 && type < PD_NTYPES ? n[type] : "?";
}

/* One run of triggers (the timed series, the monitors, the debugger):
 * what every loop shares, so that a loop only decides when. */
struct pd_run {
	const struct pd_config *cfg;
	struct pd_target *t;
	MINIDUMP_CALLBACK_ROUTINE callback; /* -md, loaded by Main */
	struct run_names names;   /* files this run wrote */
	int out_is_dir;            /* the output is a folder */
	HANDLE named;              /* ProcDump-<PID>, set by -cancel */
	int trigno;                /* triggers so far: Dump N (all its types share N) */
	long long fired;           /* triggers whose dumps were all written */
	long long skipped;         /* triggers whose dump the free-space floor refused (not counted) */
	int done;                  /* stop: count reached, a dump failed, or cancelled */
	int rc;                    /* the exit code once done */
	int ended;                 /* run_end said its line */
	int last;                  /* the dump being written is the run's last (-k after the clone) */
	int held;                  /* the Debugger holds the target at a debug event (pd_dump_req.held) */
	struct run_job **jobs; int njobs, cap_jobs; /* its dumps (-r: their threads) */
	HANDLE slots;              /* -r N: a semaphore of N triggers' clones (N x the types) being written */
	volatile LONG late_rc;     /* -r: the first failure of a dump written after its trigger went on */
	HANDLE write_after;        /* -j -r: a clone is written once this is set (the crashed process ended) */
	DWORD write_after_ms;      /* ... or once this long has passed */
};

/* One dump in progress, for the writer's callbacks. */
struct run_dump_ctx {
	struct pd_run *r;
	int num;                   /* Dump N */
	HANDLE on_cloned;          /* -r: set once the clone is taken */
	volatile int cloned;
	const struct pd_dump_req *rq; /* its request (type, path: dump_progress) */
	double shown, evented;     /* seconds into the writing when the progress line, the dump_progress
	                            * event were last written */
	int console;               /* its progress may go to the console (one target, no -r): 0, 1, -1 no console */
};

static void
run_begin(struct pd_run *r, const struct pd_config *cfg, struct pd_target *t, int out_is_dir,
          MINIDUMP_CALLBACK_ROUTINE callback)
{
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->t = t;
	r->out_is_dir = out_is_dir;
	r->callback = callback;
	r->named = run_cancel_event(t->pid);
	/* the limit counts triggers: all the types of one trigger (-mm -ma) are
	 * cloned together, else the second would wait for the first's write
	 * while the target stays held at its debug event (-e, -j) */
	if (cfg->clone && !(r->slots = CreateSemaphoreW(NULL, (LONG)(cfg->clone_limit * cfg->ntypes),
	                                            (LONG)(cfg->clone_limit * cfg->ntypes), NULL)))
		warn("CreateSemaphore:"); /* (then run_slot cannot wait: the trigger is not done) */
}

/* What a run says when -duration ended it (instead of "Cancelled."). */
static const char run_expired[] = "Duration elapsed (-duration): monitoring ends.";

static int
run_cancelled(const struct pd_run *r)
{
	return g.cancel || g.expired || (r->named && WaitForSingleObject(r->named, 0) == WAIT_OBJECT_0);
}

/* Was a failed dump stopped by the user (Ctrl+C, -cancel)?  Then it is a
 * cancel, exit 1.  -duration lets a dump end: one that failed after it
 * failed for its own reason. */
static int
run_interrupted(const struct pd_run *r)
{
	return g.cancel || (r->named && WaitForSingleObject(r->named, 0) == WAIT_OBJECT_0);
}

/* Ends the run early (cancelled, -duration, the process exited): says why,
 * exit 1. */
static void
run_stop(struct pd_run *r, const char *why)
{
	out("%s %s\n", stamp(), g.expired ? run_expired : why);
	r->rc = PD_EXIT_NOTDONE;
	r->done = 1;
}

/* Waits up to ms for the target's exit or a cancel; stops the run on
 * either.  Returns 1 if the run goes on. */
static int
run_wait(struct pd_run *r, DWORD ms)
{
	HANDLE w[3];
	DWORD n = 0, k;
	w[n++] = g.cancel_event;
	w[n++] = r->t->h;
	if (r->named)
		w[n++] = r->named;
	k = WaitForMultipleObjects(n, w, FALSE, ms);
	if (k == WAIT_OBJECT_0 + 1)
		run_stop(r, "The process has exited.");
	else if (k != WAIT_TIMEOUT || run_cancelled(r))
		run_stop(r, "Cancelled.");
	else if (r->late_rc)
		r->done = 1; /* -r: a dump failed after its trigger went on (run_end says so) */
	return !r->done;
}

#define RUN_PROGRESS_AFTER 1.0  /* seconds of writing before the console's progress line */
#define RUN_PROGRESS_EVERY 0.25 /* seconds between its updates */
#define RUN_EVENT_EVERY 5.0     /* seconds between -json dump_progress events */

/* The writer's progress through a dump's memory: on an interactive
 * console, one line rewritten at most 4 times a second once the dump has
 * taken a second (out_progress); with -json, dump_progress every 5 s.
 * Redirected output never gets it: what scripts parse stays the same. */
static void
run_on_progress(void *ctx, u64 done, u64 total, double secs)
{
	struct run_dump_ctx *c = ctx;
	double rate = secs > 0 ? (double)done / secs : 0;
	double left = rate > 0 && total > done ? (double)(total - done) / rate : 0;
	int pct = total ? (int)(done * 100 / total) : 0;
	char line[160];
	if (c->console > 0 && secs >= RUN_PROGRESS_AFTER && secs - c->shown >= RUN_PROGRESS_EVERY) {
		snprintf(line, sizeof line, "%s Dump %d writing: %d%% of %llu MB, %.0f MB/s, %.0f s left", stamp(),
		         c->num, pct, size_mb(total), rate / 1048576.0, left);
		if (out_progress(line) < 0)
			c->console = -1;
		c->shown = secs;
	}
	if (secs - c->evented >= RUN_EVENT_EVERY) {
		ev_dump_progress(c->r->t, c->num, run_type_name(c->rq->type), c->rq->path, done, total, rate, left);
		c->evented = secs;
	}
}

/* -r: the clone is taken.  With -k, the run's last clone ends the target
 * now, as ProcDump does, while the dump is written from the copy (with
 * -x, debug triggers or -j the debugger kills at its own end).  With
 * r->write_after (-j -r) the write waits, with a deadline, for the crashed
 * process to end first. */
static void
run_on_clone(void *ctx)
{
	struct run_dump_ctx *c = ctx;
	const struct pd_config *cfg = c->r->cfg;
	out("%s Dump %d cloned: the process runs on while the dump is written.\n", stamp(), c->num);
	if (cfg->kill_after && c->r->last && !cfg->launch && !cfg->debug && !cfg->postmortem)
		tgt_kill(c->r->t);
	c->cloned = 1;
	if (c->on_cloned) /* the trigger goes on */
		SetEvent(c->on_cloned);
	if (c->r->write_after && WaitForSingleObject(c->r->write_after, c->r->write_after_ms) != WAIT_OBJECT_0)
		out("%s Process %lu has not ended within %lu s of the clone: Dump %d is written now.\n", stamp(),
		    c->r->t->pid, c->r->write_after_ms / 1000, c->num);
}

/* The request for one dump of one type (the caller owns path and ev). */
static void
run_request(struct pd_run *r, struct pd_dump_req *rq, int type, const struct pd_event *ev, wchar_t *path,
            struct run_dump_ctx *dc)
{
	const struct pd_config *cfg = r->cfg;
	memset(rq, 0, sizeof *rq);
	rq->type = type;
	rq->mask = cfg->custom_mask;
	rq->path = path;
	rq->comment = cfg->comment;
	rq->overwrite = cfg->overwrite;
	rq->ev = ev;
	rq->dbghelp = cfg->dbghelp;
	rq->native_view = cfg->native_view;
	rq->minfree_mb = GIVEN(cfg, minfree) ? cfg->minfree : PD_UNSET;
	rq->inherit_acl = cfg->inheritacl;
	rq->callback = type == PD_CALLBACK ? r->callback : NULL;
	rq->cancel = &g.cancel;
	rq->cancel_event = r->named;
	rq->deadline = GIVEN(cfg, timeout_secs) ? now_sec() + (double)cfg->timeout_secs : 0;
	rq->num = dc->num;
	rq->on_progress = run_on_progress;
	dc->rq = rq;
	dc->console = !cfg->clone && !g.tagged; /* (one line in place: no other thread prints meanwhile) */
	rq->held = r->held;
	rq->clone = cfg->clone;
	rq->on_clone = run_on_clone;
	rq->ctx = dc;
}

/* ProcDump's line on how dump num ended, and what follows a complete one
 * (-mk, -keep).  Returns rc, PD_NOSPACE for a dump refused for space,
 * PD_SKIPPED for a clone -a skipped for memory, or PD_GONE for a target
 * that had ended before its dump began. */
static int
run_report(struct pd_run *r, const struct pd_dump_req *rq, int num, int rc, const struct pd_dump_result *res)
{
	const struct pd_config *cfg = r->cfg;
	if (rc && res->no_space) {
		out("%s Dump %d skipped: not enough free disk space (-minfree); the process was resumed.\n",
		    stamp(), num);
		rc = PD_NOSPACE;
	} else if (rc && res->no_memory && cfg->avoid_outage) {
		out("%s Dump %d skipped: the clone would not fit in memory (-a, avoid outage).\n", stamp(), num);
		rc = PD_SKIPPED;
	} else if (rc == PD_TIMEOUT)
		out("%s Dump %d cancelled: the collection took longer than %lld seconds (-at); "
		    "the process was resumed.\n", stamp(), num, cfg->timeout_secs);
	else if (rc == PD_EXIT_TARGET && !tgt_alive(r->t)) {
		/* gone before it could be held: not a failed dump (nothing was
		 * read) but the target's exit, as between two dumps of a series */
		out("%s The process has exited.\n", stamp());
		rc = PD_GONE;
	} else if (rc)
		out("%s Dump %d failed.\n", stamp(), num);
	else {
		out("%s Dump %d complete: %llu MB written in %.1f seconds\n", stamp(), num,
		    size_mb(res->bytes), res->seconds);
		vlog("dump %d complete at %llu (FILETIME)", num, w32_precise_now());
		if (cfg->kernel_dump)
			dump_write_kernel(rq); /* a kernel dump that fails leaves the user dump standing */
		if (GIVEN(cfg, keep))
			dump_retain(rq->path, run_name_pattern(cfg, r->out_is_dir), r->t->name,
			            cfg->ntypes > 1 ? run_type_name(rq->type) : NULL, cfg->keep);
	}
	ev_dump_result(r->t, rq, run_type_name(rq->type), num, rc, res, run_interrupted(r));
	if (!rc && cfg->ondump) /* (complete: flushed and under its final name) */
		act_start(cfg, rq->path, r->t->name, r->t->pid, rq->ev ? rq->ev->exception_code : 0, num);
	return rc;
}

/* -r: one dump written by a thread of its own, so that the trigger goes
 * on once the clone is taken; up to -r N of them at once (r->slots). */
struct run_job {
	struct run_dump_ctx dc;    /* (first: the writer's ctx) */
	struct pd_dump_req rq;
	struct pd_dump_result res;
	struct pd_event ev;        /* a copy: the trigger's goes away */
	wchar_t *path;
	HANDLE thread;
	int rc;                    /* the dump's end (run_report) */
};

static DWORD WINAPI
run_job_main(void *arg)
{
	struct run_job *j = arg;
	struct pd_run *r = j->dc.r;
	out_tag_target(r->t->name, r->t->pid); /* the lines of its target's thread */
	j->rc = run_report(r, &j->rq, j->dc.num, dump_write(r->t, &j->rq, &j->res), &j->res);
	if (j->dc.cloned && j->rc) /* the trigger went on: its run learns of it at its end */
		InterlockedCompareExchange(&r->late_rc, j->rc, 0);
	w32_debugger_release(); /* (the attach of this thread's dump) */
	ReleaseSemaphore(r->slots, 1, NULL);
	return 0;
}

/* Waits for a free slot of -r N, or (-a) skips the trigger.  0, PD_SKIPPED,
 * or PD_EXIT_NOTDONE (cancelled while waiting). */
static int
run_slot(struct pd_run *r, int num)
{
	HANDLE w[3];
	DWORD n = 0, k;
	if (WaitForSingleObject(r->slots, 0) == WAIT_OBJECT_0)
		return 0;
	if (r->cfg->avoid_outage) {
		out("%s Dump %d skipped: the limit of %d clones being written is reached (-a, avoid outage).\n",
		    stamp(), num, r->cfg->clone_limit);
		return PD_SKIPPED;
	}
	out("%s Dump %d waits: the limit of %d clones being written is reached (-r).\n", stamp(), num,
	    r->cfg->clone_limit);
	w[n++] = r->slots;
	w[n++] = g.cancel_event;
	if (r->named)
		w[n++] = r->named;
	k = WaitForMultipleObjects(n, w, FALSE, INFINITE);
	return k == WAIT_OBJECT_0 ? 0 : PD_EXIT_NOTDONE;
}

/* -r: starts the dump's thread and returns once the clone is taken (0:
 * the dump goes on), or with the dump's end if it ended first. */
static int
run_dump_cloned(struct pd_run *r, struct run_job *j)
{
	HANDLE w[2];
	int rc;
	if ((rc = run_slot(r, j->dc.num))) {
		ev_dump_result(r->t, &j->rq, run_type_name(j->rq.type), j->dc.num, rc, NULL, run_interrupted(r));
		return rc;
	}
	if (!(j->dc.on_cloned = CreateEventW(NULL, TRUE, FALSE, NULL)) ||
	    !(j->thread = CreateThread(NULL, 0, run_job_main, j, 0, NULL))) {
		warn("cannot start the dump's thread:");
		ReleaseSemaphore(r->slots, 1, NULL);
		ev_dump_result(r->t, &j->rq, run_type_name(j->rq.type), j->dc.num, PD_EXIT_WRITE, NULL, 0);
		return PD_EXIT_WRITE;
	}
	w[0] = j->dc.on_cloned;
	w[1] = j->thread;
	if (WaitForMultipleObjects(2, w, FALSE, INFINITE) == WAIT_OBJECT_0)
		return 0;
	WaitForSingleObject(j->thread, INFINITE); /* (ended, or the wait failed: its end is the answer) */
	return j->rc;
}

/* Frees the jobs whose dumps have ended (all of them, waiting, with wait). */
static void
run_reap(struct pd_run *r, int wait)
{
	int i, o = 0;
	for (i = 0; i < r->njobs; i++) {
		struct run_job *j = r->jobs[i];
		if (j->thread && WaitForSingleObject(j->thread, wait ? INFINITE : 0) != WAIT_OBJECT_0) {
			r->jobs[o++] = j;
			continue;
		}
		if (j->thread)
			CloseHandle(j->thread);
		if (j->dc.on_cloned)
			CloseHandle(j->dc.on_cloned);
		free(j->path);
		free(j);
	}
	r->njobs = o;
}

/* One dump of one type, with ProcDump's lines.  0, PD_EXIT_*, PD_TIMEOUT
 * (-at cancelled it), PD_NOSPACE, PD_SKIPPED or PD_GONE; with -r, 0 once the clone
 * is taken (run_reap waits for the write at the run's end). */
static int
run_dump(struct pd_run *r, int type, const struct pd_event *ev)
{
	const struct pd_config *cfg = r->cfg;
	struct run_job *j = xcalloc(1, sizeof *j);
	run_reap(r, 0);
	if (!j || vec_grow(&r->jobs, &r->cap_jobs, r->njobs, sizeof *r->jobs, 8) < 0 ||
	    !(j->path = run_dump_path(cfg, r->t, &r->names, ev ? ev->exception_code : 0, r->out_is_dir,
	                                cfg->ntypes > 1 ? run_type_name(type) : NULL))) {
		warn("cannot make a dump file name");
		free(j);
		return PD_EXIT_WRITE;
	}
	r->jobs[r->njobs++] = j; /* (freed by run_reap) */
	j->dc.r = r;
	j->dc.num = r->trigno;
	if (ev)
		j->ev = *ev;
	run_request(r, &j->rq, type, ev ? &j->ev : NULL, j->path, &j->dc);
	out("%s Dump %d initiated: %s\n", stamp(), j->dc.num, u8s(j->path));
	ev_dump_begin(r->t, j->dc.num, run_type_name(type), j->path);
	vlog("dump type %s", run_type_name(type));
	if (cfg->clone)
		return run_dump_cloned(r, j);
	return run_report(r, &j->rq, j->dc.num, dump_write(r->t, &j->rq, &j->res), &j->res);
}

/* Closes the run: ProcDump's summary line (once: the debugger says it
 * before it detaches or kills) and the exit code.  A loop that ended
 * before the count (a timed series whose trigger -at cancelled) did not
 * reach it. */
static int
run_end(struct pd_run *r)
{
	int i;
	if (r->ended)
		return r->rc;
	r->ended = 1;
	run_reap(r, 1); /* -r: the dumps still being written from their clones */
	ev_target_exit(r->t, -1);
	if (r->late_rc) { /* a dump written from its clone failed after its trigger was counted */
		r->rc = run_interrupted(r) ? PD_EXIT_NOTDONE : PD_EXIT_WRITE;
		r->done = 1;
	}
	if (!r->done)
		r->rc = r->skipped ? PD_EXIT_WRITE : PD_EXIT_NOTDONE; /* 4: dumps were refused for space */
	if (r->rc == PD_EXIT_OK)
		out("%s Dump count reached.\n", stamp());
	else if (r->rc == PD_EXIT_NOTDONE || (r->rc == PD_EXIT_WRITE && (r->skipped || r->late_rc)))
		out("%s Dump count not reached.\n", stamp());
	if (r->named)
		CloseHandle(r->named);
	if (r->slots)
		CloseHandle(r->slots);
	free(r->jobs);
	for (i = 0; i < r->names.n; i++)
		free(r->names.used[i]);
	free(r->names.used);
	return r->rc;
}

/* A trigger fired: one dump of each requested type, counted toward -n. */
static void
run_fire(struct pd_run *r, const struct pd_event *ev)
{
	int i, rc = 0;
	if (r->late_rc) { /* -r: a dump written from its clone failed: the run ends, as without -r */
		r->done = 1;
		return;
	}
	r->trigno++; /* Dump N counts triggers, as ProcDump does */
	for (i = 0; i < r->cfg->ntypes && !rc; i++) {
		r->last = i == r->cfg->ntypes - 1 && r->fired + 1 >= r->cfg->count;
		rc = run_dump(r, r->cfg->types[i], ev);
	}
	if (rc == PD_TIMEOUT || rc == PD_SKIPPED) /* (-at, -a) not written, not counted; monitoring goes on */
		return;
	if (rc == PD_NOSPACE) {
		r->skipped++; /* the same, and the run's exit code says so (run_end) */
		return;
	}
	if (rc) {
		r->rc = run_interrupted(r) || rc == PD_GONE ? PD_EXIT_NOTDONE : rc;
		r->done = 1;
	} else if (++r->fired >= r->cfg->count) {
		r->rc = PD_EXIT_OK;
		r->done = 1;
	}
}

/* -cancel PID: set ProcDump-<PID>, which every instance monitoring PID waits on. */
static int
run_cancel_pid(DWORD pid)
{
	wchar_t name[64];
	HANDLE e;
	swprintf(name, 64, L"ProcDump-%lu", pid);
	e = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
	if (!e) {
		warn("no procdump is monitoring PID %lu", pid);
		return PD_EXIT_TARGET;
	}
	SetEvent(e);
	CloseHandle(e);
	out("Cancel signalled to every procdump monitoring PID %lu.\n", pid);
	return 0;
}

/* =============================== Triggers =============================== */
/* Decides when to dump: the immediate dump and the timed series (-n -s),
 * the sampled monitors (-c -cl -m -ml -tc -hc -p -pl -h, rows of
 * trig_kinds[]), and, for the Debugger, the filters (-f -fx) and
 * exception names its events share.  A trigger fills a struct pd_event
 * and calls run_fire() (Run); it never writes a file. */

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
	{ 0x04242420, "CLRDBG_NOTIFICATION" }, /* the CLR's message to a managed debugger */
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
				if (texts[i] && wcs_glob(pat, texts[i]))
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
	if (cfg->include_set && !trig_list_match(cfg->include, texts, n))
		return 0;
	if (cfg->exclude_set && trig_list_match(cfg->exclude, texts, n))
		return 0;
	return 1;
}

/* A trigger's event with no exception record: the thread it is about. */
static struct pd_event
trig_event(DWORD tid, int at_exit)
{
	struct pd_event e;
	memset(&e, 0, sizeof e);
	e.tid = tid;
	e.at_exit = at_exit;
	return e;
}

/* A trigger without an exception fired: its -json line (ev_trigger), then
 * its dumps. */
static void
trig_fire(struct pd_run *r, const char *kind, long long num, const wchar_t *text, const char *detail, int held,
          DWORD tid, int at_exit)
{
	struct pd_event e = trig_event(tid, at_exit);
	ev_trigger(r->t, kind, num, text, detail, held, tid, NULL);
	run_fire(r, &e);
}

/* Has the timed series made its last attempt?  With -n it goes on until
 * -n dumps are written (a dump -at cancelled or -a skipped is not one) or
 * refused for space (the disk will not free itself: exit 4).  Without -n,
 * the immediate dump is the one attempt. */
static int
trig_timed_over(const struct pd_run *r, long long k)
{
	if (!GIVEN(r->cfg, count))
		return k >= 1;
	return r->fired + r->skipped >= r->cfg->count;
}

/* The timed series: dump now, then every -s seconds until -n dumps are
 * written.  Ends early (exit 1) when the target exits or the run is
 * cancelled. */
static void
trig_run_timed(struct pd_run *r)
{
	long long k;
	for (k = 0; !trig_timed_over(r, k) && !r->done; k++) {
		if (k > 0 && !run_wait(r, (DWORD)(r->cfg->interval_secs * 1000)))
			break;
		if (run_cancelled(r))
			run_stop(r, "Cancelled.");
		else if (!tgt_alive(r->t))
			run_stop(r, "The process has exited.");
		else
			trig_fire(r, "timed", PD_UNSET, NULL, k ? "-s seconds passed" : "immediate", 0, 0, 0);
	}
}

/* ---- Sampling monitors (-c -cl -m -ml -tc -hc -p -pl -h): rows of
 * trig_kinds[], sampled once a second by whichever loop owns the target
 * (the debugger loop when attached: only the thread that attached may wait
 * for its events).  A condition must hold -s consecutive seconds (-h: its
 * value is already seconds).  With threshold lists (cfg->lists) each value
 * fires once, in order; otherwise a row fires until -n. */

struct trig_mon;
struct trig_kind {
	const char *name, *unit;   /* as printed: CPU 45% */
	int strict;                /* "above" means > rather than >= */
	const char *held;          /* printed when it holds ("... N seconds."), instead of the value */
	/* armed by the command line?  Its thresholds, and above (1) or below (0) */
	int (*armed)(const struct pd_config *, struct pd_steps *st, int *above);
	int (*open)(struct trig_mon *);          /* NULL: nothing to open; 0 or -1 */
	int (*sample)(struct trig_mon *, long long *v); /* 1 value, 0 none yet, -1 target gone */
};

struct trig_row {
	const struct trig_kind *k;
	int above;
	struct pd_steps st;     /* its thresholds, in firing order */
	int step;               /* the one armed now; st.n: every one fired (a list's row stops) */
	int need;               /* consecutive samples to fire */
	int held;               /* consecutive samples so far */
	long long last;         /* the last sample */
};

#define TRIG_NKINDS 6       /* rows of trig_kinds[] */

struct trig_mon {
	const struct pd_config *cfg;
	struct pd_target *t;
	int ncpu;
	u64 prev_cpu;           /* user+kernel 100 ns of the target */
	double prev_wall;       /* now_sec() of prev_cpu */
	int have_prev;          /* prev_* hold a sample (CPU needs two) */
	struct w32_counter counter; /* -p/-pl */
	int cpu;                /* the CPU row is armed */
	struct trig_row rows[TRIG_NKINDS];
	int nrows;
	int fired_row;          /* the row that fired last (-1: none yet); the next turn starts after it */
	int hung;               /* -h: a window does not respond (since hung_since) */
	double hung_since;      /* now_sec() when the hang began */
	double next_tick;       /* now_sec() of the next sample */
	char why[160];          /* what fired, for the console */
	const char *why_kind;   /* and for -json: its row's name, value (PD_UNSET: none) and seconds held */
	long long why_value;
	int why_held;
};

/* CPU of the target in percent of the machine (of one core with -u), from
 * SystemProcessInformation: remote GetProcessTimes stays 0 under Wine. */
static int
trig_sample_cpu(struct trig_mon *m, long long *v)
{
	struct w32_sample smp;
	int r;
	if ((r = w32_process_sample(m->t->pid, m->t->create_time, &smp)) < 0)
		return r == -2 ? 0 : -1;
	/* smp.at: the list's time (it may be shared, and up to W32_SHARED_AGE old) */
	if (m->have_prev && smp.at > m->prev_wall) {
		double pct = (double)(smp.cpu - m->prev_cpu) / 1e5 / (smp.at - m->prev_wall);
		if (!m->cfg->per_core)
			pct /= m->ncpu;
		*v = (long long)(pct + 0.5);
		r = 1;
	}
	m->prev_cpu = smp.cpu;
	m->prev_wall = smp.at;
	m->have_prev = 1;
	return r;
}

/* Commit (private bytes) in MB.  Under Wine this counter is resident
 * memory: only touched pages count (doc/WINE.md section 2). */
static int
trig_sample_commit(struct trig_mon *m, long long *v)
{
	struct pd_vm_counters vm;
	if (w32_vm_counters(m->t->h, &vm) < 0)
		return -1;
	*v = (long long)((vm.PrivateUsage ? vm.PrivateUsage : vm.PagefileUsage) >> 20);
	return 1;
}

/* Threads and handles (-tc, -hc), from SystemProcessInformation: under
 * Wine GetProcessHandleCount returns a count of 0 (doc/WINE.md section 2). */
static int
trig_sample_count(struct trig_mon *m, long long *v, int handles)
{
	struct w32_sample smp;
	int r = w32_process_sample(m->t->pid, m->t->create_time, &smp);
	if (r < 0)
		return r == -2 ? 0 : -1; /* (-2: the list could not be read: no sample) */
	*v = handles ? smp.handles : smp.threads;
	return 1;
}

static int
trig_sample_threads(struct trig_mon *m, long long *v)
{
	return trig_sample_count(m, v, 0);
}

static int
trig_sample_handles(struct trig_mon *m, long long *v)
{
	return trig_sample_count(m, v, 1);
}

static int
trig_sample_counter(struct trig_mon *m, long long *v)
{
	return w32_counter_read(&m->counter, v);
}

/* -h: the seconds a window of the target has not responded.  Once
 * IsHungAppWindow says hung, the hang began 5 s ago at the latest, and
 * from 5 s up that alone counts, as in ProcDump (a slow pump is not a
 * hang).  Below 5 s, WM_NULL probes: counted from the first sample that
 * found a window not answering. */
static int
trig_sample_hung(struct trig_mon *m, long long *v)
{
	int h = w32_hung_window(m->t->pid, m->cfg->hung_secs < 5);
	double now = now_sec();
	if (h && (!m->hung || (h == 2 && m->hung_since > now - 5)))
		m->hung_since = h == 2 ? now - 5 : now;
	m->hung = h != 0;
	*v = h ? (long long)(now - m->hung_since + 0.5) : 0;
	return 1;
}

static int
trig_open_counter(struct trig_mon *m)
{
	return w32_counter_open(&m->counter, m->cfg->counter_above ? m->cfg->counter_above : m->cfg->counter_below, m->cfg->counter_above ? "-p" : "-pl");
}

static int
trig_open_hung(struct trig_mon *m)
{
	(void)m;
	return w32_windows_open();
}

/* A threshold without a list: a list of one. */
static void
trig_one_step(struct pd_steps *st, long long thr)
{
	st->n = 1;
	st->v[0] = thr;
}

static int
trig_armed_cpu(const struct pd_config *cfg, struct pd_steps *st, int *above)
{
	*above = GIVEN(cfg, cpu_above);
	*st = *above ? cfg->cpu_above_steps : cfg->cpu_below_steps;
	return GIVEN(cfg, cpu_above) || GIVEN(cfg, cpu_below);
}

static int
trig_armed_commit(const struct pd_config *cfg, struct pd_steps *st, int *above)
{
	*above = GIVEN(cfg, commit_above);
	*st = *above ? cfg->commit_above_steps : cfg->commit_below_steps;
	return GIVEN(cfg, commit_above) || GIVEN(cfg, commit_below);
}

static int
trig_armed_threads(const struct pd_config *cfg, struct pd_steps *st, int *above)
{
	*above = 1;
	*st = cfg->threads_above_steps;
	return GIVEN(cfg, threads_above);
}

static int
trig_armed_handles(const struct pd_config *cfg, struct pd_steps *st, int *above)
{
	*above = 1;
	*st = cfg->handles_above_steps;
	return GIVEN(cfg, handles_above);
}

static int
trig_armed_counter(const struct pd_config *cfg, struct pd_steps *st, int *above)
{
	*above = cfg->counter_above != NULL;
	trig_one_step(st, *above ? cfg->counter_above_value : cfg->counter_below_value);
	return cfg->counter_above || cfg->counter_below;
}

static int
trig_armed_hung(const struct pd_config *cfg, struct pd_steps *st, int *above)
{
	*above = 1;
	trig_one_step(st, cfg->hung_secs);
	return cfg->hung;
}

static const struct trig_kind trig_kinds[] = {
	{ "CPU", "%", 1, NULL, trig_armed_cpu, NULL, trig_sample_cpu },
	{ "Commit", " MB", 0, NULL, trig_armed_commit, NULL, trig_sample_commit },
	{ "Thread count", "", 0, NULL, trig_armed_threads, NULL, trig_sample_threads },
	{ "Handle count", "", 0, NULL, trig_armed_handles, NULL, trig_sample_handles },
	{ "Counter", "", 0, NULL, trig_armed_counter, trig_open_counter, trig_sample_counter },
	{ "Hung Window", "", 0, "not responding for", trig_armed_hung, trig_open_hung, trig_sample_hung },
};
_Static_assert(sizeof trig_kinds / sizeof trig_kinds[0] == TRIG_NKINDS, "trig_mon.rows has a slot per kind");

static void
trig_mon_free(struct trig_mon *m)
{
	w32_counter_close(&m->counter);
}

/* Arms the rows the command line asks for, opening what they read (checked
 * already by trig_mon_check) and taking the CPU baseline.  0, or
 * PD_EXIT_USAGE after a one-line error. */
static int
trig_mon_init(struct trig_mon *m, const struct pd_config *cfg, struct pd_target *t)
{
	size_t i;
	long long v;
	memset(m, 0, sizeof *m);
	m->cfg = cfg;
	m->t = t;
	m->ncpu = w32_cpu_count();
	for (i = 0; i < sizeof trig_kinds / sizeof trig_kinds[0]; i++) {
		const struct trig_kind *k = &trig_kinds[i];
		struct trig_row *r = &m->rows[m->nrows];
		if (!k->armed(cfg, &r->st, &r->above))
			continue;
		r->k = k;
		r->need = k->held ? 1 : (int)cfg->interval_secs;
		m->cpu |= k->sample == trig_sample_cpu;
		m->nrows++;
		if (k->open && k->open(m) < 0)
			return PD_EXIT_USAGE;
	}
	m->fired_row = -1;
	m->next_tick = now_sec() + 1.0;
	if (m->cpu)
		trig_sample_cpu(m, &v); /* the baseline */
	return 0;
}

/* Opens and closes again what the armed rows read (a counter, -h's
 * user32), so that one that cannot be read is a usage error before the
 * banner.  0, or PD_EXIT_USAGE after a one-line error. */
static int
trig_mon_check(const struct pd_config *cfg)
{
	struct trig_mon m;
	struct trig_row r;
	size_t i;
	int rc = 0;
	memset(&m, 0, sizeof m);
	m.cfg = cfg;
	for (i = 0; i < sizeof trig_kinds / sizeof trig_kinds[0] && !rc; i++)
		if (trig_kinds[i].open && trig_kinds[i].armed(cfg, &r.st, &r.above) && trig_kinds[i].open(&m) < 0)
			rc = PD_EXIT_USAGE;
	trig_mon_free(&m);
	return rc;
}

static const char *
trig_row_op(const struct trig_row *r)
{
	return r->above ? (r->k->strict ? ">" : ">=") : "<";
}

/* What fired, for the console: the value and seconds held, and with a
 * threshold list which of its values this was ("threshold 2 of 3: >70%"). */
static void
trig_row_why(struct trig_mon *m, const struct trig_row *r, long long v, long long thr)
{
	int n = r->k->held ? snprintf(m->why, sizeof m->why, "%s", r->k->name)
	                   : snprintf(m->why, sizeof m->why, "%s %lld%s for %d s", r->k->name, v, r->k->unit, r->held);
	if (m->cfg->lists && n > 0 && (size_t)n < sizeof m->why)
		snprintf(m->why + n, sizeof m->why - (size_t)n, " (threshold %d of %d: %s%lld%s)", r->step + 1, r->st.n,
		         trig_row_op(r), thr, r->k->unit);
}

/* Where row i stands in this tick's turn: the rows after the one that
 * fired last come first, so that a row that keeps holding (-s 1) does not
 * starve the others. */
static int
trig_row_turn(const struct trig_mon *m, int i)
{
	return (i - m->fired_row - 1 + 2 * m->nrows) % m->nrows;
}

/* One sample of every row still armed.  1 when a row held long enough (a
 * dump is wanted; m->why and m->fired_row say which; another that did too
 * fires on the next tick), 0 otherwise, -1 when the target is gone. */
static int
trig_mon_tick(struct trig_mon *m)
{
	struct trig_row *f;
	int i, fire = -1;
	m->next_tick += 1.0;
	if (m->next_tick < now_sec())
		m->next_tick = now_sec() + 1.0;
	for (i = 0; i < m->nrows; i++) {
		struct trig_row *r = &m->rows[i];
		long long v = 0, thr;
		int got, hold;
		if (r->step >= r->st.n)
			continue; /* a list whose every value fired */
		thr = r->st.v[r->step];
		if ((got = r->k->sample(m, &v)) < 0)
			return -1;
		if (!got)
			continue;
		r->last = v;
		hold = r->above ? (r->k->strict ? v > thr : v >= thr) : v < thr;
		vlog("%s %lld%s (%s %lld%s)", r->k->name, v, r->k->unit, trig_row_op(r), thr, r->k->unit);
		if (!hold) {
			r->held = 0;
			continue;
		}
		r->held++;
		if (r->k->held)
			out("%s %s: %s %lld seconds.\n", stamp(), r->k->name, r->k->held, thr);
		else
			out("%s %s: %lld%s %ds\n", stamp(), r->k->name, v, r->k->unit, r->held);
		if (r->held >= r->need && (fire < 0 || trig_row_turn(m, i) < trig_row_turn(m, fire)))
			fire = i;
	}
	if (fire < 0)
		return 0;
	f = &m->rows[fire];
	trig_row_why(m, f, f->last, f->st.v[f->step]);
	m->why_kind = f->k->name;
	m->why_value = f->k->held ? PD_UNSET : f->last;
	m->why_held = f->held;
	f->held = 0;
	m->fired_row = fire;
	return 1;
}

/* A sample is due: fires the run when a row held long enough, then starts
 * the CPU measure afresh (the dump held the target).  -1 when the target
 * is gone. */
static int
trig_mon_step(struct trig_mon *m, struct pd_run *r)
{
	int f = trig_mon_tick(m);
	long long v, fired = r->fired;
	if (f != 1)
		return f;
	out("%s Trigger: %s\n", stamp(), m->why);
	trig_fire(r, m->why_kind, m->why_value, NULL, m->why, m->why_held, 0, 0);
	if (m->cfg->lists && r->fired > fired) /* a value fires once (one that -at cancelled: again) */
		m->rows[m->fired_row].step++;
	m->have_prev = 0;
	if (m->cpu)
		trig_sample_cpu(m, &v); /* the target was suspended: measure afresh */
	m->next_tick = now_sec() + 1.0;
	return 1;
}

/* Monitors without a debugger: sample once a second until -n dumps, the
 * target's exit, or cancellation. */
static void
trig_run_monitors(struct trig_mon *m, struct pd_run *r)
{
	if (!g.tagged) /* (several targets: Main said it once) */
		out("Press Ctrl-C to end monitoring without terminating the process.\n\n");
	while (!r->done) {
		double wait = m->next_tick - now_sec();
		if (!run_wait(r, wait > 0 ? (DWORD)(wait * 1000) : 0))
			break;
		if (trig_mon_step(m, r) < 0)
			run_stop(r, "The process has exited.");
	}
}

/* ================================== CLR ================================= */
/* Names a managed exception (E0434352: CLR 4, .NET Core; E0434F4D: CLR 2)
 * for the Debugger through the target's own runtime's DAC.  Owns the DAC;
 * only reads the target (clr_t_write and the other setters refuse); knows
 * nothing of dumps or triggers. */

typedef u64 clr_addr; /* CLRDATA_ADDRESS: a target address, sign-extended from 32 bits */

/* ICLRDataTarget (clrdata.idl), the one interface we implement: our
 * declaration of its vtable, in the IDL's order. */
struct clr_target;
struct clr_target_vt {
	HRESULT (STDMETHODCALLTYPE *QueryInterface)(struct clr_target *, REFIID, void **);
	ULONG (STDMETHODCALLTYPE *AddRef)(struct clr_target *);
	ULONG (STDMETHODCALLTYPE *Release)(struct clr_target *);
	HRESULT (STDMETHODCALLTYPE *GetMachineType)(struct clr_target *, ULONG32 *);
	HRESULT (STDMETHODCALLTYPE *GetPointerSize)(struct clr_target *, ULONG32 *);
	HRESULT (STDMETHODCALLTYPE *GetImageBase)(struct clr_target *, LPCWSTR, clr_addr *);
	HRESULT (STDMETHODCALLTYPE *ReadVirtual)(struct clr_target *, clr_addr, BYTE *, ULONG32, ULONG32 *);
	HRESULT (STDMETHODCALLTYPE *WriteVirtual)(struct clr_target *, clr_addr, BYTE *, ULONG32, ULONG32 *);
	HRESULT (STDMETHODCALLTYPE *GetTLSValue)(struct clr_target *, ULONG32, ULONG32, clr_addr *);
	HRESULT (STDMETHODCALLTYPE *SetTLSValue)(struct clr_target *, ULONG32, ULONG32, clr_addr);
	HRESULT (STDMETHODCALLTYPE *GetCurrentThreadID)(struct clr_target *, ULONG32 *);
	HRESULT (STDMETHODCALLTYPE *GetThreadContext)(struct clr_target *, ULONG32, ULONG32, ULONG32, BYTE *);
	HRESULT (STDMETHODCALLTYPE *SetThreadContext)(struct clr_target *, ULONG32, ULONG32, BYTE *);
	HRESULT (STDMETHODCALLTYPE *Request)(struct clr_target *, ULONG32, ULONG32, BYTE *, ULONG32, BYTE *);
};

/* Where the DAC finds a module's base: the Debugger's list (LOAD_DLL). */
typedef int (*clr_base_fn)(void *ctx, const wchar_t *name, u64 *base);

struct clr_target {
	const struct clr_target_vt *vt; /* first: this is the COM object */
	HANDLE h;              /* the target (PROCESS_VM_READ) */
	DWORD tid;             /* the event's thread (GetCurrentThreadID) */
	HANDLE th;             /* its handle from the debug event, or NULL */
	clr_base_fn base;      /* GetImageBase */
	void *ctx;             /* base's */
};

/* The slots of the DAC's interfaces that we call, counted in xclrdata.idl
 * (0-2 are IUnknown's QueryInterface, AddRef, Release). */
enum {
	CLR_RELEASE = 2,
	/* IXCLRDataProcess: Flush, StartEnumTasks, EnumTask, EndEnumTasks,
	 * GetTaskByOSThreadID */
	CLR_PROCESS_FLUSH = 3,
	CLR_PROCESS_TASK_BY_OS_THREAD = 7,
	/* IXCLRDataTask: GetProcess, GetCurrentAppDomain, GetUniqueID, GetFlags,
	 * IsSameObject, GetManagedObject, GetDesiredExecutionState,
	 * SetDesiredExecutionState, CreateStackWalk, GetOSThreadID, GetContext,
	 * SetContext, GetCurrentExceptionState, Request, GetName,
	 * GetLastExceptionState */
	CLR_TASK_CURRENT_EXCEPTION = 15,
	CLR_TASK_LAST_EXCEPTION = 18,
	/* IXCLRDataExceptionState: GetFlags, GetPrevious, GetManagedObject,
	 * GetBaseType, GetCode, GetString */
	CLR_EXSTATE_OBJECT = 5,
	CLR_EXSTATE_STRING = 8,
	/* IXCLRDataValue: GetFlags, GetAddress, GetSize, GetBytes, SetBytes, GetType */
	CLR_VALUE_TYPE = 8,
	/* IXCLRDataTypeInstance: StartEnumMethodInstances, EnumMethodInstance,
	 * EndEnumMethodInstances, StartEnumMethodInstancesByName,
	 * EnumMethodInstanceByName, EndEnumMethodInstancesByName,
	 * GetNumStaticFields, GetStaticFieldByIndex, StartEnumStaticFieldsByName,
	 * EnumStaticFieldByName, EndEnumStaticFieldsByName, GetNumTypeArguments,
	 * GetTypeArgumentByIndex, GetName */
	CLR_TYPE_NAME = 16,
};

typedef HRESULT (STDMETHODCALLTYPE *clr_fn_void)(void *);
typedef HRESULT (STDMETHODCALLTYPE *clr_fn_out)(void *, void **);
typedef HRESULT (STDMETHODCALLTYPE *clr_fn_u32_out)(void *, ULONG32, void **);
typedef HRESULT (STDMETHODCALLTYPE *clr_fn_str)(void *, ULONG32, ULONG32 *, WCHAR *);
typedef HRESULT (STDMETHODCALLTYPE *clr_fn_name)(void *, ULONG32, ULONG32, ULONG32 *, WCHAR *);
typedef HRESULT (STDAPICALLTYPE *clr_create_fn)(REFIID, void *, void **);

/* slot n of a COM object's vtable */
#define CLR_SLOT(obj, n, type) ((type)(*(void *const *const *)(obj))[n])

static const GUID clr_iid_unknown = { 0x00000000, 0x0000, 0x0000, { 0xC0, 0, 0, 0, 0, 0, 0, 0x46 } };
static const GUID clr_iid_data_target = { 0x3E11CCEE, 0xD08B, 0x43e5, { 0xAF, 0x01, 0x32, 0x71, 0x7A, 0x64, 0xDA, 0x03 } };
static const GUID clr_iid_process = { 0x5c552ab6, 0xfc09, 0x4cb3, { 0x8e, 0x36, 0x22, 0xfa, 0x03, 0xc7, 0x98, 0xb7 } };

/* The state of one debugging session (struct dbg holds it). */
struct clr {
	HMODULE dac;           /* the DAC, loaded from the runtime's folder */
	void *process;         /* its IXCLRDataProcess */
	int failed;            /* it could not be had: said once (-v), not tried again */
	struct clr_target target;
};

static HRESULT STDMETHODCALLTYPE
clr_t_query(struct clr_target *self, REFIID iid, void **out)
{
	if (!memcmp(iid, &clr_iid_unknown, sizeof(GUID)) || !memcmp(iid, &clr_iid_data_target, sizeof(GUID))) {
		*out = self;
		return S_OK;
	}
	*out = NULL; /* ICLRDataTarget2/3, ICLRMetadataLocator: the DAC does without */
	return E_NOINTERFACE;
}

/* the object lives in struct clr, as long as the DAC: no counting */
static ULONG STDMETHODCALLTYPE
clr_t_ref(struct clr_target *self)
{
	(void)self;
	return 1;
}

static HRESULT STDMETHODCALLTYPE
clr_t_machine(struct clr_target *self, ULONG32 *m)
{
	(void)self;
	*m = sizeof(void *) == 8 ? IMAGE_FILE_MACHINE_AMD64 : IMAGE_FILE_MACHINE_I386;
	return S_OK;
}

static HRESULT STDMETHODCALLTYPE
clr_t_pointer_size(struct clr_target *self, ULONG32 *n)
{
	(void)self;
	*n = sizeof(void *);
	return S_OK;
}

static HRESULT STDMETHODCALLTYPE
clr_t_image_base(struct clr_target *self, LPCWSTR name, clr_addr *base)
{
	u64 b;
	if (!name || self->base(self->ctx, name, &b) < 0)
		return E_FAIL;
	*base = b;
	return S_OK;
}

/* A read that stops at an unreadable page gives what it got. */
static HRESULT STDMETHODCALLTYPE
clr_t_read(struct clr_target *self, clr_addr at, BYTE *buf, ULONG32 n, ULONG32 *got)
{
	SIZE_T k = 0;
	BOOL ok = ReadProcessMemory(self->h, (void *)(ULONG_PTR)at, buf, n, &k);
	*got = (ULONG32)k;
	return ok || k ? S_OK : HRESULT_FROM_WIN32(GetLastError());
}

static HRESULT STDMETHODCALLTYPE
clr_t_write(struct clr_target *self, clr_addr at, BYTE *buf, ULONG32 n, ULONG32 *done)
{
	(void)self, (void)at, (void)buf, (void)n;
	*done = 0;
	return E_NOTIMPL; /* read-only, by design */
}

static HRESULT STDMETHODCALLTYPE
clr_t_get_tls(struct clr_target *self, ULONG32 tid, ULONG32 index, clr_addr *v)
{
	(void)self, (void)tid, (void)index, (void)v;
	return E_NOTIMPL;
}

static HRESULT STDMETHODCALLTYPE
clr_t_set_tls(struct clr_target *self, ULONG32 tid, ULONG32 index, clr_addr v)
{
	(void)self, (void)tid, (void)index, (void)v;
	return E_NOTIMPL;
}

static HRESULT STDMETHODCALLTYPE
clr_t_thread(struct clr_target *self, ULONG32 *tid)
{
	*tid = self->tid;
	return S_OK;
}

static HRESULT STDMETHODCALLTYPE
clr_t_context(struct clr_target *self, ULONG32 tid, ULONG32 flags, ULONG32 size, BYTE *out)
{
	CONTEXT ctx;
	HANDLE h = tid == self->tid ? self->th : NULL, own = NULL;
	BOOL ok;
	if (!h)
		h = own = OpenThread(THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION, FALSE, tid);
	memset(&ctx, 0, sizeof ctx);
	ctx.ContextFlags = flags;
	ok = h && GetThreadContext(h, &ctx);
	if (own)
		CloseHandle(own);
	if (!ok)
		return E_FAIL;
	memcpy(out, &ctx, size < sizeof ctx ? size : sizeof ctx);
	return S_OK;
}

static HRESULT STDMETHODCALLTYPE
clr_t_set_context(struct clr_target *self, ULONG32 tid, ULONG32 size, BYTE *ctx)
{
	(void)self, (void)tid, (void)size, (void)ctx;
	return E_NOTIMPL; /* read-only, by design */
}

static HRESULT STDMETHODCALLTYPE
clr_t_request(struct clr_target *self, ULONG32 code, ULONG32 nin, BYTE *in, ULONG32 nout, BYTE *out)
{
	(void)self, (void)code, (void)nin, (void)in, (void)nout, (void)out;
	return E_NOTIMPL;
}

static const struct clr_target_vt clr_target_vt = {
	clr_t_query, clr_t_ref, clr_t_ref, clr_t_machine, clr_t_pointer_size, clr_t_image_base,
	clr_t_read, clr_t_write, clr_t_get_tls, clr_t_set_tls, clr_t_thread, clr_t_context,
	clr_t_set_context, clr_t_request,
};

static void
clr_release(void *obj)
{
	if (obj)
		CLR_SLOT(obj, CLR_RELEASE, clr_fn_void)(obj);
}

/* The DAC that serves the runtime at path, the file beside it
 * (mscordaccore.dll beside coreclr.dll, mscordacwks.dll beside clr.dll):
 * never another version's. */
static void
clr_dac_path(const wchar_t *runtime, wchar_t *out, size_t cap)
{
	const wchar_t *base = path_basename(runtime);
	swprintf(out, cap, L"%.*ls%ls", (int)(base - runtime), runtime,
	         !_wcsicmp(base, L"coreclr.dll") ? L"mscordaccore.dll" : L"mscordacwks.dll");
}

/* Loads the DAC beside the runtime (path) and makes its process
 * interface; 0, or -1 after one -v line that says why (the exception is
 * then shown by its code alone). */
static int
clr_open(struct clr *c, const wchar_t *runtime, int other_bitness)
{
	wchar_t dac[MAX_PATH + 32];
	clr_create_fn create;
	HRESULT hr;

	clr_dac_path(runtime, dac, sizeof dac / sizeof dac[0]);
	if (other_bitness) {
		vlog("managed exceptions are shown by code: the runtime %s is not %d-bit like procdump (use %s)",
		     u8s(runtime), (int)sizeof(void *) * 8, sizeof(void *) == 8 ? "procdump.exe" : "procdump64.exe");
		return -1;
	}
	if (!(c->dac = w32_load_beside(dac))) {
		vlog("managed exceptions are shown by code: cannot load the DAC %s:", u8s(dac));
		return -1;
	}
	if (!(create = (clr_create_fn)(void (*)(void))GetProcAddress(c->dac, "CLRDataCreateInstance"))) {
		vlog("managed exceptions are shown by code: %s has no CLRDataCreateInstance", u8s(dac));
		return -1;
	}
	c->target.vt = &clr_target_vt;
	hr = create(&clr_iid_process, &c->target, &c->process);
	if (FAILED(hr) || !c->process) {
		vlog("managed exceptions are shown by code: the DAC %s cannot serve this runtime (HRESULT 0x%08lX)",
		     u8s(dac), (unsigned long)hr);
		c->process = NULL;
		return -1;
	}
	vlog("managed exceptions are named by %s", u8s(dac));
	return 0;
}

/* A name the DAC wrote into buf (n characters): terminated, and the
 * message cut to its first line (the console shows one line). */
static void
clr_one_line(wchar_t *buf, size_t n)
{
	wchar_t *e;
	buf[n - 1] = 0;
	if ((e = wcspbrk(buf, L"\r\n")))
		*e = 0;
}

/* The exception state of the thread, its type's full name and message. */
static int
clr_read_state(void *state, wchar_t *type, size_t ntype, wchar_t *msg, size_t nmsg)
{
	void *value = NULL, *ti = NULL;
	ULONG32 len = 0;
	int rc = -1;
	msg[0] = type[0] = 0;
	if (SUCCEEDED(CLR_SLOT(state, CLR_EXSTATE_OBJECT, clr_fn_out)(state, &value)) && value &&
	    SUCCEEDED(CLR_SLOT(value, CLR_VALUE_TYPE, clr_fn_out)(value, &ti)) && ti &&
	    SUCCEEDED(CLR_SLOT(ti, CLR_TYPE_NAME, clr_fn_name)(ti, 0, (ULONG32)ntype, &len, type)) && type[0]) {
		clr_one_line(type, ntype);
		if (FAILED(CLR_SLOT(state, CLR_EXSTATE_STRING, clr_fn_str)(state, (ULONG32)nmsg, &len, msg)))
			msg[0] = 0;
		clr_one_line(msg, nmsg);
		rc = 0;
	}
	clr_release(ti);
	clr_release(value);
	return rc;
}

/* The managed exception being thrown on thread tid (its handle th) of the
 * held process h (first: at its first chance), whose runtime (path) raised
 * it: type and message.  0, or -1: not named (the caller shows the code). */
static int
clr_name(struct clr *c, HANDLE h, DWORD tid, HANDLE th, int first, const wchar_t *runtime,
         int other_bitness, clr_base_fn bases, void *ctx, wchar_t *type, size_t ntype, wchar_t *msg, size_t nmsg)
{
	void *task = NULL;
	int rc = -1, i;
	c->target.h = h;
	c->target.tid = tid;
	c->target.th = th;
	c->target.base = bases;
	c->target.ctx = ctx;
	if (!c->process && (c->failed || (c->failed = clr_open(c, runtime, other_bitness) < 0)))
		return -1;
	/* the target ran since the last event: what the DAC cached is old */
	CLR_SLOT(c->process, CLR_PROCESS_FLUSH, clr_fn_void)(c->process);
	if (FAILED(CLR_SLOT(c->process, CLR_PROCESS_TASK_BY_OS_THREAD, clr_fn_u32_out)(c->process, tid, &task)) ||
	    !task) {
		vlog("managed exception on thread %lu: the DAC knows no managed thread there", tid);
		return -1;
	}
	/* at first chance only the last exception state is there (the current
	 * one answers E_NOINTERFACE until the search for a handler is done);
	 * at second chance the current one is the exception */
	for (i = 0; i < 2 && rc < 0; i++) {
		int slot = (i == 0) == first ? CLR_TASK_LAST_EXCEPTION : CLR_TASK_CURRENT_EXCEPTION;
		void *state = NULL;
		if (SUCCEEDED(CLR_SLOT(task, slot, clr_fn_out)(task, &state)) && state &&
		    !clr_read_state(state, type, ntype, msg, nmsg))
			rc = 0;
		clr_release(state);
	}
	if (rc < 0)
		vlog("managed exception on thread %lu: the DAC gives no exception object", tid);
	clr_release(task);
	return rc;
}

/* End of the session: the DAC's interfaces and module go. */
static void
clr_close(struct clr *c)
{
	clr_release(c->process);
	if (c->dac)
		FreeLibrary(c->dac);
	memset(c, 0, sizeof *c);
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
 *   EXCEPTION       the debugger's own breakpoints are continued
 *                   (dbg_own_breakpoint: the initial one, WOW64's x86
 *                   one, -t's int3 at RtlExitUserProcess, where -t
 *                   dumps); other breakpoints count only with -b; -e
 *                   dumps second chance, -e 1 first chance too (filtered
 *                   by code/name); every other exception is passed to the
 *                   target unchanged
 *   EXIT_PROCESS    -t dumps here when its int3 was not reached; the run
 *                   ends
 *   RIP_INFO        ignored
 * The target runs on when procdump ends (kill-on-exit off), unless -k.
 * Also the -exitguard process (dbg_exit_guard), which keeps a -t target
 * from staying stopped at that int3 if procdump dies.  Touches no dump
 * file: dumps go through run_fire. */

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
	struct pd_run *run;    /* count, cancellation, names, summary */
	int initial_done;      /* the attach or loader breakpoint was seen */
	int wow_initial_done;  /* and, for a WOW64 target, its x86 one */
	DWORD breakin_tid;     /* thread injected by DebugActiveProcess */
	int attached;          /* we are its debugger: 1 attached, 2 launched */
	int exited;            /* EXIT_PROCESS seen */
	int triggers;          /* any debug-event trigger or monitor armed */
	HANDLE hproc;          /* the debug event's process handle (full access) */
	u64 exit_bp;           /* -t: int3 planted at ntdll!RtlExitUserProcess */
	u8 exit_bp_orig;       /* the byte it replaced */
	u64 exit_bp_was;       /* where it was, once removed */
	int exit_fired;        /* -t fired at that breakpoint */
	struct w32_guard guard; /* -t: the exit guard while the breakpoint may be in (dbg_guard_start) */
	struct dbg_dll *dll;
	int ndll, capdll;
	struct dbg_thread *th;
	int nth, capth;
	struct trig_mon *mon;  /* sampling monitors, or NULL */
	struct clr clr;        /* the DAC that names managed exceptions (CLR) */
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

/* A module's name at LOAD_DLL: lpImageName when the loader filled it, else
 * the file handle's final path (Wine gives NULL names for ntdll, and Unix
 * paths for builtin DLLs: doc/WINE.md section 1). */
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
		vlog("GetThreadContext %lu:", tid);
	if (own)
		CloseHandle(own);
}

/* -t's exit guard.  The int3 that -t plants must not outlive procdump: a
 * target left with it dies of it at its exit (C0000005 under Wine, 3 of 3
 * times).  Before planting, procdump starts a guard (-exitguard PID) and
 * hands it duplicates of its debug object and of the process handle, with
 * the breakpoint's address and byte.  A debuggee is released only when the
 * last handle to its debug object closes (Wine as Windows), so while the
 * guard holds one, events wait for a debugger.  If procdump's pipe ends
 * without DBG_GUARD_DONE, the guard adopts the object, puts the byte back,
 * continues the held and queued events as procdump would, and detaches. */
enum dbg_guard_kind {
	DBG_GUARD_ARMED = 1, /* the breakpoint is about to go in: what to undo */
	DBG_GUARD_REMOVED,   /* procdump took it out (and rewound the thread at it) */
	DBG_GUARD_DONE       /* procdump detached, or the target ended: nothing to do */
};

struct dbg_guard_msg {
	u32 kind;              /* enum dbg_guard_kind */
	u32 orig;              /* ARMED: the byte the int3 replaces */
	u64 obj, proc;         /* ARMED: the debug object and the target, handles in the guard */
	u64 bp;                /* ARMED: the int3's address */
};

static void
dbg_guard_say(struct dbg *d, u32 kind)
{
	struct dbg_guard_msg m;
	memset(&m, 0, sizeof m);
	m.kind = kind;
	if (d->guard.to && w32_write_all(d->guard.to, &m, sizeof m))
		vlog("cannot write to the exit guard");
}

/* Once the target is detached or gone: the guard has nothing to do. */
static void
dbg_guard_end(struct dbg *d)
{
	if (!d->guard.proc)
		return;
	dbg_guard_say(d, DBG_GUARD_DONE);
	w32_guard_close(&d->guard);
}

/* Starts the exit guard of the int3 about to go in at bp over the byte
 * orig.  0, or -1 (no guard: do not plant) after a vlog. */
static int
dbg_guard_start(struct dbg *d, u64 bp, u8 orig)
{
	struct dbg_guard_msg m;
	HANDLE obj = w32.DbgUiGetThreadDebugObject ? w32.DbgUiGetThreadDebugObject() : NULL, gobj, gproc;
	if (!obj || !w32.DbgUiSetThreadDebugObject) {
		vlog("no debug object to hand to an exit guard");
		return -1;
	}
	if (!(d->guard.proc = w32_start_guard(L"exitguard", d->t->pid, &d->guard.to, NULL)))
		return -1;
	memset(&m, 0, sizeof m);
	m.kind = DBG_GUARD_ARMED;
	m.orig = orig;
	m.bp = bp;
	if (!DuplicateHandle(GetCurrentProcess(), obj, d->guard.proc, &gobj, 0, FALSE, DUPLICATE_SAME_ACCESS) ||
	    !DuplicateHandle(GetCurrentProcess(), d->hproc, d->guard.proc, &gproc, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
		vlog("cannot hand the debug object to the exit guard:");
		dbg_guard_end(d); /* it reads the end of its input, unarmed, and exits */
		return -1;
	}
	m.obj = (u64)(ULONG_PTR)gobj;
	m.proc = (u64)(ULONG_PTR)gproc;
	if (w32_write_all(d->guard.to, &m, sizeof m)) {
		vlog("cannot write to the exit guard");
		dbg_guard_end(d);
		return -1;
	}
	vlog("exit guard started (process %lu)", GetProcessId(d->guard.proc));
	return 0;
}

/* -t: at EXIT_PROCESS the address space may be gone (it is under Wine; on
 * Windows every thread is), so an int3 goes at ntdll!RtlExitUserProcess,
 * which ExitProcess calls first: the dump shows all threads and the caller.
 * Only where the target's ntdll is at our base (as every process's is in a
 * boot) and under the exit guard; else only the EXIT_PROCESS fallback. */
static void
dbg_plant_exit_breakpoint(struct dbg *d)
{
	u64 f = (u64)(ULONG_PTR)w32.RtlExitUserProcess;
	u8 cc = 0xCC;
	SIZE_T n;
	int i, same = 0;
	if (!f || !d->hproc || d->t->wow64)
		return;
	for (i = 0; i < d->ndll; i++)
		if (!_wcsicmp(path_basename(d->dll[i].name), L"ntdll.dll") &&
		    d->dll[i].base == (u64)(ULONG_PTR)w32_dlls[W32_NTDLL])
			same = 1;
	if (!same)
		return;
	if (!ReadProcessMemory(d->hproc, (LPCVOID)(ULONG_PTR)f, &d->exit_bp_orig, 1, &n)) {
		vlog("cannot plant the exit breakpoint:");
		return;
	}
	if (dbg_guard_start(d, f, d->exit_bp_orig) < 0) {
		warn("-t: no guard process for the exit breakpoint, so none is planted: "
		     "process %lu's exit is seen at its end, without its threads", d->t->pid);
		return;
	}
	if (!WriteProcessMemory(d->hproc, (LPVOID)(ULONG_PTR)f, &cc, 1, &n)) {
		vlog("cannot plant the exit breakpoint:");
		dbg_guard_end(d);
		return;
	}
	FlushInstructionCache(d->hproc, (LPCVOID)(ULONG_PTR)f, 1);
	d->exit_bp = f;
	vlog("exit breakpoint at 0x%llx", f);
}

/* Puts a thread that executed the planted int3 back on the original
 * instruction at ip. */
static void
dbg_rewind(struct dbg *d, DWORD tid, u64 ip)
{
	HANDLE h = dbg_thread_handle(d, tid);
	if (h)
		w32_thread_set_ip(h, ip);
}

/* Takes the planted int3 out and puts the thread back on the original
 * instruction, so RtlExitUserProcess runs as if nothing had happened. */
static void
dbg_remove_exit_breakpoint(struct dbg *d, DWORD tid)
{
	SIZE_T n;
	if (!d->exit_bp)
		return;
	if (!WriteProcessMemory(d->hproc, (LPVOID)(ULONG_PTR)d->exit_bp, &d->exit_bp_orig, 1, &n) &&
	    WaitForSingleObject(d->hproc, 0) == WAIT_TIMEOUT) /* (one that has ended has no code left to run) */
		warn("cannot take out the exit breakpoint (-t) of process %lu:", d->t->pid);
	FlushInstructionCache(d->hproc, (LPCVOID)(ULONG_PTR)d->exit_bp, 1);
	if (tid)
		dbg_rewind(d, tid, d->exit_bp);
	d->exit_bp_was = d->exit_bp;
	d->exit_bp = 0;
	dbg_guard_say(d, DBG_GUARD_REMOVED); /* from now on a thread may run past it */
}

/* The breakpoints that are the debugger's own: the initial one (attach or
 * loader), the -t exit breakpoint, a second thread at the removed one, the
 * x86 loader breakpoint of a WOW64 target.  1 if bp was one (continue). */
static int
dbg_own_breakpoint(struct dbg *d, const DEBUG_EVENT *ev, DWORD code)
{
	u64 at = (u64)(ULONG_PTR)ev->u.Exception.ExceptionRecord.ExceptionAddress;
	if (!d->initial_done && (!d->breakin_tid || ev->dwThreadId == d->breakin_tid)) {
		/* the attach (break-in thread) or loader breakpoint: ours; a
		 * breakpoint of the target's own that races the attach is not */
		d->initial_done = 1;
		if (d->attached == 1)
			d->breakin_tid = ev->dwThreadId;
		vlog("attached: initial breakpoint on thread %lu", ev->dwThreadId);
		return 1;
	}
	if (d->exit_bp && at == d->exit_bp) {
		out("%s Process exit: thread %lu called ExitProcess.\n", stamp(), ev->dwThreadId);
		/* first put the code and the thread back, so that the dump shows
		 * the thread at the entry of RtlExitUserProcess, not after an int3 */
		dbg_remove_exit_breakpoint(d, ev->dwThreadId);
		if (!d->run->done) {
			d->exit_fired = 1;
			trig_fire(d->run, "exit", PD_UNSET, NULL, "ExitProcess called", 0, ev->dwThreadId, 0);
		}
		return 1;
	}
	if (d->exit_bp_was && at == d->exit_bp_was) {
		/* a second thread that reached the int3 before it was taken out:
		 * on it goes into RtlExitUserProcess, not into an unhandled int3 */
		dbg_rewind(d, ev->dwThreadId, d->exit_bp_was);
		return 1;
	}
	if (code == 0x4000001F && d->t->wow64 && !d->wow_initial_done) {
		d->wow_initial_done = 1; /* the x86 loader breakpoint of a WOW64 target */
		return 1;
	}
	return 0;
}

/* The base of a loaded module by its name (the DAC's GetImageBase). */
static int
dbg_image_base(void *ctx, const wchar_t *name, u64 *base)
{
	struct dbg *d = ctx;
	int i;
	for (i = 0; i < d->ndll; i++)
		if (d->dll[i].name && !_wcsicmp(path_basename(d->dll[i].name), path_basename(name))) {
			*base = d->dll[i].base;
			return 0;
		}
	return -1;
}

/* A CLR exception's type and message (CLR), or -1.  The runtime that
 * raised it: E0434352's fifth parameter is the base of coreclr.dll (or
 * clr.dll); else the first runtime loaded. */
static int
dbg_clr_name(struct dbg *d, DWORD tid, const EXCEPTION_RECORD *r, int first, wchar_t *type, size_t ntype,
             wchar_t *msg, size_t nmsg)
{
	u64 at = r->NumberParameters >= 5 ? (u64)r->ExceptionInformation[4] : 0;
	int i, k = -1;
	if (r->ExceptionCode != 0xE0434352 && r->ExceptionCode != 0xE0434F4D)
		return -1;
	if (d->cfg->native_only) { /* native only: the DAC is not loaded */
		if (!d->clr.failed)
			vlog("-g: managed exceptions are shown by code (the runtime's DAC is not used)");
		d->clr.failed = 1;
		return -1;
	}
	for (i = 0; i < d->ndll; i++)
		if (d->dll[i].name && path_is_clr(d->dll[i].name) && (k < 0 || d->dll[i].base == at))
			k = i;
	if (k < 0)
		return -1;
	return clr_name(&d->clr, d->hproc ? d->hproc : d->t->h, tid, dbg_thread_handle(d, tid), first,
	                d->dll[k].name, sizeof(void *) == 8 && d->t->wow64, dbg_image_base, d, type,
	                ntype, msg, nmsg);
}

/* What an exception's line shows after "Exception: " or "Unhandled: ":
 * C0000005.ACCESS_VIOLATION, or for a managed one the DAC named,
 * E0434352.System.Net.WebException ("...").  malloc'd, or NULL; type and
 * msg are set (else "") for the filters and -json. */
static wchar_t *
dbg_exception_text(struct dbg *d, DWORD tid, const EXCEPTION_RECORD *r, int first, wchar_t *type, size_t ntype,
                   wchar_t *msg, size_t nmsg)
{
	DWORD code = r->ExceptionCode;
	size_t n;
	wchar_t *line;
	if (dbg_clr_name(d, tid, r, first, type, ntype, msg, nmsg) < 0)
		type[0] = msg[0] = 0;
	n = wcslen(type) + wcslen(msg) + 96;
	if (!(line = malloc(n * sizeof *line)))
		return NULL;
	if (type[0])
		swprintf(line, n, L"%08lX.%ls (\"%ls\")", code, type, msg);
	else
		swprintf(line, n, L"%08lX.%hs", code, trig_exception_name(code));
	return line;
}

/* -e: shows the exception (a managed one by type and message) and dumps it
 * when its chance is wanted and the filters pass it (they see the code,
 * its name, the managed type and message, and the whole line).  -t alone
 * also names a managed crash, so that the exit it dumps has its cause.
 * Every exception goes back to the target. */
static DWORD
dbg_on_exception(struct dbg *d, const DEBUG_EVENT *ev)
{
	const EXCEPTION_DEBUG_INFO *x = &ev->u.Exception;
	DWORD code = x->ExceptionRecord.ExceptionCode;
	int first = x->dwFirstChance != 0;
	int bp = code == EXCEPTION_BREAKPOINT || code == 0x4000001F /* STATUS_WX86_BREAKPOINT */;
	wchar_t hex[16], hex0x[16], name[64], both[96], type[512], msg[1024], *line;
	const wchar_t *texts[7] = { hex, hex0x, name, both, NULL, NULL, NULL };
	const char *nm = trig_exception_name(code);

	if (bp && first && dbg_own_breakpoint(d, ev, code))
		return DBG_CONTINUE;
	if (!d->cfg->on_exception && d->cfg->on_terminate && !first && (code == 0xE0434352 || code == 0xE0434F4D)) {
		if ((line = dbg_exception_text(d, ev->dwThreadId, &x->ExceptionRecord, 0, type, 512, msg, 1024)))
			out("%s Unhandled: %s\n", stamp(), u8s(line));
		free(line);
		return DBG_EXCEPTION_NOT_HANDLED;
	}
	if (!d->cfg->on_exception || (bp && first && !d->cfg->breakpoints))
		return DBG_EXCEPTION_NOT_HANDLED; /* breakpoints are passed over without -b */
	vlog("exception %08lX on thread %lu at %llu (FILETIME)", code, ev->dwThreadId, w32_precise_now());
	swprintf(hex, 16, L"%08lX", code);
	swprintf(hex0x, 16, L"0x%08lX", code);
	MultiByteToWideChar(CP_ACP, 0, nm, -1, name, 64);
	swprintf(both, 96, L"%ls.%ls", hex, name);
	line = dbg_exception_text(d, ev->dwThreadId, &x->ExceptionRecord, first, type, 512, msg, 1024);
	if (type[0]) {
		texts[4] = type;
		texts[5] = msg;
		texts[6] = line;
	}
	out("%s %s: %s\n", stamp(), first ? "Exception" : "Unhandled", line ? u8s(line) : u8s(both));
	if ((!first || d->cfg->first_chance) && trig_filter_pass(d->cfg, texts, 7)) {
		struct pd_event pe = trig_event(ev->dwThreadId, 0);
		pe.has_exception = 1;
		pe.rec = x->ExceptionRecord;
		pe.exception_code = code;
		dbg_event_context(d, ev->dwThreadId, &pe.ctx);
		const wchar_t *managed[2] = { type[0] ? type : NULL, type[0] ? msg : NULL };
		ev_trigger(d->t, "exception", PD_UNSET, line ? line : both, first ? "first chance" : "unhandled", 0,
		           ev->dwThreadId, managed);
		run_fire(d->run, &pe);
	}
	free(line);
	return DBG_EXCEPTION_NOT_HANDLED;
}

/* The text of an OUTPUT_DEBUG_STRING event (malloc'd), or NULL.  Wine
 * delivers OutputDebugStringW as ANSI (fUnicode 0): both are handled. */
static wchar_t *
dbg_debug_string(struct dbg *d, const OUTPUT_DEBUG_STRING_INFO *o)
{
	size_t n = o->nDebugStringLength; /* a WORD: at most 65535 */
	wchar_t *w = NULL;
	char *a;
	int wn;
	if (o->fUnicode) {
		w = xcalloc(n + 1, sizeof *w);
		if (w && w32_read(d->t->h, (u64)(ULONG_PTR)o->lpDebugStringData, w, n * 2) < 0) {
			free(w);
			w = NULL;
		}
		return w;
	}
	a = xcalloc(n + 1, 1);
	if (a && w32_read(d->t->h, (u64)(ULONG_PTR)o->lpDebugStringData, a, n) == 0 &&
	    (wn = MultiByteToWideChar(CP_ACP, 0, a, -1, NULL, 0)) > 0 && (w = xcalloc(wn, sizeof *w)))
		MultiByteToWideChar(CP_ACP, 0, a, -1, w, wn);
	free(a);
	return w;
}

/* -l: shows the string; dumps when the filters let it through. */
static void
dbg_on_debug_string(struct dbg *d, const DEBUG_EVENT *ev)
{
	wchar_t *w;
	const wchar_t *texts[1];
	size_t n;
	if (!d->cfg->debug_log || !ev->u.DebugString.nDebugStringLength || !(w = dbg_debug_string(d, &ev->u.DebugString)))
		return;
	n = wcslen(w);
	while (n && (w[n - 1] == L'\n' || w[n - 1] == L'\r'))
		w[--n] = 0;
	out("%s Debug String: %s\n", stamp(), u8s(w));
	texts[0] = w;
	if (trig_filter_pass(d->cfg, texts, 1))
		trig_fire(d->run, "debug_string", PD_UNSET, w, NULL, 0, ev->dwThreadId, 0);
	free(w);
}

/* LOAD_DLL / UNLOAD_DLL: keeps the list of modules; -ld / -ud dump
 * (filtered by path or base name). */
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
	if (d->initial_done && (load ? d->cfg->on_dll_load : d->cfg->on_dll_unload)) {
		out("%s DLL %s: %s\n", stamp(), load ? "Load" : "Unload", u8s(name));
		texts[0] = name;
		texts[1] = path_basename(name);
		if (trig_filter_pass(d->cfg, texts, 2))
			trig_fire(d->run, load ? "dll_load" : "dll_unload", PD_UNSET, name, NULL, 0, ev->dwThreadId, 0);
	}
	for (i = 0; !load && i < d->ndll; i++)
		if (d->dll[i].base == base) {
			free(d->dll[i].name);
			d->dll[i] = d->dll[--d->ndll];
			break;
		}
}

static void
dbg_on_create_process(struct dbg *d, const DEBUG_EVENT *ev)
{
	const CREATE_PROCESS_DEBUG_INFO *c = &ev->u.CreateProcessInfo;
	d->hproc = c->hProcess;
	dbg_add_thread(d, ev->dwThreadId, c->hThread);
	dbg_add_dll(d, (u64)(ULONG_PTR)c->lpBaseOfImage, dbg_dll_name(d, c->hFile, c->lpImageName, c->fUnicode));
	if (c->hFile)
		CloseHandle(c->hFile);
}

static void
dbg_on_create_thread(struct dbg *d, const DEBUG_EVENT *ev)
{
	dbg_add_thread(d, ev->dwThreadId, ev->u.CreateThread.hThread);
	/* the attach's break-in thread: its breakpoint is the attach one */
	if (!d->initial_done && d->attached == 1 && w32.DbgUiRemoteBreakin &&
	    (ULONG_PTR)ev->u.CreateThread.lpStartAddress == (ULONG_PTR)w32.DbgUiRemoteBreakin)
		d->breakin_tid = ev->dwThreadId;
	if (d->initial_done && d->cfg->on_thread_create) {
		out("%s Thread Create: %lu\n", stamp(), ev->dwThreadId);
		trig_fire(d->run, "thread_create", PD_UNSET, NULL, NULL, 0, ev->dwThreadId, 0);
	}
}

static void
dbg_on_exit_thread(struct dbg *d, const DEBUG_EVENT *ev)
{
	if (d->initial_done && d->cfg->on_thread_exit && ev->dwThreadId != d->breakin_tid) {
		out("%s Thread Exit: %lu (exit code %lu)\n", stamp(), ev->dwThreadId, ev->u.ExitThread.dwExitCode);
		trig_fire(d->run, "thread_exit", ev->u.ExitThread.dwExitCode, NULL, NULL, 0, ev->dwThreadId, 0);
	}
	w32_debug_close_handle(dbg_thread_handle(d, ev->dwThreadId));
	dbg_del_thread(d, ev->dwThreadId);
}

static void
dbg_on_exit_process(struct dbg *d, const DEBUG_EVENT *ev)
{
	out("%s The process has exited. Exit code: 0x%08lX\n", stamp(), ev->u.ExitProcess.dwExitCode);
	/* at_exit 1: TerminateProcess or a crash, no ExitProcess breakpoint */
	if (d->cfg->on_terminate && !d->run->done && !d->exit_fired)
		trig_fire(d->run, "exit", ev->u.ExitProcess.dwExitCode, NULL, "process exited", 0, ev->dwThreadId, 1);
	ev_target_exit(d->t, ev->u.ExitProcess.dwExitCode);
	d->exited = 1;
	if (!d->run->done) {
		d->run->rc = PD_EXIT_NOTDONE;
		d->run->done = 1;
	}
}

/* One debug event; returns how to continue it. */
static DWORD
dbg_on_event(struct dbg *d, const DEBUG_EVENT *ev)
{
	DWORD cont = DBG_CONTINUE;
	int was = d->initial_done;
	switch (ev->dwDebugEventCode) {
	case CREATE_PROCESS_DEBUG_EVENT: dbg_on_create_process(d, ev); break;
	case CREATE_THREAD_DEBUG_EVENT: dbg_on_create_thread(d, ev); break;
	case EXIT_THREAD_DEBUG_EVENT: dbg_on_exit_thread(d, ev); break;
	case LOAD_DLL_DEBUG_EVENT: dbg_on_dll(d, ev, 1); break;
	case UNLOAD_DLL_DEBUG_EVENT: dbg_on_dll(d, ev, 0); break;
	case OUTPUT_DEBUG_STRING_EVENT: dbg_on_debug_string(d, ev); break;
	case EXCEPTION_DEBUG_EVENT: cont = dbg_on_exception(d, ev); break;
	case EXIT_PROCESS_DEBUG_EVENT: dbg_on_exit_process(d, ev); break;
	default: break; /* RIP_INFO */
	}
	if (!was && d->initial_done && d->cfg->on_terminate)
		dbg_plant_exit_breakpoint(d); /* right after the initial breakpoint */
	return cont;
}

/* Runs the event loop until the run is done (count reached, a dump failed,
 * cancelled, the target exited); with until_initial, only to the initial
 * breakpoint (-x without a debug trigger, then the timed series). */
static void
dbg_loop(struct dbg *d, int until_initial)
{
	DEBUG_EVENT ev;
	while (!d->run->done && !d->exited && !(until_initial && d->initial_done)) {
		DWORD cont;
		int got;
		if (run_cancelled(d->run)) {
			run_stop(d->run, "Cancelled.");
			return;
		}
		/* the monitors run on this thread too, between debug events */
		if (d->mon && d->initial_done && now_sec() >= d->mon->next_tick && trig_mon_step(d->mon, d->run) == 1)
			continue;
		if ((got = w32_wait_debug_event(&ev, 100)) == 0)
			continue;
		if (got > 0) {
			/* the event holds every thread until it is continued: a
			 * dump meanwhile needs no freeze of its own (LIVE_EVENT) */
			d->run->held = 1;
			cont = dbg_on_event(d, &ev);
			d->run->held = 0;
			if (ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId, cont))
				continue;
			warn("ContinueDebugEvent:");
		}
		d->run->rc = PD_EXIT_TARGET;
		d->run->done = 1;
	}
}

/* Has the target loaded a CLR?  Then dbg_finish stops its threads and
 * drains its events before the detach. */
static int
dbg_has_clr(const struct dbg *d)
{
	int i;
	for (i = 0; i < d->ndll; i++)
		if (d->dll[i].name && path_is_clr(d->dll[i].name))
			return 1;
	return 0;
}

/* The threads stopped around a detach.  A freeze guard (-freezeguard, as
 * for a dump) stops them, so that a procdump that dies in those 20-odd ms
 * leaves them running; procdump stops a thread itself only where no guard
 * starts (library mode) or the guard cannot. */
struct dbg_stop {
	struct w32_guard guard; /* the freeze guard, or none */
	u8 *held;               /* per thread of d->th: the guard stopped it */
	HANDLE *own;            /* per thread: procdump stopped it, through this copy of
	                         * its handle (Windows closes the debug event's own at
	                         * the detach, before the resume) */
};

/* Thread i is procdump's to resume: through a copy of its handle. */
static void
dbg_stop_own(struct dbg *d, struct dbg_stop *st, int i, int suspend)
{
	HANDLE h = NULL;
	if (st->own[i] || !DuplicateHandle(GetCurrentProcess(), d->th[i].h, GetCurrentProcess(), &h,
	                                   THREAD_SUSPEND_RESUME, FALSE, 0))
		return;
	if (suspend && SuspendThread(h) == (DWORD)-1) {
		CloseHandle(h);
		return;
	}
	st->own[i] = h;
}

/* One thread id to the guard, its answer back: 0 if the guard stopped it;
 * -1 if it could not, or the guard is gone (a dead guard resumed nothing:
 * procdump takes over what it held, as live_guard_ask does). */
static int
dbg_stop_ask(struct dbg *d, struct dbg_stop *st, DWORD tid)
{
	DWORD answer = (DWORD)-1;
	int i;
	if (!st->guard.proc)
		return -1;
	if (w32_guard_ask(&st->guard, d->t->pid, tid, &answer) == 0)
		return answer == (DWORD)-1 ? -1 : 0;
	for (i = 0; i < d->nth; i++)
		if (st->held[i]) {
			dbg_stop_own(d, st, i, 0);
			st->held[i] = 0;
		}
	return -1;
}

static void
dbg_stop_threads(struct dbg *d, struct dbg_stop *st)
{
	int i;
	memset(st, 0, sizeof *st);
	st->held = calloc(d->nth + 1, 1);
	st->own = calloc(d->nth + 1, sizeof *st->own);
	if (!st->held || !st->own)
		return;
	st->guard.proc = w32_start_guard(L"freezeguard", d->t->pid, &st->guard.to, &st->guard.from);
	for (i = 0; i < d->nth; i++) {
		if (!d->th[i].h || d->th[i].tid == d->breakin_tid)
			continue;
		if (dbg_stop_ask(d, st, d->th[i].tid) == 0)
			st->held[i] = 1;
		else
			dbg_stop_own(d, st, i, 1);
	}
}

static void
dbg_resume_threads(struct dbg *d, struct dbg_stop *st)
{
	int i;
	dbg_stop_ask(d, st, 0); /* 0: resume them all */
	w32_guard_close(&st->guard);
	for (i = 0; st->own && i < d->nth; i++)
		if (st->own[i]) {
			ResumeThread(st->own[i]);
			CloseHandle(st->own[i]);
		}
	free(st->held);
	free(st->own);
}

static DWORD
dbg_drain_note(const DEBUG_EVENT *ev, const void *arg)
{
	(void)arg;
	if (ev->dwDebugEventCode == EXCEPTION_DEBUG_EVENT)
		vlog("detach: exception %08lX on thread %lu passed on", ev->u.Exception.ExceptionRecord.ExceptionCode,
		     ev->dwThreadId);
	return 0;
}

/* Ends the debugging session: the target runs on (detached) unless -k
 * (with debug triggers; -x alone detaches at the initial breakpoint, and
 * Main kills after the timed series). */
static void
dbg_finish(struct dbg *d)
{
	int i, clr = 0;
	struct dbg_stop st;
	if (d->attached && !d->exited) {
		dbg_remove_exit_breakpoint(d, 0); /* a detached target must not hit it */
		if (d->cfg->kill_after && d->triggers) {
			tgt_kill(d->t);
			/* drained, silently, until the exit: nothing left pending (at most 5 s) */
			w32_debug_drain(5000, 200, NULL, NULL);
		} else if ((clr = dbg_has_clr(d))) {
			dbg_stop_threads(d, &st);
			/* with the threads stopped: the events queued since the last one
			 * are passed on (an exception as not handled), as the loop would.
			 * Wine continues an event still queued at a detach as handled, and
			 * a CLR exception so continued ends the process (doc/WINE.md
			 * section 11; a .NET app throwing in a loop died within 6 detaches
			 * in each of 6 runs, and draining without stopping the threads
			 * left a window for the next throw).  An event on its way when
			 * the threads stopped gets a little time. */
			if (w32_debug_drain(5000, 20, dbg_drain_note, NULL))
				d->exited = 1;
		}
		if (!d->exited && !DebugActiveProcessStop(d->t->pid) && !(d->cfg->kill_after && d->triggers))
			warn("DebugActiveProcessStop %lu:", d->t->pid);
		if (clr)
			dbg_resume_threads(d, &st);
	}
	dbg_guard_end(d); /* detached or gone: the int3 is out */
	clr_close(&d->clr);
	for (i = 0; i < d->nth; i++)
		w32_debug_close_handle(d->th[i].h);
	w32_debug_close_handle(d->hproc);
	for (i = 0; i < d->ndll; i++)
		free(d->dll[i].name);
	free(d->dll);
	free(d->th);
}

#define DBG_ATTACH_DEADLINE_MS 5000

/* Attaches as the debugger of t, kill-on-exit off from the start.  Windows
 * refuses a process seen the instant it starts (-w) with access denied
 * (doc/WINE.md section 1), so a refusal is retried until the deadline,
 * unless another debugger holds it or it ended.  0, or -1 after a message
 * saying which; -1 with no message when it ended (the caller says it). */
static int
dbg_attach(const struct pd_target *t)
{
	DWORD t0, e;
	BOOL other = FALSE;
	w32_test_hold_delay();
	t0 = GetTickCount();
	w32_debugger_keep_alive();
	for (;;) {
		if (w32_debug_attach(t->pid))
			return 0;
		e = GetLastError();
		if ((CheckRemoteDebuggerPresent(t->h, &other) && other) || !tgt_alive(t) ||
		    GetTickCount() - t0 > DBG_ATTACH_DEADLINE_MS)
			break;
		Sleep(50);
	}
	SetLastError(e);
	if (other)
		warn("cannot attach to process %lu: another debugger is attached to it", t->pid);
	else if (!tgt_alive(t))
		return -1;
	else
		warn("cannot attach to process %lu (tried for %d s):", t->pid, DBG_ATTACH_DEADLINE_MS / 1000);
	return -1;
}

/* Attaches to the run's target (or takes over the launched one) and runs
 * the triggers; with triggers, ends the run (run_end) before a -k kill. */
static void
dbg_run(struct pd_run *r, int launched, struct trig_mon *mon)
{
	struct dbg d;

	memset(&d, 0, sizeof d);
	d.cfg = r->cfg;
	d.t = r->t;
	d.run = r;
	d.mon = mon;
	d.triggers = r->cfg->debug || mon;
	if (launched)
		d.attached = 2;
	else if (dbg_attach(r->t) < 0) {
		if (tgt_alive(r->t)) {
			r->rc = PD_EXIT_TARGET;
			r->done = 1;
		} else /* ended before the attach (a child of -pt that lives a moment): its exit, 1 */
			run_stop(r, "The process has exited.");
		return;
	} else
		d.attached = 1;
	/* procdump ending, even killed, must not take the target with it (set
	 * before the attach or launch too: w32_debugger_keep_alive) */
	DebugSetProcessKillOnExit(FALSE);
	if (d.triggers && !g.tagged) /* (several targets: Main said it once) */
		out("Press Ctrl-C to end monitoring without terminating the process.\n\n");
	dbg_loop(&d, !d.triggers);
	if (d.triggers)
		run_end(r); /* the summary, before a -k kill */
	dbg_finish(&d);
	if (!d.triggers && !r->done)
		trig_run_timed(r); /* -x alone: launched, detached; now the timed series */
}

/* -x with a Store application (Name_Publisher!App) or package
 * (Name_Version_Arch__Publisher), started by the package manager through
 * COM classes that Wine lacks (exit 3); where they exist, the activation
 * itself is not built yet (exit 2). */
static int
dbg_launch_store(const wchar_t *id)
{
	const char *which, *what = wcschr(id, L'!') ? "application" : "package";
	HRESULT hr = w32_store_classes(wcschr(id, L'!') != NULL, &which);
	if (FAILED(hr)) {
		warn("-x: cannot launch Store %s '%s': the COM class %s is not available (0x%08lX%s)", what, u8s(id),
		     which, (unsigned long)hr, hr == REGDB_E_CLASSNOTREG ? ", class not registered" : "");
		return PD_EXIT_TARGET;
	}
	warn("-x: Store %s activation is not implemented yet ('%s')", what, u8s(id));
	return PD_EXIT_USAGE;
}

/* -x: starts the image under the debugger; fills t. */
static int
dbg_launch(const struct pd_config *cfg, struct pd_target *t)
{
	struct buf b = { 0 };
	wchar_t *cmd, path[MAX_PATH];
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	DWORD plen = MAX_PATH;
	int i;

	if (wcschr(cfg->launch_image, L'!') || wcsstr(cfg->launch_image, L"__"))
		return dbg_launch_store(cfg->launch_image);
	cmd_add(&b, cfg->launch_image, QUOTE_PROGRAM);
	for (i = 0; i < cfg->launch_nargs; i++)
		cmd_add(&b, cfg->launch_args[i], 0);
	if (!(cmd = cmd_end(&b)))
		return PD_EXIT_TARGET;
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = GetStdHandle(g.json_stdout ? STD_ERROR_HANDLE : STD_OUTPUT_HANDLE); /* -json -: not in the JSON */
	si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
	w32_debugger_keep_alive(); /* as ProcDump: a launched process runs on when procdump ends */
	if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, DEBUG_ONLY_THIS_PROCESS, NULL, NULL, &si, &pi)) {
		warn("cannot launch '%s':", u8s(cfg->launch_image));
		free(cmd);
		return PD_EXIT_TARGET;
	}
	free(cmd);
	CloseHandle(pi.hThread);
	memset(t, 0, sizeof *t);
	t->pid = pi.dwProcessId;
	t->h = pi.hProcess;
	wcsncpy(t->name, path_basename(QueryFullProcessImageNameW(pi.hProcess, 0, path, &plen) ? path : cfg->launch_image),
	        MAX_PATH - 1);
	t->wow64 = w32_is_wow64(pi.hProcess);
	t->create_time = w32_process_create_time(t->pid);
	out("Launched:              %s (%lu)\n", u8s(cfg->launch_image), t->pid);
	return 0;
}

/* ---- The exit guard's own side (-exitguard PID). */

/* Reads one whole record; 0 at the end of the input. */
static int
dbg_guard_read(HANDLE in, struct dbg_guard_msg *m)
{
	DWORD got, have = 0;
	while (have < sizeof *m) {
		if (!ReadFile(in, (u8 *)m + have, sizeof *m - have, &got, NULL) || !got)
			return 0;
		have += got;
	}
	return 1;
}

/* The event procdump held when it died, if any: each thread of PID is
 * offered a ContinueDebugEvent (only one stopped at a fetched event takes
 * it).  A thread at the breakpoint, or one byte past it while it may still
 * be in, is put back on it and continued as procdump's own; any other
 * event is passed on, as procdump passes every exception. */
static void
dbg_guard_release_held(DWORD pid, u64 bp, int removed)
{
	struct pd_sys_process *list = w32_process_list(), *p;
	struct pd_sys_thread *st;
	ULONG i;
	if (!list)
		return;
	if ((p = w32_process_find(list, pid)))
		for (i = 0, st = w32_process_threads(p); i < p->NumberOfThreads; i++, st++) {
			DWORD tid = (DWORD)(ULONG_PTR)st->UniqueThread;
			HANDLE th = OpenThread(THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT | THREAD_SET_CONTEXT, FALSE, tid);
			u64 ip;
			int at;
			if (!th)
				continue;
			SuspendThread(th);
			ip = w32_thread_ip(th);
			at = ip == bp || (!removed && ip == bp + 1);
			if (at && ip != bp)
				w32_thread_set_ip(th, bp);
			ResumeThread(th);
			CloseHandle(th);
			if (ContinueDebugEvent(pid, tid, at ? DBG_CONTINUE : DBG_EXCEPTION_NOT_HANDLED))
				vlog("continued the event procdump held on thread %lu", tid);
		}
	free(list);
}

/* The guard's drain (dbg_guard_takeover): a thread at the breakpoint
 * (arg: its address) is rewound onto it and continued as handled. */
static DWORD
dbg_guard_rewind(const DEBUG_EVENT *ev, const void *arg)
{
	const EXCEPTION_RECORD *r = &ev->u.Exception.ExceptionRecord;
	u64 bp = *(const u64 *)arg;
	HANDLE th;
	if (ev->dwDebugEventCode != EXCEPTION_DEBUG_EVENT || r->ExceptionCode != EXCEPTION_BREAKPOINT ||
	    (u64)(ULONG_PTR)r->ExceptionAddress != bp ||
	    !(th = OpenThread(THREAD_GET_CONTEXT | THREAD_SET_CONTEXT, FALSE, ev->dwThreadId)))
		return 0;
	w32_thread_set_ip(th, bp);
	CloseHandle(th);
	return DBG_CONTINUE;
}

/* procdump ended while attached with its int3 perhaps in: the guard
 * becomes the debugger (the object is the same), puts the byte back,
 * releases the held and queued events and detaches. */
static void
dbg_guard_takeover(DWORD pid, const struct dbg_guard_msg *m, int removed)
{
	HANDLE proc = (HANDLE)(ULONG_PTR)m->proc;
	u8 orig = (u8)m->orig;
	SIZE_T n;
	if (WaitForSingleObject(proc, 0) == WAIT_OBJECT_0)
		return; /* it has ended: nothing to undo */
	if (!removed) {
		if (!WriteProcessMemory(proc, (LPVOID)(ULONG_PTR)m->bp, &orig, 1, &n))
			warn("procdump ended while attached to process %lu: cannot take out its exit breakpoint:", pid);
		FlushInstructionCache(proc, (LPCVOID)(ULONG_PTR)m->bp, 1);
	}
	if (w32_debugger_adopt((HANDLE)(ULONG_PTR)m->obj) < 0) {
		warn("procdump ended while attached to process %lu: the guard cannot take over its debug object "
		     "(no DbgUiSetThreadDebugObject); the guard's end releases it", pid);
		return;
	}
	dbg_guard_release_held(pid, m->bp, removed);
	/* the events queued since procdump died, until none comes for 50 ms (2 s
	 * at most: then the detach continues the rest) */
	if (w32_debug_drain(2000, 50, dbg_guard_rewind, &m->bp))
		warn("procdump ended while attached to process %lu: the guard took out the exit breakpoint (-t); "
		     "the process has since exited", pid);
	else if (!DebugActiveProcessStop(pid))
		warn("procdump ended while attached to process %lu: the guard cannot detach:", pid);
	else
		warn("procdump ended while attached to process %lu: the guard took out the exit breakpoint (-t) and detached",
		     pid);
}

/* The exit guard, hidden -exitguard PID (started by dbg_guard_start):
 * reads dbg_guard_msg records until procdump's end of the pipe closes.
 * After DBG_GUARD_DONE, or with nothing armed, it exits; otherwise
 * procdump died with its int3 perhaps in: dbg_guard_takeover.  Exit 0. */
static int
dbg_exit_guard(DWORD pid)
{
	HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
	struct dbg_guard_msg m, arm;
	int removed = 0, done = 0;
	memset(&arm, 0, sizeof arm);
	SetEnvironmentVariableW(L"PROCDUMP_TEST_EXIT_FILE", NULL); /* procdump's own, not the guard's */
	w32_enable_privilege(L"SeDebugPrivilege"); /* the target's threads, as procdump opened them */
	while (!done && dbg_guard_read(in, &m)) {
		if (m.kind == DBG_GUARD_ARMED)
			arm = m;
		else if (m.kind == DBG_GUARD_REMOVED)
			removed = 1;
		else if (m.kind == DBG_GUARD_DONE)
			done = 1;
	}
	if (arm.kind && !done)
		dbg_guard_takeover(pid, &arm, removed);
	if (arm.kind) {
		CloseHandle((HANDLE)(ULONG_PTR)arm.proc);
		CloseHandle((HANDLE)(ULONG_PTR)arm.obj);
	}
	return 0;
}

/* ================================ Install =============================== */
/* The postmortem debugger (doc/DESIGN.md "Install: AeDebug (-i, -u, -j)"):
 * -i writes AeDebug's Debugger and Auto in each registry view (saving what
 * was there), -u puts back exactly what -i found, -j is the command the
 * system starts at a crash; -wer.  Touches no other registry key. */

#define AED_KEY L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug"
/* Beside Debugger and Auto: the command -i wrote (it is installed while
 * Debugger still equals it), the values it replaced (absent if there were
 * none: same type and bytes) and whether it made the key. */
#define AED_MARK      L"procdump.c Debugger"
#define AED_CREATED   L"procdump.c Created Key"
static const wchar_t *const aed_names[2] = { L"Debugger", L"Auto" };
static const wchar_t *const aed_saved[2] = { L"procdump.c Previous Debugger", L"procdump.c Previous Auto" };

/* One registry view: 64-bit processes read the native key, 32-bit ones
 * (on 64-bit Windows) the WOW6432Node one; each view starts the procdump
 * of its bitness. */
struct aed_view {
	REGSAM sam;            /* KEY_WOW64_64KEY, KEY_WOW64_32KEY, or 0 on 32-bit Windows */
	const char *label;     /* the key as printed */
	wchar_t *exe;          /* -i: the procdump this view starts */
	wchar_t *cmd;          /* -i: its command line */
	HKEY k;
	int created;           /* -i made the key */
};

/* The views to write: on 64-bit Windows the native one and, for -u or when
 * the other build sits beside this exe, the other; on 32-bit Windows the
 * one.  Returns how many (each view's exe set for -i). */
static int
aed_views(struct aed_view *v, int install)
{
	static const char *k64 = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug";
	static const char *k32 = "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug";
	int own64 = sizeof(void *) == 8, os64 = own64 || w32_is_wow64(GetCurrentProcess()), n = 1;
	wchar_t self[MAX_PATH], *dir, *other;
	memset(v, 0, 2 * sizeof *v);
	if (!GetModuleFileNameW(NULL, self, MAX_PATH))
		self[0] = 0;
	v[0].exe = wdup(self);
	v[0].sam = os64 ? (own64 ? KEY_WOW64_64KEY : KEY_WOW64_32KEY) : 0;
	v[0].label = os64 && !own64 ? k32 : k64;
	if (!os64)
		return 1;
	dir = path_dirname(self);
	other = dir ? wcs_cat(dir, own64 ? L"\\procdump.exe" : L"\\procdump64.exe") : NULL;
	free(dir);
	if (other && (!install || w32_exists(other))) {
		v[1].exe = other;
		v[1].sam = own64 ? KEY_WOW64_32KEY : KEY_WOW64_64KEY;
		v[1].label = own64 ? k32 : k64;
		n = 2;
	} else
		free(other);
	return n;
}

static void
aed_views_free(struct aed_view *v, int n)
{
	int i;
	for (i = 0; i < n; i++) {
		if (v[i].k)
			RegCloseKey(v[i].k);
		free(v[i].exe);
		free(v[i].cmd);
	}
}

/* The command registered for exe: "exe" -accepteula, the dump switches of
 * this command line in their order (-md as a full path), -j "folder" and
 * the three values the system fills in.  malloc'd, or NULL. */
static wchar_t *
aed_command(const wchar_t *exe, const wchar_t *folder, int argc, wchar_t **argv)
{
	struct buf b = { 0 }, r = { 0 };
	wchar_t *c;
	int k;
	cmd_add(&b, exe, QUOTE_ALWAYS | QUOTE_PROGRAM);
	cmd_add(&b, L"-accepteula", 0);
	for (k = 1; k < argc; k++) {
		const struct opt *sw = args_find(argv[k]);
		wchar_t name[32];
		if (!sw || !(sw->flags & OF_INSTALL) || sw->off == CO(accepteula))
			continue;
		swprintf(name, 32, L"-%ls", sw->name);
		cmd_add(&b, name, 0);
		if (sw->kind == OPT_INT || sw->kind == OPT_HEX || sw->kind == OPT_STR) {
			wchar_t *full = sw->off == CO(callback_dll) ? w32_full_path(argv[k + 1]) : NULL;
			cmd_add(&b, full ? full : argv[k + 1], 0);
			free(full);
			k++;
		} else if (sw->kind == OPT_R && k + 1 < argc && all_digits(argv[k + 1]) && wcslen(argv[k + 1]) == 1)
			cmd_add(&b, argv[++k], 0);
	}
	cmd_add(&b, L"-j", 0);
	cmd_add(&b, folder, QUOTE_ALWAYS); /* (as ProcDump writes it) */
	if (!(c = cmd_end(&b)))
		return NULL;
	/* the system formats the value (swprintf with the PID, the event and
	 * JIT_DEBUG_INFO): a % of a path or switch is written %%; then the
	 * three values it fills in */
	for (k = 0; c[k]; k++)
		buf_add(&r, c[k] == L'%' ? L"%%" : &c[k], (c[k] == L'%' ? 2 : 1) * sizeof(wchar_t), 1);
	free(c);
	buf_add(&r, L" %ld %ld %p", sizeof L" %ld %ld %p", 1);
	if (r.oom) {
		free(r.p);
		return NULL;
	}
	return (wchar_t *)r.p;
}

/* Opens (-i: creates) every view's key before anything is written, so
 * that a refusal changes nothing.  0, or PD_EXIT_TARGET after one line
 * (access denied: not elevated). */
static int
aed_open_views(struct aed_view *v, int n, int install, const char *sw)
{
	int i, j, why;
	for (i = 0; i < n; i++) {
		if ((v[i].k = w32_reg_open(AED_KEY, v[i].sam, install, &v[i].created, &why)))
			continue;
		if (!install && why == 1)
			continue; /* -u: no key, nothing of ours in it */
		if (why == 2)
			warn("%s: cannot write %s: run procdump from an elevated (administrator) prompt:", sw, v[i].label);
		else
			warn("%s: cannot open %s:", sw, v[i].label);
		for (j = 0; j < i; j++)
			if (v[j].created) /* made by this -i a moment ago */
				w32_reg_delete_if_empty(v[j].k, AED_KEY, v[j].sam);
		return PD_EXIT_TARGET;
	}
	return 0;
}

/* A value for the console: (TYPE) text. */
static void
aed_print_value(const wchar_t *name, DWORD type, const BYTE *data, DWORD len, int present)
{
	static const char *types[] = { "REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD" };
	const char *tn = type < 5 ? types[type] : "REG_?";
	if (!present)
		out("    %-9ls = <deleted>\n", name);
	else if ((type == REG_SZ || type == REG_EXPAND_SZ) && data)
		out("    (%s) %-9ls = %s\n", tn, name, u8s((const wchar_t *)data));
	else if (type == REG_DWORD && len == 4)
		out("    (%s) %-9ls = %lu\n", tn, name, *(const DWORD *)data);
	else
		out("    (%s) %-9ls = <%lu bytes>\n", tn, name, len);
}

/* 1 if the view's Debugger is still the command -i wrote there. */
static int
aed_is_ours(HKEY k)
{
	DWORD t1, t2, n1, n2;
	BYTE *mark = NULL, *cur = NULL;
	int ours = w32_reg_get(k, AED_MARK, &t1, &mark, &n1) == 1 && w32_reg_get(k, L"Debugger", &t2, &cur, &n2) == 1 &&
	           t1 == t2 && n1 == n2 && !memcmp(mark, cur, n1);
	free(mark);
	free(cur);
	return ours;
}

/* -i in one view: the values there are saved unless they are ours already
 * (a second -i keeps what the first saved), then Debugger, Auto and the
 * mark are written.  0, or -1 after a message. */
static int
aed_install_view(struct aed_view *v)
{
	DWORD type, len, one = 1;
	BYTE *data;
	int i, r;
	if (!aed_is_ours(v->k)) {
		for (i = 0; i < 2; i++) {
			if ((r = w32_reg_get(v->k, aed_names[i], &type, &data, &len)) < 0 ||
			    (r == 1 ? w32_reg_set(v->k, aed_saved[i], type, data, len)
			            : w32_reg_delete_value(v->k, aed_saved[i])) < 0) {
				free(data);
				warn("-i: cannot save %ls of %s:", aed_names[i], v->label);
				return -1;
			}
			free(data);
		}
		if (v->created && w32_reg_set(v->k, AED_CREATED, REG_DWORD, &one, 4) < 0) {
			warn("-i: cannot write %s:", v->label);
			return -1;
		}
	}
	if (w32_reg_set_string(v->k, L"Debugger", v->cmd) < 0 || w32_reg_set_string(v->k, L"Auto", L"1") < 0 ||
	    w32_reg_set_string(v->k, AED_MARK, v->cmd) < 0) {
		warn("-i: cannot write %s:", v->label);
		return -1;
	}
	out("  %s\n", v->label);
	aed_print_value(L"Auto", REG_SZ, (const BYTE *)L"1", 4, 1);
	aed_print_value(L"Debugger", REG_SZ, (const BYTE *)v->cmd, 0, 1);
	return 0;
}

/* -i [folder]: registers the command line in each view.  0, 2 (the folder
 * does not exist), 3 (not elevated, or the registry refused). */
static int
aed_install(const struct pd_config *cfg, int argc, wchar_t **argv)
{
	struct aed_view v[2];
	wchar_t *folder = w32_full_path(cfg->install_folder ? cfg->install_folder : L".");
	int n, i, rc = 0;
	if (!folder)
		return PD_EXIT_USAGE;
	if (!w32_is_dir(folder)) {
		warn("-i: dump folder '%s' does not exist", u8s(folder));
		free(folder);
		return PD_EXIT_USAGE;
	}
	n = aed_views(v, 1);
	for (i = 0; i < n && !rc; i++)
		if (!v[i].exe || !(v[i].cmd = aed_command(v[i].exe, folder, argc, argv)))
			rc = PD_EXIT_TARGET;
	if (!rc && !(rc = aed_open_views(v, n, 1, "-i"))) {
		out("Set to:\n");
		for (i = 0; i < n && !rc; i++)
			if (aed_install_view(&v[i]) < 0)
				rc = PD_EXIT_TARGET;
		if (!rc)
			out("\nprocdump.c is now set as the Just-in-time (AeDebug) debugger.\n");
	}
	aed_views_free(v, n);
	free(folder);
	return rc;
}

/* -u in one view where -i left its mark: Debugger and Auto as -i found
 * them (unless Debugger was changed since: then they stay), the saved
 * values and the mark removed, and the key if -i made it.  0 or -1. */
static int
aed_uninstall_view(struct aed_view *v)
{
	DWORD type, len, made = 0, mlen;
	BYTE *data, *m;
	int i, r, ours = aed_is_ours(v->k), err = 0;
	if (w32_reg_get(v->k, AED_CREATED, &type, &m, &mlen) == 1 && type == REG_DWORD && mlen == 4)
		made = *(DWORD *)m;
	free(m);
	out("  %s\n", v->label);
	for (i = 0; i < 2; i++) {
		if ((r = w32_reg_get(v->k, aed_saved[i], &type, &data, &len)) < 0)
			err = 1;
		else if (!ours)
			out("    %-9ls   left as it is: Debugger was changed after -i\n", aed_names[i]);
		else if ((r == 1 ? w32_reg_set(v->k, aed_names[i], type, data, len)
		                 : w32_reg_delete_value(v->k, aed_names[i])) < 0)
			err = 1;
		else
			aed_print_value(aed_names[i], type, data, len, r == 1);
		free(data);
		if (err) {
			warn("-u: cannot restore %ls of %s:", aed_names[i], v->label);
			return -1;
		}
	}
	if (w32_reg_delete_value(v->k, aed_saved[0]) < 0 || w32_reg_delete_value(v->k, aed_saved[1]) < 0 ||
	    w32_reg_delete_value(v->k, AED_CREATED) < 0 || w32_reg_delete_value(v->k, AED_MARK) < 0 ||
	    (made && w32_reg_delete_if_empty(v->k, AED_KEY, v->sam) < 0)) {
		warn("-u: cannot clean up %s:", v->label);
		return -1;
	}
	return 0;
}

/* -u: undoes -i in every view that has its mark.  0; 1 when -i was not
 * installed anywhere (nothing changed); 3 (not elevated, or refused). */
static int
aed_uninstall(void)
{
	struct aed_view v[2];
	DWORD type, len;
	BYTE *data = NULL, *cur = NULL;
	int n = aed_views(v, 0), i, rc, found = 0;
	if (!(rc = aed_open_views(v, n, 0, "-u"))) {
		for (i = 0; i < n && !rc; i++) {
			if (!v[i].k || w32_reg_get(v[i].k, AED_MARK, &type, &data, &len) != 1) {
				if (i == 0 && v[i].k)
					w32_reg_get(v[i].k, L"Debugger", &type, &cur, &len);
				continue;
			}
			free(data);
			data = NULL;
			if (!found++)
				out("Reset to:\n");
			if (aed_uninstall_view(&v[i]) < 0)
				rc = PD_EXIT_TARGET;
		}
		if (!rc && found)
			out("\nprocdump.c is no longer the Just-in-time (AeDebug) debugger.\n");
		else if (!rc) {
			warn("-u: procdump.c is not installed as the postmortem debugger (AeDebug Debugger is %s%s%s); "
			     "nothing changed", cur ? "'" : "", cur ? u8s((wchar_t *)cur) : "not set", cur ? "'" : "");
			rc = PD_EXIT_NOTDONE;
		}
	}
	free(cur);
	aed_views_free(v, n);
	return rc;
}

/* -wer: after a run that wrote its dumps, a report on the process is
 * queued to Windows Error Reporting with a dump WER writes (the largest
 * type asked for).  Where WER refuses (Wine lacks WerReportAddDump), one
 * line says so; the dumps and the exit code stand. */
static void
aed_wer(const struct pd_config *cfg, const struct pd_target *t)
{
	static const char *results[] = { "?", "queued", "uploaded", "debug", "failed", "WER is disabled",
	                                 "cancelled", "queueing is disabled", "asynchronous", "custom action",
	                                 "throttled", "uploaded (cab)", "no storage location" };
	const char *step;
	int i, heap = 0, res;
	HRESULT hr;
	for (i = 0; i < cfg->ntypes; i++)
		heap |= cfg->types[i] == PD_FULL;
	hr = w32_wer_queue(t->h, t->name, heap, &step, &res);
	if (FAILED(hr))
		warn("-wer: %s failed (0x%08lX%s): nothing was queued to Windows Error Reporting; the dumps stay", step,
		     (unsigned long)hr, hr == E_NOTIMPL ? ", not implemented" : hr == E_NOINTERFACE ? ", missing" : "");
	else
		out("%s Queued to Windows Error Reporting: %s.\n", stamp(),
		    res > 0 && res < (int)(sizeof results / sizeof results[0]) ? results[res] : "?");
}

/* ---- -j: the postmortem debugger the system starts.  Windows passes the
 * PID, an event the crashed thread waits on (inherited) and the address of
 * a JIT_DEBUG_INFO in the crashed process; Wine passes garbage for the
 * last (doc/WINE.md section 8): then the exception comes from the debug
 * event. */

#define AED_EVENT_DEADLINE_MS 30000 /* attach to the crash's second-chance exception */
#define AED_EXIT_DEADLINE_MS  10000 /* the dump to the process's end */

/* JIT_DEBUG_INFO as Windows lays it out (the mingw headers may lack it). */
struct aed_jit_info {
	DWORD dwSize, dwProcessorArchitecture, dwThreadID, dwReserved0;
	u64 lpExceptionAddress, lpExceptionRecord, lpContextRecord;
};

struct aed_jit {
	wchar_t *folder;
	DWORD pid;
	HANDLE event;          /* set once attached: the crashed thread goes on */
	u64 info;              /* JIT_DEBUG_INFO address in the process, or 0 */
};

/* -j's values (as -i registers them: folder %ld %ld %p) and its dump
 * folder, checked before the banner (a usage error comes alone).  On a
 * missing folder the crashed thread, which waits for the event, is let go
 * to its end.  0 or PD_EXIT_USAGE after one line. */
static int
aed_check_jit(const struct pd_config *cfg, struct aed_jit *j)
{
	u64 pid, ev, info = 0;
	memset(j, 0, sizeof *j);
	if (cfg->postmortem_nargs < 3 || cfg->postmortem_nargs > 4 || parse_num(cfg->postmortem_args[1], 0, 0xFFFFFFFF, &pid) < 0 ||
	    parse_num(cfg->postmortem_args[2], 0, (u64)(ULONG_PTR)-1, &ev) < 0) {
		warn("-j needs a dump folder, a PID, an event handle and a JIT_DEBUG_INFO address "
		     "(the system passes them to the command -i registers)");
		return PD_EXIT_USAGE;
	}
	if (cfg->postmortem_nargs == 4 && parse_num(cfg->postmortem_args[3], 1, (u64)(ULONG_PTR)-1, &info) < 0)
		info = 0;
	j->folder = cfg->postmortem_args[0];
	j->pid = (DWORD)pid;
	j->event = (HANDLE)(ULONG_PTR)ev;
	j->info = info;
	if (!w32_is_dir(j->folder)) {
		warn("-j: dump folder '%s' does not exist", u8s(j->folder));
		SetEvent(j->event);
		return PD_EXIT_USAGE;
	}
	return 0;
}

/* The exception from the JIT_DEBUG_INFO at addr in the target: 1 when it
 * is there and valid (its size, a thread, a readable record and context),
 * else 0.  Read only when procdump and the target are of one bitness: the
 * record and context it points to are in the crashed process's layout. */
static int
aed_jit_event(const struct pd_target *t, u64 addr, struct pd_event *pe)
{
	struct aed_jit_info ji;
	memset(pe, 0, sizeof *pe);
	if (!addr || t->wow64 != w32_is_wow64(GetCurrentProcess()) || w32_read(t->h, addr, &ji, sizeof ji) < 0 ||
	    ji.dwSize != sizeof ji ||
	    !ji.dwThreadID || w32_read(t->h, ji.lpExceptionRecord, &pe->rec, sizeof pe->rec) < 0 ||
	    w32_read(t->h, ji.lpContextRecord, &pe->ctx, sizeof pe->ctx) < 0)
		return 0;
	pe->tid = ji.dwThreadID;
	pe->has_exception = 1;
	pe->exception_code = pe->rec.ExceptionCode;
	return 1;
}

/* The crash's dump: its exception from JIT_DEBUG_INFO if valid, else from
 * the second-chance event ev, else none. */
static void
aed_fire(struct dbg *d, const struct pd_event *jit, const DEBUG_EVENT *ev)
{
	struct pd_event pe;
	if (jit && (!ev || jit->tid == ev->dwThreadId)) /* (a %p that only looks valid names another thread) */
		pe = *jit;
	else if (ev) {
		pe = trig_event(ev->dwThreadId, 0);
		pe.has_exception = 1;
		pe.rec = ev->u.Exception.ExceptionRecord;
		pe.exception_code = pe.rec.ExceptionCode;
		dbg_event_context(d, ev->dwThreadId, &pe.ctx);
	} else
		pe = trig_event(0, 0);
	if (pe.has_exception) { /* a managed crash by its type and message (CLR) */
		wchar_t type[512], msg[1024], *line = dbg_exception_text(d, pe.tid, &pe.rec, 0, type, 512, msg, 1024);
		if (line)
			out("%s Unhandled: %s (thread %lu)\n", stamp(), u8s(line), pe.tid);
		else
			out("%s Unhandled: %08lX.%s (thread %lu)\n", stamp(), pe.exception_code,
			    trig_exception_name(pe.exception_code), pe.tid);
		free(line);
	}
	run_fire(d->run, &pe);
	/* -wer while the crashed process is still there to report on */
	if (d->cfg->wer && d->run->fired)
		aed_wer(d->cfg, d->t);
}

/* -r: the crash's clone is written once the crashed process, released
 * after the copy, has ended (or AED_EXIT_DEADLINE_MS has passed): the
 * outage is the copy, and the write does not compete with the end. */
static void
aed_write_after_end(struct dbg *d, HANDLE ended)
{
	if (!d->cfg->clone || !ended)
		return;
	d->run->write_after = ended;
	d->run->write_after_ms = AED_EXIT_DEADLINE_MS;
}

/* -k: the crashed process is killed once its dump is taken (its clone,
 * with -r), so that it ends with the kill's code, not the exception's. */
static void
aed_kill(struct dbg *d)
{
	if (d->cfg->kill_after)
		tgt_kill(d->t);
}

/* Attached: lets the crashed thread go, dumps at the crash's second-chance
 * exception, passes it on (the process ends as it would have; -k kills
 * it), waits for the end and sets ended (-r writes the clone after the
 * exit event).  Every wait has a deadline: a hung postmortem debugger
 * would keep a crashed process. */
static void
aed_debug(struct dbg *d, HANDLE event, const struct pd_event *jit, HANDLE ended)
{
	DEBUG_EVENT ev;
	DWORD t0 = GetTickCount(), limit = AED_EVENT_DEADLINE_MS, cont;
	int signalled = 0, fired = 0, got;
	while (!d->exited && GetTickCount() - t0 < limit) {
		if ((got = w32_wait_debug_event(&ev, 100)) == 0)
			continue;
		if (got < 0)
			break;
		d->run->held = 1; /* the event holds every thread: the dump needs no freeze */
		if (ev.dwDebugEventCode == EXCEPTION_DEBUG_EVENT && !ev.u.Exception.dwFirstChance && signalled && !fired) {
			aed_write_after_end(d, ended);
			aed_fire(d, jit, &ev);
			fired = 1;
			cont = DBG_EXCEPTION_NOT_HANDLED;
			t0 = GetTickCount();
			limit = AED_EXIT_DEADLINE_MS;
			aed_kill(d); /* (while the event holds it: it ends with the kill's code) */
		} else
			cont = dbg_on_event(d, &ev);
		d->run->held = 0;
		if (!signalled && d->initial_done) {
			SetEvent(event);
			signalled = 1;
			t0 = GetTickCount();
		}
		if (!ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId, cont)) {
			warn("ContinueDebugEvent:");
			break;
		}
	}
	if (!signalled)
		SetEvent(event);
	if (ended) /* (the loop is over: exited, or given up) */
		SetEvent(ended);
	if (!fired) {
		warn("-j: no exception event from process %lu within %d s; the dump %s", d->t->pid,
		     AED_EVENT_DEADLINE_MS / 1000, jit ? "takes JIT_DEBUG_INFO's" : "has no exception");
		aed_fire(d, jit, NULL);
		if (!d->exited)
			aed_kill(d);
	}
}

/* -i: what the registered -j will need, checked before anything is
 * written: the dump folder takes a new file, and the -md DLL loads by its
 * full path and exports MiniDumpCallbackRoutine.  0 or PD_EXIT_USAGE after
 * one line. */
static int
aed_check_install(const struct pd_config *cfg)
{
	wchar_t *folder = w32_full_path(cfg->install_folder ? cfg->install_folder : L"."), *md = NULL;
	HMODULE dll = NULL;
	int rc = PD_EXIT_USAGE;
	if (!folder)
		warn("out of memory");
	else if (!w32_is_dir(folder))
		warn("-i: dump folder '%s' does not exist", u8s(cfg->install_folder ? cfg->install_folder : folder));
	else if (w32_folder_writable(folder) < 0)
		warn("-i: no file can be made in dump folder '%s' (-j would write its dumps there):", u8s(folder));
	else if (cfg->callback_dll && !(md = w32_full_path(cfg->callback_dll)))
		warn("out of memory");
	else if (!md || w32_load_callback(md, &dll))
		rc = 0;
	if (dll)
		FreeLibrary(dll);
	free(md);
	free(folder);
	return rc;
}

/* -j folder pid event jitinfo (j: as aed_check_jit read them): one dump
 * of the crashed process, then it ends.  The exit code is the dump's. */
static int
aed_postmortem(struct pd_config *cfg, const struct aed_jit *j, MINIDUMP_CALLBACK_ROUTINE cb)
{
	struct pd_target t;
	struct pd_run run;
	struct dbg d;
	struct pd_event jit;
	wchar_t spec[16];
	HANDLE ended = NULL;
	int rc, have_jit;
	swprintf(spec, 16, L"%lu", j->pid);
	if (!(rc = tgt_resolve(&t, spec, 0)))
		rc = tgt_open(&t, cfg->kill_after);
	if (rc) {
		SetEvent(j->event); /* the crashed process goes on to its end */
		tgt_close(&t);
		return rc;
	}
	cfg->output = j->folder;
	have_jit = aed_jit_event(&t, j->info, &jit);
	out("Process:               %s (%lu)\n", u8s(t.name), t.pid);
	out("Exception from:        %s\n\n", have_jit ? "JIT_DEBUG_INFO" : "the debug event (no valid JIT_DEBUG_INFO)");
	run_begin(&run, cfg, &t, 1, cb);
	memset(&d, 0, sizeof d);
	d.cfg = cfg;
	d.t = &t;
	d.run = &run;
	if (dbg_attach(&t) < 0) {
		/* its crashed thread waits for the event: dump it as it is */
		aed_write_after_end(&d, t.h);
		aed_fire(&d, have_jit ? &jit : NULL, NULL);
		aed_kill(&d);
		SetEvent(j->event);
	} else {
		d.attached = 1;
		DebugSetProcessKillOnExit(FALSE);
		/* -r: set once the debugger has seen the process end */
		ended = cfg->clone ? CreateEventW(NULL, TRUE, FALSE, NULL) : NULL;
		aed_debug(&d, j->event, have_jit ? &jit : NULL, ended);
	}
	rc = run_end(&run);
	dbg_finish(&d);
	CloseHandle(j->event);
	if (ended)
		CloseHandle(ended);
	tgt_close(&t);
	return rc;
}

/* ================================ Service =============================== */
/* -svc install, uninstall, list: the service control manager's calls.  The
 * service's own run (control handler, log, the monitor re-armed) is Main's
 * (main_svc_*); nothing here runs a monitor. */

#define SVC_PREFIX L"procdump.c-"   /* every service of ours: its name is this and NAME */
#define SVC_RESTART_MS 60000        /* failure actions: restart after a minute, */
#define SVC_RESTARTS 3              /* ... this many times, */
#define SVC_RESET_SECS 86400        /* ... counted over a day */
#define SVC_STOP_WAIT_MS 30000      /* the wait hint of a stop, and how long uninstall waits for it */
#define SVC_KEEP_DEFAULT 10         /* -keep when install is given none */

/* SVC_PREFIX NAME into name (cap characters). */
static void
svc_full_name(wchar_t *name, size_t cap, const wchar_t *n)
{
	swprintf(name, cap, L"%ls%ls", SVC_PREFIX, n);
}

/* The service's command line: this exe, -svc run NAME, then every other
 * argument of the install line but -svcuser, the dump folder and -json file
 * as full paths (a service starts in system32), and -keep if none was
 * given.  NULL if out of memory. */
static wchar_t *
svc_command(const struct pd_config *cfg, int argc, wchar_t **argv, const wchar_t *out_full, const wchar_t *json_full)
{
	wchar_t exe[32768];
	struct buf b = { 0 };
	int k;
	if (!GetModuleFileNameW(NULL, exe, 32768))
		return NULL;
	cmd_add(&b, exe, QUOTE_PROGRAM);
	cmd_add(&b, L"-svc", 0);
	cmd_add(&b, L"run", 0);
	cmd_add(&b, cfg->svc_name, 0);
	for (k = 1; k < argc; k++) {
		if (k >= cfg->svc_at && k <= cfg->svc_at + 2)
			continue;
		if (k + 1 < argc && argv[k + 1] == cfg->svc_user) {
			k++; /* -svcuser ACCOUNT: the service's, not its monitor's */
			continue;
		}
		cmd_add(&b, argv[k] == cfg->output ? out_full : json_full && argv[k] == cfg->json ? json_full : argv[k], 0);
	}
	if (!GIVEN(cfg, keep)) {
		cmd_add(&b, L"-keep", 0);
		cmd_add(&b, PD_WIDEN(PD_STR(SVC_KEEP_DEFAULT)), 0);
	}
	return cmd_end(&b);
}

/* Delayed automatic start, and the failure actions: restarted after a
 * minute, SVC_RESTARTS times a day.  0, or -1 after a line. */
static int
svc_configure(SC_HANDLE h, const wchar_t *name)
{
	SC_ACTION act[SVC_RESTARTS];
	SERVICE_FAILURE_ACTIONSW fa;
	SERVICE_DELAYED_AUTO_START_INFO delayed = { TRUE };
	SERVICE_DESCRIPTIONW desc = { (wchar_t *)L"procdump.c: a monitor that writes dumps (procdump -svc list)" };
	int i;
	for (i = 0; i < SVC_RESTARTS; i++)
		act[i].Type = SC_ACTION_RESTART, act[i].Delay = SVC_RESTART_MS;
	memset(&fa, 0, sizeof fa);
	fa.dwResetPeriod = SVC_RESET_SECS;
	fa.cActions = SVC_RESTARTS;
	fa.lpsaActions = act;
	ChangeServiceConfig2W(h, SERVICE_CONFIG_DESCRIPTION, &desc); /* (a description is a nicety) */
	if (!ChangeServiceConfig2W(h, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
		warn("-svc install: cannot set the failure actions of %s:", u8s(name));
		return -1;
	}
	if (!ChangeServiceConfig2W(h, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed))
		warn("-svc install: %s starts at boot, not delayed (the system refuses the delay):", u8s(name));
	return 0;
}

/* The failure actions as the manager gives them back, for list. */
static void
svc_say_failure(SC_HANDLE h)
{
	union { SERVICE_FAILURE_ACTIONSW fa; u8 b[8192]; } u;
	DWORD need = 0, i, restarts = 0, delay = 0;
	if (!QueryServiceConfig2W(h, SERVICE_CONFIG_FAILURE_ACTIONS, u.b, sizeof u.b, &need)) {
		out("    on failure:   (the manager does not say: %lu)\n", GetLastError());
		return;
	}
	for (i = 0; i < u.fa.cActions; i++)
		if (u.fa.lpsaActions[i].Type == SC_ACTION_RESTART)
			restarts++, delay = u.fa.lpsaActions[i].Delay;
	if (!restarts)
		out("    on failure:   nothing (%lu actions)\n", u.fa.cActions);
	else
		out("    on failure:   restart after %lu s, %lu times in %lu s\n", delay / 1000, restarts, u.fa.dwResetPeriod);
}

static const char *
svc_state_name(DWORD st)
{
	static const char *n[] = { "?", "stopped", "starting", "stopping", "running", "continuing", "pausing", "paused" };
	return st < sizeof n / sizeof n[0] ? n[st] : "?";
}

/* The service's log: NAME.log in its dump folder (main_check_output
 * checked that it is one). */
static void
svc_log_path(wchar_t *log, size_t n, const wchar_t *folder, const wchar_t *name)
{
	swprintf(log, n, L"%ls%ls%ls.log", folder, wcs_endswith_i(folder, L"\\") ? L"" : L"\\", name);
}

/* -svc install NAME ...: 0; 2 for a name that exists without -o; 3 where
 * the manager refuses (not elevated). */
static int
svc_install(const struct pd_config *cfg, int argc, wchar_t **argv)
{
	wchar_t name[128], disp[160], log[32768], *cmd = NULL, *full = NULL, *json_full = NULL;
	const wchar_t *user = cfg->svc_user ? cfg->svc_user : L"LocalSystem";
	SC_HANDLE scm, h = NULL;
	int rc = PD_EXIT_TARGET, replaced = 0;
	svc_full_name(name, 128, cfg->svc_name);
	swprintf(disp, 160, L"procdump.c monitor %ls", cfg->svc_name);
	if (!(scm = w32_scm_open(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE))) {
		warn("-svc install: cannot open the service manager to create %s: run procdump from an elevated "
		     "(administrator) prompt:", u8s(name));
		return PD_EXIT_TARGET;
	}
	if (!(full = w32_full_path(cfg->output)) ||
	    (cfg->json && wcscmp(cfg->json, L"-") && !(json_full = w32_full_path(cfg->json))) ||
	    !(cmd = svc_command(cfg, argc, argv, full, json_full))) {
		warn("-svc install: out of memory");
		goto out;
	}
	h = CreateServiceW(scm, name, disp, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
	                   SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, cfg->svc_user, NULL);
	if (!h && GetLastError() == ERROR_SERVICE_EXISTS) {
		replaced = 1;
		if (!cfg->overwrite) {
			warn("-svc install: the service %s exists (-o replaces its command line; -svc uninstall %s removes it)",
			     u8s(name), u8s(cfg->svc_name));
			rc = PD_EXIT_USAGE;
			goto out;
		}
		if ((h = OpenServiceW(scm, name, SERVICE_ALL_ACCESS)) &&
		    !ChangeServiceConfigW(h, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd, NULL,
		                          NULL, NULL, user, NULL, disp)) {
			CloseServiceHandle(h);
			h = NULL;
		}
	}
	if (!h) {
		warn("-svc install: cannot create the service %s:", u8s(name));
		goto out;
	}
	if (svc_configure(h, name) < 0) {
		if (!replaced && !DeleteService(h)) /* made here: not left half configured */
			warn("-svc install: cannot remove the half-made service %s:", u8s(name));
		goto out;
	}
	if (!GIVEN(cfg, keep))
		out("No -keep given: -keep %d applied (the %d newest dumps of the name stay in the folder).\n",
		    SVC_KEEP_DEFAULT, SVC_KEEP_DEFAULT);
	if (!GIVEN(cfg, minfree))
		out("No -minfree given: every dump leaves the larger of 1 GB and 5%% of the volume free.\n");
	svc_log_path(log, 32768, full, name);
	out("Service %s installed: %s, automatic (delayed) start, restarted after %d s on failure "
	    "(%d times a day).\n  %s\nIts log: %s\nStart it now with: sc start %s\n", u8s(name), u8s(user),
	    SVC_RESTART_MS / 1000, SVC_RESTARTS, u8s(cmd), u8s(log), u8s(name));
	rc = 0;
out:
	if (h)
		CloseServiceHandle(h);
	CloseServiceHandle(scm);
	free(cmd);
	free(full);
	free(json_full);
	return rc;
}

/* Waits (SVC_STOP_WAIT_MS) for the service to report STOPPED.  0 or -1. */
static int
svc_wait_stopped(SC_HANDLE h)
{
	SERVICE_STATUS st;
	double end = now_sec() + SVC_STOP_WAIT_MS / 1e3;
	while (QueryServiceStatus(h, &st) && st.dwCurrentState != SERVICE_STOPPED) {
		if (now_sec() > end)
			return -1;
		Sleep(100);
	}
	return 0;
}

/* -svc uninstall NAME: stopped (as Ctrl+C: targets resumed and detached),
 * then deleted.  0; 3 if there is no such service or it cannot be. */
static int
svc_uninstall(const struct pd_config *cfg)
{
	wchar_t name[128];
	SC_HANDLE scm, h;
	SERVICE_STATUS st;
	int rc = PD_EXIT_TARGET;
	svc_full_name(name, 128, cfg->svc_name);
	if (!(scm = w32_scm_open(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE))) {
		warn("-svc uninstall: cannot open the service manager: run procdump from an elevated (administrator) prompt:");
		return PD_EXIT_TARGET;
	}
	if (!(h = OpenServiceW(scm, name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE))) {
		warn("-svc uninstall: %s:", u8s(name));
		CloseServiceHandle(scm);
		return PD_EXIT_TARGET;
	}
	if (ControlService(h, SERVICE_CONTROL_STOP, &st))
		out("Stopping %s...\n", u8s(name));
	if (svc_wait_stopped(h) < 0)
		warn("-svc uninstall: %s did not stop within %d s; it is removed once it stops", u8s(name),
		     SVC_STOP_WAIT_MS / 1000);
	if (!DeleteService(h))
		warn("-svc uninstall: cannot remove %s:", u8s(name));
	else {
		out("Service %s removed.\n", u8s(name));
		rc = 0;
	}
	CloseServiceHandle(h);
	CloseServiceHandle(scm);
	return rc;
}

/* -svc list: every service of ours, its state, command line and failure
 * actions.  0, or 3 if the manager cannot be read. */
static int
svc_list(void)
{
	SC_HANDLE scm, h;
	ENUM_SERVICE_STATUS_PROCESSW *e = NULL;
	union { QUERY_SERVICE_CONFIGW qc; u8 b[65536]; } *u = malloc(sizeof *u);
	DWORD need = 0, n = 0, resume = 0, i, got;
	int found = 0;
	if (!u || !(scm = w32_scm_open(SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE))) {
		warn("-svc list: cannot open the service manager:");
		free(u);
		return PD_EXIT_TARGET;
	}
	EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_STATE_ALL, NULL, 0, &need, &n, &resume, NULL);
	if (need && (e = malloc(need + 4096))) {
		resume = 0;
		if (!EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_STATE_ALL, (u8 *)e, need + 4096,
		                           &need, &n, &resume, NULL))
			n = 0;
	}
	for (i = 0; e && i < n; i++) {
		if (_wcsnicmp(e[i].lpServiceName, SVC_PREFIX, wcslen(SVC_PREFIX)))
			continue;
		found++;
		out("%s  %s", u8s(e[i].lpServiceName), svc_state_name(e[i].ServiceStatusProcess.dwCurrentState));
		if (e[i].ServiceStatusProcess.dwProcessId)
			out(" (PID %lu)", e[i].ServiceStatusProcess.dwProcessId);
		out("\n");
		if ((h = OpenServiceW(scm, e[i].lpServiceName, SERVICE_QUERY_CONFIG))) {
			if (QueryServiceConfigW(h, &u->qc, sizeof *u, &got)) {
				out("    command line: %s\n", u8s(u->qc.lpBinaryPathName));
				out("    account:      %s\n", u->qc.lpServiceStartName ? u8s(u->qc.lpServiceStartName) : "LocalSystem");
			}
			svc_say_failure(h);
			CloseServiceHandle(h);
		}
	}
	if (!found)
		out("No procdump.c service is installed.\n");
	free(e);
	free(u);
	CloseServiceHandle(scm);
	return 0;
}

/* ================================= Main ================================= */
/* pd_main(): parse, check, find or launch the target, run, choose the exit
 * code; the banner and configuration table, the watcher of several targets
 * (main_fleet*), -duration, the service's entry points; the hidden guard
 * modes are dispatched to their sections (live_guard_serve,
 * dbg_exit_guard).  Library mode: process-wide state reset before
 * returning (main_reset). */

static void
main_banner(void)
{
	out("procdump.c v" PD_VERSION " - open-source process dump utility (ProcDump-compatible)\n");
	out("Free software (MIT). Exit codes are documented: procdump -?\n\n");
}

/* The table's "Dump folder" and "Dump filename/mask" rows. */
static void
main_print_folder(const struct pd_config *cfg, int out_is_dir)
{
	const wchar_t *o = cfg->output;
	wchar_t *dir = NULL, *full;
	int sep;
	if (o && !out_is_dir)
		dir = path_dirname(o);
	full = w32_full_path(dir ? dir : o ? o : L".");
	sep = full && (wcs_endswith_i(full, L"\\") || wcs_endswith_i(full, L"/"));
	out("Dump folder:           %s%s\n", full ? u8s(full) : "?", sep ? "" : "\\");
	out("Dump filename/mask:    %s\n", o && !out_is_dir ? u8s(path_basename(o)) : u8s(run_default_name(cfg)));
	free(full);
	free(dir);
}

static const char *
main_onoff(int on)
{
	return on ? "Enabled" : "Disabled";
}

/* A monitor's thresholds for the table: ">20%" or, a list, ">20%, >40%"
 * (each fires once, in order). */
static const char *
main_steps(const struct pd_steps *st, const char *op, const char *unit)
{
	static char s[PD_MAXSTEPS * 32];
	size_t n = 0;
	int i;
	s[0] = 0;
	for (i = 0; i < st->n && n < sizeof s; i++)
		n += (size_t)snprintf(s + n, sizeof s - n, "%s%s%lld%s", i ? ", " : "", op, st->v[i], unit);
	return s;
}

/* The configuration table ProcDump prints before it monitors: its rows,
 * names and order (n/a or Disabled where a switch was not given), then
 * procdump.c's own rows for -at and the -ld/-ud/-ct/-et events.  t NULL:
 * several targets (-all, -pt), the table printed once. */
static void
main_print_config(const struct pd_config *cfg, const struct pd_target *t, int out_is_dir)
{
	wchar_t image[MAX_PATH];
	DWORD ilen = MAX_PATH;
	if (t)
		out("Process:               %s (%lu)\n", u8s(t->name), t->pid);
	else
		out("Process:               %s (%s%s)\n", u8s(cfg->target), cfg->all ? "every match, -all" : "and",
		    cfg->children ? (cfg->all ? "; child processes, -pt" : " its child processes, -pt") : "");
	out("Process image:         %s\n", t && QueryFullProcessImageNameW(t->h, 0, image, &ilen) ? u8s(image) : "n/a");
	if (GIVEN(cfg, cpu_above) || GIVEN(cfg, cpu_below))
		out("CPU threshold:         %s of %s\n", main_steps(GIVEN(cfg, cpu_above) ? &cfg->cpu_above_steps : &cfg->cpu_below_steps,
		    GIVEN(cfg, cpu_above) ? ">" : "<", "%"), cfg->per_core ? "one core" : "the machine");
	else
		out("CPU threshold:         n/a\n");
	if (cfg->counter_above || cfg->counter_below)
		out("Performance counter:   %s %s%lld\n", u8s(cfg->counter_above ? cfg->counter_above : cfg->counter_below), cfg->counter_above ? ">=" : "<",
		    cfg->counter_above ? cfg->counter_above_value : cfg->counter_below_value);
	else
		out("Performance counter:   n/a\n");
	if (GIVEN(cfg, commit_above) || GIVEN(cfg, commit_below))
		out("Commit threshold:      %s\n", main_steps(GIVEN(cfg, commit_above) ? &cfg->commit_above_steps : &cfg->commit_below_steps,
		    GIVEN(cfg, commit_above) ? ">=" : "<", " MB"));
	else
		out("Commit threshold:      n/a\n");
	if (GIVEN(cfg, threads_above)) /* (not in ProcDump's table: only when given) */
		out("Thread threshold:      %s\n", main_steps(&cfg->threads_above_steps, ">=", ""));
	if (GIVEN(cfg, handles_above))
		out("Handle threshold:      %s\n", main_steps(&cfg->handles_above_steps, ">=", ""));
	out("Threshold seconds:     %lld\n", cfg->interval_secs);
	if (cfg->hung && cfg->hung_secs != 5)
		out("Hung window check:     Enabled (%lld seconds)\n", cfg->hung_secs);
	else
		out("Hung window check:     %s\n", main_onoff(cfg->hung));
	out("Log debug strings:     %s\n", main_onoff(cfg->debug_log));
	out("Exception monitor:     %s\n", !cfg->on_exception ? "Disabled" : cfg->first_chance ? "First Chance+Unhandled" : "Unhandled");
	out("Exception filter:      [Includes]\n");
	out("                       %s\n", cfg->include_set ? u8s(cfg->include) : "*");
	out("                       [Excludes]\n");
	if (cfg->exclude_set)
		out("                       %s\n", u8s(cfg->exclude));
	out("Terminate monitor:     %s\n", main_onoff(cfg->on_terminate));
	out("Cloning type:          %s\n", main_onoff(cfg->clone));
	if (cfg->clone)
		out("Concurrent limit:      %d\n", cfg->clone_limit);
	else
		out("Concurrent limit:      n/a\n");
	out("Avoid outage:          %s\n", cfg->clone ? main_onoff(cfg->avoid_outage) : "n/a");
	out("Number of dumps:       %lld%s\n", cfg->count, cfg->lists ? " (one per threshold)" : "");
	main_print_folder(cfg, out_is_dir);
	out("Queue to WER:          %s\n", main_onoff(cfg->wer));
	out("Kill after dump:       %s\n", main_onoff(cfg->kill_after));
	if (GIVEN(cfg, timeout_secs))
		out("Collection timeout:    %lld seconds (-at)\n", cfg->timeout_secs);
	if (GIVEN(cfg, duration))
		out("Monitoring duration:   %lld seconds (-duration)\n", cfg->duration);
	if (cfg->on_dll_load || cfg->on_dll_unload || cfg->on_thread_create || cfg->on_thread_exit)
		out("Events:               %s%s%s%s\n", cfg->on_dll_load ? " DLL-load" : "", cfg->on_dll_unload ? " DLL-unload" : "",
		    cfg->on_thread_create ? " thread-create" : "", cfg->on_thread_exit ? " thread-exit" : "");
	out("\n");
}

/* -w: waits for a process of that name (polling 10 times a second). */
static int
main_wait(const struct pd_config *cfg, struct pd_target *t)
{
	int rc = tgt_resolve(t, cfg->target, 1);
	if (rc != -1)
		return rc;
	out("Waiting for process named %s...\n", u8s(cfg->target));
	for (;;) {
		if (WaitForSingleObject(g.cancel_event, 100) == WAIT_OBJECT_0) {
			out("%s %s\n", stamp(), g.expired ? run_expired : "Cancelled.");
			return PD_EXIT_NOTDONE;
		}
		rc = tgt_resolve(t, cfg->target, 1);
		if (rc == 0)
			out("%s Process %s (%lu) started.\n", stamp(), u8s(t->name), t->pid);
		if (rc != -1)
			return rc;
	}
}

/* The output of a capture, checked before its banner: a folder (existing,
 * or named with a trailing separator) or a file name whose folder must
 * exist; with several targets, a name that holds PID (each process writes
 * its own).  0 or PD_EXIT_USAGE. */
static int
main_check_output(const struct pd_config *cfg, int *out_is_dir)
{
	wchar_t *dir;
	int ok;
	*out_is_dir = 0;
	if (cfg->launch && !w32_is_dir(cfg->launch_folder)) {
		warn("-x: dump folder '%s' does not exist", u8s(cfg->launch_folder));
		return PD_EXIT_USAGE;
	}
	if (!cfg->output)
		return 0;
	if (w32_is_dir(cfg->output)) {
		*out_is_dir = 1;
		return 0;
	}
	if (cfg->svc == SVC_INSTALL) {
		warn("-svc install: '%s' is not a folder (the service writes its dumps and its log there)",
		     u8s(cfg->output));
		return PD_EXIT_USAGE;
	}
	if (wcs_endswith_i(cfg->output, L"\\") || wcs_endswith_i(cfg->output, L"/")) {
		warn("dump folder '%s' does not exist", u8s(cfg->output));
		return PD_EXIT_USAGE;
	}
	dir = path_dirname(cfg->output);
	ok = dir && w32_is_dir(dir);
	free(dir);
	if (!ok) {
		warn("the folder of dump file '%s' does not exist", u8s(cfg->output));
		return PD_EXIT_USAGE;
	}
	if ((cfg->all || cfg->children) && !wcsstr(cfg->output, L"PID")) {
		warn("-%s: the dump file name '%s' must hold PID (several processes write dumps), or name a folder",
		     cfg->all ? "all" : "pt", u8s(cfg->output));
		return PD_EXIT_USAGE;
	}
	return 0;
}

/* The target: launched (-x, into its dump folder), waited for (-w), or
 * resolved and opened.  0 or PD_EXIT_*. */
static int
main_target(struct pd_config *cfg, struct pd_target *t, int *out_is_dir, int *launched)
{
	int rc;
	*launched = 0;
	if (!cfg->launch) {
		rc = cfg->wait ? main_wait(cfg, t) : tgt_resolve(t, cfg->target, 0);
		return rc ? rc : tgt_open(t, cfg->kill_after);
	}
	cfg->output = cfg->launch_folder;
	*out_is_dir = 1;
	rc = dbg_launch(cfg, t);
	*launched = !rc;
	return rc;
}

/* One opened target: its monitors, the configuration table (one target
 * only), the run of its triggers, -wer, -k.  On the main thread for one
 * target, on a thread of its own for each of several.  Its exit code; the
 * caller closes t. */
static int
main_instance(const struct pd_config *cfg, struct pd_target *t, int out_is_dir, MINIDUMP_CALLBACK_ROUTINE cb,
              int launched)
{
	struct trig_mon mon;
	struct pd_run run;
	int rc;

	ev_target_found(t, launched);
	if (t->wow64 && sizeof(void *) == 8)
		vlog("process %lu is 32-bit (WOW64): writing its %s view", t->pid, cfg->native_view ? "native 64-bit" : "x86");
	if (cfg->monitor && (rc = trig_mon_init(&mon, cfg, t))) {
		trig_mon_free(&mon);
		if (launched)
			TerminateProcess(t->h, 1);
		return rc;
	}
	if (g.tagged)
		out("%s Monitoring %s (%lu).\n", stamp(), u8s(t->name), t->pid);
	else
		main_print_config(cfg, t, out_is_dir);
	run_begin(&run, cfg, t, out_is_dir, cb);
	if (cfg->launch || cfg->debug)
		dbg_run(&run, launched, cfg->monitor ? &mon : NULL);
	else if (cfg->monitor)
		trig_run_monitors(&mon, &run);
	else
		trig_run_timed(&run);
	rc = run_end(&run);
	if (cfg->wer && run.fired)
		aed_wer(cfg, t);
	if (cfg->monitor)
		trig_mon_free(&mon);
	if (cfg->kill_after && tgt_alive(t))
		tgt_kill(t);
	return rc;
}

/* ---- Several targets (doc/DESIGN.md "Several targets (-all, -pt): the
 * watcher").  Each process, known by PID and creation time, gets a thread
 * running main_instance: a debugger thread receives the events only of the
 * processes it attached itself.  The main thread lists the processes four
 * times a second and gathers the exit codes. */

struct main_inst {
	const struct main_fleet *f; /* its cfg, out_is_dir and cb */
	struct pd_target t;
	int rc;                 /* its exit code, once its thread ended */
};

struct main_known {
	DWORD pid;
	u64 ctime;              /* with the PID, names the process */
	HANDLE thread;          /* its instance's thread, NULL once reaped */
	struct main_inst *inst;
	int seen;               /* in the latest process list */
};

struct main_fleet {
	const struct pd_config *cfg;
	int out_is_dir;
	MINIDUMP_CALLBACK_ROUTINE cb;
	struct main_known *k;
	int nk, capk;
	int running;            /* instance threads not yet reaped */
	int started, reached;   /* instances started; those that reached their count */
	int rc;                 /* the worst exit code so far (main_fleet_worse) */
};

static DWORD WINAPI
main_inst_thread(void *arg)
{
	struct main_inst *in = arg;
	int rc;
	out_tag_target(in->t.name, in->t.pid);
	rc = tgt_open_listed(&in->t, in->f->cfg->kill_after);
	if (rc < 0) {
		out("%s The process has exited.\n", stamp());
		in->rc = PD_EXIT_NOTDONE;
		ev_target_failed(&in->t, "exited", in->rc);
	} else if (rc) {
		in->rc = rc;
		ev_target_failed(&in->t, "cannot_open", rc);
	} else
		in->rc = main_instance(in->f->cfg, &in->t, in->f->out_is_dir, in->f->cb, 0);
	tgt_close(&in->t);
	w32_debugger_release(); /* this thread's debug object, if it attached */
	return 0;
}

/* Which of two exit codes of instances the fleet's is: a usage error, then
 * a dump that failed, a target problem, a count not reached, all done. */
static int
main_fleet_worse(int a, int b)
{
	static const int rank[5] = { 0, 1, 4, 2, 3 }; /* by exit code 0..4 */
	if (a < 0 || a > 4)
		return b;
	if (b < 0 || b > 4)
		return a;
	return rank[b] > rank[a] ? b : a;
}

/* Starts the thread that watches process t (found in a list).  0 or -1. */
static int
main_fleet_start(struct main_fleet *f, const struct pd_target *t)
{
	struct main_inst *in;
	struct main_known *k;
	HANDLE th;
	if (vec_grow(&f->k, &f->capk, f->nk, sizeof *f->k, 16) < 0 || !(in = xcalloc(1, sizeof *in)))
		return -1;
	in->f = f;
	in->t = *t;
	if (!(th = CreateThread(NULL, 0, main_inst_thread, in, 0, NULL))) {
		warn("cannot start the thread that monitors process %lu:", t->pid);
		free(in);
		f->rc = main_fleet_worse(f->rc, PD_EXIT_TARGET);
		return -1;
	}
	k = &f->k[f->nk++];
	k->pid = t->pid;
	k->ctime = t->create_time;
	k->thread = th;
	k->inst = in;
	k->seen = 1;
	f->running++;
	f->started++;
	return 0;
}

/* Gathers the exit codes of the instances that ended (all of them, waiting
 * for each, with wait). */
static void
main_fleet_reap(struct main_fleet *f, int wait)
{
	int i;
	for (i = 0; i < f->nk; i++) {
		struct main_known *k = &f->k[i];
		if (!k->thread || WaitForSingleObject(k->thread, wait ? INFINITE : 0) != WAIT_OBJECT_0)
			continue;
		CloseHandle(k->thread);
		k->thread = NULL;
		f->running--;
		f->reached += k->inst->rc == PD_EXIT_OK;
		f->rc = main_fleet_worse(f->rc, k->inst->rc);
		if (k->inst->rc == PD_EXIT_USAGE) { /* (a monitor that cannot be measured): every instance ends */
			InterlockedExchange(&g.cancel, 1);
			SetEvent(g.cancel_event);
		}
		free(k->inst);
		k->inst = NULL;
	}
}

static struct main_known *
main_fleet_find(struct main_fleet *f, DWORD pid)
{
	int i;
	for (i = 0; i < f->nk; i++)
		if (f->k[i].pid == pid && f->k[i].seen)
			return &f->k[i];
	return NULL;
}

/* Does listed process p join the watched set: a process of the name
 * (names: -all at the start, later with -w), or (-pt) a child, created
 * after it, of a watched process still running (so a parent whose PID was
 * reused adopts nobody)? */
static int
main_fleet_wanted(struct main_fleet *f, struct pd_sys_process *p, int names)
{
	wchar_t img[MAX_PATH];
	struct main_known *parent;
	if (names && tgt_image(p, img) == 0 && tgt_name_fits(img, f->cfg->target))
		return 1;
	if (!f->cfg->children)
		return 0;
	parent = main_fleet_find(f, (DWORD)(ULONG_PTR)p->InheritedFromUniqueProcessId);
	return parent && (u64)p->CreateTime.QuadPart >= parent->ctime;
}

/* A new process list: the known processes still in it are marked seen;
 * those gone whose thread was reaped are forgotten. */
static void
main_fleet_mark(struct main_fleet *f, struct pd_sys_process *list)
{
	struct pd_sys_process *p;
	int i, o;
	for (i = 0; i < f->nk; i++) {
		p = w32_process_find(list, f->k[i].pid);
		f->k[i].seen = p && (u64)p->CreateTime.QuadPart == f->k[i].ctime;
	}
	for (i = o = 0; i < f->nk; i++)
		if (f->k[i].seen || f->k[i].thread)
			f->k[o++] = f->k[i];
	f->nk = o;
}

/* Is p, of a list main_fleet_mark has seen, a process to start watching:
 * not known by its PID and creation time (a reused PID is a new process),
 * not procdump, and wanted? */
static int
main_fleet_new(struct main_fleet *f, struct pd_sys_process *p, int names)
{
	DWORD pid = (DWORD)(ULONG_PTR)p->UniqueProcessId;
	int i;
	if (!pid || pid == GetCurrentProcessId() || !tgt_listed_started(p))
		return 0; /* (one still being created: taken at the next look) */
	for (i = 0; i < f->nk; i++)
		if (f->k[i].pid == pid && f->k[i].ctime == (u64)p->CreateTime.QuadPart)
			return 0;
	return main_fleet_wanted(f, p, names);
}

#define MAIN_SCAN_MS 250 /* the watcher lists the processes 4 times a second */

/* One look at the process list (the monitors' shared one, read again if
 * older than MAIN_SCAN_MS): each new wanted process gets its instance,
 * started once the list is released.  How many started (one that could
 * not start is looked at again, and a -pt tree's walk must still end). */
static int
main_fleet_scan(struct main_fleet *f, int names)
{
	struct pd_sys_process *list = w32_shared_take(MAIN_SCAN_MS / 1000.0), *p;
	struct pd_target *news = NULL;
	int n = 0, cap = 0, i, started = 0;
	if (list) {
		main_fleet_mark(f, list);
		for (p = list; p; p = w32_process_next(p))
			if (main_fleet_new(f, p, names) && vec_grow(&news, &cap, n, sizeof *news, 8) == 0) {
				memset(&news[n], 0, sizeof news[n]);
				tgt_fill(&news[n++], p);
			}
	}
	w32_shared_release();
	for (i = 0; i < n; i++)
		started += main_fleet_start(f, &news[i]) == 0;
	free(news);
	return started;
}

/* Looks again while a look found new processes and -pt is given: a child
 * is adopted only once its parent is known, so each look takes one more
 * generation of the tree (all of it at the first, not one a look apart). */
static void
main_fleet_scan_tree(struct main_fleet *f, int names)
{
	while (main_fleet_scan(f, names) > 0 && f->cfg->children)
		;
}

/* The first targets: every match of the name (-all), or the one target
 * (-pt), waited for with -w.  0 or an exit code. */
static int
main_fleet_first(struct main_fleet *f)
{
	const struct pd_config *cfg = f->cfg;
	struct pd_target t;
	int rc;
	if (!cfg->all) {
		if ((rc = cfg->wait ? main_wait(cfg, &t) : tgt_resolve(&t, cfg->target, 0)))
			return rc;
		if (main_fleet_start(f, &t) < 0)
			return PD_EXIT_TARGET;
		if (cfg->children) /* its children now, before a quick dump of it ends the run */
			main_fleet_scan_tree(f, 0);
		return 0;
	}
	main_fleet_scan_tree(f, 1);
	if (f->started)
		return 0;
	if (!cfg->wait) {
		warn("no process named '%s'", u8s(cfg->target));
		return PD_EXIT_TARGET;
	}
	out("Waiting for processes named %s...\n", u8s(cfg->target));
	return 0;
}

/* -all / -pt: the watcher's loop, until every instance ended (but for -all
 * -w), Ctrl+C, -cancel of procdump's own PID or -duration.  0 if every
 * instance reached its count, else the worst of theirs (main_fleet_worse);
 * 1 if a wait ended with no process monitored; main_fleet_first's code if
 * the first look failed (3: no process of the name, without -w). */
static int
main_fleet(const struct pd_config *cfg, int out_is_dir, MINIDUMP_CALLBACK_ROUTINE cb)
{
	struct main_fleet f;
	HANDLE w[2];
	int rc;

	memset(&f, 0, sizeof f);
	f.cfg = cfg;
	f.out_is_dir = out_is_dir;
	f.cb = cb;
	g.tagged = 1;
	main_print_config(cfg, NULL, out_is_dir);
	out("Press Ctrl-C (or run procdump -cancel %lu) to end monitoring without terminating the processes.\n\n",
	    GetCurrentProcessId());
	w[0] = g.cancel_event;
	w[1] = run_cancel_event(GetCurrentProcessId()); /* procdump -cancel <this PID>: all of them */
	if (!(rc = main_fleet_first(&f))) {
		while (WaitForMultipleObjects(w[1] ? 2 : 1, w, FALSE, MAIN_SCAN_MS) == WAIT_TIMEOUT) {
			main_fleet_reap(&f, 0);
			if (cfg->children || (cfg->all && cfg->wait))
				main_fleet_scan_tree(&f, cfg->all && cfg->wait);
			if (!(cfg->all && cfg->wait) && !f.running)
				break; /* (-pt -w waited for its one target) */
		}
		if (w[1] && WaitForSingleObject(w[1], 0) == WAIT_OBJECT_0) {
			InterlockedExchange(&g.cancel, 1);
			SetEvent(g.cancel_event);
		}
		main_fleet_reap(&f, 1);
		rc = f.started ? f.rc : PD_EXIT_NOTDONE;
		if (!f.started)
			out("%s %s\n", stamp(), g.expired ? run_expired : "Cancelled.");
		out("%s %d process%s monitored, %d reached the dump count.\n", stamp(), f.started,
		    f.started == 1 ? "" : "es", f.reached);
	}
	main_fleet_reap(&f, 1);
	if (w[1])
		CloseHandle(w[1]);
	free(f.k);
	return rc;
}

/* -duration: a thread that, at the deadline, wakes every wait as a cancel
 * does (g.expired: a dump being written still ends). */
struct main_timer {
	HANDLE thread, stop;
	DWORD ms;
};

static DWORD WINAPI
main_timer_thread(void *arg)
{
	struct main_timer *tm = arg;
	if (WaitForSingleObject(tm->stop, tm->ms) == WAIT_TIMEOUT) {
		InterlockedExchange(&g.expired, 1);
		SetEvent(g.cancel_event);
	}
	return 0;
}

static void
main_timer_start(struct main_timer *tm, const struct pd_config *cfg)
{
	memset(tm, 0, sizeof *tm);
	if (!GIVEN(cfg, duration))
		return;
	tm->ms = (DWORD)(cfg->duration * 1000);
	if (!(tm->stop = CreateEventW(NULL, TRUE, FALSE, NULL)) ||
	    !(tm->thread = CreateThread(NULL, 0, main_timer_thread, tm, 0, NULL)))
		warn("-duration: cannot start its timer:");
}

static void
main_timer_stop(struct main_timer *tm)
{
	if (tm->thread) {
		SetEvent(tm->stop);
		WaitForSingleObject(tm->thread, INFINITE);
		CloseHandle(tm->thread);
	}
	if (tm->stop)
		CloseHandle(tm->stop);
}

/* What main_check found out and loaded for the run. */
struct main_prep {
	int out_is_dir;                 /* the dump output names a folder */
	HMODULE md_dll;                 /* -md, loaded (main_reset frees it) */
	MINIDUMP_CALLBACK_ROUTINE cb;   /* its MiniDumpCallbackRoutine */
	struct aed_jit jit;             /* -j's values */
};

/* What the command line alone can show to be wrong (the dump folder or
 * file, the -md DLL, a counter that cannot be read, what -i's -j will
 * need, -j's values), checked before the banner and the -json file, so
 * that a usage error (exit 2) comes alone and leaves nothing.  0 or
 * PD_EXIT_USAGE after one line. */
static int
main_check(struct pd_config *cfg, struct main_prep *p)
{
	int rc;
	memset(p, 0, sizeof *p);
	if (GIVEN(cfg, cancel) || GIVEN(cfg, freezeguard) || GIVEN(cfg, exitguard) || cfg->uninstall)
		return 0;
	if (cfg->install)
		return aed_check_install(cfg);
	if (cfg->postmortem)
		rc = aed_check_jit(cfg, &p->jit);
	else if (!(rc = main_check_output(cfg, &p->out_is_dir)) && cfg->monitor)
		rc = trig_mon_check(cfg);
	if (rc)
		return rc;
	if (cfg->callback_dll && !(p->cb = w32_load_callback(cfg->callback_dll, &p->md_dll))) {
		if (cfg->postmortem)
			SetEvent(p->jit.event); /* the crashed process goes on to its end */
		return PD_EXIT_USAGE;
	}
	return 0;
}

/* Everything after the command line was read and checked: the target(s),
 * the triggers, -k.  Returns the exit code. */
static int
main_run(struct pd_config *cfg, const struct main_prep *p)
{
	MINIDUMP_CALLBACK_ROUTINE cb = p->cb;
	struct main_timer tm;
	struct pd_target t;
	int rc, out_is_dir = p->out_is_dir, launched;

	main_banner();
	w32_enable_privilege(L"SeDebugPrivilege");
	/* before a target is opened or launched: nothing to undo on failure */
	if (GIVEN(cfg, custom_mask) && !cfg->dbghelp)
		dump_check_mask(cfg->custom_mask);
	main_timer_start(&tm, cfg); /* (-w waits until the deadline too) */
	if (cfg->all || cfg->children)
		rc = main_fleet(cfg, out_is_dir, cb);
	else {
		memset(&t, 0, sizeof t);
		if (!(rc = main_target(cfg, &t, &out_is_dir, &launched)))
			rc = main_instance(cfg, &t, out_is_dir, cb, launched);
		tgt_close(&t);
	}
	main_timer_stop(&tm);
	return rc;
}

/* -i, -u, -j: the banner, then the Install section (-j with the -md
 * callback loaded as for a capture). */
static int
main_install(struct pd_config *cfg, int argc, wchar_t **argv, const struct main_prep *p)
{
	main_banner();
	if (cfg->install)
		return aed_install(cfg, argc, argv);
	if (cfg->uninstall)
		return aed_uninstall();
	w32_enable_privilege(L"SeDebugPrivilege");
	return aed_postmortem(cfg, &p->jit, p->cb);
}

/* -svc run NAME: the service the manager started.  The monitor runs again
 * each time its run ends, waiting for the process by name (-w), until the
 * service is stopped; a stop or shutdown is Ctrl+C (a dump being written
 * is cancelled, every target resumed and detached).  Console text goes to
 * NAME.log in the dump folder, moved to NAME.log.1 past MAIN_SVC_LOG_MAX. */
#define MAIN_SVC_LOG_MAX (8u << 20)
#define MAIN_SVC_RETRY_MS 2000 /* after a run that could not open its target (it may be the one that just crashed, ending) or write */

static struct {
	SERVICE_STATUS_HANDLE h;
	SERVICE_STATUS st;
	struct pd_config *cfg;
	const struct main_prep *p;
	wchar_t name[128];
	wchar_t log[32768];
} msvc;

static void
main_svc_report(DWORD state, DWORD hint)
{
	msvc.st.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	msvc.st.dwCurrentState = state;
	msvc.st.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
	msvc.st.dwWaitHint = hint;
	msvc.st.dwCheckPoint++;
	SetServiceStatus(msvc.h, &msvc.st);
}

static DWORD WINAPI
main_svc_control(DWORD ctl, DWORD type, void *data, void *ctx)
{
	(void)type, (void)data, (void)ctx;
	if (ctl == SERVICE_CONTROL_STOP || ctl == SERVICE_CONTROL_SHUTDOWN) {
		main_svc_report(SERVICE_STOP_PENDING, SVC_STOP_WAIT_MS);
		InterlockedExchange(&g.cancel, 1); /* as Ctrl+C (run_ctrl_handler) */
		SetEvent(g.cancel_event);
		return NO_ERROR;
	}
	return ctl == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

/* Standard output and error to the log (appended), moved aside first if
 * it has grown past MAIN_SVC_LOG_MAX.  A service has no console. */
static void
main_svc_log(void)
{
	wchar_t old[32768 + 4];
	u64 size = 0;
	HANDLE f = CreateFileW(msvc.log, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
	                       OPEN_EXISTING, 0, NULL);
	if (f != INVALID_HANDLE_VALUE) {
		w32_file_size(f, &size);
		CloseHandle(f);
	}
	if (out_log)
		CloseHandle(out_log);
	out_log = NULL;
	if (size > MAIN_SVC_LOG_MAX) {
		swprintf(old, 32768 + 4, L"%ls.1", msvc.log);
		MoveFileExW(msvc.log, old, MOVEFILE_REPLACE_EXISTING);
	}
	out_log = w32_open_append(msvc.log);
	if (out_log == INVALID_HANDLE_VALUE)
		out_log = NULL;
}

static void WINAPI
main_svc_main(DWORD argc, wchar_t **argv)
{
	struct pd_config *cfg = msvc.cfg;
	int rc;
	(void)argc, (void)argv;
	if (!(msvc.h = RegisterServiceCtrlHandlerExW(msvc.name, main_svc_control, NULL)))
		return;
	svc_log_path(msvc.log, 32768, cfg->output, msvc.name);
	main_svc_log();
	main_svc_report(SERVICE_RUNNING, 0);
	out("%s Service %s started (PID %lu): monitoring until it is stopped.\n", stamp(), u8s(msvc.name),
	    GetCurrentProcessId());
	cfg->wait = 1; /* a target that ends is waited for again */
	while (!g.cancel) {
		rc = main_run(cfg, msvc.p);
		if (g.cancel)
			break;
		main_svc_log();
		out("%s Monitoring again (the run ended with exit code %d).\n", stamp(), rc);
		if (rc == PD_EXIT_USAGE)
			break; /* (a command line that cannot run: the manager's failure actions take it) */
		if (rc == PD_EXIT_TARGET || rc == PD_EXIT_WRITE)
			WaitForSingleObject(g.cancel_event, MAIN_SVC_RETRY_MS);
	}
	out("%s Service %s stopped.\n", stamp(), u8s(msvc.name));
	msvc.st.dwWin32ExitCode = g.cancel ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
	msvc.st.dwServiceSpecificExitCode = PD_EXIT_USAGE;
	main_svc_report(SERVICE_STOPPED, 0);
}

/* -svc run NAME: hands the thread to the manager until the service stops.
 * Run from a console instead: one line, exit 2. */
static int
main_svc_run(struct pd_config *cfg, const struct main_prep *p)
{
	SERVICE_TABLE_ENTRYW table[2] = { { msvc.name, main_svc_main }, { NULL, NULL } };
	msvc.cfg = cfg;
	msvc.p = p;
	svc_full_name(msvc.name, 128, cfg->svc_name);
	if (!StartServiceCtrlDispatcherW(table)) {
		warn("-svc run is the command line of the service %s, which the service manager starts "
		     "(sc start %s):", u8s(msvc.name), u8s(msvc.name));
		return PD_EXIT_USAGE;
	}
	return PD_EXIT_OK;
}

/* The finish line and the exit code: a lost event line (the -json file
 * lacks it) makes the code 4, as a failed dump would in the order 2, 4,
 * 3, 1; so does a lost finish line itself. */
static int
main_finish(int rc)
{
	act_close(); /* (their action_end lines before finish) */
	if (ev_lost())
		rc = main_fleet_worse(rc, PD_EXIT_WRITE);
	ev_finish(rc);
	if (ev_lost())
		rc = main_fleet_worse(rc, PD_EXIT_WRITE);
	return rc;
}

/* Undoes pd_main's process-wide changes (the Ctrl+C handler, the cancel
 * event, loaded DLLs, the -json file, the global state), so that a program
 * linked with procdump.c can call pd_main again (library mode).
 * SeDebugPrivilege, once enabled, stays enabled. */
static void
main_reset(HMODULE md_dll)
{
	if (g.ctrl_handler)
		SetConsoleCtrlHandler(run_ctrl_handler, FALSE);
	if (g.cancel_event)
		CloseHandle(g.cancel_event);
	if (md_dll)
		FreeLibrary(md_dll);
	w32_unload();
	ev_close();
	memset(&g, 0, sizeof g);
}

PD_API int
pd_write_dump(unsigned long pid, const wchar_t *path, int type, const wchar_t *comment, int overwrite)
{
	struct pd_target t;
	struct pd_dump_req rq;
	struct pd_dump_result res;
	wchar_t spec[16];
	int rc;
	if (w32_init() < 0)
		rc = PD_EXIT_TARGET;
	else {
		swprintf(spec, 16, L"%lu", pid);
		if (!(rc = tgt_resolve(&t, spec, 0)) && !(rc = tgt_open(&t, 0))) {
			memset(&rq, 0, sizeof rq);
			rq.type = type;
			rq.path = path;
			rq.comment = comment;
			rq.overwrite = overwrite;
			rq.minfree_mb = PD_UNSET; /* the default floor */
			if ((rc = dump_write(&t, &rq, &res)) == PD_EXIT_TARGET)
				warn("process %lu has exited", t.pid);
		}
		tgt_close(&t);
	}
	w32_unload(); /* nothing left loaded between calls */
	return rc;
}

PD_API int
pd_main(int argc, wchar_t **argv)
{
	struct pd_config cfg;
	struct main_prep prep;
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
	if (argc < 2) {
		main_banner();
		args_usage(0);
		warn("no process given: name a PID, a process name or a service name (the usage is on standard output)");
		return PD_EXIT_USAGE;
	}
	rc = args_parse(&cfg, argc, argv);
	if (!rc && cfg.help) {
		main_banner();
		args_usage(cfg.on_exception);
	} else if (!rc && !(rc = args_validate(&cfg))) {
		/* the -json file only once the command line is accepted: a usage
		 * error leaves none (main_check) */
		if (!(rc = main_check(&cfg, &prep)) && !(rc = ev_open(&cfg, argc, argv))) {
			g.verbose = cfg.verbose;
			g.cancel_event = CreateEventW(NULL, TRUE, FALSE, NULL);
			g.ctrl_handler = SetConsoleCtrlHandler(run_ctrl_handler, TRUE);
			act_open(&cfg);
			if (!g.cancel_event) /* (every wait takes it: without it each would fail at once) */
				warn("cannot create the cancel event:");
			if (!g.cancel_event || w32_init() < 0)
				rc = PD_EXIT_TARGET;
			else if (GIVEN(&cfg, cancel))
				rc = run_cancel_pid((DWORD)cfg.cancel);
			else if (GIVEN(&cfg, freezeguard))
				rc = live_guard_serve((DWORD)cfg.freezeguard);
			else if (GIVEN(&cfg, exitguard))
				rc = dbg_exit_guard((DWORD)cfg.exitguard);
			else if (cfg.install || cfg.uninstall || cfg.postmortem)
				rc = main_install(&cfg, argc, argv, &prep);
			else if (cfg.svc == SVC_RUN)
				rc = main_svc_run(&cfg, &prep);
			else if (cfg.svc) {
				main_banner();
				rc = cfg.svc == SVC_INSTALL ? svc_install(&cfg, argc, argv) :
				     cfg.svc == SVC_UNINSTALL ? svc_uninstall(&cfg) : svc_list();
			}
			else
				rc = main_run(&cfg, &prep);
			rc = main_finish(rc);
		}
		main_reset(prep.md_dll);
	}
	args_free(&cfg);
	return rc;
}

#ifndef PROCDUMP_NO_MAIN
/* Test hook PROCDUMP_TEST_EXIT_FILE (test/README.md "Test hooks"). */
static void
main_test_exit_file(int rc)
{
	wchar_t path[MAX_PATH];
	HANDLE f;
	char line[16];
	if (!GetEnvironmentVariableW(L"PROCDUMP_TEST_EXIT_FILE", path, MAX_PATH) || !path[0])
		return;
	f = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	if (f == INVALID_HANDLE_VALUE)
		return;
	w32_write_all(f, line, (DWORD)snprintf(line, sizeof line, "%d\n", rc));
	CloseHandle(f);
}

int
wmain(int argc, wchar_t **argv)
{
	int rc = pd_main(argc, argv);
	main_test_exit_file(rc);
	return rc;
}
#endif
