"""The Helm chart in deploy/helm/accord (issue 19, item 2).

`helm lint` and `helm template` run with the pinned Helm (deploy/versions.env, built by
deploy/provision.sh), and the rendered manifests are checked for what the issue asks of a
deployment: every component with probes, requests and limits, non-root read-only containers,
secrets only by reference, Kafka (Strimzi), PostgreSQL (CloudNativePG) and identity provider
wiring, PodDisruptionBudgets, and a default-deny NetworkPolicy that lets through exactly the
flows the architecture needs (checked by evaluating the policies' Kubernetes semantics).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "accord"
NAMESPACE = "accord"
RELEASE = "accord"
SERVICES = {
    "referral": 8101,
    "victim-support": 8102,
    "conference": 8103,
    "court": 8104,
    "audit": 8105,
    "reporting": 8106,
}
COMPONENTS = {*SERVICES, "portal", "opa"}

Manifest = dict[str, Any]


def _helm_binary() -> str:
    found = os.environ.get("ACCORD_HELM")
    if found and Path(found).is_file():
        return found
    done = subprocess.run(
        ["bash", str(REPO / "deploy" / "provision.sh")],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[1].startswith("ACCORD_HELM="):
            return words[1].split("=", 1)[1]
    raise AssertionError("deploy/provision.sh exported no ACCORD_HELM")


@pytest.fixture(scope="module")
def helm() -> str:
    return _helm_binary()


def _run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, check=False)


def render(helm: str, *sets: str) -> list[Manifest]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for item in sets:
        args += ["--set", item]
    done = _run(helm, *args)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def manifests(helm: str) -> list[Manifest]:
    return render(helm)


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: d
        for d in of_kind(manifests, "Deployment")
    }


def container(deployment: Manifest) -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(deployment: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container(deployment).get("env", [])}


# --- helm itself -------------------------------------------------------------------------------


SETTINGS_VARIANTS = [
    (),
    ("kafka.tls.enabled=true", "kafka.tls.caSecret=accord-kafka-cluster-ca-cert"),
    (
        "kafka.tls.enabled=true",
        "kafka.tls.caSecret=accord-kafka-cluster-ca-cert",
        "kafka.sasl.enabled=true",
        "kafka.sasl.userSecret=accord-services",
        "serviceMonitor.enabled=true",
        "portal.enabled=false",
    ),
]


@pytest.mark.parametrize("sets", SETTINGS_VARIANTS, ids=["default", "tls", "scram-no-portal"])
def test_helm_lint_passes_strictly(helm: str, sets: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for item in sets:
        args += ["--set", item]
    done = _run(helm, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def test_the_pinned_helm_is_the_one_provisioned(helm: str) -> None:
    pinned = dict(
        line.split("=", 1)
        for line in (REPO / "deploy" / "versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert f"helm-{pinned['HELM_VERSION']}" in helm


# --- the components ----------------------------------------------------------------------------


def test_every_service_the_portal_and_opa_are_deployed_with_a_service(
    manifests: list[Manifest],
) -> None:
    found = deployments(manifests)
    assert set(found) == COMPONENTS
    services = {
        s["metadata"]["labels"]["app.kubernetes.io/name"] for s in of_kind(manifests, "Service")
    }
    assert services == COMPONENTS
    for name, port in SERVICES.items():
        main = container(found[name])
        assert main["command"] == [f"accord-{name}", "all"]
        assert {"name": "http", "containerPort": port} in main["ports"]
        assert env_of(found[name])["ACCORD_PORT"]["value"] == str(port)
    assert container(found["portal"])["command"] == ["accord-portal"]


def test_probes_separate_liveness_from_readiness(manifests: list[Manifest]) -> None:
    for name, deployment in deployments(manifests).items():
        main = container(deployment)
        live = main["livenessProbe"]["httpGet"]["path"]
        ready = main["readinessProbe"]["httpGet"]["path"]
        assert main["startupProbe"]["httpGet"]["path"] == live
        if name in SERVICES:
            assert (live, ready) == ("/health/live", "/health/ready")
        elif name == "portal":
            assert (live, ready) == ("/health/live", "/health/live")
        else:
            assert live.startswith("/health") and ready.startswith("/health")
        assert main["livenessProbe"]["httpGet"]["port"] == "http"


def test_every_container_has_cpu_and_memory_requests_and_limits(manifests: list[Manifest]) -> None:
    for deployment in deployments(manifests).values():
        resources = container(deployment)["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) == {"cpu", "memory"}, deployment["metadata"]["name"]


def test_containers_run_as_non_root_on_a_read_only_root_with_tmp_in_memory(
    manifests: list[Manifest],
) -> None:
    for deployment in deployments(manifests).values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        main = container(deployment)
        context = main["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        tmp = next(m for m in main["volumeMounts"] if m["mountPath"] == "/tmp")
        volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
        assert "emptyDir" in volume
        # Everything else mounted is read-only configuration or secrets.
        assert all(m.get("readOnly") for m in main["volumeMounts"] if m["mountPath"] != "/tmp")


SECRET_WORDS = ("SECRET", "PASSWORD", "DATABASE_URL", "ENCRYPTION_KEY")


def test_no_secret_is_rendered_every_credential_is_a_reference(manifests: list[Manifest]) -> None:
    assert of_kind(manifests, "Secret") == []
    for deployment in deployments(manifests).values():
        for name, entry in env_of(deployment).items():
            if any(word in name for word in SECRET_WORDS):
                assert "value" not in entry, name
                assert "secretKeyRef" in entry["valueFrom"], name
    portal = env_of(deployments(manifests)["portal"])
    refs = {
        name: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for name, e in portal.items()
        if "valueFrom" in e
    }
    assert refs["ACCORD_PORTAL_OIDC_CLIENT_SECRET"] == ("accord-portal-oidc", "client-secret")
    assert refs["ACCORD_PORTAL_SESSION_ENCRYPTION_KEY"] == ("accord-portal-session", "key")
    assert {
        "ACCORD_PORTAL_VICTIM_OIDC_CLIENT_SECRET",
        "ACCORD_PORTAL_ENROLMENT_CLIENT_SECRET",
    } <= set(refs)


def test_the_audit_signing_key_is_a_mounted_secret(manifests: list[Manifest]) -> None:
    audit = deployments(manifests)["audit"]
    key_path = env_of(audit)["ACCORD_AUDIT_SIGNING_KEY"]["value"]
    mount = next(
        m for m in container(audit)["volumeMounts"] if key_path.startswith(m["mountPath"] + "/")
    )
    volume = next(
        v for v in audit["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    assert volume["secret"]["secretName"] == "accord-audit-signing-key"
    assert key_path.endswith("/signing-key")
    for name in set(SERVICES) - {"audit"}:
        assert "ACCORD_AUDIT_SIGNING_KEY" not in env_of(deployments(manifests)[name])


def test_postgres_follows_cloudnativepg_one_schema_or_database_per_service(helm: str) -> None:
    default = deployments(render(helm))
    for name in SERVICES:
        ref = env_of(default[name])["ACCORD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "accord-db-app", "key": "uri"}
        assert env_of(default[name])["ACCORD_PERSISTENCE"]["value"] == "postgres"
    own = deployments(
        render(helm, "postgres.perService.audit.secret=accord-audit-db-app", "postgres.cluster=pg")
    )
    assert env_of(own["audit"])["ACCORD_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "accord-audit-db-app",
        "key": "uri",
    }
    assert env_of(own["court"])["ACCORD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == (
        "pg-app"
    )


def test_kafka_follows_strimzi_with_optional_tls_and_scram(helm: str) -> None:
    plain = env_of(deployments(render(helm))["referral"])
    assert plain["ACCORD_KAFKA_BOOTSTRAP"]["value"] == "accord-kafka-kafka-bootstrap:9092"
    assert plain["ACCORD_KAFKA_SECURITY_PROTOCOL"]["value"] == "PLAINTEXT"
    elsewhere = env_of(
        deployments(render(helm, "kafka.cluster=events", "kafka.namespace=kafka"))["court"]
    )
    assert elsewhere["ACCORD_KAFKA_BOOTSTRAP"]["value"] == "events-kafka-bootstrap.kafka:9092"

    secured = deployments(render(helm, *SETTINGS_VARIANTS[2]))
    env = env_of(secured["conference"])
    assert env["ACCORD_KAFKA_BOOTSTRAP"]["value"] == "accord-kafka-kafka-bootstrap:9093"
    assert env["ACCORD_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["ACCORD_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["ACCORD_KAFKA_SASL_USERNAME"]["value"] == "accord-services"
    assert env["ACCORD_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "accord-services",
        "key": "password",
    }
    ca = env["ACCORD_KAFKA_CA_FILE"]["value"]
    mount = next(
        m for m in container(secured["conference"])["volumeMounts"] if ca.startswith(m["mountPath"])
    )
    volume = next(
        v
        for v in secured["conference"]["spec"]["template"]["spec"]["volumes"]
        if v["name"] == mount["name"]
    )
    assert volume["secret"]["secretName"] == "accord-kafka-cluster-ca-cert"


def test_the_settings_read_what_the_chart_sets_for_kafka() -> None:
    from accord_kernel.settings import ServiceSettings

    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="accord-services",
        kafka_sasl_password="from-the-secret",
    )
    options = settings.kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "accord-services"
    assert "ssl_context" in options
    assert ServiceSettings().kafka_client_options() == {"security_protocol": "PLAINTEXT"}
    with pytest.raises(ValueError, match="SASL"):
        ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT").kafka_client_options()


def test_the_identity_providers_issuers_become_the_trusted_issuers(helm: str) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for name, deployment in deployments(render(helm)).items():
        if name in SERVICES:
            issuers = json.loads(env_of(deployment)["ACCORD_TOKEN_ISSUERS"]["value"])
            assert issuers == values["identity"]["issuers"]
    one = deployments(
        render(
            helm,
            "identity.issuers[0].issuer=https://idp.example/realms/x",
            "identity.issuers[0].jwks_url=https://idp.example/realms/x/certs",
        )
    )
    assert json.loads(env_of(one["audit"])["ACCORD_TOKEN_ISSUERS"]["value"]) == [
        {"issuer": "https://idp.example/realms/x", "jwks_url": "https://idp.example/realms/x/certs"}
    ]


def test_opa_serves_the_repositorys_policies_at_their_data_paths(manifests: list[Manifest]) -> None:
    expected = {
        str(p.relative_to(REPO / "policies"))
        for p in (REPO / "policies").rglob("*")
        if p.suffix in {".rego", ".json"} and not p.name.endswith("_test.rego")
    }
    (config,) = of_kind(manifests, "ConfigMap")
    opa = deployments(manifests)["opa"]
    volume = next(v for v in opa["spec"]["template"]["spec"]["volumes"] if v["name"] == "policies")
    items = {i["key"]: i["path"] for i in volume["configMap"]["items"]}
    assert set(items.values()) == expected
    for key, path in items.items():
        assert config["data"][key] == (REPO / "policies" / path).read_text()
    main = container(opa)
    assert "/policies" in main["args"]
    assert {"mountPath": "/policies", "name": "policies", "readOnly": True} in main["volumeMounts"]
    # The services read the organisations' directory from the same ConfigMap as OPA.
    referral = env_of(deployments(manifests)["referral"])
    assert referral["ACCORD_ORGANISATIONS_FILE"]["value"].endswith("accord/organisations/data.json")
    assert referral["ACCORD_OPA_URL"]["value"] == "http://accord-opa:8181"


def test_every_component_has_a_disruption_budget(manifests: list[Manifest]) -> None:
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for name, deployment in deployments(manifests).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if _selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(matching) == 1, name
        assert matching[0]["spec"]["maxUnavailable"] == 1
        assert deployment["spec"]["replicas"] >= 2, name


def test_service_monitors_are_optional(helm: str, manifests: list[Manifest]) -> None:
    assert of_kind(manifests, "ServiceMonitor") == []
    monitors = of_kind(render(helm, "serviceMonitor.enabled=true"), "ServiceMonitor")
    assert {m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for m in monitors} == (
        set(SERVICES) | {"opa"}
    )
    assert all(m["spec"]["endpoints"][0]["path"] == "/metrics" for m in monitors)


def test_the_portal_is_reached_through_an_ingress(manifests: list[Manifest]) -> None:
    (ingress,) = of_kind(manifests, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "accord-portal"
    env = env_of(deployments(manifests)["portal"])
    for name, port in SERVICES.items():
        variable = f"ACCORD_PORTAL_{name.replace('-', '_').upper()}_URL"
        assert env[variable]["value"] == f"http://accord-{name}:{port}"


# --- network policies, evaluated ---------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    name: str
    labels: Mapping[str, str]
    namespace: str = NAMESPACE
    ports: Mapping[str, int] = field(default_factory=dict)


def _selects(match: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (match or {}).items())


def _namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def _peer_matches(peer: Manifest, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # in-cluster pods are not matched by the CIDR peers used here
    pods = peer.get("podSelector")
    namespaces = peer.get("namespaceSelector")
    if namespaces is None and pod.namespace != NAMESPACE:
        return False
    if namespaces is not None and not _selects(
        namespaces.get("matchLabels"), _namespace_labels(pod.namespace)
    ):
        return False
    return pods is None or _selects(pods.get("matchLabels"), pod.labels)


def _port_matches(ports: list[Manifest] | None, target: Pod, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        wanted = entry["port"]
        if (wanted == port) or (isinstance(wanted, str) and target.ports.get(wanted) == port):
            return True
    return False


def _policies_for(policies: list[Manifest], pod: Pod, kind: str) -> list[Manifest]:
    return [
        p
        for p in policies
        if pod.namespace == NAMESPACE
        and kind in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"].get("matchLabels"), pod.labels)
    ]


def allowed(policies: list[Manifest], source: Pod, target: Pod, port: int) -> bool:
    egress = _policies_for(policies, source, "Egress")
    out = not egress or any(
        any(_peer_matches(peer, target) for peer in rule.get("to", []))
        and _port_matches(rule.get("ports"), target, port)
        for policy in egress
        for rule in policy["spec"].get("egress", [])
    )
    ingress = _policies_for(policies, target, "Ingress")
    into = not ingress or any(
        any(_peer_matches(peer, source) for peer in rule.get("from", []))
        and _port_matches(rule.get("ports"), target, port)
        for policy in ingress
        for rule in policy["spec"].get("ingress", [])
    )
    return out and into


def accord_pods(manifests: list[Manifest]) -> dict[str, Pod]:
    pods = {}
    for name, deployment in deployments(manifests).items():
        main = container(deployment)
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        pods[name] = Pod(name, deployment["spec"]["template"]["metadata"]["labels"], ports=ports)
    return pods


KAFKA = Pod("kafka-broker", {"strimzi.io/cluster": "accord-kafka", "strimzi.io/kind": "Kafka"})
POSTGRES = Pod("postgres", {"cnpg.io/cluster": "accord-db", "cnpg.io/instanceRole": "primary"})
KEYCLOAK = Pod("keycloak", {"app": "keycloak"}, namespace="keycloak")
INGRESS = Pod("ingress-controller", {"app": "ingress-nginx"}, namespace="ingress-nginx")
PROMETHEUS = Pod("prometheus", {"app": "prometheus"}, namespace="monitoring")
DNS = Pod("coredns", {"k8s-app": "kube-dns"}, namespace="kube-system")
STRANGER = Pod("stranger", {"app": "something-else"}, namespace=NAMESPACE)
ELSEWHERE = Pod("elsewhere", {"app": "elsewhere"}, namespace="default")


def _flows(pods: Mapping[str, Pod]) -> Iterator[tuple[Pod, Pod, int, bool]]:
    """Every flow worth asking about, with whether the architecture needs it."""
    services = [pods[name] for name in SERVICES]
    portal, opa = pods["portal"], pods["opa"]
    for service in services:
        http = service.ports["http"]
        yield portal, service, http, True
        yield INGRESS, service, http, False
        yield STRANGER, service, http, False
        yield ELSEWHERE, service, http, False
        yield PROMETHEUS, service, http, True
        yield service, opa, 8181, True
        yield service, KAFKA, 9092, True
        yield service, POSTGRES, 5432, True
        yield service, KEYCLOAK, 8443, True
        yield service, DNS, 53, True
        yield service, ELSEWHERE, 443, False
        yield service, POSTGRES, 22, False
        for other in services:
            if other is not service:
                yield service, other, other.ports["http"], False
        yield service, portal, portal.ports["http"], False
    yield INGRESS, portal, portal.ports["http"], True
    yield PROMETHEUS, portal, portal.ports["http"], True
    yield PROMETHEUS, opa, 8181, True
    yield STRANGER, portal, portal.ports["http"], False
    yield ELSEWHERE, portal, portal.ports["http"], False
    yield portal, KEYCLOAK, 8443, True
    yield portal, POSTGRES, 5432, True
    yield portal, opa, 8181, False
    yield portal, KAFKA, 9092, False
    yield portal, ELSEWHERE, 443, False
    yield STRANGER, opa, 8181, False
    yield INGRESS, opa, 8181, False
    yield opa, KAFKA, 9092, False
    yield opa, POSTGRES, 5432, False
    yield opa, KEYCLOAK, 8443, False
    yield opa, ELSEWHERE, 443, False


def test_network_policy_denies_by_default_and_allows_exactly_the_needed_flows(
    manifests: list[Manifest],
) -> None:
    policies = of_kind(manifests, "NetworkPolicy")
    pods = accord_pods(manifests)
    deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert len(deny) == 1
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for pod in pods.values():
        assert _selects(deny[0]["spec"]["podSelector"]["matchLabels"], pod.labels), pod.name
    wrong = [
        f"{source.name} -> {target.name}:{port} should be {'allowed' if needed else 'denied'}"
        for source, target, port, needed in _flows(pods)
        if allowed(policies, source, target, port) != needed
    ]
    assert not wrong, "\n".join(wrong)


def test_network_policy_follows_kafka_and_postgres_into_their_namespaces(helm: str) -> None:
    manifests = render(
        helm,
        "kafka.namespace=kafka",
        "postgres.namespace=databases",
        "identity.egress.cidrs[0]=203.0.113.0/24",
    )
    policies = of_kind(manifests, "NetworkPolicy")
    referral = accord_pods(manifests)["referral"]
    broker = Pod(KAFKA.name, KAFKA.labels, namespace="kafka")
    database = Pod(POSTGRES.name, POSTGRES.labels, namespace="databases")
    assert allowed(policies, referral, broker, 9092)
    assert allowed(policies, referral, database, 5432)
    assert not allowed(policies, referral, KAFKA, 9092)  # not the same labels in another place
    services_policy = next(p for p in policies if p["metadata"]["name"] == "accord-services")
    cidrs = [
        peer["ipBlock"]["cidr"]
        for rule in services_policy["spec"]["egress"]
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert cidrs == ["203.0.113.0/24"]
