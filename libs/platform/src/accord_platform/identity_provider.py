"""Keycloak, the OpenID Connect provider of `accord run` and the tests, as a child process.

The distribution unpacked by `deploy/provision.sh` is shared by every Keycloak on the machine
and never written to. Keycloak writes into its home directory: the Quarkus build of `start-dev`
goes into `lib/quarkus`, the H2 dev database and the realm import into `data`. So each instance
runs from a home of its own under its data directory: the launcher, configuration and build
output copied (a few MB), the read-only jars linked. Several test sessions and a `make run` can
then run side by side, each with its own database, and the first start of an instance pays the
Quarkus build once (later starts of the same data directory skip it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import httpx

from accord_platform.infra import (
    LOOPBACK,
    REPO,
    ChildServer,
    InfrastructureError,
    free_port,
    provisioned,
)

REALM = "accord"
REALM_FILE = REPO / "deploy" / "keycloak" / "accord-realm.json"
# The victims' realm (issue 17): no self-registration, no dev users; accounts are made by the
# enrolment service account after a victim redeems an invitation code.
VICTIMS_REALM = "accord-victims"
VICTIMS_REALM_FILE = REPO / "deploy" / "keycloak" / "accord-victims-realm.json"
VICTIM_VIEW_CLIENT = "accord-victim-view"
VICTIM_VIEW_SECRET = "accord-victim-view-dev-secret"
ENROLMENT_CLIENT = "accord-enrolment"
ENROLMENT_SECRET = "accord-enrolment-dev-secret"
DEV_PASSWORD = "accord-dev"
# The public password-grant client that exists only in the dev realm file (see the realm's
# description of it); the portal's own client allows the browser flow only.
TEST_CLIENT = "accord-tests"
PORTAL_CLIENT = "accord-portal"
PORTAL_SECRET = "accord-portal-dev-secret"


def dev_users(realm_file: Path = REALM_FILE) -> list[dict[str, str]]:
    """The realm file's users: username, agency, role, org and full name, in file order."""
    realm = json.loads(realm_file.read_text())
    users = []
    for user in realm.get("users", []):
        attributes = user.get("attributes", {})
        users.append(
            {
                "username": user["username"],
                "name": f"{user.get('firstName', '')} {user.get('lastName', '')}".strip(),
                **{claim: attributes.get(claim, [""])[0] for claim in ("agency", "role", "org")},
            }
        )
    return users


def keycloak_home(environ: Mapping[str, str] | None = None) -> Path:
    """The unpacked Keycloak distribution: ACCORD_KEYCLOAK_HOME when exported, otherwise what
    the (idempotent) provisioning script reports."""
    env = os.environ if environ is None else environ
    home = env.get("ACCORD_KEYCLOAK_HOME") or provisioned({}).get("ACCORD_KEYCLOAK_HOME")
    if not home:
        raise InfrastructureError("deploy/provision.sh did not export ACCORD_KEYCLOAK_HOME")
    return Path(home)


