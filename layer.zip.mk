# Builds the Lambda layer zip: `make -f layer.zip.mk`
#
#   lambda-adapter-layer.zip
#     bootstrap                   0755  exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
#     extensions/                 0755
#     extensions/lambda-adapter   0755  the static x86_64 adapter binary
#
# Same layout as upstream's layer, so a function moves between the two by changing the layer ARN.
# The zip is reproducible: sorted entries, fixed 1980-01-01 timestamps, fixed modes, no extra
# fields; building twice from the same binary gives the same bytes. Only python3 is needed
# (not `zip`). Variables: ADAPTER=path/to/binary skips the cargo build; LAYER_ZIP=out.zip.

TARGET   ?= x86_64-unknown-linux-gnu
# Cargo's target directory (CARGO_TARGET_DIR honoured), asked once, only when ADAPTER is not given.
TARGET_DIR = $(eval TARGET_DIR := $(or $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | \
	$(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null),$(error cannot \
	ask cargo where it builds: `$(CARGO) metadata --format-version 1 --no-deps` failed)))$(TARGET_DIR)
ADAPTER  ?= $(TARGET_DIR)/$(TARGET)/release/lambda-adapter
LAYER_ZIP ?= lambda-adapter-layer.zip
PYTHON   ?= python3
CARGO    ?= cargo

.PHONY: all layer static-binary FORCE
.DELETE_ON_ERROR:

all: layer

layer: $(LAYER_ZIP)
	@sha256sum $(LAYER_ZIP)

# Cargo decides whether anything needs rebuilding; skipped when ADAPTER is given (command line or environment).
ifneq ($(origin ADAPTER),file)
static-binary:
else
static-binary:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(TARGET) --bin lambda-adapter
endif

$(LAYER_ZIP): static-binary FORCE
	@$(PYTHON) -c "$$LAYER_ZIP_PY" "$(ADAPTER)" "$(LAYER_ZIP)"

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
