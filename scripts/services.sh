#!/usr/bin/env bash
# Starts/stops the embedded backing services on loopback, with data and logs under the data folder:
#   PostgreSQL  private cluster from the Debian binaries (skipped when DATABASE_URL is set)
#   Temporal    `temporal server start-dev` with a SQLite file (skipped when TEMPORAL_ADDRESS is set)
# Usage: services.sh up|down|status. Ports: HANGAR_PG_PORT, HANGAR_TEMPORAL_PORT, HANGAR_TEMPORAL_UI_PORT.
# Prints `DATABASE_URL_FILE=...` and `TEMPORAL_ADDRESS=...` lines for the caller on `up`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT="${HANGAR_PG_PORT:-54329}"
TEMPORAL_PORT="${HANGAR_TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${HANGAR_TEMPORAL_UI_PORT:-8233}"
PG_DIR="$HANGAR_DATA/postgres"
PG_RUN="$RUN_DIR/postgres"
TEMPORAL_DIR="$HANGAR_DATA/temporal"
SECRETS="$SECRETS_DIR"
mkdir -p "$LOG_DIR" "$SECRETS" "$RUN_DIR"
chmod 700 "$SECRETS"

# PostgreSQL refuses to run as root; the Debian package's `postgres` account runs it then.
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_up() {
  local bin; bin="$(pg_bindir)" || die "PostgreSQL binaries missing: run scripts/setup.sh"
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    log "initialising a private PostgreSQL cluster in $PG_DIR"
    local pwfile; pwfile="$(mktemp)"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$SECRETS/postgres-password"
    chmod 600 "$SECRETS/postgres-password"
    cp "$SECRETS/postgres-password" "$pwfile"
    mkdir -p "$PG_DIR" "$PG_RUN"
    if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR" "$PG_RUN" "$pwfile"; fi
    pg_as "$bin/initdb" -D "$PG_DIR" -U hangar --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$LOG_DIR/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    cat >>"$PG_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_RUN'
max_connections = 300
shared_buffers = 256MB
fsync = on
CONF
  fi
  mkdir -p "$PG_RUN"; [ "$(id -u)" = 0 ] && chown postgres "$PG_RUN"
  if pg_as "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    :
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    touch "$LOG_DIR/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres "$LOG_DIR/postgres.log"
    pg_as "$bin/pg_ctl" -D "$PG_DIR" -l "$LOG_DIR/postgres.log" -o "-p $PG_PORT" -w -t 60 start >/dev/null \
      || { tail -20 "$LOG_DIR/postgres.log" >&2; die "PostgreSQL did not start"; }
  fi
  local pw; pw="$(cat "$SECRETS/postgres-password")"
  # The URL carries the password, so it lives in a 0600 file the processes read via DATABASE_URL_FILE.
  (umask 077; printf 'postgres://hangar:%s@127.0.0.1:%s/hangar\n' "$pw" "$PG_PORT" >"$SECRETS/database-url")
  PGPASSWORD="$pw" "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U hangar -d postgres -tAc \
    "select 1 from pg_database where datname = 'hangar'" | grep -q 1 \
    || PGPASSWORD="$pw" "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U hangar hangar
  echo "DATABASE_URL_FILE=$SECRETS/database-url"
}

pg_down() {
  local bin; bin="$(pg_bindir)" || return 0
  [ -f "$PG_DIR/PG_VERSION" ] || return 0
  if pg_as "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    log "stopping PostgreSQL"
    pg_as "$bin/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null
  fi
}

temporal_up() {
  local bin="$HANGAR_TOOLS/bin/temporal"
  [ -x "$bin" ] || die "Temporal CLI missing: run scripts/setup.sh"
  mkdir -p "$TEMPORAL_DIR"
  if ! pid_alive "$RUN_DIR/temporal.pid"; then
    log "starting Temporal dev server on 127.0.0.1:$TEMPORAL_PORT ($([ "${HANGAR_TEMPORAL_HEADLESS:-0}" = 1 ] && echo "no UI" || echo "UI on :$TEMPORAL_UI_PORT"))"
    local ui=(--ui-port "$TEMPORAL_UI_PORT")
    [ "${HANGAR_TEMPORAL_HEADLESS:-0}" = 1 ] && ui=(--headless)
    setsid "$bin" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" "${ui[@]}" \
      --db-filename "$TEMPORAL_DIR/temporal.db" --log-level warn \
      --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
      --dynamic-config-value 'frontend.enableUpdateWorkflowExecution=true' \
      </dev/null >>"$LOG_DIR/temporal.log" 2>&1 &
    echo $! >"$RUN_DIR/temporal.pid"
  fi
  local i
  for i in $(seq 1 120); do
    if "$bin" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" >/dev/null 2>&1; then
      echo "TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT"; return 0
    fi
    pid_alive "$RUN_DIR/temporal.pid" || { tail -20 "$LOG_DIR/temporal.log" >&2; die "Temporal exited"; }
    sleep 0.5
  done
  die "Temporal did not become healthy within 60 s (see $LOG_DIR/temporal.log)"
}


case "${1:-}" in
  up)
    if [ -z "${DATABASE_URL:-}" ]; then pg_up; else echo "DATABASE_URL_FILE="; fi
    if [ -z "${TEMPORAL_ADDRESS:-}" ]; then temporal_up; else echo "TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS"; fi
    ;;
  down)
    stop_pidfile "$RUN_DIR/temporal.pid" "Temporal"
    pg_down
    ;;
  status)
    pid_alive "$RUN_DIR/temporal.pid" && echo "temporal: running" || echo "temporal: stopped"
    bin="$(pg_bindir)" && pg_as "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1 && echo "postgres: running" || echo "postgres: stopped"
    ;;
  *) die "usage: services.sh up|down|status" ;;
esac
