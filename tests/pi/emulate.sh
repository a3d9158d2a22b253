#!/usr/bin/env bash
# make test-pi, host side: an emulated 64-bit Raspberry Pi OS Lite (Debian bookworm arm64, QEMU
# user mode), kerfer installed in it with README's Pi command, and kerfer's Pi commands run there.
#
#   tests/pi/emulate.sh OUT      writes OUT/*.txt|json|csv for tests/test_pi_emulated.py to compare
#
# Raspberry Pi OS is Debian bookworm for arm64 plus the Pi's own packages: a minbase debootstrap with
# python3, python3-venv and Debian's numpy is the Lite image's userland as kerfer meets it (no X or
# GL libraries). The pristine root filesystem is built once and cached (KERFER_PI_CACHE, default
# ~/.cache/kerfer/pi); every run works in a fresh copy, so README's apt line is exercised each time.
# Needs root (binfmt_misc, chroot) and the package registries (Debian's mirror, PyPI); reads the
# Debian mirror and pip's settings from this machine's own configuration and writes neither down.
set -euo pipefail

OUT=$(realpath -m "${1:?usage: emulate.sh OUT}")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=${KERFER_SHARED:-$REPO/../shared}
CACHE=${KERFER_PI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kerfer/pi}
SUITE=bookworm
# What the Lite image has that minbase lacks and kerfer's install needs. python3-numexpr stands in for
# python3-picamera2's compiled helpers (simplejpeg, pidng): Debian builds it against its numpy 1.24,
# so it stops importing if the venv's numpy is 2.x, as they do.
PACKAGES=python3,python3-venv,python3-numpy,python3-numexpr,ca-certificates
# README's line for Lite: OpenCV's wheel links X/GL libraries that only Desktop has. Fetched into the
# cached image's apt cache when it is built, installed in each run's copy.
LITE_LIBS="libgl1 libglib2.0-0"
KEY=$(printf '%s|%s|%s|v1' "$SUITE" "$PACKAGES" "$LITE_LIBS" | sha256sum | cut -c1-12)
PRISTINE=$CACHE/rootfs-$KEY
WORK=$CACHE/run

log() { printf 'test-pi: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (binfmt_misc and chroot)"
[ -d "$SHARED/media" ] || die "no $SHARED/media (set KERFER_SHARED)"

need_tools() {
    command -v debootstrap >/dev/null && [ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] && return
    log "installing debootstrap and qemu-user-static"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap qemu-user-static >/dev/null
}

need_binfmt() {
    local dir=/proc/sys/fs/binfmt_misc
    [ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir"
    if [ ! -e "$dir/qemu-aarch64" ]; then
        # Debian's own registration line; its F flag lets the chroot run without a copy of QEMU inside.
        cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$dir/register"
    fi
    grep -q enabled "$dir/qemu-aarch64" || die "qemu-aarch64 is registered but disabled in binfmt_misc"
}

host_mirror() {
    # The first Debian archive this machine's apt uses (deb822 or one-line format).
    local uri
    uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1)
    [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n1)
    [ -n "$uri" ] || die "no Debian mirror in /etc/apt (sources.list or sources.list.d/*.sources)"
    printf '%s\n' "$uri"
}

board_files() {
    # What a Raspberry Pi 4 shows its programs of its CPU: /proc/cpuinfo (four Cortex-A72 cores) and
    # the CPU lists under /sys. QEMU's user mode would show the host's x86 /proc/cpuinfo, and the
    # host's /sys makes LiteRT segfault under QEMU; with neither, XNNPACK's CPU detection fails and
    # LiteRT falls back to its reference kernels, which a real Pi never runs. With these, kerfer
    # runs the same XNNPACK NEON kernels as on a Pi 4.
    local dir=$1 n
    mkdir -p "$dir/sys/devices/system/cpu"
    : >"$dir/cpuinfo"
    for n in 0 1 2 3; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$n" >>"$dir/cpuinfo"
        mkdir -p "$dir/sys/devices/system/cpu/cpu$n"
    done
    printf 'Hardware\t: BCM2835\nRevision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n' >>"$dir/cpuinfo"
    for n in possible present online; do echo 0-3 >"$dir/sys/devices/system/cpu/$n"; done
}

mount_into() {  # the chroot's /proc and /dev, and the Pi 4's CPU description (board_files)
    mount -t proc proc "$1/proc"
    mount --bind /dev "$1/dev"
    mount -t devpts devpts "$1/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null || true
    board_files "$CACHE/board"
    mount --bind "$CACHE/board/cpuinfo" "$1/proc/cpuinfo"
    mount --bind "$CACHE/board/sys" "$1/sys"
}

unmount_from() {
    local m
    for m in home/pi/.cache/pip sys proc/cpuinfo dev/pts dev proc; do
        umount -l "$1/$m" 2>/dev/null || true
    done
    return 0
}

build_rootfs() {
    local mirror tmp
    mirror=$(host_mirror)
    tmp=$CACHE/building
    unmount_from "$tmp" 2>/dev/null || true
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "building the arm64 root filesystem once (~4-8 min; cached in $CACHE)"
    debootstrap --foreign --arch=arm64 --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
        || die "debootstrap failed: see $CACHE/debootstrap.log"
    chroot "$tmp" /debootstrap/debootstrap --second-stage >>"$CACHE/debootstrap.log" 2>&1 \
        || die "debootstrap's second stage failed: see $CACHE/debootstrap.log"
    printf 'deb %s %s main\n' "$mirror" "$SUITE" >"$tmp/etc/apt/sources.list"
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    mount_into "$tmp"
    chroot "$tmp" sh -c "apt-get update -q && apt-get install -y -q --download-only $LITE_LIBS" \
        >>"$CACHE/debootstrap.log" 2>&1 || { unmount_from "$tmp"; die "apt in the root filesystem failed: see $CACHE/debootstrap.log"; }
    unmount_from "$tmp"
    rm -rf "$PRISTINE"
    mv "$tmp" "$PRISTINE"
}

pip_conf() {
    # This machine's pip settings, less what points at local x86-64 files (file:// indexes,
    # find-links, constraints); PIP_* variables fill in what the files do not set.
    local py=${PYTHON:-python3} key value
    declare -A conf=()
    while read -r key value; do
        case "$key" in
            find-links|constraint) continue ;;
            index-url|extra-index-url)
                value=$(printf '%s\n' $value | { grep -v '^file:' || true; } | tr '\n' ' ')
                value=${value% } ;;
        esac
        [ -n "$value" ] && conf[$key]=$value
    done < <("$py" -m pip config list 2>/dev/null | sed -n "s/^global\.\([a-z-]*\)='\(.*\)'$/\1 \2/p")
    [ -n "${PIP_CERT:-}" ] && [ -z "${conf[cert]:-}" ] && conf[cert]=$PIP_CERT
    [ -n "${PIP_INDEX_URL:-}" ] && [[ $PIP_INDEX_URL != file:* ]] && [ -z "${conf[index-url]:-}" ] && conf[index-url]=$PIP_INDEX_URL
    [ -n "${PIP_DEFAULT_TIMEOUT:-}" ] && [ -z "${conf[timeout]:-}" ] && conf[timeout]=$PIP_DEFAULT_TIMEOUT
    echo "[global]"
    for key in "${!conf[@]}"; do
        printf '%s = %s\n' "$key" "${conf[$key]}"
    done
}

