#!/usr/bin/env bash
# `make demo`: the local emulator, the adapter and this example app, with real HTTP requests
# through the emulator's front door (plain HTTP -> API Gateway v2 event -> adapter -> app and
# back). Needs only the binaries built by `make demo` (the debug build, in cargo's target
# directory: BIN=dir overrides) and python3; uses curl when it is installed, python3 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BIN:-}" ]; then # where cargo builds: target/ unless CARGO_TARGET_DIR says otherwise
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
FRONT=127.0.0.1:$(free_port)
export AWS_LWA_PORT=$(free_port)
LOG=$(mktemp)

"$BIN/lambda-emulator" --runtime-api "127.0.0.1:$(free_port)" --listen "$FRONT" --adapter "$BIN/lambda-adapter" \
    -- examples/python-stdlib/run.sh >"$LOG" 2>&1 &
EMULATOR=$!
# Stopping the emulator stops the adapter and the app too (its watchdog sees it go).
trap 'kill "$EMULATOR" 2>/dev/null; wait "$EMULATOR" 2>/dev/null || true; rm -f "$LOG"' EXIT

# send METHOD PATH [CONTENT_TYPE BODY]: prints the status line, headers and body.
send() {
    local method=$1 path=$2 type=${3:-} body=${4:-}
    echo
    echo "==> $method http://$FRONT$path ${body:+($type) $body}"
    if command -v curl >/dev/null; then
        local args=(-sS -i --max-time 60 -X "$method" "http://$FRONT$path" -H "Cookie: demo=1; lang=en")
        [ -n "$type" ] && args+=(-H "Content-Type: $type" --data-binary "$body")
        if [ "$path" = /binary ]; then
            curl "${args[@]}" -o - | python3 -c 'import sys; d=sys.stdin.buffer.read(); h,_,b=d.partition(b"\r\n\r\n"); print(h.decode()); print(); print("(binary body, hex)", b.hex(" "))'
        else
            curl "${args[@]}"
            echo
        fi
    else
        python3 - "$method" "$FRONT" "$path" "$type" "$body" <<'PY'
import http.client, sys
method, front, path, ctype, body = sys.argv[1:6]
host, port = front.split(":")
conn = http.client.HTTPConnection(host, int(port), timeout=60)
headers = {"Cookie": "demo=1; lang=en"}
if ctype:
    headers["Content-Type"] = ctype
conn.request(method, path, body=body.encode() if body else None, headers=headers)
r = conn.getresponse()
print(f"HTTP/1.1 {r.status} {r.reason}")
for k, v in r.getheaders():
    print(f"{k}: {v}")
print()
data = r.read()
print(data.decode() if path != "/binary" else "(binary body, hex) " + data.hex(" "))
PY
    fi
}

# Wait (at most 30 s) for the front door; requests sent before the app is ready simply queue.
python3 - "$FRONT" <<'PY' || { cat "$LOG"; echo "the emulator did not start" >&2; exit 1; }
import socket, sys, time
host, port = sys.argv[1].split(":")
deadline = time.time() + 30
while True:
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.05)
PY

echo "lambda-emulator: front door http://$FRONT -> Runtime API -> lambda-adapter -> examples/python-stdlib/app.py (port $AWS_LWA_PORT)"
send GET /
send POST '/echo?lang=en' application/json '{"message": "hello through Lambda", "n": 42}'
send GET /binary
send GET /cookies
echo
echo "--- emulator, adapter and app output ---"
cat "$LOG"
echo "--- demo done; stopping the emulator, the adapter and the app ---"
