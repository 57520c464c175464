#!/bin/sh
# Starts the app on 127.0.0.1:$PORT (default 8080), where lambda-adapter forwards each event.
# `exec`, so that uvicorn itself is the process Lambda sends SIGTERM to at shutdown.
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$HERE/.deps:$HERE${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn --host 127.0.0.1 --port "${PORT:-8080}" --app-dir "$HERE" --no-access-log app:app
