#!/bin/sh
# Serves config.ru with WEBrick on 127.0.0.1:$PORT (default 8080), where lambda-adapter
# forwards each event (production: no development logger or lint middleware).
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE" && exec rackup --server webrick --host 127.0.0.1 --port "${PORT:-8080}" --env production config.ru
