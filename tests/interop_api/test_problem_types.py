"""Problem types resolve (issue 20, item 2): every `code` the code base can put in a problem
document is in the catalogue, with a title, what it means and what to do; the catalogue holds
nothing else; and the `type` URI of a problem, as a client receives it from a running service,
resolves to that page (200), also when a deployment sets its own base."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from accord_kernel.domain_rules import DomainError
from accord_kernel.problem_types import PROBLEM_TYPES
from accord_kernel.problems import HTTP_CODES, HTTP_ERROR

from tests.api.services_under_test import SERVICE_MODULES, DevKeys
from tests.interop_api.served import build, serving

REPO = Path(__file__).resolve().parents[2]
SOURCES = [REPO / "libs" / "kernel" / "src", *sorted((REPO / "services").glob("*/src"))]


def literal_problem_codes() -> Iterator[tuple[str, str]]:
    """(where, code) of every `Problem(<status>, "<code>", ...)` written in the sources."""
    for root in SOURCES:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Problem"):
                    continue
                args = node.args
                if (
                    len(args) >= 2
                    and isinstance(args[0], ast.Constant)
                    and isinstance(args[0].value, int)
                ):
                    assert isinstance(args[1], ast.Constant), (
                        f"{path}:{node.lineno}: a problem code must be a literal"
                    )
                    yield f"{path.relative_to(REPO)}:{node.lineno}", str(args[1].value)


def domain_error_codes() -> dict[str, str]:
    """code -> class of every refusal any service's domain can raise that reaches the client
    with its own code (a 5xx one is answered as `internal_error`)."""
    for module in SERVICE_MODULES.values():
        importlib.import_module(module)
    found: dict[str, str] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # Errors the tests define for themselves are loaded too when the whole suite runs
        # in one session; only the code base's own can reach a client.
        if ".tests." in f".{cls.__module__}." or cls.__module__.startswith("test_"):
            continue
        if cls.http_status < 500:
            found[cls.code] = f"{cls.__module__}.{cls.__qualname__}"
    return found


def emitted_codes() -> dict[str, str]:
    codes = {code: where for where, code in literal_problem_codes()}
    codes.update(domain_error_codes())
    codes.update({code: "accord_kernel.problems.HTTP_CODES" for code in HTTP_CODES.values()})
    codes[HTTP_ERROR] = "accord_kernel.problems.HTTP_ERROR"
    return codes


def test_every_code_the_code_base_can_emit_is_registered() -> None:
    emitted = emitted_codes()
    # the scan itself finds what it must: codes of each of its three sources
    assert {"policy_unavailable", "payload_too_large", "gate_refused", "method_not_allowed"} <= set(
        emitted
    )
    missing = {code: where for code, where in emitted.items() if code not in PROBLEM_TYPES}
    assert not missing, f"problem codes without a page: {missing}"
    stale = set(PROBLEM_TYPES) - set(emitted)
    assert not stale, f"registered codes nothing emits: {sorted(stale)}"


def test_every_problem_type_says_what_it_is_and_what_to_do() -> None:
    for code, problem in PROBLEM_TYPES.items():
        assert problem.code == code
        assert 400 <= problem.status <= 599, code
        assert problem.title.strip() and problem.description.strip(), code
        assert problem.action.strip(), code


@pytest.mark.parametrize("service", list(SERVICE_MODULES))
def test_type_uris_resolve_on_a_running_service(
    service: str, dev_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with serving(build(service, dev_keys, tmp_path_factory)) as base, httpx.Client() as http:
        # problems as a client gets them: no token, a wrong method, an unknown route
        answers = [
            http.delete(f"{base}/health/live"),
            http.get(f"{base}/no-such-route"),
        ]
        operations = http.get(f"{base}/openapi.json").json()["paths"]
        first = next(p for p in operations if not p.startswith("/health"))
        answers.append(http.request(next(iter(operations[first])), f"{base}{first}"))
        types = set()
        for answer in answers:
            assert answer.headers["content-type"].startswith("application/problem+json")
            problem = answer.json()
            assert problem["type"] == f"{base}/problems/{problem['code']}"
            types.add(problem["type"])
        assert {f"{base}/problems/{c}" for c in ("unauthorized", "method_not_allowed")} <= types
        for uri in sorted(types):
            page = http.get(uri)
            assert page.status_code == 200, uri
            assert page.headers["content-type"].startswith("text/html")
        # and every registered code's page
        for code, problem in PROBLEM_TYPES.items():
            page = http.get(f"{base}/problems/{code}")
            assert page.status_code == 200, code
            assert problem.title.replace("'", "&#x27;") in page.text, code
        index = http.get(f"{base}/problems/")
        assert index.status_code == 200
        assert all(f'href="{code}"' in index.text for code in PROBLEM_TYPES)
        unknown = http.get(f"{base}/problems/no_such_code")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "not_found"


def test_a_deployment_chooses_the_base_of_type_uris(
    dev_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """ACCORD_PROBLEM_BASE_URL (here as the setting) points every `type` at the deployment's
    documentation site, which mirrors /problems/."""
    docs = "https://docs.agency.example/accord/problems"
    app = build("court", dev_keys, tmp_path_factory, problem_base_url=docs)
    with serving(app) as base, httpx.Client() as http:
        problem = http.get(f"{base}/court-cases").json()
        assert problem["type"] == f"{docs}/unauthorized"
        # the service still serves the page the deployment mirrors
        assert http.get(f"{base}/problems/unauthorized").status_code == 200
