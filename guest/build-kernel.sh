#!/usr/bin/env bash
# Builds one guest kernel (i386, for v86) from Debian's linux-source-<version>:
#   guest/build-kernel.sh 6.12     -> guest/build/bzImage-6.12, guest/kernel-6.12.config
# `make ARCH=i386 tinyconfig`, then every option of kernel.config.fragment, then
# olddefconfig; it fails if an option of the fragment did not end up enabled
# (renamed or with an unmet dependency in that version).
# Needs: apt-get install linux-source-<version> gcc-multilib bc bison flex libelf-dev
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ver="${1:?usage: build-kernel.sh <version, e.g. 6.1 or 6.12>}"
build="$here/build"
tree="$build/linux-$ver"
mkdir -p "$build"
src="/usr/src/linux-source-$ver.tar.xz"
[ -f "$src" ] || { echo "$src missing: apt-get install linux-source-$ver" >&2; exit 1; }
if [ ! -d "$tree" ]; then
  tar -C "$build" -xf "$src"
  mv "$build/linux-source-$ver" "$tree"
fi
cd "$tree"
make ARCH=i386 tinyconfig >/dev/null
opts=()
wanted=()
while read -r o; do
  case "$o" in ''|'#'*) continue ;; esac
  opts+=(--enable "$o")
  wanted+=("$o")
done < "$here/kernel.config.fragment"
scripts/config "${opts[@]}"
make ARCH=i386 olddefconfig >/dev/null
missing=()
for o in "${wanted[@]}"; do grep -qx "CONFIG_$o=y" .config || missing+=("$o"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Linux $ver: not enabled after olddefconfig: ${missing[*]}" >&2
  exit 1
fi
make ARCH=i386 -j"$(nproc)" bzImage
cp arch/x86/boot/bzImage "$build/bzImage-$ver"
cp .config "$here/kernel-$ver.config"
echo "kernel $ver: $build/bzImage-$ver ($(stat -c %s "$build/bzImage-$ver") bytes)"
