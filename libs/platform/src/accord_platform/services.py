"""The five services of a platform run: where each listens and how it is started."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    agency: str
    port: int
    command: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    ServiceSpec("referral", "police", 8101, "accord-referral"),
    ServiceSpec("victim-support", "victim services", 8102, "accord-victim-support"),
    ServiceSpec("conference", "RJ providers", 8103, "accord-conference"),
    ServiceSpec("court", "courts", 8104, "accord-court"),
    ServiceSpec("audit", "privacy officers", 8105, "accord-audit"),
)
