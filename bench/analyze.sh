#!/usr/bin/env bash
# analyze against du -s on the benchmark corpora (design: "the stat walk: du -s on the same tree is the floor").
# Times the footprint (analyze --no-strategies: scan, classify, byte identity) and the full analyze (with
# every strategy estimate, which compresses every source and cache).
# usage: bench/analyze.sh [small|large ...] [reps]     (default: large, 5 reps; corpora from ../shared/bench/corpus.sh)
# Runs alternate, on a warm page cache (one untimed run of each first); prints median wall seconds and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
base=${BENCH_DIR:-/tmp/pyfloppy-bench}
corpora=()
reps=5
for a in "$@"; do
  case $a in small | large) corpora+=("$a") ;; *) reps=$a ;; esac
done
[ ${#corpora[@]} -gt 0 ] || corpora=(large)
[ -d "$base/large" ] && [ -d "$base/small" ] || bash "$repo/../shared/bench/corpus.sh" >&2
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)

. "$here/lib.sh"

for c in "${corpora[@]}"; do
  tree="$base/$c"
  files=$(find "$tree" | wc -l)
  du -s "$tree" >/dev/null; node "$repo/bin/pyfloppy.js" analyze "$tree" --json --no-strategies >/dev/null
  dus=(); ans=(); fulls=()
  for _ in $(seq "$reps"); do
    dus+=("$(timeit du -s "$tree")")
    ans+=("$(timeit node "$repo/bin/pyfloppy.js" analyze "$tree" --json --no-strategies)")
    fulls+=("$(timeit node "$repo/bin/pyfloppy.js" analyze "$tree" --json)")
  done
  d=$(printf '%s\n' "${dus[@]}" | median); a=$(printf '%s\n' "${ans[@]}" | median); f=$(printf '%s\n' "${fulls[@]}" | median)
  printf '%-6s entries=%-7s du_s=%-6.3f footprint_s=%-6.3f ratio=%.2f full_s=%-6.3f  (du: %s | footprint: %s | full: %s)\n' \
    "$c" "$files" "$d" "$a" "$(echo "$a / $d" | bc -l)" "$f" "${dus[*]}" "${ans[*]}" "${fulls[*]}"
done
