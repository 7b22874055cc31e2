# One image for the five services and the portal; the command picks which
# (accord-referral all, accord-portal, ...). Build context: the repository root (see
# .dockerignore: no data, keys, environments or caches go in).
#   docker build -f deploy/docker/accord.Dockerfile -t accord/accord:dev .
# BASE is Debian bookworm: pulled where a registry is reachable, made by
# deploy/docker/base.sh (debootstrap) where none is.
ARG BASE=debian:bookworm-slim
# Certificates to trust beyond Debian's while fetching packages (PEM text; for a TLS-inspecting
# proxy, deploy/docker/build.sh passes the host's own additions). Build stages only.
ARG EXTRA_CA_CERTS=""

# GOV.UK Frontend, which the portal serves, from the npm registry at the locked version.
FROM ${BASE} AS frontend
ARG EXTRA_CA_CERTS
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra.crt && update-ca-certificates >/dev/null; fi
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
WORKDIR /portal
COPY services/portal/package.json services/portal/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# The Python environment, from uv.lock (no development tools).
FROM ${BASE} AS python
ARG EXTRA_CA_CERTS
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra.crt && update-ca-certificates >/dev/null; fi
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir --quiet "uv==${UV_VERSION}"
ENV UV_NATIVE_TLS=1 UV_PYTHON=/usr/bin/python3.11 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
WORKDIR /app
# The dependencies first (a layer that changes only with the lock file), then the sources.
COPY pyproject.toml uv.lock ./
COPY libs/kernel/pyproject.toml libs/kernel/
COPY libs/platform/pyproject.toml libs/platform/
COPY services/referral/pyproject.toml services/referral/
COPY services/victim-support/pyproject.toml services/victim-support/
COPY services/conference/pyproject.toml services/conference/
COPY services/court/pyproject.toml services/court/
COPY services/audit/pyproject.toml services/audit/
COPY services/portal/pyproject.toml services/portal/
COPY services/reporting/pyproject.toml services/reporting/
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-workspace --no-cache
COPY libs libs
COPY services services
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-cache

FROM ${BASE}
# libpq for psycopg, which finds no implementation without it.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 libpq5 ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
# A user of its own, and the data directory owned by it: a volume mounted there starts with
# this ownership, so the services (and the audit log's key) can write into it.
RUN groupadd --gid 10001 accord \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/accord --no-create-home --shell /usr/sbin/nologin accord \
 && mkdir -p /var/lib/accord /run/accord/keys \
 && chown -R 10001:10001 /var/lib/accord /run/accord
COPY --from=python /app /app
COPY --from=frontend /portal/node_modules /app/services/portal/node_modules
COPY policies /app/policies
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ACCORD_DATA_DIR=/var/lib/accord \
    ACCORD_PORTAL_DATA_DIR=/var/lib/accord/portal
USER 10001:10001
CMD ["accord", "--help"]
