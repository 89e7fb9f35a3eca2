# CradleWatch make targets. `make help` lists them.

.DEFAULT_GOAL := help

# Readings the ingest benchmark publishes (4 per Zigbee2MQTT message).
BENCH_READINGS ?= 1000000

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: bench
bench: ## ingest path, CradleWatch vs Telegraf, into docs/performance.md (BENCH_READINGS=200000 for a quick run)
	go run ./cmd/pathbench -readings $(BENCH_READINGS) -command "make bench BENCH_READINGS=$(BENCH_READINGS)"

# The chaos run: how long, which schedule, how much load (docs/reliability.md).
CHAOS_DURATION ?= 3m
CHAOS_SEED ?= 1
CHAOS_RATE ?= 1000
CHAOS_FACILITIES ?= 8
CHAOS_DEVICES ?= 25
CHAOS_ARGS ?=

.PHONY: chaos
chaos: ## the whole system on real parts under faults, every reading accounted (CHAOS_DURATION=30m CHAOS_SEED=7; docs/reliability.md)
	go run ./cmd/chaos -duration $(CHAOS_DURATION) -seed $(CHAOS_SEED) -rate $(CHAOS_RATE) \
		-facilities $(CHAOS_FACILITIES) -devices $(CHAOS_DEVICES) $(CHAOS_ARGS)

# --- Build, test and release ------------------------------------------------

# Version stamped into every binary (internal/cli.Version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS_VERSION := -X github.com/cradlewatch/cradlewatch/internal/cli.Version=$(VERSION)
# Every command under cmd/.
CMDS := $(notdir $(patsubst %/,%,$(dir $(wildcard cmd/*/main.go))))
# Seconds of fuzzing per Fuzz target in `make fuzz`.
FUZZTIME ?= 10s

.PHONY: build
build: ## all binaries of cmd/ into bin/ (VERSION=... to stamp a release)
	@mkdir -p bin
	go build -trimpath -ldflags "$(LDFLAGS_VERSION)" -o bin/ $(addprefix ./cmd/,$(CMDS))

.PHONY: gateway-arm64
gateway-arm64: ## static gateway for 64-bit ARM boxes: bin/gateway-linux-arm64
	@mkdir -p bin
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags "-s -w $(LDFLAGS_VERSION)" -o bin/gateway-linux-arm64 ./cmd/gateway

.PHONY: gateway-armv7
gateway-armv7: ## static gateway for 32-bit ARMv7 boxes: bin/gateway-linux-armv7
	@mkdir -p bin
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 go build -trimpath -ldflags "-s -w $(LDFLAGS_VERSION)" -o bin/gateway-linux-armv7 ./cmd/gateway

.PHONY: test
test: ## vet and every test, integration tests included (scripts/test.sh; ARGS=-short for unit tests only)
	bash scripts/test.sh $(ARGS)

.PHONY: demo
demo: ## the whole system on this machine, on loopback (Ctrl-C stops it)
	go run ./cmd/demo

.PHONY: dashboards
dashboards: ## regenerate the Grafana dashboards into deploy/grafana/dashboards
	go run ./cmd/cwreport dashboards -out deploy/grafana/dashboards

.PHONY: lint
lint: ## go vet, and gofmt -l must list no file
	go vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi

.PHONY: fuzz
fuzz: ## every Fuzz target for FUZZTIME (default 10s) each; crashers land in the package's testdata/fuzz
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$(go test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "+ go test -run '^\$$' -fuzz '^$$target\$$' -fuzztime $(FUZZTIME) $$dir"; \
			go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done
