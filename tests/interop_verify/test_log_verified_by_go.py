"""Issue 20 item 7: the audit log is verified by an independent implementation. A real audit
service process on PostgreSQL serves its signed checkpoint and RFC 6962 proofs over HTTP; a Go
program built from transparency-dev's `merkle` and `formats` and `golang.org/x/mod/sumdb/note`
(tests/interop_verify/goverify) checks the signature, the inclusion of chosen records and the
consistency of two checkpoints, and rejects proofs, entries and checkpoints tampered with on
the way."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from accord_audit.checkpoint import generate_signing_key
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.testing import accepted, submitted, tell

from tests.interop_verify.goverify_build import goverify_binary
from tests.interop_verify.servers import wait_ready

pytestmark = pytest.mark.integration

ORIGIN = "accord.test/interop-audit-log"


@dataclass
class AuditUnderTest:
    url: str
    vkey: str
    token: str
    feed: Callable[[int], list[str]]  # appends records for n new cases, returns their ids
    size: Callable[[], int]


@pytest.fixture(scope="module")
def audit(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import accord_audit.main as audit_main
    from accord_audit.config import AuditSettings
    from accord_platform.infra import free_port

    work = tmp_path_factory.mktemp("audit-go")
    _, jwks = ensure_dev_keys(work / "keys")
    signer = generate_signing_key(ORIGIN)
    key_file = work / "audit-log.key"
    key_file.write_text(signer.signer_key + "\n")
    database = "audit_go_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    port = free_port()
    env = {
        **os.environ,
        "ACCORD_PORT": str(port),
        "ACCORD_DATABASE_URL": infrastructure.postgres.url(database),
        "ACCORD_OPA_URL": infrastructure.opa_url,
        "ACCORD_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "ACCORD_JWKS_PATH": str(jwks),
        "ACCORD_DATA_DIR": str(work / "data"),
        "ACCORD_AUDIT_SIGNING_KEY": str(key_file),
        "ACCORD_AUDIT_ORIGIN": ORIGIN,
    }
    exe = Path(sys.executable).parent / "accord-audit"
    process = subprocess.Popen([str(exe), "api"], env=env, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        # The records come through the audit service's own inbox, as its consumer would take
        # them off Kafka: the same application, store and signing key as the process serving.
        settings = AuditSettings(
            service="audit",
            database_url=env["ACCORD_DATABASE_URL"],
            opa_url=infrastructure.opa_url,
            kafka_bootstrap=infrastructure.kafka_bootstrap,
            jwks_path=jwks,
            data_dir=work / "data",
            audit_signing_key=str(key_file),
            audit_origin=ORIGIN,
        )
        runtime = audit_main.make_runtime(settings)

        def feed(cases: int) -> list[str]:
            ids = [str(uuid.uuid4()) for _ in range(cases)]
            for case in ids:
                tell(runtime, submitted(case), accepted(case))
            return ids

        yield AuditUnderTest(
            url=url,
            vkey=signer.verifier.vkey,
            token=mint(work / "keys", agency="audit", role="privacy_officer"),
            feed=feed,
            size=runtime.app.store.size,
        )
        runtime.app.close()
    finally:
        process.terminate()
        process.wait(30)


def goverify(audit: AuditUnderTest, *args: str, url: str | None = None) -> Any:
    done = subprocess.run(
        [
            str(goverify_binary()),
            "-log",
            url or audit.url,
            "-origin",
            ORIGIN,
            "-vkey",
            audit.vkey,
            *args,
        ],
        env={**os.environ, "ACCORD_TOKEN": audit.token},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done


def verified(audit: AuditUnderTest, *args: str, url: str | None = None) -> dict[str, Any]:
    done = goverify(audit, *args, url=url)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def refused(audit: AuditUnderTest, *args: str, url: str) -> str:
    done = goverify(audit, *args, url=url)
    assert done.returncode == 1, done.stdout
    assert "FAILED" in done.stderr
    return done.stderr


def test_checkpoint_inclusion_and_consistency_verify_independently(
    audit: AuditUnderTest, tmp_path: Path
) -> None:
    audit.feed(3)
    first_size = audit.size()
    saved = tmp_path / "first.checkpoint"
    first = verified(audit, "-index", "0", "-index", str(first_size - 1), "-save", str(saved))
    assert first["checkpoint"]["origin"] == ORIGIN
    assert first["checkpoint"]["size"] >= first_size
    assert [i["index"] for i in first["inclusion"]] == [0, first_size - 1]

    audit.feed(4)
    second = verified(audit, "-since", str(saved), "-index", str(first_size + 2))
    assert second["consistency"] == {
        "from": first["checkpoint"]["size"],
        "to": second["checkpoint"]["size"],
    }
    assert second["checkpoint"]["size"] > first["checkpoint"]["size"]


def test_the_leaf_the_go_program_checks_is_the_record_we_wrote(audit: AuditUnderTest) -> None:
    """The leaf is SHA-256(0x00 || canonical JSON of the record) (RFC 6962 §2.1): the entry
    the service serves is the record of the event it took in, and its hash is the one the Go
    program proved included."""
    (case,) = audit.feed(1)
    size = audit.size()
    headers = {"Authorization": f"Bearer {audit.token}"}
    entry = httpx.get(f"{audit.url}/entries/{size - 1}/canonical", headers=headers)
    assert entry.status_code == 200, entry.text
    record = json.loads(entry.content)
    assert (record["case_id"], record["kind"], record["type"]) == (
        case,
        "event",
        accepted(case).type,  # the last event fed for the case
    )
    report = verified(audit, "-index", str(size - 1))
    leaf = base64.b64encode(hashlib.sha256(b"\x00" + entry.content).digest()).decode()
    assert report["inclusion"] == [{"index": size - 1, "leaf_hash": leaf}]


# --- a log (or a network) that lies -----------------------------------------------------------

Tamper = Callable[[str, bytes], bytes]


@pytest.fixture
def tampering(audit: AuditUnderTest) -> Iterator[Callable[[Tamper], str]]:
    """A proxy in front of the audit service that rewrites answers: what a verifier sees from
    a compromised log or a man in the middle."""
    servers: list[ThreadingHTTPServer] = []

    def start(tamper: Tamper) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream = httpx.get(
                    audit.url + self.path,
                    headers={"Authorization": self.headers.get("Authorization", "")},
                )
                body = tamper(self.path, upstream.content)
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("content-type", ""))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def flip_first_hash(body: bytes) -> bytes:
    proof = json.loads(body)
    first = bytearray(base64.b64decode(proof["hashes"][0]))
    first[0] ^= 0x01
    proof["hashes"][0] = base64.b64encode(bytes(first)).decode()
    return json.dumps(proof).encode()


def test_a_tampered_inclusion_proof_is_rejected(
    audit: AuditUnderTest, tampering: Callable[[Tamper], str]
) -> None:
    audit.feed(2)
    index = str(audit.size() - 2)
    verified(audit, "-index", index)  # the honest answer passes
    url = tampering(
        lambda path, body: flip_first_hash(body) if path.startswith("/proofs/inclusion") else body
    )
    assert "inclusion proof" in refused(audit, "-index", index, url=url)


def test_a_tampered_consistency_proof_is_rejected(
    audit: AuditUnderTest, tampering: Callable[[Tamper], str], tmp_path: Path
) -> None:
    audit.feed(1)
    saved = tmp_path / "old.checkpoint"
    verified(audit, "-save", str(saved))
    audit.feed(3)
    verified(audit, "-since", str(saved))
    url = tampering(
        lambda path, body: flip_first_hash(body) if path.startswith("/proofs/consistency") else body
    )
    assert "consistency proof" in refused(audit, "-since", str(saved), url=url)


def test_a_rewritten_entry_is_rejected(
    audit: AuditUnderTest, tampering: Callable[[Tamper], str]
) -> None:
    audit.feed(1)
    index = str(audit.size() - 1)

    def rewrite(path: str, body: bytes) -> bytes:
        if path.endswith("/canonical"):
            return body.replace(b'"kind":"event"', b'"kind":"evenT"')
        return body

    assert "leaf hash" in refused(audit, "-index", index, url=tampering(rewrite))


def test_a_checkpoint_with_a_forged_root_is_rejected(
    audit: AuditUnderTest, tampering: Callable[[Tamper], str]
) -> None:
    audit.feed(1)

    def forge(path: str, body: bytes) -> bytes:
        if path != "/checkpoint":
            return body
        origin, size, root, rest = body.split(b"\n", 3)
        forged = bytearray(base64.b64decode(root))
        forged[-1] ^= 0x01
        return b"\n".join([origin, size, base64.b64encode(bytes(forged)), rest])

    assert "checkpoint" in refused(audit, url=tampering(forge))


def test_a_checkpoint_signed_by_another_key_is_rejected(
    audit: AuditUnderTest, tampering: Callable[[Tamper], str]
) -> None:
    from accord_audit.checkpoint import Checkpoint, read_checkpoint_unverified, sign_checkpoint

    audit.feed(1)
    impostor = generate_signing_key(ORIGIN)  # same name, another key

    def resign(path: str, body: bytes) -> bytes:
        if path != "/checkpoint":
            return body
        checkpoint: Checkpoint = read_checkpoint_unverified(body)
        return sign_checkpoint(checkpoint, impostor).encode()

    assert "checkpoint" in refused(audit, url=tampering(resign))


def test_accords_own_verifier_agrees_with_the_go_program(audit: AuditUnderTest) -> None:
    """The same answers through Accord's verifier (accord_audit.checkpoint and .merkle): it
    accepts what the Go program accepted and refuses the same flipped bit."""
    from accord_audit.checkpoint import NoteVerifier, open_checkpoint
    from accord_audit.errors import InvalidProof
    from accord_audit.merkle import leaf_hash, verify_consistency, verify_inclusion

    audit.feed(2)
    headers = {"Authorization": f"Bearer {audit.token}"}
    verifier = NoteVerifier.from_vkey(audit.vkey)
    first = open_checkpoint(httpx.get(f"{audit.url}/checkpoint", headers=headers).text, verifier)
    audit.feed(3)
    report = verified(audit, "-index", "1")
    latest = open_checkpoint(httpx.get(f"{audit.url}/checkpoint", headers=headers).text, verifier)
    assert (latest.size, base64.b64encode(latest.root_hash).decode()) == (
        report["checkpoint"]["size"],
        report["checkpoint"]["root"],
    )
    entry = httpx.get(f"{audit.url}/entries/1/canonical", headers=headers).content
    inclusion = httpx.get(
        f"{audit.url}/proofs/inclusion",
        params={"index": 1, "tree_size": latest.size},
        headers=headers,
    ).json()
    path = [base64.b64decode(h) for h in inclusion["hashes"]]
    verify_inclusion(leaf_hash(entry), 1, latest.size, path, latest.root_hash)
    consistency = httpx.get(
        f"{audit.url}/proofs/consistency",
        params={"first": first.size, "second": latest.size},
        headers=headers,
    ).json()
    hashes = [base64.b64decode(h) for h in consistency["hashes"]]
    verify_consistency(first.size, latest.size, hashes, first.root_hash, latest.root_hash)
    flipped = bytes([path[0][0] ^ 0x01]) + path[0][1:]
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf_hash(entry), 1, latest.size, [flipped, *path[1:]], latest.root_hash)
