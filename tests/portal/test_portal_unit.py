"""Portal unit tests: security headers, CSRF, sign-in, problem pages, forms. Services are
answered by an httpx MockTransport, the identity provider by a fake with its own RSA key."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from accord_portal import words
from accord_portal.api_client import ServiceClient
from accord_portal.config import PortalSettings
from accord_portal.main import create_app
from accord_portal.oidc import OidcClient
from accord_referral.domain import dash
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from .conftest import problem, signed_in_as

CASE = "0b5f7a0e-6a53-4a9a-9f43-3f1f7f6e7a11"
DOC: dict[str, Any] = {
    "case_id": CASE,
    "status": "eligible_direct",
    "jurisdiction": "england-wales",
    "initiated_by": "victim",
    "submitted_at": "2026-03-02T10:00:00Z",
    "court_reference": None,
    "eligibility_reasons": [],
    "deadlines": {
        "victim_information_due": "2026-03-09",
        "victim_support_referral_due": "2026-03-04",
    },
    "overdue": True,
    "version": 3,
    "reassessment_required": False,
    "victim_name": "Alex Marker-Victim",
    "incident_date": "2026-02-27",
    "risk_band": "standard",
    "risk_score": 1,
    "red_flags": ["separation"],
    "risk_history": [
        {
            "band": "standard",
            "score": 1,
            "red_flags": ["separation"],
            "at": "2026-03-02T10:00:00Z",
            "professional_judgement_high": False,
        }
    ],
}


class Recorder:
    """Answers like the services do and remembers every request."""

    def __init__(self, answers: dict[tuple[str, str], httpx.Response] | None = None) -> None:
        self.answers = answers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if key in self.answers:
            return self.answers[key]
        if key == ("GET", "/referrals"):
            return httpx.Response(200, json=[DOC])
        if key == ("GET", f"/referrals/{CASE}"):
            return httpx.Response(200, json=DOC)
        return problem(404, "not_found")

    @property
    def writes(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method != "GET"]


def client_for(portal_factory: Any, recorder: Recorder) -> TestClient:
    return TestClient(portal_factory(recorder), raise_server_exceptions=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field in the form"
    return match.group(1)


def valid_referral(**overrides: str) -> dict[str, str]:
    values = {
        "idempotency_key": "k-1",
        "incident_date-day": "27",
        "incident_date-month": "2",
        "incident_date-year": "2026",
        "offence_type": "Assault",
        "incident_summary": "Summary marker",
        "victim_name": "Alex Marker-Victim",
        "offender_name": "Sam Marker-Offender",
        "offender_acknowledged": "yes",
        "guilty_plea": "no",
        "initiated_by": "victim",
        "jurisdiction": "england-wales",
        "victim_services_org": "north-advocacy",
        "has_court_reference": "no",
        "professional_judgement_high": "no",
    }
    for code, _ in words.QUESTIONS:
        values[f"dash_{code}"] = "yes" if code in ("separation", "current_injury") else "no"
    values.update(overrides)
    return values


# --- headers -------------------------------------------------------------------------------


def test_csp_allows_only_the_one_inline_script_by_hash(portal_factory: Any) -> None:
    client = client_for(portal_factory, Recorder())
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for directive in (
        "default-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self' http://127.0.0.1:8180",
    ):
        assert directive in csp
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_behind_sign_in_are_not_cached_and_static_assets_are_served(
    portal_factory: Any,
) -> None:
    client = client_for(portal_factory, Recorder())
    signed_in_as(client)
    for path in ("/referrals", f"/referrals/{CASE}", "/referrals/new"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
    for path in (
        "/govuk/govuk-frontend.min.css",
        "/govuk/govuk-frontend.min.js",
        "/static/init.js",
        "/assets/fonts/bold-b542beb274-v2.woff2",
    ):
        assert client.get(path).status_code == 200, path


# --- CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    portal_factory: Any, token: str | None
) -> None:
    recorder = Recorder()
    client = client_for(portal_factory, recorder)
    signed_in_as(client)
    data = valid_referral()
    if token is not None:
        data["csrf_token"] = token
    for path in ("/referrals/new/submit", f"/referrals/{CASE}/withdraw"):
        response = client.post(path, data={**data, "reason": "No longer wanted"})
        assert response.status_code == 403
        assert "This form could not be sent" in response.text
        assert "Nothing has been changed" in response.text
    assert recorder.requests == []


def test_post_with_the_csrf_token_goes_through(portal_factory: Any) -> None:
    recorder = Recorder({("POST", "/referrals"): httpx.Response(201, json={"case_id": CASE})})
    client = client_for(portal_factory, recorder)
    signed_in_as(client)
    csrf = csrf_of(client.get("/referrals/new").text)
    response = client.post(
        "/referrals/new/submit",
        data={**valid_referral(), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/referrals/{CASE}/submitted"
    (write,) = recorder.writes
    body = json.loads(write.content)
    assert body["victim"] == {"name": "Alex Marker-Victim", "date_of_birth": None}
    assert body["risk_assessment"]["answers"]["separation"] is True
    assert sum(body["risk_assessment"]["answers"].values()) == 2
    assert write.headers["Authorization"] == "Bearer token-police-officer-north-police"
    assert write.headers["Idempotency-Key"] == "portal-k-1"


# --- forms ---------------------------------------------------------------------------------


def test_an_empty_referral_gets_the_error_summary_linking_to_each_field(
    portal_factory: Any,
) -> None:
    recorder = Recorder()
    client = client_for(portal_factory, recorder)
    signed_in_as(client)
    csrf = csrf_of(client.get("/referrals/new").text)
    response = client.post("/referrals/new/check", data={"csrf_token": csrf})
    assert response.status_code == 400
    assert response.text.count('class="govuk-error-summary"') == 1
    assert "<title>Error: New referral" in response.text
    for href in (
        "#incident_date-day",
        "#offence_type",
        "#victim_name",
        "#initiated_by",
        "#jurisdiction",
        "#victim_services_org",
        "#dash_current_injury",
        "#dash_criminal_history",
        "#professional_judgement_high",
    ):
        assert f'href="{href}"' in response.text, href
    assert recorder.writes == []


def test_check_answers_shows_what_was_entered_and_posts_it_back_in_the_body(
    portal_factory: Any,
) -> None:
    client = client_for(portal_factory, Recorder())
    signed_in_as(client)
    csrf = csrf_of(client.get("/referrals/new").text)
    response = client.post("/referrals/new/check", data={**valid_referral(), "csrf_token": csrf})
    assert response.status_code == 200
    assert "Check your answers before sending the referral" in response.text
    assert "Alex Marker-Victim" in response.text and "27 February 2026" in response.text
    assert "2 out of 24" in response.text
    assert 'formaction="/referrals/new/edit#victim_name"' in response.text
    assert 'type="hidden" name="victim_name" value="Alex Marker-Victim"' in response.text


def test_a_422_from_the_service_becomes_the_error_summary(portal_factory: Any) -> None:
    refusal = problem(
        422, "unknown_organisation", errors=[{"field": "victim_services_org", "code": "x"}]
    )
    client = client_for(portal_factory, Recorder({("POST", "/referrals"): refusal}))
    signed_in_as(client)
    csrf = csrf_of(client.get("/referrals/new").text)
    response = client.post("/referrals/new/submit", data={**valid_referral(), "csrf_token": csrf})
    assert response.status_code == 400
    assert 'href="#victim_services_org"' in response.text
    assert "Select a victim-services organisation that serves the jurisdiction" in response.text


# --- problems become pages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "text"),
    [
        (problem(404, "not_found"), 404, "There is no case with this reference that you can see"),
        (problem(412, "version_conflict"), 409, "This case changed while you were working on it"),
        (problem(409, "invalid_state"), 409, "This case changed while you were working on it"),
        (problem(503, "policy_unavailable"), 503, "Sorry, there is a problem with the service"),
        (problem(500, "internal_error"), 503, "Sorry, there is a problem with the service"),
        (problem(403, "forbidden"), 403, "You cannot do this"),
    ],
)
def test_service_problems_become_clear_pages_never_a_stack_trace(
    portal_factory: Any, answer: httpx.Response, status: int, text: str
) -> None:
    client = client_for(
        portal_factory,
        Recorder(
            {
                ("POST", f"/referrals/{CASE}/withdrawal"): answer,
                ("GET", f"/referrals/{CASE}"): answer,
            }
        ),
    )
    signed_in_as(client)
    csrf = csrf_of(client.get("/referrals/new").text)
    posted = client.post(
        f"/referrals/{CASE}/withdraw", data={"csrf_token": csrf, "reason": "Victim asked"}
    )
    read = client.get(f"/referrals/{CASE}")
    for response in (posted, read):
        assert response.status_code == status
        assert text in response.text
        assert "Traceback" not in response.text
    if status == 409:
        assert f'href="/referrals/{CASE}"' in posted.text


def test_unreachable_service_is_the_try_again_later_page(portal_factory: Any) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = TestClient(portal_factory(down), raise_server_exceptions=False)
    signed_in_as(client)
    response = client.get("/referrals")
    assert response.status_code == 503
    assert "Sorry, there is a problem with the service" in response.text


def test_a_withheld_field_shows_as_withheld_with_the_reason(portal_factory: Any) -> None:
    doc = {k: v for k, v in DOC.items() if k not in ("risk_score", "risk_history")}
    client = client_for(
        portal_factory, Recorder({("GET", f"/referrals/{CASE}"): httpx.Response(200, json=doc)})
    )
    signed_in_as(client)
    text = client.get(f"/referrals/{CASE}").text
    assert "Withheld" in text
    assert "the risk assessment answers and score is not shared with you" in text
    assert "Overdue" in text
    assert "Referral to victim support: 4 March 2026" in text


def test_roles_without_screens_get_the_not_available_page(portal_factory: Any) -> None:
    client = client_for(portal_factory, Recorder())
    # Every role of SPEC 7 has screens now; a role the portal does not know (say one a
    # deployment's identity provider adds) gets the plain page, never another role's screens.
    signed_in_as(client, "court", "usher", "north-court")
    assert "Not available for your role yet" in client.get("/").text
    response = client.get("/referrals")
    assert response.status_code == 403
    assert "Not available for your role yet" in response.text


def test_a_signed_out_visitor_is_sent_to_sign_in(portal_factory: Any) -> None:
    client = client_for(portal_factory, Recorder())
    assert "Sign in" in client.get("/").text
    # Without a reachable provider, sign-in says so rather than failing obscurely.
    response = client.get("/referrals", follow_redirects=False)
    assert response.status_code in (303, 503)


def test_dash_questions_match_the_referral_services() -> None:
    assert words.QUESTIONS == dash.QUESTIONS
    assert words.RED_FLAGS == dash.RED_FLAG_CODES
    assert set(words.HINTS) == set(dash.QUESTION_CODES)


# --- sign-in against a fake OpenID provider ------------------------------------------------


class FakeProvider:
    issuer = "http://idp.test/realms/accord"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict[str, str]] = {}
        self.token_forms: list[dict[str, list[str]]] = []
        self.nonce_override: str | None = None
        self.claims_override: dict[str, str] = {}

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": "accord-portal",
            "sub": "u-1",
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce_override or nonce,
            "azp": "accord-portal",
            "name": "Nadia North-Police-Officer",
            "agency": "police",
            "role": "officer",
            "org": "north-police",
            **self.claims_override,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/.well-known/openid-configuration"):
            base = self.issuer + "/protocol/openid-connect"
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer,
                    "authorization_endpoint": base + "/auth",
                    "token_endpoint": base + "/token",
                    "jwks_uri": base + "/certs",
                    "end_session_endpoint": base + "/logout",
                },
            )
        if path.endswith("/certs"):
            return httpx.Response(200, json=self.jwks())
        if path.endswith("/token"):
            form = parse_qs(request.content.decode())
            self.token_forms.append(form)
            pending = self.codes[form["code"][0]]
            verifier = form["code_verifier"][0]
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if challenge != pending["code_challenge"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200,
                json={
                    "access_token": "at-1",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "refresh_token": "rt-1",
                    "id_token": self.id_token(pending["nonce"]),
                },
            )
        return httpx.Response(404)

    def authorise(self, url: str) -> str:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["code_challenge_method"] == "S256"
        code = f"code-{len(self.codes)}"
        self.codes[code] = query
        return f"/auth/callback?code={code}&state={query['state']}"


@pytest.fixture
def provider_client(tmp_path: Any) -> Any:
    provider = FakeProvider()
    settings = PortalSettings(data_dir=tmp_path, oidc_issuer=provider.issuer)
    oidc = OidcClient(
        provider.issuer,
        "accord-portal",
        "secret",
        settings.redirect_uri,
        http=httpx.AsyncClient(transport=httpx.MockTransport(provider)),
    )
    services = ServiceClient(settings.service_urls, transport=httpx.MockTransport(Recorder()))
    app = create_app(settings, services=services, oidc=oidc)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield provider, client
    app.state.portal.store.close()


def test_sign_in_with_pkce_rotates_the_session_and_keeps_tokens_server_side(
    provider_client: Any,
) -> None:
    provider, client = provider_client
    start = client.get("/referrals", follow_redirects=False)
    assert start.status_code == 303
    before = client.cookies.get("accord_session")
    cookie_header = start.headers["set-cookie"].lower()
    assert "httponly" in cookie_header and "samesite=lax" in cookie_header
    callback = client.get(provider.authorise(start.headers["location"]), follow_redirects=False)
    assert callback.status_code == 303 and callback.headers["location"] == "/referrals"
    after = client.cookies.get("accord_session")
    assert after and after != before
    assert len(after) >= 43  # 256 bits, base64url
    assert "at-1" not in callback.text and "at-1" not in callback.headers.get("set-cookie", "")
    page = client.get("/referrals")
    assert page.status_code == 200 and "Nadia North-Police-Officer" in page.text
    assert "North Constabulary" in page.text
    # Stored encrypted: the raw row holds no token.
    store = client.app.state.portal.store
    raw = store._db.execute("SELECT payload FROM portal_sessions").fetchall()
    assert raw and all("at-1" not in row[0] and "rt-1" not in row[0] for row in raw)
    signed_out = client.get("/auth/sign-out", follow_redirects=False)
    location = signed_out.headers["location"]
    assert location.startswith(provider.issuer + "/protocol/openid-connect/logout?")
    query = parse_qs(urlsplit(location).query)
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1:8100/signed-out"]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/referrals", follow_redirects=False).status_code == 303


def test_a_wrong_state_or_nonce_signs_nobody_in(provider_client: Any) -> None:
    provider, client = provider_client
    start = client.get("/auth/sign-in", follow_redirects=False)
    callback = provider.authorise(start.headers["location"]).replace("state=", "state=x")
    assert client.get(callback).status_code == 400
    start = client.get("/auth/sign-in", follow_redirects=False)
    provider.nonce_override = "another-nonce"
    response = client.get(provider.authorise(start.headers["location"]))
    assert response.status_code == 400
    assert "You could not be signed in" in response.text
    assert client.get("/referrals", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "claims",
    [
        {"agency": "victim", "role": "victim", "org": "north-victim-services"},
        {"agency": "victim_services", "role": "enrolment", "org": "north-victim-services"},
        {"agency": "police", "role": "judge"},
        {"agency": "police", "role": ""},
    ],
)
def test_only_staff_sign_in_to_the_staff_portal(
    provider_client: Any, claims: dict[str, str]
) -> None:
    provider, client = provider_client
    provider.claims_override = claims
    start = client.get("/referrals", follow_redirects=False)
    response = client.get(provider.authorise(start.headers["location"]))
    assert response.status_code == 400
    assert "You could not be signed in" in response.text
    store = client.app.state.portal.store
    assert store._db.execute("SELECT count(*) FROM portal_sessions").fetchone()[0] == 0
    assert client.get("/referrals", follow_redirects=False).status_code == 303


def test_an_unexpected_error_is_a_plain_page_with_the_security_headers(
    portal_factory: Any,
) -> None:
    app = portal_factory(lambda request: httpx.Response(200, json=[]))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("Alex Marker-Victim lives at 1 Secret Road")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    assert "Secret Road" not in r.text and "Traceback" not in r.text
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("answer", "shown", "not_shown"),
    [
        (
            httpx.Response(
                200,
                json={
                    "case_id": CASE,
                    "flags": [
                        {
                            "code": "threats_to_kill",
                            "severity": "high",
                            "raised_by": "advocate-1",
                            "raised_at": "2026-03-03T09:00:00Z",
                        }
                    ],
                },
            ),
            ["Threats to kill", "High", "3 March 2026"],
            ["Withheld"],
        ),
        # What victim services answer once consent is withdrawn: the flags field is gone.
        (
            httpx.Response(200, json={"case_id": CASE}),
            ["Withheld", "only when the victim agrees"],
            ["Threats to kill"],
        ),
        (problem(403, "access_denied"), ["Withheld"], ["Threats to kill"]),
        (problem(404, "not_found"), ["have not recorded anything"], ["Threats to kill"]),
    ],
)
def test_the_officers_referral_page_reads_safety_flags_at_source_each_load(
    portal_factory: Any, answer: httpx.Response, shown: list[str], not_shown: list[str]
) -> None:
    recorder = Recorder({("GET", f"/cases/{CASE}/safety-flags"): answer})
    client = client_for(portal_factory, recorder)
    signed_in_as(client)
    page = client.get(f"/referrals/{CASE}")
    assert page.status_code == 200
    text = page.text
    for words_ in shown:
        assert words_ in text
    for words_ in not_shown:
        assert words_ not in text.split('id="safety-flags"', 1)[1].split("Risk history", 1)[0]
    (flags_call,) = [r for r in recorder.requests if r.url.path.endswith("/safety-flags")]
    # purpose=safeguarding, and the officer's own token, never a portal credential
    assert flags_call.url.params["purpose"] == "safeguarding"
    assert flags_call.headers["Authorization"].startswith("Bearer ")


def test_the_timeline_dates_each_later_status_from_the_referral_document(
    portal_factory: Any,
) -> None:
    doc = {
        **DOC,
        "status": "withdrawn",
        "eligibility": "eligible_direct",
        "screened_at": "2026-03-03T11:00:00Z",
        "withdrawn_at": "2026-03-05T15:30:00Z",
        "withdrawn_reason": "Victim no longer wishes to proceed",
    }
    client = client_for(
        portal_factory, Recorder({("GET", f"/referrals/{CASE}"): httpx.Response(200, json=doc)})
    )
    signed_in_as(client)
    text = client.get(f"/referrals/{CASE}").text
    timeline = text.split("Timeline", 1)[1]
    # newest first, each step with its own day
    withdrawn = timeline.index("Withdrawn")
    eligible = timeline.index(words.STATUS["eligible_direct"])
    submitted = timeline.index("Referral submitted")
    assert withdrawn < eligible < submitted
    assert "5 March 2026" in timeline and "3 March 2026" in timeline
    assert "Reason: Victim no longer wishes to proceed" in timeline


def test_metrics_count_pages_by_route_and_never_name_a_case(portal_factory: Any) -> None:
    """Issue 19: the portal, like every service, serves Prometheus metrics per route
    template; a URL's own values (a reference, a query string) never become a label."""
    from prometheus_client.parser import text_string_to_metric_families

    client = client_for(portal_factory, Recorder())
    for _ in range(3):
        assert client.get("/").status_code == 200
    client.get("/referrals/5f0c6a2e-0000-4000-8000-00000000beef?marker=zq-secret")
    page = client.get("/metrics")
    assert page.status_code == 200
    assert "5f0c6a2e" not in page.text and "zq-secret" not in page.text
    counted = {
        (s.labels.get("handler"), s.labels.get("method"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(page.text)
        for s in family.samples
        if s.name == "accord_http_requests_total"
    }
    assert counted[("/", "GET", "200")] == 3.0
