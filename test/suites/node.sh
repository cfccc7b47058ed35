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
# Regenerate when gen/uhw_pb.js is missing or older than the .proto or the generator.
for src in ../../proto/uhw.proto scripts/gen.js scripts/protoc-gen-uhwjs scripts/jspb-gen/*.js; do
    if [ ! gen/uhw_pb.js -nt "$src" ]; then
        node scripts/gen.js >&2
        break
    fi
done
exec node --test --test-reporter=tap test/*.test.js
