/* verinfo.c - prints what Windows reads from an exe's resources: the
 * version resource through GetFileVersionInfoW/VerQueryValueW (what
 * Explorer's Details tab and PowerShell's VersionInfo show) and the
 * application manifest (RT_MANIFEST 1) as the loader finds it.
 *   verinfo.exe FILE
 * Prints "fixed A.B.C.D A.B.C.D" (file, product), "NAME=VALUE" for each
 * string of the 040904B0 table, then "manifest:" and its text.  Exit 0, or
 * 1 with the step that failed. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

static const wchar_t *names[] = { L"CompanyName", L"FileDescription", L"FileVersion", L"InternalName",
                                  L"LegalCopyright", L"OriginalFilename", L"ProductName", L"ProductVersion" };

int
wmain(int argc, wchar_t **argv)
{
	DWORD h = 0, n, i;
	UINT len = 0;
	void *data, *p = NULL;
	VS_FIXEDFILEINFO *fi;
	HMODULE m;
	HRSRC r;
	if (argc != 2) {
		fprintf(stderr, "usage: verinfo FILE\n");
		return 1;
	}
	n = GetFileVersionInfoSizeW(argv[1], &h);
	if (!n || !(data = malloc(n)) || !GetFileVersionInfoW(argv[1], 0, n, data)) {
		printf("GetFileVersionInfo failed: %lu\n", GetLastError());
		return 1;
	}
	if (!VerQueryValueW(data, L"\\", (void **)&fi, &len) || len < sizeof *fi) {
		printf("VerQueryValue \\ failed\n");
		return 1;
	}
	printf("fixed %u.%u.%u.%u %u.%u.%u.%u\n", HIWORD(fi->dwFileVersionMS), LOWORD(fi->dwFileVersionMS),
	       HIWORD(fi->dwFileVersionLS), LOWORD(fi->dwFileVersionLS), HIWORD(fi->dwProductVersionMS),
	       LOWORD(fi->dwProductVersionMS), HIWORD(fi->dwProductVersionLS), LOWORD(fi->dwProductVersionLS));
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		wchar_t q[128];
		swprintf(q, 128, L"\\StringFileInfo\\040904B0\\%ls", names[i]);
		if (VerQueryValueW(data, q, &p, &len) && len)
			printf("%ls=%ls\n", names[i], (wchar_t *)p);
	}
	m = LoadLibraryExW(argv[1], NULL, LOAD_LIBRARY_AS_DATAFILE | LOAD_LIBRARY_AS_IMAGE_RESOURCE);
	if (!m || !(r = FindResourceW(m, MAKEINTRESOURCEW(1), MAKEINTRESOURCEW(24))) ||
	    !(p = LockResource(LoadResource(m, r)))) {
		printf("no manifest: %lu\n", GetLastError());
		return 1;
	}
	printf("manifest:\n%.*s", (int)SizeofResource(m, r), (char *)p);
	return 0;
}
