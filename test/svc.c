/* svc.c - a minimal Windows service for the service-name target tests.
 * Usage (as the service binary): svc.exe <pid-file>
 * Writes its PID to pid-file once it reports RUNNING; stops on SERVICE_CONTROL_STOP. */
#include <windows.h>
#include <stdio.h>

static SERVICE_STATUS_HANDLE ss_handle;
static SERVICE_STATUS ss;
static HANDLE stop_event;
static const char *pid_file;

static void
report(DWORD state)
{
	ss.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	ss.dwCurrentState = state;
	ss.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP : 0;
	SetServiceStatus(ss_handle, &ss);
}

static DWORD WINAPI
handler(DWORD ctl, DWORD type, void *data, void *ctx)
{
	(void)type; (void)data; (void)ctx;
	if (ctl == SERVICE_CONTROL_STOP) {
		report(SERVICE_STOP_PENDING);
		SetEvent(stop_event);
	}
	return NO_ERROR;
}

static void WINAPI
svc_main(DWORD argc, LPSTR *argv)
{
	FILE *f;
	(void)argc; (void)argv;
	ss_handle = RegisterServiceCtrlHandlerExA("PdTestSvc", handler, NULL);
	stop_event = CreateEventA(NULL, TRUE, FALSE, NULL);
	report(SERVICE_RUNNING);
	if (pid_file && (f = fopen(pid_file, "w"))) {
		fprintf(f, "%lu\n", GetCurrentProcessId());
		fclose(f);
	}
	WaitForSingleObject(stop_event, INFINITE);
	report(SERVICE_STOPPED);
}

int
main(int argc, char **argv)
{
	SERVICE_TABLE_ENTRYA table[] = { { (LPSTR)"PdTestSvc", svc_main }, { NULL, NULL } };
	pid_file = argc > 1 ? argv[1] : NULL;
	return StartServiceCtrlDispatcherA(table) ? 0 : 1;
}
