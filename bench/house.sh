#!/bin/sh
# house.sh [PROCDUMP_C]: lines per section, comment share, functions,
# forward declarations, wc -l (bench/README.md, "House").
exec python3 "$(dirname "$0")/house.py" "${1:-$(dirname "$0")/../procdump.c}"
