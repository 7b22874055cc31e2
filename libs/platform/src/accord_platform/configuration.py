"""docs/configuration.md, generated from the settings classes themselves.

Every setting's description is its field's docstring in the settings class, so the page
cannot drift from the code: `accord config-docs --check` (run by the tests) fails when the
page is out of date, and the tests fail when a settings class or an ACCORD_* variable the
code reads is missing from it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings


@dataclass(frozen=True)
class SettingsSource:
    # A dotted path, not an import: the CLI runs the services as processes and does not
    # depend on their packages; each is installed in the same environment.
    target: str
    title: str
    applies_to: str

    def load(self) -> type[BaseSettings]:
        module, _, name = self.target.partition(":")
        found = getattr(importlib.import_module(module), name)
        if not (isinstance(found, type) and issubclass(found, BaseSettings)):
            raise TypeError(f"{self.target} is not a settings class")
        return found


SETTINGS = (
    SettingsSource(
        "accord_kernel.settings:ServiceSettings",
        "Every service",
        "referral, victim-support, conference, court and audit (each process reads them)",
    ),
    SettingsSource(
        "accord_audit.config:AuditSettings",
        "Audit service",
        "the audit service, in addition to the settings of every service",
    ),
    SettingsSource("accord_portal.config:PortalSettings", "Portal", "the staff and victim portal"),
)

# Variables read by the scripts and the test suite rather than by a settings class.
TOOLING: dict[str, str] = {
    "ACCORD_CACHE": "Where deploy/provision.sh installs uv, Kafka, OPA, Keycloak and the npm "
    "packages (default ~/.cache/accord). CI caches this directory.",
    "ACCORD_UV": "Exported by deploy/provision.sh: the pinned uv binary.",
    "ACCORD_OPA": "Exported by deploy/provision.sh: the pinned OPA binary.",
    "ACCORD_KAFKA_HOME": "Exported by deploy/provision.sh: the Kafka distribution (jars).",
    "ACCORD_PG_BIN": "Exported by deploy/provision.sh: PostgreSQL's binaries (initdb, "
    "postgres, pg_dump).",
    "ACCORD_HELM": "Exported by deploy/provision.sh: the pinned Helm binary (chart tests).",
    "ACCORD_KEYCLOAK_HOME": "Exported by deploy/provision.sh: the Keycloak distribution.",
    "ACCORD_CHROMIUM": "Exported by deploy/provision.sh: the Chromium binary the browser "
    "tests drive.",
    "ACCORD_COMPOSE_PORT_PREFIX": "docker-compose.yml: the digit put before make run's ports "
    "(default 1: services 18101-18105, portal 18100, Kafka 19092, OPA 18181, PostgreSQL "
    "15432, Keycloak 18180), so that compose never meets make run or the tests (which use 2).",
    "ACCORD_DEMO_LOOP_STARTUP_SECONDS": "deploy/demo-loop.sh: how long `make run` may take "
    "to come up before a run counts as failed (default 600).",
    "ACCORD_TOKEN": "The independent Go log verifier (docs/verifying-the-log.md): the privacy "
    "officer's bearer token it sends to the audit service.",
    "ACCORD_ASYNCAPI_PARSER": "Tests: the AsyncAPI parser's npm install (tools/asyncapi), "
    "exported by deploy/provision.sh.",
    "ACCORD_CONFORMANCE_EXAMPLES": "Tests: examples per operation in the OpenAPI response "
    "conformance checks (schemathesis).",
    "ACCORD_FUZZ_EXAMPLES": "Tests: examples per stateful fuzzing run (more finds more, slower).",
    "ACCORD_PROPERTY_EXAMPLES": "Tests: examples per policy property test.",
    "ACCORD_TEST_OPA_URL": "Tests: use an already running OPA instead of starting one.",
}


def _env_name(settings: type[BaseSettings], field: str) -> str:
    """The variable's name; a field read under aliases lists the upper-case ones (the
    environment's names), first the preferred."""
    alias = settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        names = [c for c in alias.choices if isinstance(c, str) and c.isupper()]
        if names:
            return " or ".join(names)
    if isinstance(alias, str) and alias.isupper():
        return alias
    prefix = str(settings.model_config.get("env_prefix", ""))
    return (prefix + field).upper()


def _default(settings: type[BaseSettings], field: str) -> str:
    info = settings.model_fields[field]
    if info.default_factory is not None:
        value: object = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is None:
        return "(unset)"
    if isinstance(value, Path):
        # Package-relative paths differ per checkout; show them relative to the repository.
        text = value.as_posix()
        marker = "/services/"
        return "services/" + text.split(marker, 1)[1] if marker in text else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def rows(settings: type[BaseSettings]) -> list[tuple[str, str, str]]:
    inherited: set[str] = set()
    for base in settings.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, BaseSettings) and base is not BaseSettings:
            inherited |= set(base.model_fields)
    out = []
    for field, info in settings.model_fields.items():
        if field in inherited:
            continue
        if not info.description:
            raise ValueError(f"{settings.__name__}.{field} has no description (a docstring)")
        out.append((_env_name(settings, field), _default(settings, field), info.description))
    return out


def documented_variables() -> set[str]:
    names = set(TOOLING)
    for source in SETTINGS:
        for name, _, _ in rows(source.load()):
            names |= set(name.split(" or "))
    return names


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `accord config-docs` from the settings classes; do not edit. -->",
        "",
        "Every setting is an environment variable. Services read `ACCORD_*`, the portal",
        "`ACCORD_PORTAL_*`. Lists are JSON. The defaults are the local run's (`make run`):",
        "loopback addresses, embedded SQLite stores and development keys in the data",
        "directory. A deployment sets at least the database URL, Kafka, OPA, the token",
        "issuers, the audit signing key and the portal's public URL and client secrets.",
        "",
    ]
    for source in SETTINGS:
        settings = source.load()
        lines += [
            f"## {source.title}",
            "",
            f"Read by {source.applies_to} (`{source.target}`).",
            "",
            "| Variable | Default | Meaning |",
            "| --- | --- | --- |",
        ]
        for name, default, meaning in rows(settings):
            variable = " or ".join(f"`{n}`" for n in name.split(" or "))
            lines.append(f"| {variable} | `{_cell(default)}` | {_cell(meaning)} |")
        lines.append("")
    lines += [
        "## Scripts and tests",
        "",
        "| Variable | Meaning |",
        "| --- | --- |",
    ]
    for name, meaning in sorted(TOOLING.items()):
        lines.append(f"| `{name}` | {_cell(meaning)} |")
    lines.append("")
    return "\n".join(lines)
