from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from accord_audit.checkpoint import Checkpoint, NoteSigner, generate_signing_key, sign_checkpoint
from accord_audit.log_store import AuditLogStore
from accord_audit.merkle import leaf_hash, node_hash
from accord_audit.verify import app, verify_log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

Fill = Callable[[AuditLogStore, int], None]


def _db_url(store: AuditLogStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _messages(store: AuditLogStore, signer: NoteSigner, saved: str | None = None) -> list[str]:
    return [str(problem) for problem in verify_log(store, signer.verifier, saved)]


def _execute(store: AuditLogStore, statement: str, **parameters: object) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement), parameters)


@pytest.fixture
def checkpointed(store: AuditLogStore, fill: Fill, signer: NoteSigner) -> AuditLogStore:
    """60 entries with checkpoints at 20, 45 and 60."""
    for size in (20, 45, 60):
        fill(store, size - store.size())
        store.publish_checkpoint(signer.name, signer)
    return store


def test_an_intact_log_verifies(checkpointed: AuditLogStore, signer: NoteSigner) -> None:
    assert _messages(checkpointed, signer) == []


def test_an_empty_log_verifies(store: AuditLogStore, signer: NoteSigner) -> None:
    store.publish_checkpoint(signer.name, signer)
    assert _messages(store, signer) == []


