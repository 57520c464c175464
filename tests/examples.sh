#!/usr/bin/env bash
# Runs each example in examples/ for real: installs its pinned dependencies (package managers'
# caches in .cache/), then serves events to it through lambda-adapter under
#   - the local emulator:  lambda-emulator --invoke EVENT -- ./run.sh   (when it is built); a
#     streamed response goes through the emulator's front door instead, which relays it piece
#     by piece, so the check sees when each piece arrived, and
#   - AWS's Runtime Interface Emulator, deployed as a zip function would be: the layer zip
#     unpacked as /opt, AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, handler run.sh,
# and checks each response (status and body; streamed parts and that they were streamed; SQS
# batchItemFailures).
#
#   tests/examples.sh [NAME...]          # default: every example this script knows
# Environment: ADAPTER=path (default: the static build in cargo's target directory, rebuilt if
# stale), EMULATOR=path (default: the release lambda-emulator there), SKIP_EMULATOR=1, SKIP_RIE=1.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh
WORK=$(mktemp -d)
trap 'stop_all; rm -rf "$WORK"' EXIT

ALL=(flask fastapi-sse express nginx sqs-consumer nextjs django php java sinatra snapstart)
[ -x examples/python-stdlib/run.sh ] && ALL+=(python-stdlib)
ALL+=(fastapi-background)
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=("${ALL[@]}")

# The requests each example is checked with: EVENT KIND STATUS EXPECTED (see check_response).
# An EVENT prefixed `emulator:` or `rie:` is checked under that runner only.
cases_of() {
    case $1 in
    flask)
        echo 'events/item.json http 200 "id":7|"q":"lambda"|example-client/1.0'
        echo 'events/image.json png 200 -'
        echo 'events/lattice-item.json http 200 "id":7|"q":"lambda"|example-client/1.0'
        echo 'events/lattice-v1-image.json png 200 -' ;;
    fastapi-sse)
        echo 'events/stream.json sse 200 event: tick|data: {"n": 1, "of": 3}|data: {"n": 3, "of": 3}|event: done' ;;
    nextjs) # the streamed page: the shell with its fallback first, the forecast when rendered
        echo 'events/stream.json html 200 id="fallback"|id="forecast"|Sunny, 21 °C'
        echo 'events/greet.json streamed 200 "greeting":"Hello, Lambda!"'
        echo 'events/post.json streamed 201 "received":{"hello":"from an event"}'
        echo 'events/home.json streamed 200 <title>Next.js on AWS Lambda</title>' ;;
    django)
        echo 'events/home.json http 200 <title>Django on AWS Lambda</title>|/products/2'
        echo 'events/product.json http 200 "name": "Teapot"|"currency": "USD"|"secure": true'
        echo 'events/order.json http 201 "total_cents": 9300' ;;
    php)
        echo 'events/home.json http 200 <title>PHP on AWS Lambda</title>'
        echo 'events/time.json http 200 "tz":"Europe/Paris"|"apiRequestId":"example-request-1"|"lambdaRequestId":"'
        echo 'events/note.json http 201 "stored":"buy milk"' ;;
    java)
        echo 'events/root.json http 200 Hello from Java on AWS Lambda!'
        echo 'events/hello.json http 200 "greeting":"Hello, Lambda user!"'
        echo 'events/note.json http 201 "stored":"{\"text\":\"buy milk\"}"|"contentType":"application/json"' ;;
    sinatra)
        echo 'events/root.json http 200 Hello from Sinatra on AWS Lambda!'
        echo 'events/book.json http 200 "title":"Working Effectively with Legacy Code"|"format":"ebook"'
        echo 'events/create.json http 201 "title":"Crafting Interpreters"' ;;
    express)
        echo 'events/greet.json http 200 "greeting":"Hello, Lambda!"'
        echo 'events/echo.json http 201 "received":{"hello":"from an event"}' ;;
    nginx)
        echo 'events/index.json http 200 <title>nginx on AWS Lambda</title>'
        echo 'events/css.json http 200 color: #ff9900' ;;
    sqs-consumer)
        echo 'events/sqs-batch.json batch - 2e1424d4-f796-459a-8184-9c92662be6da|c80e8021-a70a-42c7-a470-796e1186f753' ;;
    snapstart) # the emulator plays the snapshot and the restore; RIE cannot (no /restore/next)
        echo 'emulator:events/state.json http 200 "pool": "open"|"poolGeneration": 2|"beforeCheckpoint": 1|"afterRestore": 1'
        echo 'rie:events/state.json http 200 "pool": "open"|"poolGeneration": 1|"afterRestore": 0'
        echo 'events/hook.json http 403 Forbidden' ;;
    fastapi-background) # the receipt is sent after the first response; the second reads it
        echo 'events/order.json http 202 "order":"A-1001"|"status":"accepted"'
        echo 'events/receipt.json http 200 "order":"A-1001"|"receipt":"sent"' ;;
    python-stdlib) # helper A's example: its home page answers
        echo "$REPO/tests/examples/get-root.json http 200 -" ;;
    *) return 1 ;;
    esac
}

