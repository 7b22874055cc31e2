# PostgreSQL from Debian (the major version in deploy/versions.env) for docker-compose.yml.
# Build context: deploy/docker.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG POSTGRES_MAJOR=15
RUN mkdir -p /usr/share/man/man1 /usr/share/man/man7 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "postgresql-${POSTGRES_MAJOR}" >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data && chown -R postgres:postgres /var/lib/postgresql
ENV PATH=/usr/lib/postgresql/${POSTGRES_MAJOR}/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
