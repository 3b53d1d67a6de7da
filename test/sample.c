/* sample.c - the bundled sample for `make demo`: a program that hangs the
 * classic way, two threads each holding one lock and waiting for the other.
 * Prints "pid=<PID>" and "ready" once both threads are stuck. */
#include <windows.h>
#include <stdio.h>

static CRITICAL_SECTION accounts, ledger;
static HANDLE both_locked[2];

__attribute__((noinline)) static DWORD WINAPI
transfer_thread(void *arg)
{
	(void)arg;
	EnterCriticalSection(&accounts);
	SetEvent(both_locked[0]);
	WaitForSingleObject(both_locked[1], INFINITE);
	EnterCriticalSection(&ledger);      /* never returns: audit_thread holds it */
	LeaveCriticalSection(&ledger);
	LeaveCriticalSection(&accounts);
	return 0;
}

__attribute__((noinline)) static DWORD WINAPI
audit_thread(void *arg)
{
	(void)arg;
	EnterCriticalSection(&ledger);
	SetEvent(both_locked[1]);
	WaitForSingleObject(both_locked[0], INFINITE);
	EnterCriticalSection(&accounts);    /* never returns: transfer_thread holds it */
	LeaveCriticalSection(&accounts);
	LeaveCriticalSection(&ledger);
	return 0;
}

int
main(void)
{
	HANDLE t[2];
	setvbuf(stdout, NULL, _IONBF, 0);
	InitializeCriticalSection(&accounts);
	InitializeCriticalSection(&ledger);
	both_locked[0] = CreateEventA(NULL, TRUE, FALSE, NULL);
	both_locked[1] = CreateEventA(NULL, TRUE, FALSE, NULL);
	t[0] = CreateThread(NULL, 0, transfer_thread, NULL, 0, NULL);
	t[1] = CreateThread(NULL, 0, audit_thread, NULL, 0, NULL);
	WaitForMultipleObjects(2, both_locked, TRUE, INFINITE);
	printf("pid=%lu\nready\n", GetCurrentProcessId());
	WaitForMultipleObjects(2, t, TRUE, INFINITE);
	return 0;
}
