#!/usr/bin/env bash
# Installs what the local QEMU provider and its image build need, idempotently: QEMU (system
# emulator + qemu-img), xorriso for cidata ISOs, debootstrap and e2fsprogs for the Debian image
# that scripts/build-image.sh makes, and the SSH client the boot test uses. Packages whose command
# is already present are skipped.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# command -> Debian package that provides it
declare -A QEMU_TOOLS=(
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [xorriso]=xorriso
  [debootstrap]=debootstrap
  [mkfs.ext4]=e2fsprogs
  # the boot test logs in to the guest with the key it seeded
  [ssh]=openssh-client
)

has_cmd() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

ensure_qemu_tools() {
  local cmd missing=()
  for cmd in "${!QEMU_TOOLS[@]}"; do
    has_cmd "$cmd" || missing+=("${QEMU_TOOLS[$cmd]}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing QEMU provider tools: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  for cmd in "${!QEMU_TOOLS[@]}"; do
    has_cmd "$cmd" || die "$cmd not found after installing ${QEMU_TOOLS[$cmd]}"
  done
}

# Reports whether /dev/kvm opens (TCG is the fallback; nothing fails without it). The provider
# itself probes at its first start whether KVM really runs guests faster than TCG.
report_accel() {
  if [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; then
    log "QEMU: /dev/kvm opens read-write (the provider probes KVM against TCG at first start)"
  else
    log "QEMU: /dev/kvm is not usable; VMs will run under TCG (slower)"
  fi
}

ensure_qemu_tools
report_accel
