#!/bin/sh
# Starts the Django app under gunicorn on 127.0.0.1:$PORT (default 8080), where lambda-adapter
# forwards each event.
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$HERE/.deps:$HERE${PYTHONPATH:+:$PYTHONPATH}"
export DJANGO_SETTINGS_MODULE=shop.settings
exec python3 -m gunicorn --bind "127.0.0.1:${PORT:-8080}" --workers 1 --threads 4 --no-control-socket \
    --chdir "$HERE" shop.wsgi:application
