#!/usr/bin/env bash
# The example Dockerfiles, checked by content (there is no Docker engine on CI): the adapter
# image is the static binary alone at /lambda-adapter FROM scratch, and the function image adds
# it with one COPY --from into /opt/extensions/. Every file they COPY from their build context
# exists; the same for each example's own Dockerfile (nginx, php, sinatra). With a working Docker
# engine (DOCKER_BUILD=1) it also builds every image.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh
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

# The function images: examples/container/Dockerfile (context: examples/flask) and each
# example's own Dockerfile (context: its directory), as their READMEs build them.
FUNCTION_IMAGES=("examples/container/Dockerfile examples/flask")
for dockerfile in examples/*/Dockerfile; do
    [ "$dockerfile" = examples/container/Dockerfile ] || FUNCTION_IMAGES+=("$dockerfile $(dirname "$dockerfile")")
done

one_line_copy() { # DOCKERFILE
    local copies; copies=$(instructions "$1" | grep -c -- '--from=' || true)
    [ "$copies" = 1 ] &&
        instructions "$1" | grep -qx 'COPY --from=lambda-adapter:0.1.0 /lambda-adapter /opt/extensions/lambda-adapter'
}
context_files_exist() { # DOCKERFILE CONTEXT: every plain COPY source exists in the context
    local src missing=0
    while read -r src; do
        [ -e "$2/$src" ] || { echo "     missing $2/$src"; missing=1; }
    done < <(instructions "$1" | awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }')
    [ $missing = 0 ]
}
for image in "${FUNCTION_IMAGES[@]}"; do
    read -r dockerfile context <<<"$image"
    check "$dockerfile: one COPY --from into /opt/extensions/lambda-adapter" one_line_copy "$dockerfile"
    check "$dockerfile: its COPY sources exist in $context" context_files_exist "$dockerfile" "$context"
done

app_command_matches_run_sh() { # the CMD starts the same server as the example's run.sh
    instructions examples/container/Dockerfile | grep -q '^CMD \["gunicorn",.*"app:app"\]' &&
        grep -q 'gunicorn .*app:app' examples/flask/run.sh
}
check "examples/container/Dockerfile: CMD starts the app as run.sh does" app_command_matches_run_sh

if [ "${DOCKER_BUILD:-}" = 1 ]; then
    check "docker build: adapter image" make -s adapter-image
    for image in "${FUNCTION_IMAGES[@]}"; do
        read -r dockerfile context <<<"$image"
        check "docker build: $dockerfile" docker build -q -f "$dockerfile" -t "lambda-adapter-example-$(basename "$context")" "$context"
    done
fi

report_checks
