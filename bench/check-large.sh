#!/usr/bin/env bash
# Correctness on a benchmark corpus: analyze's grand total against du, and its bytecode identity counts
# against Python comparing the files itself (filecmp, shallow=False).   usage: bench/check-large.sh [small|large]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=${BENCH_DIR:-/tmp/pyfloppy-bench}/${1:-large}
node "$here/../bin/pyfloppy.js" analyze "$tree" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
b = r["bytecode"]
print("analyze: apparent=%d allocated=%d modules=%d identical01=%d identical12=%d identical012=%d alreadyLinked=%d" % (
    r["grandTotal"]["apparentBytes"], r["grandTotal"]["allocatedBytes"], b["modules"], b["identical01"], b["identical12"], b["identical012"], b["alreadyLinked"]))'
echo "du:      apparent=$(du --apparent-size -sb "$tree" | cut -f1) allocated=$(du -sB1 "$tree" | cut -f1)"
python3 - "$tree" <<'PY'
import filecmp, os, sys
groups = {}
for d, dirs, files in os.walk(sys.argv[1]):
    if os.path.basename(d) != "__pycache__":
        continue
    for f in files:
        if not f.endswith(".pyc"):
            continue
        stem, level = f[:-4], 0
        for n in (1, 2):
            if stem.endswith(".opt-%d" % n):
                level, stem = n, stem[: -len(".opt-%d" % n)]
        if "." in stem:
            groups.setdefault((d, stem), {})[level] = os.path.join(d, f)
same = lambda a, b: filecmp.cmp(a, b, shallow=False)
linked = lambda a, b: os.path.samestat(os.lstat(a), os.lstat(b))
c = dict(modules=len(groups), identical01=0, identical12=0, identical012=0, alreadyLinked=0)
for g in groups.values():
    s01 = 0 in g and 1 in g and same(g[0], g[1])
    s12 = 1 in g and 2 in g and same(g[1], g[2])
    c["identical01"] += s01; c["identical12"] += s12; c["identical012"] += s01 and s12
    c["alreadyLinked"] += (s01 and linked(g[0], g[1])) + (s12 and linked(g[1], g[2]))
print("python:  modules=%(modules)d identical01=%(identical01)d identical12=%(identical12)d identical012=%(identical012)d alreadyLinked=%(alreadyLinked)d" % c)
PY
