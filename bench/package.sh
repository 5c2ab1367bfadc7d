#!/usr/bin/env bash
# analyze of a ~100 MB package against unpacking it and analyzing the directory (issue 15: "analyze of a
# ~100 MB wheel or RPM against unpacking it plus analyze of the directory, ratio in one run, goal at most
# 0.5x"). The corpus: the 3.10 pyenv library without its test package (~115 MB: sources, caches at three
# levels, extension modules), packaged twice:
#   rpm:   rpmbuild of /usr/lib/python3.10 with a zstd payload (w3.zstdio, Fedora's kind) and a gzip one
#   wheel: its site-packages-like zip, deflated, written by CPython's zipfile
# Timed in one run, alternating, on a warm page cache (the footprint alike: --no-strategies everywhere;
# removing the unpacked tree is not timed):
#   direct:  pyfloppy analyze PACKAGE --json --no-strategies        (streams it once, writes nothing)
#   unpack:  rpm2cpio | cpio -idm (rpm) or unzip -q (wheel) + pyfloppy analyze DIR --json --no-strategies
# Prints median wall and CPU seconds, the ratio direct/unpack (goal: at most 0.5), analyze's max RSS.
# usage: bench/package.sh [reps]       (default 3; needs rpmbuild, rpm2cpio, cpio, unzip, pyenv's 3.10)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
base=${BENCH_DIR:-/tmp/pyfloppy-bench}/package
reps=${1:-3}
py=${PYFLOPPY_BENCH_PYTHON:-/root/.pyenv/versions/3.10.13/bin/python3.10}
lib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
[ -f "$repo/dist/src/cli/main.js" ] || (cd "$repo" && npm run build >&2)
. "$here/lib.sh"
mkdir -p "$base"

if [ ! -d "$base/stage" ]; then
  mkdir -p "$base/stage/usr/lib" && cp -a "$lib" "$base/stage/usr/lib/"
  rm -rf "$base/stage/usr/lib/python3.10/test"
fi
rpm_of() { # payload (w3.zstdio, w6.gzdio) -> the RPM's path
  local rpm="$base/python310-lib-$1.rpm"
  [ -f "$rpm" ] && { echo "$rpm"; return; }
  rm -rf "$base/top" && mkdir -p "$base/top"
  cat >"$base/top/lib.spec" <<EOF
Name: python310-lib
Version: 1.0
Release: 1
Summary: bench
License: PSF
AutoReqProv: no
%define _binary_payload $1
%define __os_install_post %{nil}
%define debug_package %{nil}
%define _build_id_links none
%description
bench
%install
cp -a $base/stage/. %{buildroot}/
%files
/usr/lib/python3.10
EOF
  rpmbuild --define "_topdir $base/top" -bb "$base/top/lib.spec" >/dev/null 2>&1
  mv "$base"/top/RPMS/*/python310-lib-1.0-1.*.rpm "$rpm"
  echo "$rpm"
}
rpm_zstd=$(rpm_of w3.zstdio)
rpm_gzip=$(rpm_of w6.gzdio)
whl="$base/python310_lib-1.0-py3-none-any.whl"
if [ ! -f "$whl" ]; then
  "$py" - "$base/stage/usr/lib/python3.10" "$whl" <<'EOF'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for top, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(top, f)
            if not os.path.islink(p):
                z.write(p, os.path.relpath(p, src))
    z.writestr('python310_lib-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n')
EOF
fi

out="$base/unpacked"
pf="node $repo/bin/pyfloppy.js"
measure() {
  /usr/bin/time -f '%e %U %S' -o "$base/time.out" bash -c "$1" >/dev/null 2>&1 || true
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$base/time.out"
}
col() { printf '%s\n' "${@:2}" | cut -d' ' -f"$1" | median; }

run() { # name package unpack-command
  local name=$1 pkg=$2 direct="$pf analyze $2 --json --no-strategies" unpack="$3 && $pf analyze $out --json --no-strategies"
  bash -c "$direct" >/dev/null
  local ds=() us=()
  for _ in $(seq "$reps"); do
    ds+=("$(measure "$direct")")
    rm -rf "$out" && mkdir -p "$out"
    us+=("$(measure "$unpack")")
    rm -rf "$out"
  done
  local rss dw dc uw uc
  rss=$( { /usr/bin/time -f '%M' $direct >/dev/null; } 2>&1 | tail -1)
  dw=$(col 1 "${ds[@]}"); dc=$(col 2 "${ds[@]}"); uw=$(col 1 "${us[@]}"); uc=$(col 2 "${us[@]}")
  printf '%s %s MiB (files %s MiB apparent) max_rss_MiB=%d\n' "$name" "$(du -m "$pkg" | cut -f1)" \
    "$(du -sm --apparent-size "$base/stage" | cut -f1)" "$((rss / 1024))"
  printf '  wall s: direct=%.1f unpack+analyze=%.1f ratio=%.2f\n' "$dw" "$uw" "$(echo "$dw / $uw" | bc -l)"
  printf '  cpu s:  direct=%.1f unpack+analyze=%.1f ratio=%.2f\n' "$dc" "$uc" "$(echo "$dc / $uc" | bc -l)"
  echo "  (wall cpu per run: direct: ${ds[*]} | unpack: ${us[*]})"
}
run rpm-zstd "$rpm_zstd" "cd $out && rpm2cpio $rpm_zstd | cpio -idm --quiet"
run rpm-gzip "$rpm_gzip" "cd $out && rpm2cpio $rpm_gzip | cpio -idm --quiet"
run wheel "$whl" "unzip -q $whl -d $out"
