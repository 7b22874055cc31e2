#!/usr/bin/env bash
# Installs, into a cache outside the checkout, the pinned infrastructure Accord runs on:
# uv (Python toolchain), Apache Kafka (Maven Central jars), OPA (go install), PostgreSQL
# (Debian packages), Helm (go install), Keycloak (Maven Central zip), Chromium (Debian package, for the browser
# tests) and the portal's npm packages (GOV.UK Frontend, axe-core). Idempotent: a second call
# only checks marker files and returns.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
CACHE="${ACCORD_CACHE:-$HOME/.cache/accord}"
mkdir -p "$CACHE"
# Several test sessions, `make run` and `deploy/uv.sh` calls may provision at the same moment; one
# at a time, so none sees (or moves away) another's half-unpacked download.
exec 9>"$CACHE/.provision.lock"
flock 9
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

helm_bin="$CACHE/helm-$HELM_VERSION/helm"
if [ ! -x "$helm_bin" ]; then
  log "building Helm $HELM_VERSION with go install (takes a few minutes once)"
  mkdir -p "$CACHE/helm-$HELM_VERSION"
  GOBIN="$CACHE/helm-$HELM_VERSION" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

pg_bin="/usr/lib/postgresql/$POSTGRES_MAJOR/bin"
if [ ! -x "$pg_bin/postgres" ]; then
  log "installing PostgreSQL $POSTGRES_MAJOR from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-$POSTGRES_MAJOR" >/dev/null
fi

keycloak_home="$CACHE/keycloak-$KEYCLOAK_VERSION"
if [ ! -f "$keycloak_home/.complete" ]; then
  log "fetching Keycloak $KEYCLOAK_VERSION from Maven Central"
  # Unpacked beside the target and moved into place, so an interrupted fetch never leaves a
  # half-unpacked distribution that looks usable.
  staging="$CACHE/.keycloak-$KEYCLOAK_VERSION.partial"
  rm -rf "$staging" "$keycloak_home"; mkdir -p "$staging"
  # Without a pom, the plugin puts its markers in a literal '${project.basedir}' folder in the
  # current directory: run it in the staging folder, which is removed afterwards.
  (cd "$staging" && mvn -q -B --no-transfer-progress -Dstyle.color=never \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:unpack \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
      -DoutputDirectory="$staging" >&2)
  mv "$staging/keycloak-$KEYCLOAK_VERSION" "$keycloak_home"
  rm -rf "$staging"
  touch "$keycloak_home/.complete"
fi

chromium_bin=/usr/bin/chromium
if [ ! -x "$chromium_bin" ]; then
  log "installing Chromium from Debian (browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

portal="$here/../services/portal"
if [ -f "$portal/package-lock.json" ]; then
  lock_sum="$(sha256sum "$portal/package-lock.json" | cut -d' ' -f1)"
  marker="$portal/node_modules/.accord-lock.sha256"
  if [ "$(cat "$marker" 2>/dev/null)" != "$lock_sum" ]; then
    log "installing the portal's npm packages (npm ci)"
    (cd "$portal" && npm ci --no-audit --no-fund --loglevel=error >&2)
    printf '%s\n' "$lock_sum" > "$marker"
  fi
fi

# The AsyncAPI parser the tests validate docs/asyncapi.yaml with (tools/asyncapi): installed once
# per lock file into the cache, so that every checkout and worktree shares it.
asyncapi_tools="$here/../tools/asyncapi"
asyncapi_home=""
if [ -f "$asyncapi_tools/package-lock.json" ]; then
  asyncapi_sum="$(sha256sum "$asyncapi_tools/package-lock.json" | cut -c1-16)"
  asyncapi_home="$CACHE/asyncapi-parser-$asyncapi_sum"
  if [ ! -f "$asyncapi_home/.complete" ]; then
    log "installing the AsyncAPI parser (npm ci)"
    staging="$(mktemp -d "$CACHE/.asyncapi-parser.XXXXXX")"
    cp "$asyncapi_tools/package.json" "$asyncapi_tools/package-lock.json" "$staging/"
    (cd "$staging" && npm ci --no-audit --no-fund --loglevel=error >&2)
    rm -rf "$asyncapi_home"
    mv "$staging" "$asyncapi_home"
    touch "$asyncapi_home/.complete"
  fi
fi

# What callers need, as shell assignments (eval "$(deploy/provision.sh)").
cat <<OUT
export ACCORD_CACHE="$CACHE"
export ACCORD_UV="$uv_bin"
export ACCORD_KAFKA_HOME="$kafka_home"
export ACCORD_OPA="$opa_bin"
export ACCORD_HELM="$helm_bin"
export ACCORD_PG_BIN="$pg_bin"
export ACCORD_KEYCLOAK_HOME="$keycloak_home"
export ACCORD_CHROMIUM="$chromium_bin"
export ACCORD_ASYNCAPI_PARSER="$asyncapi_home"
OUT
