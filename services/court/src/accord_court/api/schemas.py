"""What the court endpoints answer. The court case is policy-filtered: item text is absent
unless every party consented to share the outcome with the court."""

from __future__ import annotations

from accord_kernel.responses import ReadModel, Records, withheld


class CourtCaseOut(ReadModel):
    court_reference: str = withheld()
    case_id: str = withheld()
    version: int = withheld("The court case's version, for If-Match")
    decisions: Records = withheld(
        "Review decisions: decision, by, notes, at, next_review_on (adjournments)"
    )
    items_status: Records = withheld("Per agreement item: item_id, status, due_date, completed_at")
    items_text: Records | None = withheld("Per item: what, owner, monitoring agency, due date")
