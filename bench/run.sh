#!/usr/bin/env bash
# Runs a benchmark against private services (own data folder and ports), then stops them.
# Usage: bench/run.sh provision-overhead
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
bash "$HANGAR_ROOT/scripts/setup.sh" >/dev/null
source "$HANGAR_ROOT/scripts/lib.sh"
export HANGAR_DATA_DIR="$HANGAR_ROOT/.data/bench" HANGAR_PG_PORT="${BENCH_PG_PORT:-54349}" HANGAR_TEMPORAL_PORT="${BENCH_TEMPORAL_PORT:-27233}" HANGAR_TEMPORAL_HEADLESS=1
out="$(DATABASE_URL= TEMPORAL_ADDRESS= bash "$HANGAR_ROOT/scripts/services.sh" up)"
export BENCH_DATABASE_URL_FILE="$(sed -n 's/^DATABASE_URL_FILE=//p' <<<"$out")"
export BENCH_TEMPORAL_ADDRESS="$(sed -n 's/^TEMPORAL_ADDRESS=//p' <<<"$out")"
trap 'bash "$HANGAR_ROOT/scripts/services.sh" down >/dev/null 2>&1' EXIT
cd "$HANGAR_ROOT" && node --no-warnings=ExperimentalWarning "bench/${1:-provision-overhead}.ts"
