#!/usr/bin/env bash
# The cost of the hostile-tree checks (issue 19): `apply` and `dedup` of this checkout against another build
# (by default the commit before the checks, 02db740, built in a worktree), alternating, each run on a fresh
# copy of the corpus (cp -a, untimed) on the same file system. apply: the plan `sourceless,dedup` of the copy,
# made by the same build, untimed; only `apply PLAN` is timed. Prints median wall seconds and the ratio.
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
applied() { # $1: repo
  fresh; node "$1/bin/pyfloppy.js" plan sourceless,dedup "$work/t" -o "$work/plan.json" >/dev/null
  timeit node "$1/bin/pyfloppy.js" apply "$work/plan.json"
}
deduped() { fresh; timeit node "$1/bin/pyfloppy.js" dedup "$work/t"; }
ao=(); an=(); do_=(); dn=()
for _ in $(seq "$reps"); do
  ao+=("$(applied "$old")"); an+=("$(applied "$repo")")
  do_+=("$(deduped "$old")"); dn+=("$(deduped "$repo")")
done
m() { printf '%s\n' "$@" | median; }
a0=$(m "${ao[@]}"); a1=$(m "${an[@]}"); d0=$(m "${do_[@]}"); d1=$(m "${dn[@]}")
printf '%s files=%s apply_before_s=%.3f apply_after_s=%.3f ratio=%.3f dedup_before_s=%.3f dedup_after_s=%.3f ratio=%.3f\n  (apply before: %s | after: %s | dedup before: %s | after: %s)\n' \
  "$corpus" "$(find "$base/$corpus" -type f | wc -l)" "$a0" "$a1" "$(echo "$a1 / $a0" | bc -l)" "$d0" "$d1" \
  "$(echo "$d1 / $d0" | bc -l)" "${ao[*]}" "${an[*]}" "${do_[*]}" "${dn[*]}"
