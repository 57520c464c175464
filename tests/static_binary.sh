#!/usr/bin/env bash
# Checks that the release binary is fully static: `file`/`ldd` report no dynamic dependencies,
# and it runs `--version` and `--help` in an empty root directory holding nothing but itself
# (no libc, no loader, no /etc, no /proc). Builds it first unless ADAPTER=path is given.
#
#   tests/static_binary.sh                 # builds with crt-static for x86_64-unknown-linux-gnu
#   ADAPTER=path/to/lambda-adapter tests/static_binary.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${TARGET:-x86_64-unknown-linux-gnu}
if [ -z "${ADAPTER:-}" ]; then
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$TARGET" --bin lambda-adapter
    ADAPTER=target/$TARGET/release/lambda-adapter
fi
passed=0
failed=0
check() { # NAME COMMAND...: runs the command, counts the outcome
    local name=$1; shift
    if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

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

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
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

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
