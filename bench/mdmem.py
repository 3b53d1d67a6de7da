#!/usr/bin/env python3
# mdmem.py DUMP ADDR SIZE: the SHA-256 of the bytes [ADDR, ADDR+SIZE) of a
# minidump's memory (MemoryList or Memory64List), for bench/outage.sh's
# "the clone's dump holds the same memory" check.  Exit 1 if not all there.
import hashlib, struct, sys

def ranges(f):
    f.seek(0)
    sig, ver, n, rva = struct.unpack('<4I', f.read(16))
    for k in range(n):
        f.seek(rva + 12 * k)
        typ, size, at = struct.unpack('<3I', f.read(12))
        f.seek(at)
        if typ == 9:  # Memory64List
            cnt, base = struct.unpack('<QQ', f.read(16))
            for _ in range(cnt):
                start, sz = struct.unpack('<QQ', f.read(16))
                yield start, sz, base
                base += sz
        elif typ == 5:  # MemoryList
            cnt, = struct.unpack('<I', f.read(4))
            for _ in range(cnt):
                start, sz, r = struct.unpack('<QII', f.read(16))
                yield start, sz, r

def main():
    path, addr, size = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3])
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        rs = sorted(ranges(f))
        a, end = addr, addr + size
        for start, sz, off in rs:
            if start + sz <= a or start > a:
                continue
            take = min(end, start + sz) - a
            f.seek(off + (a - start))
            left = take
            while left:
                b = f.read(min(left, 1 << 24))
                h.update(b)
                left -= len(b)
            a += take
            if a >= end:
                break
    if a < end:
        print('missing from 0x%x' % a)
        sys.exit(1)
    print(h.hexdigest())

main()
