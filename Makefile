# The two commands that matter: `make up` (run Hangar locally) and `make test` (the whole suite).
.PHONY: up down setup test typecheck status

up:            ## install what is missing, start PostgreSQL, Temporal, the API and a worker
	@bash scripts/stack.sh up

down:          ## stop the local stack
	@bash scripts/stack.sh down

setup:         ## install Node 24 (if needed), npm packages, the Temporal CLI and PostgreSQL
	@bash scripts/setup.sh

test:          ## set up, type-check and run every test against real services
	@bash scripts/test.sh

typecheck:
	@bash scripts/setup.sh && . scripts/lib.sh && npx tsc --noEmit -p tsconfig.json

status:
	@bash scripts/services.sh status
