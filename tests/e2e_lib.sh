# Shared helpers for the shell end-to-end tests (sourced, not run). Every wait has a timeout;
# every process started through `start_isolated` runs in its own PID namespace and is killed,
# with everything it started, by `stop_all` (called on exit).
#
# The caller sets REPO (the repository root) and WORK (a scratch directory it owns).

RIE_SAM_VERSION=1.170.0
RIE_SHA256=6b1e686e62ab2baf5759c412c4864276ef2a88b094fca53ec070637ccba9b9a5
STARTED_PIDS=()
# A command prefix that runs its command in a new PID namespace, killed with everything in it
# when the prefix's process dies (as non-root, inside a user namespace where we are "root").
ISOLATE=(unshare --pid --fork --kill-child)
[ "$(id -u)" = 0 ] || ISOLATE=(unshare --map-root-user --pid --fork --kill-child)

# The tally every shell test prints: `check NAME COMMAND...` runs the command and prints `ok` or
# `FAIL` before NAME; `report_checks`, the script's last command, prints the totals and fails
# when any check failed.
passed=0
failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
report_checks() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

# Prints cargo's target directory for this repository: target/ unless CARGO_TARGET_DIR (or a
# cargo config's build.target-dir) says otherwise.
cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps --manifest-path "$REPO/Cargo.toml" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# Prints a free loopback TCP port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Prints the path of AWS's Runtime Interface Emulator, installing the pinned version from the
# aws-sam-cli wheel on PyPI into $REPO/.cache/rie when it is not there yet (RIE=path overrides).
find_rie() {
    if [ -n "${RIE:-}" ]; then echo "$RIE"; return; fi
    local dest=$REPO/.cache/rie
    if ! echo "$RIE_SHA256  $dest/aws-lambda-rie" | sha256sum -c --quiet >/dev/null 2>&1; then
        mkdir -p "$dest/download"
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
            -d "$dest/download" "aws-sam-cli==$RIE_SAM_VERSION" >&2
        python3 - "$dest" <<'PY'
import glob, shutil, sys, zipfile
dest = sys.argv[1]
wheel = glob.glob(f"{dest}/download/aws_sam_cli-*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("samcli/local/rapid/aws-lambda-rie-x86_64") as src, \
        open(f"{dest}/aws-lambda-rie", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
        rm -rf "$dest/download"
        chmod 0755 "$dest/aws-lambda-rie"
        echo "$RIE_SHA256  $dest/aws-lambda-rie" | sha256sum -c --quiet >&2 || return 1
    fi
    echo "$dest/aws-lambda-rie"
}

# start_isolated LOG COMMAND...: runs COMMAND in the background in new PID and mount namespaces
# (so a bind mount over /opt is private and `stop_all` reaps every descendant), output to LOG.
start_isolated() {
    local log=$1; shift
    "${ISOLATE[@]}" --mount --propagation private "$@" </dev/null >"$log" 2>&1 &
    STARTED_PIDS+=("$!")
}

# Kills everything started with start_isolated and waits for it. `unshare --fork` ignores
# SIGTERM, so it gets SIGKILL; --kill-child then kills the namespace's init, and with it the
# kernel kills every process in the namespace.
stop_all() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    STARTED_PIDS=()
}

# wait_port PORT SECONDS: waits until something accepts connections on 127.0.0.1:PORT.
wait_port() {
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < limit:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# start_rie LOG INVOKE_PORT API_PORT OPT_DIR COMMAND...: AWS's RIE with OPT_DIR bind-mounted
# over /opt (its extensions come from /opt/extensions), running COMMAND as the runtime.
# Environment for the function goes on the caller's environment (RIE passes it all on).
start_rie() {
    local log=$1 invoke_port=$2 api_port=$3 opt=$4; shift 4
    local rie; rie=$(find_rie) || return 1
    start_isolated "$log" sh -c 'opt=$1 rie=$2; shift 2; mount --bind "$opt" /opt && exec "$rie" "$@"' sh \
        "$opt" "$rie" --runtime-interface-emulator-address "127.0.0.1:$invoke_port" \
        --runtime-api-address "127.0.0.1:$api_port" "$@"
    wait_port "$invoke_port" 15
}

# invoke_rie INVOKE_PORT EVENT_FILE OUT_FILE [SECONDS]: one invocation; the function's result
# (or RIE's error JSON) goes to OUT_FILE.
invoke_rie() {
    curl --silent --show-error --max-time "${4:-60}" --output "$3" \
        --data-binary "@$2" "http://127.0.0.1:$1/2015-03-31/functions/function/invocations"
}
