#!/usr/bin/env bash
# Nothing assumes cargo builds into target/: with CARGO_TARGET_DIR set elsewhere, `make demo`,
# the Makefile's paths, `make layer` and an example under the emulator and RIE all still work.
# The builds are reused, not redone: in a private mount namespace the repository's target/ is
# hidden behind an empty directory, and the real build directory is reached through another
# path, which CARGO_TARGET_DIR names (cargo's fingerprints do not depend on that path). Run it
# after `make examples`' build, or it builds what it needs first.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh

if [ "${1:-}" != --inside ]; then
    REAL=$(cargo_target_dir)
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    mkdir -p "$WORK/elsewhere" "$WORK/empty" "$REAL"
    rc=0
    "${ISOLATE[@]}" --mount --propagation private "$0" --inside "$REAL" "$WORK" || rc=$?
    exit $rc
fi
REAL=$2 WORK=$3
mount --bind "$REAL" "$WORK/elsewhere"
[ -d "$REPO/target" ] && mount --bind "$WORK/empty" "$REPO/target"
export CARGO_TARGET_DIR=$WORK/elsewhere

same() { [ "$1" = "$2" ] || { echo "     got $1, want $2"; return 1; }; }

check "make print-target-dir names CARGO_TARGET_DIR" same "$(make -s --no-print-directory print-target-dir)" "$WORK/elsewhere"
check "make print-emulator is the debug emulator there" same "$(make -s --no-print-directory print-emulator)" "$WORK/elsewhere/debug/lambda-emulator"
check "make print-release-bin is the static adapter there" \
    same "$(make -s --no-print-directory print-release-bin)" "$WORK/elsewhere/x86_64-unknown-linux-gnu/release/lambda-adapter"

demo() {
    local out
    out=$(timeout -s KILL 300 make -s demo 2>&1) || { echo "$out" | tail -20 | sed 's/^/     /'; return 1; }
    grep -q 'Hello from a Python app behind lambda-adapter!' <<<"$out" &&
        grep -q '"youSent": {"message": "hello through Lambda", "n": 42}' <<<"$out" ||
        { echo "$out" | tail -20 | sed 's/^/     /'; return 1; }
}
check "make demo" demo

layer() {
    timeout -s KILL 300 make -s layer LAYER_ZIP="$WORK/layer.zip" >/dev/null 2>&1 &&
        python3 -c 'import sys, zipfile; sys.exit("extensions/lambda-adapter" not in zipfile.ZipFile(sys.argv[1]).namelist())' \
            "$WORK/layer.zip"
}
check "make layer" layer

# One example, under the emulator and RIE (its release emulator and static adapter come from
# CARGO_TARGET_DIR, as `make examples` builds them).
examples() {
    timeout -s KILL 300 cargo build --release --features emulator --quiet &&
        timeout -s KILL 300 tests/examples.sh sqs-consumer >"$WORK/examples.log" 2>&1 ||
        { tail -20 "$WORK/examples.log" | sed 's/^/     /'; return 1; }
}
check "tests/examples.sh sqs-consumer" examples

nothing_in_target() { # nothing was built into (or looked for in) the hidden target/
    [ -z "$(ls -A "$WORK/empty")" ] || { ls -A "$WORK/empty" | sed 's/^/     target\//'; return 1; }
}
check "nothing was written to target/" nothing_in_target

report_checks
