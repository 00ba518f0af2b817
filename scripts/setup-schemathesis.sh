#!/usr/bin/env bash
# Provides schemathesis (the OpenAPI-driven API fuzzer the test suite runs against the real API),
# idempotently, as .tools/schemathesis-venv (plus .tools/bin/schemathesis); see
# scripts/python-venv.sh for the caching. The whole dependency set is pinned below so every machine
# fuzzes with the same engine.
# Prints the schemathesis path on stdout; everything else goes to stderr.
source "$(dirname "${BASH_SOURCE[0]}")/python-venv.sh"

SCHEMATHESIS_VERSION="4.32.5"
# The set pip resolved for schemathesis 4.32.5.
SCHEMATHESIS_REQUIREMENTS=(
  "schemathesis==$SCHEMATHESIS_VERSION"
  "anyio==4.16.0" "certifi==2026.10.19.post1" "charset-normalizer==3.5.3" "click==8.5.1" "graphql-core==3.3.2"
  "harfile==0.6.0" "hypothesis==6.170.17" "hypothesis-graphql==0.13.5" "idna==3.20" "iniconfig==2.3.1"
  "jsonschema_rs==0.60.3" "markdown-it-py==4.3.0" "MarkupSafe==3.0.4" "mdurl==0.1.2" "packaging==26.4"
  "pluggy==1.7.0" "Pygments==2.21.0" "pyrate-limiter==4.5.1" "pytest==9.2.0" "PyYAML==6.0.4" "requests==2.34.2"
  "rich==15.0.0" "sortedcontainers==2.4.0" "typing_extensions==4.16.0" "urllib3==2.8.0" "Werkzeug==3.1.9"
)

python_tool_venv schemathesis "$SCHEMATHESIS_VERSION" schemathesis-venv schemathesis --version "${SCHEMATHESIS_REQUIREMENTS[@]}"
