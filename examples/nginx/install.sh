#!/bin/sh
# Installs nginx from Debian's packages when it is missing (needs root; nginx-light is enough).
set -eu
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "nginx is not installed: run 'sudo apt-get install -y nginx-light' (or your system's nginx package)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends nginx-light >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends nginx-light >/dev/null; }
