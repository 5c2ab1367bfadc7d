#!/usr/bin/env bash
# dedup against the peers named in the design, on fresh copies of a corpus (../shared/bench/peers.sh):
# util-linux hardlink -c (and restricted to .pyc), jdupes -r -L, rdfind -makehardlinks, the distributions'
# cmp + ln shell loop, and pyfloppy dedup / dedup --all. Prints median wall seconds and MiB saved per tool.
# usage: bench/dedup.sh small|large [reps]      (needs: apt-get install jdupes rdfind)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
corpus=${1:-small}
reps=${2:-3}
base=${BENCH_DIR:-/tmp/pyfloppy-bench}
[ -d "$base/$corpus" ] || bash "$repo/../shared/bench/corpus.sh" >&2
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
for tool in hardlink jdupes rdfind; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done
bash "$repo/../shared/bench/peers.sh" "$corpus" "$reps" \
  "pyfloppy=node $repo/bin/pyfloppy.js dedup {}" \
  "pyfloppy-all=node $repo/bin/pyfloppy.js dedup --all {}"
