# lambda-adapter: common tasks. `make demo` and `make test` are the two to know.
CARGO ?= cargo
RIE_DIR := .cache/rie

.PHONY: all build release emulator test rie demo lint layer

all: build

## build: debug build of the adapter
build:
	$(CARGO) build

## release: optimised adapter binary (target/release/lambda-adapter)
release:
	$(CARGO) build --release

## emulator: the adapter plus the local emulator (target/debug/lambda-emulator)
emulator:
	$(CARGO) build --features emulator --bins

## rie: AWS's Runtime Interface Emulator for the end-to-end tests, into .cache/rie
rie:
	.ci/install-rie.sh $(RIE_DIR)

## test: unit, integration and RIE end-to-end tests (RIE tests fail rather than skip here)
test: rie
	LAMBDA_ADAPTER_REQUIRE_RIE=1 LAMBDA_ADAPTER_RIE=$(CURDIR)/$(RIE_DIR)/aws-lambda-rie $(CARGO) test --all-features

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
