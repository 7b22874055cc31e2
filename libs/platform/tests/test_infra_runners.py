"""The infrastructure runners without the servers: ports, provisioning output, rendered
configuration, command lines, and the child-process lifecycle (on tiny Python children)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from accord_platform.infra import (
    RESERVED_PORTS,
    ChildServer,
    Infrastructure,
    InfrastructureError,
    KafkaNode,
    OpaServer,
    PostgresCluster,
    free_port,
    new_cluster_id,
    parse_exports,
    port_is_free,
    provisioned,
)

PROVISION_OUTPUT = """\
export ACCORD_CACHE="/cache"
export ACCORD_UV="/cache/uv-0.13.9/bin/uv"
export ACCORD_KAFKA_HOME="/cache/kafka 4.1.2"
export ACCORD_OPA="/cache/opa-v1.10.1/opa"
export ACCORD_PG_BIN="/usr/lib/postgresql/15/bin"
"""


def read_properties(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            entries[key.strip()] = value.strip()
    return entries


def test_a_free_preferred_port_is_used_and_never_handed_out_twice() -> None:
    port = free_port()
    assert port_is_free(port)
    # The same process asking again (a second server) must not be given the same port.
    assert free_port(port) != port


def test_the_local_runs_fixed_ports_are_never_handed_out() -> None:
    # From the Makefile's targets and the services' default ports (README): make run and make
    # training, the reporting service (8106) included.
    fixed = {
        *range(8100, 8107),
        8180,
        8181,
        9000,
        9092,
        9093,
        55432,
        *range(8200, 8207),
        8280,
        8281,
        8290,
        9192,
    }
    assert fixed <= RESERVED_PORTS
    for port in sorted(fixed):
        # asked for by name, even while free, another port is given instead
        chosen = free_port(port)
        assert chosen not in fixed
        assert port_is_free(chosen)
    assert not {free_port() for _ in range(50)} & fixed


def test_a_taken_preferred_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not port_is_free(taken)
        chosen = free_port(taken)
        assert chosen != taken
        assert port_is_free(chosen)


def test_provisioning_output_is_parsed_into_paths() -> None:
    paths = parse_exports(PROVISION_OUTPUT)
    assert paths["ACCORD_KAFKA_HOME"] == "/cache/kafka 4.1.2"
    assert paths["ACCORD_PG_BIN"] == "/usr/lib/postgresql/15/bin"


def test_provisioning_output_without_a_server_path_is_refused() -> None:
    without_opa = "\n".join(
        line for line in PROVISION_OUTPUT.splitlines() if "ACCORD_OPA=" not in line
    )
    with pytest.raises(InfrastructureError, match="ACCORD_OPA"):
        parse_exports(without_opa)


def test_exported_paths_are_used_without_running_the_provisioning_script(tmp_path: Path) -> None:
    environ = parse_exports(PROVISION_OUTPUT) | {"HOME": "/root"}
    # A repository without deploy/provision.sh: running it would fail.
    assert provisioned(environ, repo=tmp_path)["ACCORD_OPA"] == "/cache/opa-v1.10.1/opa"
    with pytest.raises(InfrastructureError, match=r"provision\.sh"):
        provisioned({"HOME": "/root"}, repo=tmp_path)


def test_cluster_ids_have_kafkas_uuid_format() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_kafka_configuration_is_a_loopback_single_node_kraft_cluster(tmp_path: Path) -> None:
    node = KafkaNode(Path("/kafka"), tmp_path / "kafka", port=29092, controller_port=29093)
    node.write_config()
    config = read_properties(node.config_file)

    assert config["process.roles"] == "broker,controller"
    assert config["node.id"] == "1"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert config["log.dirs"] == str(node.log_dirs)
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert config[key] == "1"
    assert config["num.partitions"] == "3"
    assert config["auto.create.topics.enable"] == "true"
    assert config["group.initial.rebalance.delay.ms"] == "0"
    logging = read_properties(node.log4j_file)
    assert logging["appender.file.fileName"] == str(node.log_file)
    assert logging["rootLogger.level"] == "WARN"
    assert "${" not in node.config_file.read_text() + node.log4j_file.read_text()


def test_kafka_keeps_its_cluster_id_and_runs_with_a_modest_heap(tmp_path: Path) -> None:
    first = KafkaNode(Path("/kafka"), tmp_path, port=29092, controller_port=29093)
    again = KafkaNode(Path("/kafka"), tmp_path, port=39092, controller_port=39093)
    assert first.cluster_id == again.cluster_id
    command = first.command()
    assert command[-2:] == ["kafka.Kafka", str(first.config_file)]
    assert "-Xmx512m" in command
    assert command[command.index("-cp") + 1] == "/kafka/libs/*"


def test_opa_binds_loopback_and_logs_decisions(tmp_path: Path) -> None:
    opa = OpaServer(Path("/opa"), Path("/policies"), tmp_path, port=28181)
    command = opa.command()
    assert command[:3] == ["/opa", "run", "--server"]
    assert command[command.index("--addr") + 1] == "127.0.0.1:28181"
    assert command[command.index("--log-level") + 1] == "error"
    assert "decision_logs.console=true" in command
    assert command[-1] == "/policies"
    assert opa.url == "http://127.0.0.1:28181"


def test_postgres_listens_on_loopback_with_its_socket_in_its_data_dir(tmp_path: Path) -> None:
    cluster = PostgresCluster(Path("/pg/bin"), tmp_path, port=25432)
    command = cluster.command()
    assert command[0] == "/pg/bin/postgres"
    assert command[command.index("-k") + 1] == str(tmp_path)
    assert command[command.index("-p") + 1] == "25432"
    assert "listen_addresses=127.0.0.1" in command
    expected_identity = (
        [] if os.geteuid() != 0 else ["--reuid=postgres", "--regid=postgres", "--init-groups"]
    )
    assert cluster.identity_options() == expected_identity


def test_postgres_connection_strings_name_the_superuser_by_default(tmp_path: Path) -> None:
    cluster = PostgresCluster(Path("/pg/bin"), tmp_path, port=25432)
    url = urlsplit(cluster.url("accord"))
    assert (url.scheme, url.username, url.password) == ("postgresql+psycopg", "postgres", None)
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", 25432, "/accord")
    assert psycopg.conninfo.conninfo_to_dict(cluster.conninfo("accord", "auditor")) == {
        "host": "127.0.0.1",
        "port": "25432",
        "dbname": "accord",
        "user": "auditor",
    }


def test_infrastructure_from_environment_places_everything_under_its_data_dir(
    tmp_path: Path,
) -> None:
    environ = parse_exports(PROVISION_OUTPUT)
    infrastructure = Infrastructure.from_environment(tmp_path, Path("/policies"), environ)
    assert infrastructure.kafka.home == Path("/cache/kafka 4.1.2")
    assert infrastructure.kafka.data_dir == tmp_path / "kafka"
    assert infrastructure.opa.data_dir == tmp_path / "opa"
    assert infrastructure.postgres.data_dir == tmp_path / "postgres"
    ports = {
        infrastructure.kafka.port,
        infrastructure.kafka.controller_port,
        infrastructure.opa_port,
        infrastructure.postgres.port,
    }
    assert len(ports) == 4
    assert infrastructure.kafka_bootstrap == f"127.0.0.1:{infrastructure.kafka.port}"
    assert infrastructure.opa_url == f"http://127.0.0.1:{infrastructure.opa_port}"


class PythonChild(ChildServer):
    """A stand-in server: a Python one-liner that reports readiness by creating a file."""

    name = "stand-in"

    def __init__(self, data_dir: Path, script: str) -> None:
        super().__init__(data_dir)
        self.script = script

    @property
    def ready_file(self) -> Path:
        return self.data_dir / "ready"

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.script, str(self.ready_file)]

    def answers(self) -> bool:
        return self.ready_file.exists()


SERVES = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(120)"
IGNORES_SIGTERM = (
    "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, "
    "signal.SIG_IGN); pathlib.Path(sys.argv[1]).touch(); time.sleep(120)"
)
FAILS = "import sys; print('cannot bind'); sys.exit(3)"


def test_a_child_is_started_waited_for_and_stopped(tmp_path: Path) -> None:
    child = PythonChild(tmp_path, SERVES)
    child.start()
    child.wait_ready(30)
    assert child.running
    child.stop()
    assert not child.running
    assert child.process is not None and child.process.returncode == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    child = PythonChild(tmp_path, IGNORES_SIGTERM)
    child.start()
    child.wait_ready(30)
    child.stop(timeout=0.5)
    assert child.process is not None and child.process.returncode == -signal.SIGKILL


def test_a_child_that_exits_during_start_up_is_reported_with_its_output(tmp_path: Path) -> None:
    child = PythonChild(tmp_path, FAILS)
    child.start()
    with pytest.raises(InfrastructureError, match=r"(?s)exit code 3.*cannot bind"):
        child.wait_ready(30)


def test_a_killed_child_can_be_started_again(tmp_path: Path) -> None:
    child = PythonChild(tmp_path, SERVES)
    child.start()
    child.wait_ready(30)
    first = child.pid
    child.kill()
    assert not child.running
    child.ready_file.unlink()
    child.start()
    child.wait_ready(30)
    assert child.pid not in (None, first)
    child.stop()


def test_test_infrastructure_never_takes_the_local_runs_ports(tmp_path: Path) -> None:
    """`make run` and `make test` coexist: a test session may start first, and then must not
    have taken Kafka's 9092/9093 or OPA's 8181, even while they are free."""
    environ = parse_exports(PROVISION_OUTPUT)
    for attempt in range(20):
        infrastructure = Infrastructure.from_environment(tmp_path / str(attempt), None, environ)
        taken = {
            infrastructure.kafka.port,
            infrastructure.kafka.controller_port,
            infrastructure.opa_port,
        }
        assert not taken & {9092, 9093, 8181}
