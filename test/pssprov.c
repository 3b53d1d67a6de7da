/* pssprov.c - a test provider of the Pss* functions (process snapshots), so
 * that procdump's -r PSS path (pss_* in procdump.c) runs under Wine, which
 * has none.  procdump loads it only under its test hook
 * PROCDUMP_TEST_PSS_DLL=<path of this DLL> and takes the six functions it
 * uses from here instead of kernel32.
 *
 * It implements Microsoft's documented contract (processsnapshot.h, Windows
 * 8.1) over a live process, written from the documentation alone (the
 * structures below are declared here, not shared with procdump.c, so that a
 * layout procdump got wrong shows as wrong data):
 *   PssCaptureSnapshot  suspends every thread of the target (thread by
 *                       thread, until a listing finds no new one), copies
 *                       what CaptureFlags ask for (threads with their ids,
 *                       TEBs, times, suspend counts and, with
 *                       PSS_CAPTURE_THREAD_CONTEXT, their CONTEXT with the
 *                       ThreadContextFlags given; the VA space regions;
 *                       the handles with their type, name, counts and
 *                       thread/process details as the HANDLE_* flags ask;
 *                       the process information), then resumes them.
 *   PssQuerySnapshot    PSS_QUERY_PROCESS_INFORMATION and
 *                       PSS_QUERY_VA_CLONE_INFORMATION; a buffer of another
 *                       size is ERROR_BAD_LENGTH; a class not captured
 *                       ERROR_NOT_FOUND.
 *   PssWalkSnapshot     PSS_WALK_VA_SPACE, _HANDLES, _THREADS, one entry a
 *                       call, ERROR_NO_MORE_ITEMS at the end; the entry's
 *                       pointers (context, names) point at copies the
 *                       walk marker owns, which PssWalkMarkerFree overwrites
 *                       and frees ("valid for the lifetime of the walk
 *                       marker"): a caller that keeps one reads 0xDD bytes.
 *   PssWalkMarkerCreate / PssWalkMarkerFree (a custom allocator is refused).
 *   PssFreeSnapshot     frees the snapshot and closes the VA clone handle;
 *                       only GetCurrentProcess() (a local snapshot).
 *
 * The VA clone is the part it does not model.  On Windows it is a
 * copy-on-write fork of the address space in a process of its own; here
 * it is a second handle on the target itself, with PROCESS_VM_READ and
 * PROCESS_QUERY_INFORMATION only.  So memory read through it is the
 * target's memory at the time of the read, not at the capture (the tests
 * check bytes the target never changes), what ends the target after the
 * capture (-r -k, a second-chance exception passed on) leaves nothing to
 * read, it has the target's PID, and
 * having no PROCESS_TERMINATE it cannot be ended (procdump ends the clone
 * before freeing the snapshot: here that call fails and the target runs
 * on, as a real clone's end would leave it).  Not modelled either: the
 * auxiliary pages, handle trace and performance counters classes,
 * PssDuplicateSnapshot, the marker position functions, a remote free,
 * PSS_CREATE_USE_VM_ALLOCATIONS and the breakaway flags (accepted, no
 * effect), extended (XState) contexts.
 *
 * Faults on demand, for the fallback tests: PSSPROV_MODE is a comma-separated
 * list of
 *   capture     PssCaptureSnapshot fails (ERROR_ACCESS_DENIED)
 *   query       the query of the VA clone fails (ERROR_NOT_FOUND)
 *   marker      PssWalkMarkerCreate fails (ERROR_NOT_ENOUGH_MEMORY)
 *   nothreads   the threads are not captured (their walk: ERROR_NOT_FOUND)
 *   allgone     every thread is captured as terminated
 *   firstgone   the first thread listed is captured as terminated
 *   walkfail    the walk of the threads fails after the first one
 *               (ERROR_NOT_ENOUGH_MEMORY)
 *   nocontext   the threads are captured without their contexts
 *   noteb       the threads are captured with a TEB address of 0
 *   novaspace   the VA space is not captured
 *   nohandles   the handles are not captured
 *   noprocinfo  the process information query fails
 *   free        PssFreeSnapshot fails (ERROR_INVALID_HANDLE; it frees all
 *               the same)
 * and PSSPROV_LOG=<file> appends a line for each capture, query, end of a
 * walk and free (the tests read it: what procdump asked for, that every
 * walk ran to its end, that it freed every snapshot and walk marker). */
#include <windows.h>
#include <tlhelp32.h>
#include <psapi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- The contract (processsnapshot.h, as documented) ---- */

#define PSS_CAPTURE_VA_CLONE 0x00000001
#define PSS_CAPTURE_HANDLES 0x00000004
#define PSS_CAPTURE_HANDLE_NAME_INFORMATION 0x00000008
#define PSS_CAPTURE_HANDLE_BASIC_INFORMATION 0x00000010
#define PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION 0x00000020
#define PSS_CAPTURE_THREADS 0x00000080
#define PSS_CAPTURE_THREAD_CONTEXT 0x00000100
#define PSS_CAPTURE_VA_SPACE 0x00000800
#define PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION 0x00001000

