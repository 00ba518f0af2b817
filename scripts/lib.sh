# Shared settings for the set-up and stack scripts. Sourced, never run.
set -euo pipefail

HANGAR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HANGAR_DATA="${HANGAR_DATA_DIR:-$HANGAR_ROOT/.data}"
# Built or downloaded once per machine and reused by every clone.
HANGAR_CACHE="${HANGAR_CACHE_DIR:-$HOME/.cache/hangar}"
HANGAR_TOOLS="$HANGAR_ROOT/.tools"

NODE_VERSION="24.21.0"
TEMPORAL_CLI_VERSION="v1.5.1"

log() { printf '\033[1;34m[hangar]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[hangar]\033[0m %s\n' "$*" >&2; exit 1; }

# Prefer the project-local Node when the set-up provided one.
if [ -x "$HANGAR_TOOLS/node/bin/node" ]; then
  export PATH="$HANGAR_TOOLS/node/bin:$PATH"
fi
export PATH="$HANGAR_TOOLS/bin:$PATH"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    die "need root to run: $*"; fi
}

apt_install() {
  # Installs Debian packages only when one of the given commands is missing.
  local marker="$HANGAR_CACHE/apt-updated"
  mkdir -p "$HANGAR_CACHE"
  if [ ! -f "$marker" ] || [ -n "$(find "$marker" -mmin +1440 2>/dev/null)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch "$marker"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

RUN_DIR="$HANGAR_DATA/run"
LOG_DIR="$HANGAR_DATA/logs"
SECRETS_DIR="$HANGAR_DATA/secrets"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process in a pid file: SIGTERM, up to 15 s to exit, then SIGKILL.
stop_pidfile() {
  local file="$1" name="$2" i
  pid_alive "$file" || { rm -f "$file"; return 0; }
  log "stopping $name"
  kill -TERM "$(cat "$file")" 2>/dev/null || true
  for i in $(seq 1 60); do pid_alive "$file" || break; sleep 0.25; done
  pid_alive "$file" && kill -KILL "$(cat "$file")" 2>/dev/null || true
  rm -f "$file"
}
