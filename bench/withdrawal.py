"""Issue 9: consent withdrawal until every service enforces it.

Each run prepares a case (untimed): a police referral, the victim registered with a safety
flag, a share consent letting police see safety flags for safeguarding, a participate consent,
and the RJ provider accepting the case; it waits until police actually see the flag. Then the
advocate withdraws both consents, one call after the other, and the run measures, each from
the start of its own withdrawal call, until police's safety-flags read at the source
(GET /cases/{id}/safety-flags on victim services, with the police token) returns none, and
until the RJ case
(GET /cases/{id} on conference) is stopped with `victim_withdrew` - without anyone acting on it.

Baseline in the same run: Kafka's raw produce -> consume round trip with aiokafka, sampled
between runs on the same broker.

    uv run python -m bench.withdrawal [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from accord_platform.harness import InProcessPlatform
from accord_platform.infra import Infrastructure

from bench.journeys import platform_on, seconds_until
from bench.kafka_round_trip import KafkaRoundTrip
from bench.measure import Distribution, Stopwatch, progress_bar
from bench.referrals import consent, referral, victim
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, quiet_kafka_client_logs, running

NAME = "withdrawal"
POLL_SECONDS = 0.01
SETUP_POLL_SECONDS = 0.05
WARM_UP = 1


class Agencies:
    """Each agency's client and token, as in the integration tests."""

    def __init__(self, platform: InProcessPlatform) -> None:
        self.platform = platform
        self.police = platform.token("police", "officer")
        self.advocate = platform.token("victim_services", "advocate")
        self.coordinator = platform.token("rj_provider", "coordinator", user="coord-1")

    async def post(
        self, service: str, path: str, headers: dict[str, str], body: dict[str, Any], expected: int
    ) -> Any:
        response = await self.platform.client(service).post(path, json=body, headers=headers)
        if response.status_code != expected:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    async def police_see_flags(self, case_id: str) -> bool:
        response = await self.platform.client("victim-support").get(
            f"/cases/{case_id}/safety-flags",
            params={"purpose": "safeguarding"},
            headers=self.police,
        )
        if response.status_code not in (200, 403):
            raise RuntimeError(f"police flags answered {response.status_code}: {response.text}")
        return response.status_code == 200 and bool(response.json().get("flags"))

    async def case_status(self, case_id: str) -> dict[str, Any] | None:
        response = await self.platform.client("conference").get(
            f"/cases/{case_id}", headers=self.coordinator
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RuntimeError(f"RJ case answered {response.status_code}: {response.text}")
        return dict(response.json())

    async def eligible_in_intake(self, case_id: str) -> bool:
        response = await self.platform.client("conference").get(
            f"/intake/{case_id}", headers=self.coordinator
        )
        return response.status_code == 200 and str(response.json()["status"]).startswith("eligible")


@dataclass
class Case:
    case_id: str
    share_consent: str
    participate_consent: str


async def prepare(agencies: Agencies) -> Case:
    """Everything before the withdrawal, untimed."""
    posted = await agencies.post("referral", "/referrals", agencies.police, referral(), 201)
    case_id = str(posted["case_id"])
    clock = Stopwatch()

    async def registered() -> bool:
        # Victim services learns of the case from the referral's event first.
        response = await agencies.platform.client("victim-support").post(
            f"/cases/{case_id}/victim", json=victim(), headers=agencies.advocate
        )
        if response.status_code not in (201, 404):
            raise RuntimeError(f"victim answered {response.status_code}: {response.text}")
        return response.status_code == 201

    await seconds_until(registered, clock, SETUP_POLL_SECONDS, f"victim of {case_id}")
    await agencies.post(
        "victim-support",
        f"/cases/{case_id}/safety-flags",
        agencies.advocate,
        {"code": "stalking", "severity": "high"},
        204,
    )
    share = await agencies.post(
        "victim-support",
        f"/cases/{case_id}/consents",
        agencies.advocate,
        consent("share", "police", ["safeguarding"], ["safety.flags"]),
        201,
    )
    participate = await agencies.post(
        "victim-support",
        f"/cases/{case_id}/consents",
        agencies.advocate,
        consent("participate", "rj_provider", ["case_management"], []),
        201,
    )
    await seconds_until(
        lambda: agencies.eligible_in_intake(case_id),
        clock,
        SETUP_POLL_SECONDS,
        f"case {case_id} eligible in intake",
    )
    await agencies.post("conference", f"/intake/{case_id}/accept", agencies.coordinator, {}, 201)
    await seconds_until(
        lambda: agencies.police_see_flags(case_id),
        clock,
        SETUP_POLL_SECONDS,
        f"police seeing the flags of {case_id}",
    )

    async def case_open() -> bool:
        case = await agencies.case_status(case_id)
        return case is not None and case["status"] != "stopped"

    await seconds_until(case_open, clock, SETUP_POLL_SECONDS, f"RJ case {case_id} open")
    return Case(case_id, str(share["consent_id"]), str(participate["consent_id"]))


@dataclass
class Withdrawal:
    """Seconds until each effect held, each from the start of its own withdrawal call, and
    until both held from the start of the first call."""

    police_flags_gone: float
    rj_case_stopped: float
    everywhere: float
    withdrawal_call: float = 0.0  # the share withdrawal's own request, until its 204
    refused_on_first_read: bool = False  # police's first read after the 204 returned none


async def withdraw(agencies: Agencies, case: Case) -> Withdrawal:
    case_id = case.case_id

    async def flags_gone() -> bool:
        return not await agencies.police_see_flags(case_id)

    async def stopped() -> bool:
        status = await agencies.case_status(case_id)
        return status is not None and status["status"] == "stopped"

    first = Stopwatch()
    await agencies.post(
        "victim-support", f"/consents/{case.share_consent}/withdrawal", agencies.advocate, {}, 204
    )
    withdrawal_call = first.elapsed()
    refused_at_once = await flags_gone()
    police = asyncio.create_task(
        seconds_until(flags_gone, first, POLL_SECONDS, f"police losing the flags of {case_id}")
    )
    second = Stopwatch()
    await agencies.post(
        "victim-support",
        f"/consents/{case.participate_consent}/withdrawal",
        agencies.advocate,
        {},
        204,
    )
    offset = first.elapsed() - second.elapsed()
    rj = asyncio.create_task(
        seconds_until(stopped, second, POLL_SECONDS, f"RJ case {case_id} stopping")
    )
    police_seconds, rj_seconds = await asyncio.gather(police, rj)
    final = await agencies.case_status(case_id)
    if final is None or final.get("stop_reason") != "victim_withdrew":
        raise RuntimeError(f"RJ case {case_id} stopped for another reason: {final}")
    return Withdrawal(
        police_seconds,
        rj_seconds,
        max(police_seconds, rj_seconds + offset),
        withdrawal_call,
        refused_at_once,
    )


async def measure(infrastructure: Infrastructure, arguments: argparse.Namespace) -> dict[str, Any]:
    database = new_database(infrastructure, "bench_withdrawal")
    async with (
        platform_on(infrastructure, database) as platform,
        KafkaRoundTrip(infrastructure.kafka_bootstrap) as kafka,
    ):
        agencies = Agencies(platform)
        payload = json.dumps({"consent_id": str(uuid.uuid4()), "status": "withdrawn"}).encode()
        for _ in range(WARM_UP):
            await withdraw(agencies, await prepare(agencies))
            await kafka.once(payload)
        withdrawals: list[Withdrawal] = []
        round_trips: list[float] = []
        with progress_bar() as bars:
            task = bars.add_task(
                "withdrawals (setup untimed) + Kafka round trips", total=arguments.runs
            )
            for _ in range(arguments.runs):
                case = await prepare(agencies)
                withdrawals.append(await withdraw(agencies, case))
                for _ in range(arguments.baseline_per_run):
                    round_trips.append(await kafka.once(payload))
                bars.advance(task)
    return {"withdrawals": withdrawals, "round_trips": round_trips}


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    result = BenchmarkResult(
        NAME, "Consent withdrawal until every service enforces it", 9, argv, vars(arguments)
    )
    result.method = [
        "Kafka, OPA and PostgreSQL, started for the run; all five services in this process "
        "(`InProcessPlatform`), each with its outbox relay and inbox consumer.",
        "Per run, untimed: referral, victim with a `stalking` flag, a share consent (police, "
        "safeguarding, safety.flags), a participate consent, RJ provider accepts; wait until "
        "police see the flag. Timed: the advocate withdraws the share consent, then at once the "
        "participate consent; police's GET /cases/{id}/safety-flags and the coordinator's "
        f"GET /cases/{{id}} are polled every {POLL_SECONDS * 1000:.0f} ms (each poll is itself "
        "a policy-enforced, recorded read).",
        "Police read the flags at their source (victim services decides each read from the "
        "consents it holds), so they stop seeing them on the first read after the withdrawal "
        "commits; the RJ case stops when conference consumes the consent change and its rule "
        "stops the case.",
        f"{arguments.runs} runs after {WARM_UP} warm-up run; baseline: "
        f"{arguments.baseline_per_run} Kafka produce -> consume round trips after each run "
        "(one-partition topic, idempotent producer, acks=all).",
    ]
    with running("kafka", "opa", "postgres") as infrastructure:
        measured = asyncio.run(measure(infrastructure, arguments))
    report(result, measured)
    return result


def report(result: BenchmarkResult, measured: dict[str, Any]) -> None:
    withdrawals: list[Withdrawal] = measured["withdrawals"]
    police = Distribution.of([w.police_flags_gone for w in withdrawals])
    rj = Distribution.of([w.rj_case_stopped for w in withdrawals])
    everywhere = Distribution.of([w.everywhere for w in withdrawals])
    call = Distribution.of([w.withdrawal_call for w in withdrawals])
    at_once = sum(w.refused_on_first_read for w in withdrawals)
    kafka = Distribution.of(measured["round_trips"])
    result.table(
        "Withdrawal until enforced (from the start of the withdrawal call)",
        ["effect", "n", "p50 ms", "p99 ms", "mean ms", "max ms"],
        [
            [
                label,
                dist.count,
                dist.as_ms()["p50_ms"],
                dist.as_ms()["p99_ms"],
                dist.as_ms()["mean_ms"],
                dist.as_ms()["max_ms"],
            ]
            for label, dist in (
                ("the share withdrawal request itself (until its 204)", call),
                ("police's safety-flags read at the source returns none (share consent)", police),
                ("RJ case stopped, victim_withdrew (participate consent)", rj),
                ("both, from the first withdrawal call", everywhere),
                ("baseline: Kafka produce -> consume round trip", kafka),
            )
        ],
    )
    for share in ("p50", "p99"):
        result.ratio(
            f"withdrawal enforced everywhere {share}",
            getattr(everywhere, share),
            getattr(kafka, share),
            f"Kafka round trip {share}",
            "s",
        )
        result.ratio(
            f"police flags gone {share}",
            getattr(police, share),
            getattr(kafka, share),
            f"Kafka round trip {share}",
            "s",
        )
        result.ratio(
            f"RJ case stopped {share}",
            getattr(rj, share),
            getattr(kafka, share),
            f"Kafka round trip {share}",
            "s",
        )
    result.note(
        f"With {police.count} runs the p99 is the slowest run. The police effect is one "
        "withdrawal commit plus one policy-enforced read; stopping the RJ case needs "
        "the commit, the outbox relay's next poll, one Kafka hop and the recipient's "
        "inbox transaction."
    )
    result.note(
        f"Police's first read after the withdrawal answered 204 returned no flags in {at_once} "
        f"of {len(withdrawals)} runs: the police effect is the withdrawal request plus one read."
    )
    result.figures = {
        "withdrawal_call": call.as_ms(),
        "refused_on_first_read": at_once,
        "police_flags_gone": police.as_ms(),
        "rj_case_stopped": rj.as_ms(),
        "everywhere": everywhere.as_ms(),
        "kafka_round_trip": kafka.as_ms(),
    }


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.withdrawal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--runs", type=int, default=20, help="withdrawals measured")
    parse.add_argument(
        "--baseline-per-run", type=int, default=10, help="Kafka round trips sampled after each run"
    )
    return parse


def main(argv: list[str]) -> BenchmarkResult:
    quiet_kafka_client_logs()
    return record(run(parser().parse_args(argv), argv))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
