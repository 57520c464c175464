#!/bin/sh
# Starts PHP's built-in web server on 127.0.0.1:$PORT (default 8080), where lambda-adapter
# forwards each event, with public/index.php as the router for every request. Lambda sends one
# request at a time per environment, which the built-in server's workers handle well.
HERE=$(cd "$(dirname "$0")" && pwd)
export PHP_CLI_SERVER_WORKERS="${PHP_CLI_SERVER_WORKERS:-2}"
exec php -d expose_php=0 -S "127.0.0.1:${PORT:-8080}" -t "$HERE/public" "$HERE/public/index.php"
