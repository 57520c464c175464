#!/usr/bin/env bash
# Installs AWS's Runtime Interface Emulator (aws-lambda-rie, x86_64) from the aws-sam-cli wheel
# on PyPI (no Docker needed). Usage: .ci/install-rie.sh DEST_DIR -> DEST_DIR/aws-lambda-rie.
# Idempotent: a binary with the pinned sha256 is left alone. Needs python3 with pip.
set -euo pipefail
DEST=${1:?dest dir}
SAM_VERSION=1.170.0
SHA256=6b1e686e62ab2baf5759c412c4864276ef2a88b094fca53ec070637ccba9b9a5
mkdir -p "$DEST"
if [ -x "$DEST/aws-lambda-rie" ] && echo "$SHA256  $DEST/aws-lambda-rie" | sha256sum -c --quiet 2>/dev/null; then exit 0; fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: -d "$TMP" "aws-sam-cli==$SAM_VERSION"
python3 - "$TMP" "$DEST" <<'PY'
import sys, glob, zipfile, shutil
tmp, dest = sys.argv[1], sys.argv[2]
whl = glob.glob(f"{tmp}/aws_sam_cli-*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open("samcli/local/rapid/aws-lambda-rie-x86_64") as src, open(f"{dest}/aws-lambda-rie", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$DEST/aws-lambda-rie"
echo "$SHA256  $DEST/aws-lambda-rie" | sha256sum -c --quiet
echo "installed $DEST/aws-lambda-rie (from aws-sam-cli $SAM_VERSION)"
