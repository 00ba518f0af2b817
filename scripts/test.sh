#!/usr/bin/env bash
# `make test`: installs what is missing, type-checks, checks the dependency rules, lint and
# formatting (scripts/lint.sh), then runs every jest suite: the unit lane without services, the
# integration lane against real PostgreSQL and Temporal (started by its set-up on their own
# ports when not running). Extra arguments go to jest (`--selectProjects unit`, a file path).
# HANGAR_TEST_LINT=0 skips the lint step, for quick reruns of one suite only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HANGAR_SETUP_TEST_TOOLS=1 bash "$HANGAR_ROOT/scripts/setup.sh"
source "$HANGAR_ROOT/scripts/lib.sh"
cd "$HANGAR_ROOT"
log "type-checking"
node node_modules/typescript/bin/tsc --noEmit -p tsconfig.json
if [ "${HANGAR_TEST_LINT:-1}" = 1 ]; then
  bash "$HANGAR_ROOT/scripts/lint.sh"
else
  log "skipping lint (HANGAR_TEST_LINT=0)"
fi
log "running tests"
exec node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js --ci "$@"
