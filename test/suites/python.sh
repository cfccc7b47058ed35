#!/usr/bin/env bash
# The Python SDK's unit tests (contrib/python/tests, unittest), as TAP, on Debian's Python
# (/usr/bin/python3: python3-protobuf; `python3` first on PATH may be another one) against
# the package as built into $UHW_BUILD/python, with its generated uhw_pb2.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${UHW_BUILD:?UHW_BUILD must name the build directory}"
if [ ! -f "$UHW_BUILD/python/uhw/uhw_pb2.py" ]; then
    echo "1..1"
    echo "not ok 1 - $UHW_BUILD/python/uhw is not built (run make)"
    exit 1
fi
export PYTHONPATH="$UHW_BUILD/python" PYTHONDONTWRITEBYTECODE=1
unset UHW_PROTOCOL
exec /usr/bin/python3 contrib/python/tests/tap.py