need_tools
need_binfmt
mkdir -p "$CACHE"
[ -d "$PRISTINE" ] || build_rootfs

unmount_from "$WORK" 2>/dev/null || true
rm -rf "$WORK"
cp -a "$PRISTINE" "$WORK"
trap 'unmount_from "$WORK"' EXIT
cp /etc/resolv.conf "$WORK/etc/resolv.conf"
pip_conf >"$WORK/etc/pip.conf"
cert=$(sed -n 's/^cert = //p' "$WORK/etc/pip.conf" | head -n1)
if [ -n "$cert" ] && [ -f "$cert" ]; then
    mkdir -p "$WORK$(dirname "$cert")"
    cp "$cert" "$WORK$cert"
fi

# The checkout as it is now (tracked and untracked files git does not ignore), the media, the fake camera.
home=$WORK/home/pi
mkdir -p "$home/kerfer" "$home/media" "$home/out"
(cd "$REPO" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$home/kerfer")
cp "$SHARED/media/two_people.jpg" "$SHARED/media/test.mp4" "$home/media/"
cp -r "$HERE/fake_picamera2/picamera2" "$WORK/usr/lib/python3/dist-packages/"
cp "$HERE/inside.sh" "$home/inside.sh"
# Debian's python3 resolves its packages under /usr/lib/python3/dist-packages, which is where
# Raspberry Pi OS's python3-picamera2 lies too.

mount_into "$WORK"
# pip's download cache outlives the copy, so a run with the image cached downloads nothing twice.
mkdir -p "$CACHE/pip-cache" "$home/.cache/pip"
mount --bind "$CACHE/pip-cache" "$home/.cache/pip"
log "running README's Pi install and kerfer's commands under emulation (~3-6 min)"
status=0
# QEMU_CPU: QEMU emulates a Pi 4's Cortex-A72 (the board files above describe it), not its default
# "max" CPU, whose extra extensions (i8mm, SVE, ...) no Pi has: with them LiteRT's XNNPACK takes
# int8 kernels that came out wrong under this QEMU (every face "sad"), while the Pi's own cores
# (Cortex-A72, and Pi 5's A76 in inside.sh) give this machine's outputs exactly.
chroot "$WORK" /usr/bin/env -i HOME=/home/pi PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 QEMU_CPU=cortex-a72 \
    bash /home/pi/inside.sh >"$CACHE/inside.log" 2>&1 || status=$?
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$home/out/." "$OUT/"
cp "$CACHE/inside.log" "$OUT/inside.log"
[ "$status" = 0 ] || die "the emulated run failed (exit $status): see $OUT/inside.log"
log "done: $OUT"
