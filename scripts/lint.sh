#!/usr/bin/env bash
# `npm run lint` / `make lint`: the dependency rules of docs/architecture.md (dependency-cruiser,
# .dependency-cruiser.cjs) and Biome's linter plus its format check (biome.json). Both run even
# when the first fails, so one run shows every problem; any violation fails the script.
# `npm run format` fixes formatting and the lint findings that have a safe fix.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HANGAR_ROOT"
failed=0
log "checking dependency rules"
node node_modules/dependency-cruiser/bin/dependency-cruise.mjs --config .dependency-cruiser.cjs --output-type err . || failed=1
log "checking lint and format"
# Warnings fail too: a warning nobody has to fix only piles up.
node node_modules/@biomejs/biome/bin/biome check --error-on-warnings --max-diagnostics=50 . || failed=1
[ "$failed" = 0 ] || die "lint failed (npm run format fixes formatting and safe lint fixes)"
log "lint passed"
