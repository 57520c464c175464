#!/bin/sh
# Installs the locked dependencies (package-lock.json) into node_modules beside this script.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
if [ -f package-lock.json ]; then
    npm ci --omit=dev --no-audit --no-fund --loglevel=error
else
    npm install --omit=dev --no-audit --no-fund --loglevel=error
fi
