"""Training mode (SPEC 8): a training deployment is the same software marked as training.

Every API response says which kind of deployment answered (`Accord-Deployment`), and a token
says which kind of deployment it was issued for: a token from an issuer configured as a
training realm, or one carrying the claim `deployment: training`, is a training token. A live
deployment refuses training tokens and a training deployment refuses live ones, so a
trainee's account can never reach a real case and a real account never lands in a sandbox
whose data a trainer resets."""

from __future__ import annotations

import logging
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord_kernel.problems import PROBLEM_MEDIA_TYPE, Problem, problem_base

log = logging.getLogger("accord.deployment")

DEPLOYMENT_HEADER = "Accord-Deployment"
DEPLOYMENT_CLAIM = "deployment"
TRAINING = "training"
LIVE = "live"


def deployment_name(training: bool) -> str:
    return TRAINING if training else LIVE


class DeploymentHeaderMiddleware:
    """Adds `Accord-Deployment: training|live` to every HTTP response, problems and health
    checks included (a pure ASGI middleware: nothing about the body changes)."""

    def __init__(self, app: ASGIApp, *, training: bool) -> None:
        self.app = app
        self.value = deployment_name(training)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[DEPLOYMENT_HEADER] = self.value
            await send(message)

        await self.app(scope, receive, marked)


# Where people and incidents enter the platform: the referral (police) and the victim record
# (victim services). A training deployment takes these only from the synthetic generator.
SYNTHETIC_HEADER = "Accord-Synthetic-Data"
PERSON_DATA_ROUTES = (
    ("POST", re.compile(r"^/referrals/?$")),
    ("POST", re.compile(r"^/cases/[^/]+/victim/?$")),
)
SYNTHETIC_MARK = re.compile(r"^accord-synthetic/[0-9]{1,19}$")


def synthetic_mark(seed: int) -> str:
    """The header value the generator sends with everything it made from `seed`."""
    return f"accord-synthetic/{seed}"


class SyntheticDataGuard:
    """In a training deployment, refuses (422 synthetic_data_required) a referral or victim
    record that does not come from the synthetic generator, before the body is read, so real
    data cannot be imported into a sandbox whose users are trainees. The mark guards against
    mistakes (pasting a real case, pointing an import at the wrong deployment), not against a
    caller who forges it: a trainee's token still only reaches the training deployment."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _person_data(scope["method"], scope["path"]):
            mark = Headers(scope=scope).get(SYNTHETIC_HEADER, "")
            if not SYNTHETIC_MARK.fullmatch(mark):
                log.info("non-synthetic person data refused path=%s", scope["path"])
                problem = Problem(
                    422,
                    "synthetic_data_required",
                    "Only synthetic data in a training deployment",
                    f"a training deployment takes referrals and victim records only with the "
                    f"{SYNTHETIC_HEADER} header of the synthetic data generator",
                )
                response = JSONResponse(
                    problem.to_document(scope["path"], problem_base(HTTPConnection(scope))),
                    status_code=422,
                    media_type=PROBLEM_MEDIA_TYPE,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _person_data(method: str, path: str) -> bool:
    return any(method == m and pattern.match(path) for m, pattern in PERSON_DATA_ROUTES)
