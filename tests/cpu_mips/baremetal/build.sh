#!/bin/sh
# Build the bare-metal test program: build.sh el|eb OUT.elf (needs Debian's cross gcc)
set -e
cd "$(dirname "$0")"
case "$1" in el) cc=mipsel-linux-gnu-gcc ;; eb) cc=mips-linux-gnu-gcc ;; *) exit 2 ;; esac
exec $cc -march=mips32r2 -mabi=32 -mhard-float -mfp32 -O2 -nostdlib -static -ffreestanding \
    -fno-pic -mno-abicalls -G0 -fno-builtin -fno-math-errno -Wl,--build-id=none \
    -T link.ld start.S prog.c -o "$2" -lgcc
