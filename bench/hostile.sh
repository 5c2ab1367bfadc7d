#!/usr/bin/env bash
# The cost of the hostile-tree checks (issue 19): `apply` and `dedup` of this checkout against another build
# (by default the commit before the checks, 02db740, built in a worktree), alternating, each run on a fresh
# copy of the corpus (cp -a, untimed) on the same file system; and this checkout again with PYFLOPPY_NATIVE=0
# (its calls through /proc/self/fd instead of the native helper). apply: the plan `sourceless,dedup` of the
# copy, made by the OLD build for every run (untimed), so that each build carries out the same operations
# (later layouts keep test packages' sources: their plans differ); only `apply PLAN` is timed. Prints median
# wall seconds and the ratios to the old build.
# usage: bench/hostile.sh [small|large] [reps] [OLD_REPO]   (default: large, 3, a worktree of 02db740)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
corpus=${1:-large}
reps=${2:-3}
base=${BENCH_DIR:-/tmp/pyfloppy-bench}
old=${3:-}
[ -d "$base/$corpus" ] || bash "$repo/../shared/bench/corpus.sh" >&2
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
if [ -z "$old" ]; then
  old=$(mktemp -d /tmp/pyfloppy-before.XXXXXX)
  git -C "$repo" worktree add -q --detach "$old" 02db740
  ln -s "$repo/node_modules" "$old/node_modules"
  (cd "$old" && npx tsc -p tsconfig.json)
  made_old=1
fi
. "$here/lib.sh"
work=$(mktemp -d "${WORK_DIR:-/dev/shm}/pyfloppy-bench-hostile.XXXXXX")
cleanup() { rm -rf "$work"; if [ -n "${made_old:-}" ]; then git -C "$repo" worktree remove --force "$old"; fi; }
trap cleanup EXIT
fresh() { rm -rf "$work/t"; cp -a "$base/$corpus" "$work/t"; sync; }
applied() { # $1: repo, $2: PYFLOPPY_NATIVE
  fresh; node "$old/bin/pyfloppy.js" plan sourceless,dedup "$work/t" -o "$work/plan.json" >/dev/null
  timeit env PYFLOPPY_NATIVE=$2 node "$1/bin/pyfloppy.js" apply "$work/plan.json"
}
deduped() { fresh; timeit env PYFLOPPY_NATIVE=$2 node "$1/bin/pyfloppy.js" dedup "$work/t"; }
ao=(); an=(); ap=(); do_=(); dn=(); dp=()
for _ in $(seq "$reps"); do
  ao+=("$(applied "$old" 1)"); an+=("$(applied "$repo" 1)"); ap+=("$(applied "$repo" 0)")
  do_+=("$(deduped "$old" 1)"); dn+=("$(deduped "$repo" 1)"); dp+=("$(deduped "$repo" 0)")
done
m() { printf '%s\n' "$@" | median; }
r() { echo "$1 / $2" | bc -l; }
a0=$(m "${ao[@]}"); a1=$(m "${an[@]}"); a2=$(m "${ap[@]}"); d0=$(m "${do_[@]}"); d1=$(m "${dn[@]}"); d2=$(m "${dp[@]}")
printf '%s files=%s\n  apply before_s=%.3f after_s=%.3f ratio=%.3f after_procfs_s=%.3f ratio=%.3f\n  dedup before_s=%.3f after_s=%.3f ratio=%.3f after_procfs_s=%.3f ratio=%.3f\n' \
  "$corpus" "$(find "$base/$corpus" -type f | wc -l)" "$a0" "$a1" "$(r "$a1" "$a0")" "$a2" "$(r "$a2" "$a0")" \
  "$d0" "$d1" "$(r "$d1" "$d0")" "$d2" "$(r "$d2" "$d0")"
printf '  (apply before: %s | after: %s | procfs: %s)\n  (dedup before: %s | after: %s | procfs: %s)\n' \
  "${ao[*]}" "${an[*]}" "${ap[*]}" "${do_[*]}" "${dn[*]}" "${dp[*]}"
