# Apache Kafka (KRaft, one node) for docker-compose.yml. Build context: the Kafka jars that
# deploy/provision.sh fetched from Maven Central, staged by deploy/docker/build.sh with this
# directory's kafka-entrypoint.sh:
#   bash deploy/docker/build.sh kafka
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# The JRE's post-install links its manual pages: the slim base has no man directory.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 kafka \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/kafka --no-create-home --shell /usr/sbin/nologin kafka \
 && mkdir -p /var/lib/kafka && chown 10001:10001 /var/lib/kafka
COPY libs /opt/kafka/libs
COPY kafka-entrypoint.sh /usr/local/bin/kafka-entrypoint.sh
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/kafka-entrypoint.sh"]
