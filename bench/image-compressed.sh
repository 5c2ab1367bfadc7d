#!/usr/bin/env bash
# analyze of a compressed `docker save` archive (gzip, zstd) against the same archive uncompressed: the image
# of bench/image.sh (one layer per pyenv version of the large corpus) as a skopeo docker-archive (layers
# uncompressed, as docker save writes them), then `gzip -c` and `zstd -c` of it. Prints per file its size,
# wall and CPU seconds (user + sys) and max RSS of `pyfloppy analyze FILE --json --no-strategies`, and
# whether the three reports' totals are equal. One run each; the machine is shared, CPU is the steadier figure.
# usage: bench/image-compressed.sh    (needs bench/image.sh's image: run it once first)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
base=${BENCH_DIR:-/tmp/pyfloppy-bench}
img="$base/image-large"
out=${OUT_DIR:-/tmp/pyfloppy-bench-compressed}
[ -f "$img/index.json" ] || { echo "run bench/image.sh first" >&2; exit 2; }
mkdir -p "$out"
[ -f "$out/large.tar" ] || skopeo copy "oci:$img:large" "docker-archive:$out/large.tar:large:latest" >&2
[ -f "$out/large.tar.gz" ] || gzip -c "$out/large.tar" >"$out/large.tar.gz"
[ -f "$out/large.tar.zst" ] || zstd -q -c "$out/large.tar" >"$out/large.tar.zst"
printf '%-14s %12s %8s %8s %10s\n' file bytes wall cpu 'rss MiB'
for f in large.tar large.tar.gz large.tar.zst; do
  /usr/bin/time -f '%e %U %S %M' -o "$out/time.out" node "$repo/bin/pyfloppy.js" analyze "$out/$f" --json \
    --no-strategies >"$out/$f.json"
  read -r wall user sys rss <"$out/time.out"
  printf '%-14s %12d %8.1f %8.1f %10d\n' "$f" "$(stat -c %s "$out/$f")" "$wall" \
    "$(echo "$user + $sys" | bc)" $((rss / 1024))
done
for f in large.tar.gz large.tar.zst; do
  node -e 'const [a,b]=process.argv.slice(1).map(f=>JSON.parse(require("fs").readFileSync(f,"utf8")));
    const s=r=>JSON.stringify([r.totals,r.bytecode,r.image.layers]);
    console.log(process.argv[2].replace(/.*\//,""), s(a)===s(b)?"equal to large.tar":"DIFFERS")' \
    "$out/large.tar.json" "$out/$f.json"
done
