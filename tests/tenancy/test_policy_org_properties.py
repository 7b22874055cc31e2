"""Properties of the OPA access policy itself (`decision` and `change` in
policies/accord/access/access.rego), asked of the session's real OPA over HTTP with random
subjects, responsible organisations, purposes, consents, risk bands, break-glass grants and
resources.

The oracle is written here from SPEC sections 4 and 4a (the table itself comes from
`tests/tenancy/oracle.py`, which is written from the SPEC too). Nothing is read from
`policies/`: the directory's organisations and the jurisdictions they serve are deployment
data, written out below as the deployment states them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.tenancy.case import ROLES
from tests.tenancy.oracle import (
    ASSIGNED,
    CONFERENCE,
    CONSENT,
    FIELDS,
    FLAGS,
    LOCATION,
    NO,
    NOTES,
    PLAN,
    SECTION_4,
    Reader,
    allowed_classes,
)

pytestmark = pytest.mark.integration

# The organisation directory of this deployment: id -> (agency, jurisdictions served).
DIRECTORY: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        f"{prefix}-{suffix}": (agency, (jurisdiction,))
        for prefix, jurisdiction in (
            ("north", "england-wales"),
            ("south", "england-wales"),
            ("scotland", "scotland"),
            ("nz", "new-zealand"),
            ("ns", "nova-scotia"),
        )
        for suffix, agency in (
            ("police", "police"),
            ("advocacy", "victim_services"),
            ("rj", "rj_provider"),
            ("court", "court"),
        )
    },
    "privacy-office": ("audit", ("england-wales", "scotland", "new-zealand", "nova-scotia")),
}
AGENCIES = ("police", "victim_services", "rj_provider", "court")
JURISDICTIONS = ("england-wales", "scotland", "new-zealand", "nova-scotia")
PURPOSES = (
    "case_management",
    "safeguarding",
    "compliance_review",
    "offender_communication",
    "emergency",
    "audit",
)
ALL_ROLES = tuple(sorted({role for roles in ROLES.values() for role in roles}))
CLASSES = tuple(SECTION_4)
AUDIT_TYPES = ("audit_entry", "emergency_review")
# SPEC section 4: letters and exports to the offender side never carry these.
OFFENDER_FORBIDDEN = frozenset({LOCATION, PLAN, FLAGS, NOTES})
# SPEC section 3: break-glass obtains location data or safety flags, nothing else.
BREAK_GLASS = frozenset({LOCATION, FLAGS})
# SPEC section 4: the court cells marked "never".
COURT_NEVER = frozenset({LOCATION, NOTES, CONFERENCE})
MANAGERS = frozenset({"coordinator", "supervisor"})
USERS = ("u-1", "u-2", "fac-1", "fac-2", "")
REASONS = (
    "imminent_risk_to_life",
    "missing_person",
    "safeguarding_child",
    "serious_crime_prevention",
)
# SPEC section 4a: which agency changes each kind of record (an agreement item: its
# monitoring agency).
CHANGE_OWNER = {
    "referral": "police",
    "victim_record": "victim_services",
    "intake": "rj_provider",
    "rj_case": "rj_provider",
    "facilitator": "rj_provider",
    "court_case": "court",
}
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ASKED: Counter[str] = Counter()


@dataclass
class Opa:
    url: str
    session: requests.Session

    def ask(self, rule: str, input_data: dict[str, Any]) -> Any:
        r = self.session.post(
            f"{self.url}/v1/data/accord/access/{rule}", json={"input": input_data}, timeout=30
        )
        assert r.status_code == 200, r.text
        body = r.json()
        # Deny by default means a defined "no", never an undefined answer.
        assert "result" in body, f"accord.access.{rule} undefined for {input_data}"
        ASKED[rule] += 1
        return body["result"]

    def decide(self, input_data: dict[str, Any]) -> dict[str, Any]:
        result = self.ask("decision", input_data)
        check_shape(input_data, result)
        return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def opa(infrastructure: Any) -> Iterator[Opa]:
    with requests.Session() as session:
        yield Opa(infrastructure.opa_url.rstrip("/"), session)
    print(f"\nOPA decisions asked: {dict(ASKED)}")


def check_shape(input_data: dict[str, Any], result: dict[str, Any]) -> None:
    """Every requested field is either returned or withheld with a reason, never both."""
    asked = {f for f in input_data["resource"].get("fields", []) if isinstance(f, str)}
    allowed = set(result["allowed_fields"])
    assert allowed <= asked, (allowed - asked, input_data)
    assert set(result["withheld"]) == asked - allowed, (result, input_data)
    assert result["decision"] == ("permit" if allowed else "deny"), result
    assert result["break_glass"] == ("emergency" in result["lawful_basis"].values()), result


# --- strategies -----------------------------------------------------------------------------
def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def orgs_of(agency: str) -> list[str]:
    return sorted(org for org, (a, _) in DIRECTORY.items() if a == agency)


any_org = st.one_of(
    st.sampled_from([*sorted(DIRECTORY), "unknown-org", "NORTH-POLICE", ""]),
    st.sampled_from([None, 7]),
)
windows = st.sampled_from(["current", "expired", "future", "garbage"])


def window(kind: str, now: datetime) -> dict[str, Any]:
    start, end = {"current": (-1, 30), "expired": (-30, -1), "future": (1, 30)}.get(kind, (0, 0))
    if kind == "garbage":
        return {"start": "yesterday", "end": None}
    return {"start": stamp(now + timedelta(days=start)), "end": stamp(now + timedelta(days=end))}


@st.composite
def subjects(
    draw: st.DrawFn, agencies: tuple[str, ...] | None = None, known: bool = False
) -> dict[str, Any]:
    """Any subject; `known`: a role of the agency and a non-empty organisation."""
    agency = draw(
        st.sampled_from(agencies)
        if agencies
        else st.one_of(
            st.sampled_from((*AGENCIES, "audit")), st.sampled_from(("offender", "", None))
        )
    )
    own_roles = ROLES.get(agency, ("officer",)) if isinstance(agency, str) else ("officer",)
    own_orgs = st.sampled_from([*orgs_of(agency), "unknown-org"])
    if known:
        role, org = draw(st.sampled_from(own_roles)), draw(own_orgs)
    else:
        role = draw(
            st.one_of(
                st.sampled_from(own_roles),
                st.sampled_from(ALL_ROLES),
                st.sampled_from(("admin", "")),
            )
        )
        org = draw(st.one_of(own_orgs, any_org))
    return {"user": draw(st.sampled_from(USERS)), "agency": agency, "role": role, "org": org}


@st.composite
def responsibles(draw: st.DrawFn, subject: dict[str, Any]) -> dict[str, Any]:
    responsible: dict[str, Any] = {}
    for agency in AGENCIES:
        kind = draw(st.sampled_from(["absent", "subject", "subject", "directory", "empty", "none"]))
        if kind == "subject":
            responsible[agency] = subject["org"]
        elif kind == "directory":
            responsible[agency] = draw(st.sampled_from(orgs_of(agency)))
        elif kind != "absent":
            responsible[agency] = "" if kind == "empty" else None
    return responsible


@st.composite
def provisions(draw: st.DrawFn, subject: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "consent_id": draw(st.sampled_from(["c-1", "c-2"])),
        "type": draw(st.sampled_from(["permit", "permit", "deny"])),
        "scope": draw(st.sampled_from(["share", "share", "participate", "outcome"])),
        "status": draw(st.sampled_from(["active", "active", "withdrawn", "expired"])),
        "agency": draw(
            st.one_of(st.just(subject["agency"]), st.sampled_from((*AGENCIES, "audit")))
        ),
        "purposes": draw(st.lists(st.sampled_from(PURPOSES), max_size=3, unique=True)),
        "data_classes": draw(st.lists(st.sampled_from(CLASSES), max_size=5, unique=True)),
        **window(draw(windows), now),
    }


@st.composite
def grants(draw: st.DrawFn, subject: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    kind = draw(st.sampled_from(["none", "empty", "grant", "grant", "grant"]))
    if kind != "grant":
        return None if kind == "none" else {}
    expiry = draw(st.sampled_from(["future", "future", "past", "garbage"]))
    return {
        "grant_id": "g-1",
        "agency": draw(
            st.one_of(st.just(subject["agency"]), st.sampled_from((*AGENCIES, "audit")))
        ),
        "user": draw(st.one_of(st.just(subject["user"]), st.sampled_from(USERS))),
        "data_classes": draw(
            st.lists(
                st.sampled_from([LOCATION, FLAGS, LOCATION, FLAGS, PLAN, NOTES, "risk.assessment"]),
                max_size=3,
                unique=True,
            )
        ),
        "reason_code": draw(st.sampled_from([*REASONS, "", None])),
        "expires_at": {
            "future": stamp(now + timedelta(hours=2)),
            "past": stamp(now - timedelta(minutes=5)),
            "garbage": "soon",
        }[expiry],
    }


@st.composite
def resources(draw: st.DrawFn, types: tuple[str, ...] | None = None) -> dict[str, Any]:
    rtype = draw(st.sampled_from(types or (*FIELDS, *AUDIT_TYPES, "unknown_type")))
    names = sorted(FIELDS.get(rtype, {"case_id": "", "user": "", "action": ""}))
    fields = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    if draw(st.integers(0, 9)) == 0:
        fields.append("unclassified_field")
    return {
        "type": rtype,
        "case_id": "case-1",
        "fields": fields,
        "assigned_facilitators": draw(st.lists(st.sampled_from(USERS), max_size=2)),
    }


@st.composite
def decision_inputs(
    draw: st.DrawFn,
    *,
    agencies: tuple[str, ...] | None = None,
    types: tuple[str, ...] | None = None,
    purpose: str | None = None,
    consent: bool = True,
    grant: bool = True,
    known: bool = False,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    subject = draw(subjects(agencies, known))
    case: dict[str, Any] = {
        "responsible": draw(responsibles(subject)),
        "jurisdiction": draw(st.sampled_from([*JURISDICTIONS, None, "mars"])),
        "risk_band": draw(st.sampled_from(["standard", "medium", "high", "high", None, "HIGH"])),
        "outcome_consent_all_parties": draw(st.sampled_from([True, False, "true", None])),
        "consent_provisions": draw(st.lists(provisions(subject, now), max_size=4))
        if consent
        else [],
        "emergency_grant": draw(grants(subject, now)) if grant else None,
    }
    return {
        "subject": subject,
        "action": draw(st.sampled_from(["read", "read", "read", "share", "delete"])),
        "purpose": purpose or draw(st.sampled_from([*PURPOSES, "marketing", None])),
        "now": stamp(now),
        "resource": draw(resources(types)),
        "case": case,
    }


# --- the oracle (SPEC sections 3, 4 and 4a) ------------------------------------------------
def non_empty(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def serves(org: Any, agency: str, jurisdiction: Any) -> bool:
    entry = DIRECTORY.get(org) if isinstance(org, str) else None
    return entry is not None and entry[0] == agency and jurisdiction in entry[1]


def known_subject(subject: dict[str, Any]) -> bool:
    agency = subject["agency"]
    return isinstance(agency, str) and subject["role"] in ROLES.get(agency, ())


def responsible_for(subject: dict[str, Any], case: dict[str, Any], rtype: str) -> bool:
    """SPEC 4a: the subject's organisation is the case's responsible organisation for the
    subject's agency; before acceptance, a provider serving the jurisdiction sees the intake."""
    agency, org, responsible = subject["agency"], subject["org"], case["responsible"]
    if agency == "audit":
        return rtype in AUDIT_TYPES  # privacy officers: the audit trail, deployment-wide
    if agency not in AGENCIES:
        return False
    if non_empty(org) and responsible.get(agency) == org:
        return True
    return (
        agency == "rj_provider"
        and rtype == "intake"
        and not non_empty(responsible.get("rj_provider"))
        and serves(org, "rj_provider", case.get("jurisdiction"))
    )


def parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return None


def break_glass_classes(d: dict[str, Any], agencies: frozenset[str]) -> set[str]:
    """The classes a valid break-glass grant of the subject's own opens: a supervisor of one of
    `agencies`, purpose emergency, a coded reason, not yet expired; location and flags only."""
    subject, grant = d["subject"], d["case"]["emergency_grant"]
    if not (
        isinstance(grant, dict)
        and d["purpose"] == "emergency"
        and d["action"] in ("read", "share")
        and subject["agency"] in agencies
        and subject["role"] == "supervisor"
        and non_empty(subject["user"])
        and grant.get("agency") == subject["agency"]
        and grant.get("user") == subject["user"]
        and non_empty(grant.get("reason_code"))
    ):
        return set()
    expires, now = parse(grant.get("expires_at")), parse(d["now"])
    if expires is None or now is None or now >= expires:
        return set()
    return set(grant.get("data_classes") or []) & BREAK_GLASS


def classes_of(d: dict[str, Any], fields: Any) -> set[str]:
    catalogue = FIELDS.get(d["resource"]["type"], {})
    return {catalogue[f] for f in fields if f in catalogue}


def fields_of(d: dict[str, Any], classes: set[str]) -> set[str]:
    catalogue = FIELDS.get(d["resource"]["type"], {})
    return {f for f in d["resource"]["fields"] if catalogue.get(f) in classes}


