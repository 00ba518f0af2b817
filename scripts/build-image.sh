#!/usr/bin/env bash
# Builds, once per machine, a small bootable Debian 12 (bookworm) image with cloud-init for the
# local QEMU provider, and prints its directory. The image is cached outside the checkout in
#   $HANGAR_CACHE/images/debian-cloud-<version>/   (version = 12-<hash of this script>)
# holding vmlinuz, initrd.img, disk.qcow2 (ext4 root on the whole disk, label hangar-root) and
# manifest.json. Direct kernel boot (no boot loader): QEMU gets -kernel/-initrd/-append from the
# manifest. cloud-init reads NoCloud seeds only (cidata ISO, SMBIOS/cmdline seed URL).
#
# Safe to re-run: a cached image is a no-op; changing this script changes the version and so
# rebuilds. The build happens in a `.partial` directory that is renamed when complete, under a
# lock, so a reader never sees a half-built image. Needs root (debootstrap, chroot); uses the
# Debian mirror that apt already uses (override: HANGAR_DEBIAN_MIRROR).
# Older cached versions are removed after a successful build (imported templates are copies).
# Options: --force (rebuild even when cached), --print-version.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bookworm
IMAGE_NAME=debian-cloud
ROOT_LABEL=hangar-root
ROOT_SIZE=2G
CMDLINE="root=LABEL=$ROOT_LABEL console=ttyS0 rw"
SCRIPT_PATH="$HANGAR_ROOT/scripts/build-image.sh"
# Everything that shapes the image; its hash names the version.
SCRIPT_HASH="$(cat "$SCRIPT_PATH" $(ls "$HANGAR_ROOT"/scripts/image/* 2>/dev/null | sort) | sha256sum | cut -d' ' -f1)"
IMAGE_VERSION="12-${SCRIPT_HASH:0:12}"
IMAGES_DIR="$HANGAR_CACHE/images"
DEST="$IMAGES_DIR/$IMAGE_NAME-$IMAGE_VERSION"
PARTIAL="$DEST.partial"

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --print-version) echo "$IMAGE_VERSION"; exit 0 ;;
    *) die "unknown option: $arg" ;;
  esac
done

if [ "$FORCE" = 0 ] && [ -f "$DEST/manifest.json" ]; then
  echo "$DEST"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "building the image needs root (debootstrap/chroot): run as root or with sudo"
for cmd in debootstrap mkfs.ext4 qemu-img chroot sha256sum; do
  command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || die "$cmd missing: run scripts/setup-qemu.sh"
done
export PATH="$PATH:/usr/sbin:/sbin"

# The Debian mirror apt uses (deb822 .sources or one-line .list), for the bookworm suite.
debian_mirror() {
  if [ -n "${HANGAR_DEBIAN_MIRROR:-}" ]; then echo "$HANGAR_DEBIAN_MIRROR"; return; fi
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk -v suite="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; ok=0; deb=0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { n=split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
          if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb=1
          if ($i ~ /^Enabled:[ \t]*no/) ok=0
        }
        if (ok && deb && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}

MIRROR="$(debian_mirror)"
mkdir -p "$IMAGES_DIR"
exec 9>"$IMAGES_DIR/.$IMAGE_NAME.lock"
flock -n 9 || { log "another image build is running; waiting for it"; flock 9; }
# Another build may have finished while we waited.
if [ "$FORCE" = 0 ] && [ -f "$DEST/manifest.json" ]; then echo "$DEST"; exit 0; fi

ROOTFS="$PARTIAL/rootfs"
cleanup() {
  local m
  for m in dev/pts dev sys proc; do
    mountpoint -q "$ROOTFS/$m" 2>/dev/null && umount -l "$ROOTFS/$m" || true
  done
}
trap cleanup EXIT
cleanup
rm -rf "$PARTIAL"
mkdir -p "$PARTIAL"

log "building $IMAGE_NAME $IMAGE_VERSION (Debian $SUITE from $MIRROR); this takes a few minutes once"
started=$SECONDS

