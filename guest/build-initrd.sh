#!/usr/bin/env bash
# Builds the guest's initramfs: busybox (Debian's busybox-static:i386), our
# aplay/arecord/speaker-test/latency (guest/tools/vsnd.c, static i386) and /test.wav.
# One initrd for every kernel.
# Needs: dpkg --add-architecture i386; apt-get install busybox-static:i386 gcc-multilib cpio
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/build"
root="$build/rootfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
busybox=$(dpkg -L busybox-static:i386 | grep '/bin/busybox$')
file "$busybox" | grep -q 'Intel 80386' || { echo "busybox is not i386: $busybox" >&2; exit 1; }
cp "$busybox" "$root/bin/busybox"
# 64-bit time_t: the kernels are built without the 32-bit time system calls (COMPAT_32BIT_TIME).
gcc -m32 -static -O2 -Wall -Wextra -Werror -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
  -o "$root/bin/vsnd" "$here/tools/vsnd.c" -lm
strip "$root/bin/vsnd"
for n in aplay arecord speaker-test latency; do ln -s vsnd "$root/bin/$n"; done
install -m 0755 "$here/init" "$root/init"
# /test.wav: 2 s of a 997 Hz sine, S16 stereo at 48 kHz (right = -left); e2e/guest.spec.ts
# computes the same samples.
python3 - "$root/test.wav" <<'PY'
import math, struct, sys
rate, frames = 48000, 96000
data = bytearray()
for f in range(frames):
    v = round(math.sin(2 * math.pi * 997 * f / rate) * 20000)
    data += struct.pack('<hh', v, -v)
hdr = b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVEfmt ' + struct.pack('<IHHIIHH', 16, 1, 2, rate, rate * 4, 4, 16) + b'data' + struct.pack('<I', len(data))
open(sys.argv[1], 'wb').write(hdr + data)
PY
# Reproducible: the same inputs give the same bytes (no build times, inode or device numbers).
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet | gzip -9n) > "$build/initrd.img"
echo "initrd: $build/initrd.img ($(stat -c %s "$build/initrd.img") bytes)"
