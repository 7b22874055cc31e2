#!/usr/bin/env bash
# Installs, into a cache outside the checkout, the pinned infrastructure Accord runs on:
# uv (Python toolchain), Apache Kafka (Maven Central jars), OPA (go install), PostgreSQL
# (Debian packages). Idempotent: a second call only checks marker files and returns.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
CACHE="${ACCORD_CACHE:-$HOME/.cache/accord}"
mkdir -p "$CACHE"
log() { printf '[provision] %s\n' "$*" >&2; }

uv_bin="$CACHE/uv-$UV_VERSION/bin/uv"
if [ ! -x "$uv_bin" ]; then
  log "installing uv $UV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check --target "$CACHE/uv-$UV_VERSION/pkg" "uv==$UV_VERSION"
  mkdir -p "$CACHE/uv-$UV_VERSION/bin"
  ln -sf "$CACHE/uv-$UV_VERSION/pkg/bin/uv" "$uv_bin"
fi

kafka_home="$CACHE/kafka-$KAFKA_VERSION"
if [ ! -f "$kafka_home/.complete" ]; then
  log "fetching Kafka $KAFKA_VERSION from Maven Central"
  rm -rf "$kafka_home"; mkdir -p "$kafka_home/libs"
  mvn -q -B --no-transfer-progress -Dstyle.color=never -f "$here/kafka/pom.xml" \
      -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_home/libs" >&2
  touch "$kafka_home/.complete"
fi

opa_bin="$CACHE/opa-$OPA_VERSION/opa"
if [ ! -x "$opa_bin" ]; then
  log "building OPA $OPA_VERSION with go install (takes a few minutes once)"
  mkdir -p "$CACHE/opa-$OPA_VERSION"
  GOBIN="$CACHE/opa-$OPA_VERSION" CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@$OPA_VERSION"
fi

pg_bin="/usr/lib/postgresql/$POSTGRES_MAJOR/bin"
if [ ! -x "$pg_bin/postgres" ]; then
  log "installing PostgreSQL $POSTGRES_MAJOR from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-$POSTGRES_MAJOR" >/dev/null
fi

# What callers need, as shell assignments (eval "$(deploy/provision.sh)").
cat <<OUT
export ACCORD_CACHE="$CACHE"
export ACCORD_UV="$uv_bin"
export ACCORD_KAFKA_HOME="$kafka_home"
export ACCORD_OPA="$opa_bin"
export ACCORD_PG_BIN="$pg_bin"
OUT