# check_response FILE KIND STATUS EXPECTED: see tests/example_checks.py (http, png, sse, html,
# streamed, batch).
check_response() { python3 "$REPO/tests/example_checks.py" check "$@"; }
is_stream() { [ "$1" = sse ] || [ "$1" = html ] || [ "$1" = streamed ]; }

# The adapter under test, and the layer built from it; cargo says where it builds.
TARGET_DIR=$(cargo_target_dir)
if [ -z "${ADAPTER:-}" ]; then
    ADAPTER=$TARGET_DIR/x86_64-unknown-linux-gnu/release/lambda-adapter
    make -s -f layer.zip.mk static-binary # cargo rebuilds only what changed
fi
ADAPTER=$(cd "$(dirname "$ADAPTER")" && pwd)/$(basename "$ADAPTER")
EMULATOR=${EMULATOR:-$TARGET_DIR/release/lambda-emulator}
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
# Package managers keep their downloads in .cache/ (git-ignored), so a second run is quicker.
export npm_config_cache=$REPO/.cache/npm PIP_CACHE_DIR=$REPO/.cache/pip

SUMMARY=()
record() { # NAME STATUS: counts one checked request (STATUS 0: it passed)
    check "$1" [ "$2" = 0 ]
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

# NAME: every case through the local emulator, one cold start each. Buffered cases use
# `lambda-emulator --invoke EVENT -- ./run.sh` (its stdout is the result alone: the app's and the
# adapter's output goes to stderr); streamed ones go through its front door, which relays each
# piece as the adapter streams it.
run_emulator() {
    local name=$1 event kind status expected rc setting
    while IFS= read -r setting; do local -x "$setting"; done < <(function_env "$name")
    while IFS=' ' read -r event kind status expected; do
        case $event in rie:*) continue ;; emulator:*) event=${event#emulator:} ;; esac
        rc=0
        if is_stream "$kind"; then
            through_front_door "$name" "$event" || rc=$?
        else
            (
                cd "examples/$name"
                PORT=$(free_port) timeout -s KILL 120 "${ISOLATE[@]}" \
                    "$EMULATOR" --runtime-api "127.0.0.1:$(free_port)" --adapter "$ADAPTER" --timeout 30 \
                    --invoke "$event" -- ./run.sh </dev/null >"$WORK/out" 2>"$WORK/emulator.log"
            ) || rc=$?
        fi
        [ $rc = 0 ] && { check_response "$WORK/out" "$kind" "$status" "$expected" || rc=$?; }
        [ $rc = 0 ] || tail -15 "$WORK/emulator.log" | sed 's/^/     emulator: /'
        record "$name: emulator: $event" $rc
    done < <(cases_of "$name")
}

# NAME EVENT: the emulator with a front door on a free port; the event's request sent to it,
# the response captured piece by piece with arrival times into $WORK/out.
through_front_door() {
    local name=$1 event=$2 door rc=0
    door=$(free_port)
    PORT=$(free_port) start_isolated "$WORK/emulator.log" "$EMULATOR" --runtime-api "127.0.0.1:$(free_port)" \
        --listen "127.0.0.1:$door" --adapter "$ADAPTER" --timeout 30 -- "$REPO/examples/$name/run.sh"
    if wait_port "$door" 30; then
        timeout -s KILL 100 python3 "$REPO/tests/example_checks.py" fetch "examples/$name/$event" \
            "127.0.0.1:$door" "$WORK/out" 90 || rc=$?
    else
        rc=1
    fi
    stop_all
    return $rc
}

run_rie() { # NAME: the example as a zip function with the layer; one init, then every case
    local name=$1 event kind status expected rc=0 invoke_port api_port setting
    invoke_port=$(free_port) api_port=$(free_port)
    while IFS= read -r setting; do local -x "$setting"; done < <(function_env "$name")
    # RIE's Runtime API has no SnapStart endpoints (/restore/next answers 404): there the
    # function runs as an on-demand one, and its hooks never fire.
    [ "${AWS_LAMBDA_INITIALIZATION_TYPE:-}" != snap-start ] || local -x AWS_LAMBDA_INITIALIZATION_TYPE=on-demand
    # RIE does not apply AWS_LAMBDA_EXEC_WRAPPER: like Lambda's managed runtime, we run the
    # wrapper with a runtime command, which it ignores to exec $LAMBDA_TASK_ROOT/$_HANDLER.
    LAMBDA_TASK_ROOT=$REPO/examples/$name _HANDLER=run.sh AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap \
        AWS_LAMBDA_FUNCTION_TIMEOUT=30 PORT=$(free_port) \
        start_rie "$WORK/rie.log" "$invoke_port" "$api_port" "$WORK/opt" /opt/bootstrap "$name" || rc=$?
    while IFS=' ' read -r event kind status expected; do
        case $event in emulator:*) continue ;; rie:*) event=${event#rie:} ;; esac
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
report_checks
