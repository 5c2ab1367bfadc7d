#!/usr/bin/env bash
# analyze of a container image against unpacking it and analyzing the result (issue: "analyze of an image of
# the large corpus against unpacking it (umoci unpack or tar -x of each layer) plus analyze of the result").
# The image: one gzip layer per pyenv version of the large corpus, at /opt/VERSION/lib (GNU tar makes each
# layer, umoci adds it). Timed in one run, alternating, on a warm page cache:
#   image:  pyfloppy analyze OCI-LAYOUT --json --no-strategies  (streams every layer once, writes nothing)
#   umoci:  umoci unpack --rootless + pyfloppy analyze ROOTFS --json --no-strategies
#   tar:    tar -xzf of each layer into one directory + pyfloppy analyze ROOTFS --json --no-strategies
# (the footprint alike: --no-strategies everywhere; removing the unpacked tree is not timed.) Prints median
# wall and CPU seconds, the ratios image/umoci and image/tar (goal: at most 0.5), analyze's max RSS on the image.
# usage: bench/image.sh [reps]       (default 3; corpora from ../shared/bench/corpus.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
base=${BENCH_DIR:-/tmp/pyfloppy-bench}
reps=${1:-3}
[ -d "$base/large" ] || bash "$repo/../shared/bench/corpus.sh" >&2
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
. "$here/lib.sh"

img="$base/image-large"
if [ ! -f "$img/index.json" ]; then
  rm -rf "$img" && umoci init --layout "$img" && umoci new --image "$img:large"
  for v in "$base"/large/*; do
    name=$(basename "$v")
    tar --format=pax -cf "$base/layer.tar" -C "$base/large" --transform "s,^$name,opt/$name/lib," "$name"
    umoci raw add-layer --image "$img:large" --history.created_by "COPY $name/lib /opt/$name/lib" "$base/layer.tar"
  done
  rm -f "$base/layer.tar"
fi
layers() { python3 -c "
import json, sys
d = sys.argv[1]
m = json.load(open(d + '/index.json'))['manifests'][0]['digest'].split(':')[1]
for l in json.load(open(d + '/blobs/sha256/' + m))['layers']: print(d + '/blobs/sha256/' + l['digest'].split(':')[1])
" "$img"; }

out="$base/image-unpacked"
pf="node $repo/bin/pyfloppy.js"
direct="$pf analyze $img --json --no-strategies"
via_umoci="umoci unpack --rootless --image $img:large $out && $pf analyze $out/rootfs --json --no-strategies"
via_tar="mkdir -p $out && for l in $(layers | tr '\n' ' '); do tar -xzf \$l -C $out; done && $pf analyze $out --json --no-strategies"
# Wall and CPU (user + sys, children included) seconds of a command line; the machine is shared, so CPU
# seconds are the steadier figure.
measure() {
  /usr/bin/time -f '%e %U %S' -o "$base/time.out" bash -c "$1" >/dev/null 2>&1 || true
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$base/time.out"
}

bash -c "$direct" >/dev/null
ims=(); ums=(); tas=()
for _ in $(seq "$reps"); do
  ims+=("$(measure "$direct")")
  rm -rf "$out"
  ums+=("$(measure "$via_umoci")")
  rm -rf "$out"
  tas+=("$(measure "$via_tar")")
  rm -rf "$out"
done
rss=$( { /usr/bin/time -f '%M' $direct >/dev/null; } 2>&1 | tail -1)
col() { printf '%s\n' "${@:2}" | cut -d' ' -f"$1" | median; }
iw=$(col 1 "${ims[@]}"); ic=$(col 2 "${ims[@]}"); uw=$(col 1 "${ums[@]}"); uc=$(col 2 "${ums[@]}")
tw=$(col 1 "${tas[@]}"); tc=$(col 2 "${tas[@]}")
printf 'image-large layers=%s stored_MiB=%s max_rss_MiB=%d\n' "$(layers | wc -l)" "$(du -sm "$img" | cut -f1)" "$((rss / 1024))"
printf '  wall s: image=%.1f umoci+analyze=%.1f tar+analyze=%.1f  ratio_umoci=%.2f ratio_tar=%.2f\n' \
  "$iw" "$uw" "$tw" "$(echo "$iw / $uw" | bc -l)" "$(echo "$iw / $tw" | bc -l)"
printf '  cpu s:  image=%.1f umoci+analyze=%.1f tar+analyze=%.1f  ratio_umoci=%.2f ratio_tar=%.2f\n' \
  "$ic" "$uc" "$tc" "$(echo "$ic / $uc" | bc -l)" "$(echo "$ic / $tc" | bc -l)"
echo "  (wall cpu per run: image: ${ims[*]} | umoci: ${ums[*]} | tar: ${tas[*]})"
