#!/usr/bin/env bash
# Runs uv from Accord's cache after making sure the pinned toolchain and infrastructure exist.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$(bash "$root/deploy/provision.sh")"
cd "$root"
"$ACCORD_UV" sync --frozen --quiet --python 3.11
exec "$ACCORD_UV" "$@"
