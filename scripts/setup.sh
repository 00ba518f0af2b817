#!/usr/bin/env bash
# Installs everything Hangar needs, idempotently: Node >= 22.17 (project-local Node 24 when the
# system one is older), npm packages, the Temporal CLI (built once, cached per machine) and the
# PostgreSQL server binaries. Safe to run again; it does nothing that is already done.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$HANGAR_TOOLS/bin" "$HANGAR_CACHE" "$HANGAR_DATA"

ensure_node() {
  local major minor
  if command -v node >/dev/null; then
    IFS=. read -r major minor _ <<<"$(node -p 'process.versions.node')"
    if [ "$major" -gt 22 ] || { [ "$major" = 22 ] && [ "$minor" -ge 17 ]; }; then return 0; fi
  fi
  local arch; case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) die "unsupported CPU $(uname -m)";; esac
  local dest="$HANGAR_CACHE/node-v$NODE_VERSION-linux-$arch"
  if [ ! -x "$dest/bin/node" ]; then
    log "providing Node $NODE_VERSION from the npm registry (system Node is older than 22.17)"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" >/dev/null)
    mkdir -p "$dest.partial" && tar xzf "$tmp"/node-linux-*.tgz -C "$dest.partial" --strip-components=1
    rm -rf "$tmp" "$dest" && mv "$dest.partial" "$dest"
  fi
  ln -sfn "$dest" "$HANGAR_TOOLS/node"
  export PATH="$HANGAR_TOOLS/node/bin:$PATH"
}

ensure_npm_packages() {
  local stamp="$HANGAR_ROOT/node_modules/.hangar-lock-hash" want
  want="$(sha256sum "$HANGAR_ROOT/package-lock.json" | cut -d' ' -f1)-$(node -p 'process.versions.node')"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "installing npm packages"
  (cd "$HANGAR_ROOT" && npm install --no-fund --no-audit --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
}

ensure_temporal() {
  local bin="$HANGAR_CACHE/bin/temporal-$TEMPORAL_CLI_VERSION"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || die "Go is needed once to build the Temporal CLI (go install)"
    log "building the Temporal CLI $TEMPORAL_CLI_VERSION once (cached in $HANGAR_CACHE)"
    local gobin; gobin="$(mktemp -d)"
    GOBIN="$gobin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
    mkdir -p "$HANGAR_CACHE/bin" && mv "$gobin/temporal" "$bin" && rm -rf "$gobin"
  fi
  ln -sfn "$bin" "$HANGAR_TOOLS/bin/temporal"
}

ensure_postgres() {
  if ! pg_bindir >/dev/null; then
    log "installing the PostgreSQL server binaries"
    apt_install postgresql postgresql-contrib
  fi
  pg_bindir >/dev/null || die "PostgreSQL binaries not found after install"
}

# Test-only tools: cloud-init's own validators (`cloud-init schema`, `cloud-init devel
# net-convert`, the NoCloud seed reader) and xorriso for cidata ISOs. Only `make test` asks for
# them (HANGAR_SETUP_TEST_TOOLS=1) so `make up` stays lean.
ensure_test_tools() {
  local missing=()
  command -v cloud-init >/dev/null || missing+=(cloud-init)
  command -v xorriso >/dev/null || missing+=(xorriso)
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing test tools: ${missing[*]}"
  apt_install "${missing[@]}"
  command -v cloud-init >/dev/null && command -v xorriso >/dev/null || die "cloud-init/xorriso not found after install"
}

ensure_node
ensure_npm_packages
ensure_temporal
ensure_postgres
# The local QEMU provider is part of the default stack (make up provisions a real VM with it).
bash "$HANGAR_ROOT/scripts/setup-qemu.sh"
if [ "${HANGAR_SETUP_TEST_TOOLS:-0}" = 1 ]; then
  ensure_test_tools
  # The sushy-tools Redfish emulator (project-local virtualenv) for the bare-metal tests.
  bash "$HANGAR_ROOT/scripts/setup-sushy.sh" >/dev/null
  # schemathesis (project-local virtualenv) fuzzes the real API from its OpenAPI document.
  bash "$HANGAR_ROOT/scripts/setup-schemathesis.sh" >/dev/null
  # moto's server (project-local virtualenv): the local AWS (EC2, STS) for the cloud tests.
  bash "$HANGAR_ROOT/scripts/setup-moto.sh" >/dev/null
fi
log "set-up complete (node $(node -p 'process.versions.node'), $("$HANGAR_TOOLS/bin/temporal" --version 2>/dev/null | head -1))"
