# procdump.c - build with mingw-w64 from Linux; test under Wine.
#   make            procdump64.exe (x86_64) and procdump.exe (i686), reproducible
#   make test       build the test programs and run the suite under Wine
#   make demo       dump a bundled sample under Wine and summarise the dump
#   make deps       install what a fresh Debian/Ubuntu machine lacks
#   make lib        compile procdump.c as a library (-DPROCDUMP_NO_MAIN), both targets
#   make release    procdump-VERSION.zip: both exes, the man page as text and HTML,
#                   README.md, LICENSE, SHA256SUMS (reproducible, as the exes)
#   make sign PFX=cert.pfx [PASSFILE=pass.txt] [TSURL=http://timestamp.example]
#   make sign KEY=key.pem CERT=chain.pem [TSURL=...]
#                   Authenticode-sign both exes in place with osslsigncode

CC64    ?= x86_64-w64-mingw32-gcc
CC32    ?= i686-w64-mingw32-gcc
RC64    ?= x86_64-w64-mingw32-windres
RC32    ?= i686-w64-mingw32-windres
CFLAGS  ?= -O2
WARN     = -Wall -Wextra -Wformat=2 -Werror
# --no-insert-timestamp: the PE header's TimeDateStamp is 0, not the build
# time, so the same commit gives the same bytes from any folder at any time
# (nothing else in the build depends on the path or the clock; -s drops the
# symbols that name them).
PDFLAGS  = $(WARN) -municode -static -s -Wl,--no-insert-timestamp
PDLIBS   = -ladvapi32
VERSION  = $(shell sed -n 's/^\#define PD_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' procdump.c | paste -sd.)
# the zip's file times: the commit's, else a fixed date (a tarball)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 1767225600)
REL      = procdump-$(VERSION)
# without windres (vendoring), the exes build without the resource
RES64    = $(if $(shell command -v $(RC64)),procdump64.res.o)
RES32    = $(if $(shell command -v $(RC32)),procdump.res.o)

all: procdump64.exe procdump.exe

# The version resource and manifest: procdump.c up to the end of its
# RC_INVOKED block (windres reads RC, not C), from stdin so that no path is
# recorded.  Without windres the exes build without them.
procdump64.res.o: procdump.c
	sed '/^#endif \/\* RC_INVOKED/q' procdump.c | $(RC64) -O coff -o $@

procdump.res.o: procdump.c
	sed '/^#endif \/\* RC_INVOKED/q' procdump.c | $(RC32) -O coff -o $@

procdump64.exe: procdump.c $(RES64)
	$(CC64) $(CFLAGS) $(PDFLAGS) procdump.c $(RES64) -o $@ $(PDLIBS)

# large-address-aware: a 32-bit procdump copying a -r clone may use up to 4 GiB
procdump.exe: procdump.c $(RES32)
	$(CC32) $(CFLAGS) $(PDFLAGS) -Wl,--large-address-aware procdump.c $(RES32) -o $@ $(PDLIBS)

lib: procdump.c
	$(CC64) $(CFLAGS) $(WARN) -DPROCDUMP_NO_MAIN -c procdump.c -o test/lib64.o
	$(CC32) $(CFLAGS) $(WARN) -DPROCDUMP_NO_MAIN -c procdump.c -o test/lib32.o

# Same inputs, same zip: fixed file times (UTC), modes and order, and no
# extra fields (uid/gid, extended times).
release: all
	rm -rf $(REL) $(REL).zip
	mkdir $(REL)
	cp procdump64.exe procdump.exe README.md LICENSE $(REL)/
	mandoc -T ascii man/procdump.1 | sed 's/.\x08//g' >$(REL)/procdump.txt
	mandoc -T html man/procdump.1 >$(REL)/procdump.html
	cd $(REL) && sha256sum procdump64.exe procdump.exe procdump.txt procdump.html README.md LICENSE >SHA256SUMS
	chmod 644 $(REL)/*
	TZ=UTC touch -d @$(SOURCE_DATE_EPOCH) $(REL) $(REL)/*
	cd $(REL) && ls | LC_ALL=C sort | TZ=UTC zip -X -D -q ../$(REL).zip -@
	rm -rf $(REL)
	@sha256sum $(REL).zip

# Signs in place; the signature carries its own time, so a signed exe's hash
# is not the reproducible one (osslsigncode remove-signature gives it back).
OSSLSIGN = osslsigncode sign -h sha256 -n procdump.c \
	$(if $(PFX),-pkcs12 $(PFX),-certs $(CERT) -key $(KEY)) \
	$(if $(PASSFILE),-readpass $(PASSFILE)) $(if $(TSURL),-ts $(TSURL))
sign: all
	@[ -n "$(PFX)" ] || [ -n "$(KEY)" -a -n "$(CERT)" ] || \
		{ echo "make sign: give PFX=file.pfx [PASSFILE=file], or KEY=key.pem CERT=chain.pem" >&2; exit 2; }
	for e in procdump64.exe procdump.exe; do \
		$(OSSLSIGN) -in $$e -out $$e.signed && cat $$e.signed >$$e && rm $$e.signed || { rm -f $$e.signed; exit 1; }; \
	done

deps:
	sh test/deps.sh

test: all
	sh test/run.sh $(T)

demo: all
	sh test/demo.sh

clean:
	rm -f procdump64.exe procdump.exe *.res.o test/*.exe test/*.dll test/*.o
	rm -rf test/out procdump-*.zip

.PHONY: all lib deps test demo clean release sign
