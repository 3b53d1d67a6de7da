/* optdump.c - what the tests read of procdump.c's own tables, from the
 * tables themselves: procdump.c is included (library mode) and its opts[]
 * and version printed, so that no test parses the C source.
 *
 *   optdump.exe
 *
 * Prints "version MAJOR.MINOR.PATCH", then a line for each row of opts[]:
 * "opt NAME KIND LO HI FLAGS" (KIND: INT, HEX, COUNTER, FLAG, ...; LO and
 * HI the range a numeric row accepts, as the parser applies it: a row
 * without one takes 0 up; FLAGS the OF_ bits in hex), then "rows N" and
 * "end".  Exit 0. */
#define PROCDUMP_NO_MAIN
#include "../procdump.c"

static const char *
kind_name(enum optkind k)
{
	switch (k) {
	case OPT_FLAG: return "FLAG";
	case OPT_INT: return "INT";
	case OPT_STR: return "STR";
	case OPT_LIST: return "LIST";
	case OPT_HEX: return "HEX";
	case OPT_COUNTER: return "COUNTER";
	case OPT_E: return "E";
	case OPT_R: return "R";
	case OPT_DIGIT: return "DIGIT";
	case OPT_I: return "I";
	case OPT_X: return "X";
	case OPT_SVC: return "SVC";
	case OPT_REST: return "REST";
	}
	return "OTHER";
}

int
main(void)
{
	size_t i, n = sizeof opts / sizeof opts[0];
	printf("version %d.%d.%d\n", PD_VERSION_MAJOR, PD_VERSION_MINOR, PD_VERSION_PATCH);
	for (i = 0; i < n; i++) {
		const struct opt *o = &opts[i];
		printf("opt %ls %s %lld %lld 0x%x\n", o->name, kind_name(o->kind), o->lo, o->hi ? o->hi : LLONG_MAX,
		       (unsigned)o->flags);
	}
	printf("rows %u\nend\n", (unsigned)n);
	return 0;
}