enum { PSS_QUERY_PROCESS_INFORMATION = 0, PSS_QUERY_VA_CLONE_INFORMATION = 1 };
enum { PSS_WALK_AUXILIARY_PAGES = 0, PSS_WALK_VA_SPACE = 1, PSS_WALK_HANDLES = 2, PSS_WALK_THREADS = 3 };
enum { PSS_HANDLE_HAVE_TYPE = 1, PSS_HANDLE_HAVE_NAME = 2, PSS_HANDLE_HAVE_BASIC_INFORMATION = 4,
       PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION = 8 };
enum { PSS_OBJECT_TYPE_UNKNOWN, PSS_OBJECT_TYPE_PROCESS, PSS_OBJECT_TYPE_THREAD, PSS_OBJECT_TYPE_MUTANT,
       PSS_OBJECT_TYPE_EVENT, PSS_OBJECT_TYPE_SECTION, PSS_OBJECT_TYPE_SEMAPHORE };
#define PSS_THREAD_FLAGS_TERMINATED 1
#define PSS_PROCESS_FLAGS_WOW64 2

typedef struct {
	DWORD ExitStatus;
	void *PebBaseAddress;
	ULONG_PTR AffinityMask;
	LONG BasePriority;
	DWORD ProcessId;
	DWORD ParentProcessId;
	DWORD Flags;
	FILETIME CreateTime;
	FILETIME ExitTime;
	FILETIME KernelTime;
	FILETIME UserTime;
	DWORD PriorityClass;
	ULONG_PTR PeakVirtualSize;
	ULONG_PTR VirtualSize;
	DWORD PageFaultCount;
	ULONG_PTR PeakWorkingSetSize;
	ULONG_PTR WorkingSetSize;
	ULONG_PTR QuotaPeakPagedPoolUsage;
	ULONG_PTR QuotaPagedPoolUsage;
	ULONG_PTR QuotaPeakNonPagedPoolUsage;
	ULONG_PTR QuotaNonPagedPoolUsage;
	ULONG_PTR PagefileUsage;
	ULONG_PTR PeakPagefileUsage;
	ULONG_PTR PrivateUsage;
	DWORD ExecuteFlags;
	wchar_t ImageFileName[MAX_PATH];
} PSS_PROCESS_INFORMATION;

typedef struct {
	HANDLE VaCloneHandle;
} PSS_VA_CLONE_INFORMATION;

typedef struct {
	void *BaseAddress;
	void *AllocationBase;
	DWORD AllocationProtect;
	ULONG_PTR RegionSize;
	DWORD State;
	DWORD Protect;
	DWORD Type;
	DWORD TimeDateStamp;
	DWORD SizeOfImage;
	void *ImageBase;
	DWORD CheckSum;
	WORD MappedFileNameLength;
	wchar_t const *MappedFileName;
} PSS_VA_SPACE_ENTRY;

typedef struct {
	HANDLE Handle;
	DWORD Flags;
	DWORD ObjectType;
	FILETIME CaptureTime;
	DWORD Attributes;
	DWORD GrantedAccess;
	DWORD HandleCount;
	DWORD PointerCount;
	DWORD PagedPoolCharge;
	DWORD NonPagedPoolCharge;
	FILETIME CreationTime;
	WORD TypeNameLength;
	wchar_t const *TypeName;
	WORD ObjectNameLength;
	wchar_t const *ObjectName;
	union {
		struct {
			DWORD ExitStatus;
			void *PebBaseAddress;
			ULONG_PTR AffinityMask;
			LONG BasePriority;
			DWORD ProcessId;
			DWORD ParentProcessId;
			DWORD Flags;
		} Process;
		struct {
			DWORD ExitStatus;
			void *TebBaseAddress;
			DWORD ProcessId;
			DWORD ThreadId;
			ULONG_PTR AffinityMask;
			int Priority;
			int BasePriority;
			void *Win32StartAddress;
		} Thread;
		struct {
			LONG CurrentCount;
			BOOL Abandoned;
			DWORD OwnerProcessId;
			DWORD OwnerThreadId;
		} Mutant;
		struct {
			BOOL ManualReset;
			BOOL Signaled;
		} Event;
		struct {
			void *BaseAddress;
			DWORD AllocationAttributes;
			LARGE_INTEGER MaximumSize;
		} Section;
		struct {
			LONG CurrentCount;
			LONG MaximumCount;
		} Semaphore;
	} TypeSpecificInformation;
} PSS_HANDLE_ENTRY;

typedef struct {
	DWORD ExitStatus;
	void *TebBaseAddress;
	DWORD ProcessId;
	DWORD ThreadId;
	ULONG_PTR AffinityMask;
	int Priority;
	int BasePriority;
	void *LastSyscallFirstArgument;
	WORD LastSyscallNumber;
	FILETIME CreateTime;
	FILETIME ExitTime;
	FILETIME KernelTime;
	FILETIME UserTime;
	void *Win32StartAddress;
	FILETIME CaptureTime;
	DWORD Flags;
	WORD SuspendCount;
	WORD SizeOfContextRecord;
	CONTEXT *ContextRecord;
} PSS_THREAD_ENTRY;

/* ---- ntdll, resolved at load ---- */

typedef LONG (NTAPI *nt_query_fn)(HANDLE, ULONG, void *, ULONG, ULONG *);
static nt_query_fn nt_query_thread, nt_query_process, nt_query_object;
static LONG (NTAPI *nt_query_system)(ULONG, void *, ULONG, ULONG *);