def reader(d: dict[str, Any]) -> Reader:
    """The oracle's reader. SPEC's 'assigned facilitator' is whoever the case names as its
    facilitator or co-facilitator, whatever else the user's role is."""
    subject = d["subject"]
    assigned = (
        non_empty(subject["user"]) and subject["user"] in d["resource"]["assigned_facilitators"]
    )
    if assigned:
        return Reader(subject["agency"], "facilitator", "own")
    relation = "unassigned" if subject["role"] == "facilitator" else "own"
    return Reader(subject["agency"], subject["role"], relation)


# --- properties of `decision` ---------------------------------------------------------------
# A known user of one of the four agencies reading, for case management, a resource with no
# consent and no grant; the tests make the user's organisation the responsible one.
OWN_CASE_MANAGEMENT = decision_inputs(
    agencies=AGENCIES,
    types=tuple(FIELDS),
    purpose="case_management",
    consent=False,
    grant=False,
    known=True,
)


@PROPERTY
@given(d=decision_inputs())
def test_another_organisation_gets_only_its_own_break_glass(opa: Opa, d: dict[str, Any]) -> None:
    """(a) Not the responsible organisation: nothing, except location and flags through a valid
    break-glass grant of the user's own (police and RJ supervisors, purpose emergency)."""
    assume(not responsible_for(d["subject"], d["case"], d["resource"]["type"]))
    result = opa.decide(d)
    allowed = set(result["allowed_fields"])
    glass = break_glass_classes(d, frozenset({"police", "rj_provider"}))
    assert allowed <= fields_of(d, glass), (result, d)
    assert all(basis == "emergency" for basis in result["lawful_basis"].values()), (result, d)
    if d["subject"]["agency"] == "police" and d["resource"]["type"] in FIELDS:
        # SPEC section 4 names emergency access in the police column: it must work.
        assert allowed == fields_of(d, break_glass_classes(d, frozenset({"police"}))), (result, d)


