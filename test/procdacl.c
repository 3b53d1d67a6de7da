/* procdacl.c - sets the DACL of a process, for the tests.
 *
 * Usage: procdacl.exe PID SDDL    e.g. procdacl.exe 1234 "D:(A;;0x1FFF7F;;;WD)"
 * Opens process PID for WRITE_DAC and gives it the DACL of the SDDL string
 * (the pss tests: a target that grants everything but
 * PROCESS_CREATE_PROCESS, which a PSS capture needs).  Prints "set 0", or
 * the error, and exits 0 on success.
 */
#include <windows.h>
#include <sddl.h>
#include <aclapi.h>
#include <stdio.h>
#include <stdlib.h>

int
wmain(int argc, wchar_t **argv)
{
	PSECURITY_DESCRIPTOR sd;
	PACL dacl = NULL;
	BOOL present = FALSE, defaulted = FALSE;
	HANDLE h;
	DWORD e;
	if (argc != 3) {
		fprintf(stderr, "usage: procdacl.exe PID SDDL\n");
		return 2;
	}
	if (!(h = OpenProcess(WRITE_DAC, FALSE, wcstoul(argv[1], NULL, 10)))) {
		printf("open %lu\n", GetLastError());
		return 1;
	}
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(argv[2], SDDL_REVISION_1, &sd, NULL) ||
	    !GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) {
		printf("sddl %lu\n", GetLastError());
		return 1;
	}
	e = SetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, dacl, NULL);
	printf("set %lu\n", e);
	LocalFree(sd);
	CloseHandle(h);
	return e != 0;
}