struct basic_thread {          /* THREAD_BASIC_INFORMATION */
	LONG ExitStatus;
	void *TebBaseAddress;
	ULONG_PTR UniqueProcess, UniqueThread;
	ULONG_PTR AffinityMask;
	LONG Priority, BasePriority;
};

struct basic_process {         /* PROCESS_BASIC_INFORMATION */
	LONG ExitStatus;
	void *PebBaseAddress;
	ULONG_PTR AffinityMask;
	LONG BasePriority;
	ULONG_PTR UniqueProcessId, InheritedFromUniqueProcessId;
};

struct handle_row {            /* SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX */
	void *Object;
	ULONG_PTR UniqueProcessId, HandleValue;
	ULONG GrantedAccess;
	USHORT CreatorBackTraceIndex, ObjectTypeIndex;
	ULONG HandleAttributes, Reserved;
};

struct ustr {                  /* UNICODE_STRING */
	USHORT Length, MaximumLength;
	wchar_t *Buffer;
};

/* ---- The snapshot ---- */

#define SNAP_MAGIC 0x50535331u   /* "PSS1" */
#define MARK_MAGIC 0x5053574bu   /* "PSWK" */

struct thread_copy {
	PSS_THREAD_ENTRY e;
	CONTEXT *ctx;              /* ours; the walk hands out a copy */
};

struct region_copy {
	PSS_VA_SPACE_ENTRY e;
	wchar_t *file;             /* MappedFileName, ours */
};

struct handle_copy {
	PSS_HANDLE_ENTRY e;
	wchar_t *type, *name;      /* ours */
};

struct snapshot {
	DWORD magic, flags;
	HANDLE clone;              /* the VA clone stand-in (see the header) */
	PSS_PROCESS_INFORMATION pi;
	int have_pi;
	struct thread_copy *th; int nth;
	struct region_copy *reg; int nreg;
	struct handle_copy *hdl; int nhdl;
};

struct marker {
	DWORD magic;
	const struct snapshot *snap;
	int cls, pos;              /* the walk and its next entry */
	void **owned; int nowned;  /* the copies handed out: freed with the marker */
};

static volatile LONG live_snapshots, live_markers;

