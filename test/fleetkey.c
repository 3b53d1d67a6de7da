/* fleetkey.c - the watcher's choice of new processes (-all, -pt), on
 * process lists made up here: procdump.c is included in library mode, so
 * that its static functions can be called.  Wine hands out a freed PID
 * again only after hundreds of others, so a reused PID cannot be forced
 * from a test; a made-up list can hold one.
 *
 *   fleetkey.exe     prints one "ok ..." or "FAIL ..." line per check,
 *                    then "done"; exit 0 if every check held
 */
#define PROCDUMP_NO_MAIN
#include "../procdump.c"

static int failed;

/* entry k of a made-up list of n: pid, parent, creation time, image */
static void
fk_entry(struct pd_sys_process *e, int last, DWORD pid, DWORD parent, u64 ctime, const wchar_t *image)
{
	memset(e, 0, sizeof *e);
	e->NextEntryOffset = last ? 0 : sizeof *e;
	e->UniqueProcessId = (HANDLE)(ULONG_PTR)pid;
	e->InheritedFromUniqueProcessId = (HANDLE)(ULONG_PTR)parent;
	e->CreateTime.QuadPart = (LONGLONG)ctime;
	e->ImageName.Buffer = (wchar_t *)image;
	e->ImageName.Length = e->ImageName.MaximumLength = (USHORT)(wcslen(image) * 2);
}

static void
fk_check(const char *what, int got, int want)
{
	printf("%s %s (got %d, want %d)\n", got == want ? "ok" : "FAIL", what, got, want);
	failed |= got != want;
}

/* a process the watcher knows, as main_fleet_start leaves it */
static void
fk_know(struct main_fleet *f, DWORD pid, u64 ctime)
{
	vec_grow(&f->k, &f->capk, f->nk, sizeof *f->k, 16);
	memset(&f->k[f->nk], 0, sizeof f->k[0]);
	f->k[f->nk].pid = pid;
	f->k[f->nk].ctime = ctime;
	f->k[f->nk].seen = 1;
	f->nk++;
}

int
main(void)
{
	struct pd_config cfg;
	struct main_fleet f;
	struct pd_sys_process l[4];

	setvbuf(stdout, NULL, _IONBF, 0);
	memset(&cfg, 0, sizeof cfg);
	memset(&f, 0, sizeof f);
	cfg.target = L"app*";
	cfg.all = cfg.children = 1;
	f.cfg = &cfg;
	fk_know(&f, 100, 5);   /* app.exe, watched */
	f.k[0].thread = GetCurrentThread(); /* its instance's thread runs (not called here) */
	fk_know(&f, 200, 10);  /* a -pt parent */

	fk_entry(&l[0], 0, 100, 4, 5, L"app.exe");
	fk_entry(&l[1], 0, 200, 4, 10, L"tool.exe");
	fk_entry(&l[2], 0, 300, 200, 12, L"kid.exe");
	fk_entry(&l[3], 1, 301, 200, 8, L"old.exe");
	main_fleet_mark(&f, l);
	fk_check("a known process (PID and creation time) is not new", main_fleet_new(&f, &l[0], 1), 0);
	fk_check("a child created after its watched parent is new (-pt)", main_fleet_new(&f, &l[2], 1), 1);
	fk_check("a process created before the parent whose PID it names is nobody's child", main_fleet_new(&f, &l[3], 1), 0);
	fk_entry(&l[3], 1, 302, 4, 20, L"APPLE.EXE");
	fk_check("a name that fits app* is new (-all)", main_fleet_new(&f, &l[3], 1), 1);
	fk_check("without names (-all without -w), a fitting name is not", main_fleet_new(&f, &l[3], 0), 0);
	fk_entry(&l[3], 1, 304, 4, 0x5555555555555555ULL, L"app.exe");
	fk_check("a process Wine still creates (its creation time not set yet) is not new yet", main_fleet_new(&f, &l[3], 1), 0);

	/* PID 100 ended (its thread has not yet seen it) and came back as
	 * another process; PID 200 too */
	fk_entry(&l[0], 0, 100, 4, 50, L"app.exe");
	fk_entry(&l[1], 0, 200, 4, 51, L"tool.exe");
	fk_entry(&l[2], 1, 303, 200, 52, L"kid.exe");
	main_fleet_mark(&f, l);
	fk_check("a reused PID is a new process", main_fleet_new(&f, &l[0], 1), 1);
	fk_check("the processes gone are forgotten, once their thread ended", f.nk, 1);
	fk_check("the child of a reused parent PID is not adopted", main_fleet_new(&f, &l[2], 1), 0);
	free(f.k);
	printf("done\n");
	return failed;
}
