#!/usr/bin/env python3
"""What a release binary says about itself, for auditors, `make layer` and the tests.

`cargo auditable build` (crates.io: cargo-auditable) stores the binary's dependency list in an
ELF section named `.dep-v0`: zlib-compressed JSON, one entry per crate with its name, version,
source and kind ("build" for proc-macros and build scripts, runtime otherwise). This script
reads that section back with nothing but python3, and writes the CycloneDX SBOM.

  audit.py embedded BINARY            the embedded JSON, pretty-printed
  audit.py crates BINARY              one "name version" line per embedded crate, sorted
  audit.py sbom BINARY OUT [--target TRIPLE] [--manifest-dir DIR]
                                      CycloneDX 1.5 JSON: every crate the binary is built from
                                      (`cargo tree -e normal,build`), each with its version,
                                      licence (its Cargo.toml) and SHA-256 (Cargo.lock), and
                                      the graph; refused unless the binary's embedded list
                                      names every one of them at that version

On stable Rust cargo-auditable reads `cargo metadata`, which also lists optional dependencies
that no enabled feature turns on (for the adapter: regex and its crates via env_filter, zlib-rs
via flate2), so the embedded list can name a few crates that are not compiled in; scanners then
err on the side of a false alarm, never a miss. The SBOM comes from `cargo tree`, which
resolves features as the build does, and lists only what is built.

Needs python3 (3.11+ for tomllib) and, for `sbom`, cargo. The SBOM has no timestamp and its
serial number is derived from the binary's hash, so the same binary gives the same bytes.
"""

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tomllib
import uuid
import zlib

SECTION = ".dep-v0"


def fail(message):
    print(f"audit.py: {message}", file=sys.stderr)
    sys.exit(1)


