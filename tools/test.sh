#!/usr/bin/env bash
# Runs lade's whole test suite on a fresh machine with Node ≥ 20 and npm (root or sudo for apt):
# installs pnpm, the workspace, the peers (skopeo, umoci, docker-registry, …), builds, then runs vitest on Node and on Deno.
# The last line is `tests: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
bash ../shared/peers/install.sh
[ -z "${LADE_EXTRA_APT:-}" ] || LADE_EXTRA_PEERS="$LADE_EXTRA_APT" bash ../shared/peers/install.sh
bash tools/peers/install-extra.sh
exec node tools/run-tests.mjs "$@"
