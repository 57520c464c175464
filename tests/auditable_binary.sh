#!/usr/bin/env bash
# What an auditor's tools read from a release: the dependency list `cargo auditable` embedded in
# the binary (the `.dep-v0` section Trivy, Grype, Syft and `cargo audit bin` read), and the
# CycloneDX SBOM that `make layer` writes beside the zip.
#  - The embedded list names every crate of `cargo tree -e normal` at its locked version; the
#    only others it may name are the optional dependencies `cargo metadata` reports although no
#    feature turns them on (cargo-auditable reads it on stable Rust), and those are never built.
#  - The SBOM passes the official CycloneDX 1.5 schema (cyclonedx-python-lib from PyPI, into
#    .cache/py), lists exactly the crates of `cargo tree -e normal,build` with the licence each
#    declares and the SHA-256 of the very .crate file cargo downloaded, and names the binary by
#    its hash.
#  - A binary without the list gets neither zip nor SBOM, and a message saying how to build it.
#  - The README's dependency table names every crate the binary is built from.
#
#   tests/auditable_binary.sh                    # builds the release binary first (layer.zip.mk)
#   ADAPTER=path/to/lambda-adapter tests/auditable_binary.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
source tests/e2e_lib.sh

TARGET=${TARGET:-x86_64-unknown-linux-gnu}
if [ -z "${ADAPTER:-}" ]; then
    make -s -f layer.zip.mk release-binary TARGET="$TARGET"
    ADAPTER=$(make -s --no-print-directory print-release-bin RELEASE_TARGET="$TARGET")
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# "name version" per crate, sorted: what cargo builds the binary from (default features, like
# the release build), and what the binary says it was built from.
tree_crates() { # EDGE_KINDS
    cargo tree --locked -e "$1" --target "$TARGET" --prefix none -f '{p}' |
        sed -E 's/^([^ ]+) v([^ ]+).*/\1 \2/' | sort -u
}
tree_crates normal >"$WORK/tree.txt"
tree_crates normal,build >"$WORK/tree-build.txt"
cargo metadata --locked --format-version 1 --filter-platform "$TARGET" >"$WORK/metadata.json"

reads_embedded_list() {
    python3 .ci/audit.py embedded "$ADAPTER" >"$WORK/embedded.json" &&
        python3 .ci/audit.py crates "$ADAPTER" >"$WORK/embedded.txt" &&
        echo "     $(wc -l <"$WORK/embedded.txt") crates in .dep-v0; cargo tree -e normal: $(wc -l <"$WORK/tree.txt")"
}
check "the binary carries its dependency list (.dep-v0, cargo auditable)" reads_embedded_list

names_every_tree_crate() {
    [ -s "$WORK/embedded.txt" ] || return 1
    local missing; missing=$(comm -23 "$WORK/tree.txt" "$WORK/embedded.txt")
    [ -z "$missing" ] || { echo "     built from, but not listed: $missing" | tr '\n' ' '; echo; return 1; }
}
check "it names every crate of cargo tree -e normal, at the locked version" names_every_tree_crate

# An extra crate is acceptable only when every listed edge into the extras leaves a crate of the
# tree through a dependency that crate declares optional (the feature that would enable it is
# off), and cargo builds it for no target and no edge kind.
only_unbuilt_optional_extras() {
    cargo tree --locked -e all --target all --all-features --prefix none -f '{p}' |
        sed -E 's/^([^ ]+) v([^ ]+).*/\1 \2/' | sort -u >"$WORK/tree-all.txt"
    python3 - "$WORK/embedded.json" "$WORK/tree.txt" "$WORK/tree-all.txt" "$WORK/metadata.json" <<'PY'
import json, sys
listed = json.load(open(sys.argv[1]))["packages"]
read = lambda path: {tuple(line.split()) for line in open(path) if line.strip()}
tree, anywhere = read(sys.argv[2]), read(sys.argv[3])
manifests = {(p["name"], p["version"]): p for p in json.load(open(sys.argv[4]))["packages"]}
key = lambda p: (p["name"], p["version"])
extras = {key(p) for p in listed} - tree
problems = []
for parent in listed:
    for child in (listed[i] for i in parent.get("dependencies", [])):
        if key(parent) in tree and key(child) in extras:
            declared = [d for d in manifests[key(parent)]["dependencies"]
                        if d["name"] == child["name"] and d["kind"] is None]
            if not declared or not all(d["optional"] for d in declared):
                problems.append(f"{child['name']} is a non-optional dependency of {parent['name']}")
problems += [f"{name} {version} is built somewhere" for name, version in sorted(extras & anywhere)]
print("     listed but never built (optional, off): " + (", ".join(f"{n} {v}" for n, v in sorted(extras)) or "none"))
for p in problems:
    print("     " + p)
sys.exit(1 if problems else 0)
PY
}
check "anything else it names is an optional dependency no feature enables, never built" only_unbuilt_optional_extras

