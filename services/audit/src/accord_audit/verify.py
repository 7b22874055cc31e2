"""`accord-audit-verify`: re-derive the audit log from its entries and check every claim.

It trusts nothing stored except the entry bodies: leaf hashes, subtree hashes and roots
are recomputed, every stored checkpoint must carry a valid signature and the root of its
prefix, and a checkpoint saved earlier by an auditor must be consistent with the latest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from accord_audit.canonical import parse_canonical
from accord_audit.checkpoint import (
    Checkpoint,
    NoteVerifier,
    load_verifier_key,
    open_checkpoint,
)
from accord_audit.errors import AuditError
from accord_audit.log_store import AuditEntry, AuditLogStore
from accord_audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    leaf_hash,
    node_hash,
    verify_consistency,
)


@dataclass(frozen=True)
class Problem:
    subject: str
    message: str
    index: int | None = None

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass
class _Derived:
    size: int
    roots: dict[int, bytes]
    leaf_nodes_intact: bool


def _next_or_none(stream: Iterator[tuple[int, bytes]]) -> tuple[int, bytes] | None:
    return next(stream, None)


def _check_entries(
    store: AuditLogStore, sizes_of_interest: set[int], problems: list[Problem]
) -> _Derived:
    compact = CompactRange()
    roots = {0: EMPTY_ROOT}
    with closing(store.iter_level(0)) as leaves, closing(store.iter_entries()) as entries:
        intact = _walk_entries(entries, leaves, compact, roots, sizes_of_interest, problems)
    return _Derived(compact.size, roots, intact)


def _walk_entries(
    entries: Iterator[AuditEntry],
    leaves: Iterator[tuple[int, bytes]],
    compact: CompactRange,
    roots: dict[int, bytes],
    sizes_of_interest: set[int],
    problems: list[Problem],
) -> bool:
    """Check entries and their leaf nodes; True when the stored tree can be checked further.

    Bodies are checked against the stored leaf hashes and those against the level-0
    nodes; roots are derived from the bodies alone.
    """
    leaf_nodes_intact = True
    stored_leaf = _next_or_none(leaves)
    for entry in entries:
        expected = compact.size
        if entry.index != expected:
            problems.append(Problem(f"entry {expected}", "missing", expected))
            # Every later index is shifted, so the stored tree cannot be matched any more.
            return False
        subject = f"entry {entry.index}"
        derived = leaf_hash(entry.body)
        if derived != entry.leaf_hash:
            problems.append(Problem(subject, "stored body does not match leaf hash", entry.index))
        else:
            try:
                parse_canonical(entry.body)
            except AuditError as error:
                problems.append(Problem(subject, error.message, entry.index))
        while stored_leaf is not None and stored_leaf[0] < entry.index:
            stored_leaf = _next_or_none(leaves)
        if stored_leaf is None or stored_leaf[0] != entry.index:
            leaf_nodes_intact = False
            problems.append(Problem(subject, "its leaf node is missing", entry.index))
        elif stored_leaf[1] != entry.leaf_hash:
            leaf_nodes_intact = False
            problems.append(
                Problem(subject, "stored leaf node does not match its leaf hash", entry.index)
            )
        compact.append(derived)
        if compact.size in sizes_of_interest:
            roots[compact.size] = compact.root()
    while stored_leaf is not None and stored_leaf[0] < compact.size:
        stored_leaf = _next_or_none(leaves)
    if stored_leaf is not None:
        problems.append(
            Problem(
                f"node (level 0, index {stored_leaf[0]})",
                "lies beyond the end of the log",
                stored_leaf[0],
            )
        )
        return False
    return leaf_nodes_intact


def _check_level(store: AuditLogStore, level: int, size: int, problems: list[Problem]) -> bool:
    """Stored nodes at `level` against the stored nodes one level down.

    Level 0 is checked against the bodies, so by induction every stored node then equals
    the hash recomputed from the entries.
    """
    with (
        closing(store.iter_level(level - 1)) as children,
        closing(store.iter_level(level)) as parents,
    ):
        return _walk_level(children, parents, level, size, problems)


def _walk_level(
    children: Iterator[tuple[int, bytes]],
    parents: Iterator[tuple[int, bytes]],
    level: int,
    size: int,
    problems: list[Problem],
) -> bool:
    expected_count = size >> level
    checked = 0
    for position, (index, hashed) in enumerate(parents):
        subject = f"node (level {level}, index {index})"
        if index >= expected_count:
            problems.append(Problem(subject, "lies beyond the end of the log", index << level))
            return False
        if index != position:
            problems.append(
                Problem(f"node (level {level}, index {position})", "missing", position << level)
            )
            return False
        left = _next_or_none(children)
        right = _next_or_none(children)
        if (
            left is None
            or right is None
            or (left[0], right[0]) != (2 * index, 2 * index + 1)
            or node_hash(left[1], right[1]) != hashed
        ):
            problems.append(
                Problem(subject, "stored hash does not match its children", index << level)
            )
            return False
        checked = position + 1
    if checked < expected_count:
        problems.append(
            Problem(f"node (level {level}, index {checked})", "missing", checked << level)
        )
        return False
    return True


def _check_nodes(store: AuditLogStore, derived: _Derived, problems: list[Problem]) -> None:
    """Inner nodes, lowest level first, stopping at the first broken level.

    Each level is checked against the stored level below it, so above a broken node its
    ancestors would mismatch too; reporting them would accuse nodes that are fine.
    """
    if not derived.leaf_nodes_intact:
        return
    for level in range(1, max(derived.size.bit_length(), 1)):
        if not _check_level(store, level, derived.size, problems):
            return
    for level in store.stored_levels():
        if level >= max(derived.size.bit_length(), 1):
            problems.append(Problem(f"nodes at level {level}", "lie above the root of the log"))


def _open_stored_checkpoints(
    store: AuditLogStore, verifier: NoteVerifier, problems: list[Problem]
) -> list[Checkpoint]:
    opened: list[Checkpoint] = []
    for tree_size, note in store.checkpoints():
        subject = f"checkpoint {tree_size}"
        try:
            checkpoint = open_checkpoint(note, verifier)
        except AuditError as error:
            problems.append(Problem(subject, error.message))
            continue
        if checkpoint.size != tree_size:
            problems.append(Problem(subject, f"the signed note is for size {checkpoint.size}"))
            continue
        opened.append(checkpoint)
    return opened


def _check_saved(
    store: AuditLogStore,
    saved: Checkpoint,
    latest: Checkpoint | None,
    derived: _Derived,
    problems: list[Problem],
) -> None:
    subject = "saved checkpoint"
    if saved.size > derived.size:
        problems.append(
            Problem(
                subject,
                f"tree size {saved.size} is beyond the log's {derived.size} entries "
                "(the log was truncated or rolled back)",
            )
        )
        return
    if derived.roots.get(saved.size) != saved.root_hash:
        problems.append(
            Problem(
                subject,
                f"root does not match the first {saved.size} entries (history was rewritten)",
            )
        )
    if saved.size == 0:
        # Nothing can contradict an empty tree; its root was checked above.
        return
    if latest is None:
        problems.append(Problem(subject, "the log has no valid checkpoint to compare with"))
        return
    if saved.size > latest.size:
        problems.append(
            Problem(
                subject, f"tree size {saved.size} is ahead of the latest checkpoint ({latest.size})"
            )
        )
        return
    try:
        proof = store.consistency_proof(saved.size, latest.size) if saved.size < latest.size else []
        verify_consistency(saved.size, latest.size, proof, saved.root_hash, latest.root_hash)
    except AuditError as error:
        problems.append(
            Problem(subject, f"not consistent with checkpoint {latest.size}: {error.message}")
        )


def verify_log(
    store: AuditLogStore, verifier: NoteVerifier, saved_note: str | None = None
) -> list[Problem]:
    """Every problem found, entries first in index order; an empty list means intact."""
    problems: list[Problem] = []
    checkpoints = _open_stored_checkpoints(store, verifier, problems)
    saved: Checkpoint | None = None
    if saved_note is not None:
        try:
            saved = open_checkpoint(saved_note, verifier)
        except AuditError as error:
            problems.append(Problem("saved checkpoint", error.message))
    sizes = {checkpoint.size for checkpoint in checkpoints}
    if saved is not None:
        sizes.add(saved.size)

    entry_problems: list[Problem] = []
    derived = _check_entries(store, sizes, entry_problems)
    _check_nodes(store, derived, entry_problems)

    for checkpoint in checkpoints:
        subject = f"checkpoint {checkpoint.size}"
        if checkpoint.size > derived.size:
            problems.append(Problem(subject, f"is beyond the log's {derived.size} entries"))
        elif derived.roots.get(checkpoint.size) != checkpoint.root_hash:
            problems.append(Problem(subject, "root does not match the entries"))
    if saved is not None:
        latest = max(checkpoints, key=lambda checkpoint: checkpoint.size, default=None)
        _check_saved(store, saved, latest, derived, problems)
    return entry_problems + problems


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    db_url: Annotated[str, typer.Option("--db-url", help="SQLAlchemy URL of the audit log")],
    public_key: Annotated[
        str,
        typer.Option("--public-key", help="the log's verifier key (vkey), or a file holding it"),
    ],
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="a checkpoint saved earlier, to check consistency"),
    ] = None,
    key_name: Annotated[
        str | None, typer.Option("--key-name", help="key name, when --public-key is PEM")
    ] = None,
) -> None:
    """Verify the audit log and exit non-zero on the first sign of tampering."""
    console = Console(stderr=False, highlight=False)
    try:
        verifier = load_verifier_key(public_key, key_name)
        saved_note = checkpoint.read_text(encoding="utf-8") if checkpoint else None
        store = AuditLogStore.from_url(db_url)
        problems = verify_log(store, verifier, saved_note)
        size = store.size()
    except (AuditError, OSError, ValueError, SQLAlchemyError) as error:
        console.print(f"[bold red]cannot verify:[/] {escape(str(error))}")
        raise typer.Exit(code=2) from error
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {escape(str(problem))}")
        console.print(f"[bold red]audit log FAILED verification[/]: {escape(str(problems[0]))}")
        raise typer.Exit(code=1)
    console.print(f"[green]✓[/] {size} entries and {len(store.checkpoints())} checkpoints verified")
