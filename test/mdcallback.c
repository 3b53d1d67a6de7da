/* mdcallback.c - a MiniDumpCallbackRoutine for the -md tests, written
 * against the SDK's callback protocol (mingw's dbghelp.h).
 * It reads what to do from the environment of the dumping process:
 *   PD_TEST_EXCLUDE_TID=<decimal>   leave that thread out (IncludeThread)
 *   PD_TEST_ADD=<hex addr>:<hex size>  add that memory (Memory callback)
 * and counts the calls of each type in PD_TEST_LOG (a file), one line a type. */
#include <windows.h>
#include <dbghelp.h>
#include <stdio.h>
#include <stdlib.h>

static int memory_calls, counts[32];

static void
log_counts(void)
{
	char path[MAX_PATH];
	FILE *f;
	int i;
	if (!GetEnvironmentVariableA("PD_TEST_LOG", path, sizeof path) || !(f = fopen(path, "w")))
		return;
	for (i = 0; i < 32; i++)
		if (counts[i])
			fprintf(f, "type %d: %d\n", i, counts[i]);
	fclose(f);
}

__declspec(dllexport) BOOL CALLBACK
MiniDumpCallbackRoutine(PVOID param, const PMINIDUMP_CALLBACK_INPUT in, PMINIDUMP_CALLBACK_OUTPUT out)
{
	char v[64];
	(void)param;
	if (in->CallbackType < 32)
		counts[in->CallbackType]++;
	switch (in->CallbackType) {
	case IncludeThreadCallback:
		if (GetEnvironmentVariableA("PD_TEST_EXCLUDE_TID", v, sizeof v) &&
		    strtoul(v, NULL, 10) == in->IncludeThread.ThreadId)
			return FALSE;
		return TRUE;
	case MemoryCallback:
		if (memory_calls++ == 0 && GetEnvironmentVariableA("PD_TEST_ADD", v, sizeof v)) {
			char *colon;
			out->MemoryBase = strtoull(v, &colon, 16);
			out->MemorySize = (ULONG)strtoul(colon + 1, NULL, 16);
			return TRUE;
		}
		return FALSE;
	case CancelCallback:
		log_counts();
		out->Cancel = FALSE;
		out->CheckCancel = FALSE;
		return TRUE;
	default:
		return TRUE;
	}
}
