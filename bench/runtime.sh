#!/bin/bash
# The cost of pyfloppy's runtime (issue 13): bench/runtime.sh [VERSION [RUNS]], e.g. bench/runtime.sh 3.13.0 40
# Three copies of a pyenv interpreter (without its test package) on /dev/shm, every cache at levels 0-2:
#   plain     untouched;
#   runtime   _pyfloppy_runtime.py and sitecustomize.py in the stdlib directory, the .pth in
#             site-packages, their caches (unchecked-hash, levels 0-2), as a plan installs them: the
#             hooks are installed, no marker anywhere;
#   markers   the same, and __dont_write_bytecode__ + __optimization_fallback__ in every __pycache__ of
#             the stdlib (at -O/-OO each import then looks up the fallback marker, once per directory,
#             and stats the wanted cache).
# Figures: bench/README.md, "The runtime's cost (issue 13)".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ver=${1:-3.13.0}
runs=${2:-40}
src=/root/.pyenv/versions/$ver
mm=${ver%.*}
work=$(mktemp -d /dev/shm/pyfloppy-bench-runtime.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
for c in plain runtime markers; do
  cp -a "$src" "$work/$c"
  rm -rf "$work/$c/lib/python$mm/test"
done
for c in runtime markers; do
  lib=$work/$c/lib/python$mm
  # What a plan installs: the runtime and sitecustomize.py (venvs), caches unchecked-hash, the .pth.
  cp "$here/../python/runtime/_pyfloppy_runtime.py" "$here/../python/runtime/sitecustomize.py" "$lib/"
  echo 'import _pyfloppy_runtime' >"$lib/site-packages/_pyfloppy_runtime.pth"
  for m in _pyfloppy_runtime sitecustomize; do
    "$work/$c/bin/python$mm" -m compileall -q -o0 -o1 -o2 --invalidation-mode unchecked-hash "$lib/$m.py" 2>/dev/null ||
      for o in "" -O -OO; do "$work/$c/bin/python$mm" $o -m compileall -q --invalidation-mode unchecked-hash "$lib/$m.py"; done
  done
done
find "$work/markers/lib/python$mm" -name __pycache__ -type d -not -path '*/site-packages/*' |
  while read -r d; do : >"$d/__dont_write_bytecode__"; : >"$d/__optimization_fallback__"; done
# Every cache present at every level (pyenv installs them; make sure).
for c in plain runtime markers; do
  "$work/$c/bin/python$mm" -m compileall -q -o0 -o1 -o2 "$work/$c/lib/python$mm" >/dev/null 2>&1 || true
done
echo "CPython $ver, $runs runs per cell, medians, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
env -u PYTHONDONTWRITEBYTECODE python3 "$here/runtime.py" "$runs" \
  "plain=$work/plain/bin/python$mm" "runtime=$work/runtime/bin/python$mm" "markers=$work/markers/bin/python$mm"
# The -O/-OO hook alone, on and off in one process (markers everywhere, so each import looks).
for o in -O -OO; do
  env -u PYTHONDONTWRITEBYTECODE "$work/markers/bin/python$mm" $o "$here/runtime_hook.py" "$o"
done
# The runtime's own import, as -X importtime reports it (self and cumulative microseconds), median of 21.
. "$here/lib.sh"
for i in $(seq 21); do
  env -u PYTHONDONTWRITEBYTECODE "$work/runtime/bin/python$mm" -X importtime -c pass 2>&1 | grep '_pyfloppy_runtime$'
done | sed 's/import time://' | awk -F'|' '{print $1 + 0, $2 + 0}' >"$work/importtime"
echo "_pyfloppy_runtime import: self $(cut -d' ' -f1 "$work/importtime" | median) us," \
  "cumulative $(cut -d' ' -f2 "$work/importtime" | median) us (median of 21)"
