"""Backup and restore of every service's store and the audit log (`accord backup|restore`).

An archive is a directory: one file per store and `manifest.json` naming, for each, the
service, its schema (or SQLite file), its SHA-256 and size; the time of the backup; the audit
log's latest signed checkpoint in the backup (also saved as `audit-checkpoint.txt`, for
`accord-audit-verify --checkpoint`); and, when asked for, the consumer groups' committed
offsets read just before the backup.

PostgreSQL: `pg_dump --format=custom` per service schema (and the audit log's tables), all
from one exported snapshot, so the stores and the checkpoint are of one moment; restored
with `pg_restore` into an empty database (no owners or grants: the restoring role owns the
tables, and the audit service grants its append-only role again at start-up).
SQLite: sqlite3's online backup API, file by file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from accord_platform.infra import provisioned
from accord_platform.services import SERVICES

FORMAT = "accord-backup/1"
MANIFEST = "manifest.json"
CHECKPOINT_FILE = "audit-checkpoint.txt"
SERVICE_NAMES = tuple(s.name for s in SERVICES)
AUDIT_LOG = "audit-log"
# The audit log's own tables (accord_audit.log_store and its case index), beside the audit
# service's event store.
AUDIT_LOG_TABLES = ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_case_index")

# How long a restore waits for a consumer group to have no members before rewinding it.
REWIND_PATIENCE_SECONDS = 60.0

Say = Callable[[str], None]


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says why."""


@dataclass(frozen=True)
class ArchivedStore:
    service: str
    # PostgreSQL schema (or the audit log's tables), or the SQLite file name
    schema: str
    file: str
    sha256: str
    bytes: int


