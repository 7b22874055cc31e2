"""Training mode (issue 21 item 1, SPEC 8): a training deployment and a live one never take
each other's tokens, every answer says which kind of deployment gave it, every portal page
carries the Training banner, and a training deployment takes no person data that does not
come from the synthetic generator."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.deployment import SYNTHETIC_HEADER, synthetic_mark
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.identity import IssuerConfig, TokenVerifier
from accord_kernel.problems import Problem
from accord_platform.harness import InProcessPlatform, eventually
from accord_portal.config import PortalSettings
from accord_portal.main import create_app
from accord_referral.examples import referral
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def bearer(key_dir: Path, *, training: bool) -> dict[str, str]:
    token = mint(key_dir, agency="police", role="officer", training=training)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def live_referral(infrastructure: Any, tmp_path: Path) -> Any:
    """The live referral service's real API (no relay or consumer, so nothing it records
    reaches Kafka where the training deployment would read it), trusting the same keys as
    the training deployment: only the deployment kind tells their tokens apart."""
    database = "live_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    return InProcessPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=infrastructure.postgres.url(database),
        work_dir=tmp_path,
        services=("referral",),
    )


async def test_a_live_deployment_refuses_training_tokens_and_says_it_is_live(
    live_referral: InProcessPlatform, training_platform: InProcessPlatform
) -> None:
    service = live_referral.make("referral")
    # The training deployment's own keys: a shared key must not be enough to cross.
    live_referral.key_dir = training_platform.key_dir
    service.runtime.verifier = TokenVerifier(
        training_platform.settings["referral"].jwks_file, "accord-dev", "accord"
    )
    async with service.client as client:
        refused = await client.get(
            "/referrals", headers=bearer(live_referral.key_dir, training=True)
        )
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "unauthorized"
        assert "training token" in refused.json()["detail"]
        assert refused.headers["Accord-Deployment"] == "live"
        accepted = await client.get(
            "/referrals", headers=bearer(live_referral.key_dir, training=False)
        )
        assert accepted.status_code == 200
        assert accepted.headers["Accord-Deployment"] == "live"
    service.runtime.app.close()


async def test_a_training_deployment_refuses_live_tokens_and_says_it_is_training(
    training_platform: InProcessPlatform,
) -> None:
    keys = training_platform.key_dir
    for name in training_platform.services:
        client = training_platform.client(name)
        refused = await client.get("/health/live")
        assert refused.headers["Accord-Deployment"] == "training", name
    client = training_platform.client("referral")
    refused = await client.get("/referrals", headers=bearer(keys, training=False))
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert "live token" in refused.json()["detail"]
    assert refused.headers["Accord-Deployment"] == "training"
    accepted = await client.get("/referrals", headers=bearer(keys, training=True))
    assert accepted.status_code == 200
    assert accepted.headers["Accord-Deployment"] == "training"


async def test_a_training_deployment_takes_only_synthetic_person_data(
    training_platform: InProcessPlatform,
) -> None:
    client = training_platform.client("referral")
    token = bearer(training_platform.key_dir, training=True)
    real = await client.post("/referrals", json=referral(), headers=token)
    assert real.status_code == 422
    assert real.json()["code"] == "synthetic_data_required"
    forged = await client.post(
        "/referrals", json=referral(), headers={**token, SYNTHETIC_HEADER: "from the live system"}
    )
    assert forged.status_code == 422
    made = await client.post(
        "/referrals", json=referral(), headers={**token, SYNTHETIC_HEADER: synthetic_mark(7)}
    )
    assert made.status_code == 201, made.text
    victim = await training_platform.client("victim-support").post(
        f"/cases/{made.json()['case_id']}/victim",
        json={"name": "Real Person", "preferred_contact_method": "phone"},
        headers=bearer(training_platform.key_dir, training=True),
    )
    assert victim.status_code == 422
    assert victim.json()["code"] == "synthetic_data_required"


def test_a_training_realm_marks_its_tokens_as_training(tmp_path: Path) -> None:
    """An issuer configured as a training realm (a Keycloak realm `accord-training`, say):
    its tokens are training tokens whatever they claim, so a live deployment trusting that
    realm by mistake still refuses them."""
    _, jwks = ensure_dev_keys(tmp_path)
    realm = "http://127.0.0.1:8180/realms/accord-training"
    token = mint(tmp_path, agency="police", role="officer", issuer=realm)
    issuers = [IssuerConfig(issuer=realm, jwks_file=jwks, training=True)]
    live = TokenVerifier(None, realm, "accord", issuers=issuers)
    with pytest.raises(Problem) as refused:
        live.verify(token)
    assert refused.value.status == 401
    training = TokenVerifier(None, realm, "accord", issuers=issuers, training=True)
    assert training.verify(token).agency == "police"


def test_a_deployment_claim_of_another_shape_is_a_401(tmp_path: Path) -> None:
    import jwt
    from accord_kernel.dev_tokens import _kid, _load

    private, jwks = ensure_dev_keys(tmp_path)
    now = int(time.time())
    for training in (True, False):
        verifier = TokenVerifier(jwks, "accord-dev", "accord", training=training)
        for odd in ("Training", 1, None, ["training"]):
            claims = {
                "sub": "u",
                "agency": "police",
                "role": "officer",
                "org": "north-police",
                "iss": "accord-dev",
                "aud": "accord",
                "iat": now,
                "exp": now + 60,
                "deployment": odd,
            }
            token = jwt.encode(
                claims, _load(private), algorithm="EdDSA", headers={"kid": _kid(private)}
            )
            with pytest.raises(Problem) as refused:
                verifier.verify(token)
            assert refused.value.status == 401 and "deployment" in str(refused.value.detail)


@pytest.mark.parametrize("training", [True, False])
def test_every_portal_page_carries_the_training_banner_only_in_training(
    tmp_path: Path, training: bool
) -> None:
    settings = PortalSettings(data_dir=tmp_path, training=training)
    with TestClient(create_app(settings)) as client:
        for path in ("/", "/signed-out"):
            page = client.get(path)
            assert ('id="training-banner-title">Training<' in page.text) is training, path
            assert page.headers["Accord-Deployment"] == ("training" if training else "live")


async def test_events_never_cross_between_a_live_and_a_training_deployment_on_one_kafka(
    platform: InProcessPlatform, training_platform: InProcessPlatform
) -> None:
    """The live platform (the topics of docs/asyncapi.yaml) and the training one (the same
    topics under its prefix) share the session's Kafka: each RJ provider learns of its own
    deployment's referral and never of the other's."""
    live = await platform.client("referral").post(
        "/referrals", json=referral(), headers=platform.token("police", "officer")
    )
    training = await training_platform.client("referral").post(
        "/referrals",
        json=referral(),
        headers={
            **bearer(training_platform.key_dir, training=True),
            SYNTHETIC_HEADER: "accord-synthetic/1",
        },
    )
    assert live.status_code == 201 and training.status_code == 201
    live_id, training_id = live.json()["case_id"], training.json()["case_id"]
    live_coordinator = platform.token("rj_provider", "coordinator")
    training_coordinator = {
        "Authorization": "Bearer "
        + mint(training_platform.key_dir, agency="rj_provider", role="coordinator", training=True)
    }

    async def seen(where: InProcessPlatform, case_id: str, headers: dict[str, str]) -> int:
        answer = await where.client("conference").get(f"/intake/{case_id}", headers=headers)
        return answer.status_code

    async def both_arrived() -> bool:
        return (
            await seen(platform, live_id, live_coordinator) == 200
            and await seen(training_platform, training_id, training_coordinator) == 200
        )

    await eventually(both_arrived)
    assert await seen(training_platform, live_id, training_coordinator) == 404
    assert await seen(platform, training_id, live_coordinator) == 404
