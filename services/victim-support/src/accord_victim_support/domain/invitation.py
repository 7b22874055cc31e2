"""An invitation to the victim view (issue 17): the advocate gives the victim a one-time code in
person; the code is never stored, only a salted scrypt hash of it. It works once, for 72 hours,
and the advocate can revoke it (and with it the account linked through it) at any moment, for
example when the phone is no longer safe.

The victim's account is linked to the case through exactly one invitation, so revoking the
invitation is what ends the account's access: nothing else needs to be found and changed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from accord_victim_support.domain.errors import InvalidState
from accord_victim_support.domain.vocabulary import checks

VALID_FOR = timedelta(hours=72)
# Crockford base32: no I, L, O, U, so a code read aloud or copied by hand is not mistaken.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 12
# A few bits of the code's hash file an invitation in one of this many buckets, so that a code
# can be checked against the few invitations of its bucket instead of every pending one. They
# say nothing useful about the code (65536 buckets for 2^60 codes).
BUCKETS = 65536
# scrypt at 16 MiB and ~50 ms: a stolen event store does not give the codes back quickly.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}

Status = Literal["pending", "redeemed", "expired", "revoked"]


def new_code() -> str:
    """Twelve random characters, shown as XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise(code: str) -> str | None:
    """The code as typed, with dashes and spaces dropped and the characters people confuse
    read as Crockford says (O as 0, I and L as 1); None for anything that cannot be a code."""
    cleaned = code.upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_CHARS or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def bucket_of(normalised: str) -> int:
    return int.from_bytes(hashlib.sha256(normalised.encode()).digest()[:2], "big") % BUCKETS


def hash_code(normalised: str, salt: bytes) -> str:
    return hashlib.scrypt(normalised.encode(), salt=salt, **SCRYPT).hex()


def username_for() -> str:
    """A random, meaningless username: it must not say who the person is or why they sign in."""
    return "victim-" + "".join(secrets.choice(ALPHABET.lower()) for _ in range(6))


class Invitation(Aggregate):
    @classmethod
    def issue(
        cls, *, id: UUID, case_id: str, code: str, created_by: str, at: datetime
    ) -> Invitation:
        normalised = normalise(code)
        if normalised is None:
            raise ValueError("not a code")
        salt = secrets.token_bytes(16)
        at = checks.require_moment(at, "at")
        return cls(
            id=id,
            case_id=checks.require_text(case_id, "case_id", max_length=64),
            salt=salt.hex(),
            code_hash=hash_code(normalised, salt),
            created_by=checks.require_text(created_by, "created_by", max_length=200),
            created_at=at,
            expires_at=at + VALID_FOR,
        )

    @event("VictimInvited")
    def __init__(
        self,
        id: UUID,
        case_id: str,
        salt: str,
        code_hash: str,
        created_by: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.case_id = case_id
        self.salt = salt
        self.code_hash = code_hash
        self.created_by = created_by
        self.created_at = created_at
        self.expires_at = expires_at
        self.redeemed_at: datetime | None = None
        self.username: str | None = None
        self.account: str | None = None
        self.linked_at: datetime | None = None
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None

    def status_at(self, now: datetime) -> Status:
        if self.revoked_at is not None:
            return "revoked"
        if self.redeemed_at is not None:
            return "redeemed"
        if now >= self.expires_at:
            return "expired"
        return "pending"

    def matches(self, normalised: str) -> bool:
        candidate = hash_code(normalised, bytes.fromhex(self.salt))
        return hmac.compare_digest(candidate, self.code_hash)

    def redeem(self, username: str, at: datetime) -> None:
        if self.status_at(at) != "pending":
            raise InvalidState("the invitation cannot be used", {"state": self.status_at(at)})
        self._redeem(username=username, at=at)

    @event("InvitationRedeemed")
    def _redeem(self, username: str, at: datetime) -> None:
        self.redeemed_at = at
        self.username = username

    def link(self, account: str, at: datetime) -> None:
        """Only once, only after redemption, never after revocation."""
        if self.status_at(at) != "redeemed" or self.account is not None:
            raise InvalidState(
                "the invitation cannot be linked to an account", {"state": self.status_at(at)}
            )
        self._link(account=checks.require_text(account, "sub", max_length=128), at=at)

    @event("VictimAccountLinked")
    def _link(self, account: str, at: datetime) -> None:
        self.account = account
        self.linked_at = at

    def revoke(self, by: str, at: datetime) -> None:
        if self.revoked_at is not None:
            raise InvalidState("the invitation is already revoked", {"state": "revoked"})
        self._revoke(by=checks.require_text(by, "by", max_length=200), at=at)

    @event("VictimAccessRevoked")
    def _revoke(self, by: str, at: datetime) -> None:
        self.revoked_at = at
        self.revoked_by = by

    @property
    def active_account(self) -> str | None:
        """The linked account while it may see the case."""
        return self.account if self.revoked_at is None else None


class VictimAccount(Aggregate):
    """Which invitation an identity-provider account (`sub`) came through: one account, one
    invitation, one case. Its id is derived from the sub, so a second link is refused."""

    @staticmethod
    def id_for(sub: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/victim-support/victim-account/{sub}")

    @classmethod
    def create_id(cls, sub: str, **_: object) -> UUID:
        return cls.id_for(sub)

    @event("Opened")
    def __init__(self, sub: str, invitation_id: UUID, case_id: str, at: datetime) -> None:
        self.sub = sub
        self.invitation_id = invitation_id
        self.case_id = case_id
        self.at = at
        self.tell_me_about_agreement = False

    @event("PreferencesChosen")
    def choose(self, tell_me_about_agreement: bool, at: datetime) -> None:
        self.tell_me_about_agreement = tell_me_about_agreement
