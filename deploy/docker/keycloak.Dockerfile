# Keycloak with Accord's two development realms (staff and victims), for docker-compose.yml.
# Build context: the Keycloak distribution deploy/provision.sh fetched from Maven Central and
# the realm files of deploy/keycloak, staged by deploy/docker/build.sh.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 keycloak \
 && useradd --uid 10001 --gid 10001 --home-dir /opt/keycloak --no-create-home --shell /usr/sbin/nologin keycloak
COPY --chown=10001:10001 keycloak /opt/keycloak
COPY --chown=10001:10001 realms /opt/keycloak/data/import
# The dev-file database's folder, to be mounted as a volume: made here so that the volume
# starts owned by Keycloak's user.
RUN mkdir -p /opt/keycloak/data/h2 && chown -R 10001:10001 /opt/keycloak/data
USER 10001:10001
# The Quarkus build once, in the image, instead of at every first start.
RUN /opt/keycloak/bin/kc.sh build --db=dev-file --health-enabled=true
ENV JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m"
ENTRYPOINT ["/opt/keycloak/bin/kc.sh"]
CMD ["start-dev", "--import-realm", "--db=dev-file", "--health-enabled=true"]
