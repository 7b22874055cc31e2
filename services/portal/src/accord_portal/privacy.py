"""Privacy officer's screens (SPEC section 7): the access log of a case, its recorded events,
break-glass review tasks, and verification of the tamper-evident audit log.

The case reference is typed into a POST form and travels only in POST bodies, so it never
appears in a URL, a browser history or a server's access log. Log verification is done here,
not taken on the audit service's word: the checkpoint's signature is checked with the verifier
key, an entry's leaf hash is recomputed from the entry, and inclusion and consistency proofs are
checked against the signed root (logproof.py). The last checkpoint verified is remembered in
the officer's session (a size and a root hash, no case data), so the next visit can prove the
log only grew since.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from accord_portal import words
from accord_portal.api_client import Invalid, NotFound
from accord_portal.areas import Area, NavItem
from accord_portal.logproof import (
    Checkpoint,
    ProofFailed,
    b64decode,
    entry_leaf_hash,
    open_checkpoint,
    parse_vkey,
    verify_consistency,
    verify_inclusion,
)
from accord_portal.referrals import form_values, long_date, pop_flash, set_flash, summary
from accord_portal.web import Portal, User, portal_of, render, require_area

AREA = Area(
    key="privacy",
    roles=frozenset({("audit", "privacy_officer")}),
    home="/privacy",
    nav=(
        NavItem("Access log", "/privacy/access"),
        NavItem("Emergency access reviews", "/privacy/reviews"),
        NavItem("Verify the log", "/privacy/verify"),
    ),
)
router = APIRouter(prefix="/privacy")
officer = require_area(AREA)

CASE_REFERENCE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
REVIEW_NOTES_MAX = 2000
SAVED_CHECKPOINT = "privacy_checkpoint"


def _words(table: dict[str, str], code: Any) -> str:
    text = str(code or "")
    return table.get(text, text.replace("_", " ").replace(".", " ").capitalize())


# --- access log ----------------------------------------------------------------------------


def access_row(portal: Portal, e: dict[str, Any]) -> dict[str, Any]:
    decision = str(e.get("decision", ""))
    withheld = e.get("fields_withheld") or {}
    basis = e.get("lawful_basis") or {}
    bases = sorted(
        {
            f"{_words(words.LAWFUL_BASIS_WORDS, b)} ({_words(words.DATA_CLASSES, c)})"
            for c, b in basis.items()
        }
        if isinstance(basis, dict)
        else set()
    )
    reasons = sorted(
        {_words(words.POLICY_REFUSALS, r) for r in withheld.values()}
        if isinstance(withheld, dict)
        else set()
    )
    service = str(e.get("service", ""))
    return {
        "index": e.get("index"),
        "at": long_date(e.get("at")),
        "who": str(e.get("user", "")),
        "agency": _words(words.AGENCIES, e.get("agency")),
        "role": _words(words.ROLES, e.get("role")),
        "org": portal.org_name(str(e.get("org"))) if e.get("org") else "Not recorded",
        "purpose": _words(words.PURPOSES, e.get("purpose")),
        "what": _words(words.AUDIT_RESOURCE_TYPES, e.get("resource_type")),
        "service": _words(words.SERVICES, service),
        "action": _words(words.ACCESS_ACTIONS, e.get("action")),
        "decision": _words(words.ACCESS_DECISIONS, decision),
        "refused": decision != "permit",
        "withheld": reasons,
        "withheld_count": len(withheld) if isinstance(withheld, dict) else 0,
        "lawful_basis": bases,
        "break_glass": bool(e.get("break_glass")),
    }


def event_row(e: dict[str, Any]) -> dict[str, Any]:
    source = str(e.get("source", "")).rsplit("/", 1)[-1]
    return {
        "index": e.get("index"),
        "at": long_date(e.get("at")),
        "what": _words(words.EVENT_TYPES, e.get("type")),
        "source": _words(words.SERVICES, source),
    }


def _newest_first(entries: Any) -> list[dict[str, Any]]:
    docs = [e for e in entries or [] if isinstance(e, dict)]
    return sorted(docs, key=lambda e: int(e.get("index") or 0), reverse=True)


@router.get("")
async def home(request: Request, user: User = Depends(officer)) -> Response:
    portal = portal_of(request)
    tasks = await portal.services.get(
        user.access_token, "victim-support", "/emergency-access/reviews"
    )
    return render(
        request,
        "privacy/home.html",
        {"pending": len(tasks or []), "flash": await pop_flash(portal, user)},
    )


@router.get("/access")
async def access_form(request: Request, user: User = Depends(officer)) -> Response:
    return render(request, "privacy/access.html", {"values": {}, "errors": {}, "searched": False})


def parse_reference(values: dict[str, str]) -> tuple[str, dict[str, str]]:
    reference = values.get("case_reference", "").strip().lower()
    if not reference:
        return "", {"case_reference": "Enter the case reference"}
    if not CASE_REFERENCE.match(reference):
        return "", {
            "case_reference": "Enter the full case reference, 32 letters and numbers in 5 "
            "groups separated by hyphens"
        }
    return reference, {}


@router.post("/access")
async def access_search(request: Request, user: User = Depends(officer)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    reference, errors = parse_reference(values)
    if errors:
        return render(
            request,
            "privacy/access.html",
            {"values": values, "errors": errors, "error_list": summary(errors), "searched": False},
            400,
        )
    token = user.access_token
    accesses, events = await asyncio.gather(
        portal.services.get(token, "audit", f"/cases/{reference}/access"),
        portal.services.get(token, "audit", f"/cases/{reference}/events"),
    )
    access_rows = [access_row(portal, e) for e in _newest_first(accesses)]
    return render(
        request,
        "privacy/access.html",
        {
            "values": {"case_reference": reference},
            "errors": {},
            "searched": True,
            "reference": reference,
            "access_rows": access_rows,
            "break_glass_count": sum(1 for r in access_rows if r["break_glass"]),
            "event_rows": [event_row(e) for e in _newest_first(events)],
        },
    )


# --- break-glass reviews -------------------------------------------------------------------


def review_row(portal: Portal, t: dict[str, Any]) -> dict[str, Any]:
    review = t.get("review") if isinstance(t.get("review"), dict) else {}
    assert isinstance(review, dict)
    return {
        "grant_id": str(t.get("grant_id", "")),
        "case_id": str(t.get("case_id", "")),
        "reference": str(t.get("case_id", ""))[:8].upper(),
        "who": str(t.get("user", "")),
        "agency": _words(words.AGENCIES, t.get("agency")),
        "reason": _words(words.BREAK_GLASS_REASONS, t.get("reason_code")),
        "justification": str(t.get("justification") or ""),
        "what": [_words(words.BREAK_GLASS_CLASSES, c) for c in t.get("data_classes") or []],
        "requested": long_date(t.get("requested_at")),
        "expires": long_date(t.get("expires_at")),
        "pending": bool(review.get("pending", True)),
        "outcome": _words(words.REVIEW_OUTCOMES, review.get("outcome"))
        if review.get("outcome")
        else "",
        "reviewed": long_date(review.get("at")),
    }


async def find_task(
    portal: Portal, user: User, grant_id: uuid.UUID, pending: bool = True
) -> dict[str, Any]:
    tasks = await portal.services.get(
        user.access_token,
        "victim-support",
        "/emergency-access/reviews",
        params={"pending": str(pending).lower()},
    )
    for t in tasks or []:
        if isinstance(t, dict) and t.get("grant_id") == str(grant_id):
            return review_row(portal, t)
    raise NotFound(404, "not_found")


@router.get("/reviews")
async def reviews(request: Request, user: User = Depends(officer)) -> Response:
    portal = portal_of(request)
    tasks = await portal.services.get(
        user.access_token, "victim-support", "/emergency-access/reviews"
    )
    rows = [review_row(portal, t) for t in tasks or [] if isinstance(t, dict)]
    return render(
        request,
        "privacy/reviews.html",
        {"rows": rows, "flash": await pop_flash(portal, user)},
    )


def review_errors(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values.get("outcome") not in words.REVIEW_OUTCOMES:
        errors["outcome"] = "Select whether the emergency access was justified"
    notes = values.get("notes", "")
    if not notes:
        errors["notes"] = "Enter the reason for your decision"
    elif len(notes) > REVIEW_NOTES_MAX:
        errors["notes"] = f"The reason must be {REVIEW_NOTES_MAX} characters or fewer"
    return errors


def review_context(
    task: dict[str, Any], values: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "task": task,
        "values": values,
        "errors": errors,
        "error_list": summary(errors),
        "outcomes": [
            (code, text, words.REVIEW_OUTCOME_HINTS[code])
            for code, text in words.REVIEW_OUTCOMES.items()
        ],
    }


@router.get("/reviews/{grant_id}")
async def review_form(
    request: Request, grant_id: uuid.UUID, user: User = Depends(officer)
) -> Response:
    task = await find_task(portal_of(request), user, grant_id)
    return render(request, "privacy/review.html", review_context(task, {}, {}))


@router.post("/reviews/{grant_id}/edit")
async def review_edit(
    request: Request, grant_id: uuid.UUID, user: User = Depends(officer)
) -> Response:
    values = form_values(await request.form())
    task = await find_task(portal_of(request), user, grant_id)
    return render(request, "privacy/review.html", review_context(task, values, {}))


@router.post("/reviews/{grant_id}/check")
async def review_check(
    request: Request, grant_id: uuid.UUID, user: User = Depends(officer)
) -> Response:
    values = form_values(await request.form())
    task = await find_task(portal_of(request), user, grant_id)
    errors = review_errors(values)
    if errors:
        return render(request, "privacy/review.html", review_context(task, values, errors), 400)
    return render(
        request,
        "privacy/review_check.html",
        {"task": task, "values": values, "outcome": words.REVIEW_OUTCOMES[values["outcome"]]},
    )


@router.post("/reviews/{grant_id}")
async def review_submit(
    request: Request, grant_id: uuid.UUID, user: User = Depends(officer)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors = review_errors(values)
    if errors:
        task = await find_task(portal, user, grant_id)
        return render(request, "privacy/review.html", review_context(task, values, errors), 400)
    try:
        await portal.services.post(
            user.access_token,
            "victim-support",
            f"/emergency-access/{grant_id}/review",
            json={"outcome": values["outcome"], "notes": values["notes"]},
        )
    except Invalid:
        task = await find_task(portal, user, grant_id)
        errors = {"outcome": "Victim services did not accept this review; check it"}
        return render(request, "privacy/review.html", review_context(task, values, errors), 400)
    await set_flash(portal, user, "Review recorded")
    return RedirectResponse(f"/privacy/reviews/{grant_id}/recorded", status_code=303)


@router.get("/reviews/{grant_id}/recorded")
async def review_recorded(
    request: Request, grant_id: uuid.UUID, user: User = Depends(officer)
) -> Response:
    portal = portal_of(request)
    task = await find_task(portal, user, grant_id, pending=False)
    await pop_flash(portal, user)
    return render(request, "privacy/review_recorded.html", {"task": task})


# --- log verification ----------------------------------------------------------------------


def _hash_words(root: bytes) -> str:
    return base64.b64encode(root).decode("ascii")


async def get_text(portal: Portal, token: str, path: str) -> str:
    return await portal.services.get_text(token, "audit", path)


async def latest_checkpoint(
    portal: Portal, user: User
) -> tuple[Checkpoint | None, str, dict[str, Any]]:
    """The latest checkpoint if its signature verifies, else None and the failure in words."""
    token = user.access_token
    note, vkey = await asyncio.gather(
        get_text(portal, token, "/checkpoint"),
        get_text(portal, token, "/verifier-key"),
    )
    facts: dict[str, Any] = {"key_name": vkey.strip().split("+", 1)[0]}
    try:
        verifier = parse_vkey(vkey)
        checkpoint = open_checkpoint(note, verifier)
    except ProofFailed as exc:
        return None, str(exc), facts
    return checkpoint, "", facts


def checkpoint_view(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root_hash": _hash_words(checkpoint.root_hash),
    }


async def _remember(portal: Portal, user: User, checkpoint: Checkpoint) -> None:
    user.session.data[SAVED_CHECKPOINT] = {
        "size": checkpoint.size,
        "root_hash": _hash_words(checkpoint.root_hash),
    }
    await run_in_threadpool(portal.store.save, user.session)


async def consistency_result(
    portal: Portal, user: User, checkpoint: Checkpoint, size: int, root_text: str
) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "consistency", "size": size, "root_hash": root_text}
    try:
        old_root = b64decode(root_text, "saved root hash")
        if size > checkpoint.size:
            raise ProofFailed("The saved checkpoint is larger than the latest one")
        proof: dict[str, Any] = {"hashes": []}
        if 0 < size < checkpoint.size:
            proof = await portal.services.get(
                user.access_token,
                "audit",
                "/proofs/consistency",
                params={"first": size, "second": checkpoint.size},
            )
        hashes = [b64decode(h, "proof hash") for h in proof.get("hashes") or []]
        verify_consistency(size, checkpoint.size, old_root, checkpoint.root_hash, hashes)
    except ProofFailed as exc:
        return {**result, "ok": False, "failure": str(exc)}
    except NotFound:
        return {**result, "ok": False, "failure": "The audit log has no such tree size"}
    return {**result, "ok": True}


async def inclusion_result(
    portal: Portal, user: User, checkpoint: Checkpoint, index: int
) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "inclusion", "index": index}
    if index >= checkpoint.size:
        return {**result, "ok": False, "failure": "The entry is beyond the signed tree size"}
    token = user.access_token
    try:
        entry, proof = await asyncio.gather(
            portal.services.get(token, "audit", f"/entries/{index}"),
            portal.services.get(
                token,
                "audit",
                "/proofs/inclusion",
                params={"index": index, "tree_size": checkpoint.size},
            ),
        )
    except NotFound:
        return {**result, "ok": False, "failure": "The audit log has no such entry"}
    try:
        leaf = b64decode(str(proof.get("leaf_hash", "")), "leaf hash")
        if entry_leaf_hash(entry) != leaf:
            raise ProofFailed("The entry as shown does not match the hash the log holds for it")
        hashes = [b64decode(h, "proof hash") for h in proof.get("hashes") or []]
        verify_inclusion(leaf, index, checkpoint.size, hashes, checkpoint.root_hash)
    except ProofFailed as exc:
        return {**result, "ok": False, "failure": str(exc)}
    kind = "access" if entry.get("kind") == "access" else "event"
    return {
        **result,
        "ok": True,
        "entry": (
            f"{_words(words.AUDIT_RESOURCE_TYPES, entry.get('resource_type'))} "
            f"read by {_words(words.ROLES, entry.get('role'))}, "
            f"{_words(words.AGENCIES, entry.get('agency'))}"
            if kind == "access"
            else _words(words.EVENT_TYPES, entry.get("type"))
        ),
        "at": long_date(entry.get("at")),
        "case_reference": str(entry.get("case_id", "")),
    }


def _saved(user: User) -> dict[str, Any] | None:
    saved = user.session.data.get(SAVED_CHECKPOINT)
    return saved if isinstance(saved, dict) else None


async def verify_page(
    request: Request,
    user: User,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    check: dict[str, Any] | None = None,
) -> Response:
    portal = portal_of(request)
    try:
        checkpoint, failure, facts = await latest_checkpoint(portal, user)
    except NotFound:
        return render(request, "privacy/verify.html", {"empty": True, "values": {}, "errors": {}})
    previous = _saved(user)
    since: dict[str, Any] | None = None
    if checkpoint is not None:
        if previous is not None:
            since = await consistency_result(
                portal, user, checkpoint, int(previous["size"]), str(previous["root_hash"])
            )
        if since is None or since["ok"]:
            await _remember(portal, user, checkpoint)
    errors = errors or {}
    return render(
        request,
        "privacy/verify.html",
        {
            "empty": False,
            "checkpoint": checkpoint_view(checkpoint) if checkpoint else None,
            "failure": failure,
            "facts": facts,
            "since": since,
            "check": check,
            "values": values or {},
            "errors": errors,
            "error_list": summary(errors),
        },
        400 if errors else 200,
    )


@router.get("/verify")
async def verify(request: Request, user: User = Depends(officer)) -> Response:
    return await verify_page(request, user)


def _whole_number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 18 else None


@router.post("/verify/inclusion")
async def verify_entry(request: Request, user: User = Depends(officer)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    index = _whole_number(values.get("entry", ""))
    if index is None:
        errors = {"entry": "Enter the log entry number, a whole number such as 42"}
        return await verify_page(request, user, values, errors)
    checkpoint, failure, _ = await latest_checkpoint(portal, user)
    if checkpoint is None:
        check = {"kind": "inclusion", "index": index, "ok": False, "failure": failure}
    else:
        check = await inclusion_result(portal, user, checkpoint, index)
    return await verify_page(request, user, values, check=check)


@router.post("/verify/consistency")
async def verify_since(request: Request, user: User = Depends(officer)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    size = _whole_number(values.get("tree_size", ""))
    if size is None:
        errors["tree_size"] = "Enter the tree size of your saved checkpoint, a whole number"
    root = values.get("root_hash", "")
    if not root:
        errors["root_hash"] = "Enter the root hash of your saved checkpoint"
    if errors or size is None:
        return await verify_page(request, user, values, errors)
    checkpoint, failure, _ = await latest_checkpoint(portal, user)
    if checkpoint is None:
        check = {"kind": "consistency", "ok": False, "failure": failure}
    else:
        check = await consistency_result(portal, user, checkpoint, size, root)
    return await verify_page(request, user, values, check=check)
