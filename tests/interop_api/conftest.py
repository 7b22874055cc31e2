"""Fixtures of the interoperability tests: each service built in-process on in-memory
persistence and the session's real OPA (the same fixtures as the HTTP-boundary tests)."""

from tests.api.conftest import build_service, dev_keys, kafka_bootstrap, opa_url

__all__ = ["build_service", "dev_keys", "kafka_bootstrap", "opa_url"]
