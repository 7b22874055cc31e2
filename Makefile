# The two commands of Accord. Everything they need is installed by deploy/provision.sh
# into ~/.cache/accord (outside git), so the second run starts in seconds.
SHELL := /bin/bash
.PHONY: run test lint demo bench

run:  ## start Kafka, OPA and all five services (Ctrl-C stops everything)
	@bash deploy/run.sh

test:  ## unit, policy and integration tests against real Kafka, OPA and PostgreSQL
	@bash deploy/test.sh

demo:  ## walk one case through the journey against a running platform
	@bash deploy/uv.sh run accord demo

lint:
	@bash deploy/uv.sh run ruff check libs services tests bench

bench:
	@bash deploy/uv.sh run python -m bench
