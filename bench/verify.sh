#!/usr/bin/env bash
# verify against CPython's own regression tests, layout by layout (issue 12's table). For one CPython
# (default 3.13): a copy of its whole stdlib (test package included) at PREFIX/lib/pythonX.Y, `verify
# --regrtest` (the default selection, -j = cores) at levels 0, 1, 2 on it (the baseline, timed, with and
# without --regrtest), then for each layout a fresh copy, `plan` + `apply`, and `verify --regrtest
# --baseline`. Prints one line per layout and level: regression tests newly failing, import write attempts,
# modules whose traceback lines / __file__ / getsource were lost, test packages no longer discovered.
# usage: [LAYOUTS="a b"] bench/verify.sh [3.13|3.12|3.8] [LEVELS]      (default: 3.13, 0,1,2)
# The runtime (no-bytecode, pysources, +fallback) gets its caches compiled by that interpreter.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ver=${1:-3.13}
levels=${2:-0,1,2}
py=$(ls -d /root/.pyenv/versions/"$ver".*/bin/python | tail -1)
lib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
P="node $repo/bin/pyfloppy.js"
work=$(mktemp -d "${WORK_DIR:-/dev/shm}/pyfloppy-bench-verify.XXXXXX")
trap 'rm -rf "$work"' EXIT
copy() { mkdir -p "$work/$1/lib"; cp -a "$lib" "$work/$1/lib/"; echo "$work/$1/lib/$(basename "$lib")"; }

orig=$(copy orig)
t0=$(date +%s.%N)
$P verify "$orig" --python "$py" --levels "$levels" --output "$work/imports.json" >/dev/null || true
t1=$(date +%s.%N)
$P verify "$orig" --python "$py" --levels "$levels" --regrtest --output "$work/base.json" >/dev/null || true
t2=$(date +%s.%N)
printf 'CPython %s, levels %s, %s cores: verify %.0f s, verify --regrtest %.0f s (baseline)\n' \
  "$("$py" -c 'import platform; print(platform.python_version())')" "$levels" "$(nproc)" \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
node -e '
const r = require(process.argv[1]);
for (const l of r.levels) console.log(`  baseline level ${l.level}: ${l.ok}/${l.modules} modules import; regrtest failing: ${l.regrtest.failed.map((f) => f.test).join(" ") || "none"} (${l.regrtest.seconds} s)`);
' "$work/base.json"

summary='
const r = require(process.argv[1]);
const g = r.baseline.regressions;
for (const l of r.levels) {
  const at = g.filter((x) => x.level === l.level);
  const n = (k, c) => at.filter((x) => x.kind === k && (c === undefined || x.check === c)).length;
  const tests = at.filter((x) => x.kind === "regrtest").map((x) => x.test);
  const w = l.writes.filter((x) => x.by !== "module").length;
  console.log(`  ${process.argv[2]} level ${l.level}: regrtest newly failing ${tests.length} (${tests.join(" ")}); import writes ${w}; lost: lines ${n("behaviour","lines")}, __file__ ${n("behaviour","file")}, getsource ${n("behaviour","getsource")}; test packages ${n("tests")}; imports ${n("failed") + n("missing")} (${Math.round(r.seconds)} s)`);
}'
for layout in ${LAYOUTS:-drop-opt2,dedup no-bytecode zip-stdlib sourceless,dedup pysources drop-optimized+fallback}; do
  rm -rf "${work:?}/t"
  t=$(copy t)
  $P plan "$layout" "$t" --python "$py" -o "$work/plan.json" >/dev/null
  $P apply "$work/plan.json" >/dev/null
  # The judge: the test package as it was (as a distribution's separate test-suite package installs it).
  # A layout would otherwise reach the tests themselves: sourceless test modules are not found by regrtest
  # or unittest's discovery and inspect their own __file__. (--tests-from, a copy elsewhere on PYTHONPATH,
  # fails test_importlib and test_site on the untouched tree: they locate the stdlib from the tests.)
  rm -rf "$t/test"
  cp -a "$orig/test" "$t/test"
  s0=$(date +%s)
  $P verify "$t" --python "$py" --levels "$levels" --regrtest --baseline "$work/base.json" --json >"$work/after.json" || true
  s1=$(date +%s)
  node -e "const f=require('fs');const r=JSON.parse(f.readFileSync('$work/after.json'));r.seconds=$s1-$s0;f.writeFileSync('$work/after.json',JSON.stringify(r))"
  node -e "$summary" "$work/after.json" "$layout"
done
