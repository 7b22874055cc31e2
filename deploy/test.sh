#!/usr/bin/env bash
# The whole test suite: policy tests (opa test with a coverage threshold), then pytest
# (unit tests, and integration tests that start real Kafka, OPA and PostgreSQL themselves).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$(bash "$root/deploy/provision.sh")"
cd "$root"
"$ACCORD_UV" sync --frozen --quiet --python 3.11
echo "== policy tests (opa $("$ACCORD_OPA" version | head -1))"
bash policies/test.sh
echo "== pytest"
"$ACCORD_UV" run --frozen pytest "$@"
