#!/usr/bin/env bash
# Provides sushy-tools (the OpenStack Redfish emulator) for the Redfish integration tests, idempotently.
#
# A virtualenv per sushy-tools version and Python minor version is built once per machine under
# $HANGAR_CACHE and linked into the project as .tools/sushy-venv (plus .tools/bin/sushy-emulator).
# The emulator runs with its *fake* systems driver, so neither libvirt nor OpenStack is needed; the
# whole dependency set is pinned below so every machine gets the same emulator.
#
# Safe to run again and from concurrent test workers: a lock serialises builders, a stamp written as
# the last step marks a complete venv, and a venv without the stamp (an interrupted build) is rebuilt.
# Prints the emulator's path on stdout; everything else goes to stderr.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUSHY_TOOLS_VERSION="2.2.0"
# The set pip resolved for sushy-tools 2.2.0 (fake driver only; no libvirt-python, no openstacksdk).
SUSHY_REQUIREMENTS=(
  "sushy-tools==$SUSHY_TOOLS_VERSION"
  "Flask==3.1.3" "Werkzeug==3.1.9" "Jinja2==3.1.6" "MarkupSafe==3.0.4" "itsdangerous==2.2.0"
  "blinker==1.9.0" "click==8.5.1" "WebOb==1.8.11" "bcrypt==5.0.0" "tenacity==9.2.1" "pbr==7.1.3"
  "requests==2.34.2" "urllib3==2.8.0" "idna==3.20" "charset-normalizer==3.5.2" "certifi==2026.10.18"
)

pick_python() {
  local candidate
  for candidate in "${HANGAR_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

works() { [ -f "$1/.hangar-complete" ] && [ "$(cat "$1/.hangar-complete")" = "$2" ] && "$1/bin/sushy-emulator" --help >/dev/null 2>&1; }

main() {
  mkdir -p "$HANGAR_CACHE" "$HANGAR_TOOLS/bin"
  local python
  if ! python="$(pick_python)"; then
    log "no Python >= 3.9 with venv found; installing Debian's python3-venv"
    apt_install python3 python3-venv
    python="$(pick_python)" || die "no usable Python 3 with the venv module"
  fi
  local pyver; pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local venv="$HANGAR_CACHE/sushy-tools-$SUSHY_TOOLS_VERSION-py$pyver"
  local want; want="$(printf '%s\n' "${SUSHY_REQUIREMENTS[@]}" | sha256sum | cut -d' ' -f1)"

  if ! works "$venv" "$want"; then
    exec 9>"$HANGAR_CACHE/sushy-tools.lock"
    flock 9
    # Another worker may have finished the build while this one waited for the lock.
    if ! works "$venv" "$want"; then
      log "building the sushy-tools $SUSHY_TOOLS_VERSION virtualenv once (cached in $HANGAR_CACHE)"
      rm -rf "$venv"
      "$python" -m venv "$venv"
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${SUSHY_REQUIREMENTS[@]}" >&2
      "$venv/bin/sushy-emulator" --help >/dev/null || die "sushy-emulator --help failed after install"
      echo "$want" >"$venv/.hangar-complete"
    fi
    flock -u 9
  fi

  ln -sfn "$venv" "$HANGAR_TOOLS/sushy-venv"
  ln -sfn "$HANGAR_TOOLS/sushy-venv/bin/sushy-emulator" "$HANGAR_TOOLS/bin/sushy-emulator"
  "$HANGAR_TOOLS/sushy-venv/bin/sushy-emulator" --help >/dev/null || die "sushy-emulator does not run"
  echo "$HANGAR_TOOLS/sushy-venv/bin/sushy-emulator"
}

main "$@"
