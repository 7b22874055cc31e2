"""Issue 9's end-to-end journey on the running platform: every service as its own process
(`accord-<service> all`, as `make run` starts them) on real Kafka, OPA and PostgreSQL. The
demo walks one case through the whole journey as each agency; then the audit log verifies
and shows the reads made along the way."""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_platform.demo import walk
from accord_platform.infra import free_port
from accord_platform.services import SERVICES, ServiceSpec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from rich.console import Console

pytestmark = pytest.mark.integration


class TraceReceiver:
    """A local OTLP/HTTP receiver: what a collector would be given, decoded with the OTLP
    protobuf definitions (not with anything of Accord's)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        self.spans.append(
                            {
                                "service": attributes.get("service.name"),
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                            }
                        )

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]


@pytest.fixture
def running_services(infrastructure: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    # Free ports, never the local run's: a running platform (or another session's test) may
    # hold 8101-8105.
    services = [replace(s, port=free_port()) for s in SERVICES]
    pg = infrastructure.postgres
    database = "e2e_" + uuid.uuid4().hex[:8]
    pg.create_database(database)
    _, jwks = ensure_dev_keys(tmp_path / "dev-keys")
    bin_dir = Path(sys.executable).parent
    processes: dict[str, tuple[subprocess.Popen[bytes], Any]] = {}
    traces = TraceReceiver()

    def start(name: str) -> None:
        spec = next(s for s in services if s.name == name)
        env = {
            **os.environ,
            "ACCORD_PORT": str(spec.port),
            "ACCORD_DATA_DIR": str(tmp_path),
            "ACCORD_DATABASE_URL": pg.url(database),
            "ACCORD_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
            "ACCORD_OPA_URL": infrastructure.opa_url,
            "ACCORD_JWKS_PATH": str(jwks),
            "ACCORD_CONSUMER_GROUP": f"{spec.name}-{database}",
            "ACCORD_OTLP_ENDPOINT": traces.url,
            "ACCORD_LOG_FORMAT": "json",
            # Spans leave every 200 ms rather than every 5 s, so the test need not wait.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        log = open(tmp_path / f"{spec.name}.log", "a")  # noqa: SIM115 - closed below
        processes[name] = (
            subprocess.Popen(
                [str(bin_dir / spec.command), "all"], env=env, stdout=log, stderr=subprocess.STDOUT
            ),
            log,
        )
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=2) as client:
            while True:
                try:
                    if client.get(spec.url + "/health/ready").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{name} did not become ready"
                time.sleep(0.3)

    def kill(name: str) -> None:
        process, log = processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        log.close()

    try:
        for s in SERVICES:
            start(s.name)
        yield {
            "keys": tmp_path / "dev-keys",
            "db_url": pg.url(database),
            "dir": tmp_path,
            "start": start,
            "kill": kill,
            "services": services,
            "traces": traces,
        }
    finally:
        traces.server.shutdown()
        for process, _ in processes.values():
            process.send_signal(signal.SIGTERM)
        for process, log in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def test_the_whole_journey_on_separate_processes(running_services: dict[str, Any]) -> None:
    console = Console(record=True, width=140)
    services: list[ServiceSpec] = running_services["services"]
    code = walk("http://127.0.0.1", running_services["keys"], console, services)
    transcript = console.export_text()
    print(transcript)
    assert code == 0, transcript
    # the summary row (ok | failed | skipped): nothing failed and nothing was skipped
    assert re.search(r"│\s*\d+\s*│\s*0\s*│\s*0\s*│", transcript), transcript

    keys = running_services["keys"]
    auditor = {"Authorization": "Bearer " + mint(keys, agency="audit", role="privacy_officer")}
    audit = next(s for s in services if s.name == "audit").url
    with httpx.Client(timeout=10) as client:
        vkey = client.get(audit + "/verifier-key", headers=auditor).text.strip()
        checkpoint = client.get(audit + "/checkpoint", headers=auditor)
        assert checkpoint.status_code == 200
    saved = running_services["dir"] / "checkpoint.txt"
    saved.write_text(checkpoint.text)
    verify = subprocess.run(
        [
            str(Path(sys.executable).parent / "accord-audit-verify"),
            "--db-url",
            running_services["db_url"],
            "--public-key",
            vkey,
            "--checkpoint",
            str(saved),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_service_killed_mid_processing_loses_and_duplicates_nothing(
    running_services: dict[str, Any],
) -> None:
    """Checked: referrals submitted while the RJ provider's process is SIGKILLed mid-stream
    all appear in its intake exactly once after it is started again; nobody does anything
    but start it."""
    from accord_referral.examples import referral

    keys = running_services["keys"]
    police = {"Authorization": "Bearer " + mint(keys, agency="police", role="officer")}
    coordinator = {
        "Authorization": "Bearer " + mint(keys, agency="rj_provider", role="coordinator")
    }
    services: list[ServiceSpec] = running_services["services"]
    referral_url = next(s for s in services if s.name == "referral").url
    conference_url = next(s for s in services if s.name == "conference").url
    case_ids = []
    with httpx.Client(timeout=10) as client:
        for n in range(12):
            r = client.post(referral_url + "/referrals", json=referral(), headers=police)
            assert r.status_code == 201, r.text
            case_ids.append(r.json()["case_id"])
            if n == 5:
                running_services["kill"]("conference")  # in the middle of the stream
        running_services["start"]("conference")
        deadline = time.monotonic() + 60
        while True:
            listed = [
                row["case_id"]
                for row in client.get(
                    conference_url + "/intake", params={"limit": 500}, headers=coordinator
                ).json()
            ]
            if all(c in listed for c in case_ids) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    assert all(listed.count(c) == 1 for c in case_ids), listed


def _until(check: Any, what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _metric(text: str, name: str, **labels: str) -> float | None:
    """A sample's value from the Prometheus text format, parsed with prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_one_referral_is_one_trace_and_metrics_and_logs_tell_the_engineer_what_happened(
    running_services: dict[str, Any],
) -> None:
    """Issue 19 item 4. The officer's request arrives with a W3C traceparent (as from a police
    system that traces its own calls); every service that acts on that referral must report
    its spans in that same trace, each span's parent in the trace; /metrics on every service
    counts what happened per route, with no case id anywhere; every log line is JSON."""
    from accord_referral.examples import referral

    keys = running_services["keys"]
    traces: TraceReceiver = running_services["traces"]
    services: list[ServiceSpec] = running_services["services"]
    url = {s.name: s.url for s in services}
    police = {"Authorization": "Bearer " + mint(keys, agency="police", role="officer")}
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with httpx.Client(timeout=10) as client:
        r = client.post(
            url["referral"] + "/referrals",
            json=referral(),
            headers={**police, "traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]

        # Every service subscribes to the referral topic and acts on a submitted referral
        # (victim services opens the victim's side, the RJ provider its intake, the court and
        # audit record the case's context and the change): SPEC 2 and 3.
        expected = {f"accord-{name}" for name in url}

        def whole_trace() -> list[dict[str, Any]] | None:
            found = traces.trace(trace_id)
            return found if expected <= {s["service"] for s in found} else None

        spans = _until(
            whole_trace, f"spans of every service in trace {trace_id}: {traces.trace(trace_id)}"
        )
        ids = {s["span_id"] for s in spans} | {caller_span}
        orphans = [s for s in spans if s["parent_span_id"] not in ids]
        assert not orphans, orphans
        kinds = {(s["service"], s["name"].split(" ")[0]) for s in spans}
        assert ("accord-referral", "publish") in kinds
        assert ("accord-audit", "process") in kinds

        # Metrics: per route template, never per URL or case.
        pages = {name: client.get(base + "/metrics").text for name, base in url.items()}
        for name, page in pages.items():
            assert case_id not in page, f"{name}: a case id in metrics"
            assert _metric(page, "accord_outbox_lag_events") is not None, name
            for family in ("accord_policy_decisions", "accord_consumer_lag_messages"):
                assert f"# TYPE {family}" in page, (name, family)
        submitted = _metric(
            pages["referral"],
            "accord_http_requests_total",
            handler="/referrals",
            method="POST",
            status="201",
        )
        assert submitted == 1.0, pages["referral"]
        assert (
            _metric(pages["referral"], "accord_policy_decisions_total", result="permit") or 0
        ) >= 1
        assert _metric(pages["victim-support"], "accord_break_glass_active_grants") == 0.0
        assert (_metric(pages["audit"], "accord_audit_tree_size") or 0) >= 1
        assert _metric(pages["audit"], "accord_audit_checkpoint_age_seconds") is not None
        _until(
            lambda: all(
                _metric(client.get(base + "/metrics").text, "accord_outbox_lag_events") == 0.0
                for base in url.values()
            ),
            "every outbox drained",
        )
        for name, base in url.items():
            ready = client.get(base + "/health/ready").json()
            assert ready == {
                "status": "ok",
                "checks": {"policy": True, "store": True, "kafka": True},
            }, name

    # Logs: one JSON object per line, naming the service and the level.
    for name in url:
        lines = [
            line
            for line in (running_services["dir"] / f"{name}.log").read_text().splitlines()
            if line.strip()
        ]
        assert lines, name
        for line in lines:
            record = json.loads(line)
            assert record["service"] == name and record["level"] and record["event"], line
