#!/usr/bin/env bash
# Builds Accord's images: accord/accord (the five services and the portal), accord/kafka,
# accord/opa, accord/postgres and accord/keycloak, all FROM debian:bookworm-slim (made by
# base.sh when no registry is reachable). Kafka, OPA and Keycloak are the artefacts
# deploy/provision.sh fetched at the versions in deploy/versions.env, staged as build contexts
# under ~/.cache/accord/docker-context.
#   bash deploy/docker/build.sh                 # every image
#   bash deploy/docker/build.sh accord kafka    # some
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../versions.env
source "$root/deploy/versions.env"
eval "$(bash "$root/deploy/provision.sh")"
started=$SECONDS
bash "$here/base.sh"
echo "[docker-build] base image ready in $((SECONDS - started)) s" >&2
stage="$ACCORD_CACHE/docker-context"
log() { printf '[docker-build] %s\n' "$*" >&2; }

# Certificates the host trusts beyond Debian's own (a TLS-inspecting proxy's), for the build
# stages that fetch from PyPI and npm; nothing of them reaches a final image.
extra_ca=""
for cert in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$cert" ] && extra_ca+="$(cat "$cert")"$'\n'
done

build() {  # tag dockerfile context [build args...]
  local tag="$1" dockerfile="$2" context="$3"; shift 3
  local started=$SECONDS
  docker build --network host --quiet -t "$tag" -f "$dockerfile" "$@" "$context" >/dev/null
  log "$tag built in $((SECONDS - started)) s"
}

stage_dir() {  # name: a fresh, empty staging context
  rm -rf "${stage:?}/$1"; mkdir -p "$stage/$1"; printf '%s' "$stage/$1"
}

# Hard links where the cache and the staging area share a filesystem, copies elsewhere.
link_or_copy() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(accord kafka opa postgres keycloak)
for image in "${images[@]}"; do
  case "$image" in
    accord)
      build accord/accord:dev "$here/accord.Dockerfile" "$root" \
        --build-arg UV_VERSION="$UV_VERSION" --build-arg EXTRA_CA_CERTS="$extra_ca" ;;
    kafka)
      ctx="$(stage_dir kafka)"
      link_or_copy "$ACCORD_KAFKA_HOME/libs" "$ctx/libs"
      cp "$here/kafka-entrypoint.sh" "$ctx/"
      build "accord/kafka:$KAFKA_VERSION" "$here/kafka.Dockerfile" "$ctx" ;;
    opa)
      ctx="$(stage_dir opa)"
      cp "$ACCORD_OPA" "$ctx/opa"
      build "accord/opa:$OPA_VERSION" "$here/opa.Dockerfile" "$ctx" ;;
    postgres)
      ctx="$(stage_dir postgres)"
      cp "$here/postgres-entrypoint.sh" "$ctx/"
      build "accord/postgres:$POSTGRES_MAJOR" "$here/postgres.Dockerfile" "$ctx" \
        --build-arg POSTGRES_MAJOR="$POSTGRES_MAJOR" ;;
    keycloak)
      ctx="$(stage_dir keycloak)"
      link_or_copy "$ACCORD_KEYCLOAK_HOME" "$ctx/keycloak"
      rm -f "$ctx/keycloak/.complete"
      mkdir -p "$ctx/realms"
      cp "$root"/deploy/keycloak/*-realm.json "$ctx/realms/"
      build "accord/keycloak:$KEYCLOAK_VERSION" "$here/keycloak.Dockerfile" "$ctx" ;;
    *) echo "unknown image: $image (accord, kafka, opa, postgres, keycloak)" >&2; exit 2 ;;
  esac
done
