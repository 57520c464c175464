# Builds the Lambda layer zip and its SBOM: `make -f layer.zip.mk` (or `make layer`)
#
#   lambda-adapter-layer.zip
#     bootstrap                   0755  exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
#     extensions/                 0755
#     extensions/lambda-adapter   0755  the static x86_64 adapter binary
#   lambda-adapter-layer.cdx.json       CycloneDX SBOM of that binary: every crate it is built
#                                       from, with version, licence and SHA-256, checked against
#                                       the crate list in the binary (.ci/audit.py)
#
# Same layout as upstream's layer, so a function moves between the two by changing the layer ARN.
# The zip is reproducible: sorted entries, fixed 1980-01-01 timestamps, fixed modes, no extra
# fields; building twice from the same binary gives the same bytes. Only python3 is needed
# (not `zip`). Variables: ADAPTER=path/to/binary skips the cargo build; LAYER_ZIP=out.zip
# (the SBOM goes beside it, SBOM=out.cdx.json to choose).
#
# This file is also the one recipe of the release binary (`make release` runs its
# `release-binary` target), so the binary in the zip, the container image and
# target/$(TARGET)/release is the same:
#  - built with `cargo auditable build` (crates.io: cargo-auditable, pinned below and installed
#    into $(TOOLS) on first use), which embeds the crate list in a `.dep-v0` section that
#    Trivy, Grype, Syft and `cargo audit bin` read;
#  - linked statically (crt-static; glibc inside, no loader or shared library at run time);
#  - reproducible: the checkout and CARGO_HOME paths, which panic locations would otherwise
#    carry, are remapped, so any directory and any CARGO_HOME give the same bytes
#    (tests/reproducible_build.sh builds in two and compares).

TARGET   ?= x86_64-unknown-linux-gnu
# Cargo's target directory (CARGO_TARGET_DIR honoured), asked once, only when ADAPTER is not given.
TARGET_DIR = $(eval TARGET_DIR := $(or $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | \
	$(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null),$(error cannot \
	ask cargo where it builds: `$(CARGO) metadata --format-version 1 --no-deps` failed)))$(TARGET_DIR)
ADAPTER  ?= $(TARGET_DIR)/$(TARGET)/release/lambda-adapter
LAYER_ZIP ?= lambda-adapter-layer.zip
SBOM     ?= $(patsubst %.zip,%,$(LAYER_ZIP)).cdx.json
PYTHON   ?= python3
CARGO    ?= cargo
TOOLS    ?= .cache/tools

# Its version decides the bytes embedded in the binary, so it is pinned like a dependency.
CARGO_AUDITABLE_VERSION := 0.7.7
AUDITABLE_ROOT := $(abspath $(TOOLS))/cargo-auditable-$(CARGO_AUDITABLE_VERSION)
CARGO_AUDITABLE := $(AUDITABLE_ROOT)/bin/cargo-auditable

# Later remaps win, so CARGO_HOME is remapped correctly even when it lies inside the checkout.
# The target directory needs none: no path under it reaches the binary (tests/reproducible_build.sh
# builds once with CARGO_TARGET_DIR outside the checkout and looks), and leaving it out of
# RUSTFLAGS keeps a build reached through another CARGO_TARGET_DIR path fresh (tests/target_dir.sh).
CARGO_HOME_DIR := $(abspath $(or $(CARGO_HOME),$(HOME)/.cargo))
RELEASE_RUSTFLAGS := -C target-feature=+crt-static \
	--remap-path-prefix=$(CURDIR)=. --remap-path-prefix=$(CARGO_HOME_DIR)=/cargo

.PHONY: all layer release-binary static-binary auditable-tool FORCE
.DELETE_ON_ERROR:

all: layer

layer: $(LAYER_ZIP)
	@sha256sum $(LAYER_ZIP) $(SBOM)

auditable-tool: $(CARGO_AUDITABLE)
$(CARGO_AUDITABLE):
	$(CARGO) install cargo-auditable --version $(CARGO_AUDITABLE_VERSION) --locked --root $(AUDITABLE_ROOT)

# Cargo decides whether anything needs rebuilding.
release-binary: $(CARGO_AUDITABLE)
	PATH="$(AUDITABLE_ROOT)/bin:$$PATH" RUSTFLAGS="$(RELEASE_RUSTFLAGS)" \
		$(CARGO) auditable build --release --locked --target $(TARGET) --bin lambda-adapter

# Skipped when ADAPTER is given (command line or environment).
ifneq ($(origin ADAPTER),file)
static-binary:
else
static-binary: release-binary
endif

$(LAYER_ZIP): static-binary FORCE
	@$(PYTHON) -c "$$LAYER_ZIP_PY" "$(ADAPTER)" "$(LAYER_ZIP)"
	@$(PYTHON) .ci/audit.py sbom "$(ADAPTER)" "$(SBOM)" --target $(TARGET)

# The wrapper script is upstream's, byte for byte: it ignores the runtime's own command and
# starts the handler script (e.g. run.sh) that launches the web app.
define LAYER_ZIP_PY
import os, sys, zipfile
adapter, out = sys.argv[1], sys.argv[2]
bootstrap = b'#!/bin/bash\n\nexec -- "$${LAMBDA_TASK_ROOT}/$${_HANDLER}"\n'
with open(adapter, "rb") as f:
    binary = f.read()
entries = [("bootstrap", bootstrap), ("extensions/", None), ("extensions/lambda-adapter", binary)]
def info(name, is_dir):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.create_system = 3  # Unix, so unzip and Lambda apply the modes below
    zi.external_attr = ((0o040755 << 16) | 0x10) if is_dir else (0o100755 << 16)
    zi.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
    return zi
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w") as z:
    for name, data in sorted(entries, key=lambda e: e[0]):
        if data is None:
            z.writestr(info(name, True), b"")
        else:
            z.writestr(info(name, False), data, compresslevel=9)
os.replace(tmp, out)
endef
export LAYER_ZIP_PY
