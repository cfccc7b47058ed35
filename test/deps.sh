#!/bin/sh
# Installs the Debian packages named in $UHW_DEBS that are missing (when root),
# or prints the exact command to run (when not). Called by `make deps`.
set -eu
missing=""
for p in $UHW_DEBS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "uhw: missing Debian packages:$missing" >&2
    echo "uhw: install them with:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "uhw: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Try without refreshing the package lists first (CI has just refreshed them).
apt-get install -y --no-install-recommends $missing || { apt-get update && apt-get install -y --no-install-recommends $missing; }
