#!/usr/bin/env bash
# zip-stdlib (issue 7): `pyfloppy plan zip-stdlib` + `pyfloppy apply` (every member fingerprinted and hashed,
# the archive built to the plan's SHA-256, every removal journaled, then committed) versus the unguarded way:
# CPython's zipfile writing the same members at the same deflate level, then os.unlink of the same files
# (the member and removal lists are taken from the plan, so both do the same work). Fresh copies at
# WORK/lib/python3.13 (a stdlib root needs that shape) on the same file system for every run, untimed.
# usage: bench/zip.sh [STDLIB] [reps]   (default: the stdlib of the small corpus of ../shared/bench/corpus.sh, 3 reps)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
src=${1:-/tmp/pyfloppy-bench/small/python3.13}
reps=${2:-3}
[ -d "$src" ] || src=/root/.pyenv/versions/3.13.0/lib/python3.13
py=${PYTHON:-/root/.pyenv/versions/3.13.0/bin/python3.13}
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
. "$here/lib.sh"
cli=(node "$repo/bin/pyfloppy.js")
work=$(mktemp -d /tmp/pyfloppy-bench-zip.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/lib/python3.13"
fresh() { rm -rf "$work/lib"; mkdir -p "$work/lib"; cp -a "$src" "$root"; sync; }
plan_apply() { "${cli[@]}" plan zip-stdlib "$root" -o "$work/plan.json" && "${cli[@]}" apply "$work/plan.json"; }
# The peer: what a packager's script would do with zipfile, given the same lists.
peer() {
  "$py" - "$work/lists.json" <<'PY'
import json, os, sys, zipfile
p = json.load(open(sys.argv[1]))
root = p["root"]
z = [o for o in p["operations"] if o["op"] == "zip"][0]
with zipfile.ZipFile(os.path.join(root, z["path"]), "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
    for m in z["members"]:
        zf.write(os.path.join(root, m["from"]), m["name"])
for o in p["operations"]:
    if o["op"] == "remove":
        os.unlink(os.path.join(root, o["path"]))
for o in p["operations"]:
    if o["op"] == "rmdir":
        os.rmdir(os.path.join(root, o["path"]))
PY
}
fresh; "${cli[@]}" plan zip-stdlib "$root" -o "$work/lists.json" >/dev/null
zs=(); ps=()
for _ in $(seq "$reps"); do
  fresh; zs+=("$(timeit peer)")
  [ -f "$work/lib/python313.zip" ] || { echo "the peer wrote no archive" >&2; exit 1; }
  fresh; ps+=("$(timeit plan_apply)")
  [ -f "$work/lib/python313.zip" ] || { echo "pyfloppy wrote no archive" >&2; exit 1; }
done
z=$(printf '%s\n' "${zs[@]}" | median); p=$(printf '%s\n' "${ps[@]}" | median)
members=$(grep -c '"name"' "$work/lists.json" || true)
printf '%s members=%s zipfile_unlink_s=%.3f plan_apply_zip_stdlib_s=%.3f ratio=%.2f\n  (zipfile: %s | plan+apply: %s)\n' \
  "$src" "$members" "$z" "$p" "$(echo "$p / $z" | bc -l)" "${zs[*]}" "${ps[*]}"
