"""Audit use cases: append every integration event and access decision to the Merkle log,
publish signed checkpoints, answer who-accessed-what. The audit service's own reads are
access records too (kept in its event store, relayed to the log like everyone else's)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import (
    Contract,
    ReferralAccepted,
    ReferralSubmitted,
    VictimServicesTransferred,
)
from accord_kernel.envelope import IntegrationEvent
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from accord_audit.canonical import canonical_json, parse_canonical
from accord_audit.checkpoint import NoteSigner
from accord_audit.config import AuditSettings
from accord_audit.log_store import AuditLogStore
from accord_audit.records import audit_record

log = logging.getLogger("accord.audit")

# An index beside the log (not part of it): which entries concern which case. It can always
# be rebuilt from the log, so it needs no proofs of its own.
index_metadata = MetaData()
case_index = Table(
    "audit_case_index",
    index_metadata,
    Column("case_id", String(64), primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("kind", String(16), nullable=False),
)


class AuditService(AccordApplication):
    service_name: ClassVar[str] = "audit"

    def __init__(self, settings: AuditSettings, store: AuditLogStore, signer: NoteSigner) -> None:
        super().__init__(settings)
        self.store = store
        self.signer = signer
        self.origin = settings.audit_origin
        self.audit_settings = settings
        self.contexts = CaseContexts(self)

    def learn_responsibility(self, items: list[tuple[IntegrationEvent, Contract]]) -> None:
        """Which organisation is responsible for a case, so that victim services reads only its
        own victims' access logs. Kept apart from the log: noting it twice changes nothing."""
        handlers = self.contexts.handlers()
        for event, contract in items:
            if isinstance(
                contract, (ReferralSubmitted, ReferralAccepted, VictimServicesTransferred)
            ):
                changed = handlers[contract.type](event, contract)
                if changed:
                    self.save(*changed)

    # --- writing -------------------------------------------------------------------------
    def record(self, event: IntegrationEvent, contract: Contract) -> int:
        body = audit_record(event, contract)
        index = self.store.append(event.id, canonical_json(body))
        self._index(str(body.get("case_id", event.case_id))[:64], index, body["kind"])
        return index

    def record_many(self, items: list[tuple[IntegrationEvent, Contract]]) -> list[int]:
        """One transaction for a batch of deliveries; replays keep their first index."""
        bodies = [audit_record(event, contract) for event, contract in items]
        indexes = self.store.append_many(
            [
                (event.id, canonical_json(body))
                for (event, _), body in zip(items, bodies, strict=True)
            ]
        )
        rows = [
            {
                "case_id": str(body.get("case_id", event.case_id))[:64],
                "idx": index,
                "kind": body["kind"],
            }
            for (event, _), body, index in zip(items, bodies, indexes, strict=True)
        ]
        insert = (
            postgresql_insert if self.store.engine.dialect.name == "postgresql" else sqlite_insert
        )
        with self.store.engine.begin() as conn:
            # a redelivered event is already indexed: nothing to do for its row
            conn.execute(insert(case_index).on_conflict_do_nothing(), rows)
        return indexes

    def _index(self, case_id: str, index: int, kind: str) -> None:
        try:
            with self.store.engine.begin() as conn:
                conn.execute(case_index.insert().values(case_id=case_id, idx=index, kind=kind))
        except IntegrityError:
            pass  # a redelivered event: already indexed

    def reindex(self) -> int:
        """Indexes entries appended before a crash between append and index."""
        with self.store.engine.connect() as conn:
            last = conn.execute(
                select(case_index.c.idx).order_by(case_index.c.idx.desc()).limit(1)
            ).scalar_one_or_none()
        start = 0 if last is None else int(last) + 1
        count = 0
        for entry in self.store.iter_entries(start=start):
            body = parse_canonical(entry.body)
            self._index(str(body.get("case_id", ""))[:64], entry.index, str(body["kind"]))
            count += 1
        return count

    def publish_checkpoint(self) -> str | None:
        size = self.store.size()
        if size == 0:
            return None
        latest = self.store.checkpoints()
        if latest and latest[-1][0] == size:
            return latest[-1][1]
        return self.store.publish_checkpoint(self.origin, self.signer)

    # --- reading ---------------------------------------------------------------------------
    def case_entries(
        self, case_id: str, kind: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        query = select(case_index.c.idx).where(case_index.c.case_id == case_id[:64])
        if kind is not None:
            query = query.where(case_index.c.kind == kind)
        with self.store.engine.connect() as conn:
            indexes = [
                int(i)
                for i in conn.execute(query.order_by(case_index.c.idx).limit(limit)).scalars()
            ]
        return [self.entry_document(i) for i in indexes]

    def entry_document(self, index: int) -> dict[str, Any]:
        entry = self.store.entry(index)
        body = parse_canonical(entry.body)
        return {"index": entry.index, **body}

    def verifier_key(self) -> str:
        return self.signer.verifier.vkey