def test_a_body_altered_in_place_is_found_and_named(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    _execute(
        checkpointed,
        "UPDATE audit_entries SET body = :body WHERE idx = 41",
        body=b'{"action":"nothing to see here"}',
    )
    messages = _messages(checkpointed, signer)
    assert messages[0] == "entry 41: stored body does not match leaf hash"
    # The later checkpoints now commit to a different history; the earlier one does not.
    assert "checkpoint 45: root does not match the entries" in messages
    assert "checkpoint 60: root does not match the entries" in messages
    assert not any(message.startswith("checkpoint 20") for message in messages)


def test_a_rewrite_that_recomputes_the_stored_hashes_still_breaks_the_checkpoints(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    forged = b'{"action":"rewritten"}'
    forged_leaf = leaf_hash(forged)
    _execute(
        checkpointed,
        "UPDATE audit_entries SET body = :body, leaf_hash = :leaf WHERE idx = 10",
        body=forged,
        leaf=forged_leaf,
    )
    _execute(
        checkpointed,
        "UPDATE audit_nodes SET hash = :leaf WHERE level = 0 AND idx = 10",
        leaf=forged_leaf,
    )
    messages = _messages(checkpointed, signer)
    assert messages[0] == "node (level 1, index 5): stored hash does not match its children"
    assert "checkpoint 20: root does not match the entries" in messages


def test_a_deleted_entry_is_reported_missing(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    _execute(checkpointed, "DELETE FROM audit_entries WHERE idx = 33")
    assert _messages(checkpointed, signer)[0] == "entry 33: missing"


def test_a_corrupted_inner_node_is_found(checkpointed: AuditLogStore, signer: NoteSigner) -> None:
    _execute(
        checkpointed,
        "UPDATE audit_nodes SET hash = :hash WHERE level = 3 AND idx = 2",
        hash=node_hash(b"x" * 32, b"y" * 32),
    )
    assert _messages(checkpointed, signer) == [
        "node (level 3, index 2): stored hash does not match its children"
    ]


def test_a_leaf_node_that_disagrees_with_its_entry_is_found(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    _execute(
        checkpointed,
        "UPDATE audit_nodes SET hash = :hash WHERE level = 0 AND idx = 7",
        hash=leaf_hash(b"{}"),
    )
    assert _messages(checkpointed, signer) == [
        "entry 7: stored leaf node does not match its leaf hash"
    ]


def test_nodes_beyond_the_end_of_the_log_are_found(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    _execute(
        checkpointed,
        "INSERT INTO audit_nodes (level, idx, hash) VALUES (0, 60, :hash)",
        hash=leaf_hash(b"{}"),
    )
    assert _messages(checkpointed, signer) == [
        "node (level 0, index 60): lies beyond the end of the log"
    ]


def test_an_entry_inserted_around_the_store_must_still_be_canonical(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    body = b'{ "spaced": true }'
    _execute(
        checkpointed,
        "UPDATE audit_entries SET body = :body, leaf_hash = :leaf WHERE idx = 59",
        body=body,
        leaf=leaf_hash(body),
    )
    messages = _messages(checkpointed, signer)
    assert messages[0] == "entry 59: stored body is not in canonical JSON form"


def test_a_tampered_checkpoint_fails_its_signature(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    _execute(
        checkpointed,
        "UPDATE audit_checkpoints SET note = replace(note, '\n45\n', '\n44\n') "
        "WHERE tree_size = 45",
    )
    messages = _messages(checkpointed, signer)
    assert messages == ["checkpoint 45: the signature by audit.accord.example/log does not verify"]


def test_checkpoints_are_checked_against_the_configured_key(
    checkpointed: AuditLogStore,
) -> None:
    stranger = generate_signing_key("audit.accord.example/log")
    messages = _messages(checkpointed, stranger)
    assert len(messages) == 3
    assert all("no signature by" in message for message in messages)


def test_a_saved_checkpoint_consistent_with_the_latest_verifies(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    saved = checkpointed.checkpoints()[0][1]
    assert _messages(checkpointed, signer, saved) == []
    latest = checkpointed.latest_checkpoint()
    assert _messages(checkpointed, signer, latest) == []


def test_a_saved_checkpoint_from_a_forked_history_is_detected(
    checkpointed: AuditLogStore, signer: NoteSigner, tmp_path: Path, fill: Fill
) -> None:
    fork = AuditLogStore.from_url(f"sqlite:///{tmp_path / 'fork.db'}")
    fork.create_schema()
    fork.append("evt-forged", b'{"forged":true}')
    fill(fork, 29)
    forked = fork.publish_checkpoint(signer.name, signer)
    messages = _messages(checkpointed, signer, forked)
    assert (
        "saved checkpoint: root does not match the first 30 entries (history was rewritten)"
        in messages
    )
    assert any(
        message.startswith("saved checkpoint: not consistent with checkpoint 60")
        for message in messages
    )


def test_a_log_rolled_back_behind_a_saved_checkpoint_is_detected(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    ahead = sign_checkpoint(Checkpoint(signer.name, 61, checkpointed.root()), signer)
    messages = _messages(checkpointed, signer, ahead)
    assert messages == [
        "saved checkpoint: tree size 61 is beyond the log's 60 entries "
        "(the log was truncated or rolled back)"
    ]


def test_a_saved_checkpoint_with_a_bad_signature_is_reported(
    checkpointed: AuditLogStore, signer: NoteSigner
) -> None:
    saved = checkpointed.checkpoints()[1][1].replace("\n45\n", "\n46\n")
    assert _messages(checkpointed, signer, saved) == [
        "saved checkpoint: the signature by audit.accord.example/log does not verify"
    ]


def test_the_command_passes_an_intact_log(
    checkpointed: AuditLogStore, signer: NoteSigner, tmp_path: Path
) -> None:
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(checkpointed.checkpoints()[0][1])
    result = CliRunner().invoke(
        app,
        [
            "--db-url",
            _db_url(checkpointed),
            "--public-key",
            signer.verifier.vkey,
            "--checkpoint",
            str(saved),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "60 entries and 3 checkpoints verified" in result.output


def test_the_command_fails_naming_the_first_bad_entry(
    checkpointed: AuditLogStore, signer: NoteSigner, tmp_path: Path
) -> None:
    _execute(checkpointed, "UPDATE audit_entries SET body = :body WHERE idx = 41", body=b"{}")
    key_file = tmp_path / "audit.vkey"
    key_file.write_text(signer.verifier.vkey)
    result = CliRunner().invoke(
        app, ["--db-url", _db_url(checkpointed), "--public-key", str(key_file)]
    )
    assert result.exit_code == 1
    assert "entry 41: stored body does not match leaf hash" in result.output


def test_the_command_refuses_an_unusable_key(checkpointed: AuditLogStore) -> None:
    result = CliRunner().invoke(
        app, ["--db-url", _db_url(checkpointed), "--public-key", "not-a-key"]
    )
    assert result.exit_code == 2
    assert "cannot verify" in result.output


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditLogStore, NoteSigner]:
    signer = generate_signing_key("audit.accord.example/log")
    log = AuditLogStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('flip') / 'audit.db'}")
    log.create_schema()
    for number in range(24):
        log.append(f"evt-{number}", f'{{"event_id":"evt-{number}","n":{number}}}'.encode())
    log.publish_checkpoint(signer.name, signer)
    return log, signer


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(0, 23), bit=st.integers(0, 10_000))
def test_any_single_bit_change_of_a_stored_entry_is_found(
    shared_log: tuple[AuditLogStore, NoteSigner], index: int, bit: int
) -> None:
    log, signer = shared_log
    original = log.entry(index).body
    position = bit % (len(original) * 8)
    changed = bytearray(original)
    changed[position // 8] ^= 1 << (position % 8)
    _execute(
        log,
        "UPDATE audit_entries SET body = :body WHERE idx = :idx",
        body=bytes(changed),
        idx=index,
    )
    try:
        messages = _messages(log, signer)
    finally:
        _execute(
            log, "UPDATE audit_entries SET body = :body WHERE idx = :idx", body=original, idx=index
        )
    assert messages[0] == f"entry {index}: stored body does not match leaf hash"
    assert messages[-1] == "checkpoint 24: root does not match the entries"
