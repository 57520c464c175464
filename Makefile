# lambda-adapter: common tasks. `make demo` and `make test` are the two to know.
# Paths printed by `make -s print-*` are read by scripts: no "Entering directory" lines, even
# when make runs make.
MAKEFLAGS += --no-print-directory
CARGO ?= cargo
RIE_DIR := .cache/rie

.PHONY: all build release emulator test rie demo lint deny audit-tools layer verify-layer examples \
	test-packaging bench bench-quick \
	adapter-image print-target-dir print-emulator print-adapter print-release-bin
# Where cargo builds: `target/` unless CARGO_TARGET_DIR (or build.target-dir in a cargo config)
# says otherwise, so every path below asks cargo instead of assuming. Computed once, when used.
TARGET_DIR = $(eval TARGET_DIR := $(or $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | \
	python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null),$(error cannot ask cargo \
	where it builds: `$(CARGO) metadata --format-version 1 --no-deps` failed)))$(TARGET_DIR)
RELEASE_TARGET ?= x86_64-unknown-linux-gnu
RELEASE_BIN     = $(TARGET_DIR)/$(RELEASE_TARGET)/release/lambda-adapter

all: build

## build: debug build of the adapter
build:
	$(CARGO) build

## release: the static x86_64 binary (glibc linked in); `make -s print-release-bin` says where.
##       Built with `cargo auditable` (its crate list embedded for scanners) and reproducible
##       byte for byte from any directory; the recipe is layer.zip.mk's `release-binary`
release:
	@$(MAKE) --no-print-directory -f layer.zip.mk release-binary TARGET=$(RELEASE_TARGET)
	@ls -l $(RELEASE_BIN)

## emulator: the adapter plus the local emulator, debug build; `make -s print-emulator` says where
emulator:
	$(CARGO) build --features emulator --bins

## print-emulator / print-adapter / print-release-bin / print-target-dir: where cargo put
##       (or puts) the debug lambda-emulator, the debug lambda-adapter, the static release
##       adapter, and its target directory (CARGO_TARGET_DIR honoured); for scripts and READMEs
print-emulator:
	@echo "$(TARGET_DIR)/debug/lambda-emulator"
print-adapter:
	@echo "$(TARGET_DIR)/debug/lambda-adapter"
print-release-bin:
	@echo "$(RELEASE_BIN)"
print-target-dir:
	@echo "$(TARGET_DIR)"

## rie: AWS's Runtime Interface Emulator for the end-to-end tests, into .cache/rie
rie:
	.ci/install-rie.sh $(RIE_DIR)

## test: unit, integration and RIE end-to-end tests (RIE tests fail rather than skip here),
##       then the packaging tests: static binary, layer zip, Dockerfiles, the auditable binary
##       and its SBOM, and the reproducible build (two clean release builds, a few minutes)
test: rie
	LAMBDA_ADAPTER_REQUIRE_RIE=1 LAMBDA_ADAPTER_RIE=$(CURDIR)/$(RIE_DIR)/aws-lambda-rie $(CARGO) test --all-features
	$(MAKE) test-packaging

## test-packaging: the static binary runs alone in an empty root; the layer zip is the same
##       twice and serves an invocation under RIE; the Dockerfiles are what they claim; the
##       binary's embedded crate list and the SBOM name exactly what it is built from; two
##       builds in two directories with two CARGO_HOMEs give the same binary, zip and SBOM
test-packaging: release
	ADAPTER=$(RELEASE_BIN) tests/static_binary.sh
	ADAPTER=$(RELEASE_BIN) tests/layer_zip.sh
	tests/dockerfiles.sh
	ADAPTER=$(RELEASE_BIN) tests/auditable_binary.sh
	tests/reproducible_build.sh

## examples: every example app (Flask, FastAPI SSE, Express, nginx, SQS, stdlib, Next.js with
##       streaming, Django, PHP, Java, Ruby) under the local emulator and under RIE, each with its
##       pinned packages installed from the registries (npm, PyPI, Debian's packages when
##       missing) and cached in .cache/; then `make demo` and an example again with
##       CARGO_TARGET_DIR elsewhere. Prints the install and run time of each example.
examples:
	$(CARGO) build --release --features emulator
	tests/examples.sh
	tests/target_dir.sh

## demo: emulator + adapter + the Python example app, a few real requests, then stop
demo: emulator
	BIN="$(TARGET_DIR)/debug" examples/python-stdlib/demo.sh

## lint: formatting, clippy (warnings are errors) and the dependency policy (make deny)
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings
	@$(MAKE) --no-print-directory deny

## deny: the dependency policy, .cargo/deny.toml, checked by cargo-deny (installed into
##       .cache/tools on first use): allowed licences, banned crates (async runtimes, TLS),
##       one version per crate, crates.io only. Offline checks; advisories: see README "Audit"
CARGO_DENY_VERSION := 0.20.2
TOOLS ?= .cache/tools
CARGO_DENY_ROOT := $(abspath $(TOOLS))/cargo-deny-$(CARGO_DENY_VERSION)
# A debug build: about 2 minutes to compile on 2 cores, against about 10 with the release
# profile's fat LTO; the checks on a tree this small take a second or two either way.
$(CARGO_DENY_ROOT)/bin/cargo-deny:
	CARGO_PROFILE_DEV_DEBUG=0 $(CARGO) install cargo-deny --version $(CARGO_DENY_VERSION) --locked --debug \
		--root $(CARGO_DENY_ROOT)

