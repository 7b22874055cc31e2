"""Court, privacy-officer and emergency-access screens on fake services: codes become words,
withheld agreement text says why, overdue items stand out, forms check their input and send
nothing when it is wrong, versions travel as If-Match, and the portal's own log verifier agrees
with the audit service's prover (and catches a forged signature, a rewritten log and a tampered
entry)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from accord_audit import merkle
from accord_audit.canonical import canonical_json as audit_canonical
from accord_audit.checkpoint import Checkpoint as AuditCheckpoint
from accord_audit.checkpoint import generate_signing_key, sign_checkpoint
from accord_portal import court, logproof, words
from fastapi.testclient import TestClient

from .conftest import problem, signed_in_as

CASE = "5d1c2f3e-0a4b-4c5d-8e6f-7a8b9c0d1e2f"
GRANT = "7e1c2f3e-0a4b-4c5d-8e6f-7a8b9c0d1e2f"
TODAY = datetime.now(UTC).date()
PAST = (TODAY - timedelta(days=3)).isoformat()
LATER = (TODAY + timedelta(days=30)).isoformat()


def court_doc(text: bool | None = False, decisions: list[dict[str, Any]] | None = None) -> Any:
    doc: dict[str, Any] = {
        "court_reference": "T2026/0042",
        "case_id": CASE,
        "version": 3,
        "decisions": decisions or [],
        "items_status": [
            {"item_id": "a", "status": "open", "due_date": PAST, "completed_at": None},
            {"item_id": "b", "status": "completed", "due_date": PAST, "completed_at": PAST},
            {"item_id": "c", "status": "open", "due_date": LATER, "completed_at": None},
        ],
    }
    if text is None:
        doc["items_text"] = None
    elif text:
        doc["items_text"] = [{"item_id": i, "what": f"ITEM-TEXT-{i}"} for i in "abc"]
    return doc


class Fake:
    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        key = f"{request.method} {path}"
        answer = self.answers.get(key)
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        if answer is None:
            return problem(404, "not_found")
        if isinstance(answer, str):
            return httpx.Response(200, text=answer)
        return httpx.Response(200, json=answer)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


def client_for(portal_factory: Any, fake: Fake, agency: str, role: str, org: str) -> TestClient:
    client = TestClient(portal_factory(fake), follow_redirects=False)
    session = signed_in_as(client, agency, role, org)
    client.csrf = session.csrf_token  # type: ignore[attr-defined]
    return client


def post(client: TestClient, path: str, **form: str) -> httpx.Response:
    return client.post(path, data={"csrf_token": client.csrf, **form})  # type: ignore[attr-defined]


# --- court ---------------------------------------------------------------------------------


def test_items_view_marks_overdue_and_withholds_text_with_the_reason() -> None:
    view = court.items_view(court_doc(text=False), TODAY)
    assert [r["overdue"] for r in view["rows"]] == [True, False, False]
    assert (view["total"], view["completed"], view["overdue"]) == (3, 1, 1)
    assert all(r["what"]["withheld"] for r in view["rows"])
    assert view["text_reason"] == words.COURT_TEXT_WITHHELD
    assert court.items_view(court_doc(text=None), TODAY)["text_reason"] == (
        words.COURT_TEXT_NOT_RECEIVED
    )
    shown = court.items_view(court_doc(text=True), TODAY)
    assert [r["what"]["value"] for r in shown["rows"]] == [
        "ITEM-TEXT-a",
        "ITEM-TEXT-b",
        "ITEM-TEXT-c",
    ]


def test_review_status_stays_open_after_an_adjournment() -> None:
    adjourned = [{"decision": "review_adjourned", "at": "2026-03-01T10:00:00+00:00"}]
    assert court.review_status(court_doc(decisions=adjourned)) == "awaiting_review"
    accepted = [*adjourned, {"decision": "compliance_accepted", "at": "2026-03-02T10:00:00Z"}]
    assert court.review_status(court_doc(decisions=accepted)) == "compliance_accepted"


def test_court_pages_in_words_with_withheld_text(portal_factory: Any) -> None:
    fake = Fake(**{"GET /court-cases": [court_doc()]})
    client = client_for(portal_factory, fake, "court", "clerk", "north-court")
    listing = client.get("/court")
    assert listing.status_code == 200
    assert "T2026/0042" in listing.text and "Awaiting review" in listing.text
    assert "1 overdue" in listing.text and "awaiting_review" not in listing.text
    page = client.get(f"/court/cases/{CASE}")
    assert page.status_code == 200
    assert "Withheld" in page.text and words.COURT_TEXT_WITHHELD in page.text
    assert "ITEM-TEXT" not in page.text
    assert 'govuk-tag--red">Overdue' in page.text
    assert fake.sent("GET", "/court-cases")[-1].url.params["case_id"] == CASE


def test_another_courts_case_is_not_found(portal_factory: Any) -> None:
    fake = Fake(**{"GET /court-cases": []})
    client = client_for(portal_factory, fake, "court", "clerk", "south-court")
    page = client.get(f"/court/cases/{CASE}")
    assert page.status_code == 404
    assert "T2026/0042" not in page.text


def test_decision_checks_answers_then_sends_with_the_version(portal_factory: Any) -> None:
    fake = Fake(
        **{
            "GET /court-cases": [court_doc(text=True)],
            "POST /court-cases/T2026/0042/decisions": httpx.Response(204),
        }
    )
    client = client_for(portal_factory, fake, "court", "judge", "north-court")
    form = client.get(f"/court/cases/{CASE}/decision")
    assert form.status_code == 200 and 'value="3"' in form.text
    empty = post(client, f"/court/cases/{CASE}/decision/check", court_reference="T2026/0042")
    assert empty.status_code == 400
    assert 'href="#decision"' in empty.text and "Select the review decision" in empty.text
    check = post(
        client,
        f"/court/cases/{CASE}/decision/check",
        court_reference="T2026/0042",
        decision="compliance_accepted",
        notes="All kept",
        expected_version="3",
    )
    assert check.status_code == 200 and "Compliance accepted" in check.text
    assert "This decision closes the review" in check.text
    assert fake.sent("POST", "/court-cases/T2026/0042/decisions") == []
    done = post(
        client,
        f"/court/cases/{CASE}/decision",
        court_reference="T2026/0042",
        decision="compliance_accepted",
        notes="All kept",
        expected_version="3",
        idempotency_key="k1",
    )
    assert done.status_code == 303
    (sent,) = fake.sent("POST", "/court-cases/T2026/0042/decisions")
    assert sent.headers["If-Match"] == '"3"'
    assert sent.headers["Idempotency-Key"] == "portal-k1"
    assert json.loads(sent.content) == {"decision": "compliance_accepted", "notes": "All kept"}


def test_a_stale_decision_is_the_changed_meanwhile_page(portal_factory: Any) -> None:
    fake = Fake(
        **{
            "GET /court-cases": [court_doc()],
            "POST /court-cases/T2026/0042/decisions": problem(412, "version_conflict"),
        }
    )
    client = client_for(portal_factory, fake, "court", "clerk", "north-court")
    page = post(
        client,
        f"/court/cases/{CASE}/decision",
        court_reference="T2026/0042",
        decision="review_adjourned",
        expected_version="2",
    )
    assert page.status_code == 409


def test_a_decided_review_offers_no_decision(portal_factory: Any) -> None:
    decided = [{"decision": "returned_for_sentencing", "at": "2026-03-02T10:00:00+00:00"}]
    fake = Fake(**{"GET /court-cases": [court_doc(decisions=decided)]})
    client = client_for(portal_factory, fake, "court", "judge", "north-court")
    page = client.get(f"/court/cases/{CASE}")
    assert "Returned for sentencing" in page.text and "Record a review decision" not in page.text
    assert client.get(f"/court/cases/{CASE}/decision").status_code == 303


# --- log verification ----------------------------------------------------------------------


def audit_log(count: int) -> tuple[list[bytes], merkle.InMemoryTree]:
    entries = [
        audit_canonical({"kind": "event", "case_id": CASE, "type": "x", "n": n})
        for n in range(count)
    ]
    return entries, merkle.InMemoryTree.from_leaves(entries)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_inclusion_and_consistency_agree_with_the_audit_services_prover(size: int) -> None:
    entries, tree = audit_log(size)
    root = tree.root()
    for index in range(size):
        proof = merkle.inclusion_proof(tree, index, size)
        logproof.verify_inclusion(logproof.leaf_hash(entries[index]), index, size, proof, root)
        if proof:
            with pytest.raises(logproof.ProofFailed):
                bad = [bytes(32), *proof[1:]]
                logproof.verify_inclusion(
                    logproof.leaf_hash(entries[index]), index, size, bad, root
                )
    for first in range(1, size + 1):
        old = merkle.root_hash(tree, first)
        proof = merkle.consistency_proof(tree, first, size)
        logproof.verify_consistency(first, size, old, root, proof)
        if first < size:
            with pytest.raises(logproof.ProofFailed):
                logproof.verify_consistency(first, size, bytes(32), root, proof)


def test_checkpoint_signature_is_checked_with_the_verifier_key() -> None:
    signer = generate_signing_key("accord.example/audit")
    note = sign_checkpoint(AuditCheckpoint("accord.example/audit", 7, bytes(range(32))), signer)
    verifier = logproof.parse_vkey(signer.verifier.vkey)
    checkpoint = logproof.open_checkpoint(note, verifier)
    assert (checkpoint.size, checkpoint.root_hash) == (7, bytes(range(32)))
    forged = note.replace("\n7\n", "\n8\n")
    with pytest.raises(logproof.ProofFailed, match="does not verify"):
        logproof.open_checkpoint(forged, verifier)
    other = logproof.parse_vkey(generate_signing_key("accord.example/audit").verifier.vkey)
    with pytest.raises(logproof.ProofFailed, match="not signed by"):
        logproof.open_checkpoint(note, other)


def test_entry_leaf_hash_matches_the_audit_services_canonical_json() -> None:
    record = {
        "kind": "access",
        "user": "u-1",
        "fields_withheld": {"address": "no_consent"},
        "break_glass": True,
        "decision_id": None,
        "at": "2026-03-01T10:00:00+00:00",
        "note": 'caf\u00e9 \u2014 "quoted"\n',
    }
    expected = merkle.leaf_hash(audit_canonical(record))
    assert logproof.entry_leaf_hash({"index": 4, **record, "leaf_hash": "x"}) == expected


def privacy_fake(size: int = 5, tamper: bool = False) -> tuple[Fake, list[bytes]]:
    entries, tree = audit_log(size)
    signer = generate_signing_key("accord.example/audit")
    note = sign_checkpoint(AuditCheckpoint("accord.example/audit", size, tree.root()), signer)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    def entry(request: httpx.Request) -> Any:
        index = int(request.url.path.rsplit("/", 1)[1])
        doc = {"index": index, **json.loads(entries[index])}
        if tamper:
            doc["type"] = "rewritten"
        return doc

    def inclusion(request: httpx.Request) -> Any:
        index = int(request.url.params["index"])
        proof = merkle.inclusion_proof(tree, index, size)
        return {
            "leaf_hash": b64(merkle.leaf_hash(entries[index])),
            "hashes": [b64(h) for h in proof],
        }

    fake = Fake(
        **{
            "GET /checkpoint": note,
            "GET /verifier-key": signer.verifier.vkey + "\n",
            **{f"GET /entries/{i}": entry for i in range(size)},
            "GET /proofs/inclusion": inclusion,
        }
    )
    return fake, entries


def test_verify_page_shows_verified_and_checks_an_entry(portal_factory: Any) -> None:
    fake, _ = privacy_fake()
    client = client_for(portal_factory, fake, "audit", "privacy_officer", "privacy-office")
    page = client.get("/privacy/verify")
    assert page.status_code == 200
    assert "Verified" in page.text and "5 entries" in page.text
    bad = post(client, "/privacy/verify/inclusion", entry="four")
    assert bad.status_code == 400 and 'href="#entry"' in bad.text
    good = post(client, "/privacy/verify/inclusion", entry="3")
    assert "Log entry 3 is in the signed log" in good.text


def test_a_tampered_entry_is_reported_in_words(portal_factory: Any) -> None:
    fake, _ = privacy_fake(tamper=True)
    client = client_for(portal_factory, fake, "audit", "privacy_officer", "privacy-office")
    page = post(client, "/privacy/verify/inclusion", entry="2")
    assert "could not be verified" in page.text
    assert "does not match the hash the log holds" in page.text


def test_a_forged_checkpoint_shows_the_failure(portal_factory: Any) -> None:
    fake, _ = privacy_fake()
    note = fake.answers["GET /checkpoint"]
    fake.answers["GET /checkpoint"] = note.replace("\n5\n", "\n6\n")
    client = client_for(portal_factory, fake, "audit", "privacy_officer", "privacy-office")
    page = client.get("/privacy/verify")
    assert "Failed" in page.text and "signature does not verify" in page.text
    assert "Check that an entry is in the log" not in page.text


# --- access log and reviews ----------------------------------------------------------------


def access_entry(**overrides: Any) -> dict[str, Any]:
    entry = {
        "index": 12,
        "kind": "access",
        "service": "victim-support",
        "user": "u-42",
        "agency": "police",
        "role": "supervisor",
        "org": "north-police",
        "action": "read",
        "resource_type": "victim_record",
        "purpose": "emergency",
        "fields_returned": ["address"],
        "fields_withheld": {"support_notes": "never_for_agency"},
        "lawful_basis": {"victim.location": "emergency"},
        "decision": "permit",
        "break_glass": True,
        "at": "2026-03-01T10:05:00+00:00",
        "case_id": CASE,
    }
    entry.update(overrides)
    return entry


def test_access_log_search_is_a_post_and_shows_words(portal_factory: Any) -> None:
    fake = Fake(
        **{
            f"GET /cases/{CASE}/access": [access_entry()],
            f"GET /cases/{CASE}/events": [
                {
                    "index": 3,
                    "kind": "event",
                    "type": "accord.referral.submitted.v1",
                    "source": "/accord/referral",
                    "at": "2026-03-01T09:00:00+00:00",
                }
            ],
        }
    )
    client = client_for(portal_factory, fake, "audit", "privacy_officer", "privacy-office")
    assert client.get("/privacy/access").status_code == 200
    bad = post(client, "/privacy/access", case_reference="Alex Smith")
    assert bad.status_code == 400 and 'href="#case_reference"' in bad.text
    assert fake.requests == []
    page = post(client, "/privacy/access", case_reference=CASE.upper())
    assert page.status_code == 200
    for text in (
        "Supervisor, Police",
        "North Constabulary",
        "Emergency access",
        "Victim&#39;s details",
        "Shown",
        "Your agency never sees this",
        "Emergency access (the victim&#39;s location)",
        "Referral submitted",
    ):
        assert text in page.text, text
    assert "never_for_agency" not in page.text and "victim_record" not in page.text


def test_review_requires_an_outcome_and_a_reason_then_records_it(portal_factory: Any) -> None:
    task = {
        "grant_id": GRANT,
        "case_id": CASE,
        "agency": "police",
        "user": "u-42",
        "reason_code": "imminent_risk_to_life",
        "justification": "Neighbour reported screams at the address",
        "data_classes": ["victim.location"],
        "requested_at": "2026-03-01T10:00:00+00:00",
        "expires_at": "2026-03-01T11:00:00+00:00",
        "review": {"pending": True, "reviewer": None, "outcome": None, "at": None},
    }
    fake = Fake(
        **{
            "GET /emergency-access/reviews": [task],
            f"POST /emergency-access/{GRANT}/review": httpx.Response(204),
        }
    )
    client = client_for(portal_factory, fake, "audit", "privacy_officer", "privacy-office")
    listing = client.get("/privacy/reviews")
    assert "Someone&#39;s life is at immediate risk" in listing.text
    page = client.get(f"/privacy/reviews/{GRANT}")
    assert "Neighbour reported screams" in page.text
    empty = post(client, f"/privacy/reviews/{GRANT}/check")
    assert empty.status_code == 400
    assert 'href="#outcome"' in empty.text and 'href="#notes"' in empty.text
    check = post(
        client, f"/privacy/reviews/{GRANT}/check", outcome="justified", notes="Proportionate"
    )
    assert check.status_code == 200 and "Justified" in check.text
    assert fake.sent("POST", f"/emergency-access/{GRANT}/review") == []
    done = post(client, f"/privacy/reviews/{GRANT}", outcome="justified", notes="Proportionate")
    assert done.status_code == 303
    (sent,) = fake.sent("POST", f"/emergency-access/{GRANT}/review")
    assert json.loads(sent.content) == {"outcome": "justified", "notes": "Proportionate"}
    assert client.get("/privacy/reviews/" + CASE).status_code == 404


# --- emergency access ----------------------------------------------------------------------


def emergency_form(**overrides: str) -> dict[str, str]:
    form = {
        "reason_code": "imminent_risk_to_life",
        "data_classes_victim.location": "yes",
        "justification": "Neighbour reported screams at the address",
        "duration_minutes": "60",
    }
    form.update(overrides)
    return form


def test_reason_codes_are_the_services_own() -> None:
    from accord_victim_support.domain.emergency import BREAK_GLASS_CLASSES, REASON_CODES

    assert tuple(words.BREAK_GLASS_REASONS) == REASON_CODES
    assert set(words.BREAK_GLASS_CLASSES) == BREAK_GLASS_CLASSES
    assert all(0 < int(m) <= 240 for m in words.BREAK_GLASS_DURATIONS)


def test_emergency_request_checks_answers_then_grants_and_shows_the_expiry(
    portal_factory: Any,
) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    fake = Fake(
        **{
            f"POST /cases/{CASE}/emergency-access": httpx.Response(
                201,
                json={
                    "grant_id": GRANT,
                    "expires_at": expires.isoformat(),
                    "data_classes": ["victim.location"],
                },
            ),
            f"GET /cases/{CASE}/victim": {"case_id": CASE, "address": "1 Safe Street"},
            f"GET /cases/{CASE}/safety-flags": problem(403, "access_denied"),
        }
    )
    client = client_for(portal_factory, fake, "police", "supervisor", "north-police")
    assert "Emergency access" in client.get("/referrals").text  # in the navigation
    found = post(client, "/emergency", case_reference=CASE)
    assert found.status_code == 303 and found.headers["location"] == f"/emergency/{CASE}/request"
    form = client.get(f"/emergency/{CASE}/request")
    assert "reviewed by a privacy officer" in form.text
    short = post(client, f"/emergency/{CASE}/request/check", **emergency_form(justification="now"))
    assert short.status_code == 400 and 'href="#justification"' in short.text
    none = post(client, f"/emergency/{CASE}/request/check", reason_code="x")
    assert 'href="#data_classes_victim.location"' in none.text
    check = post(client, f"/emergency/{CASE}/request/check", **emergency_form())
    assert "Someone&#39;s life is at immediate risk" in check.text and "1 hour" in check.text
    assert fake.sent("POST", f"/cases/{CASE}/emergency-access") == []
    done = post(client, f"/emergency/{CASE}/request", **emergency_form())
    assert done.status_code == 303
    (sent,) = fake.sent("POST", f"/cases/{CASE}/emergency-access")
    assert json.loads(sent.content) == {
        "reason_code": "imminent_risk_to_life",
        "justification": "Neighbour reported screams at the address",
        "data_classes": ["victim.location"],
        "duration_minutes": 60,
    }
    granted = client.get(f"/emergency/{CASE}/granted")
    assert emergency_expiry(expires) in granted.text
    view = client.get(f"/emergency/{CASE}")
    assert f"Emergency access - expires at {emergency_expiry(expires)}" in view.text
    assert "1 Safe Street" in view.text and "Withheld" in view.text
    reads = fake.sent("GET", f"/cases/{CASE}/victim")
    assert reads[-1].url.params["purpose"] == "emergency"


def emergency_expiry(at: datetime) -> str:
    from accord_portal.emergency import moment

    return moment(at.isoformat())


def test_emergency_is_not_for_officers_or_courts(portal_factory: Any) -> None:
    for agency, role, org in (
        ("police", "officer", "north-police"),
        ("court", "judge", "north-court"),
    ):
        client = client_for(portal_factory, Fake(), agency, role, org)
        assert client.get("/emergency").status_code == 403
