#!/usr/bin/env bash
# The small-package case (issue 17): what a packager runs per package, on a copy of `requests` (19 sources).
#   compile: python -m compileall -q -f -o0 -o1 --hardlink-dupes  vs  pyfloppy compile -q -f -o0 -o1
#   dedup:   util-linux hardlink -c                                 vs  pyfloppy dedup (fresh copy each run)
#   start:   node -e 0                                              vs  pyfloppy --version
#   and the start-ups inside them: python -c pass, node -e 0 without NODE_EXTRA_CA_CERTS; the load average
# usage: [PYFLOPPY_BEFORE=DIR] bench/small.sh [PYTHON] [reps]   (default: the pyenv 3.11, 5 reps; runs
#   alternate; medians; PYFLOPPY_BEFORE: an earlier build (its bin/, dist/, python/) timed in the same loop)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${PYFLOPPY_REPO:-$(cd "$here/.." && pwd)}   # PYFLOPPY_REPO: another build, for before/after
before=${PYFLOPPY_BEFORE:-}   # PYFLOPPY_BEFORE: an earlier build, timed in the same loop (same load)
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
pb() { node "$before/bin/pyfloppy.js" "$@"; }
fresh() { rm -rf "$work/d"; cp -a "$work/template" "$work/d"; sync; }
ca=(); pc=(); hl=(); pd=(); ne=(); pv=(); ps=(); nx=(); bc=(); bd=(); bv=()
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$reps"); do
  ca+=("$(timeit "$py" -m compileall -q -f -o0 -o1 --hardlink-dupes "$work/requests")")
  pc+=("$(timeit pf compile -q -f -o0 -o1 --python "$py" "$work/requests")")
  fresh; hl+=("$(timeit hardlink -c "$work/d")")
  fresh; pd+=("$(timeit pf dedup "$work/d")")
  ne+=("$(timeit node -e 0)")
  pv+=("$(timeit pf --version)")
  # The start-ups inside those figures: the interpreter's (both compile runs pay it), and Node.js's without
  # NODE_EXTRA_CA_CERTS, which Node.js reads at start-up when it is set (node -e 0 above pays it too).
  ps+=("$(timeit "$py" -c pass)")
  nx+=("$(timeit env -u NODE_EXTRA_CA_CERTS node -e 0)")
  [ -n "$before" ] || continue
  bc+=("$(timeit pb compile -q -f -o0 -o1 --python "$py" "$work/requests")")
  fresh; bd+=("$(timeit pb dedup "$work/d")")
  bv+=("$(timeit pb --version)")
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
if [ -n "$before" ]; then
  echo "before: $before, timed in the same loop:"
  row compile 'ca[@]' 'bc[@]' 'compileall -o0 -o1 --hardlink-dupes'
  row dedup 'hl[@]' 'bd[@]' 'hardlink -c'
  row start 'ne[@]' 'bv[@]' 'node -e 0'
fi
printf 'start-ups: %s -c pass %.3f s; node -e 0 without NODE_EXTRA_CA_CERTS %.3f s (set here: %s)\n' "$py" \
  "$(printf '%s\n' "${ps[@]}" | median)" "$(printf '%s\n' "${nx[@]}" | median)" "$([ -n "${NODE_EXTRA_CA_CERTS:-}" ] && echo yes || echo no)"
echo "load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) cores)"
