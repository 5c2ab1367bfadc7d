#!/usr/bin/env bash
# The small-package case (issue 17): what a packager runs per package, on copies of real packages of three
# sizes from the interpreter's site-packages (default: idna 8 sources, requests 19, pip 491), timed in one
# alternating loop so that every ratio sees the same load:
#   compile: python -m compileall -q -f -o0 -o1 --hardlink-dupes  vs  pyfloppy compile -q -f -o0 -o1
#   dedup:   util-linux hardlink -c                                 vs  pyfloppy dedup (fresh copy each run)
#   start:   node -e 0                                              vs  pyfloppy --version
#   and the start-ups inside them: python -c pass, node -e 0 without NODE_EXTRA_CA_CERTS; the load average
# usage: [PYFLOPPY_BEFORE=DIR] [PACKAGES="idna requests pip"] bench/small.sh [PYTHON] [reps]
#   (default: the pyenv 3.11, 5 reps; medians; PYFLOPPY_BEFORE: an earlier build (its bin/, dist/,
#   python/) timed in the same loop; PYFLOPPY_REPO: the build to time, default this one)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${PYFLOPPY_REPO:-$(cd "$here/.." && pwd)}
before=${PYFLOPPY_BEFORE:-}
py=${1:-$(ls -d /root/.pyenv/versions/3.11.*/bin/python3.11 | head -1)}
reps=${2:-5}
read -r -a packages <<<"${PACKAGES:-idna requests pip}"
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
work=$(mktemp -d "${BENCH_TMP:-/tmp}/pyfloppy-small-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Each package twice: its sources only (compile's input), and a template compiled at levels 0 and 1 by
# compileall, not linked (dedup's input, copied afresh for every run).
for p in "${packages[@]}"; do
  src=$("$py" -c "import $p, os; print(os.path.dirname($p.__file__))" 2>/dev/null) ||
    { echo "no package $p for $py" >&2; exit 2; }
  cp -a "$src" "$work/$p"
  find "$work/$p" -name __pycache__ -prune -exec rm -rf {} +
  cp -a "$work/$p" "$work/$p.template"
  "$py" -m compileall -q -f -o0 -o1 "$work/$p.template" >/dev/null
done

. "$here/lib.sh"
pf() { node "$repo/bin/pyfloppy.js" "$@"; }
pb() { node "$before/bin/pyfloppy.js" "$@"; }
fresh() { rm -rf "$work/d"; cp -a "$work/$1.template" "$work/d"; sync; }
# Timings go to one file, a line per measure: KEY SECONDS (KEY: what-package-who).
log="$work/times"
: >"$log"
t() { local key=$1; shift; echo "$key $(timeit "$@")" >>"$log"; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$reps"); do
  for p in "${packages[@]}"; do
    t "compile-$p-peer" "$py" -m compileall -q -f -o0 -o1 --hardlink-dupes "$work/$p"
    t "compile-$p-pf" pf compile -q -f -o0 -o1 --python "$py" "$work/$p"
    fresh "$p"; t "dedup-$p-peer" hardlink -c "$work/d"
    fresh "$p"; t "dedup-$p-pf" pf dedup "$work/d"
    [ -n "$before" ] || continue
    t "compile-$p-before" pb compile -q -f -o0 -o1 --python "$py" "$work/$p"
    fresh "$p"; t "dedup-$p-before" pb dedup "$work/d"
  done
  t start-peer node -e 0
  t start-pf pf --version
  [ -z "$before" ] || t start-before pb --version
  # The start-ups inside those figures: the interpreter's (both compile runs pay it), and Node.js's without
  # NODE_EXTRA_CA_CERTS, which Node.js reads at start-up when it is set (node -e 0 above pays it too).
  t python-start "$py" -c pass
  t node-start-bare env -u NODE_EXTRA_CA_CERTS node -e 0
done

med() { awk -v k="$1" '$1 == k {print $2}' "$log" | median; }
row() {
  local what=$1 label=$2 who=$3 a b
  a=$(med "$what-peer"); b=$(med "$what-$who")
  printf '%-18s %-38s %.3f s  %-8s %.3f s  ratio %.2fx\n' "$what" "$label" "$a" "$who" "$b" "$(echo "$b / $a" | bc -l)"
}
table() {
  local who=$1 p n
  for p in "${packages[@]}"; do
    n=$(find "$work/$p" -name '*.py' | wc -l)
    row "compile-$p" "compileall ($n sources)" "$who"
    row "dedup-$p" 'hardlink -c' "$who"
  done
  row start 'node -e 0' "$who"
}
echo "$py, packages ${packages[*]}, $reps runs, medians (pf: this build)"
table pf
if [ -n "$before" ]; then
  echo "before: $before, timed in the same loop:"
  table before
fi
printf 'start-ups: python -c pass %.3f s; node -e 0 without NODE_EXTRA_CA_CERTS %.3f s (set here: %s)\n' \
  "$(med python-start)" "$(med node-start-bare)" "$([ -n "${NODE_EXTRA_CA_CERTS:-}" ] && echo yes || echo no)"
echo "load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) cores)"
