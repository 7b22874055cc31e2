"""The deployment's directory of organisations (SPEC section 4a): police forces, victim-services
charities, RJ providers, courts. It is deployment data, not code: one JSON file that OPA also
loads, validated when a service starts so that a typo stops the service instead of a case."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from accord_kernel.identity import AGENCIES
from accord_kernel.problems import Problem

OrganisationId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: OrganisationId
    agency: str
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    jurisdictions: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_agency(self) -> Organisation:
        if self.agency not in AGENCIES:
            raise ValueError(f"organisation {self.id}: unknown agency {self.agency!r}")
        return self


class OrganisationDirectory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    organisations: list[Organisation]

    @model_validator(mode="after")
    def _unique_ids(self) -> OrganisationDirectory:
        ids = [o.id for o in self.organisations]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"organisation ids repeat: {repeated}")
        return self

    def get(self, org_id: str) -> Organisation | None:
        return next((o for o in self.organisations if o.id == org_id), None)

    def is_member(self, org_id: str, agency: str) -> bool:
        found = self.get(org_id)
        return found is not None and found.agency == agency

    def require(self, org_id: str, agency: str, jurisdiction: str, field: str) -> str:
        """The id of an organisation of `agency` serving `jurisdiction`, or a 422 naming the
        field (the choice was the caller's, so the caller can correct it)."""
        found = self.get(org_id)
        if found is None or found.agency != agency or jurisdiction not in found.jurisdictions:
            raise Problem(
                422,
                "unknown_organisation",
                "Unknown organisation",
                f"'{field}' must name a {agency} organisation of the directory that "
                f"serves {jurisdiction}.",
                errors=[
                    {
                        "field": field,
                        "message": "not an organisation of the directory",
                        "kind": "unknown_organisation",
                    }
                ],
            )
        return found.id

    def serving(self, agency: str, jurisdiction: str) -> list[Organisation]:
        return [
            o for o in self.organisations if o.agency == agency and jurisdiction in o.jurisdictions
        ]


@cache
def load_directory(path: Path) -> OrganisationDirectory:
    """Reads and validates the directory; a broken file raises at start-up, naming the file."""
    try:
        return OrganisationDirectory.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"organisation directory {path} is invalid: {exc}") from exc
