#!/usr/bin/env bash
# initdb once into the volume (password from POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE),
# with the database POSTGRES_DB; then the server.
set -euo pipefail
user="${POSTGRES_USER:-accord}"
db="${POSTGRES_DB:-accord}"
password="${POSTGRES_PASSWORD:-}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then password="$(cat "$POSTGRES_PASSWORD_FILE")"; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "$password" ] || { echo "POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required" >&2; exit 1; }
  pwfile="$(mktemp)"
  printf '%s' "$password" > "$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=trust \
    -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
fi
exec postgres -D "$PGDATA" -c "listen_addresses=${POSTGRES_LISTEN:-127.0.0.1}" -c "port=${POSTGRES_PORT:-5432}" \
  -c unix_socket_directories=/tmp
