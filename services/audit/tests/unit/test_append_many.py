"""`append_many`: one transaction per batch, and exactly the tree repeated `append` builds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from accord_audit.errors import InvalidRecord
from accord_audit.log_store import AuditLogStore
from accord_audit.merkle import InMemoryTree, verify_consistency, verify_inclusion
from sqlalchemy import event, text

Body = Callable[[int], bytes]
Fill = Callable[[AuditLogStore, int], None]
AT = datetime(2026, 11, 23, tzinfo=UTC)
# Uneven on purpose: batches that start and end mid-subtree, a single entry and a batch that
# completes a 16-leaf subtree, so every merge case of the frontier crosses a batch boundary.
BATCHES = (1, 2, 5, 13, 1, 7, 16, 3)


def _store(directory: Path, name: str) -> AuditLogStore:
    created = AuditLogStore.from_url(f"sqlite:///{directory / name}")
    created.create_schema()
    return created


def _rows(store: AuditLogStore, query: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


def _items(first: int, count: int, audit_body: Body) -> list[tuple[str, bytes]]:
    return [(f"evt-{n:05d}", audit_body(n)) for n in range(first, first + count)]


def test_batches_build_the_same_tree_as_single_appends(
    tmp_path: Path, fill: Fill, audit_body: Body
) -> None:
    one_by_one = _store(tmp_path, "single.db")
    batched = _store(tmp_path, "batched.db")
    total = sum(BATCHES)
    fill(one_by_one, total)
    appended: list[int] = []
    for count in BATCHES:
        appended += batched.append_many(_items(len(appended), count, audit_body), AT)

    assert appended == list(range(total))
    assert _rows(
        batched, "SELECT idx, event_id, body, leaf_hash FROM audit_entries ORDER BY idx"
    ) == _rows(one_by_one, "SELECT idx, event_id, body, leaf_hash FROM audit_entries ORDER BY idx")
    nodes = "SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx"
    assert _rows(batched, nodes) == _rows(one_by_one, nodes)
    mirror = InMemoryTree.from_leaves(audit_body(n) for n in range(total))
    assert batched.root() == one_by_one.root() == mirror.root()
    for size in range(1, total + 1):
        root = batched.root(size)
        assert root == one_by_one.root(size)
        for index in range(0, size, 3):
            proof = batched.inclusion_proof(index, size)
            assert proof == one_by_one.inclusion_proof(index, size)
            verify_inclusion(batched.entry(index).leaf_hash, index, size, proof, root)
        for old_size in range(1, size + 1, 4):
            proof = batched.consistency_proof(old_size, size)
            assert proof == one_by_one.consistency_proof(old_size, size)
            verify_consistency(old_size, size, proof, batched.root(old_size), root)


def test_a_batch_continues_a_log_built_by_single_appends(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    fill(store, 6)
    assert store.append_many(_items(6, 5, audit_body)) == [6, 7, 8, 9, 10]
    assert store.append("evt-00011", audit_body(11)) == 11
    mirror = InMemoryTree.from_leaves(audit_body(n) for n in range(12))
    assert store.root() == mirror.root()


def test_replayed_event_ids_keep_their_index_within_and_across_batches(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    fill(store, 4)
    root = store.root()
    replayed = [
        ("evt-00002", b'{"a":"another body for a known event"}'),
        ("evt-new-1", audit_body(4)),
        ("evt-00000", audit_body(0)),
        ("evt-new-1", audit_body(99)),
        ("evt-new-2", audit_body(5)),
    ]
    assert store.append_many(replayed) == [2, 4, 0, 4, 5]
    assert store.size() == 6
    assert store.entry(2).body == audit_body(2)
    assert store.entry(4).body == audit_body(4)
    assert store.root(4) == root
    assert store.root() == InMemoryTree.from_leaves(audit_body(n) for n in range(6)).root()


def test_a_batch_of_known_events_reads_no_tree_nodes(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    fill(store, 9)
    node_reads = _count_node_reads(store)
    assert store.append_many(_items(3, 4, audit_body)) == [3, 4, 5, 6]
    assert node_reads() == 0
    assert store.size() == 9


def test_a_batch_loads_the_frontier_once_in_one_query(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    fill(store, 139)
    # Another appender on the same database (another process) has no frontier of its own.
    other = AuditLogStore(store.engine)
    node_reads = _count_node_reads(other)
    other.append_many(_items(139, 50, audit_body))
    # 139 = 0b10001011: four perfect subtrees on the right edge, one query for all 50 leaves.
    assert node_reads() == 1
    assert other.size() == 189


def test_the_last_appender_keeps_its_frontier_and_drops_it_once_another_appended(
    store: AuditLogStore, fill: Fill, audit_body: Body
) -> None:
    fill(store, 10)
    node_reads = _count_node_reads(store)
    store.append_many(_items(10, 3, audit_body))
    assert node_reads() == 0
    other = AuditLogStore(store.engine)
    other.append_many(_items(13, 5, audit_body))
    assert node_reads() == 1  # the other store's own frontier read (same engine)
    # The log grew under `store`: its kept frontier is for 13 entries, not 18, so it reads.
    assert store.append_many(_items(18, 2, audit_body)) == [18, 19]
    assert node_reads() == 2
    assert store.root() == InMemoryTree.from_leaves(audit_body(n) for n in range(20)).root()


@pytest.mark.parametrize(
    "bad",
    [("", b'{"a":1}'), ("evt-bad", b'{"b":1,"a":2}'), ("evt-bad", b"not json")],
    ids=["no-event-id", "not-canonical", "not-json"],
)
def test_one_bad_entry_appends_nothing_of_its_batch(
    store: AuditLogStore, fill: Fill, audit_body: Body, bad: tuple[str, bytes]
) -> None:
    fill(store, 3)
    root = store.root()
    batch = [*_items(3, 2, audit_body), bad, *_items(5, 2, audit_body)]
    with pytest.raises(InvalidRecord):
        store.append_many(batch)
    assert store.size() == 3
    assert store.root() == root
    assert store.index_of("evt-00003") is None


def test_an_empty_batch_changes_nothing(store: AuditLogStore, fill: Fill) -> None:
    fill(store, 2)
    root = store.root()
    assert store.append_many([]) == []
    assert (store.size(), store.root()) == (2, root)


def test_a_large_batch_looks_up_known_ids_in_chunks(store: AuditLogStore, audit_body: Body) -> None:
    # More ids than one lookup statement takes, with replays on both sides of a chunk edge.
    first = store.append_many(_items(0, 1200, audit_body))
    assert first == list(range(1200))
    again = store.append_many(
        [*_items(495, 10, audit_body), *_items(1200, 3, audit_body), *_items(1195, 5, audit_body)]
    )
    assert again == [*range(495, 505), 1200, 1201, 1202, *range(1195, 1200)]
    assert store.size() == 1203
    assert store.root() == InMemoryTree.from_leaves(audit_body(n) for n in range(1203)).root()


def _count_node_reads(store: AuditLogStore) -> Callable[[], int]:
    reads = 0

    def count(*arguments: Any) -> None:
        nonlocal reads
        statement = arguments[2]
        if statement.lstrip().upper().startswith("SELECT") and "audit_nodes" in statement:
            reads += 1

    event.listen(store.engine, "before_cursor_execute", count)
    return lambda: reads
