#!/bin/sh
# Installs Debian's PHP command-line package (php-cli: the interpreter and its built-in web
# server) when php is missing: non-interactively, as root, nothing else.
set -eu
if command -v php >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "php is not installed: run 'sudo apt-get install -y --no-install-recommends php-cli' (or your system's PHP 8 package)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends php-cli >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends php-cli >/dev/null; }
