#!/usr/bin/env bash
# Runs each example in examples/ for real: installs its pinned dependencies, then serves events
# to it through lambda-adapter under
#   - the local emulator:  lambda-emulator --invoke EVENT -- ./run.sh   (when it is built), and
#   - AWS's Runtime Interface Emulator, deployed as a zip function would be: the layer zip
#     unpacked as /opt, AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, handler run.sh,
# and checks each response (status and body; SSE events; SQS batchItemFailures).
#
#   tests/examples.sh [NAME...]          # default: every example this script knows
# Environment: ADAPTER=path (default: the static build, rebuilt if stale), EMULATOR=path
# (default: target/release/lambda-emulator), SKIP_EMULATOR=1, SKIP_RIE=1.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh
WORK=$(mktemp -d)
trap 'stop_all; rm -rf "$WORK"' EXIT

ALL=(flask fastapi-sse express nginx sqs-consumer)
[ -x examples/python-stdlib/run.sh ] && ALL+=(python-stdlib)
ALL+=(fastapi-background)
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=("${ALL[@]}")

# The requests each example is checked with: EVENT KIND EXPECTED (see check_response).
cases_of() {
    case $1 in
    flask)
        echo 'events/item.json http 200 "id":7|"q":"lambda"|example-client/1.0'
        echo 'events/image.json png 200 -' ;;
    fastapi-sse)
        echo 'events/stream.json sse 200 event: tick|data: {"n": 1, "of": 3}|data: {"n": 3, "of": 3}|event: done' ;;
    express)
        echo 'events/greet.json http 200 "greeting":"Hello, Lambda!"'
        echo 'events/echo.json http 201 "received":{"hello":"from an event"}' ;;
    nginx)
        echo 'events/index.json http 200 <title>nginx on AWS Lambda</title>'
        echo 'events/css.json http 200 color: #ff9900' ;;
    sqs-consumer)
        echo 'events/sqs-batch.json batch - 2e1424d4-f796-459a-8184-9c92662be6da|c80e8021-a70a-42c7-a470-796e1186f753' ;;
    fastapi-background) # the receipt is sent after the first response; the second reads it
        echo 'events/order.json http 202 "order":"A-1001"|"status":"accepted"'
        echo 'events/receipt.json http 200 "order":"A-1001"|"receipt":"sent"' ;;
    python-stdlib) # helper A's example: its home page answers
        echo "$REPO/tests/examples/get-root.json http 200 -" ;;
    *) return 1 ;;
    esac
}

# check_response FILE KIND STATUS EXPECTED: the function's result as Lambda would return it.
#   http:  buffered response JSON; statusCode == STATUS; body contains each '|'-separated part
#   png:   buffered, base64-encoded body that is a PNG image
#   sse:   streamed (prelude, 8 NUL bytes, body; or the body alone); every part arrives, in order
#   batch: the app's pass-through JSON; batchItemFailures are exactly the given message ids
check_response() {
    python3 - "$@" <<'PY'
import base64, json, sys
path, kind, status, expected = sys.argv[1:5]
raw = open(path, "rb").read()
parts = expected.split("|")
def fail(why):
    print(f"     {why}; got: {raw[:400]!r}")
    sys.exit(1)
if kind in ("http", "png"):
    try:
        r = json.loads(raw)
        body = r.get("body") or ""
        body = base64.b64decode(body) if r.get("isBase64Encoded") else body.encode()
    except (ValueError, AttributeError) as e:
        fail(f"not a Lambda HTTP response ({e})")
    if r.get("statusCode") != int(status):
        fail(f"statusCode {r.get('statusCode')}, want {status}")
    if kind == "png":
        if not r.get("isBase64Encoded") or not body.startswith(b"\x89PNG\r\n\x1a\n"):
            fail("not a base64-encoded PNG")
    for p in parts if kind == "http" and parts != ["-"] else []:
        if p.encode() not in body:
            fail(f"body lacks {p!r}")
elif kind == "sse":
    prelude, sep, body = raw.partition(b"\0" * 8)
    if sep:
        head = json.loads(prelude)
        if head.get("statusCode") != int(status):
            fail(f"prelude statusCode {head.get('statusCode')}, want {status}")
        ctype = {k.lower(): v for k, v in head.get("headers", {}).items()}.get("content-type", "")
        if not ctype.startswith("text/event-stream"):
            fail(f"content-type {ctype!r}")
    else:
        body = raw
    at = 0
    for p in parts:
        found = body.find(p.encode(), at)
        if found < 0:
            fail(f"stream lacks {p!r} (in order)")
        at = found + len(p)
elif kind == "batch":
    try:
        ids = [f["itemIdentifier"] for f in json.loads(raw)["batchItemFailures"]]
    except (ValueError, KeyError, TypeError) as e:
        fail(f"no batchItemFailures ({e})")
    if ids != parts:
        fail(f"batchItemFailures {ids}, want {parts}")
else:
    fail(f"unknown kind {kind}")
PY
}

# The adapter under test, and the layer built from it.
if [ -z "${ADAPTER:-}" ]; then
    ADAPTER=target/x86_64-unknown-linux-gnu/release/lambda-adapter
    make -s -f layer.zip.mk static-binary # cargo rebuilds only what changed
fi
ADAPTER=$(cd "$(dirname "$ADAPTER")" && pwd)/$(basename "$ADAPTER")
EMULATOR=${EMULATOR:-$REPO/target/release/lambda-emulator}
if [ "${SKIP_EMULATOR:-}" != 1 ] && [ ! -x "$EMULATOR" ]; then
    echo "note: $EMULATOR not built (cargo build --release --features emulator): emulator runs skipped"
    SKIP_EMULATOR=1
