#!/bin/sh
# Starts the consumer on 127.0.0.1:$PORT (default 8080), where lambda-adapter posts each event.
HERE=$(cd "$(dirname "$0")" && pwd)
exec python3 "$HERE/app.py"
