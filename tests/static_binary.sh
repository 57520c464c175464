#!/usr/bin/env bash
# Checks that the release binary is fully static: `file`/`ldd` report no dynamic dependencies,
# it runs `--version` and `--help` in an empty root directory holding nothing but itself
# (no libc, no loader, no /etc, no /proc), and from there it serves a real invocation under
# AWS's Runtime Interface Emulator with AWS_LWA_HOST=localhost (so no NSS, no /etc/hosts).
# Builds it first unless ADAPTER=path is given.
#
#   tests/static_binary.sh                 # builds the release binary (layer.zip.mk), x86_64-unknown-linux-gnu
#   ADAPTER=path/to/lambda-adapter tests/static_binary.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh

TARGET=${TARGET:-x86_64-unknown-linux-gnu}
if [ -z "${ADAPTER:-}" ]; then
    make -s -f layer.zip.mk release-binary TARGET="$TARGET"
    ADAPTER=$(cargo_target_dir)/$TARGET/release/lambda-adapter
fi

file_says_static() {
    local out; out=$(file -L "$ADAPTER")
    echo "     file: ${out#*: }"
    [[ $out == *"statically linked"* || $out == *"static-pie linked"* ]] && [[ $out != *"interpreter"* ]]
}
ldd_finds_nothing() {
    # ldd exits 1 with "not a dynamic executable" for a static binary (glibc's ldd) or prints
    # "statically linked"; any "=>" line would be a shared library.
    local out; out=$(ldd "$ADAPTER" 2>&1 || true)
    echo "     ldd: $out"
    [[ $out != *"=>"* ]] && [[ $out == *"statically linked"* || $out == *"not a dynamic executable"* ]]
}
check "file reports a static executable" file_says_static
check "ldd reports no shared libraries" ldd_finds_nothing

WORK=$(mktemp -d)
trap 'stop_all; rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir "$ROOT"
cp "$ADAPTER" "$ROOT/lambda-adapter"
if [ "$(id -u)" = 0 ]; then CHROOT=(chroot "$ROOT"); else CHROOT=(unshare -r chroot "$ROOT"); fi
echo "     empty root: $(cd "$ROOT" && find . | sort | tr '\n' ' ')"

runs_version() {
    local out; out=$(timeout 10 "${CHROOT[@]}" /lambda-adapter --version)
    echo "     --version: $out"
    [[ $out =~ ^lambda-adapter\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}
runs_help() {
    local out; out=$(timeout 10 "${CHROOT[@]}" /lambda-adapter --help)
    [[ $out == *"AWS_LWA_PORT"* && $out == *"AWS_LWA_INVOKE_MODE"* ]]
}
rejects_unknown_argument() {
    local rc=0; timeout 10 "${CHROOT[@]}" /lambda-adapter --no-such-flag 2>/dev/null || rc=$?
    [ "$rc" = 2 ]
}
check "runs --version in an empty chroot" runs_version
check "runs --help in an empty chroot" runs_help
check "exits 2 on an unknown argument in an empty chroot" rejects_unknown_argument

# RIE starts /opt/extensions/lambda-adapter: here a script that runs the binary chrooted in the
# empty root (the network namespace is shared, so loopback reaches RIE and the app).
mkdir -p "$WORK/opt/extensions"
printf '#!/bin/sh\nexec chroot "%s" /lambda-adapter\n' "$ROOT" >"$WORK/opt/extensions/lambda-adapter"
chmod 0755 "$WORK/opt/extensions/lambda-adapter"
cat >"$WORK/app.py" <<'PY'
import json, os
from http.server import BaseHTTPRequestHandler, HTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"served": "from a static binary", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(os.environ["AWS_LWA_PORT"])), Handler).serve_forever()
PY
serves_from_empty_root() {
    local invoke_port api_port
    invoke_port=$(free_port) api_port=$(free_port)
    AWS_LWA_HOST=localhost AWS_LWA_PORT=$(free_port) AWS_LAMBDA_FUNCTION_TIMEOUT=30 \
        start_rie "$WORK/rie.log" "$invoke_port" "$api_port" "$WORK/opt" python3 "$WORK/app.py" &&
        invoke_rie "$invoke_port" tests/examples/get-root.json "$WORK/response.json" 60 &&
        python3 - "$WORK/response.json" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
print("     response: " + raw[:200])
r = json.loads(raw)
assert r["statusCode"] == 200 and json.loads(r["body"])["served"] == "from a static binary", r
PY
}
if [ "${SKIP_RIE:-}" = 1 ]; then
    echo "skip serves an invocation from the empty chroot (SKIP_RIE=1)"
elif check "serves an invocation from the empty chroot (AWS_LWA_HOST=localhost, under RIE)" serves_from_empty_root; then :; else
    tail -15 "$WORK/rie.log" | sed 's/^/     rie: /'
fi
stop_all

report_checks
