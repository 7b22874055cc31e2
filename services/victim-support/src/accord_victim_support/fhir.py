"""A consent as an HL7 FHIR R5 `Consent` resource, and back (docs/fhir-consent.md).

Accord consents are deny by default: a consent permits only what its permit provisions name,
and its deny provisions take away what another consent permits. In R5 the base `decision`
applies to everything a consent does not list and each `provision` is an exception to it, so
the export says `decision: deny` and lists permit provisions as plain exceptions. A deny
provision is a provision marked by a *modifier* extension (`provision-decision` = deny): a
reader that does not know the extension must not use the element (FHIR's rule for modifier
extensions), so no reader can mistake one of our denials for a permission.

This module is an adapter between the domain's consent document and fhir.resources' models;
it validates an incoming resource with fhir.resources first and then against Accord's
vocabulary, and answers every refusal as a `FhirConsentRefused` naming the FHIR element, never
repeating its value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from accord_kernel.domain_rules import PURPOSES as PURPOSE_CODES
from fhir.resources.consent import Consent as FhirConsent
from pydantic import ValidationError

from accord_victim_support.domain.errors import ValidationFailed
from accord_victim_support.domain.vocabulary import AGENCIES, DATA_CLASSES

MEDIA_TYPE = "application/fhir+json"
# Canonical identifiers of Accord's vocabularies: names, not addresses to fetch.
BASE = "https://accord.example/fhir"
SCOPE_SYSTEM = f"{BASE}/CodeSystem/consent-scope"
AGENCY_SYSTEM = f"{BASE}/CodeSystem/agency"
PURPOSE_SYSTEM = f"{BASE}/CodeSystem/purpose"
DATA_CLASS_SYSTEM = f"{BASE}/CodeSystem/data-class"
LAWFUL_BASIS_SYSTEM = f"{BASE}/CodeSystem/lawful-basis"
VERIFICATION_SYSTEM = f"{BASE}/CodeSystem/verification"
USER_SYSTEM = f"{BASE}/NamingSystem/user"
PROVISION_DECISION = f"{BASE}/StructureDefinition/provision-decision"
CONSENT_STATUS = f"{BASE}/StructureDefinition/consent-status"
URI_SYSTEM = "urn:ietf:rfc:3986"
CONSENT_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
PARTICIPATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SEEN_ALONE = "seen-alone"
# Accord's status -> FHIR ConsentState: a withdrawn or lapsed consent is no longer in force.
FHIR_STATUS = {"active": "active", "withdrawn": "inactive", "expired": "inactive"}
SCOPES = ("participate", "share", "outcome")
LAWFUL_BASES = ("consent", "safeguarding", "legal_obligation", "vital_interests", "public_task")
MAX_PROVISIONS = 20


class FhirConsentRefused(ValidationFailed):
    """A FHIR Consent that is not valid FHIR R5, or says something Accord cannot record."""

    code = "invalid_fhir_consent"


# --- export ------------------------------------------------------------------------------------


def _moment(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _uri(value: str) -> dict[str, str]:
    return {"system": URI_SYSTEM, "value": f"urn:uuid:{value}"}


def _coding(system: str, code: str) -> dict[str, str]:
    return {"system": system, "code": code}


def _agency(agency: str) -> dict[str, Any]:
    return {"type": "Organization", "identifier": {"system": AGENCY_SYSTEM, "value": agency}}


def _provision(provision: Mapping[str, Any], scope: str) -> dict[str, Any]:
    exported: dict[str, Any] = {
        "period": {"start": _moment(provision["start"]), "end": _moment(provision["end"])},
        "actor": [
            {
                "role": {"coding": [_coding(PARTICIPATION_SYSTEM, "IRCP")]},
                "reference": _agency(provision["agency"]),
            }
        ],
        "purpose": [_coding(PURPOSE_SYSTEM, p) for p in provision["purposes"]],
    }
    if scope != "participate":
        exported["action"] = [{"coding": [_coding(CONSENT_ACTION_SYSTEM, "disclose")]}]
    if provision["data_classes"]:
        exported["code"] = [
            {"coding": [_coding(DATA_CLASS_SYSTEM, c)]} for c in provision["data_classes"]
        ]
    if provision["type"] == "deny":
        exported["modifierExtension"] = [{"url": PROVISION_DECISION, "valueCode": "deny"}]
    return exported


def to_fhir(document: Mapping[str, Any]) -> dict[str, Any]:
    """The FHIR R5 Consent of a consent document (`consent_document`, as the policy let the
    caller read it), validated by fhir.resources. Fields the policy withheld are left out."""
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "status": FHIR_STATUS[document["status"]],
        "extension": [{"url": CONSENT_STATUS, "valueCode": document["status"]}],
        "decision": "deny",
    }
    if "consent_id" in document:
        resource["id"] = document["consent_id"]
        resource["identifier"] = [_uri(document["consent_id"])]
    if "scope" in document:
        resource["category"] = [{"coding": [_coding(SCOPE_SYSTEM, document["scope"])]}]
    if "grantor" in document:
        victim = {"type": "Patient", "identifier": _uri(document["grantor"])}
        resource["subject"] = victim
        resource["grantor"] = [victim]
    granted = next((h["at"] for h in document.get("history", []) if h["action"] == "granted"), None)
    if granted is not None:
        resource["date"] = _moment(granted)[:10]
    provisions = document.get("provisions")
    if provisions:
        resource["period"] = {
            "start": _moment(min(_as_datetime(p["start"]) for p in provisions)),
            "end": _moment(max(_as_datetime(p["end"]) for p in provisions)),
        }
        agencies = sorted({p["agency"] for p in provisions if p["type"] == "permit"})
        if agencies:
            resource["grantee"] = [_agency(a) for a in agencies]
        resource["provision"] = [_provision(p, document.get("scope", "share")) for p in provisions]
    if "lawful_basis" in document:
        resource["regulatoryBasis"] = [
            {"coding": [_coding(LAWFUL_BASIS_SYSTEM, document["lawful_basis"])]}
        ]
    if document.get("seen_alone") is True:
        verification: dict[str, Any] = {
            "verified": True,
            "verificationType": {"coding": [_coding(VERIFICATION_SYSTEM, SEEN_ALONE)]},
        }
        if "verified_by" in document:
            verification["verifiedBy"] = {
                "type": "Practitioner",
                "identifier": {"system": USER_SYSTEM, "value": document["verified_by"]},
            }
        if granted is not None:
            verification["verificationDate"] = [_moment(granted)]
        resource["verification"] = [verification]
    # The export goes out only as fhir.resources reads it back: a bug here is a 500 in our
    # tests, never an invalid resource in someone else's system.
    return FhirConsent.model_validate(resource).model_dump(mode="json", exclude_none=True)


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# --- import ------------------------------------------------------------------------------------


def _refuse(element: str, message: str) -> FhirConsentRefused:
    return FhirConsentRefused(f"{element}: {message}", {"element": element})


def _codes(codings: Sequence[Any] | None, system: str) -> list[str]:
    return [c.code for c in codings or [] if c.system == system and c.code]


def _concept_codes(concepts: Sequence[Any] | None, system: str) -> list[str]:
    return [code for concept in concepts or [] for code in _codes(concept.coding, system)]


def _one(values: list[str], element: str, allowed: Sequence[str]) -> str:
    if len(values) != 1 or values[0] not in allowed:
        raise _refuse(element, "needs exactly one code of " + ", ".join(allowed))
    return values[0]


def _instant(value: Any, element: str) -> datetime:
    # fhir.resources gives a datetime only for a full dateTime with a time zone; a date or a
    # partial date ("2026") is too coarse for a consent's period.
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _refuse(element, "must be a dateTime with a time and a time zone")
    return value


def _no_unknown_modifiers(extensions: Sequence[Any] | None, element: str, known: set[str]) -> None:
    for extension in extensions or []:
        if extension.url not in known:
            raise _refuse(element, "carries a modifier extension Accord does not understand")


def _import_provision(provision: Any, index: int, scope: str) -> dict[str, Any]:
    element = f"Consent.provision[{index}]"
    _no_unknown_modifiers(
        provision.modifierExtension, f"{element}.modifierExtension", {PROVISION_DECISION}
    )
    decisions = [
        e.valueCode for e in provision.modifierExtension or [] if e.url == PROVISION_DECISION
    ]
    kind = "deny" if decisions == ["deny"] else "permit"
    if decisions not in ([], ["deny"], ["permit"]):
        raise _refuse(f"{element}.modifierExtension", "provision-decision is deny or permit")
    if provision.provision:
        raise _refuse(f"{element}.provision", "nested provisions are not supported")
    for unsupported in ("data", "dataPeriod", "expression", "securityLabel", "resourceType"):
        if getattr(provision, unsupported):
            raise _refuse(f"{element}.{unsupported}", "is not supported; name data classes in code")
    if provision.period is None or provision.period.start is None or provision.period.end is None:
        raise _refuse(f"{element}.period", "needs a start and an end")
    actors = provision.actor or []
    if len(actors) != 1 or actors[0].reference is None or actors[0].reference.identifier is None:
        raise _refuse(f"{element}.actor", "names exactly one agency by identifier")
    identifier = actors[0].reference.identifier
    if identifier.system != AGENCY_SYSTEM or identifier.value not in AGENCIES:
        raise _refuse(f"{element}.actor[0].reference", "must identify an Accord agency")
    purposes = _codes(provision.purpose, PURPOSE_SYSTEM)
    if not purposes or len(purposes) != len(provision.purpose or []):
        raise _refuse(f"{element}.purpose", "needs one or more Accord purpose codes")
    if any(p not in PURPOSE_CODES for p in purposes):
        raise _refuse(f"{element}.purpose", "names a purpose Accord does not know")
    data_classes = _concept_codes(provision.code, DATA_CLASS_SYSTEM)
    if len(data_classes) != len(provision.code or []) or any(
        c not in DATA_CLASSES for c in data_classes
    ):
        raise _refuse(f"{element}.code", "names only Accord data classes")
    return {
        "type": kind,
        "agency": identifier.value,
        "purposes": purposes,
        "data_classes": data_classes,
        "start": _instant(provision.period.start, f"{element}.period.start"),
        "end": _instant(provision.period.end, f"{element}.period.end"),
    }


def from_fhir(resource: Any) -> dict[str, Any]:
    """The arguments of a consent grant from a FHIR R5 Consent, or `FhirConsentRefused`.

    Only what Accord can record exactly is accepted: an active consent, deny by default, with
    the seen-alone attestation, one scope and provisions over Accord's agencies, purposes and
    data classes. Anything else is refused rather than recorded as something it did not say."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Consent":
        raise _refuse("resourceType", "must be Consent")
    try:
        consent = FhirConsent.model_validate(resource)
    except ValidationError as exc:
        # Locations and error kinds only: the values may be a victim's data.
        errors = [
            {"element": ".".join(str(p) for p in e["loc"]), "error": e["type"]}
            for e in exc.errors()[:20]
        ]
        raise FhirConsentRefused(
            "not a valid FHIR R5 Consent", {"element": "Consent", "errors": errors}
        ) from exc
    _no_unknown_modifiers(consent.modifierExtension, "Consent.modifierExtension", set())
    if consent.status != "active":
        raise _refuse("Consent.status", "only an active consent can be recorded")
    if consent.decision != "deny":
        raise _refuse(
            "Consent.decision",
            "must be deny: Accord consents permit only what their provisions name",
        )
    scope = _one(_concept_codes(consent.category, SCOPE_SYSTEM), "Consent.category", SCOPES)
    seen_alone = any(
        v.verified is True
        and v.verificationType is not None
        and SEEN_ALONE in _codes(v.verificationType.coding, VERIFICATION_SYSTEM)
        for v in consent.verification or []
    )
    bases = _concept_codes(consent.regulatoryBasis, LAWFUL_BASIS_SYSTEM)
    lawful_basis = _one(bases, "Consent.regulatoryBasis", LAWFUL_BASES) if bases else "consent"
    provisions = consent.provision or []
    if not provisions or len(provisions) > MAX_PROVISIONS:
        raise _refuse("Consent.provision", f"needs 1 to {MAX_PROVISIONS} provisions")
    return {
        "scope": scope,
        "seen_alone": seen_alone,
        "lawful_basis": lawful_basis,
        "provisions": [_import_provision(p, i, scope) for i, p in enumerate(provisions)],
    }
