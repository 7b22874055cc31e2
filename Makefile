# The two commands of Accord. Everything they need is installed by deploy/provision.sh
# into ~/.cache/accord (outside git), so the second run starts in seconds.
SHELL := /bin/bash
.PHONY: run training test lint demo bench

run:  ## start Kafka, OPA and all five services (Ctrl-C stops everything)
	@bash deploy/run.sh

training:  ## a training deployment (SPEC 8) beside `make run`: own ports, data dir and Kafka
	@bash deploy/run.sh --training --data-dir data-training --kafka-port 9192 --opa-port 8281 \
		--service-port 8201 --keycloak-port 8280 --keycloak-management-port 8290 --portal-port 8200

test:  ## unit, policy and integration tests against real Kafka, OPA and PostgreSQL
	@bash deploy/test.sh

demo:  ## walk one case through the journey against a running platform
	@bash deploy/uv.sh run accord demo

lint:
	@bash deploy/uv.sh run ruff check libs services tests bench

bench:
	@bash deploy/uv.sh run python -m bench