@PROPERTY
@given(d=decision_inputs(agencies=("court",)))
def test_a_court_never_gets_location_support_notes_or_conference_notes(
    opa: Opa, d: dict[str, Any]
) -> None:
    """(b) Whatever the consents, grants, outcome consent, purpose or organisation."""
    d["case"]["outcome_consent_all_parties"] = True
    result = opa.decide(d)
    leaked = classes_of(d, result["allowed_fields"]) & COURT_NEVER
    assert not leaked, (leaked, result, d)


@PROPERTY
@given(d=decision_inputs(agencies=AGENCIES))
def test_no_agency_ever_gets_a_class_its_column_says_no_to(opa: Opa, d: dict[str, Any]) -> None:
    """(b, general) A "no" cell of SPEC section 4 is opened by nothing: no consent, no purpose,
    no grant (break-glass reaches location and flags, which are never "no" for police or RJ)."""
    result = opa.decide(d)
    agency = d["subject"]["agency"]
    refused = {c for c in classes_of(d, result["allowed_fields"]) if SECTION_4[c][agency] == NO}
    assert not refused, (refused, result, d)


@PROPERTY
@given(d=decision_inputs(purpose="offender_communication"))
def test_offender_communication_never_carries_location_plan_flags_or_support_notes(
    opa: Opa, d: dict[str, Any]
) -> None:
    """(c) Whatever the consent says."""
    result = opa.decide(d)
    leaked = classes_of(d, result["allowed_fields"]) & OFFENDER_FORBIDDEN
    assert not leaked, (leaked, result, d)


@PROPERTY
@given(d=decision_inputs(agencies=("audit",), types=(*FIELDS, "unknown_type")))
def test_privacy_officers_never_read_case_content(opa: Opa, d: dict[str, Any]) -> None:
    """(d) Audit records only (audit_entry, emergency_review), whatever else the input says."""
    d["case"]["responsible"]["audit"] = d["subject"]["org"]
    result = opa.decide(d)
    assert result["allowed_fields"] == [], (result, d)


