#!/usr/bin/env bash
# The small-package case (issue 17): what a packager runs per package, on a copy of `requests` (19 sources).
#   compile: python -m compileall -q -f -o0 -o1 --hardlink-dupes  vs  pyfloppy compile -q -f -o0 -o1
#   dedup:   util-linux hardlink -c                                 vs  pyfloppy dedup (fresh copy each run)
#   start:   node -e 0                                              vs  pyfloppy --version
# usage: bench/small.sh [PYTHON] [reps]   (default: the pyenv 3.11, 5 reps; runs alternate; medians)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${PYFLOPPY_REPO:-$(cd "$here/.." && pwd)}   # PYFLOPPY_REPO: another build, for before/after
py=${1:-$(ls -d /root/.pyenv/versions/3.11.*/bin/python3.11 | head -1)}
reps=${2:-5}
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
src=$("$py" -c 'import requests, os; print(os.path.dirname(requests.__file__))' 2>/dev/null ||
  echo /usr/lib/python3/dist-packages/requests)
[ -d "$src" ] || { echo "no requests package for $py" >&2; exit 2; }
work=$(mktemp -d "${BENCH_TMP:-/tmp}/pyfloppy-small-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -a "$src" "$work/requests"
find "$work/requests" -name __pycache__ -prune -exec rm -rf {} +
# the dedup template: levels 0 and 1 written by compileall, not linked
cp -a "$work/requests" "$work/template"
"$py" -m compileall -q -f -o0 -o1 "$work/template" >/dev/null

. "$here/lib.sh"
pf() { node "$repo/bin/pyfloppy.js" "$@"; }
fresh() { rm -rf "$work/d"; cp -a "$work/template" "$work/d"; sync; }
ca=(); pc=(); hl=(); pd=(); ne=(); pv=()
for _ in $(seq "$reps"); do
  ca+=("$(timeit "$py" -m compileall -q -f -o0 -o1 --hardlink-dupes "$work/requests")")
  pc+=("$(timeit pf compile -q -f -o0 -o1 --python "$py" "$work/requests")")
  fresh; hl+=("$(timeit hardlink -c "$work/d")")
  fresh; pd+=("$(timeit pf dedup "$work/d")")
  ne+=("$(timeit node -e 0)")
  pv+=("$(timeit pf --version)")
done
row() {
  local a b
  a=$(printf '%s\n' "${!2}" | median); b=$(printf '%s\n' "${!3}" | median)
  printf '%-8s %-44s %.3f s  pyfloppy %.3f s  ratio %.2fx\n' "$1" "$4" "$a" "$b" "$(echo "$b / $a" | bc -l)"
}
echo "$src ($(find "$work/requests" -name '*.py' | wc -l) sources), $reps runs, medians"
row compile 'ca[@]' 'pc[@]' 'compileall -o0 -o1 --hardlink-dupes'
row dedup 'hl[@]' 'pd[@]' 'hardlink -c'
row start 'ne[@]' 'pv[@]' 'node -e 0'
