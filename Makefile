# The two commands that matter: `make up` (run Hangar locally) and `make test` (the whole suite).
.PHONY: up down setup install-cli test test-unit lint format typecheck status

up:            ## install what is missing, start PostgreSQL, Temporal, the API and a worker
	@bash scripts/stack.sh up

down:          ## stop the local stack
	@bash scripts/stack.sh down

install-cli:   ## put `hangar` on the PATH (a link in ~/.local/bin, or HANGAR_BIN_DIR)
	@bash scripts/install-cli.sh

setup:         ## install Node 24 (if needed), npm packages, the Temporal CLI and PostgreSQL
	@bash scripts/setup.sh

test:          ## set up, type-check, lint and run every test (unit lane, then real services)
	@bash scripts/test.sh

test-unit:     ## the unit lane only: no PostgreSQL, no Temporal, done in seconds
	@bash scripts/test-unit.sh

lint:          ## dependency rules (dependency-cruiser) and Biome lint + format check
	@bash scripts/setup.sh && bash scripts/lint.sh

format:        ## format the tree and apply Biome's safe fixes
	@bash scripts/setup.sh && bash -c 'source scripts/lib.sh && npm run --silent format'

typecheck:
	@bash scripts/setup.sh && bash -c 'source scripts/lib.sh && npx tsc --noEmit -p tsconfig.json'

status:
	@bash scripts/services.sh status