@PROPERTY
@given(
    d=OWN_CASE_MANAGEMENT,
    via_intake=st.booleans(),
)
def test_the_responsible_organisation_reads_what_section_4_says(
    opa: Opa, d: dict[str, Any], via_intake: bool
) -> None:
    """(e) No consent and no grant, purpose case_management: exactly the table's cells."""
    subject, case = d["subject"], d["case"]
    d["action"] = "read"
    if via_intake and subject["agency"] == "rj_provider":
        # Before acceptance: a provider serving the referral's jurisdiction (SPEC 4a).
        d["resource"]["type"] = "intake"
        d["resource"]["fields"] = sorted(FIELDS["intake"])
        case["responsible"].pop("rj_provider", None)
        case["jurisdiction"] = DIRECTORY.get(subject["org"], ("", ("mars",)))[1][0]
    else:
        case["responsible"][subject["agency"]] = subject["org"]
    assume(responsible_for(subject, case, d["resource"]["type"]))
    result = opa.decide(d)
    want = allowed_classes(reader(d), case["outcome_consent_all_parties"] is True)
    assert set(result["allowed_fields"]) == fields_of(d, want), (result, d)


@PROPERTY
@given(
    d=OWN_CASE_MANAGEMENT,
    data=st.data(),
)
def test_an_active_share_consent_opens_exactly_the_consent_cells(
    opa: Opa, d: dict[str, Any], data: st.DataObject
) -> None:
    """An active, current `share` permit for the subject's agency and purpose opens the cells
    that SPEC section 4 marks "consent", and nothing else."""
    subject, case = d["subject"], d["case"]
    d["action"] = "read"
    case["responsible"][subject["agency"]] = subject["org"]
    named = set(data.draw(st.lists(st.sampled_from(CLASSES), min_size=1, unique=True)))
    now = parse(d["now"])
    assert now is not None
    case["consent_provisions"] = [
        {
            "consent_id": "c-1",
            "type": "permit",
            "scope": "share",
            "status": "active",
            "agency": subject["agency"],
            "purposes": ["case_management"],
            "data_classes": sorted(named),
            **window("current", now),
        }
    ]
    result = opa.decide(d)
    want = allowed_classes(reader(d), case["outcome_consent_all_parties"] is True) | {
        c for c in named if SECTION_4[c][subject["agency"]] == CONSENT
    }
    assert set(result["allowed_fields"]) == fields_of(d, want), (result, d)


@st.composite
def inert_provisions(draw: st.DrawFn, d: dict[str, Any]) -> dict[str, Any]:
    """A provision that cannot count for this request: not active, outside its period, for
    another agency or purpose, or a permit of a scope other than `share`."""
    now = parse(d["now"])
    assert now is not None
    provision = draw(provisions(d["subject"], now))
    kind = draw(st.sampled_from(["status", "period", "agency", "purpose", "scope"]))
    if kind == "status":
        provision["status"] = draw(st.sampled_from(["withdrawn", "expired"]))
    elif kind == "period":
        provision.update(window(draw(st.sampled_from(["expired", "future", "garbage"])), now))
    elif kind == "agency":
        provision["agency"] = draw(
            st.sampled_from([a for a in (*AGENCIES, "audit") if a != d["subject"]["agency"]])
        )
    elif kind == "purpose":
        provision["purposes"] = [p for p in provision["purposes"] if p != d["purpose"]]
    else:
        provision.update(type="permit", scope=draw(st.sampled_from(["participate", "outcome"])))
    return provision


@PROPERTY
@given(d=decision_inputs(), data=st.data())
def test_withdrawn_expired_and_foreign_consents_change_nothing(
    opa: Opa, d: dict[str, Any], data: st.DataObject
) -> None:
    """SPEC section 3: consent is granular, time-limited and withdrawable; a provision that is
    not in effect for this agency and purpose must not change any answer."""
    before = opa.decide(d)
    extra = data.draw(st.lists(inert_provisions(d), min_size=1, max_size=3))
    d["case"]["consent_provisions"] = [*d["case"]["consent_provisions"], *extra]
    after = opa.decide(d)
    assert after["allowed_fields"] == before["allowed_fields"], (before, after, d)
    assert after["lawful_basis"] == before["lawful_basis"], (before, after, d)


