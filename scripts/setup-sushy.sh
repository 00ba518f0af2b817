#!/usr/bin/env bash
# Provides sushy-tools (the OpenStack Redfish emulator) for the Redfish integration tests, idempotently,
# as .tools/sushy-venv (plus .tools/bin/sushy-emulator); see scripts/python-venv.sh for the caching.
# The emulator runs with its *fake* systems driver, so neither libvirt nor OpenStack is needed; the
# whole dependency set is pinned below so every machine gets the same emulator.
# Prints the emulator's path on stdout; everything else goes to stderr.
source "$(dirname "${BASH_SOURCE[0]}")/python-venv.sh"

SUSHY_TOOLS_VERSION="2.2.0"
# The set pip resolved for sushy-tools 2.2.0 (fake driver only; no libvirt-python, no openstacksdk).
SUSHY_REQUIREMENTS=(
  "sushy-tools==$SUSHY_TOOLS_VERSION"
  "Flask==3.1.3" "Werkzeug==3.1.9" "Jinja2==3.1.6" "MarkupSafe==3.0.4" "itsdangerous==2.2.0"
  "blinker==1.9.0" "click==8.5.1" "WebOb==1.8.11" "bcrypt==5.0.0" "tenacity==9.2.1" "pbr==7.1.3"
  "requests==2.34.2" "urllib3==2.8.0" "idna==3.20" "charset-normalizer==3.5.2" "certifi==2026.10.18"
)

python_tool_venv sushy-tools "$SUSHY_TOOLS_VERSION" sushy-venv sushy-emulator --help "${SUSHY_REQUIREMENTS[@]}"
