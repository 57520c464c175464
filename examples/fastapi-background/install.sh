#!/bin/sh
# Installs the pinned dependencies into DIR (default: .deps beside this script).
# For a Lambda zip, install into the build directory instead, for Lambda's Python:
#   ./install.sh build --platform manylinux2014_x86_64 --python-version 3.12
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$HERE/.deps}
[ $# -gt 0 ] && shift
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --only-binary=:all: \
    --target "$DIR" --upgrade -r "$HERE/requirements.txt" "$@"
