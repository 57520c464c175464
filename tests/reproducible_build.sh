#!/usr/bin/env bash
# Builds that reproduce anywhere: this work tree is copied into two temporary directories of
# different depth, each gets a CARGO_HOME of its own (so every crate is unpacked and compiled
# from a different path), the second also a CARGO_TARGET_DIR outside its checkout, and each
# runs `make -f layer.zip.mk`: the release binary, the layer zip and the SBOM. Both, and the release binary of this checkout (`make release`, the one that ships),
# must be the same byte for byte; no binary may contain its build directory, its CARGO_HOME or
# $HOME; and a clean build compiles exactly the crates of `cargo tree -e normal`.
#
#   tests/reproducible_build.sh          # about two clean release builds: a few minutes
#
# Needs cargo and python3, no network: each new CARGO_HOME starts with the registry index and
# the downloaded .crate files of this one (hard links; cargo checks every .crate against
# Cargo.lock's checksum), nothing unpacked, and builds offline. cargo-auditable comes from
# .cache/tools (installed by layer.zip.mk on first use) so it is built only once.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh

TARGET=${TARGET:-x86_64-unknown-linux-gnu}
TOOLS=$REPO/.cache/tools
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The release binary of this checkout, as `make release` builds it (cargo skips it if current).
# It also installs cargo-auditable into $TOOLS once, before the two builds share it.
make -s -f layer.zip.mk release-binary TARGET="$TARGET" TOOLS="$TOOLS" >"$WORK/release.log" 2>&1 ||
    { cat "$WORK/release.log"; exit 1; }
HERE_BIN=$(make -s --no-print-directory print-release-bin RELEASE_TARGET="$TARGET")
HERE_TARGET_DIR=$(make -s --no-print-directory print-target-dir)

# The work tree as it is (tracked and new files, uncommitted edits included; not target/ or
# .cache/), so the test checks the code under test rather than the last commit.
copy_tree() { # DEST
    mkdir -p "$1"
    git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -cf - -T - | tar -xf - -C "$1"
}
seed_cargo_home() { # DEST
    local from=${CARGO_HOME:-$HOME/.cargo} d
    mkdir -p "$1/registry"
    for d in config.toml config; do # a registry mirror or proxy, if this machine has one
        if [ -f "$from/$d" ]; then cp "$from/$d" "$1/"; fi
    done
    for d in index cache; do
        [ -d "$from/registry/$d" ] || continue
        cp -al "$from/registry/$d" "$1/registry/" 2>/dev/null || cp -a "$from/registry/$d" "$1/registry/"
    done
}
ONE=$WORK/one/lambda-adapter
TWO=$WORK/second-build/in/a/deeper/directory/lambda-adapter
in_build() { # DIR TARGET_DIR COMMAND...: runs the command in DIR with that build's environment
    local dir=$1 target_dir=$2; shift 2
    (cd "$dir" && env -u CARGO_BUILD_TARGET_DIR -u RUSTFLAGS CARGO_TARGET_DIR="$target_dir" \
        CARGO_HOME="$dir.cargo-home" CARGO_NET_OFFLINE=true "$@")
}
build_in() { # DIR TARGET_DIR: binary, zip and SBOM, with a CARGO_HOME of its own beside DIR
    copy_tree "$1"
    seed_cargo_home "$1.cargo-home"
    in_build "$1" "$2" make -s -f layer.zip.mk TARGET="$TARGET" TOOLS="$TOOLS" LAYER_ZIP=layer.zip \
        >"$1.log" 2>&1 || { tail -20 "$1.log" | sed 's/^/     build: /'; return 1; }
}
# Side by side: each build spends its last stretch in single-threaded LTO.
start=$(date +%s)
build_in "$ONE" "$ONE/target" & one=$!
build_in "$TWO" "$WORK/target-elsewhere" & two=$!
built=1
wait "$one" || built=0
wait "$two" || built=0
echo "     two clean builds, side by side: $(($(date +%s) - start)) s"
check "the release builds in two directories with two CARGO_HOMEs" [ "$built" = 1 ]

