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

## bench: ours vs upstream LWA vs the app called directly, interleaved rounds (a few minutes).
##       Upstream is built once from crates.io, as its releases are, into .cache/upstream.
UPSTREAM_BIN := .cache/upstream/bin/lambda-adapter
$(UPSTREAM_BIN):
	CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_PANIC=abort $(CARGO) install lambda_web_adapter \
		--version 1.0.0-rc1 --locked --root .cache/upstream

bench: release $(UPSTREAM_BIN)
	$(CARGO) run --release --example bench -- --ours $(RELEASE_BIN) --upstream $(UPSTREAM_BIN)

## bench-quick: the same in under a minute (fewer invocations and rounds)
bench-quick: release $(UPSTREAM_BIN)
	$(CARGO) run --release --example bench -- --ours $(RELEASE_BIN) --upstream $(UPSTREAM_BIN) --quick
