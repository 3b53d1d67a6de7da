/* testdll.c - a DLL of the tests' own, for load/unload events (Wine loads
 * system DLLs at startup, so LoadLibrary of one of them raises no event). */
#include <windows.h>

BOOL WINAPI
DllMain(HINSTANCE h, DWORD reason, void *reserved)
{
	(void)h; (void)reason; (void)reserved;
	return TRUE;
}

__declspec(dllexport) int
pd_test_dll_value(void)
{
	return 42;
}
