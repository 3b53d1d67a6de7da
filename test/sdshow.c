/* sdshow.c - prints a file's owner and DACL as SDDL (the ACL tests of
 * t-disk.sh: what a reader of the finished dump sees through the Windows
 * security API, not what procdump.c asked for).
 *   sdshow FILE  ->  O:...D:P(A;;FA;;;...)...   exit 1 if unreadable */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>

int
wmain(int argc, wchar_t **argv)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	wchar_t *text = NULL;
	DWORD e;
	if (argc != 2) {
		fprintf(stderr, "usage: sdshow FILE\n");
		return 2;
	}
	e = GetNamedSecurityInfoW(argv[1], SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
	                          NULL, NULL, NULL, NULL, &sd);
	if (e) {
		fprintf(stderr, "GetNamedSecurityInfo: %lu\n", e);
		return 1;
	}
	if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1,
	                                                         OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
	                                                         &text, NULL)) {
		fprintf(stderr, "ConvertSecurityDescriptorToStringSecurityDescriptor: %lu\n", GetLastError());
		return 1;
	}
	printf("%ls\n", text);
	LocalFree(text);
	LocalFree(sd);
	return 0;
}
