# procdump.c - build with mingw-w64 from Linux; test under Wine.
#   make            procdump64.exe (x86_64) and procdump.exe (i686)
#   make test       build the test programs and run the suite under Wine
#   make demo       dump a bundled sample under Wine and summarise the dump
#   make deps       install what a fresh Debian/Ubuntu machine lacks
#   make lib        compile procdump.c as a library (-DPROCDUMP_NO_MAIN), both targets

CC64    ?= x86_64-w64-mingw32-gcc
CC32    ?= i686-w64-mingw32-gcc
CFLAGS  ?= -O2
WARN     = -Wall -Wextra -Werror
PDFLAGS  = $(WARN) -municode -static -s
PDLIBS   = -ladvapi32

all: procdump64.exe procdump.exe

procdump64.exe: procdump.c
	$(CC64) $(CFLAGS) $(PDFLAGS) procdump.c -o $@ $(PDLIBS)

# large-address-aware: a 32-bit procdump copying a -r clone may use up to 4 GiB
procdump.exe: procdump.c
	$(CC32) $(CFLAGS) $(PDFLAGS) -Wl,--large-address-aware procdump.c -o $@ $(PDLIBS)

lib: procdump.c
	$(CC64) $(CFLAGS) $(WARN) -DPROCDUMP_NO_MAIN -c procdump.c -o test/lib64.o
	$(CC32) $(CFLAGS) $(WARN) -DPROCDUMP_NO_MAIN -c procdump.c -o test/lib32.o

deps:
	sh test/deps.sh

test: all
	sh test/run.sh $(T)

demo: all
	sh test/demo.sh

clean:
	rm -f procdump64.exe procdump.exe test/*.exe test/*.dll test/*.o
	rm -rf test/out

.PHONY: all lib deps test demo clean
