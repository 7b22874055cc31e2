"""Base for request bodies: an unknown field is refused (422), never silently dropped."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
