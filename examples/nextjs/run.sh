#!/bin/sh
# Starts the standalone Next.js server on 127.0.0.1:$PORT (default 8080), where lambda-adapter
# forwards each event. In the function zip server.js sits beside this script; in the source
# tree install.sh assembled the same files in build/.
HERE=$(cd "$(dirname "$0")" && pwd)
APP=$HERE
[ -f "$APP/server.js" ] || APP=$HERE/build
mkdir -p /tmp/next-cache # .next/cache points here: /tmp is Lambda's only writable directory
export HOSTNAME=127.0.0.1 PORT="${PORT:-8080}" NODE_ENV=production NEXT_TELEMETRY_DISABLED=1
# Keep the adapter's connection open across invocations (Node's default closes it after 5 s).
export KEEP_ALIVE_TIMEOUT="${KEEP_ALIVE_TIMEOUT:-3600000}"
exec node "$APP/server.js"
