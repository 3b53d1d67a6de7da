/* rangeunit.c - snap_range_merge, the one sort-and-merge of the writer's
 * and the clone's memory ranges, on ranges made up here: procdump.c is
 * included in library mode, so that its static functions can be called.
 *
 *   rangeunit.exe    prints one "ok ..." or "FAIL ..." line per check,
 *                    then "done"; exit 0 if every check held
 *
 * Over 2,000 random sets of ranges in a 4 KiB space: the result is sorted,
 * without overlaps, covers exactly the bytes the input covered, and no
 * range is longer than the cap unless one input range alone was. */
#define PROCDUMP_NO_MAIN
#include "../procdump.c"

#define SPACE 4096

static int failed;

static void
ru_check(const char *what, int ok)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	failed |= !ok;
}

static u64 ru_state = 88172645463325252ULL;

static u64
ru_rand(u64 n)
{
	ru_state ^= ru_state << 13;
	ru_state ^= ru_state >> 7;
	ru_state ^= ru_state << 17;
	return ru_state % n;
}

int
main(void)
{
	struct range r[32], a[] = { { 0, 0x100 }, { 0x80, 0x180 } };
	static unsigned char in[SPACE], out[SPACE];
	int round, bad_sort = 0, bad_cover = 0, bad_cap = 0, i, n;
	setvbuf(stdout, NULL, _IONBF, 0);
	/* an overlapping pair whose union is past the cap: the second starts
	 * where the first ends */
	n = snap_range_merge(a, 2, 0x180);
	ru_check("an overlapping pair too long to merge: [0,0x100) [0x100,0x200)",
	         n == 2 && a[0].start == 0 && a[0].size == 0x100 && a[1].start == 0x100 && a[1].size == 0x100);
	for (round = 0; round < 2000; round++) {
		u64 cap = 16 + ru_rand(1024), longest_in = 0;
		n = 1 + (int)ru_rand(32);
		memset(in, 0, sizeof in);
		memset(out, 0, sizeof out);
		for (i = 0; i < n; i++) {
			r[i].start = ru_rand(SPACE - 1);
			r[i].size = 1 + ru_rand(SPACE - r[i].start > 600 ? 600 : SPACE - r[i].start);
			memset(in + r[i].start, 1, (size_t)r[i].size);
			if (r[i].size > longest_in)
				longest_in = r[i].size;
		}
		n = snap_range_merge(r, n, cap);
		for (i = 0; i < n; i++) {
			memset(out + r[i].start, 1, (size_t)r[i].size);
			bad_sort += i && r[i].start < r[i - 1].start + r[i - 1].size;
			bad_cap += r[i].size > cap && r[i].size > longest_in;
		}
		bad_cover += memcmp(in, out, SPACE) != 0;
	}
	ru_check("2000 random sets: sorted, no overlap", !bad_sort);
	ru_check("2000 random sets: the same bytes covered", !bad_cover);
	ru_check("2000 random sets: no merge past the cap", !bad_cap);
	printf("done\n");
	return failed;
}