same_file() { # NAME FILE...: the same sha256 for every file
    local name=$1 first="" sum; shift
    for f in "$@"; do
        sum=$(sha256sum <"$f" | cut -d' ' -f1)
        echo "     $name ${f#"$WORK"/}: $sum"
        [ -z "$first" ] && first=$sum
        [ "$sum" = "$first" ] || return 1
    done
}
if [ "$built" = 1 ]; then
    ONE_BIN=$ONE/target/$TARGET/release/lambda-adapter
    TWO_BIN=$WORK/target-elsewhere/$TARGET/release/lambda-adapter
    check "the same binary, byte for byte (and the one make release built here)" \
        same_file binary "$ONE_BIN" "$TWO_BIN" "$HERE_BIN"
    check "the same layer zip, byte for byte" same_file zip "$ONE/layer.zip" "$TWO/layer.zip"
    check "the same SBOM, byte for byte" same_file sbom "$ONE/layer.cdx.json" "$TWO/layer.cdx.json"

    no_build_paths() { # the paths that differ between the builds (checkouts, target directories,
        # CARGO_HOMEs: all under $WORK), or that name this machine
        local leaks=0 bin path
        for bin in "$ONE_BIN" "$TWO_BIN" "$HERE_BIN"; do
            for path in "$ONE" "$TWO" "$WORK" "$REPO" "$HERE_TARGET_DIR" "${CARGO_HOME:-$HOME/.cargo}" "$HOME/"; do
                if grep -a -q -F -- "$path" "$bin"; then
                    echo "     ${bin#"$WORK"/} contains $path"
                    leaks=1
                fi
            done
        done
        echo "     source paths it carries: $(strings -n 8 "$ONE_BIN" | grep -Ec '^/cargo/registry/') under /cargo/registry, $(strings -n 8 "$ONE_BIN" | grep -Ec '^src/') under src/"
        [ "$leaks" = 0 ]
    }
    check "no build directory, CARGO_HOME or \$HOME in any of the binaries" no_build_paths

    # What a clean build compiled: the rlibs of the target, the proc-macros of the host.
    compiled_is_tree() {
        in_build "$ONE" "$ONE/target" cargo tree --locked -e normal --target "$TARGET" --prefix none -f '{lib}' |
            sed 's/ .*//' | grep -v '^lambda_adapter$' | sort -u >"$WORK/tree-libs.txt"
        find "$ONE/target/$TARGET/release/deps" "$ONE/target/release/deps" -maxdepth 1 \
            \( -name 'lib*.rlib' -o -name 'lib*.so' \) 2>/dev/null |
            sed -E 's#.*/lib(.*)-[0-9a-f]+\.(rlib|so)$#\1#' | grep -v '^lambda_adapter$' | sort -u >"$WORK/compiled.txt"
        echo "     compiled: $(wc -l <"$WORK/compiled.txt") crates; cargo tree -e normal: $(wc -l <"$WORK/tree-libs.txt")"
        diff "$WORK/tree-libs.txt" "$WORK/compiled.txt" | sed 's/^/     /'
        [ "${PIPESTATUS[0]}" = 0 ]
    }
    check "a clean build compiles exactly the crates of cargo tree -e normal" compiled_is_tree

    # What the README tells an auditor to run, against the hash of the other build.
    verify_layer() { # SHA256 -> exit status of make verify-layer in the second directory
        in_build "$TWO" "$WORK/target-elsewhere" make -s verify-layer SHA256="$1" TOOLS="$TOOLS" \
            LAYER_ZIP=layer.zip RELEASE_TARGET="$TARGET" TARGET="$TARGET" >"$WORK/verify.log" 2>&1
    }
    verify_accepts_and_refuses() {
        local published wrong
        published=$(sha256sum <"$ONE/layer.zip" | cut -d' ' -f1)
        wrong=$(printf '%s' "$published" | tr '0-9a-f' '1-9a-f0')
        verify_layer "$published" || { sed 's/^/     /' "$WORK/verify.log"; return 1; }
        if verify_layer "$wrong"; then echo "     a wrong hash passed"; return 1; fi
        grep -q 'does not match' "$WORK/verify.log" || { sed 's/^/     /' "$WORK/verify.log"; return 1; }
    }
    check "make verify-layer SHA256=... accepts the other build's hash and refuses a wrong one" verify_accepts_and_refuses
fi

report_checks
