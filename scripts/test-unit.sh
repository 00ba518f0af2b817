#!/usr/bin/env bash
# `make test-unit`: the unit lane only (test/unit). Starts no PostgreSQL and no Temporal; needs
# only Node, the npm packages and the test tools (cloud-init's validators, xorriso).
# Extra arguments go to jest.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HANGAR_SETUP_TEST_TOOLS=1 bash "$HANGAR_ROOT/scripts/setup.sh"
source "$HANGAR_ROOT/scripts/lib.sh"
cd "$HANGAR_ROOT"
exec node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js --ci --selectProjects unit "$@"
