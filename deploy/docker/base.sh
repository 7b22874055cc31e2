#!/usr/bin/env bash
# The base image the Dockerfiles name (debian:bookworm-slim), made locally where no container
# registry is reachable: a minimal Debian bookworm from the Debian mirror apt already uses
# (debootstrap), imported into the engine. The root filesystem tarball is cached in
# ~/.cache/accord so that a new engine (or a pruned one) imports it in seconds. Where a
# registry is reachable, `docker pull debian:bookworm-slim` does the same job.
set -euo pipefail
CACHE="${ACCORD_CACHE:-$HOME/.cache/accord}"
tag="${1:-debian:bookworm-slim}"
tarball="$CACHE/docker-base/debian-bookworm-minbase.tar"
log() { printf '[docker-base] %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi
mkdir -p "$CACHE/docker-base"
exec 9>"$CACHE/docker-base/.lock"
flock 9
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  }
  # The mirror of the host's own apt sources (the only one these machines reach).
  mirror="$({ grep -shoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list || true; } \
    | grep -v security | head -1 | awk '{print $2}' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  root="$(mktemp -d "$CACHE/docker-base/rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  log "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
  security="${mirror%/debian}/debian-security"
  cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
  # As the official slim image: no documentation, no package lists, no apt caches.
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
  tar --numeric-owner -C "$root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi
log "importing $tarball as $tag"
docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$tag" >/dev/null
