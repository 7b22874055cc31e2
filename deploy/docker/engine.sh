#!/usr/bin/env bash
# A Docker engine to build and run Accord's images, and prints where it answers
# (`export DOCKER_HOST=...`). One that already answers is used as it is; otherwise, as root,
# Debian's docker.io (the engine), docker-compose and debootstrap are installed when missing
# and dockerd is started with its data under ~/.cache/accord/docker, host networking only
# (no bridge, no iptables: these machines allow neither), and left running for later calls.
# Exits 3, saying why, where no engine can be had.
set -euo pipefail
CACHE="${ACCORD_CACHE:-$HOME/.cache/accord}"
own_socket="$CACHE/docker-exec/docker.sock"
answers() { DOCKER_HOST="$1" timeout 20 docker info >/dev/null 2>&1; }

for candidate in "${DOCKER_HOST:-}" "unix://$own_socket" unix:///var/run/docker.sock; do
  if [ -n "$candidate" ] && command -v docker >/dev/null && answers "$candidate"; then
    echo "export DOCKER_HOST=\"$candidate\""
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "no Docker engine answers and only root can start one here" >&2; exit 3
fi
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[docker-engine] installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "could not install ${missing[*]} with apt-get" >&2; exit 3
  fi
fi
mkdir -p "$CACHE/docker" "$CACHE/docker-exec"
exec 9>"$CACHE/docker-exec/.start.lock"
flock 9
if ! answers "unix://$own_socket"; then
  echo "[docker-engine] starting dockerd (data in $CACHE/docker)" >&2
  setsid dockerd --data-root "$CACHE/docker" --exec-root "$CACHE/docker-exec" \
    --pidfile "$CACHE/docker-exec/dockerd.pid" -H "unix://$own_socket" \
    --bridge=none --iptables=false --ip6tables=false >"$CACHE/docker-exec/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    answers "unix://$own_socket" && break
    sleep 1
  done
  if ! answers "unix://$own_socket"; then
    echo "dockerd did not start:" >&2; tail -20 "$CACHE/docker-exec/dockerd.log" >&2; exit 3
  fi
fi
echo "export DOCKER_HOST=\"unix://$own_socket\""