def elf_section(path, wanted):
    """The bytes of the named section of an ELF64 file (little- or big-endian)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return find_section(path, data, wanted)
    except struct.error:
        fail(f"{path} is a truncated or malformed ELF file")


def find_section(path, data, wanted):
    if data[:4] != b"\x7fELF":
        fail(f"{path} is not an ELF file")
    if data[4] != 2:
        fail(f"{path} is not a 64-bit ELF file")
    order = {1: "<", 2: ">"}.get(data[5])
    if order is None:
        fail(f"{path}: unknown ELF byte order {data[5]}")
    shoff, = struct.unpack_from(order + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)
    if shoff == 0 or shnum == 0 or shstrndx >= shnum:
        fail(f"{path} has no section headers")

    def header(index):  # (name offset, file offset, size)
        base = shoff + index * shentsize
        name, = struct.unpack_from(order + "I", data, base)
        offset, size = struct.unpack_from(order + "QQ", data, base + 0x18)
        return name, offset, size

    _, names_at, names_size = header(shstrndx)
    names = data[names_at:names_at + names_size]
    for index in range(shnum):
        name_at, offset, size = header(index)
        end = names.find(b"\0", name_at)
        if names[name_at:end].decode("utf-8", "replace") == wanted:
            return data[offset:offset + size]
    return None


def embedded(path):
    """The dependency list cargo-auditable embedded in the binary, as parsed JSON."""
    raw = elf_section(path, SECTION)
    if raw is None:
        fail(f"{path} has no {SECTION} section: it was not built with `cargo auditable build` "
             "(use `make release` or `make layer`)")
    try:
        return json.loads(zlib.decompress(raw))
    except (zlib.error, ValueError) as e:
        fail(f"{path}: {SECTION} is not zlib-compressed JSON ({e})")


def checksums(lock_path):
    with open(lock_path, "rb") as f:
        lock = tomllib.load(f)
    return {(p["name"], p["version"]): p.get("checksum") for p in lock.get("package", [])}


def cargo_output(manifest_dir, *args):
    command = ["cargo", *args]
    done = subprocess.run(command, cwd=manifest_dir, stdout=subprocess.PIPE)
    if done.returncode != 0:
        fail(f"`{' '.join(command)}` failed in {manifest_dir}")
    return done.stdout.decode()


def built_tree(manifest_dir, target):
    """The crates Cargo builds the adapter binary from, as `cargo tree -e normal,build` resolves
    them for the target with default features: {(name, version)} and the edges between them.
    (`cargo metadata`, which cargo-auditable reads on stable Rust, also lists optional
    dependencies no feature enables; `cargo tree` resolves features as the build does.)"""
    out = cargo_output(manifest_dir, "tree", "--locked", "-e", "normal,build", "--target", target,
                     "--prefix", "depth", "-f", "{p}")
    crates, edges, parents = [], set(), []
    for line in out.splitlines():
        match = re.match(r"^(\d+)(\S+) v(\S+)", line)
        if not match:
            continue  # "[build-dependencies]" group labels
        depth, key = int(match[1]), (match[2], match[3])
        del parents[depth:]
        if parents:
            edges.add((parents[-1], key))
        elif crates:
            fail("`cargo tree` printed more than one root")
        parents.append(key)
        if key not in crates:
            crates.append(key)
    if not crates:
        fail(f"`cargo tree` printed no crate in {manifest_dir}")
    return crates, edges


def spdx(expression):
    """Cargo still accepts the old `MIT/Apache-2.0` form; SPDX spells it with OR."""
    return " OR ".join(part.strip() for part in expression.split("/"))


def purl(key):
    return f"pkg:cargo/{key[0]}@{key[1]}"


def sbom(binary, out, target, manifest_dir):
    """Every crate of the built tree, each checked against the binary's embedded list, so an
    SBOM is never written for a binary built from another tree."""
    in_binary = {(p["name"], p["version"]): p for p in embedded(binary)["packages"]}
    crates, edges = built_tree(manifest_dir, target)
    meta = json.loads(cargo_output(manifest_dir, "metadata", "--format-version", "1", "--locked",
                                 "--filter-platform", target))
    packages = {(p["name"], p["version"]): p for p in meta["packages"]}
    sums = checksums(os.path.join(manifest_dir, "Cargo.lock"))
    with open(binary, "rb") as f:
        binary_sha = hashlib.sha256(f.read()).hexdigest()

    def describe(key, kind):
        name, version = key
        listed, package = in_binary.get(key), packages.get(key, {})
        if listed is None:
            fail(f"{binary} was not built from the tree in {manifest_dir}: it does not list "
                 f"{name} {version} (rebuild it with `make release`)")
        if not package.get("license"):
            fail(f"{name} {version} declares no licence (a `license` field) in its Cargo.toml")
        entry = {"type": kind, "bom-ref": purl(key), "name": name, "version": version}
        if package.get("description"):
            entry["description"] = " ".join(package["description"].split())
        entry["licenses"] = [{"expression": spdx(package["license"])}]
        entry["purl"] = purl(key)
        if package.get("source"):  # a registry crate; the adapter itself has none
            if not sums.get(key):
                fail(f"{name} {version} has no checksum in Cargo.lock")
            entry["hashes"] = [{"alg": "SHA-256", "content": sums[key]}]
            entry["externalReferences"] = [{
                "type": "distribution",
                "url": f"https://crates.io/api/v1/crates/{name}/{version}/download"}]
        if listed.get("kind") == "build":
            # Proc-macros and build scripts run while compiling; their code is not linked in.
            entry["properties"] = [{"name": "cargo:dependency-kind", "value": "build"}]
        return entry

    root = crates[0]
    application = describe(root, "application")
    application["hashes"] = [{"alg": "SHA-256", "content": binary_sha}]
    application["properties"] = [{"name": "cargo:target", "value": target}]
    # The compilers and linker that made it, as the binary records them: what a rebuild needs.
    comment = elf_section(binary, ".comment") or b""
    for tool in sorted({t.decode("utf-8", "replace") for t in comment.split(b"\0") if t.strip()}):
        application["properties"].append({"name": "build:toolchain", "value": tool})
    components = sorted((describe(key, "library") for key in crates[1:]),
                        key=lambda c: (c["name"], c["version"]))
    dependencies = [{"ref": purl(key),
                     "dependsOn": sorted(purl(child) for parent, child in edges if parent == key)}
                    for key in sorted(crates)]
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL, f"sha256:{binary_sha}").urn,
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "cargo-auditable"},
                                     {"type": "application", "name": "audit.py"}]},
            "component": application,
        },
        "components": components,
        "dependencies": dependencies,
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)


def main(argv):
    if len(argv) >= 2 and argv[0] == "embedded":
        json.dump(embedded(argv[1]), sys.stdout, indent=2)
        print()
    elif len(argv) >= 2 and argv[0] == "crates":
        for name, version in sorted({(p["name"], p["version"]) for p in embedded(argv[1])["packages"]}):
            print(name, version)
    elif len(argv) >= 3 and argv[0] == "sbom":
        options = dict(zip(argv[3::2], argv[4::2]))
        unknown = set(options) - {"--target", "--manifest-dir"}
        if unknown or len(argv[3:]) % 2:
            fail(f"unknown or incomplete options {argv[3:]}")
        sbom(argv[1], argv[2], options.get("--target", "x86_64-unknown-linux-gnu"),
             options.get("--manifest-dir", "."))
    else:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
