#!/usr/bin/env bash
# One KRaft node: the storage is formatted once (its cluster id kept in the volume), the
# configuration written on every start from the environment.
set -euo pipefail
data=/var/lib/kafka
host="${KAFKA_LISTEN_HOST:-127.0.0.1}"
advertised="${KAFKA_ADVERTISED_HOST:-$host}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
classpath="/opt/kafka/libs/*"
java_opts=(-Djava.awt.headless=true -Dlog4j2.configurationFile=/var/lib/kafka/log4j2.properties)

cat > "$data/log4j2.properties" <<LOG
rootLogger.level = ${KAFKA_LOG_LEVEL:-WARN}
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
LOG
cat > "$data/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controller_port}
listeners=PLAINTEXT://${host}:${port},CONTROLLER://127.0.0.1:${controller_port}
advertised.listeners=PLAINTEXT://${advertised}:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${data}/kraft
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.partitions=3
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
CONF
if [ ! -f "$data/kraft/meta.properties" ]; then
  if [ ! -s "$data/cluster.id" ]; then
    java "${java_opts[@]}" -cp "$classpath" kafka.tools.StorageTool random-uuid > "$data/cluster.id"
  fi
  java "${java_opts[@]}" -cp "$classpath" kafka.tools.StorageTool format \
    -t "$(cat "$data/cluster.id")" -c "$data/server.properties" >/dev/null
fi
exec java "${java_opts[@]}" "-Xmx${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
  -cp "$classpath" kafka.Kafka "$data/server.properties"