@dataclass
class Manifest:
    format: str
    created_at: str
    store: str  # "postgres" or "sqlite"
    items: list[ArchivedStore]
    audit_checkpoint: str | None
    audit_tree_size: int | None
    consumer_offsets: dict[str, list[tuple[str, int, int]]]
    server_version: str | None = None

    def write(self, archive: Path) -> None:
        data = asdict(self)
        (archive / MANIFEST).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def read(cls, archive: Path) -> Manifest:
        try:
            data = json.loads((archive / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise BackupError(f"{archive / MANIFEST} cannot be read: {exc}") from exc
        if data.get("format") != FORMAT:
            raise BackupError(f"{archive} is not an {FORMAT} archive")
        data["items"] = [ArchivedStore(**item) for item in data["items"]]
        data["consumer_offsets"] = {
            group: [(str(t), int(p), int(o)) for t, p, o in offsets]
            for group, offsets in data.get("consumer_offsets", {}).items()
        }
        return cls(**data)


def schema_of(service: str) -> str:
    """The service's PostgreSQL schema (as `ServiceSettings.eventsourcing_env` names it)."""
    return service.replace("-", "_")


def libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy's spelling, used in ACCORD_DATABASE_URL) as
    libpq takes it."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def _pg_tool(name: str) -> str:
    pg_bin = os.environ.get("ACCORD_PG_BIN") or provisioned()["ACCORD_PG_BIN"]
    return str(Path(pg_bin) / name)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr[-2000:]}")


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _archived(service: str, schema: str, path: Path) -> ArchivedStore:
    return ArchivedStore(service, schema, path.name, _digest(path), path.stat().st_size)


def _new_archive(archive: Path) -> None:
    if archive.exists() and any(archive.iterdir()):
        raise BackupError(f"{archive} is not empty: a backup goes into a new directory")
    archive.mkdir(parents=True, exist_ok=True)
    archive.chmod(0o700)  # the stores hold case data


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- Kafka consumer offsets --------------------------------------------------------------------


async def committed_offsets(
    bootstrap: str, groups: Iterable[str]
) -> dict[str, list[tuple[str, int, int]]]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found: dict[str, list[tuple[str, int, int]]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            found[group] = sorted(
                (tp.topic, tp.partition, meta.offset)
                for tp, meta in offsets.items()
                if meta.offset >= 0
            )
        return found
    finally:
        await admin.close()


async def rewind_consumer_groups(
    bootstrap: str, offsets: dict[str, list[tuple[str, int, int]]]
) -> None:
    """Sets each group's committed offsets back to those of the backup: whatever a consumer
    applied after the backup is gone from its restored store, so it reads it again (the
    tracking records restored with the store make what it had applied a no-op)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    for group, committed in offsets.items():
        if not committed:
            continue
        targets = {TopicPartition(t, p): o for t, p, o in committed}
        # A consumer that died without leaving keeps its group busy until its session
        # expires (seconds): the broker refuses the commit until then.
        deadline = time.monotonic() + REWIND_PATIENCE_SECONDS
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                consumer.assign(list(targets))
                await consumer.commit(targets)
                break
            except KafkaError as exc:
                if time.monotonic() > deadline:
                    raise BackupError(
                        f"consumer group {group} could not be rewound ({type(exc).__name__}); "
                        "stop the services' consumers first"
                    ) from exc
            finally:
                await consumer.stop()
            await asyncio.sleep(1.0)


# --- backup ------------------------------------------------------------------------------------


def backup_postgres(
    database_url: str,
    archive: Path,
    say: Say = print,
    kafka_bootstrap: str | None = None,
    consumer_groups: Iterable[str] = SERVICE_NAMES,
) -> Manifest:
    _new_archive(archive)
    url = libpq_url(database_url)
    # Offsets first: what they say was applied is then certainly in the snapshot below.
    offsets = (
        asyncio.run(committed_offsets(kafka_bootstrap, consumer_groups)) if kafka_bootstrap else {}
    )
    items: list[ArchivedStore] = []
    with psycopg.connect(url) as holder:
        holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        holder.read_only = True
        snapshot = _one(holder, "SELECT pg_export_snapshot()")
        version = _one(holder, "SHOW server_version")
        present = {
            row[0]
            for row in holder.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
                ([schema_of(s) for s in SERVICE_NAMES],),
            )
        }
        log_tables = [
            t
            for t in AUDIT_LOG_TABLES
            if _one(holder, "SELECT to_regclass(%s)::text", (f"public.{t}",)) is not None
        ]
        checkpoint: tuple[int, str] | None = None
        if "audit_checkpoints" in log_tables:
            row = holder.execute(
                "SELECT tree_size, note FROM public.audit_checkpoints "
                "ORDER BY tree_size DESC LIMIT 1"
            ).fetchone()
            checkpoint = (int(row[0]), str(row[1])) if row else None
        dump = [_pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--dbname", url]
        for service in SERVICE_NAMES:
            schema = schema_of(service)
            if schema not in present:
                say(f"{service}: no schema {schema} in the database; skipped")
                continue
            target = archive / f"{service}.dump"
            _run([*dump, f"--schema={schema}", f"--file={target}"])
            items.append(_archived(service, schema, target))
            say(f"{service}: schema {schema} -> {target.name}")
        if log_tables:
            target = archive / f"{AUDIT_LOG}.dump"
            _run([*dump, *(f"--table=public.{t}" for t in log_tables), f"--file={target}"])
            items.append(_archived(AUDIT_LOG, ",".join(log_tables), target))
            say(f"{AUDIT_LOG}: {len(log_tables)} tables -> {target.name}")
        holder.rollback()
    return _finish(archive, "postgres", items, checkpoint, offsets, version, say)


def backup_sqlite(
    data_dir: Path,
    archive: Path,
    say: Say = print,
    kafka_bootstrap: str | None = None,
    consumer_groups: Iterable[str] = SERVICE_NAMES,
) -> Manifest:
    _new_archive(archive)
    offsets = (
        asyncio.run(committed_offsets(kafka_bootstrap, consumer_groups)) if kafka_bootstrap else {}
    )
    items: list[ArchivedStore] = []
    checkpoint: tuple[int, str] | None = None
    for service, name in [
        *((s, f"{s}.sqlite") for s in SERVICE_NAMES),
        (AUDIT_LOG, "audit-log.sqlite"),
    ]:
        source = data_dir / name
        if not source.exists():
            say(f"{service}: no {source}; skipped")
            continue
        target = archive / name
        _sqlite_copy(source, target)
        if service == AUDIT_LOG:
            with closing(sqlite3.connect(target)) as copy:
                row = copy.execute(
                    "SELECT tree_size, note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
                ).fetchone()
            checkpoint = (int(row[0]), str(row[1])) if row else None
        items.append(_archived(service, name, target))
        say(f"{service}: {name} copied")
    return _finish(archive, "sqlite", items, checkpoint, offsets, sqlite3.sqlite_version, say)


def _sqlite_copy(source: Path, target: Path) -> None:
    # The online backup API copies a consistent state while the services keep writing.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _one(connection: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    row = connection.execute(query, params).fetchone()
    return row[0] if row else None


def _finish(
    archive: Path,
    store: str,
    items: list[ArchivedStore],
    checkpoint: tuple[int, str] | None,
    offsets: dict[str, list[tuple[str, int, int]]],
    version: str | None,
    say: Say,
) -> Manifest:
    if not items:
        raise BackupError("no store found to back up")
    manifest = Manifest(
        format=FORMAT,
        created_at=_now(),
        store=store,
        items=items,
        audit_checkpoint=checkpoint[1] if checkpoint else None,
        audit_tree_size=checkpoint[0] if checkpoint else None,
        consumer_offsets=offsets,
        server_version=version,
    )
    if checkpoint:
        (archive / CHECKPOINT_FILE).write_text(checkpoint[1])
        say(f"audit log checkpoint at backup: tree size {checkpoint[0]}")
    manifest.write(archive)
    return manifest


# --- restore -----------------------------------------------------------------------------------


def verify_archive(archive: Path) -> Manifest:
    """The manifest, once every file in it has its recorded checksum."""
    manifest = Manifest.read(archive)
    for item in manifest.items:
        path = archive / item.file
        if not path.exists() or _digest(path) != item.sha256:
            raise BackupError(f"{item.file} is missing or does not match its checksum")
    return manifest


def _ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(server, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _occupied(url: str, item: ArchivedStore) -> bool:
    with psycopg.connect(url) as connection:
        if item.service == AUDIT_LOG:
            tables = item.schema.split(",")
            return any(
                _one(connection, "SELECT to_regclass(%s)::text", (f"public.{t}",)) for t in tables
            )
        return bool(
            _one(
                connection,
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s",
                (item.schema,),
            )
        )


def restore_postgres(
    archive: Path, database_url: str, say: Say = print, kafka_bootstrap: str | None = None
) -> Manifest:
    manifest = verify_archive(archive)
    if manifest.store != "postgres":
        raise BackupError(f"{archive} holds {manifest.store} stores, not PostgreSQL dumps")
    url = libpq_url(database_url)
    _ensure_database(url)
    for item in manifest.items:
        if _occupied(url, item):
            raise BackupError(
                f"{item.service}: {item.schema} already has tables in the target database; "
                "restore into an empty database"
            )
    for item in manifest.items:
        _run(
            [
                _pg_tool("pg_restore"),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                "--no-privileges",
                "--dbname",
                url,
                str(archive / item.file),
            ]
        )
        say(f"{item.service}: {item.file} restored")
    return _after_restore(manifest, kafka_bootstrap, say)


def restore_sqlite(
    archive: Path, data_dir: Path, say: Say = print, kafka_bootstrap: str | None = None
) -> Manifest:
    manifest = verify_archive(archive)
    if manifest.store != "sqlite":
        raise BackupError(f"{archive} holds {manifest.store} dumps, not SQLite stores")
    data_dir.mkdir(parents=True, exist_ok=True)
    for item in manifest.items:
        if (data_dir / item.file).exists():
            raise BackupError(f"{data_dir / item.file} exists; restore into an empty directory")
    for item in manifest.items:
        _sqlite_copy(archive / item.file, data_dir / item.file)
        say(f"{item.service}: {item.file} restored")
    return _after_restore(manifest, kafka_bootstrap, say)


def _after_restore(manifest: Manifest, kafka_bootstrap: str | None, say: Say) -> Manifest:
    if kafka_bootstrap and manifest.consumer_offsets:
        asyncio.run(rewind_consumer_groups(kafka_bootstrap, manifest.consumer_offsets))
        say(f"consumer groups rewound to the backup: {', '.join(manifest.consumer_offsets)}")
    if manifest.audit_tree_size is not None:
        say(
            f"audit log restored with its checkpoint at tree size {manifest.audit_tree_size}; "
            f"check it with accord-audit-verify --checkpoint {CHECKPOINT_FILE}"
        )
    return manifest