# 1. Base system. Services installed later must not start inside the chroot.
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR" >"$PARTIAL/debootstrap.log" 2>&1 \
  || { tail -n 40 "$PARTIAL/debootstrap.log" >&2; die "debootstrap failed (log: $PARTIAL/debootstrap.log)"; }
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOTFS/proc"
mount -t sysfs sysfs "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount --bind /dev/pts "$ROOTFS/dev/pts"
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
in_root() { chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# No docs, man pages or translations in the image.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/01-hangar-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF

# 2. The initramfs only needs the drivers for a QEMU VM (virtio disk/net, ext4, the cidata
# CD-ROM); set before the kernel is installed so its postinst builds the small one.
mkdir -p "$ROOTFS/etc/initramfs-tools/conf.d"
echo 'MODULES=list' >"$ROOTFS/etc/initramfs-tools/conf.d/hangar.conf"
cat >>"$ROOTFS/etc/initramfs-tools/modules" <<'EOF'
virtio_pci
virtio_blk
virtio_scsi
virtio_net
virtio_console
ext4
crc32c_generic
sr_mod
isofs
EOF
echo 'do_symlinks = no' >"$ROOTFS/etc/kernel-img.conf"

# 3. Packages: the cloud kernel (VM drivers only), systemd with networkd (no ifupdown), cloud-init, sshd.
PACKAGES=(
  linux-image-cloud-amd64 initramfs-tools systemd-sysv udev dbus kmod
  cloud-init openssh-server sudo iproute2 netbase e2fsprogs python3-requests
)
in_root apt-get update -qq >>"$PARTIAL/apt.log" 2>&1 || { tail -n 40 "$PARTIAL/apt.log" >&2; die "apt-get update in the image failed"; }
in_root apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$PARTIAL/apt.log" 2>&1 \
  || { tail -n 40 "$PARTIAL/apt.log" >&2; die "installing packages in the image failed (log: $PARTIAL/apt.log)"; }

# 4. Configuration.
echo "LABEL=$ROOT_LABEL / ext4 defaults,errors=remount-ro 0 1" >"$ROOTFS/etc/fstab"
echo debian >"$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
# Every VM gets its own machine id and SSH host keys at first boot.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id" "$ROOTFS"/etc/ssh/ssh_host_*
# DHCP (systemd-networkd) fills in DNS at boot; the build host's resolver stays out of the image.
: >"$ROOTFS/etc/resolv.conf"

cat >"$ROOTFS/etc/cloud/cloud.cfg.d/90-hangar.cfg" <<'EOF'
# Hangar image: NoCloud only (cidata ISO, SMBIOS serial or kernel command line seed URL).
datasource_list: [ NoCloud, None ]
# ed25519/ecdsa host keys only: RSA key generation is slow under TCG.
ssh_genkeytypes: [ ed25519, ecdsa ]
# Modules that matter for a small VM; locale, apt, ntp and friends would only slow boot.
cloud_init_modules:
  - seed_random
  - bootcmd
  - write_files
  - resizefs
  - disk_setup
  - mounts
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - users_groups
  - ssh
cloud_config_modules:
  - set_passwords
  - timezone
  - runcmd
cloud_final_modules:
  - write_files_deferred
  - scripts_vendor
  - scripts_per_once
  - scripts_per_boot
  - scripts_per_instance
  - scripts_user
  - ssh_authkey_fingerprints
  - keys_to_console
  - phone_home
  - final_message
  - power_state_change
EOF

# Fast boot: no periodic jobs, short wait for the network, serial console login.
mkdir -p "$ROOTFS/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"$ROOTFS/etc/systemd/system/systemd-networkd-wait-online.service.d/hangar.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=20
EOF
in_root systemctl enable systemd-networkd.service serial-getty@ttyS0.service >>"$PARTIAL/apt.log" 2>&1
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
            systemd-timesyncd.service; do
  in_root systemctl disable "$unit" >/dev/null 2>&1 || true
  in_root systemctl mask "$unit" >/dev/null 2>&1 || true
done
# sshd needs a host key: cloud-init makes them (ordered before ssh.service), but a VM booted
# without any seed still gets an ed25519 key instead of a failing sshd.
mkdir -p "$ROOTFS/etc/systemd/system/ssh.service.d"
cat >"$ROOTFS/etc/systemd/system/ssh.service.d/hangar.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
EOF
mkdir -p "$ROOTFS/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' >"$ROOTFS/etc/systemd/journald.conf.d/hangar.conf"

KVER="$(ls "$ROOTFS/lib/modules" | sort -V | tail -n1)"
[ -n "$KVER" ] || die "no kernel installed in the image"
# The kernel postinst built the initramfs; rebuild once to be sure it has the listed modules.
if [ -f "$ROOTFS/boot/initrd.img-$KVER" ]; then initramfs_op=-u; else initramfs_op=-c; fi
in_root update-initramfs "$initramfs_op" -k "$KVER" >>"$PARTIAL/apt.log" 2>&1 || die "update-initramfs failed"
initramfs_list="$(in_root lsinitramfs "/boot/initrd.img-$KVER")"
for mod in virtio_blk virtio_pci ext4; do
  grep -q "/$mod.ko" "$ROOTFS/lib/modules/$KVER/modules.builtin" 2>/dev/null && continue
  grep -q "/$mod.ko" <<<"$initramfs_list" || die "the initramfs lacks $mod"
done

# 5. Trim and leave the chroot.
in_root apt-get clean
rm -f "$ROOTFS/usr/sbin/policy-rc.d"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log \
       "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* "$ROOTFS"/var/lib/cloud/*
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
cleanup

# 6. Artifacts: kernel + initramfs for direct boot, ext4 root -> qcow2.
cp "$ROOTFS/boot/vmlinuz-$KVER" "$PARTIAL/vmlinuz"
cp "$ROOTFS/boot/initrd.img-$KVER" "$PARTIAL/initrd.img"
mkfs.ext4 -q -F -L "$ROOT_LABEL" -d "$ROOTFS" "$PARTIAL/rootfs.ext4" "$ROOT_SIZE" >"$PARTIAL/mkfs.log" 2>&1 \
  || { cat "$PARTIAL/mkfs.log" >&2; die "mkfs.ext4 -d failed"; }
qemu-img convert -O qcow2 -c "$PARTIAL/rootfs.ext4" "$PARTIAL/disk.qcow2"
rm -rf "$ROOTFS" "$PARTIAL/rootfs.ext4"

sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
cat >"$PARTIAL/manifest.json" <<EOF
{
  "format": "hangar-image/1",
  "name": "$IMAGE_NAME",
  "version": "$IMAGE_VERSION",
  "os": "debian",
  "suite": "$SUITE",
  "mirror": "$MIRROR",
  "kernelVersion": "$KVER",
  "kernel": "vmlinuz",
  "initrd": "initrd.img",
  "disk": "disk.qcow2",
  "diskFormat": "qcow2",
  "diskVirtualSize": "$ROOT_SIZE",
  "rootLabel": "$ROOT_LABEL",
  "cmdline": "$CMDLINE",
  "checksums": {
    "kernel": "$(sha "$PARTIAL/vmlinuz")",
    "initrd": "$(sha "$PARTIAL/initrd.img")",
    "disk": "$(sha "$PARTIAL/disk.qcow2")"
  },
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "scriptHash": "sha256:$SCRIPT_HASH"
}
EOF
rm -f "$PARTIAL"/*.log
if [ -n "${SUDO_UID:-}" ]; then chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$PARTIAL"; fi
rm -rf "$DEST"
mv "$PARTIAL" "$DEST"
# Older versions are superseded (templates imported from them are copies): reclaim the space.
for old in "$IMAGES_DIR/$IMAGE_NAME"-*; do
  [ "$old" = "$DEST" ] || [ ! -d "$old" ] && continue
  log "removing superseded image $(basename "$old")"
  rm -rf "$old"
done
log "image ready in $((SECONDS - started)) s: $DEST ($(du -sh "$DEST" | cut -f1))"
echo "$DEST"
