#!/bin/sh
# Is npm there for the Node SDK (contrib/node)? `check`: exit 0 if so, else say how to get it
# and exit 1. `install` (make deps): install Debian's npm when root, else print the command.
#
# Debian ships npm as its own package (it pulls in Debian's nodejs); nodesource's nodejs bundles
# npm and conflicts with Debian's npm package. So npm is installed only when the command is
# missing, and never listed among the Debian packages uhw needs.
set -eu
command -v npm >/dev/null 2>&1 && exit 0
if [ "${1:-check}" = install ] && [ "$(id -u)" -eq 0 ]; then
    echo "uhw: installing Debian's npm (the Node SDK's dependencies come from the npm registry)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends npm ||
        { apt-get update && apt-get install -y --no-install-recommends npm; }
    exit 0
fi
echo "uhw: npm not found; install it with:  sudo apt-get install -y npm   (or: make deps)" >&2
exit 1
