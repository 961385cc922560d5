#!/usr/bin/env bash
# One command for the v86 guest: installs the Debian packages it is built
# from, builds the kernel and the initramfs, and copies them (with SeaBIOS
# and the test WAV) into public/guest/, updating guest/SHA256SUMS.
# About 5 minutes on 2 cores (most of it the kernel). Run as root on Debian 12.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! dpkg --print-foreign-architectures | grep -qx i386; then dpkg --add-architecture i386; fi
apt-get update || echo "apt-get update exited $? (continuing)"
DEBIAN_FRONTEND=noninteractive apt-get install -y \
  linux-source-6.1 gcc-multilib bc bison flex libelf-dev cpio python3 file seabios busybox-static:i386
"$here/build-kernel.sh"
"$here/build-initrd.sh"
out="$here/../public/guest"
mkdir -p "$out"
cp "$here/build/bzImage" "$here/build/initrd.img" "$here/build/rootfs/test.wav" "$out/"
cp /usr/share/seabios/bios.bin /usr/share/seabios/vgabios-stdvga.bin "$out/"
(cd "$out" && sha256sum bios.bin bzImage initrd.img test.wav vgabios-stdvga.bin) > "$here/SHA256SUMS"
cat "$here/SHA256SUMS"
