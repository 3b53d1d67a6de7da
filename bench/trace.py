#!/usr/bin/env python3
"""trace.py - count what one traced dump visits (bench/trace.sh runs it).

    trace.py TRACE NM_OUTPUT PROCDUMP_C

TRACE: the records of trace_enter.c (u64 rva, u32 tid, u32 pad), in the
order the functions were entered.  NM_OUTPUT: `nm` of the instrumented
exe.  PROCDUMP_C: the source it was built from; a function's section is
the last banner (/* === Name === */) above the line where its name
starts at column 0.

Counted: functions visited (distinct), sections visited, and section
changes along the sequence of entries with the Util and Win32 sections
left out (a call into a helper and back is no change); of those, the
changes between two Writer sections.  The headline count takes each
function at its first entry only (the order a reader meets them; a loop
over 40 modules is not 40 changes); the second counts every entry.  Each
thread's sequence is counted on its own and the counts summed."""
import re, struct, sys
from collections import OrderedDict

HELPERS = ('Util', 'Win32')

def sections_of(path):
    banner = re.compile(r'^/\* =+ (.+?) =+ \*/$')
    defn = re.compile(r'^([A-Za-z_]\w*)\(')
    sec, where, names = None, {}, []
    for line in open(path, encoding='utf-8', errors='replace'):
        m = banner.match(line.rstrip('\n'))
        if m:
            sec = m.group(1); names.append(sec); continue
        m = defn.match(line)
        if m and sec and m.group(1) not in where:
            where[m.group(1)] = sec
    return where, names

def main():
    trace, nmout, src = sys.argv[1:4]
    syms, base = {}, None
    for line in open(nmout):
        p = line.split()
        if len(p) == 3 and p[1] in 'tT':
            syms[int(p[0], 16)] = p[2]
        if len(p) == 3 and p[2] == '__ImageBase':
            base = int(p[0], 16)
            continue
    if base is None:
        sys.exit('trace.py: no __ImageBase in the nm output')
    where, banners = sections_of(src)
    data = open(trace, 'rb').read()
    per = OrderedDict()
    unknown = set()
    for off in range(0, len(data) - 15, 16):
        rva, tid, _ = struct.unpack_from('<QII', data, off)
        name = syms.get(base + rva)
        if name is None:
            unknown.add(hex(rva)); continue
        name = re.sub(r'\.(constprop|isra|part|cold)\.\d+$', '', name)
        per.setdefault(tid, []).append(name)
    funcs, secs = set(), set()

    def count(first_only):
        changes = writer = 0
        seen = set()
        for tid, seq in per.items():
            prev = None
            for name in seq:
                s = where.get(name)
                if s is None:
                    continue
                funcs.add(name); secs.add(s)
                if s in HELPERS or (first_only and name in seen):
                    continue
                seen.add(name)
                if prev is not None and s != prev:
                    changes += 1
                    if s.startswith('Writer') and prev.startswith('Writer'):
                        writer += 1
                prev = s
        return changes, writer
    first = count(True)
    every = count(False)
    print('entries %d in %d threads%s' % (sum(len(s) for s in per.values()), len(per),
          ', %d unmapped' % len(unknown) if unknown else ''))
    print('functions visited %d' % len(funcs))
    print('sections visited %d of %d' % (len(secs), len(banners)))
    print('section changes %d, %d of them between Writer sections '
          '(first entries of each function, Util and Win32 left out)' % first)
    print('section changes on every entry %d, %d between Writer sections' % every)
    if '-v' in sys.argv:
        seen = set()
        for tid, seq in per.items():
            prev = None
            print('thread %d (first entries; * a section change)' % tid)
            for name in seq:
                s = where.get(name)
                if s is None or s in HELPERS or name in seen:
                    continue
                seen.add(name)
                print(' %s %-22s %s' % ('*' if prev and s != prev else ' ', s, name))
                prev = s

main()
