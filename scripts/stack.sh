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
  export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}"

  (cd "$HANGAR_ROOT" && node --no-warnings=ExperimentalWarning cli/main.ts migrate up)
  start_process api serve
  start_process worker worker

  local i
  for i in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
      cat <<MSG

  Hangar is up.
    API          http://127.0.0.1:$API_PORT/api/v1   (health: /healthz, /readyz, metrics: /metrics)
    API docs     http://127.0.0.1:$API_PORT/docs      (OpenAPI: /openapi.json)
    Temporal UI  $TEMPORAL_UI_URL
    Temporal     $TEMPORAL_ADDRESS
    Logs         $LOGS
    Admin token  in $SECRETS/cli-token (the CLI uses it automatically)

  Try:  cli/hangar machines create --name demo-1 --cpu 2 --memory-mb 2048 --disk-gb 20 --wait

MSG
      return 0
    fi
    pid_alive "$RUN/api.pid" || { tail -20 "$LOGS/api.log" >&2; die "the API exited"; }
    sleep 0.5
  done
  tail -20 "$LOGS/api.log" >&2
  die "the API did not become ready within 60 s"
}

down() {
  stop_process worker
  stop_process api
  bash "$HANGAR_ROOT/scripts/services.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: stack.sh up|down" ;;
esac
