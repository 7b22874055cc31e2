"""Domain errors of the police referral service.

Every error carries a stable machine `code`, a `details` dict and the HTTP status family the API
layer maps it to (RFC 9457): 422 when an argument is malformed or a decision is inconsistent with
what the referral records, 409 when the referral's current state does not allow the command.
"""

from __future__ import annotations

from accord_kernel import domain_rules as rules


class ReferralError(rules.DomainError):
    """Everything the referral domain refuses: one class for its API and inbox to catch."""

    code = "referral_error"
    title = "The referral cannot do that now"


# The kernel's class comes first so that its code and HTTP status win over the base's.
class ValidationFailed(rules.ValidationFailed, ReferralError):
    """A command argument is malformed or outside its controlled vocabulary."""


class InvalidDashAnswers(ValidationFailed):
    """The DASH checklist was not answered exactly once per question with a yes or a no."""

    code = "invalid_dash_answers"


class InvalidDeadlines(ValidationFailed):
    """Pack deadlines or due dates that cannot be turned into working-day deadlines."""

    code = "invalid_deadlines"


class ReasonsRequired(ValidationFailed):
    """An ineligible decision without reason codes cannot be explained to the referrer."""

    code = "reasons_required"


class OffenderInitiated(ValidationFailed):
    """Principle 2: a referral started by the person who caused harm is never eligible, even if
    a policy decision claims otherwise."""

    code = "offender_initiated"


class RiskBandMismatch(ValidationFailed):
    """The eligibility decision was taken on a risk band other than the one on record."""

    code = "risk_band_mismatch"


class InvalidState(rules.InvalidState, ReferralError):
    """The referral's current status does not allow the command (e.g. withdrawing twice)."""


class RiskAssessmentRequired(ReferralError):
    """Screening needs a current DASH assessment: none yet, or a new incident made it stale."""

    code = "risk_assessment_required"
    http_status = 409