class KeycloakServer(ChildServer):
    """Keycloak in dev mode on 127.0.0.1, with the staff realm `accord` imported from
    `realm_file` and the victims' realm `accord-victims` from `victims_realm_file`."""

    name = "keycloak"

    def __init__(
        self,
        keycloak_home: Path,
        data_dir: Path,
        port: int = 8180,
        management_port: int = 8190,
        realm_file: Path = REALM_FILE,
        heap: str = "512m",
        victims_realm_file: Path = VICTIMS_REALM_FILE,
    ) -> None:
        super().__init__(data_dir)
        self.keycloak_home = keycloak_home
        self.port = port
        self.management_port = management_port
        self.realm_file = realm_file
        self.victims_realm_file = victims_realm_file
        self.heap = heap

    @classmethod
    def from_environment(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> Self:
        """An instance under `data_dir` on free ports, never those of `make run` (8180, 8190)."""
        return cls(keycloak_home(environ), data_dir, port=free_port(), management_port=free_port())

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def victims_issuer(self) -> str:
        return f"{self.url}/realms/{VICTIMS_REALM}"

    @property
    def victims_token_url(self) -> str:
        return f"{self.victims_issuer}/protocol/openid-connect/token"

    @property
    def victims_admin_url(self) -> str:
        """The admin REST API of the victims' realm (users), for the enrolment account."""
        return f"{self.url}/admin/realms/{VICTIMS_REALM}"

    def victims_issuer_config(self) -> dict[str, str]:
        """The victims' realm as one entry of ACCORD_TOKEN_ISSUERS."""
        return {
            "issuer": self.victims_issuer,
            "jwks_url": f"{self.victims_issuer}/protocol/openid-connect/certs",
        }

    def enrolment_token(
        self, client_id: str = ENROLMENT_CLIENT, secret: str = ENROLMENT_SECRET
    ) -> str:
        """The enrolment service account's access token (client credentials): it redeems
        codes at victim services and manages users in the victims' realm."""
        response = httpx.post(
            self.victims_token_url,
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=10.0,
        )
        if response.status_code != 200:
            raise InfrastructureError(
                f"client credentials for {client_id} refused: {response.status_code}"
            )
        return str(response.json()["access_token"])

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def instance_home(self) -> Path:
        return self.data_dir / "home"

    def issuer_config(self) -> dict[str, str]:
        """This provider as one entry of ACCORD_TOKEN_ISSUERS (ServiceSettings.token_issuers)."""
        return {"issuer": self.issuer, "jwks_url": self.jwks_url}

    def prepare(self) -> None:
        super().prepare()
        if not (self.keycloak_home / "lib" / "quarkus-run.jar").is_file():
            raise InfrastructureError(
                f"no Keycloak distribution in {self.keycloak_home}: run deploy/provision.sh"
            )
        self._build_home()
        self._stage_realm()

    def _build_home(self) -> None:
        home = self.instance_home
        marker = home / ".distribution"
        source = str(self.keycloak_home.resolve())
        if marker.is_file() and marker.read_text() == source:
            return
        # A new distribution (another version): a fresh home and a fresh Quarkus build, but the
        # database in data/ is kept (Keycloak migrates it).
        for part in ("bin", "conf", "lib", "providers", "themes"):
            target = home / part
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
        (home / "bin").mkdir(parents=True)
        # kc.sh finds its home from its own resolved path, so it must be a copy, not a link.
        shutil.copy2(self.keycloak_home / "bin" / "kc.sh", home / "bin" / "kc.sh")
        shutil.copytree(self.keycloak_home / "conf", home / "conf")
        (home / "lib").mkdir()
        shutil.copy2(self.keycloak_home / "lib" / "quarkus-run.jar", home / "lib")
        # Rewritten by the Quarkus build at the first start-dev: our own copy.
        shutil.copytree(self.keycloak_home / "lib" / "quarkus", home / "lib" / "quarkus")
        for shared in ("lib", "app"):
            (home / "lib" / shared).symlink_to(self.keycloak_home.resolve() / "lib" / shared)
        (home / "providers").mkdir()
        (home / "themes").mkdir()
        (home / "data").mkdir(exist_ok=True)
        marker.write_text(source)

    def _stage_realm(self) -> None:
        """The realm files into the home's import directory. Keycloak imports a realm only
        when it does not exist yet, so when either file changed since the database was made
        (new dev users, another mapper, the victims' realm added) the dev database is dropped
        and both realms imported afresh."""
        data = self.instance_home / "data"
        realms = {REALM: self.realm_file.read_bytes()}
        if self.victims_realm_file.is_file():
            realms[VICTIMS_REALM] = self.victims_realm_file.read_bytes()
        digest = hashlib.sha256(b"".join(hashlib.sha256(t).digest() for t in realms.values()))
        stamp = data / "realm.sha256"
        if stamp.is_file() and stamp.read_text().strip() != digest.hexdigest():
            shutil.rmtree(data / "h2", ignore_errors=True)
        import_dir = data / "import"
        import_dir.mkdir(parents=True, exist_ok=True)
        for name, text in realms.items():
            (import_dir / f"{name}-realm.json").write_bytes(text)
        stamp.write_text(digest.hexdigest() + "\n")

    def command(self) -> list[str]:
        return [
            # env execs kc.sh in its place, so the process we watch and signal is kc.sh.
            "env",
            f"JAVA_OPTS_KC_HEAP=-Xms64m -Xmx{self.heap}",
            "/bin/sh",
            str(self.instance_home / "bin" / "kc.sh"),
            "start-dev",
            f"--http-host={LOOPBACK}",
            f"--http-port={self.port}",
            # Keycloak binds its management interface (health, metrics) on 9000 by default
            # whenever one of them is enabled: a port of our own keeps instances apart.
            f"--http-management-port={self.management_port}",
            "--import-realm",
            "--db=dev-file",
            "--log-level=warn,org.keycloak.exportimport:info,io.quarkus:info",
        ]

    def answers(self) -> bool:
        # The realm's discovery document is served only once the realm is imported and the
        # HTTP listener is up, which is when sign-in and token requests work.
        try:
            response = httpx.get(self.discovery_url, timeout=2.0)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        with contextlib.suppress(ValueError):
            return bool(response.json().get("issuer") == self.issuer)
        return False

    def wait_ready(self, timeout: float = 240.0) -> None:
        # The first start of a data directory runs the Quarkus build and creates the database
        # (about 30 s on two cores); later starts take about 10 s.
        super().wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL to kc.sh and its JVM together (during the first start the JVM that builds is
        kc.sh's child, not kc.sh itself)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        super().kill()

    def password_token(
        self,
        username: str,
        password: str = DEV_PASSWORD,
        client_id: str = TEST_CLIENT,
        scope: str = "openid",
    ) -> dict[str, Any]:
        """The token response (access_token, id_token, refresh_token, expires_in...) of a
        resource-owner password grant for a dev user; for tests only."""
        response = httpx.post(
            self.token_url,
            data={
                "grant_type": "password",
                "client_id": client_id,
                "username": username,
                "password": password,
                "scope": scope,
            },
            timeout=10.0,
        )
        if response.status_code != 200:
            raise InfrastructureError(
                f"password grant for {username} refused: {response.status_code} {response.text}"
            )
        body: dict[str, Any] = response.json()
        return body

    def access_token(self, username: str, password: str = DEV_PASSWORD) -> str:
        """A dev user's access token (RS256, 300 s), as the services receive it."""
        return str(self.password_token(username, password)["access_token"])
