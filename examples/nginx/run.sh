#!/bin/sh
# Renders nginx.conf into a writable directory and starts nginx in the foreground on
# 127.0.0.1:$PORT (default 8080), where lambda-adapter forwards each event.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nginx.XXXXXX")
sed -e "s|@PORT@|${PORT:-8080}|g" -e "s|@HERE@|$HERE|g" -e "s|@ROOT@|$HERE/public|g" \
    -e "s|@TMP@|$TMP|g" "$HERE/nginx.conf" > "$TMP/nginx.conf"
# Started as root (a container, or a local namespace), nginx would switch its worker to
# 'nobody'; keep the current user so the files stay readable. On Lambda it never runs as root.
if [ "$(id -u)" = 0 ]; then sed -i '1i user root;' "$TMP/nginx.conf"; fi
exec "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e stderr
