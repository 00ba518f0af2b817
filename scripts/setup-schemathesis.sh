#!/usr/bin/env bash
# Provides schemathesis (the OpenAPI-driven API fuzzer the test suite runs against the real API),
# idempotently.
#
# A virtualenv per schemathesis version and Python minor version is built once per machine under
# $HANGAR_CACHE and linked into the project as .tools/schemathesis-venv (plus .tools/bin/schemathesis).
# The whole dependency set is pinned below so every machine fuzzes with the same engine.
#
# Safe to run again and from concurrent test workers: a lock serialises builders, a stamp written as
# the last step marks a complete venv, and a venv without the stamp (an interrupted build) is rebuilt.
# Prints the schemathesis path on stdout; everything else goes to stderr.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCHEMATHESIS_VERSION="4.32.5"
# The set pip resolved for schemathesis 4.32.5.
SCHEMATHESIS_REQUIREMENTS=(
  "schemathesis==$SCHEMATHESIS_VERSION"
  "anyio==4.16.0" "certifi==2026.10.19.post1" "charset-normalizer==3.5.3" "click==8.5.1" "graphql-core==3.3.2"
  "harfile==0.6.0" "hypothesis==6.170.17" "hypothesis-graphql==0.13.5" "idna==3.20" "iniconfig==2.3.1"
  "jsonschema_rs==0.60.3" "markdown-it-py==4.3.0" "MarkupSafe==3.0.4" "mdurl==0.1.2" "packaging==26.4"
  "pluggy==1.7.0" "Pygments==2.21.0" "pyrate-limiter==4.5.1" "pytest==9.2.0" "PyYAML==6.0.4" "requests==2.34.2"
  "rich==15.0.0" "sortedcontainers==2.4.0" "typing_extensions==4.16.0" "urllib3==2.8.0" "Werkzeug==3.1.9"
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

works() { [ -f "$1/.hangar-complete" ] && [ "$(cat "$1/.hangar-complete")" = "$2" ] && "$1/bin/schemathesis" --version >/dev/null 2>&1; }

main() {
  mkdir -p "$HANGAR_CACHE" "$HANGAR_TOOLS/bin"
  local python
  if ! python="$(pick_python)"; then
    log "no Python >= 3.9 with venv found; installing Debian's python3-venv"
    apt_install python3 python3-venv
    python="$(pick_python)" || die "no usable Python 3 with the venv module"
  fi
  local pyver; pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local venv="$HANGAR_CACHE/schemathesis-$SCHEMATHESIS_VERSION-py$pyver"
  local want; want="$(printf '%s\n' "${SCHEMATHESIS_REQUIREMENTS[@]}" | sha256sum | cut -d' ' -f1)"

  if ! works "$venv" "$want"; then
    exec 9>"$HANGAR_CACHE/schemathesis.lock"
    flock 9
    # Another worker may have finished the build while this one waited for the lock.
    if ! works "$venv" "$want"; then
      log "building the schemathesis $SCHEMATHESIS_VERSION virtualenv once (cached in $HANGAR_CACHE)"
      rm -rf "$venv"
      "$python" -m venv "$venv"
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${SCHEMATHESIS_REQUIREMENTS[@]}" >&2
      "$venv/bin/schemathesis" --version >/dev/null || die "schemathesis --version failed after install"
      echo "$want" >"$venv/.hangar-complete"
    fi
    flock -u 9
  fi

  ln -sfn "$venv" "$HANGAR_TOOLS/schemathesis-venv"
  ln -sfn "$HANGAR_TOOLS/schemathesis-venv/bin/schemathesis" "$HANGAR_TOOLS/bin/schemathesis"
  "$HANGAR_TOOLS/schemathesis-venv/bin/schemathesis" --version >/dev/null || die "schemathesis does not run"
  echo "$HANGAR_TOOLS/schemathesis-venv/bin/schemathesis"
}

main "$@"
