#!/usr/bin/env bash
# One command for the v86 guest: installs the Debian packages it is built
# from, builds the kernels and the initramfs (shared by all kernels), and
# copies them (with SeaBIOS and the test WAV) into public/guest/, updating
# guest/SHA256SUMS. Run as root on Debian 12.
#
#   guest/build.sh            # every kernel below (about 5 minutes each on 2 cores)
#   guest/build.sh 6.12       # just that kernel (plus the initrd, BIOS, WAV)
#
# The kernels: Debian source package versions (bookworm-security). Bump a
# version here to rebuild from a newer Debian revision.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
declare -A linux_source=(
  [6.1]=6.1.192-2          # Debian 12's kernel: virtio_snd without the ack callback
  [6.12]=6.12.117-1~deb12u1 # current LTS (>= 6.8): TX periods are sent once written (ack)
)
if [ $# -gt 0 ]; then kernels=("$@"); else kernels=(6.1 6.12); fi
pkgs=()
for v in "${kernels[@]}"; do
  [ -n "${linux_source[$v]:-}" ] || { echo "unknown kernel $v (known: ${!linux_source[*]})" >&2; exit 1; }
  pkgs+=("linux-source-$v=${linux_source[$v]}")
done
if ! dpkg --print-foreign-architectures | grep -qx i386; then dpkg --add-architecture i386; fi
apt-get update || echo "apt-get update exited $? (continuing)"
DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" \
  gcc-multilib bc bison flex libelf-dev cpio python3 file seabios busybox-static:i386
out="$here/../public/guest"
mkdir -p "$out"
for v in "${kernels[@]}"; do
  "$here/build-kernel.sh" "$v"
  cp "$here/build/bzImage-$v" "$out/"
done
"$here/build-initrd.sh"
cp "$here/build/initrd.img" "$here/build/rootfs/test.wav" "$out/"
cp /usr/share/seabios/bios.bin /usr/share/seabios/vgabios-stdvga.bin "$out/"
(cd "$out" && sha256sum bios.bin bzImage-* initrd.img test.wav vgabios-stdvga.bin) > "$here/SHA256SUMS"
dpkg-query -W -f='${Package} ${Version}\n' "${pkgs[@]%%=*}" busybox-static:i386 seabios gcc-12
cat "$here/SHA256SUMS"
