# CradleWatch make targets. `make help` lists them.

.DEFAULT_GOAL := help

# Readings the ingest benchmark publishes (4 per Zigbee2MQTT message).
BENCH_READINGS ?= 1000000

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: bench
bench: ## ingest path, CradleWatch vs Telegraf, into docs/performance.md (BENCH_READINGS=200000 for a quick run)
	go run ./cmd/pathbench -readings $(BENCH_READINGS) -command "make bench BENCH_READINGS=$(BENCH_READINGS)"