## audit-tools: cargo-deny and cargo-auditable, pinned, from crates.io into .cache/tools
##       (make deny and make release install them on first use anyway)
audit-tools: $(CARGO_DENY_ROOT)/bin/cargo-deny
	@$(MAKE) --no-print-directory -f layer.zip.mk auditable-tool

deny: $(CARGO_DENY_ROOT)/bin/cargo-deny
	@PATH="$(CARGO_DENY_ROOT)/bin:$$PATH" $(CARGO) deny --locked --config .cargo/deny.toml \
		check licenses bans sources || { \
	  echo "The dependency policy rejected the tree (see above). Remove or replace the crate it" >&2; \
	  echo "names, or change .cargo/deny.toml with a reason, in the same change (README: Audit)." >&2; \
	  exit 1; }

## layer: the Lambda layer zip and its CycloneDX SBOM beside it (see layer.zip.mk)
layer:
	$(MAKE) -f layer.zip.mk

## verify-layer: rebuild the layer from this checkout and check it against a release's hash:
##       make verify-layer SHA256=<published sha256 of lambda-adapter-layer.zip>
LAYER_ZIP ?= lambda-adapter-layer.zip
verify-layer:
	@[ -n "$(SHA256)" ] || { echo "usage: make verify-layer SHA256=<published sha256 of $(LAYER_ZIP)>" >&2; exit 2; }
	@$(MAKE) --no-print-directory -f layer.zip.mk LAYER_ZIP=$(LAYER_ZIP)
	@if [ "$$(sha256sum <$(LAYER_ZIP) | cut -d' ' -f1)" = "$(SHA256)" ]; then \
	  echo "$(LAYER_ZIP): rebuilt, and it matches $(SHA256)"; \
	else \
	  echo "$(LAYER_ZIP): rebuilt, but it does not match $(SHA256). Same commit? Same Rust release" >&2; \
	  echo "  (the SBOM's build:toolchain)? Same libc6-dev? The directory and CARGO_HOME do not matter." >&2; \
	  exit 1; \
	fi

## adapter-image: the adapter's container image, lambda-adapter:0.1.0 (examples/Dockerfile; needs
##       a Docker engine); its build context is the static binary's directory
adapter-image: release
	docker build -f examples/Dockerfile -t lambda-adapter:0.1.0 "$(dir $(RELEASE_BIN))"

## bench: ours vs upstream LWA vs the app called directly, interleaved rounds (about a minute).
##       Upstream is built once from crates.io, as its releases are, into .cache/upstream.
UPSTREAM_BIN := .cache/upstream/bin/lambda-adapter
$(UPSTREAM_BIN):
	CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_PANIC=abort $(CARGO) install lambda_web_adapter \
		--version 1.0.0-rc1 --locked --root .cache/upstream

bench: release $(UPSTREAM_BIN)
	$(CARGO) run --release --example bench -- --ours $(RELEASE_BIN) --upstream $(UPSTREAM_BIN)

## bench-quick: the same in a few seconds (fewer invocations and rounds)
bench-quick: release $(UPSTREAM_BIN)
	$(CARGO) run --release --example bench -- --ours $(RELEASE_BIN) --upstream $(UPSTREAM_BIN) --quick

# --- fuzzing (tests/fuzz; nightly Rust + cargo-fuzz) -------------------------------------
# `make fuzz` runs every target for FUZZ_SECONDS (default 60) each, one at a time;
# `make fuzz-smoke` runs each for 10 s (CI). cargo-fuzz is installed from crates.io into
# .cache/cargo-fuzz when it is not on PATH. A crash leaves its input in
# tests/fuzz/artifacts/TARGET/ and fails the target. The adapter has no unsafe code, so the
# default is no sanitizer (5x the executions); FUZZ_SANITIZER=address checks its dependencies.
FUZZ_TARGETS := event_bytes event_structured response_encoding parsers app_response
FUZZ_SECONDS ?= 60
FUZZ_SANITIZER ?= none
FUZZ_PATH = PATH="$(CURDIR)/.cache/cargo-fuzz/bin:$$PATH"

.PHONY: fuzz fuzz-smoke fuzz-tool
## fuzz-tool: cargo-fuzz into .cache/cargo-fuzz unless on PATH (needs the nightly toolchain)
fuzz-tool:
	@$(FUZZ_PATH) cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked --root .cache/cargo-fuzz
	@rustup toolchain list | grep -q '^nightly' || { echo "fuzzing needs the nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }

## fuzz: every fuzz target for FUZZ_SECONDS (60) each, one at a time
fuzz: fuzz-tool
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p tests/fuzz/corpus/$$t; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  $(FUZZ_PATH) cargo +nightly fuzz run -s $(FUZZ_SANITIZER) --fuzz-dir tests/fuzz $$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

## fuzz-smoke: every fuzz target for 10 s (CI)
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# --- fault soak (examples/soak.rs; loopback only, bounded) ---------------------------------
SOAK_INVOCATIONS ?= 100000

.PHONY: soak soak-smoke
## soak: the release adapter (the static binary) under app kills, resets, garbage, slow answers and Runtime API
## faults, SOAK_INVOCATIONS (100000) per phase, one worker then 16; fails on any lost
## invocation, wrong answer, adapter exit or memory growth
soak: release
	$(CARGO) build --release --example soak
	SOAK_INVOCATIONS=$(SOAK_INVOCATIONS) "$(TARGET_DIR)/release/examples/soak" $(RELEASE_BIN)

## soak-smoke: the soak with 5000 invocations per phase (CI)
soak-smoke:
	@$(MAKE) --no-print-directory soak SOAK_INVOCATIONS=5000
