#!/usr/bin/env bash
# The example Dockerfiles, checked by content (there is no Docker engine on CI): the adapter
# image is the static binary alone at /lambda-adapter FROM scratch, and the function image adds
# it with one COPY --from into /opt/extensions/. Every file they COPY from their build context
# exists. With a working Docker engine (DOCKER_BUILD=1) it also builds both images.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
passed=0
failed=0
check() { # NAME COMMAND...: runs the command, counts the outcome
    local name=$1; shift
    if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
# The instructions of a Dockerfile, comments and blank lines dropped.
instructions() { grep -Ev '^[[:space:]]*(#|$)' "$1"; }

adapter_image() {
    local got; got=$(instructions examples/Dockerfile)
    [ "$got" = "FROM scratch
COPY lambda-adapter /lambda-adapter" ] || { echo "     $got"; return 1; }
}
check "examples/Dockerfile: FROM scratch, the binary at /lambda-adapter, nothing else" adapter_image

context_allows_binary() {
    grep -qx '\*' examples/Dockerfile.dockerignore &&
        grep -qx '!lambda-adapter' examples/Dockerfile.dockerignore
}
check "examples/Dockerfile.dockerignore: the build context is the binary alone" context_allows_binary

one_line_copy() {
    local copies; copies=$(instructions examples/container/Dockerfile | grep -c -- '--from=' || true)
    [ "$copies" = 1 ] &&
        instructions examples/container/Dockerfile | grep -qx 'COPY --from=lambda-adapter:0.1.0 /lambda-adapter /opt/extensions/lambda-adapter'
}
check "examples/container/Dockerfile: one COPY --from into /opt/extensions/lambda-adapter" one_line_copy

context_files_exist() { # every plain COPY source exists in the documented context, examples/flask
    local src missing=0
    while read -r src; do
        [ -e "examples/flask/$src" ] || { echo "     missing examples/flask/$src"; missing=1; }
    done < <(instructions examples/container/Dockerfile | awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }')
    [ $missing = 0 ]
}
check "examples/container/Dockerfile: its COPY sources exist in examples/flask" context_files_exist

app_command_matches_run_sh() { # the CMD starts the same server as the example's run.sh
    instructions examples/container/Dockerfile | grep -q '^CMD \["gunicorn",.*"app:app"\]' &&
        grep -q 'gunicorn .*app:app' examples/flask/run.sh
}
check "examples/container/Dockerfile: CMD starts the app as run.sh does" app_command_matches_run_sh

if [ "${DOCKER_BUILD:-}" = 1 ]; then
    check "docker build: adapter image" make -s adapter-image
    check "docker build: function image" docker build -q -f examples/container/Dockerfile -t lambda-adapter-example-flask examples/flask
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
