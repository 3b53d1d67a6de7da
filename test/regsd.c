/* regsd.c - the DACL of a key under HKLM (the 64-bit view), for the install
 * tests: an -i or -u that may not write AeDebug is what a user who is not
 * elevated meets (Wine runs everything elevated, but its server checks a
 * key's DACL).
 *
 * Usage: regsd.exe SUBKEY [SDDL]
 * Prints the key's DACL as SDDL ("D:..."), then, with SDDL, sets that DACL.
 * The owner (Administrators) keeps READ_CONTROL and WRITE_DAC whatever the
 * DACL says, so a DACL set here can always be put back.  Exit 0, or 1 with
 * a line on stderr. */
#include <windows.h>
#include <sddl.h>
#include <stdio.h>

int
wmain(int argc, wchar_t **argv)
{
	HKEY k;
	BYTE sd[4096];
	DWORD n = sizeof sd;
	wchar_t *text;
	PSECURITY_DESCRIPTOR want;
	LONG r;
	if (argc < 2) {
		fprintf(stderr, "usage: regsd SUBKEY [SDDL]\n");
		return 1;
	}
	r = RegOpenKeyExW(HKEY_LOCAL_MACHINE, argv[1], 0, READ_CONTROL | WRITE_DAC | KEY_WOW64_64KEY, &k);
	if (r) {
		fprintf(stderr, "regsd: open: %ld\n", r);
		return 1;
	}
	if ((r = RegGetKeySecurity(k, DACL_SECURITY_INFORMATION, sd, &n)) ||
	    !ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION,
	                                                          &text, NULL)) {
		fprintf(stderr, "regsd: get: %ld\n", r);
		return 1;
	}
	printf("%ls\n", text);
	if (argc > 2) {
		if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(argv[2], SDDL_REVISION_1, &want, NULL)) {
			fprintf(stderr, "regsd: bad SDDL: %lu\n", GetLastError());
			return 1;
		}
		if ((r = RegSetKeySecurity(k, DACL_SECURITY_INFORMATION, want))) {
			fprintf(stderr, "regsd: set: %ld\n", r);
			return 1;
		}
	}
	return 0;
}
