#!/bin/sh
# Installs Debian's Ruby with its Sinatra and WEBrick packages (ruby-sinatra pulls in ruby,
# rack, tilt and mustermann) when Sinatra is missing: non-interactively, as root, nothing else.
set -eu
if command -v ruby >/dev/null 2>&1 && ruby -e 'require "sinatra/base"; require "webrick"' >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "Sinatra is not installed: run 'sudo apt-get install -y --no-install-recommends ruby-sinatra ruby-webrick'" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends ruby-sinatra ruby-webrick >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends ruby-sinatra ruby-webrick >/dev/null; }
