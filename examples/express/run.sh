#!/bin/sh
# Starts the app on 127.0.0.1:$PORT (default 8080), where lambda-adapter forwards each event.
HERE=$(cd "$(dirname "$0")" && pwd)
exec node "$HERE/app.js"