/* Is word w in PSSPROV_MODE? */
static int
mode(const char *w)
{
	char v[256], *p;
	size_t n = strlen(w);
	DWORD k = GetEnvironmentVariableA("PSSPROV_MODE", v, sizeof v);
	if (!k || k >= sizeof v)
		return 0;
	for (p = v; (p = strstr(p, w)); p += n)
		if ((p == v || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

/* One line to PSSPROV_LOG, if set. */
static void
say(const char *fmt, ...)
{
	char path[MAX_PATH];
	va_list ap;
	FILE *f;
	DWORD k = GetEnvironmentVariableA("PSSPROV_LOG", path, sizeof path);
	if (!k || k >= sizeof path || !(f = fopen(path, "ab")))
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static void *
grow(void *v, int n, size_t size)
{
	return n % 64 ? v : realloc(v, (size_t)(n + 64) * size);
}

static wchar_t *
wdup_n(const wchar_t *w, size_t chars)
{
	wchar_t *d = malloc((chars + 1) * sizeof *d);
	if (d) {
		memcpy(d, w, chars * sizeof *d);
		d[chars] = 0;
	}
	return d;
}

/* ---- Capture: threads ---- */

struct held { DWORD tid; HANDLE h; DWORD prev; };

static int
held_has(const struct held *t, int n, DWORD tid)
{
	int i;
	for (i = 0; i < n; i++)
		if (t[i].tid == tid)
			return 1;
	return 0;
}

/* Suspends every thread of pid: listed again until a listing finds no new
 * one (a running thread may start another).  The number held, or -1. */
static int
suspend_all(DWORD pid, struct held **out)
{
	struct held *t = NULL;
	int n = 0, added;
	do {
		HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
		THREADENTRY32 te;
		added = 0;
		if (snap == INVALID_HANDLE_VALUE)
			break;
		te.dwSize = sizeof te;
		for (BOOL ok = Thread32First(snap, &te); ok; ok = Thread32Next(snap, &te)) {
			HANDLE h;
			if (te.th32OwnerProcessID != pid || held_has(t, n, te.th32ThreadID))
				continue;
			h = OpenThread(THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION, FALSE,
			               te.th32ThreadID);
			if (!h)
				continue;  /* it ended since the listing */
			if (!(t = grow(t, n, sizeof *t)))
				return -1;
			t[n].tid = te.th32ThreadID;
			t[n].h = h;
			t[n].prev = SuspendThread(h);
			n++;
			added = 1;
		}
		CloseHandle(snap);
	} while (added);
	*out = t;
	return n;
}

static void
resume_all(struct held *t, int n)
{
	int i;
	for (i = 0; i < n; i++) {
		if (t[i].prev != (DWORD)-1)
			ResumeThread(t[i].h);
		CloseHandle(t[i].h);
	}
	free(t);
}

static void
capture_thread(struct snapshot *s, const struct held *h, DWORD pid, DWORD ctx_flags, int first)
{
	struct thread_copy *c;
	struct basic_thread bt;
	void *start = NULL;
	DWORD code = STILL_ACTIVE;
	if (!(s->th = grow(s->th, s->nth, sizeof *s->th)))
		return;
	c = &s->th[s->nth++];
	memset(c, 0, sizeof *c);
	c->e.ProcessId = pid;
	c->e.ThreadId = h->tid;
	c->e.SuspendCount = h->prev == (DWORD)-1 ? 0 : (WORD)h->prev;
	memset(&bt, 0, sizeof bt);
	if (nt_query_thread(h->h, 0 /* ThreadBasicInformation */, &bt, sizeof bt, NULL) >= 0) {
		c->e.TebBaseAddress = bt.TebBaseAddress;
		c->e.AffinityMask = bt.AffinityMask;
		c->e.Priority = bt.Priority;
		c->e.BasePriority = bt.BasePriority;
	}
	if (nt_query_thread(h->h, 9 /* ThreadQuerySetWin32StartAddress */, &start, sizeof start, NULL) >= 0)
		c->e.Win32StartAddress = start;
	GetExitCodeThread(h->h, &code);
	c->e.ExitStatus = code;
	GetThreadTimes(h->h, &c->e.CreateTime, &c->e.ExitTime, &c->e.KernelTime, &c->e.UserTime);
	GetSystemTimeAsFileTime(&c->e.CaptureTime);
	if (code != STILL_ACTIVE || mode("allgone") || (first && mode("firstgone")))
		c->e.Flags |= PSS_THREAD_FLAGS_TERMINATED;
	if (mode("noteb"))
		c->e.TebBaseAddress = NULL;
	if (!(s->flags & PSS_CAPTURE_THREAD_CONTEXT) || mode("nocontext"))
		return;
	if (!(c->ctx = _aligned_malloc(sizeof(CONTEXT), 16)))
		return;
	memset(c->ctx, 0, sizeof(CONTEXT));
	c->ctx->ContextFlags = ctx_flags;
	if (!GetThreadContext(h->h, c->ctx)) {
		_aligned_free(c->ctx);
		c->ctx = NULL;
	}
}

/* ---- Capture: the VA space ---- */

/* For an image region: its headers' stamp, size, base and checksum. */
static void
capture_image(HANDLE process, PSS_VA_SPACE_ENTRY *e)
{
	IMAGE_DOS_HEADER dos;
	IMAGE_NT_HEADERS nt;
	SIZE_T got;
	char *base = e->AllocationBase;
	if (!ReadProcessMemory(process, base, &dos, sizeof dos, &got) || dos.e_magic != IMAGE_DOS_SIGNATURE ||
	    !ReadProcessMemory(process, base + dos.e_lfanew, &nt, sizeof nt, &got) || nt.Signature != IMAGE_NT_SIGNATURE)
		return;
	e->TimeDateStamp = nt.FileHeader.TimeDateStamp;
	if (nt.OptionalHeader.Magic == IMAGE_NT_OPTIONAL_HDR_MAGIC) {
		e->SizeOfImage = nt.OptionalHeader.SizeOfImage;
		e->ImageBase = (void *)(ULONG_PTR)nt.OptionalHeader.ImageBase;
		e->CheckSum = nt.OptionalHeader.CheckSum;
	}
}

static void
capture_regions(struct snapshot *s, HANDLE process)
{
	MEMORY_BASIC_INFORMATION mbi;
	char *addr = NULL;
	while (VirtualQueryEx(process, addr, &mbi, sizeof mbi) == sizeof mbi) {
		struct region_copy *r;
		wchar_t file[MAX_PATH];
		DWORD n;
		if (!(s->reg = grow(s->reg, s->nreg, sizeof *s->reg)))
			return;
		r = &s->reg[s->nreg++];
		memset(r, 0, sizeof *r);
		r->e.BaseAddress = mbi.BaseAddress;
		r->e.AllocationBase = mbi.AllocationBase;
		r->e.AllocationProtect = mbi.AllocationProtect;
		r->e.RegionSize = mbi.RegionSize;
		r->e.State = mbi.State;
		r->e.Protect = mbi.Protect;
		r->e.Type = mbi.Type;
		if ((s->flags & PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION) && (mbi.Type == MEM_IMAGE || mbi.Type == MEM_MAPPED) &&
		    (n = GetMappedFileNameW(process, mbi.BaseAddress, file, MAX_PATH)) && n < MAX_PATH) {
			r->file = wdup_n(file, n);
			if (mbi.Type == MEM_IMAGE)
				capture_image(process, &r->e);
		}
		if ((char *)mbi.BaseAddress + mbi.RegionSize <= addr)
			break;
		addr = (char *)mbi.BaseAddress + mbi.RegionSize;
	}
}

/* ---- Capture: the handles ---- */

static wchar_t *
object_string(HANDLE h, ULONG cls)
{
	union { struct ustr s; unsigned char b[2048]; } u;
	memset(&u, 0, sizeof u);
	if (nt_query_object(h, cls, &u, sizeof u - 2, NULL) < 0 || !u.s.Buffer)
		return NULL;
	return wdup_n(u.s.Buffer, u.s.Length / 2);
}

static DWORD
object_type(const wchar_t *t)
{
	static const wchar_t *const names[] = { L"Process", L"Thread", L"Mutant", L"Event", L"Section", L"Semaphore" };
	DWORD i;
	for (i = 0; t && i < sizeof names / sizeof names[0]; i++)
		if (!wcscmp(t, names[i]))
			return i + 1;
	return PSS_OBJECT_TYPE_UNKNOWN;
}

/* Thread and Process details of a duplicated handle. */
static int
capture_type_specific(PSS_HANDLE_ENTRY *e, HANDLE dup)
{
	if (e->ObjectType == PSS_OBJECT_TYPE_THREAD) {
		struct basic_thread bt;
		DWORD code = 0;
		void *start = NULL;
		if (nt_query_thread(dup, 0, &bt, sizeof bt, NULL) < 0)
			return 0;
		GetExitCodeThread(dup, &code);
		nt_query_thread(dup, 9, &start, sizeof start, NULL);
		e->TypeSpecificInformation.Thread.ExitStatus = code;
		e->TypeSpecificInformation.Thread.TebBaseAddress = bt.TebBaseAddress;
		e->TypeSpecificInformation.Thread.ProcessId = (DWORD)bt.UniqueProcess;
		e->TypeSpecificInformation.Thread.ThreadId = (DWORD)bt.UniqueThread;
		e->TypeSpecificInformation.Thread.AffinityMask = bt.AffinityMask;
		e->TypeSpecificInformation.Thread.Priority = bt.Priority;
		e->TypeSpecificInformation.Thread.BasePriority = bt.BasePriority;
		e->TypeSpecificInformation.Thread.Win32StartAddress = start;
		return 1;
	}
	if (e->ObjectType == PSS_OBJECT_TYPE_PROCESS) {
		struct basic_process bp;
		if (nt_query_process(dup, 0, &bp, sizeof bp, NULL) < 0)
			return 0;
		e->TypeSpecificInformation.Process.ExitStatus = (DWORD)bp.ExitStatus;
		e->TypeSpecificInformation.Process.PebBaseAddress = bp.PebBaseAddress;
		e->TypeSpecificInformation.Process.AffinityMask = bp.AffinityMask;
		e->TypeSpecificInformation.Process.BasePriority = bp.BasePriority;
		e->TypeSpecificInformation.Process.ProcessId = (DWORD)bp.UniqueProcessId;
		e->TypeSpecificInformation.Process.ParentProcessId = (DWORD)bp.InheritedFromUniqueProcessId;
		return 1;
	}
	return 0;
}

/* One handle: what the HANDLE_* flags ask for, read from a duplicate.  A
 * pipe's name is not asked for (the query can block for ever on a
 * synchronous pipe). */
static void
capture_handle(struct snapshot *s, HANDLE process, const struct handle_row *row)
{
	struct handle_copy *c;
	HANDLE dup = NULL;
	ULONG basic[14];
	if (!(s->hdl = grow(s->hdl, s->nhdl, sizeof *s->hdl)))
		return;
	c = &s->hdl[s->nhdl++];
	memset(c, 0, sizeof *c);
	c->e.Handle = (HANDLE)row->HandleValue;
	GetSystemTimeAsFileTime(&c->e.CaptureTime);
	if (s->flags & PSS_CAPTURE_HANDLE_BASIC_INFORMATION) {
		c->e.Flags |= PSS_HANDLE_HAVE_BASIC_INFORMATION;
		c->e.Attributes = row->HandleAttributes;
		c->e.GrantedAccess = row->GrantedAccess;
	}
	if (!DuplicateHandle(process, c->e.Handle, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS))
		return;
	if ((s->flags & PSS_CAPTURE_HANDLE_BASIC_INFORMATION) &&
	    nt_query_object(dup, 0 /* ObjectBasicInformation */, basic, sizeof basic, NULL) >= 0) {
		/* less our duplicate's references: a handle, and under Wine two
		 * pointer references (the handle's and the query's) */
		c->e.HandleCount = basic[2] ? basic[2] - 1 : 0;
		c->e.PointerCount = basic[3] > 1 ? basic[3] - 2 : 0;
	}
	c->type = object_string(dup, 2 /* ObjectTypeInformation */);
	c->e.ObjectType = object_type(c->type);
	if (c->type)
		c->e.Flags |= PSS_HANDLE_HAVE_TYPE;
	if ((s->flags & PSS_CAPTURE_HANDLE_NAME_INFORMATION) &&
	    !(c->type && !wcscmp(c->type, L"File") && GetFileType(dup) == FILE_TYPE_PIPE)) {
		c->name = object_string(dup, 1 /* ObjectNameInformation */);
		c->e.Flags |= PSS_HANDLE_HAVE_NAME; /* (an unnamed object: a name of length 0) */
	}
	if ((s->flags & PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION) && capture_type_specific(&c->e, dup))
		c->e.Flags |= PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION;
	CloseHandle(dup);
}

static void
capture_handles(struct snapshot *s, HANDLE process, DWORD pid)
{
	ULONG size = 1u << 20;
	unsigned char *buf = NULL;
	ULONG_PTR n, i;
	LONG st;
	for (;;) {
		free(buf);
		if (!(buf = malloc(size)))
			return;
		st = nt_query_system(64 /* SystemExtendedHandleInformation */, buf, size, NULL);
		if (st != (LONG)0xC0000004 /* STATUS_INFO_LENGTH_MISMATCH */ || size >= (256u << 20))
			break;
		size *= 2;
	}
	if (st >= 0) {
		const struct handle_row *row = (const struct handle_row *)(buf + 2 * sizeof(ULONG_PTR));
		n = *(ULONG_PTR *)buf;
		for (i = 0; i < n; i++)
			if (row[i].UniqueProcessId == pid)
				capture_handle(s, process, &row[i]);
	}
	free(buf);
}

/* ---- Capture: the process ---- */

static void
capture_process(struct snapshot *s, HANDLE process, DWORD pid)
{
	PSS_PROCESS_INFORMATION *pi = &s->pi;
	struct basic_process bp;
	struct {                   /* VM_COUNTERS_EX (ProcessVmCounters) */
		SIZE_T PeakVirtualSize, VirtualSize;
		ULONG PageFaultCount;
		SIZE_T PeakWorkingSetSize, WorkingSetSize, QuotaPeakPagedPoolUsage, QuotaPagedPoolUsage,
		       QuotaPeakNonPagedPoolUsage, QuotaNonPagedPoolUsage, PagefileUsage, PeakPagefileUsage,
		       PrivateUsage;
	} vm;
	DWORD n = MAX_PATH;
	BOOL wow64 = FALSE;
	pi->ProcessId = pid;
	if (nt_query_process(process, 0, &bp, sizeof bp, NULL) >= 0) {
		pi->ExitStatus = (DWORD)bp.ExitStatus;
		pi->PebBaseAddress = bp.PebBaseAddress;
		pi->AffinityMask = bp.AffinityMask;
		pi->BasePriority = bp.BasePriority;
		pi->ParentProcessId = (DWORD)bp.InheritedFromUniqueProcessId;
	}
	if (IsWow64Process(process, &wow64) && wow64)
		pi->Flags |= PSS_PROCESS_FLAGS_WOW64;
	GetProcessTimes(process, &pi->CreateTime, &pi->ExitTime, &pi->KernelTime, &pi->UserTime);
	pi->PriorityClass = GetPriorityClass(process);
	memset(&vm, 0, sizeof vm);
	if (nt_query_process(process, 3 /* ProcessVmCounters */, &vm, sizeof vm, NULL) >= 0) {
		pi->PeakVirtualSize = vm.PeakVirtualSize;
		pi->VirtualSize = vm.VirtualSize;
		pi->PageFaultCount = vm.PageFaultCount;
		pi->PeakWorkingSetSize = vm.PeakWorkingSetSize;
		pi->WorkingSetSize = vm.WorkingSetSize;
		pi->QuotaPeakPagedPoolUsage = vm.QuotaPeakPagedPoolUsage;
		pi->QuotaPagedPoolUsage = vm.QuotaPagedPoolUsage;
		pi->QuotaPeakNonPagedPoolUsage = vm.QuotaPeakNonPagedPoolUsage;
		pi->QuotaNonPagedPoolUsage = vm.QuotaNonPagedPoolUsage;
		pi->PagefileUsage = vm.PagefileUsage;
		pi->PeakPagefileUsage = vm.PeakPagefileUsage;
		pi->PrivateUsage = vm.PrivateUsage;
	}
	QueryFullProcessImageNameW(process, 0, pi->ImageFileName, &n);
	s->have_pi = !mode("noprocinfo");
}

/* ---- The functions ---- */

static void
snapshot_free(struct snapshot *s)
{
	int i;
	for (i = 0; i < s->nth; i++)
		_aligned_free(s->th[i].ctx);
	for (i = 0; i < s->nreg; i++)
		free(s->reg[i].file);
	for (i = 0; i < s->nhdl; i++) {
		free(s->hdl[i].type);
		free(s->hdl[i].name);
	}
	if (s->clone)
		CloseHandle(s->clone);
	free(s->th);
	free(s->reg);
	free(s->hdl);
	s->magic = 0;
	free(s);
	InterlockedDecrement(&live_snapshots);
}

/* The rights procdump must have given the handle, as the real capture
 * needs them (a VA clone is a process created from the target). */
static int
has_rights(HANDLE process, DWORD flags)
{
	ULONG basic[14];
	DWORD want = PROCESS_QUERY_INFORMATION | PROCESS_VM_READ;
	if (flags & PSS_CAPTURE_VA_CLONE)
		want |= PROCESS_CREATE_PROCESS;
	if (flags & PSS_CAPTURE_HANDLES)
		want |= PROCESS_DUP_HANDLE;
	if (process == GetCurrentProcess() || nt_query_object(process, 0, basic, sizeof basic, NULL) < 0)
		return 1;
	return (basic[1] & want) == want;
}

__declspec(dllexport) DWORD WINAPI
PssCaptureSnapshot(HANDLE process, DWORD flags, DWORD ctx_flags, void **out)
{
	struct snapshot *s;
	struct held *held = NULL;
	DWORD pid = GetProcessId(process), err = pid ? 0 : GetLastError();
	int n, i;
	say("capture pid=%lu flags=0x%08lx context=0x%08lx", pid, flags, ctx_flags);
	if (!out)
		return ERROR_INVALID_PARAMETER;
	if (mode("capture"))
		return ERROR_ACCESS_DENIED;
	if (!pid)
		return err;
	if (!has_rights(process, flags))
		return ERROR_ACCESS_DENIED;
	if (!(s = calloc(1, sizeof *s)))
		return ERROR_NOT_ENOUGH_MEMORY;
	s->magic = SNAP_MAGIC;
	s->flags = flags;
	InterlockedIncrement(&live_snapshots);
	if ((n = suspend_all(pid, &held)) < 0) {
		snapshot_free(s);
		return ERROR_NOT_ENOUGH_MEMORY;
	}
	if ((flags & PSS_CAPTURE_THREADS) && !mode("nothreads"))
		for (i = 0; i < n; i++)
			capture_thread(s, &held[i], pid, ctx_flags, i == 0);
	else
		s->flags &= ~(DWORD)PSS_CAPTURE_THREADS;
	if ((flags & PSS_CAPTURE_VA_SPACE) && !mode("novaspace"))
		capture_regions(s, process);
	else
		s->flags &= ~(DWORD)PSS_CAPTURE_VA_SPACE;
	if ((flags & PSS_CAPTURE_HANDLES) && !mode("nohandles"))
		capture_handles(s, process, pid);
	else
		s->flags &= ~(DWORD)PSS_CAPTURE_HANDLES;
	capture_process(s, process, pid);
	if ((flags & PSS_CAPTURE_VA_CLONE) &&
	    !DuplicateHandle(GetCurrentProcess(), process, GetCurrentProcess(), &s->clone,
	                     PROCESS_VM_READ | PROCESS_QUERY_INFORMATION, FALSE, 0))
		s->clone = NULL;
	resume_all(held, n);
	say("captured %d threads %d regions %d handles clone=%s", s->nth, s->nreg, s->nhdl, s->clone ? "yes" : "no");
	*out = s;
	return ERROR_SUCCESS;
}

static struct snapshot *
snapshot_of(void *h)
{
	struct snapshot *s = h;
	return s && s->magic == SNAP_MAGIC ? s : NULL;
}

__declspec(dllexport) DWORD WINAPI
PssQuerySnapshot(void *snap, int cls, void *buf, DWORD len)
{
	struct snapshot *s = snapshot_of(snap);
	say("query %d length %lu", cls, len);
	if (!s)
		return ERROR_INVALID_HANDLE;
	if (cls == PSS_QUERY_PROCESS_INFORMATION) {
		if (len != sizeof(PSS_PROCESS_INFORMATION))
			return ERROR_BAD_LENGTH;
		if (!s->have_pi)
			return ERROR_NOT_FOUND;
		memcpy(buf, &s->pi, sizeof s->pi);
		return ERROR_SUCCESS;
	}
	if (cls == PSS_QUERY_VA_CLONE_INFORMATION) {
		if (len != sizeof(PSS_VA_CLONE_INFORMATION))
			return ERROR_BAD_LENGTH;
		if (!s->clone || mode("query"))
			return ERROR_NOT_FOUND;
		((PSS_VA_CLONE_INFORMATION *)buf)->VaCloneHandle = s->clone;
		return ERROR_SUCCESS;
	}
	return cls >= 2 && cls <= 7 ? ERROR_NOT_FOUND : ERROR_INVALID_PARAMETER;
}

__declspec(dllexport) DWORD WINAPI
PssWalkMarkerCreate(const void *allocator, void **out)
{
	struct marker *m;
	if (!out)
		return ERROR_INVALID_PARAMETER;
	if (allocator || mode("marker") || !(m = calloc(1, sizeof *m)))
		return ERROR_NOT_ENOUGH_MEMORY;
	m->magic = MARK_MAGIC;
	m->cls = -1;
	InterlockedIncrement(&live_markers);
	*out = m;
	return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
PssWalkMarkerFree(void *marker)
{
	struct marker *m = marker;
	int i;
	if (!m || m->magic != MARK_MAGIC)
		return ERROR_INVALID_HANDLE;
	for (i = 0; i < m->nowned; i++) {
		memset(m->owned[i], 0xDD, _msize(m->owned[i])); /* a pointer kept past here reads this */
		free(m->owned[i]);
	}
	free(m->owned);
	m->magic = 0;
	free(m);
	InterlockedDecrement(&live_markers);
	return ERROR_SUCCESS;
}

/* A copy of n bytes at p that lives as long as the marker; NULL if p is. */
static void *
marker_copy(struct marker *m, const void *p, size_t n)
{
	void *c;
	if (!p || !(m->owned = grow(m->owned, m->nowned, sizeof *m->owned)) || !(c = malloc(n ? n : 1)))
		return NULL;
	memcpy(c, p, n);
	m->owned[m->nowned++] = c;
	return c;
}

/* The walk's contract before an entry: NOT_FOUND if the capture did not
 * take this class, BAD_LENGTH for a buffer not of the entry's size,
 * NO_MORE_ITEMS past the last of n; else 0. */
static DWORD
walk_check(const struct snapshot *s, const struct marker *m, DWORD flag, DWORD len, DWORD size, int n)
{
	if (!(s->flags & flag))
		return ERROR_NOT_FOUND;
	if (len != size)
		return ERROR_BAD_LENGTH;
	return m->pos >= n ? ERROR_NO_MORE_ITEMS : ERROR_SUCCESS;
}

static DWORD
walk_thread(struct snapshot *s, struct marker *m, void *buf, DWORD len)
{
	PSS_THREAD_ENTRY e;
	const struct thread_copy *c;
	DWORD err;
	if ((err = walk_check(s, m, PSS_CAPTURE_THREADS, len, sizeof e, s->nth)))
		return err;
	if (m->pos == 1 && mode("walkfail"))
		return ERROR_NOT_ENOUGH_MEMORY;
	c = &s->th[m->pos++];
	e = c->e;
	if (c->ctx) {
		/* (16-byte aligned as a CONTEXT must be: malloc's 16 on x64) */
		e.ContextRecord = marker_copy(m, c->ctx, sizeof(CONTEXT));
		e.SizeOfContextRecord = e.ContextRecord ? sizeof(CONTEXT) : 0;
	}
	memcpy(buf, &e, sizeof e);
	return ERROR_SUCCESS;
}

static DWORD
walk_region(struct snapshot *s, struct marker *m, void *buf, DWORD len)
{
	PSS_VA_SPACE_ENTRY e;
	const struct region_copy *c;
	DWORD err;
	if ((err = walk_check(s, m, PSS_CAPTURE_VA_SPACE, len, sizeof e, s->nreg)))
		return err;
	c = &s->reg[m->pos++];
	e = c->e;
	if (c->file) {
		size_t n = wcslen(c->file) * sizeof(wchar_t);
		e.MappedFileName = marker_copy(m, c->file, n); /* (no NUL, as documented) */
		e.MappedFileNameLength = e.MappedFileName ? (WORD)n : 0;
	}
	memcpy(buf, &e, sizeof e);
	return ERROR_SUCCESS;
}

static DWORD
walk_handle(struct snapshot *s, struct marker *m, void *buf, DWORD len)
{
	PSS_HANDLE_ENTRY e;
	const struct handle_copy *c;
	DWORD err;
	if ((err = walk_check(s, m, PSS_CAPTURE_HANDLES, len, sizeof e, s->nhdl)))
		return err;
	c = &s->hdl[m->pos++];
	e = c->e;
	if (c->type) {
		e.TypeNameLength = (WORD)(wcslen(c->type) * sizeof(wchar_t));
		e.TypeName = marker_copy(m, c->type, e.TypeNameLength);
	}
	if (c->name) {
		e.ObjectNameLength = (WORD)(wcslen(c->name) * sizeof(wchar_t));
		e.ObjectName = marker_copy(m, c->name, e.ObjectNameLength);
	}
	memcpy(buf, &e, sizeof e);
	return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
PssWalkSnapshot(void *snap, int cls, void *marker, void *buf, DWORD len)
{
	struct snapshot *s = snapshot_of(snap);
	struct marker *m = marker;
	DWORD e;
	if (!s || !m || m->magic != MARK_MAGIC)
		return ERROR_INVALID_HANDLE;
	if (m->snap != s || m->cls != cls) { /* a marker starts a walk where it is first used */
		m->snap = s;
		m->cls = cls;
		m->pos = 0;
	}
	if (!buf)
		return ERROR_INVALID_PARAMETER;
	switch (cls) {
	case PSS_WALK_THREADS: e = walk_thread(s, m, buf, len); break;
	case PSS_WALK_VA_SPACE: e = walk_region(s, m, buf, len); break;
	case PSS_WALK_HANDLES: e = walk_handle(s, m, buf, len); break;
	case PSS_WALK_AUXILIARY_PAGES: e = ERROR_NOT_FOUND; break;
	default: e = ERROR_INVALID_PARAMETER; break;
	}
	if (e != ERROR_SUCCESS)
		say("walk %d ends: %lu after %d", cls, e, m->pos);
	return e;
}

__declspec(dllexport) DWORD WINAPI
PssFreeSnapshot(HANDLE process, void *snap)
{
	struct snapshot *s = snapshot_of(snap);
	if (process != GetCurrentProcess() && GetProcessId(process) != GetCurrentProcessId())
		return ERROR_NOT_SUPPORTED; /* a remote free: only with PSS_CREATE_USE_VM_ALLOCATIONS */
	if (!s)
		return ERROR_INVALID_HANDLE;
	snapshot_free(s);
	say("free: %ld snapshots and %ld walk markers left", live_snapshots, live_markers);
	return mode("free") ? ERROR_INVALID_HANDLE : ERROR_SUCCESS;
}

BOOL WINAPI
DllMain(HINSTANCE h, DWORD reason, void *reserved)
{
	HMODULE nt = GetModuleHandleA("ntdll.dll");
	(void)h, (void)reserved;
	if (reason != DLL_PROCESS_ATTACH)
		return TRUE;
	nt_query_thread = (nt_query_fn)(void (*)(void))GetProcAddress(nt, "NtQueryInformationThread");
	nt_query_process = (nt_query_fn)(void (*)(void))GetProcAddress(nt, "NtQueryInformationProcess");
	nt_query_object = (nt_query_fn)(void (*)(void))GetProcAddress(nt, "NtQueryObject");
	nt_query_system = (LONG (NTAPI *)(ULONG, void *, ULONG, ULONG *))(void (*)(void))GetProcAddress(
		nt, "NtQuerySystemInformation");
	return nt_query_thread && nt_query_process && nt_query_object && nt_query_system;
}
