from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from accord_audit.checkpoint import (
    Checkpoint,
    NoteSigner,
    open_checkpoint,
    sign_checkpoint,
)
from accord_audit.errors import InvalidCheckpoint, InvalidRecord, OutOfRange
from accord_audit.log_store import (
    AuditLogStore,
    append_only_statements,
    grant_append_only,
)
from accord_audit.merkle import (
    EMPTY_ROOT,
    InMemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DatabaseError

Fill = Callable[[AuditLogStore, int], None]
Body = Callable[[int], bytes]


def _mirror(count: int, audit_body: Body) -> InMemoryTree:
    return InMemoryTree.from_leaves(audit_body(number) for number in range(count))


def test_entries_get_consecutive_indexes(store: AuditLogStore, audit_body: Body) -> None:
    assert store.size() == 0
    assert store.root() == EMPTY_ROOT
    at = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert [store.append(f"evt-{n}", audit_body(n), at) for n in range(3)] == [0, 1, 2]
    assert store.size() == 3
    entry = store.entry(1)
    assert (entry.index, entry.event_id, entry.body) == (1, "evt-1", audit_body(1))
    assert entry.leaf_hash == leaf_hash(audit_body(1))
    assert entry.recorded_at == at
    assert entry.recorded_at.tzinfo is not None
    assert store.index_of("evt-2") == 2
    assert store.index_of("evt-unknown") is None


def test_a_redelivered_event_is_not_appended_twice(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    fill(store, 5)
    root = store.root()
    assert store.append("evt-00003", b'{"a":"different body for the same event"}') == 3
    assert store.size() == 5
    assert store.root() == root
    assert store.entry(3).body == audit_body(3)


def test_an_entry_needs_an_event_id(store: AuditLogStore, audit_body: Body) -> None:
    with pytest.raises(InvalidRecord):
        store.append("", audit_body(0))


@pytest.mark.parametrize("body", [b"not json", b'{"b":1,"a":2}', b'{"a": 1}', b"[]"])
def test_only_canonical_json_objects_are_appended(store: AuditLogStore, body: bytes) -> None:
    with pytest.raises(InvalidRecord):
        store.append("evt-1", body)
    assert store.size() == 0


def test_roots_and_proofs_match_the_in_memory_tree(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    count = 21
    fill(store, count)
    mirror = _mirror(count, audit_body)
    with store.engine.connect() as connection:
        stored_nodes = connection.execute(text("SELECT count(*) FROM audit_nodes")).scalar_one()
    assert stored_nodes == sum(count >> level for level in range(count.bit_length()))
    for size in range(count + 1):
        root = mirror.root() if size == count else _mirror(size, audit_body).root()
        assert store.root(size) == root
        for index in range(size):
            proof = store.inclusion_proof(index, size)
            assert proof == inclusion_proof(mirror, index, size)
            verify_inclusion(leaf_hash(audit_body(index)), index, size, proof, root)
        for old_size in range(1, size + 1):
            proof = store.consistency_proof(old_size, size)
            assert proof == consistency_proof(mirror, old_size, size)
            verify_consistency(old_size, size, proof, store.root(old_size), root)


@pytest.mark.parametrize(
    ("request_proof"),
    [
        lambda store: store.inclusion_proof(5, 5),
        lambda store: store.inclusion_proof(0, 6),
        lambda store: store.inclusion_proof(-1, 3),
        lambda store: store.consistency_proof(0, 3),
        lambda store: store.consistency_proof(4, 3),
        lambda store: store.consistency_proof(2, 6),
        lambda store: store.root(6),
        lambda store: store.entry(5),
    ],
    ids=[
        "index-equals-size",
        "size-beyond-log",
        "negative-index",
        "from-empty",
        "shrinking",
        "beyond-log",
        "root-beyond-log",
        "missing-entry",
    ],
)
def test_requests_outside_the_log_are_out_of_range(
    store: AuditLogStore, fill: Fill, request_proof: Callable[[AuditLogStore], Any]
) -> None:
    fill(store, 5)
    with pytest.raises(OutOfRange):
        request_proof(store)


def test_proofs_roots_and_appends_read_their_nodes_in_one_query(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    node_reads = 0

    def count_node_reads(*arguments: Any) -> None:
        nonlocal node_reads
        statement = arguments[2]
        if statement.lstrip().upper().startswith("SELECT") and "audit_nodes" in statement:
            node_reads += 1

    count = 140
    fill(store, count - 1)
    event.listen(store.engine, "before_cursor_execute", count_node_reads)
    # A store that did not make the last append: it loads the frontier of a tree of
    # 139 = 0b10001011 leaves (four hashes), in one query.
    AuditLogStore(store.engine).append("evt-last", audit_body(count))
    assert node_reads == 1

    reads = []
    for index in range(0, count, 7):
        node_reads = 0
        store.inclusion_proof(index, count)
        reads.append(node_reads)
    for old_size in range(1, count, 7):
        node_reads = 0
        store.consistency_proof(old_size, count)
        reads.append(node_reads)
    assert set(reads) == {1}
    node_reads = 0
    store.root(count)
    assert node_reads == 1


def test_concurrent_appenders_are_serialised(store: AuditLogStore) -> None:
    threads_count, per_thread = 4, 15
    failures: list[BaseException] = []

    def append_batch(thread: int) -> None:
        try:
            for number in range(per_thread):
                event_id = f"evt-{thread}-{number}"
                store.append(event_id, f'{{"event_id":"{event_id}"}}'.encode())
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=append_batch, args=(n,)) for n in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    total = threads_count * per_thread
    assert store.size() == total
    entries = list(store.iter_entries())
    assert [entry.index for entry in entries] == list(range(total))
    tree = InMemoryTree()
    for entry in entries:
        tree.append(entry.body)
    assert store.root() == tree.root()


def test_published_checkpoints_sign_the_current_root(
    store: AuditLogStore, fill: Fill, signer: NoteSigner
) -> None:
    assert store.latest_checkpoint() is None
    fill(store, 10)
    first = store.publish_checkpoint(signer.name, signer)
    assert open_checkpoint(first, signer.verifier) == Checkpoint(signer.name, 10, store.root())
    fill(store, 3)
    second = store.publish_checkpoint(signer.name, signer)
    assert store.latest_checkpoint() == second
    assert open_checkpoint(second, signer.verifier).size == 13
    assert [size for size, _ in store.checkpoints()] == [10, 13]


def test_a_checkpoint_once_stored_is_never_replaced(
    store: AuditLogStore, fill: Fill, signer: NoteSigner
) -> None:
    fill(store, 4)
    kept = store.save_checkpoint(sign_checkpoint(Checkpoint(signer.name, 4, store.root()), signer))
    other = sign_checkpoint(Checkpoint(signer.name, 4, store.root(), ("second",)), signer)
    assert store.save_checkpoint(other) == kept
    assert store.checkpoints() == [(4, kept)]


def test_checkpoints_that_misstate_the_log_are_refused(
    store: AuditLogStore, fill: Fill, signer: NoteSigner
) -> None:
    fill(store, 4)
    with pytest.raises(InvalidCheckpoint):
        store.save_checkpoint(sign_checkpoint(Checkpoint(signer.name, 4, store.root(3)), signer))
    with pytest.raises(OutOfRange):
        store.save_checkpoint(sign_checkpoint(Checkpoint(signer.name, 5, store.root()), signer))
    assert store.checkpoints() == []


def test_append_only_on_sqlite_forbids_update_and_delete(
    store: AuditLogStore, fill: Fill, signer: NoteSigner, audit_body: Body
) -> None:
    fill(store, 3)
    store.publish_checkpoint(signer.name, signer)
    executed = grant_append_only(store.engine, "accord_audit")
    assert len(executed) == 6
    for statement in (
        "UPDATE audit_entries SET body = x'00' WHERE idx = 1",
        "DELETE FROM audit_entries WHERE idx = 2",
        "UPDATE audit_nodes SET hash = x'00' WHERE level = 0 AND idx = 0",
        "DELETE FROM audit_nodes",
        "UPDATE audit_checkpoints SET note = 'forged'",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    fill(store, 2)
    assert store.size() == 5
    assert store.entry(1).body == audit_body(1)
    assert grant_append_only(store.engine, "accord_audit") == executed


def test_append_only_on_postgresql_revokes_changes_from_the_role() -> None:
    engine = create_engine("postgresql+psycopg://accord@localhost/accord_audit")
    assert append_only_statements(engine, "accord_audit") == [
        "REVOKE UPDATE, DELETE, TRUNCATE ON TABLE audit_entries, audit_nodes, "
        "audit_checkpoints FROM accord_audit",
        "GRANT SELECT, INSERT ON TABLE audit_entries, audit_nodes, audit_checkpoints "
        "TO accord_audit",
    ]
    quoted = append_only_statements(engine, 'Audit"Service')
    assert all(statement.endswith('"Audit""Service"') for statement in quoted)
    with pytest.raises(ValueError):
        append_only_statements(engine, "")


def test_timestamps_default_to_utc(store: AuditLogStore, audit_body: Body) -> None:
    store.append("evt-now", audit_body(0))
    assert store.entry(0).recorded_at.utcoffset() == timedelta(0)
