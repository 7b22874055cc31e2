"""Policy decision (OPA) and the one enforcement point every read and every share goes through."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client.opa import OpaClient

from accord_kernel.application import AccordApplication
from accord_kernel.domain_rules import PURPOSES, Purpose
from accord_kernel.identity import Subject
from accord_kernel.observability import ServiceMetrics
from accord_kernel.problems import Problem, forbidden, not_found, policy_unavailable

log = logging.getLogger("accord.policy")
__all__ = ["PURPOSES", "Change", "Decision", "Purpose", "Resource"]


class PolicyUnavailable(Exception):
    """OPA could not be asked or gave no answer: callers must treat this as deny."""


@dataclass(frozen=True)
class Decision:
    allowed_fields: frozenset[str]
    withheld: dict[str, str]
    lawful_basis: dict[str, str] = field(default_factory=dict)
    obligations: list[dict[str, Any]] = field(default_factory=list)
    break_glass: bool = False
    decision_id: str | None = None

    @property
    def permitted(self) -> bool:
        return bool(self.allowed_fields)

    @classmethod
    def from_result(cls, result: dict[str, Any], decision_id: str | None) -> Decision:
        return cls(
            allowed_fields=frozenset(result.get("allowed_fields", [])),
            withheld=dict(result.get("withheld", {})),
            lawful_basis=dict(result.get("lawful_basis", {})),
            obligations=list(result.get("obligations", [])),
            break_glass=bool(result.get("break_glass", False)),
            decision_id=decision_id,
        )


def _outcome(result: Any) -> str:
    """permit or deny, as the metrics count them: a batch permits when any item is released,
    a change when it is allowed; other rules (eligibility, packs) answer with data."""
    if isinstance(result, list):
        return (
            "permit"
            if any(r.get("allowed_fields") for r in result if isinstance(r, dict))
            else "deny"
        )
    if isinstance(result, dict) and "allowed" in result:
        return "permit" if result.get("allowed") is True else "deny"
    return "answer"


class PolicyDecisionPoint:
    """Thin wrapper over opa-python-client that turns every failure into PolicyUnavailable."""

    def __init__(
        self, opa_url: str, timeout: float = 1.5, metrics: ServiceMetrics | None = None
    ) -> None:
        url = urlsplit(opa_url)
        self.client = OpaClient(
            host=url.hostname or "127.0.0.1", port=url.port or 8181, timeout=timeout, retries=0
        )
        self.metrics = metrics

    def query(self, package: str, rule: str, input_data: dict[str, Any]) -> tuple[Any, str | None]:
        started = time.perf_counter()
        try:
            response = self.client.query_rule(
                input_data=input_data, package_path=package, rule_name=rule
            )
        except (requests.RequestException, ValueError) as exc:
            log.warning("policy engine unavailable: %s", type(exc).__name__)
            self._observe("unavailable", started)
            raise PolicyUnavailable(type(exc).__name__) from exc
        if "result" not in response:
            # Undefined decision: deny.
            self._observe("unavailable", started)
            raise PolicyUnavailable(f"undefined decision {package}.{rule}")
        result = response["result"]
        self._observe(_outcome(result), started)
        return result, response.get("decision_id")

    def _observe(self, outcome: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.decision(outcome, time.perf_counter() - started)

    def healthy(self) -> bool:
        try:
            self.client.check_health()
        except Exception:
            return False
        return True


@dataclass
class Resource:
    """One case document offered for reading, with what the policy needs to know of the case."""

    type: str
    case_id: str
    document: dict[str, Any]
    case: dict[str, Any] = field(default_factory=dict)
    assigned_facilitators: Sequence[str] = ()


OTHER_ORGANISATION = "other_organisation"


@dataclass(frozen=True)
class Change:
    """A command on a case record, as the write-side policy needs to see it."""

    type: str
    case_id: str
    command: str
    case: dict[str, Any] = field(default_factory=dict)
    owner_org: str | None = None
    monitoring_agency: str | None = None
    assigned_facilitators: Sequence[str] = ()
    what: str = "case"

    def resource(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "case_id": self.case_id,
            "owner_org": self.owner_org,
            "monitoring_agency": self.monitoring_agency,
            "assigned_facilitators": list(self.assigned_facilitators),
        }

    def case_facts(self) -> dict[str, Any]:
        return {
            "responsible": dict(self.case.get("responsible") or {}),
            "jurisdiction": self.case.get("jurisdiction"),
            # The victim accounts linked to the case and not revoked (victim services only).
            "victim_accounts": list(self.case.get("victim_accounts") or []),
        }

    def same_organisation(self, subject: Subject) -> bool:
        responsible = self.case.get("responsible") or {}
        return bool(subject.org) and responsible.get(subject.agency) == subject.org


class PolicyEnforcementPoint:
    def __init__(
        self, pdp: PolicyDecisionPoint, app: AccordApplication, enabled: bool = True
    ) -> None:
        self.pdp = pdp
        self.app = app
        self.enabled = enabled

    def decide(
        self, subject: Subject, purpose: str, resources: Sequence[Resource], action: str = "read"
    ) -> list[Decision]:
        """One OPA round trip for the whole list."""
        if not resources:
            return []
        input_data = {
            "subject": subject.as_policy_input(),
            "action": action,
            "purpose": purpose,
            "now": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "items": [
                {
                    "resource": {
                        "type": r.type,
                        "case_id": r.case_id,
                        "fields": sorted(r.document),
                        # The conference service knows its own assignment; the others
                        # learnt it from the FacilitatorsAssigned event.
                        "assigned_facilitators": list(
                            r.assigned_facilitators or r.case.get("assigned_facilitators") or []
                        ),
                    },
                    "case": r.case,
                }
                for r in resources
            ],
        }
        result, decision_id = self.pdp.query("accord.access", "batch", input_data)
        if not isinstance(result, list) or len(result) != len(resources):
            raise PolicyUnavailable("malformed batch decision")
        return [Decision.from_result(r, decision_id) for r in result]

    def read(
        self,
        subject: Subject,
        purpose: str,
        resources: Sequence[Resource],
        action: str = "read",
        justification_ref: str | None = None,
    ) -> list[dict[str, Any] | None]:
        """Projects each document to its allowed fields (None where nothing is allowed) and
        records every decision for audit before anything is returned."""
        if not self.enabled:
            return [dict(r.document) for r in resources]
        try:
            decisions = self.decide(subject, purpose, resources, action)
        except PolicyUnavailable as exc:
            raise policy_unavailable() from exc
        self._record(subject, purpose, resources, decisions, action, justification_ref)
        return [
            {k: v for k, v in r.document.items() if k in d.allowed_fields} if d.permitted else None
            for r, d in zip(resources, decisions, strict=True)
        ]

    def _record(
        self,
        subject: Subject,
        purpose: str,
        resources: Sequence[Resource],
        decisions: Sequence[Decision],
        action: str,
        justification_ref: str | None,
    ) -> None:
        """Every decision is recorded for audit before anything is returned."""
        self.app.record_access(
            {
                "case_id": r.case_id[:64],  # contracts bound ids; a path can be longer
                "subject": subject.as_policy_input(),
                "action": action,
                "resource_type": r.type,
                "purpose": purpose,
                "fields_returned": sorted(d.allowed_fields),
                "fields_withheld": d.withheld,
                "lawful_basis": d.lawful_basis,
                "decision": "permit" if d.permitted else "deny",
                "decision_id": d.decision_id,
                "break_glass": d.break_glass,
                "justification_ref": justification_ref if d.break_glass else None,
            }
            for r, d in zip(resources, decisions, strict=True)
        )

    def read_one(
        self,
        subject: Subject,
        purpose: str,
        resource: Resource,
        justification_ref: str | None = None,
        what: str = "case",
    ) -> dict[str, Any]:
        if not self.enabled:
            return dict(resource.document)
        try:
            (decision,) = self.decide(subject, purpose, [resource])
        except PolicyUnavailable as exc:
            raise policy_unavailable() from exc
        self._record(subject, purpose, [resource], [decision], "read", justification_ref)
        if not decision.permitted:
            if set(decision.withheld.values()) == {OTHER_ORGANISATION}:
                # Another organisation's case does not exist for this user (SPEC section 4a).
                raise not_found(what)
            raise Problem(
                403,
                "access_denied",
                "Access denied by policy",
                "No field of this resource may be read for this purpose.",
                reasons=sorted(set(decision.withheld.values())),
            )
        return {k: v for k, v in resource.document.items() if k in decision.allowed_fields}

    def authorise_change(
        self, subject: Subject, change: Change, safety_fallback: bool = False
    ) -> None:
        """Asks the policy whether this subject may change this case record. Another
        organisation's case answers 404; anything else refused answers 403. A change that only
        takes protection away from nobody (a consent withdrawal, a stop) passes
        `safety_fallback`: if the policy engine cannot answer, the same-organisation rule is
        applied here rather than refusing the withdrawal (safety before availability)."""
        if not self.enabled:
            return
        input_data = {
            "subject": subject.as_policy_input(),
            "command": change.command,
            "resource": change.resource(),
            "case": change.case_facts(),
        }
        try:
            result, _ = self.pdp.query("accord.access", "change", input_data)
            reason = str(result.get("reason", "malformed")) if isinstance(result, dict) else ""
            allowed = isinstance(result, dict) and result.get("allowed") is True
        except PolicyUnavailable as exc:
            if safety_fallback and change.same_organisation(subject):
                log.warning(
                    "policy unavailable; safety change by the responsible "
                    "organisation allowed case=%s command=%s",
                    change.case_id,
                    change.command,
                )
                return
            raise policy_unavailable() from exc
        if allowed:
            return
        log.info(
            "change refused user=%s agency=%s case=%s command=%s reason=%s",
            subject.user,
            subject.agency,
            change.case_id,
            change.command,
            reason,
        )
        if reason == OTHER_ORGANISATION:
            raise not_found(change.what)
        raise forbidden(f"this change is not yours to make ({reason})")
