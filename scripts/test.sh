#!/usr/bin/env bash
# `make test`: installs what is missing, type-checks, then runs every jest suite against real
# PostgreSQL and Temporal (started by the test set-up on their own ports when not running).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HANGAR_SETUP_TEST_TOOLS=1 bash "$HANGAR_ROOT/scripts/setup.sh"
source "$HANGAR_ROOT/scripts/lib.sh"
cd "$HANGAR_ROOT"
log "type-checking"
node node_modules/typescript/bin/tsc --noEmit -p tsconfig.json
log "running tests"
exec node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js --ci "$@"