root_is_adapter() {
    python3 - "$WORK/embedded.json" "$WORK/metadata.json" <<'PY'
import json, sys
roots = [p for p in json.load(open(sys.argv[1]))["packages"] if p.get("root")]
ours = [p for p in json.load(open(sys.argv[2]))["packages"] if p["name"] == "lambda-adapter"][0]
print(f"     root: {[(p['name'], p['version'], p.get('source')) for p in roots]}")
sys.exit(0 if [(p["name"], p["version"], p.get("source")) for p in roots] == [("lambda-adapter", ours["version"], "local")] else 1)
PY
}
check "its root is lambda-adapter at the version in Cargo.toml" root_is_adapter

# The design card: every runtime dependency needs a written reason. The README's table gives it.
readme_explains_every_crate() {
    python3 - README.md "$WORK/tree.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("### What is in the binary", 1)[-1].split("\n### ", 1)[0]
named = set()
for line in section.splitlines():
    if line.startswith("| ") and not line.startswith("| crate "):
        named |= set(re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]*", line.split("|")[1]))
built = {line.split()[0] for line in open(sys.argv[2]) if line.strip()} - {"lambda-adapter"}
missing = sorted(built - named)
if missing:
    print("     not in README's 'What is in the binary' table: " + ", ".join(missing)
          + " (add a row saying why the adapter needs it, and its licence)")
sys.exit(1 if missing else 0)
PY
}
check "README's dependency table names every crate of cargo tree -e normal" readme_explains_every_crate

# The SBOM, as `make layer` writes it beside the zip.
SBOM=$WORK/layer.cdx.json
make_layer() {
    make -s -f layer.zip.mk ADAPTER="$ADAPTER" TARGET="$TARGET" LAYER_ZIP="$WORK/layer.zip" >/dev/null &&
        [ -s "$SBOM" ]
}
check "make layer writes the SBOM beside the zip (layer.cdx.json)" make_layer
if [ -s "$SBOM" ]; then

# The official schema, as cyclonedx-python-lib ships it (pinned; installed once into .cache).
CDX_LIB=.cache/py/cyclonedx-python-lib-11.12.0
valid_cyclonedx() {
    if [ ! -d "$CDX_LIB/cyclonedx" ]; then
        python3 -m pip install --quiet --disable-pip-version-check --no-cache-dir --target "$CDX_LIB" \
            'cyclonedx-python-lib[json-validation]==11.12.0' >"$WORK/pip.log" 2>&1 ||
            { sed 's/^/     pip: /' "$WORK/pip.log"; rm -rf "$CDX_LIB"; return 1; }
    fi
    PYTHONPATH=$CDX_LIB python3 - "$SBOM" <<'PY'
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
if error is not None:
    print(f"     {error}")
sys.exit(0 if error is None else 1)
PY
}
check "the SBOM is valid CycloneDX 1.5 (strict official schema)" valid_cyclonedx
fi

cargo tree --locked -e normal,build --target "$TARGET" --prefix none -f '{p}|{l}' | sed 's/ (\*)$//' |
    sort -u >"$WORK/licences.txt"
if [ -s "$SBOM" ]; then
sbom_lists_tree() {
    python3 - "$SBOM" "$WORK/licences.txt" <<'PY'
import json, re, sys
bom = json.load(open(sys.argv[1]))
want = {}
for line in open(sys.argv[2]):
    package, licence = line.rstrip("\n").split("|")
    name, version = re.match(r"(\S+) v(\S+)", package).groups()
    want[(name, version)] = " OR ".join(part.strip() for part in licence.split("/"))
got = {(c["name"], c["version"]): c["licenses"][0]["expression"]
       for c in bom["components"] + [bom["metadata"]["component"]]}
problems = [f"{n} {v}: missing" for n, v in sorted(want.keys() - got.keys())]
problems += [f"{n} {v}: not built from" for n, v in sorted(got.keys() - want.keys())]
problems += [f"{n} {v}: licence {got[k]!r}, its Cargo.toml says {want[k]!r}"
             for k in sorted(want.keys() & got.keys()) if got[k] != want[k] for n, v in [k]]
print(f"     {len(bom['components'])} components + lambda-adapter; dependency graph: {len(bom['dependencies'])} entries")
for p in problems:
    print("     " + p)
sys.exit(1 if problems else 0)
PY
}
check "it lists exactly the crates of cargo tree -e normal,build, each with its declared licence" sbom_lists_tree

