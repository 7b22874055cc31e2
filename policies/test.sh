#!/usr/bin/env bash
# Checks the Rego policies: strict compilation, canonical formatting, and the tests with a
# coverage threshold. The OPA binary comes from $ACCORD_OPA (default: `opa` on the PATH).
set -euo pipefail

opa="${ACCORD_OPA:-opa}"
policies="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
threshold=95

echo "== opa check --strict"
"$opa" check --strict "$policies"

echo "== opa fmt"
if ! "$opa" fmt --list --fail "$policies" >/dev/null; then
    echo "Rego files are not formatted; run: $opa fmt -w $policies" >&2
    "$opa" fmt --diff "$policies" >&2 || true
    exit 1
fi

echo "== opa test --coverage --threshold $threshold"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
if ! "$opa" test "$policies" --timeout 300s --coverage --threshold "$threshold" >"$report"; then
    # The coverage report leaves out what the failing tests printed; a plain run shows it.
    "$opa" test "$policies" --timeout 300s >&2 || true
    exit 1
fi
"$opa" eval --stdin-input --format raw 'sprintf("all tests passed, coverage %.1f%%", [input.coverage])' <"$report"