fi
if [ "${SKIP_RIE:-}" != 1 ]; then
    make -s -f layer.zip.mk ADAPTER="$ADAPTER" LAYER_ZIP="$WORK/layer.zip" >/dev/null
    mkdir -p "$WORK/opt"
    python3 - "$WORK/layer.zip" "$WORK/opt" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        z.extract(i, sys.argv[2])
        os.chmod(os.path.join(sys.argv[2], i.filename), (i.external_attr >> 16) & 0o7777)
PY
fi
mkdir -p "$WORK/tmp"
export TMPDIR=$WORK/tmp

passed=0
failed=0
SUMMARY=()
record() { # NAME OK: counts one checked request
    if [ "$2" = 0 ]; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi
}
seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

# The example's function settings (lambda.env: KEY=VALUE lines), one per line.
function_env() {
    local file=examples/$1/lambda.env line
    [ -f "$file" ] || return 0
    while IFS= read -r line; do
        case $line in '' | '#'*) ;; *) echo "$line" ;; esac
    done <"$file"
}

# NAME: every case through lambda-emulator --invoke (one cold start each). In that mode the
# emulator sends the app's and the adapter's stdout to stderr: its stdout is the result alone.
run_emulator() {
    local name=$1 event kind status expected rc setting
    while IFS= read -r setting; do local -x "$setting"; done < <(function_env "$name")
    while IFS=' ' read -r event kind status expected; do
        rc=0
        (
            cd "examples/$name"
            PORT=$(free_port) timeout -s KILL 120 "${ISOLATE[@]}" \
                "$EMULATOR" --runtime-api "127.0.0.1:$(free_port)" --adapter "$ADAPTER" --timeout 30 \
                --invoke "$event" -- ./run.sh </dev/null >"$WORK/out" 2>"$WORK/emulator.log"
        ) || rc=$?
        [ $rc = 0 ] && { check_response "$WORK/out" "$kind" "$status" "$expected" || rc=$?; }
        [ $rc = 0 ] || tail -15 "$WORK/emulator.log" | sed 's/^/     emulator: /'
        record "$name: emulator: $event" $rc
    done < <(cases_of "$name")
}

run_rie() { # NAME: the example as a zip function with the layer; one init, then every case
    local name=$1 event kind status expected rc=0 invoke_port api_port setting
    invoke_port=$(free_port) api_port=$(free_port)
    while IFS= read -r setting; do local -x "$setting"; done < <(function_env "$name")
    # RIE does not apply AWS_LAMBDA_EXEC_WRAPPER: like Lambda's managed runtime, we run the
    # wrapper with a runtime command, which it ignores to exec $LAMBDA_TASK_ROOT/$_HANDLER.
    LAMBDA_TASK_ROOT=$REPO/examples/$name _HANDLER=run.sh AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap \
        AWS_LAMBDA_FUNCTION_TIMEOUT=30 PORT=$(free_port) \
        start_rie "$WORK/rie.log" "$invoke_port" "$api_port" "$WORK/opt" /opt/bootstrap "$name" || rc=$?
    while IFS=' ' read -r event kind status expected; do
        local case_rc=$rc
        if [ $case_rc = 0 ]; then
            local path=$event
            [[ $path == /* ]] || path=examples/$name/$event
            invoke_rie "$invoke_port" "$path" "$WORK/out" 90 || case_rc=$?
            [ $case_rc = 0 ] && { check_response "$WORK/out" "$kind" "$status" "$expected" || case_rc=$?; }
        fi
        [ $case_rc = 0 ] || tail -15 "$WORK/rie.log" | sed 's/^/     rie: /'
        record "$name: rie: $event" $case_rc
    done < <(cases_of "$name")
    stop_all
}

for name in "${NAMES[@]}"; do
    if ! cases_of "$name" >/dev/null || [ ! -x "examples/$name/run.sh" ]; then
        record "$name: unknown example" 1
        continue
    fi
    echo "== $name"
    # Lambda runs the handler script directly: it must be executable, with a shebang, LF endings.
    rc=0
    [ -x "examples/$name/run.sh" ] && head -c 2 "examples/$name/run.sh" | grep -q '#!' &&
        ! grep -q $'\r' "examples/$name/run.sh" || rc=1
    record "$name: run.sh is an executable script with LF line endings" $rc
    start=$(date +%s.%N)
    rc=0
    if [ -x "examples/$name/install.sh" ]; then
        timeout -s KILL 900 "examples/$name/install.sh" >"$WORK/install.log" 2>&1 || rc=$?
    fi
    install_s=$(seconds_since "$start")
    if [ $rc != 0 ]; then
        tail -15 "$WORK/install.log" | sed 's/^/     install: /'
        record "$name: install" $rc
        SUMMARY+=("$name: install failed after ${install_s}s")
        continue
    fi
    emulator_s=skipped rie_s=skipped
    if [ "${SKIP_EMULATOR:-}" != 1 ]; then
        start=$(date +%s.%N); run_emulator "$name"; emulator_s=$(seconds_since "$start")s
    fi
    if [ "${SKIP_RIE:-}" != 1 ]; then
        start=$(date +%s.%N); run_rie "$name"; rie_s=$(seconds_since "$start")s
    fi
    SUMMARY+=("$name: install ${install_s}s, emulator $emulator_s, rie $rie_s")
done

echo "== time per example (dependency install included)"
printf '   %s\n' "${SUMMARY[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