hashes_are_the_downloaded_crates() {
    python3 - "$SBOM" "${CARGO_HOME:-$HOME/.cargo}" <<'PY'
import glob, hashlib, json, sys
bom, cargo_home = json.load(open(sys.argv[1])), sys.argv[2]
problems, checked = [], 0
for c in bom["components"]:
    hashes = {h["alg"]: h["content"] for h in c.get("hashes", [])}
    files = glob.glob(f"{cargo_home}/registry/cache/*/{c['name']}-{c['version']}.crate")
    if "SHA-256" not in hashes or not files:
        problems.append(f"{c['name']} {c['version']}: no SHA-256 ({hashes}) or no downloaded .crate ({files})")
        continue
    actual = hashlib.sha256(open(files[0], "rb").read()).hexdigest()
    if actual != hashes["SHA-256"]:
        problems.append(f"{c['name']} {c['version']}: SBOM says {hashes['SHA-256']}, the .crate is {actual}")
    checked += 1
print(f"     {checked} .crate files hashed")
for p in problems:
    print("     " + p)
sys.exit(1 if problems else 0)
PY
}
check "every crate's SHA-256 is that of the .crate file cargo downloaded" hashes_are_the_downloaded_crates

names_the_binary() {
    local want got
    want=$(sha256sum <"$ADAPTER" | cut -d' ' -f1)
    got=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["metadata"]["component"]; print(c["name"], c["hashes"][0]["content"])' "$SBOM")
    [ "$got" = "lambda-adapter $want" ] || { echo "     SBOM names '$got', the binary is $want"; return 1; }
}
check "it names the binary it describes by its SHA-256" names_the_binary
fi

# A binary built with plain `cargo build`: the section removed from the real one.
refuses_plain_binary() {
    objcopy --remove-section .dep-v0 "$ADAPTER" "$WORK/plain"
    local rc=0
    make -s -f layer.zip.mk ADAPTER="$WORK/plain" TARGET="$TARGET" LAYER_ZIP="$WORK/plain.zip" \
        >/dev/null 2>"$WORK/plain.err" || rc=$?
    echo "     $(grep -m1 audit.py "$WORK/plain.err")"
    [ "$rc" != 0 ] && grep -q 'cargo auditable build' "$WORK/plain.err" &&
        [ ! -e "$WORK/plain.zip" ] && [ ! -e "$WORK/plain.cdx.json" ]
}
check "a binary without the list gets no zip and no SBOM, and a message saying how to build it" refuses_plain_binary

# A binary built from another tree: its list says httparse is at another version.
refuses_other_tree() {
    python3 - "$WORK/embedded.json" "$WORK/other.dep" <<'PY' || return 1
import json, sys, zlib
listed = json.load(open(sys.argv[1]))
for p in listed["packages"]:
    if p["name"] == "httparse":
        p["version"] = "0.0.1"
open(sys.argv[2], "wb").write(zlib.compress(json.dumps(listed).encode()))
PY
    objcopy --update-section .dep-v0="$WORK/other.dep" "$ADAPTER" "$WORK/other"
    python3 .ci/audit.py crates "$WORK/other" >"$WORK/other.txt"
    local rc=0
    python3 .ci/audit.py sbom "$WORK/other" "$WORK/other.cdx.json" --target "$TARGET" 2>"$WORK/other.err" || rc=$?
    echo "     $(cat "$WORK/other.err")"
    comm -23 "$WORK/tree.txt" "$WORK/other.txt" | grep -qx 'httparse .*' &&
        [ "$rc" != 0 ] && grep -q 'httparse' "$WORK/other.err" && [ ! -e "$WORK/other.cdx.json" ]
}
check "a binary built from another tree fails the comparison and gets no SBOM" refuses_other_tree

report_checks
