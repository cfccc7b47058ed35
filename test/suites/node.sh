#!/usr/bin/env bash
# The Node SDK's unit tests (contrib/node/test/*.test.js, node's own test runner), as TAP.
# Installs the SDK's dependencies from its lock file first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../../contrib/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "1..1"
    echo "not ok 1 - node and npm are needed for the Node SDK's tests (make deps)"
    exit 1
fi
if [ ! -e node_modules/.package-lock.json ]; then
    npm ci --ignore-scripts --loglevel=error --no-audit --no-fund >&2
fi
if [ ! gen/uhw_pb.js -nt ../../proto/uhw.proto ]; then # missing or older
    node scripts/gen.js >&2
fi
exec node --test --test-reporter=tap test/*.test.js
