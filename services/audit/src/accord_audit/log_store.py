"""The append-only audit log on SQLAlchemy Core, for SQLite and PostgreSQL.

Besides the entries, the store keeps the hash of every perfect subtree (`audit_nodes`), so
roots and proofs read O(log n) rows and an append writes O(log n) rows. Appends are
serialised (a transaction-scoped advisory lock on PostgreSQL, `BEGIN IMMEDIATE` on
SQLite) because leaf n's nodes depend on the frontier left by leaf n - 1.

Round trips, not rows, are what an append and a proof cost: the hashes a proof needs are
fetched in one query, the frontier of the last append is kept in memory (and used only while
the log still has the size it was kept for), and new rows go in as multi-row INSERTs.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError

from accord_audit.canonical import parse_canonical
from accord_audit.checkpoint import (
    Checkpoint,
    NoteSigner,
    read_checkpoint_unverified,
    sign_checkpoint,
)
from accord_audit.errors import InvalidCheckpoint, InvalidRecord, LogCorrupted, OutOfRange
from accord_audit.merkle import (
    HASH_SIZE,
    CompactRange,
    SubtreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
)

metadata = MetaData()

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", Text, nullable=False, unique=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
)

audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
)

AUDIT_TABLES = (audit_entries, audit_nodes, audit_checkpoints)

# Any fixed 64-bit number works; deriving it from a name keeps it from colliding with
# advisory locks other services might take in a shared database.
APPEND_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"accord.audit.append").digest()[:8], "big", signed=True
)
_SQLITE_BEGIN = "accord_audit_sqlite_begin"
_SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would otherwise begin transactions only at the first write, leaving the
    # reads of an append outside the transaction that writes.
    dbapi_connection.isolation_level = None
    # Appends (consumer) and checkpoint signing (API, background task) write from several
    # connections; wait for the lock rather than fail the request.
    dbapi_connection.execute("PRAGMA busy_timeout = 30000")


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _server_went_away(context: Any) -> None:
    # A restarted PostgreSQL ends its sessions with SQLSTATE 57P01 (admin shutdown), which
    # SQLAlchemy does not count as a disconnect: say it is one, so the pre-ping or the failed
    # statement invalidates the pooled connection and the next use reconnects.
    if getattr(context.original_exception, "sqlstate", None) in ("57P01", "57P02", "57P03"):
        context.is_disconnect = True


def _prepare_engine(engine: Engine) -> None:
    if engine.dialect.name not in _SUPPORTED_DIALECTS:
        raise ValueError(f"the audit log runs on SQLite or PostgreSQL, not {engine.dialect.name}")
    if engine.dialect.name == "postgresql" and not event.contains(
        engine, "handle_error", _server_went_away
    ):
        event.listen(engine, "handle_error", _server_went_away)
    if engine.dialect.name == "sqlite" and not event.contains(engine, "begin", _sqlite_begin):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        # Pooled connections were opened before the connect hook existed.
        engine.dispose()


def create_audit_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite") and "connect_args" not in options:
        # Appenders queue one by one on SQLite's single write lock; pysqlite gives up
        # after 5 s by default, which a burst of concurrent appends can exceed.
        options["connect_args"] = {"timeout": 30}
    # No ping before each checkout (a round trip per use): a statement that finds its pooled
    # connection dead after a database restart makes SQLAlchemy drop every connection of the
    # pool older than that moment, and the store's methods run once more (`_reconnecting`).
    options.setdefault("pool_pre_ping", False)
    engine = create_engine(url, **options)
    _prepare_engine(engine)
    return engine


@dataclass(frozen=True)
class AuditEntry:
    index: int
    event_id: str
    recorded_at: datetime
    body: bytes
    leaf_hash: bytes


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _reconnecting(method: Callable[_P, _T]) -> Callable[_P, _T]:
    """Runs a store method once more when its connection turned out to be dead (a database
    restart): SQLAlchemy has by then dropped the pool's old connections, so the second run
    gets a new one. An append is safe to repeat: its transaction either committed, and the
    event ids are found in the log, or it did not."""

    @functools.wraps(method)
    def once_more(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(*args, **kwargs)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return method(*args, **kwargs)

    return once_more


class _Wanted:
    """`SubtreeHashes` that only notes which hashes a computation asks for.

    The Merkle algorithms choose their nodes from the sizes and indexes alone, never from
    hash values, so a first run with placeholders names every node the real run will read."""

    def __init__(self) -> None:
        self.coordinates: list[tuple[int, int]] = []

    def perfect_subtree_hash(self, level: int, index: int) -> bytes:
        self.coordinates.append((level, index))
        return bytes(HASH_SIZE)


class _FetchedNodes:
    """`SubtreeHashes` over hashes read beforehand."""

    def __init__(self, hashes: dict[tuple[int, int], bytes]) -> None:
        self._hashes = hashes

    def perfect_subtree_hash(self, level: int, index: int) -> bytes:
        stored = self._hashes.get((level, index))
        if stored is None:
            raise LogCorrupted(
                f"the hash of node ({level}, {index}) is missing", level=level, index=index
            )
        return stored


_LEVELS = bindparam("levels", type_=ARRAY(SmallInteger))
_INDEXES = bindparam("indexes", type_=ARRAY(BigInteger))
# One statement for all the hashes: a join on the (level, index) pairs passed as two arrays,
# each pair a primary-key lookup.
_NODES_BY_COORDINATES = text(
    "SELECT n.level, n.idx, n.hash FROM audit_nodes AS n "
    "JOIN unnest(:levels, :indexes) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx"
).bindparams(_LEVELS, _INDEXES)


def _fetch_nodes(connection: Connection, coordinates: Iterable[tuple[int, int]]) -> _FetchedNodes:
    wanted = list(dict.fromkeys(coordinates))
    if not wanted:
        return _FetchedNodes({})
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            _NODES_BY_COORDINATES,
            {"levels": [level for level, _ in wanted], "indexes": [i for _, i in wanted]},
        )
    else:
        rows = connection.execute(
            select(audit_nodes.c.level, audit_nodes.c.idx, audit_nodes.c.hash).where(
                tuple_(audit_nodes.c.level, audit_nodes.c.idx).in_(wanted)
            )
        )
    return _FetchedNodes({(int(level), int(index)): bytes(h) for level, index, h in rows})


def _with_nodes(connection: Connection, compute: Callable[[SubtreeHashes], _T]) -> _T:
    """`compute` over the stored hashes, all read in one query."""
    wanted = _Wanted()
    compute(wanted)
    return compute(_fetch_nodes(connection, wanted.coordinates))


def _load_frontier(connection: Connection, size: int) -> CompactRange:
    return CompactRange.load(
        size, _fetch_nodes(connection, CompactRange.frontier_coordinates(size))
    )


def _size(connection: Connection) -> int:
    last = connection.execute(select(func.max(audit_entries.c.idx))).scalar_one_or_none()
    return 0 if last is None else int(last) + 1


def _checked_leaf(event_id: str, body: bytes) -> bytes:
    if not event_id:
        raise InvalidRecord("an audit entry needs the id of the event it records")
    # Only canonical JSON may become a leaf, so anyone holding a record can recompute
    # its leaf hash.
    parse_canonical(body)
    return leaf_hash(body)


# Well under SQLite's bound on parameters in one statement (999 before SQLite 3.32).
_LOOKUP_CHUNK = 500


def _indexes_of(connection: Connection, event_ids: Sequence[str]) -> dict[str, int]:
    """The index of every one of `event_ids` already in the log."""
    wanted = list(dict.fromkeys(event_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        rows = connection.execute(
            select(audit_entries.c.event_id, audit_entries.c.idx).where(
                audit_entries.c.event_id.in_(wanted[start : start + _LOOKUP_CHUNK])
            )
        )
        found.update((str(event_id), int(index)) for event_id, index in rows)
    return found


class AuditLogStore:
    def __init__(self, engine: Engine) -> None:
        _prepare_engine(engine)
        self._engine = engine
        self._lock = threading.Lock()
        # The frontier after this store's last append: valid while the log has its size
        # (a tree of n leaves has one frontier), checked under the append lock.
        self._frontier: CompactRange | None = None
        # The largest size this store has seen; the log never shrinks, so a proof for a size
        # up to it needs no size query.
        self._seen_size = 0

    def _saw(self, size: int) -> None:
        with self._lock:
            self._seen_size = max(self._seen_size, size)

    def _cached_frontier(self, size: int) -> CompactRange | None:
        with self._lock:
            kept = self._frontier
        if kept is None or kept.size != size:
            return None
        return CompactRange(kept.size, kept.frontier)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AuditLogStore:
        return cls(create_audit_engine(url, **options))

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_schema(self) -> None:
        metadata.create_all(self._engine)
        if self._engine.dialect.name == "sqlite":
            # Write-ahead logging lets readers (proofs, verification) run while an append
            # commits; the mode is stored in the database file, so setting it once will do.
            # SQLite refuses the switch inside a transaction, hence the bare DB-API call.
            raw = self._engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA journal_mode=WAL")
            finally:
                raw.close()

    def append(self, event_id: str, body: bytes, recorded_at: datetime | None = None) -> int:
        """Append a canonical-JSON `body` once per `event_id`; return its index.

        A replayed `event_id` appends nothing and returns the index it already has.

        Entry, leaf hash and every newly completed subtree hash commit together, so the
        stored tree never lags behind the entries.
        """
        (index,) = self.append_many([(event_id, body)], recorded_at)
        return index

    @_reconnecting
    def append_many(
        self, items: Sequence[tuple[str, bytes]], recorded_at: datetime | None = None
    ) -> list[int]:
        """Append every `(event_id, body)` in order, in one transaction; return their indexes.

        The rules of `append` hold entry by entry: an event id already in the log, or earlier
        in the same batch, appends nothing and gets the index it already has, so the tree is
        exactly the one repeated appends would build. Every entry is checked before anything
        is written: a batch is appended whole or not at all.
        """
        leaves = [_checked_leaf(event_id, body) for event_id, body in items]
        if not leaves:
            return []
        moment = _as_utc(recorded_at or datetime.now(UTC))
        with self._engine.connect() as connection:
            connection.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            with connection.begin():
                if self._engine.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY}
                    )
                known = _indexes_of(connection, [event_id for event_id, _ in items])
                # Loaded only once something new arrives: a replayed event reads no nodes.
                compact: CompactRange | None = None
                entries: list[dict[str, Any]] = []
                nodes: list[dict[str, Any]] = []
                indexes: list[int] = []
                for (event_id, body), leaf in zip(items, leaves, strict=True):
                    if event_id in known:
                        indexes.append(known[event_id])
                        continue
                    if compact is None:
                        size = _size(connection)
                        compact = self._cached_frontier(size) or _load_frontier(connection, size)
                    index = compact.size
                    nodes.extend(
                        {"level": node.level, "idx": node.index, "hash": node.hash}
                        for node in compact.append(leaf)
                    )
                    entries.append(
                        {
                            "idx": index,
                            "event_id": event_id,
                            "recorded_at": moment,
                            "body": body,
                            "leaf_hash": leaf,
                        }
                    )
                    known[event_id] = index
                    indexes.append(index)
                if entries:
                    # SQLAlchemy sends an executemany INSERT as multi-row INSERTs (its
                    # "insertmanyvalues"), so each table costs one statement per 1,000 rows.
                    connection.execute(insert(audit_entries), entries)
                    connection.execute(insert(audit_nodes), nodes)
        if compact is not None:
            # committed: the next append starts from here without reading the frontier
            with self._lock:
                self._frontier = compact
                self._seen_size = max(self._seen_size, compact.size)
        return indexes

    @_reconnecting
    def size(self) -> int:
        with self._engine.connect() as connection:
            size = _size(connection)
        self._saw(size)
        return size

    @_reconnecting
    def index_of(self, event_id: str) -> int | None:
        with self._engine.connect() as connection:
            found = connection.execute(
                select(audit_entries.c.idx).where(audit_entries.c.event_id == event_id)
            ).scalar_one_or_none()
        return None if found is None else int(found)

    @_reconnecting
    def entry(self, index: int) -> AuditEntry:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(audit_entries).where(audit_entries.c.idx == index)
            ).one_or_none()
        if row is None:
            raise OutOfRange(f"there is no audit entry {index}", index=index)
        return AuditEntry(
            int(row.idx),
            row.event_id,
            _as_utc(row.recorded_at),
            bytes(row.body),
            bytes(row.leaf_hash),
        )

    def iter_entries(self, start: int = 0, batch: int = 1000) -> Generator[AuditEntry, None, None]:
        """Every entry from `start` in index order, streamed in batches."""
        with self._engine.connect() as connection:
            rows = connection.execution_options(yield_per=batch).execute(
                select(audit_entries)
                .where(audit_entries.c.idx >= start)
                .order_by(audit_entries.c.idx)
            )
            for row in rows:
                yield AuditEntry(
                    int(row.idx),
                    row.event_id,
                    _as_utc(row.recorded_at),
                    bytes(row.body),
                    bytes(row.leaf_hash),
                )

    def iter_level(self, level: int, batch: int = 1000) -> Generator[tuple[int, bytes], None, None]:
        """(index, hash) of every stored perfect subtree at `level`, in index order."""
        with self._engine.connect() as connection:
            rows = connection.execution_options(yield_per=batch).execute(
                select(audit_nodes.c.idx, audit_nodes.c.hash)
                .where(audit_nodes.c.level == level)
                .order_by(audit_nodes.c.idx)
            )
            for index, hashed in rows:
                yield int(index), bytes(hashed)

    def stored_levels(self) -> list[int]:
        with self._engine.connect() as connection:
            return sorted(
                int(level)
                for level in connection.execute(select(audit_nodes.c.level).distinct()).scalars()
            )

    def _require_size(self, connection: Connection, size: int) -> None:
        with self._lock:
            if 0 <= size <= self._seen_size:
                return  # the log had at least this many entries, and never loses one
        current = _size(connection)
        self._saw(current)
        if not 0 <= size <= current:
            raise OutOfRange(
                f"the log has {current} entries, not {size}", size=size, current=current
            )

    @_reconnecting
    def root(self, size: int | None = None) -> bytes:
        with self._engine.connect() as connection:
            wanted = _size(connection) if size is None else size
            self._require_size(connection, wanted)
            return _with_nodes(connection, lambda nodes: root_hash(nodes, wanted))

    @_reconnecting
    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with self._engine.connect() as connection:
            self._require_size(connection, size)
            if not 0 <= index < size:
                raise OutOfRange(
                    f"entry {index} is not in a tree of {size} entries", index=index, size=size
                )
            return _with_nodes(connection, lambda nodes: inclusion_proof(nodes, index, size))

    @_reconnecting
    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._engine.connect() as connection:
            self._require_size(connection, new_size)
            if not 0 < old_size <= new_size:
                raise OutOfRange(
                    f"no consistency proof from {old_size} to {new_size} entries",
                    old_size=old_size,
                    new_size=new_size,
                )
            return _with_nodes(
                connection, lambda nodes: consistency_proof(nodes, old_size, new_size)
            )

    @_reconnecting
    def save_checkpoint(self, note: str) -> str:
        """Store a signed checkpoint; return the note kept for its tree size.

        Checkpoints are never replaced: a second note for a size already checkpointed is
        dropped in favour of the first. A note whose root is not this log's root at its
        size is refused rather than stored.
        """
        checkpoint = read_checkpoint_unverified(note)
        with self._engine.connect() as connection, connection.begin():
            self._require_size(connection, checkpoint.size)
            stored_root = _with_nodes(connection, lambda nodes: root_hash(nodes, checkpoint.size))
            if stored_root != checkpoint.root_hash:
                raise InvalidCheckpoint(
                    f"the checkpoint's root is not the log's root at size {checkpoint.size}",
                    size=checkpoint.size,
                )
        try:
            # IMMEDIATE on SQLite: this transaction reads, then writes; a deferred one could
            # not upgrade its read lock while an append holds the write lock and would fail
            # at once ("database is locked"), busy timeout or not.
            immediate = self._engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            with immediate.begin() as connection:
                kept = connection.execute(
                    select(audit_checkpoints.c.note).where(
                        audit_checkpoints.c.tree_size == checkpoint.size
                    )
                ).scalar_one_or_none()
                if kept is not None:
                    return str(kept)
                connection.execute(
                    insert(audit_checkpoints).values(tree_size=checkpoint.size, note=note)
                )
                return note
        except IntegrityError:
            # Another publisher stored this size between our read and our insert.
            with self._engine.connect() as connection:
                return str(
                    connection.execute(
                        select(audit_checkpoints.c.note).where(
                            audit_checkpoints.c.tree_size == checkpoint.size
                        )
                    ).scalar_one()
                )

    @_reconnecting
    def publish_checkpoint(self, origin: str, signer: NoteSigner) -> str:
        """Sign and store a checkpoint of the log as it stands now."""
        with self._engine.connect() as connection:
            size = _size(connection)
            root = _with_nodes(connection, lambda nodes: root_hash(nodes, size))
        return self.save_checkpoint(sign_checkpoint(Checkpoint(origin, size, root), signer))

    @_reconnecting
    def unsigned_since(self) -> datetime | None:
        """When the oldest entry not yet covered by a signed checkpoint was recorded; None
        when the newest checkpoint covers the whole log (what an operator alerts on)."""
        with self._engine.connect() as connection:
            signed = connection.execute(
                select(func.coalesce(func.max(audit_checkpoints.c.tree_size), 0))
            ).scalar_one()
            recorded = connection.execute(
                select(audit_entries.c.recorded_at).where(audit_entries.c.idx == signed)
            ).scalar_one_or_none()
        if not isinstance(recorded, datetime):
            return None
        return recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)

    @_reconnecting
    def latest_checkpoint(self) -> str | None:
        with self._engine.connect() as connection:
            note = connection.execute(
                select(audit_checkpoints.c.note)
                .order_by(audit_checkpoints.c.tree_size.desc())
                .limit(1)
            ).scalar_one_or_none()
        return None if note is None else str(note)

    @_reconnecting
    def checkpoints(self) -> list[tuple[int, str]]:
        with self._engine.connect() as connection:
            return [
                (int(size), str(note))
                for size, note in connection.execute(
                    select(audit_checkpoints.c.tree_size, audit_checkpoints.c.note).order_by(
                        audit_checkpoints.c.tree_size
                    )
                )
            ]


def append_only_statements(engine: Engine, role: str) -> list[str]:
    """The statements that make the audit tables append-only for the service.

    On PostgreSQL the service's role may read and insert but never update, delete or
    truncate. SQLite has no roles, so there the same rule is enforced on everyone by
    triggers that abort any UPDATE or DELETE; `role` is then unused.
    """
    preparer = engine.dialect.identifier_preparer
    tables = [preparer.format_table(table) for table in AUDIT_TABLES]
    if engine.dialect.name == "postgresql":
        if not role:
            raise ValueError("name the role the audit service connects as")
        grantee = preparer.quote(role)
        listed = ", ".join(tables)
        return [
            f"REVOKE UPDATE, DELETE, TRUNCATE ON TABLE {listed} FROM {grantee}",
            f"GRANT SELECT, INSERT ON TABLE {listed} TO {grantee}",
        ]
    if engine.dialect.name == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table.name}_no_{operation.lower()} "
            f"BEFORE {operation} ON {quoted} "
            f"BEGIN SELECT RAISE(ABORT, '{table.name} is append-only'); END"
            for table, quoted in zip(AUDIT_TABLES, tables, strict=True)
            for operation in ("UPDATE", "DELETE")
        ]
    raise ValueError(f"the audit log runs on SQLite or PostgreSQL, not {engine.dialect.name}")


def grant_append_only(engine: Engine, role: str) -> list[str]:
    """Apply `append_only_statements` in one transaction; return what was executed."""
    statements = append_only_statements(engine, role)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    return statements
