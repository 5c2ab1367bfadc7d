#!/usr/bin/env bash
# compile against the interpreter's own compileall on its stdlib (issue 5: at most 0.6x compileall's wall time).
# Both compile the same copy of the sources (no site-packages), at levels 0, 1, 2, with all cores, forced.
# usage: bench/compile.sh [PYTHON] [reps]   (default: /root/.pyenv/versions/3.13.0/bin/python3.13, 3 reps)
# Runs alternate on a warm page cache; prints median wall seconds and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
py=${1:-/root/.pyenv/versions/3.13.0/bin/python3.13}
reps=${2:-3}
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
lib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
work=$(mktemp -d "${BENCH_TMP:-/tmp}/pyfloppy-compile-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -a "$lib/." "$work/lib"
rm -rf "$work/lib/site-packages"
find "$work/lib" -name __pycache__ -prune -exec rm -rf {} +

. "$here/lib.sh"

ca=(); pf=()
for _ in $(seq "$reps"); do
  ca+=("$(timeit "$py" -m compileall -q -f -j0 -o0 -o1 -o2 --hardlink-dupes "$work/lib")")
  pf+=("$(timeit node "$repo/bin/pyfloppy.js" compile -q -f -j0 -o0 -o1 -o2 --python "$py" "$work/lib")")
done
c=$(printf '%s\n' "${ca[@]}" | median); p=$(printf '%s\n' "${pf[@]}" | median)
printf '%s sources=%s compileall_s=%.2f pyfloppy_s=%.2f ratio=%.2f\n  (compileall: %s | pyfloppy: %s)\n' \
  "$lib" "$(find "$work/lib" -name '*.py' | wc -l)" "$c" "$p" "$(echo "$p / $c" | bc -l)" "${ca[*]}" "${pf[*]}"
