#!/usr/bin/env bash
# check against analyze on an installed stdlib (issue 6: check must finish in under 2x analyze's wall time).
# Both read the same tree: analyze scans, compares levels and compresses everything for its estimates; check
# scans, compares levels, and reads and unmarshals every distinct cache.
# usage: bench/check.sh [PYTHON] [reps]   (default: /root/.pyenv/versions/3.13.0/bin/python3.13, 5 reps)
# Runs alternate, on a warm page cache (one untimed run of each first); prints median wall seconds and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
py=${1:-/root/.pyenv/versions/3.13.0/bin/python3.13}
reps=${2:-5}
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
lib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')

. "$here/lib.sh"

cli=(node "$repo/bin/pyfloppy.js")
"${cli[@]}" analyze "$lib" --json >/dev/null; "${cli[@]}" check "$lib" --json >/dev/null || true
ans=(); cis=(); cps=()
for _ in $(seq "$reps"); do
  ans+=("$(timeit "${cli[@]}" analyze "$lib" --json)")
  cis+=("$(timeit "${cli[@]}" check "$lib" --json)")
  cps+=("$(timeit "${cli[@]}" check "$lib" --json --python "$py")")
done
a=$(printf '%s\n' "${ans[@]}" | median); ci=$(printf '%s\n' "${cis[@]}" | median); cp=$(printf '%s\n' "${cps[@]}" | median)
caches=$(find "$lib" -name '*.pyc' | wc -l)
printf '%s caches=%s analyze_s=%.3f check_s=%.3f ratio=%.2f check_python_s=%.3f ratio=%.2f\n  (analyze: %s | check: %s | check --python: %s)\n' \
  "$lib" "$caches" "$a" "$ci" "$(echo "$ci / $a" | bc -l)" "$cp" "$(echo "$cp / $a" | bc -l)" "${ans[*]}" "${cis[*]}" "${cps[*]}"
