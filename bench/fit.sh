#!/usr/bin/env bash
# `pyfloppy fit` on a real site-packages (issue 15): a copy of the pyenv 3.11 site-packages (608 MB here) and
# of Debian's /usr/lib/python3/dist-packages, each against budgets; where a set fits, its plan is applied
# and the tree measured with `du --apparent-size`. Prints, per tree and budget: fit's verdict (chosen or
# closest set, its constraints, the size it predicts), sets measured, fit's wall seconds, and du after apply.
# usage: bench/fit.sh [BUDGET...]   (default: 250MB 400MB; SITE=DIR for another tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
budgets=("$@")
[ ${#budgets[@]} -gt 0 ] || budgets=(250MB 400MB)
trees=("${SITE:-$(ls -d /root/.pyenv/versions/3.11.*/lib/python3.11/site-packages | head -1)}" /usr/lib/python3/dist-packages)
work=$(mktemp -d "${WORK_DIR:-/dev/shm}/pyfloppy-bench-fit.XXXXXX")
trap 'rm -rf "$work"' EXIT
for src in "${trees[@]}"; do
  [ -d "$src" ] || continue
  for b in "${budgets[@]}"; do
    rm -rf "$work/t"; cp -a "$src" "$work/t"; sync
    before=$(du -s --apparent-size -B1 "$work/t" | cut -f1)
    s=$(date +%s.%N)
    node "$repo/bin/pyfloppy.js" fit --budget "$b" "$work/t" -o "$work/plan.json" --json >"$work/fit.json" || true
    e=$(date +%s.%N)
    verdict=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const c = r.chosen ?? r.closest;
      console.log(`${r.fits ? "fits" : "no fit, closest"} [${c.strategies.join(",") || "nothing"}] constraints [${c.constraints}] size ${c.size} over ${r.over} measured ${r.measured}/${r.candidates}`);
    ' "$work/fit.json")
    after='-'
    if [ -f "$work/plan.json" ]; then
      node "$repo/bin/pyfloppy.js" apply "$work/plan.json" >/dev/null
      after=$(du -s --apparent-size -B1 "$work/t" | cut -f1)
      rm -f "$work/plan.json"
    fi
    printf '%s budget=%s before=%s: %s; fit %.1f s; du after apply %s\n' "$src" "$b" "$before" "$verdict" \
      "$(echo "$e - $s" | bc)" "$after"
  done
done
