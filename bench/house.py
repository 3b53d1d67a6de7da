#!/usr/bin/env python3
"""house.py [PROCDUMP_C]: the shape of procdump.c (bench/README.md, "House").

Lines per section (from one banner, /* === Name === */, to the next; the
header before the first banner is "(header)"), comment share (lines that
hold nothing but comment; characters inside comments, delimiters
included, of all characters), function definitions, forward declarations
(a top-level prototype of a function defined in the file; the library
API's PD_API prototypes in Config are counted apart) and wc -l."""
import re, sys

path = sys.argv[1] if len(sys.argv) > 1 else 'procdump.c'
text = open(path, encoding='utf-8', errors='replace').read()
lines = text.splitlines(True)

# comment characters and comment-only lines, with strings skipped
com = [0] * len(lines)      # comment characters per line
code = [0] * len(lines)     # non-blank characters outside comments per line
i, n, ln = 0, len(text), 0
state = None
while i < n:
    c = text[i]
    if c == '\n':
        ln += 1
        if state == '//':
            state = None
        i += 1
        continue
    if state in ('/*', '//'):
        if state == '/*' and text.startswith('*/', i):
            com[ln] += 2; i += 2; state = None; continue
        com[ln] += 1; i += 1; continue
    if text.startswith('/*', i):
        state = '/*'; com[ln] += 2; i += 2; continue
    if text.startswith('//', i):
        state = '//'; com[ln] += 2; i += 2; continue
    if c in '"\'':
        q = c; code[ln] += 1; i += 1
        while i < n and text[i] != q and text[i] != '\n':
            if text[i] == '\\':
                code[ln] += 1; i += 1
            code[ln] += 1; i += 1
        code[ln] += 1; i += 1
        continue
    if not c.isspace():
        code[ln] += 1
    i += 1

banner = re.compile(r'^/\* =+ (.+?) =+ \*/$')
secs, cur, start = [], '(header)', 1
for no, l in enumerate(lines, 1):
    m = banner.match(l.rstrip('\n'))
    if m:
        secs.append((cur, start, no - 1)); cur, start = m.group(1), no
secs.append((cur, start, len(lines)))

defn = re.compile(r'^([A-Za-z_]\w*)\(')
defined = []
for no, l in enumerate(lines):
    m = defn.match(l)
    prev = lines[no - 1] if no else ''
    if m and re.match(r'[A-Za-z_]', prev) and not prev.rstrip().endswith((';', '{', '}', ',', '\\')):
        defined.append((m.group(1), no + 1))
names = {d[0] for d in defined}
# prototypes: a top-level statement ending in ');' that names a defined function
proto = re.compile(r'^(static|PD_API)\b[^=;{}]*?\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*(__attribute__\s*\(\(.*?\)\)\s*)?;', re.M | re.S)
fwd, api = [], []
for m in proto.finditer(text):
    if m.group(2) in names:
        (api if m.group(1) == 'PD_API' else fwd).append(m.group(2))

print('%-22s %6s %6s %5s %8s' % ('section', 'first', 'lines', 'funcs', 'comment%'))
for name, a, b in secs:
    nf = sum(1 for d in defined if a <= d[1] <= b)
    cl = sum(1 for k in range(a - 1, b) if com[k] and not code[k])
    print('%-22s %6d %6d %5d %7.0f%%' % (name, a, b - a + 1, nf, 100.0 * cl / max(1, b - a + 1)))
clines = sum(1 for k in range(len(lines)) if com[k] and not code[k])
print('sections %d' % (len(secs) - 1))
print('comment lines %d of %d (%.1f %%), comment characters %d of %d (%.1f %%)' %
      (clines, len(lines), 100.0 * clines / len(lines), sum(com), len(text), 100.0 * sum(com) / len(text)))
print('functions %d' % len(defined))
print('forward declarations %d%s (and %d PD_API prototypes)' %
      (len(fwd), ': ' + ' '.join(fwd) if fwd else '', len(api)))
print('wc -l %d' % len(lines))
