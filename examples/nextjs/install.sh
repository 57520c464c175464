#!/bin/sh
# Installs the locked packages (npm ci from package-lock.json), builds the app (`next build`,
# standalone output) and assembles build/: the standalone server with its static assets,
# public/ and run.sh, which is exactly what the function zip holds. A step whose inputs did not
# change since the last run is skipped. npm's download cache is npm's own (npm_config_cache).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
export NEXT_TELEMETRY_DISABLED=1

# Fingerprint of the given files and of every file under the given directories (names included).
fingerprint() {
    find "$@" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

lock=$(fingerprint package-lock.json)
if [ "$(cat node_modules/.installed-lock 2>/dev/null)" != "$lock" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock" >node_modules/.installed-lock
fi

sources=$(fingerprint package-lock.json package.json next.config.mjs run.sh app public)
if [ "$(cat build/.built-from 2>/dev/null)" != "$sources" ]; then
    rm -rf build .next
    ./node_modules/.bin/next build
    cp -a .next/standalone build
    cp -a .next/static build/.next/static
    cp -a public build/public
    cp run.sh build/run.sh
    # Next writes its runtime cache under .next/cache; on Lambda only /tmp is writable.
    ln -s /tmp/next-cache build/.next/cache
    echo "$sources" >build/.built-from
fi
