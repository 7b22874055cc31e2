#!/usr/bin/env bash
# The whole test suite: the static gates (ruff lint and format, mypy --strict), policy tests
# (opa test with a coverage threshold), then pytest (unit tests, and integration tests that
# start real Kafka, OPA and PostgreSQL themselves). Any step that fails stops the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$(bash "$root/deploy/provision.sh")"
cd "$root"
"$ACCORD_UV" sync --frozen --quiet --python 3.11
echo "== ruff check"
"$ACCORD_UV" run --frozen ruff check libs services tests bench
echo "== ruff format --check"
"$ACCORD_UV" run --frozen ruff format --check libs services tests bench
echo "== mypy --strict"
"$ACCORD_UV" run --frozen mypy --strict libs/kernel/src libs/platform/src services/*/src
echo "== policy tests (opa $("$ACCORD_OPA" version | head -1))"
bash policies/test.sh
echo "== pytest"
"$ACCORD_UV" run --frozen pytest "$@"
