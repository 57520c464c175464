# lambda-adapter: common tasks. `make demo` and `make test` are the two to know.
CARGO ?= cargo
RIE_DIR := .cache/rie

.PHONY: all build release emulator test rie demo lint layer examples test-packaging bench bench-quick
RELEASE_TARGET ?= x86_64-unknown-linux-gnu
RELEASE_BIN    := target/$(RELEASE_TARGET)/release/lambda-adapter

all: build

## build: debug build of the adapter
build:
	$(CARGO) build

## release: the static x86_64 binary (glibc linked in), target/$(RELEASE_TARGET)/release/lambda-adapter
release:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(RELEASE_TARGET) --bin lambda-adapter
	@ls -l $(RELEASE_BIN)

## emulator: the adapter plus the local emulator (target/debug/lambda-emulator)
emulator:
	$(CARGO) build --features emulator --bins

## rie: AWS's Runtime Interface Emulator for the end-to-end tests, into .cache/rie
rie:
	.ci/install-rie.sh $(RIE_DIR)

## test: unit, integration and RIE end-to-end tests (RIE tests fail rather than skip here),
##       then the packaging tests: static binary, reproducible layer, Dockerfiles
test: rie
	LAMBDA_ADAPTER_REQUIRE_RIE=1 LAMBDA_ADAPTER_RIE=$(CURDIR)/$(RIE_DIR)/aws-lambda-rie $(CARGO) test --all-features
	$(MAKE) test-packaging

## test-packaging: the static binary runs alone in an empty root; the layer zip is the same
##       twice and serves an invocation under RIE; the Dockerfiles are what they claim
test-packaging: release
	tests/static_binary.sh
	tests/layer_zip.sh
	tests/dockerfiles.sh

## examples: every example app (Flask, FastAPI SSE, Express, nginx, SQS, stdlib) under the
##       local emulator and under RIE, with its pinned packages installed from the registries
examples:
	$(CARGO) build --release --features emulator
	tests/examples.sh

## demo: emulator + adapter + the Python example app, a few real requests, then stop
demo: emulator
	examples/python-stdlib/demo.sh

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings

## layer: the Lambda layer zip (see layer.zip.mk)
layer:
	$(MAKE) -f layer.zip.mk

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
	SOAK_INVOCATIONS=$(SOAK_INVOCATIONS) target/release/examples/soak $(RELEASE_BIN)

## soak-smoke: the soak with 5000 invocations per phase (CI)
soak-smoke:
	@$(MAKE) --no-print-directory soak SOAK_INVOCATIONS=5000