@PROPERTY
@given(d=decision_inputs(consent=False), data=st.data())
def test_a_refusal_recorded_by_the_victim_outweighs_the_same_permit(
    opa: Opa, d: dict[str, Any], data: st.DataObject
) -> None:
    """A deny provision matching a permit leaves the answer the victim gave no consent at all
    would get (statutory routes such as safeguarding and break-glass are untouched)."""
    without = opa.decide(d)
    now = parse(d["now"])
    assert now is not None
    permit = {
        "consent_id": "c-1",
        "type": "permit",
        "scope": "share",
        "status": "active",
        "agency": d["subject"]["agency"],
        "purposes": [d["purpose"]] if isinstance(d["purpose"], str) else [],
        "data_classes": data.draw(st.lists(st.sampled_from(CLASSES), min_size=1, unique=True)),
        **window("current", now),
    }
    deny = {
        **permit,
        "consent_id": "c-2",
        "type": "deny",
        "scope": data.draw(st.sampled_from(["share", "participate", "outcome"])),
    }
    d["case"]["consent_provisions"] = data.draw(st.permutations([permit, deny]))
    both = opa.decide(d)
    assert both["allowed_fields"] == without["allowed_fields"], (without, both, d)


# --- properties of `change` -----------------------------------------------------------------
@st.composite
def change_inputs(draw: st.DrawFn) -> dict[str, Any]:
    subject = draw(subjects())
    return {
        "subject": subject,
        "command": draw(
            st.sampled_from(
                [
                    "accept",
                    "decline",
                    "record_preparation",
                    "stop",
                    "report_item",
                    "grant_consent",
                    "assess_risk",
                    "renew_endorsement",
                    "record_review_decision",
                ]
            )
        ),
        "resource": {
            "type": draw(
                st.sampled_from(
                    [*CHANGE_OWNER, "agreement_item", "agreement_item", "audit_entry", "unknown"]
                )
            ),
            "case_id": "case-1",
            "owner_org": draw(st.one_of(st.just(subject["org"]), any_org)),
            "monitoring_agency": draw(
                st.one_of(st.just(subject["agency"]), st.sampled_from([*AGENCIES, "audit", None]))
            ),
            "assigned_facilitators": draw(st.lists(st.sampled_from(USERS), max_size=2)),
        },
        "case": {
            "responsible": draw(responsibles(subject)),
            "jurisdiction": draw(st.sampled_from([*JURISDICTIONS, None])),
        },
    }


def change_member(c: dict[str, Any]) -> bool:
    subject, resource = c["subject"], c["resource"]
    if resource["type"] == "facilitator":
        # A provider manages its own facilitators only.
        return non_empty(subject["org"]) and resource["owner_org"] == subject["org"]
    return responsible_for(subject, c["case"], resource["type"])


def change_allowed(c: dict[str, Any]) -> bool:
    """SPEC section 4a, written for the write side."""
    subject, resource = c["subject"], c["resource"]
    rtype = resource["type"]
    owner = resource["monitoring_agency"] if rtype == "agreement_item" else CHANGE_OWNER.get(rtype)
    if not known_subject(subject) or owner is None or subject["agency"] != owner:
        return False
    if not change_member(c):
        return False
    if rtype in ("intake", "facilitator") and subject["role"] not in MANAGERS:
        return False  # accepting a referral and managing facilitators: coordinators
    if subject["agency"] == "rj_provider" and rtype in ("rj_case", "agreement_item"):
        # Inside a provider: the assigned facilitator or co-facilitator, or a manager.
        return subject["role"] in MANAGERS or (
            non_empty(subject["user"]) and subject["user"] in resource["assigned_facilitators"]
        )
    return True


@PROPERTY
@given(c=change_inputs())
def test_a_change_is_allowed_exactly_where_section_4a_says(opa: Opa, c: dict[str, Any]) -> None:
    """(f) Only the responsible organisation of the owning agency changes a record (before
    acceptance: a provider serving the jurisdiction accepts or declines); inside a provider only
    its managers or the assigned facilitators change the RJ case; another organisation is told
    the case does not exist."""
    result = opa.ask("change", c)
    assert isinstance(result, dict) and isinstance(result.get("allowed"), bool), result
    want = change_allowed(c)
    if result["allowed"]:
        assert want, ("allowed, SPEC says no", result, c)
    assert result["allowed"] == want, ("refused, SPEC says yes", result, c)
    subject = c["subject"]
    if (
        known_subject(subject)
        and subject["agency"] != "audit"
        and c["resource"]["type"] in (*CHANGE_OWNER, "agreement_item")
        and not change_member(c)
    ):
        assert result["reason"] == "other_organisation", (result, c)


def test_the_oracle_has_a_column_for_every_agency() -> None:
    """Guards the oracle itself: every class has a cell for every agency, and only RJ
    providers have "assigned facilitator" cells."""
    for data_class, column in SECTION_4.items():
        assert set(column) == set(AGENCIES), data_class
        assert all(
            cell != ASSIGNED or agency == "rj_provider" for agency, cell in column.items()
        ), data_class
