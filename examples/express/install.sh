#!/bin/sh
# Installs the locked dependencies (package-lock.json) into node_modules beside this script;
# skipped when node_modules already holds exactly this lock's packages.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
lock=$(sha256sum <package-lock.json | cut -d' ' -f1)
[ "$(cat node_modules/.installed-lock 2>/dev/null)" = "$lock" ] && exit 0
npm ci --omit=dev --no-audit --no-fund --loglevel=error
echo "$lock" >node_modules/.installed-lock
