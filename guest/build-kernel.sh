#!/usr/bin/env bash
# Builds the guest kernel (i386, for v86) from Debian's linux-source-6.1.
# Needs: apt-get install linux-source-6.1 gcc-multilib bc bison flex libelf-dev
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/build"
mkdir -p "$build"
src=$(ls /usr/src/linux-source-6.1.tar.xz)
if [ ! -d "$build/linux" ]; then
  tar -C "$build" -xf "$src"
  mv "$build"/linux-source-6.1 "$build/linux"
fi
cd "$build/linux"
make ARCH=i386 tinyconfig >/dev/null
opts=()
while read -r o; do
  case "$o" in ''|'#'*) continue ;; esac
  opts+=(--enable "$o")
done < "$here/kernel.config.fragment"
scripts/config "${opts[@]}"
make ARCH=i386 olddefconfig >/dev/null
make ARCH=i386 -j"$(nproc)" bzImage
cp arch/x86/boot/bzImage "$build/bzImage"
cp .config "$here/kernel.config"
echo "kernel: $build/bzImage ($(stat -c %s "$build/bzImage") bytes)"
