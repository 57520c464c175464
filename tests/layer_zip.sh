#!/usr/bin/env bash
# The layer zip (layer.zip.mk): reproducible, upstream's layout and modes, and working under
# AWS's Runtime Interface Emulator as a zip function would use it: the layer unpacked as /opt,
# AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, and the handler `run.sh` starting a Python app.
#
#   tests/layer_zip.sh                      # builds the static binary, then the zip, twice
#   ADAPTER=path/to/lambda-adapter tests/layer_zip.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh
WORK=$(mktemp -d)
trap 'stop_all; rm -rf "$WORK"' EXIT

MAKE_ARGS=(-s -f layer.zip.mk)
if [ -n "${ADAPTER:-}" ]; then MAKE_ARGS+=("ADAPTER=$ADAPTER"); else ADAPTER=$(cargo_target_dir)/x86_64-unknown-linux-gnu/release/lambda-adapter; fi

make "${MAKE_ARGS[@]}" LAYER_ZIP="$WORK/first.zip" >/dev/null
sleep 1.1 # a build that leaked the clock into the zip would now differ
make "${MAKE_ARGS[@]}" LAYER_ZIP="$WORK/second.zip" >/dev/null
first=$(sha256sum <"$WORK/first.zip" | cut -d' ' -f1)
second=$(sha256sum <"$WORK/second.zip" | cut -d' ' -f1)
echo "     sha256: $first ($(stat -c %s "$WORK/first.zip") bytes)"
check "two builds give the same bytes" [ "$first" = "$second" ]

# The entries, their modes and metadata, as written in the zip's central directory.
inspect_zip() {
    python3 - "$WORK/first.zip" "$ADAPTER" <<'PY'
import sys, zipfile
path, adapter = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(path)
problems = []
names = [i.filename for i in z.infolist()]
if names != ["bootstrap", "extensions/", "extensions/lambda-adapter"]:
    problems.append(f"entries {names}")
for i in z.infolist():
    mode = i.external_attr >> 16
    want = 0o040755 if i.is_dir() else 0o100755
    if mode != want:
        problems.append(f"{i.filename}: mode {oct(mode)}, want {oct(want)}")
    if i.date_time != (1980, 1, 1, 0, 0, 0):
        problems.append(f"{i.filename}: timestamp {i.date_time}")
    if i.extra or i.comment:
        problems.append(f"{i.filename}: extra fields or comment")
bootstrap = z.read("bootstrap")
if bootstrap != b'#!/bin/bash\n\nexec -- "${LAMBDA_TASK_ROOT}/${_HANDLER}"\n':
    problems.append(f"bootstrap is {bootstrap!r}")
if z.read("extensions/lambda-adapter") != open(adapter, "rb").read():
    problems.append("extensions/lambda-adapter differs from the built binary")
for p in problems:
    print("     " + p)
sys.exit(1 if problems else 0)
PY
}
check "entries, modes (0755), timestamps and bootstrap bytes are upstream's layout" inspect_zip

# Unpacked the way Lambda does it: modes from the zip, into what becomes /opt.
unzip_layer() {
    python3 - "$WORK/first.zip" "$WORK/opt" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        target = os.path.join(sys.argv[2], i.filename)
        if i.is_dir():
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(z.read(i))
        os.chmod(target, (i.external_attr >> 16) & 0o7777)
PY
    [ -x "$WORK/opt/bootstrap" ] && [ -x "$WORK/opt/extensions/lambda-adapter" ]
}
check "unpacks to executable /opt/bootstrap and /opt/extensions/lambda-adapter" unzip_layer

# The function's code: a handler script that starts a standard-library web app.
mkdir -p "$WORK/task"
cat >"$WORK/task/run.sh" <<'SH'
#!/bin/sh
export STARTED_BY=run.sh
exec python3 "$LAMBDA_TASK_ROOT/app.py"
SH
cat >"$WORK/task/app.py" <<'PY'
import json, os
from http.server import BaseHTTPRequestHandler, HTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "started_by": os.environ.get("STARTED_BY"),
                           "host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
PY
chmod 0755 "$WORK/task/run.sh"
cat >"$WORK/event.json" <<'JSON'
{"version":"2.0","routeKey":"$default","rawPath":"/from/layer","rawQueryString":"check=1",
 "headers":{"host":"abc123.execute-api.us-east-1.amazonaws.com","user-agent":"layer-test"},
 "requestContext":{"accountId":"123456789012","apiId":"abc123","domainName":"abc123.execute-api.us-east-1.amazonaws.com",
  "http":{"method":"GET","path":"/from/layer","protocol":"HTTP/1.1","sourceIp":"203.0.113.7","userAgent":"layer-test"},
  "requestId":"layer-test-1","routeKey":"$default","stage":"$default","time":"21/Nov/2026:00:00:00 +0000","timeEpoch":1795219200000},
 "isBase64Encoded":false}
JSON

invoke_port=$(free_port) api_port=$(free_port) app_port=$(free_port)
# RIE does not apply AWS_LAMBDA_EXEC_WRAPPER itself: like the managed runtime, we run
# "/opt/bootstrap <runtime command>"; the wrapper ignores the command and execs the handler.
rie_invoke() {
    LAMBDA_TASK_ROOT=$WORK/task _HANDLER=run.sh AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap PORT=$app_port \
        AWS_LAMBDA_FUNCTION_TIMEOUT=30 \
        start_rie "$WORK/rie.log" "$invoke_port" "$api_port" "$WORK/opt" /opt/bootstrap python3 -m awslambdaric \
        && invoke_rie "$invoke_port" "$WORK/event.json" "$WORK/response.json" 60 \
        && python3 - "$WORK/response.json" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
print("     response: " + raw[:300])
r = json.loads(raw)
app = json.loads(r["body"])
assert r["statusCode"] == 200, r
assert r["headers"]["content-type"] == "application/json", r
assert app == {"path": "/from/layer?check=1", "started_by": "run.sh",
               "host": "abc123.execute-api.us-east-1.amazonaws.com"}, app
PY
}
if check "RIE: /opt/bootstrap starts run.sh, the layer's extension answers a v2 event" rie_invoke; then :; else
    sed 's/^/     rie: /' "$WORK/rie.log" | tail -20
fi
stop_all

report_checks
