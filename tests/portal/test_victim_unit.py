"""Victim view (issue 17) on fake services, a fake Keycloak and a fake victims' OpenID client:
the code typed and redeemed, the account created and linked, sign-in, every page's content and
reading ease (Flesch 70 or more, textstat), withdrawal in one action with a confirmation, exit,
the idle timeout, staff and victim sessions kept apart, the message catalogue up to date; and
the advocate's invitation screens (task, code shown once, list, revocation)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import textstat
from accord_portal import victim
from accord_portal.oidc import LoginRequest, OidcClient, SignInFailed
from accord_portal.sessions import Session
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .conftest import problem, signed_in_as

CASE = "5f0c7a1e-0000-4000-8000-000000000001"
CONSENT = "7a1e5f0c-0000-4000-8000-000000000002"
SHARE = "7a1e5f0c-0000-4000-8000-000000000003"
OTHER_SHARE = "7a1e5f0c-0000-4000-8000-000000000009"
INVITE = "9b2e5f0c-0000-4000-8000-000000000004"
CODE = "ABCD-2345-WXYZ"
SUB = "0d6b3c2a-aaaa-4bbb-8ccc-000000000005"
PORTAL_ROOT = Path(victim.__file__).resolve().parents[2]

ME_CASE = {
    "stage": "being_prepared",
    "next_step": "A facilitator is getting everyone ready.",
    "stage_changed_at": "2026-03-02T09:00:00Z",
    "supporting_org": "north-advocacy",
    "supporting_org_name": "North Advocacy Service",
    "advocate_contact": {
        "organisation": "North Advocacy Service",
        "how": "Contact your support service.",
    },
    "jurisdiction": "england-wales",
    "tell_me_about_agreement": True,
    "help": [
        {"name": "Emergency", "number": "999", "note": "From a mobile: 999, then 55."},
        {"name": "National Domestic Abuse Helpline", "number": "0808 2000 247", "note": ""},
    ],
}
ME_CONSENTS = [
    {
        "consent_id": CONSENT,
        "scope": "participate",
        "status": "active",
        "with_whom": [
            {
                "agency": "rj_provider",
                "purposes": ["case_management"],
                "data_classes": [],
                "from": "2026-03-01T00:00:00Z",
                "until": "2026-06-01T00:00:00Z",
            }
        ],
        "until": "2026-06-01T00:00:00Z",
        "granted_at": "2026-03-01T10:00:00Z",
        "can_withdraw": True,
    },
    {
        "consent_id": SHARE,
        "scope": "share",
        "status": "withdrawn",
        "with_whom": [
            {
                "agency": "police",
                "purposes": ["safeguarding"],
                "data_classes": ["safety.flags"],
                "from": "2026-03-01T00:00:00Z",
                "until": "2026-06-01T00:00:00Z",
            }
        ],
        "until": "2026-06-01T00:00:00Z",
        "granted_at": "2026-03-01T10:00:00Z",
        "can_withdraw": False,
    },
]
ME_ACCESS = [
    {
        "at": "2026-03-04T10:00:00Z",
        "agency": "police",
        "org": "north-police",
        "role": "supervisor",
        "purpose": "emergency",
        "what": "victim_record",
        "break_glass": True,
    },
    {
        "at": "2026-03-03T10:00:00Z",
        "agency": "police",
        "org": "north-police",
        "role": "officer",
        "purpose": "safeguarding",
        "what": "safety_flags",
        "break_glass": False,
    },
]
ME_ACCESS.append(dict(ME_ACCESS[1]))  # the same read twice that day: one card, "2"
ME_AGREEMENT = {
    "items": [
        {"item_id": "i1", "status": "completed", "due_date": "2026-04-01"},
        {"item_id": "i2", "status": "open", "due_date": "2026-05-01"},
    ]
}
REFERRAL = {
    "case_id": CASE,
    "status": "accepted",
    "submitted_at": "2026-03-01T09:00:00Z",
    "jurisdiction": "england-wales",
    "deadlines": {},
}


class Services:
    """victim-support (and the referral read the advocate pages make)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, str]] = []
        self.redemption = httpx.Response(
            200,
            json={"invitation_id": INVITE, "username": "victim-7k3q9x", "org": "north-advocacy"},
        )
        self.linked = True
        self.invitations: list[dict[str, Any]] = [
            {
                "invitation_id": INVITE,
                "status": "redeemed",
                "created_at": "2026-03-01T10:00:00Z",
                "expires_at": "2026-03-04T10:00:00Z",
                "redeemed_at": "2026-03-01T11:00:00Z",
                "account_linked": True,
            }
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.loads(request.content) if request.content else None
        self.calls.append((method, path, body, token))
        if path == "/invitations/redemptions":
            return self.redemption
        if path == f"/invitations/{INVITE}/account":
            return httpx.Response(204)
        if path.startswith("/me/"):
            if not self.linked:
                return problem(404, "not_found")
            if method != "GET":
                return httpx.Response(204)
            found = {
                "/me/case": ME_CASE,
                "/me/consents": ME_CONSENTS,
                "/me/access-log": ME_ACCESS,
                "/me/agreement": ME_AGREEMENT,
            }.get(path)
            return httpx.Response(200, json=found) if found is not None else problem(404, "x")
        if path == f"/referrals/{CASE}":
            return httpx.Response(200, json=REFERRAL)
        if path == f"/cases/{CASE}/invitations":
            if method == "POST":
                return httpx.Response(
                    201,
                    json={
                        "invitation_id": INVITE,
                        "code": CODE,
                        "expires_at": "2026-03-04T10:00:00Z",
                    },
                )
            return httpx.Response(200, json=self.invitations)
        if path == f"/cases/{CASE}/victim":
            return httpx.Response(200, json={"case_id": CASE, "name": "R"})
        if path == f"/invitations/{INVITE}/revocation":
            return httpx.Response(204)
        return problem(404, "not_found")

    def made(self, method: str, path: str) -> list[tuple[str, str, Any, str]]:
        return [c for c in self.calls if c[0] == method and c[1] == path]


class Keycloak:
    """The victims' realm: the enrolment token and the admin API."""

    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = []
        self.logouts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/protocol/openid-connect/token"):
            return httpx.Response(200, json={"access_token": "enrolment-token", "expires_in": 300})
        if path.endswith("/admin/realms/accord-victims/users"):
            assert request.headers["Authorization"] == "Bearer enrolment-token"
            self.users.append(json.loads(request.content))
            return httpx.Response(201, headers={"Location": f"{request.url}/{SUB}"})
        if path.endswith("/logout"):
            self.logouts.append(path.split("/")[-2])
            return httpx.Response(204)
        return httpx.Response(404)


class FakeOidc(OidcClient):
    def __init__(self, claims: dict[str, Any]) -> None:
        super().__init__(
            "http://kc/realms/accord-victims", "accord-victim-view", "s", "http://p/cb"
        )
        self.claims = claims

    async def login_request(self) -> LoginRequest:
        return LoginRequest("http://kc/realms/accord-victims/auth?x=1", "state-1", "nonce-1", "v")

    async def exchange_code(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        if code != "good":
            raise SignInFailed("bad code")
        return {
            "access_token": "victim-token",
            "refresh_token": "r",
            "id_token": "id",
            "expires_in": 300,
            "id_claims": self.claims,
        }


VICTIM_CLAIMS = {"sub": SUB, "agency": "victim", "role": "victim", "org": "north-advocacy"}


@pytest.fixture
def services() -> Services:
    return Services()


@pytest.fixture
def keycloak() -> Keycloak:
    return Keycloak()


def make(
    portal_factory: Any, services: Services, keycloak: Keycloak, claims: dict[str, Any]
) -> FastAPI:
    app: FastAPI = portal_factory(services)
    portal = app.state.portal
    area = victim.build(portal)
    area.oidc = FakeOidc(claims)
    area.enrolment = victim.EnrolmentClient(
        "http://kc/realms/accord-victims",
        "accord-enrolment",
        "secret",
        http=httpx.AsyncClient(transport=httpx.MockTransport(keycloak)),
    )
    victim.install(app, area)
    return app


@pytest.fixture
def app(portal_factory: Any, services: Services, keycloak: Keycloak) -> FastAPI:
    return make(portal_factory, services, keycloak, VICTIM_CLAIMS)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in_victim(client: TestClient) -> Session:
    portal = client.app.state.portal  # type: ignore[attr-defined]
    session = Session.fresh(
        {
            "kind": "victim",
            "person": {"sub": SUB, "org": "north-advocacy"},
            "person_tokens": {
                "access_token": "victim-token",
                "refresh_token": "r",
                "id_token": "id",
                "expires_at": time.time() + 300,
            },
        }
    )
    portal.store.save(session)
    client.cookies.set("visit", session.id)
    return session


class MainText(HTMLParser):
    """The words a person reads in <main> (headings and labels end a sentence)."""

    BLOCKS = frozenset(
        {"h1", "h2", "h3", "p", "li", "dt", "dd", "label", "legend", "a", "button", "div"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.depth += 1
        if self.depth and tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)

    def sentences(self) -> str:
        lines = [re.sub(r"\s+", " ", line).strip() for line in "".join(self.parts).split("\n")]
        return " ".join(
            line if line.endswith((".", "?", "!", ":")) else f"{line}." for line in lines if line
        )


def main_text(html: str) -> str:
    parser = MainText()
    parser.feed(html)
    return parser.sentences()


def assert_plain(html: str) -> None:
    words = main_text(html)
    score = textstat.flesch_reading_ease(words)
    assert score >= 70, f"reading ease {score:.0f} < 70 for: {words}"


# --- codes, redemption, account ----------------------------------------------------------------


def test_codes_are_read_as_victim_services_reads_them() -> None:
    assert victim.normalise_code("abcd 2345 wxyz") == CODE
    assert victim.normalise_code("ABCD-2345-WXYZ") == CODE
    assert victim.normalise_code("oil0-2345-wxyz") == "0110-2345-WXYZ"
    assert victim.normalise_code("ABCD-2345-WXY") is None
    assert victim.normalise_code("ABCD-2345-WXYU") is None  # U is not Crockford


def test_redeeming_a_code_creates_and_links_the_account_then_names_the_username(
    client: TestClient, services: Services, keycloak: Keycloak
) -> None:
    page = client.get("/your-case/start")
    assert page.status_code == 200
    assert 'method="post" action="/your-case/start"' in page.text
    assert_plain(page.text)
    done = client.post(
        "/your-case/start", data={"code": "abcd 2345 wxyz", "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/your-case/ready"
    assert "code" not in done.headers["location"].lower().replace("your-case", "")

    (redeem,) = services.made("POST", "/invitations/redemptions")
    assert redeem[2] == {"code": CODE} and redeem[3] == "enrolment-token"
    (user,) = keycloak.users
    assert user["username"] == "victim-7k3q9x"
    assert user["attributes"] == {
        "agency": ["victim"],
        "role": ["victim"],
        "org": ["north-advocacy"],
    }
    assert user["credentials"] == [{"type": "password", "value": CODE, "temporary": True}]
    assert user["requiredActions"] == ["UPDATE_PASSWORD"]
    (link,) = services.made("POST", f"/invitations/{INVITE}/account")
    assert link[2] == {"sub": SUB} and link[3] == "enrolment-token"

    ready = client.get("/your-case/ready")
    assert ready.status_code == 200
    assert "victim-7k3q9x" in ready.text and 'href="/your-case/sign-in"' in ready.text
    assert CODE not in ready.text
    assert_plain(ready.text)


@pytest.mark.parametrize("status", [410, 404])
def test_a_code_that_does_not_work_is_refused_and_nothing_is_created(
    client: TestClient, services: Services, keycloak: Keycloak, status: int
) -> None:
    services.redemption = problem(status, "invitation_not_usable")
    page = client.get("/your-case/start")
    refused = client.post("/your-case/start", data={"code": CODE, "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 400
    assert "This code does not work" in refused.text
    assert_plain(refused.text)
    assert keycloak.users == []
    assert services.made("POST", f"/invitations/{INVITE}/account") == []


def test_typing_errors_are_named_on_the_form_and_nothing_is_sent(
    client: TestClient, services: Services
) -> None:
    page = client.get("/your-case/start")
    token = csrf_of(page.text)
    empty = client.post("/your-case/start", data={"code": "", "csrf_token": token})
    assert empty.status_code == 400
    assert '<a href="#code">Enter your code</a>' in empty.text
    assert "<title>Error: Enter your code - Support service</title>" in empty.text
    short = client.post("/your-case/start", data={"code": "ABC", "csrf_token": token})
    assert "Check your code. It has 12 letters and numbers." in short.text
    assert 'value="ABC"' in short.text
    assert services.calls == []


def test_tries_are_limited_per_browser_session(
    client: TestClient, services: Services, keycloak: Keycloak
) -> None:
    services.redemption = problem(410, "invitation_not_usable")
    token = csrf_of(client.get("/your-case/start").text)
    for _ in range(5):
        assert (
            client.post("/your-case/start", data={"code": CODE, "csrf_token": token}).status_code
            == 400
        )
    sixth = client.post("/your-case/start", data={"code": CODE, "csrf_token": token})
    assert sixth.status_code == 429 and "Too many tries" in sixth.text
    assert len(services.made("POST", "/invitations/redemptions")) == 5


def test_victim_services_rate_limit_is_a_clear_page(client: TestClient, services: Services) -> None:
    services.redemption = problem(429, "too_many_attempts")
    token = csrf_of(client.get("/your-case/start").text)
    page = client.post("/your-case/start", data={"code": CODE, "csrf_token": token})
    assert page.status_code == 429 and "Too many tries" in page.text


def test_a_post_without_the_token_changes_nothing(client: TestClient, services: Services) -> None:
    client.get("/your-case/start")
    forged = client.post("/your-case/start", data={"code": CODE})
    assert forged.status_code == 403 and "This page timed out" in forged.text
    sign_in_victim(client)
    forged = client.post(f"/your-case/choices/{CONSENT}/stop", data={"csrf_token": "wrong"})
    assert forged.status_code == 403
    assert services.calls == []


# --- sign-in and sessions ------------------------------------------------------------------------


def test_sign_in_with_the_victims_client_gives_a_victim_session(client: TestClient) -> None:
    start = client.get("/your-case/sign-in")
    assert start.status_code == 303
    assert start.headers["location"].startswith("http://kc/realms/accord-victims/auth")
    cookie = start.cookies.get("visit")
    assert cookie
    back = client.get("/your-case/auth/callback", params={"code": "good", "state": "state-1"})
    assert back.status_code == 303 and back.headers["location"] == "/your-case/"
    assert back.cookies.get("visit") not in (None, cookie)  # rotated at sign-in
    home = client.get("/your-case/")
    assert "Getting ready" in home.text


def test_a_wrong_state_or_a_staff_account_does_not_sign_in(
    portal_factory: Any, services: Services, keycloak: Keycloak
) -> None:
    client = TestClient(
        make(portal_factory, services, keycloak, VICTIM_CLAIMS), follow_redirects=False
    )
    client.get("/your-case/sign-in")
    wrong = client.get("/your-case/auth/callback", params={"code": "good", "state": "other"})
    assert wrong.status_code == 400 and "You could not sign in" in wrong.text

    staff = {"sub": "x", "agency": "police", "role": "officer", "org": "north-police"}
    client = TestClient(make(portal_factory, services, keycloak, staff), follow_redirects=False)
    client.get("/your-case/sign-in")
    refused = client.get("/your-case/auth/callback", params={"code": "good", "state": "state-1"})
    assert refused.status_code == 400
    assert client.get("/your-case/choices").status_code == 303


def test_staff_and_victim_sessions_never_cross(client: TestClient) -> None:
    staff = signed_in_as(client, "victim_services", "advocate", "north-advocacy")
    client.cookies.set("visit", staff.id)
    # A staff session under the victim cookie is not a victim session (and is ended).
    assert client.get("/your-case/choices").headers["location"] == "/your-case/"
    portal = client.app.state.portal  # type: ignore[attr-defined]
    assert portal.store.get(staff.id) is None

    client.cookies.clear()
    person = sign_in_victim(client)
    client.cookies.set(portal.cookie_name, person.id)
    # A victim session under the staff cookie is not signed in there: the start page.
    start = client.get("/")
    assert start.status_code == 200 and "Sign in" in start.text
    assert client.get("/victims").status_code in (303, 503)


def test_the_victim_session_ends_after_ten_idle_minutes(client: TestClient) -> None:
    session = sign_in_victim(client)
    portal = client.app.state.portal  # type: ignore[attr-defined]
    session.last_seen_at = datetime.now(UTC) - timedelta(minutes=11)
    portal.store.save(session)
    page = client.get("/your-case/choices")
    assert page.status_code == 303 and page.headers["location"] == "/your-case/"
    assert portal.store.get(session.id) is None


# --- pages ---------------------------------------------------------------------------------------


def test_every_page_says_it_in_plain_words(client: TestClient, services: Services) -> None:
    welcome = client.get("/your-case/")
    assert "I have a code" in welcome.text
    assert_plain(welcome.text)
    sign_in_victim(client)
    pages = {
        "/your-case/": [
            "Your case",
            "Getting ready",
            "They will meet you on your own first",
            "North Advocacy Service",
            "Contact your support service.",
        ],
        "/your-case/choices": [
            "To take part",
            "The people who run the meeting",
            "To run your case",
            "1 June 2026",
            f"/your-case/choices/{CONSENT}/stop",
            "To share what you told us",
            "Risks to your safety",
            "Stopped",
        ],
        "/your-case/who-has-seen": [
            "Emergency",
            "without asking you first",
            "Manager",
            "Your details",
            "To keep you safe",
            "4 March 2026",
            "How many times",
        ],
        "/your-case/agreement": ["Part 1", "Done", "Part 2", "Not done yet", "1 May 2026"],
        "/your-case/help": ["999", 'href="tel:08082000247"', "National Domestic Abuse Helpline"],
        f"/your-case/choices/{CONSENT}/stop": ["Do you want to stop this?", "The process stops."],
    }
    for path, expected in pages.items():
        page = client.get(path)
        assert page.status_code == 200, path
        for text in expected:
            assert text in page.text, (path, text)
        # Neutral: the title and page never name abuse, victims or the product.
        title = re.search(r"<title>(.*)</title>", page.text)
        assert title and title.group(1).endswith(" - Support service")
        lowered = page.text.lower()
        for word in ("abuse</", "victim<", "accord", "domestic"):
            assert word not in lowered.replace("domestic abuse helpline", ""), (path, word)
        assert 'href="/your-case/exit"' in page.text and 'rel="icon" href="data:,"' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert_plain(page.text)
    # Withdrawn consents offer no stop link.
    assert f"/your-case/choices/{SHARE}/stop" not in client.get("/your-case/choices").text
    # Only the victim's own reads, all with the victim's token.
    assert {c[3] for c in services.calls} == {"victim-token"}
    assert {c[1] for c in services.calls} <= {
        "/me/case",
        "/me/consents",
        "/me/access-log",
        "/me/agreement",
    }


def test_withdrawal_is_one_action_after_a_confirmation(
    client: TestClient, services: Services
) -> None:
    sign_in_victim(client)
    confirm = client.get(f"/your-case/choices/{CONSENT}/stop")
    done = client.post(
        f"/your-case/choices/{CONSENT}/stop", data={"csrf_token": csrf_of(confirm.text)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/your-case/choices"
    (call,) = services.made("POST", f"/me/consents/{CONSENT}/withdrawal")
    assert call[2] == {} and call[3] == "victim-token"
    after = client.get("/your-case/choices")
    assert "You stopped it. This works straight away." in after.text
    # Not offered for a consent no longer active, nor for another case's.
    assert client.get(f"/your-case/choices/{SHARE}/stop").status_code == 409
    assert client.get(f"/your-case/choices/{INVITE}/stop").status_code == 404


def test_stopping_taking_part_stops_only_the_sharing_the_victim_ticks(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    active_share = {**ME_CONSENTS[1], "status": "active", "can_withdraw": True}
    other = {**active_share, "consent_id": OTHER_SHARE}
    monkeypatch.setitem(globals(), "ME_CONSENTS", [ME_CONSENTS[0], active_share, other])
    sign_in_victim(client)
    confirm = client.get(f"/your-case/choices/{CONSENT}/stop")
    assert "Do you also want to stop sharing?" in confirm.text
    assert confirm.text.count('name="also"') == 2
    assert "Stop sharing with Police: Risks to your safety" in " ".join(confirm.text.split())
    # A share's own page offers no further choices.
    assert 'name="also"' not in client.get(f"/your-case/choices/{SHARE}/stop").text
    done = client.post(
        f"/your-case/choices/{CONSENT}/stop",
        data={"csrf_token": csrf_of(confirm.text), "also": [SHARE, INVITE]},
    )
    assert done.status_code == 303
    stopped = [c[1] for c in services.calls if c[0] == "POST"]
    # Taking part first, then the ticked share; the id the page never offered stops nothing.
    assert stopped == [f"/me/consents/{CONSENT}/withdrawal", f"/me/consents/{SHARE}/withdrawal"]
    services.calls.clear()
    confirm = client.get(f"/your-case/choices/{CONSENT}/stop")
    client.post(f"/your-case/choices/{CONSENT}/stop", data={"csrf_token": csrf_of(confirm.text)})
    assert [c[1] for c in services.calls if c[0] == "POST"] == [
        f"/me/consents/{CONSENT}/withdrawal"
    ]


def test_agreement_news_is_asked_for_by_the_victim(client: TestClient, services: Services) -> None:
    sign_in_victim(client)
    page = client.get("/your-case/agreement")
    token = csrf_of(page.text)
    missing = client.post("/your-case/agreement", data={"csrf_token": token})
    assert missing.status_code == 400 and '<a href="#tell_me">Choose yes or no</a>' in missing.text
    assert_plain(missing.text)
    saved = client.post("/your-case/agreement", data={"csrf_token": token, "tell_me": "no"})
    assert saved.status_code == 303
    (call,) = services.made("PUT", "/me/preferences")
    assert call[2] == {"tell_me_about_agreement": False}


def test_access_ended_by_the_advocate_is_a_clear_page_and_ends_the_session(
    client: TestClient, services: Services
) -> None:
    session = sign_in_victim(client)
    services.linked = False
    page = client.get("/your-case/")
    assert page.status_code == 404 and "You cannot see this" in page.text
    assert_plain(page.text)
    assert client.app.state.portal.store.get(session.id) is None  # type: ignore[attr-defined]


def test_exit_ends_the_session_here_and_at_the_provider_and_leaves(
    client: TestClient, keycloak: Keycloak
) -> None:
    session = sign_in_victim(client)
    out = client.get("/your-case/exit")
    assert out.status_code == 303 and out.headers["location"] == "https://www.bbc.co.uk/weather"
    assert 'visit=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert client.app.state.portal.store.get(session.id) is None  # type: ignore[attr-defined]
    assert keycloak.logouts == [SUB]
    assert client.get("/your-case/choices").status_code == 303


def test_sign_out_ends_everything(client: TestClient, keycloak: Keycloak) -> None:
    session = sign_in_victim(client)
    token = csrf_of(client.get("/your-case/help").text)
    out = client.post("/your-case/sign-out", data={"csrf_token": token})
    assert out.headers["location"] == "/your-case/signed-out"
    assert client.app.state.portal.store.get(session.id) is None  # type: ignore[attr-defined]
    assert keycloak.logouts == [SUB]


def test_the_message_catalogue_is_up_to_date() -> None:
    """Every message of the victim pages is in locale/victim.pot (run the command in
    services/portal/babel.cfg after changing a text)."""
    method_map = [
        ("src/accord_portal/victim.py", "python"),
        ("src/accord_portal/words.py", "python"),
        ("src/accord_portal/templates/victim/**.html", "jinja2"),
    ]
    options = {
        "src/accord_portal/templates/victim/**.html": {
            "extensions": "jinja2.ext.i18n",
            "trim_blocks": "true",
            "lstrip_blocks": "true",
        }
    }
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            PORTAL_ROOT, method_map, options, keywords=keywords
        )
    }
    catalogue_file = PORTAL_ROOT / "src/accord_portal/locale/victim.pot"
    catalogue = read_po(BytesIO(catalogue_file.read_bytes()))
    known = {m.id for m in catalogue if m.id}
    assert found == known, f"missing: {found - known}; stale: {known - found}"
    assert "Exit this page" in known and "Your choices" in known


# --- the advocate's invitations ------------------------------------------------------------------


def test_the_advocate_invites_sees_the_code_once_and_can_end_access(
    client: TestClient, services: Services
) -> None:
    signed_in_as(client, "victim_services", "advocate", "north-advocacy")
    case = client.get(f"/victims/{CASE}")
    assert "Invite the victim to see their case" in case.text
    assert "Victim has access" in case.text
    listing = client.get(f"/victims/{CASE}/invitations")
    assert "Code used" in listing.text
    assert "they are alone" in listing.text
    assert CODE not in listing.text
    created = client.post(
        f"/victims/{CASE}/invitations", data={"csrf_token": csrf_of(listing.text)}
    )
    assert created.status_code == 201
    assert CODE in created.text
    assert "Give this code in person, when the victim is seen alone. It expires at" in created.text
    assert "4 March 2026 at 10:00am" in created.text
    assert "/your-case/start" in created.text
    # Shown once: the list never shows it again.
    assert CODE not in client.get(f"/victims/{CASE}/invitations").text

    confirm = client.get(f"/victims/{CASE}/invitations/{INVITE}/revoke")
    assert "Are you sure you want to end the victim" in confirm.text
    done = client.post(
        f"/victims/{CASE}/invitations/{INVITE}/revoke", data={"csrf_token": csrf_of(confirm.text)}
    )
    assert done.status_code == 303
    assert services.made("POST", f"/invitations/{INVITE}/revocation")
    assert "Access ended" in client.get(f"/victims/{CASE}/invitations").text
    # Another case's invitation id is not found through this case.
    other = "9b2e5f0c-0000-4000-8000-00000000ffff"
    assert client.get(f"/victims/{CASE}/invitations/{other}/revoke").status_code == 404
