#!/usr/bin/env bash
# `make up` / `make down`: the whole local stack on loopback, idempotently.
#   up:   set-up → PostgreSQL + Temporal → migrations → API + one worker → wait for /readyz
#   down: stop API and worker, then Temporal and PostgreSQL
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API_PORT="${HANGAR_API_PORT:-8080}"
TEMPORAL_UI_PORT="${HANGAR_TEMPORAL_UI_PORT:-8233}"
RUN="$RUN_DIR"
LOGS="$LOG_DIR"
SECRETS="$SECRETS_DIR"

start_process() {
  local name="$1"; shift
  if pid_alive "$RUN/$name.pid"; then return 0; fi
  log "starting $name (log: $LOGS/$name.log)"
  ( cd "$HANGAR_ROOT" && exec setsid node --no-warnings=ExperimentalWarning cli/main.ts "$@" </dev/null >>"$LOGS/$name.log" 2>&1 ) &
  echo $! >"$RUN/$name.pid"
}

stop_process() { stop_pidfile "$RUN/$1.pid" "$1"; }

up() {
  bash "$HANGAR_ROOT/scripts/setup.sh"
  bash "$HANGAR_ROOT/scripts/install-cli.sh"
  source "$HANGAR_ROOT/scripts/lib.sh"   # pick up the project-local Node on PATH
  mkdir -p "$RUN" "$LOGS" "$SECRETS"; chmod 700 "$SECRETS"
  local line
  while IFS= read -r line; do
    case "$line" in
      DATABASE_URL_FILE=?*) export DATABASE_URL_FILE="${line#*=}" ;;
      TEMPORAL_ADDRESS=*) export TEMPORAL_ADDRESS="${line#*=}" ;;
    esac
  done < <(bash "$HANGAR_ROOT/scripts/services.sh" up)

  # A development admin token, created once; the CLI finds it in the data folder.
  if [ ! -s "$SECRETS/cli-token" ]; then
    (umask 077; printf 'hgr_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" >"$SECRETS/cli-token")
  fi
  export HANGAR_BOOTSTRAP_TOKEN_FILE="$SECRETS/cli-token"
  export HANGAR_API_PORT="$API_PORT" HANGAR_DATA_DIR="$HANGAR_DATA"
  export HANGAR_PUBLIC_URL="${HANGAR_PUBLIC_URL:-http://127.0.0.1:$API_PORT}"
  export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}"

  (cd "$HANGAR_ROOT" && node --no-warnings=ExperimentalWarning cli/main.ts migrate up)
  start_process api serve
  start_process worker worker

  local i ready=0
  for i in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then ready=1; break; fi
    pid_alive "$RUN/api.pid" || { tail -20 "$LOGS/api.log" >&2; die "the API exited"; }
    sleep 0.5
  done
  if [ "$ready" != 1 ]; then tail -20 "$LOGS/api.log" >&2; die "the API did not become ready within 60 s"; fi

  # The main job: a real VM on the local QEMU provider, from a Debian cloud image built once per
  # machine. HANGAR_UP_DEMO=0 skips it (stack only).
  if [ "${HANGAR_UP_DEMO:-1}" = 1 ]; then demo_vm; fi
  cat <<MSG

  Hangar is up.
    API          http://127.0.0.1:$API_PORT/api/v1   (health: /healthz, /readyz, metrics: /metrics)
    API docs     http://127.0.0.1:$API_PORT/docs      (OpenAPI: /openapi.json)
    Temporal UI  $TEMPORAL_UI_URL
    Temporal     $TEMPORAL_ADDRESS
    Logs         $LOGS
    Admin token  in $SECRETS/cli-token (the CLI uses it automatically)

  Status:       hangar status                 (services, QEMU acceleration and why, queues, errors)
  Machines:     hangar machines list          (demo VM and how to reach it: hangar machines get demo-qemu)
  Try:          hangar machines create --name demo-1 --provider dryrun --cpu 2 --memory-mb 2048 --disk-gb 20 --wait
  Completion:   source <(hangar completion bash)    (zsh, fish: hangar completion zsh|fish)

MSG
}

hangar() { (cd "$HANGAR_ROOT" && node --no-warnings=ExperimentalWarning cli/main.ts "$@"); }

# Imports the cached Debian image as the `debian-12` QEMU template (once) and provisions the VM
# `demo-qemu` from it (once), waiting until it has booted and phoned home.
demo_vm() {
  local image
  image="$(bash "$HANGAR_ROOT/scripts/build-image.sh")" || die "could not build the Debian cloud image"
  export HANGAR_API_URL="http://127.0.0.1:$API_PORT"
  if ! hangar templates get debian-12 >/dev/null 2>&1; then
    log "importing $image as QEMU template debian-12"
    hangar templates create --name debian-12 --provider qemu --image "$image" --wait || die "template import failed"
  fi
  if ! hangar machines get demo-qemu >/dev/null 2>&1; then
    local key="$SECRETS/demo_ed25519"
    [ -f "$key" ] || ssh-keygen -q -N '' -t ed25519 -C hangar-demo -f "$key"
    hangar keys get demo-key >/dev/null 2>&1 || hangar keys add --name demo-key --public-key "$(cat "$key.pub")" >/dev/null
    log "provisioning demo-qemu: a real VM that boots, reads its cloud-init seed from Hangar and phones home (a few minutes without KVM)"
    hangar machines create --name demo-qemu --provider qemu --template debian-12 --cpu 1 --memory-mb 768 --disk-gb 4 \
      --ssh-key demo-key --wait || die "provisioning demo-qemu failed (see: hangar machines get demo-qemu)"
  else
    # `make down` stopped it; starting a running VM is a no-op.
    hangar machines start demo-qemu --wait >/dev/null || log "could not start demo-qemu (see: hangar machines get demo-qemu)"
  fi
  # How to reach it and how it runs, as the API records them at each start (machine `access`).
  local access
  access="$(hangar machines get demo-qemu --json | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const a=JSON.parse(s).access??{};console.log([a.ssh_port??"",a.accel??"",a.accel_reason??""].join("|"))})')"
  local port accel reason
  IFS="|" read -r port accel reason <<<"$access"
  [ -n "$port" ] && log "demo-qemu is ready: ssh -i $SECRETS/demo_ed25519 -p $port hangar@127.0.0.1"
  [ -n "$accel" ] && log "demo-qemu runs under ${accel^^}: ${reason:-no reason recorded} (hangar status shows it too)"
  return 0
}

down() {
  stop_process worker
  stop_process api
  # Local QEMU VMs are processes of this stack: stop them too (their disks stay; `make up` or
  # `hangar machines start` brings them back).
  local pidfile
  for pidfile in "$HANGAR_DATA"/qemu/instances/*/qemu.pid; do
    [ -f "$pidfile" ] && stop_pidfile "$pidfile" "VM $(basename "$(dirname "$pidfile")")"
  done
  bash "$HANGAR_ROOT/scripts/services.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: stack.sh up|down" ;;
esac
