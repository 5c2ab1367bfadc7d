#!/usr/bin/env bash
# plan + apply against the unguarded shell way of doing the same removal (issue 7): drop the level-2 caches
# of a stdlib copy with `find -name '*.opt-2.pyc' -delete` (no fingerprints, no journal, no rollback) versus
# `pyfloppy plan drop-opt2` + `pyfloppy apply` (fingerprints and SHA-256 checked, every name journaled, then
# committed). Also times plan and apply of sourceless,dedup alone. Fresh copies (cp -a) on the same file
# system for every run, untimed.
# usage: bench/apply.sh [STDLIB] [reps]   (default: the stdlib of the small corpus of ../shared/bench/corpus.sh, 3 reps)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
src=${1:-/tmp/pyfloppy-bench/small/python3.13}
reps=${2:-3}
[ -d "$src" ] || src=/root/.pyenv/versions/3.13.0/lib/python3.13
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
. "$here/lib.sh"
cli=(node "$repo/bin/pyfloppy.js")
work=$(mktemp -d /tmp/pyfloppy-bench-apply.XXXXXX)
trap 'rm -rf "$work"' EXIT
fresh() { rm -rf "$work/t"; cp -a "$src" "$work/t"; sync; }
plan_apply() { "${cli[@]}" plan "$1" "$work/t" -o "$work/plan.json" && "${cli[@]}" apply "$work/plan.json"; }
fs=(); ps=(); sp=(); sa=()
for _ in $(seq "$reps"); do
  fresh; fs+=("$(timeit find "$work/t" -name '*.opt-2.pyc' -delete)")
  fresh; ps+=("$(timeit plan_apply drop-opt2)")
  fresh; sp+=("$(timeit "${cli[@]}" plan sourceless,dedup "$work/t" -o "$work/plan.json")")
  sa+=("$(timeit "${cli[@]}" apply "$work/plan.json")")
done
f=$(printf '%s\n' "${fs[@]}" | median); p=$(printf '%s\n' "${ps[@]}" | median)
s1=$(printf '%s\n' "${sp[@]}" | median); s2=$(printf '%s\n' "${sa[@]}" | median)
files=$(find "$src" -type f | wc -l)
printf '%s files=%s find_delete_s=%.3f plan_apply_drop_opt2_s=%.3f ratio=%.2f plan_sourceless_dedup_s=%.3f apply_s=%.3f\n  (find: %s | plan+apply: %s | plan: %s | apply: %s)\n' \
  "$src" "$files" "$f" "$p" "$(echo "$p / $f" | bc -l)" "$s1" "$s2" "${fs[*]}" "${ps[*]}" "${sp[*]}" "${sa[*]}"
