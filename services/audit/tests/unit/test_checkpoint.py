from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from accord_audit.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    generate_signing_key,
    key_id,
    load_signing_key,
    load_verifier_key,
    open_checkpoint,
    open_note,
    parse_note,
    read_checkpoint_unverified,
    sign_checkpoint,
    sign_note,
)
from accord_audit.errors import InvalidCheckpoint, InvalidKey
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

# The example key pair and note of the Go reference implementation (golang.org/x/mod/
# sumdb/note); matching it byte for byte means standard verifiers accept our notes.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)

ORIGIN = "audit.accord.example/log"
ROOT = hashlib.sha256(b"some root").digest()


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def test_reference_keys_parse_and_key_id_follows_the_spec() -> None:
    verifier = NoteVerifier.from_vkey(GO_VKEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id.hex() == "c74f20a3"
    assert key_id("PeterNeumann", verifier.public_bytes) == bytes.fromhex("c74f20a3")
    assert verifier.vkey == GO_VKEY
    signer = load_signing_key(GO_SKEY)
    assert signer.verifier.vkey == GO_VKEY
    assert signer.signer_key == GO_SKEY


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    signer = load_signing_key(GO_SKEY)
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    assert open_note(GO_NOTE, load_verifier_key(GO_VKEY)) == GO_TEXT
    with pytest.raises(InvalidCheckpoint):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), load_verifier_key(GO_VKEY))


def test_checkpoint_body_is_origin_size_and_base64_root() -> None:
    checkpoint = Checkpoint(ORIGIN, 41, ROOT)
    assert checkpoint.body() == f"{ORIGIN}\n41\n{base64.b64encode(ROOT).decode()}\n"
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
    with_extension = Checkpoint(ORIGIN, 0, ROOT, ("extension line",))
    assert Checkpoint.parse(with_extension.body()) == with_extension


def test_signed_checkpoint_opens_with_the_log_key(signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), signer)
    assert note.startswith(f"{ORIGIN}\n7\n")
    assert open_checkpoint(note, signer.verifier, origin=ORIGIN) == Checkpoint(ORIGIN, 7, ROOT)
    assert read_checkpoint_unverified(note).size == 7
    with pytest.raises(InvalidCheckpoint):
        open_checkpoint(note, signer.verifier, origin="another.example/log")


def test_a_different_key_with_the_same_name_is_refused(signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), signer)
    impostor = generate_signing_key(ORIGIN)
    with pytest.raises(InvalidCheckpoint, match="no signature"):
        open_checkpoint(note, impostor.verifier)


def test_signatures_by_unknown_keys_are_ignored(signer: NoteSigner) -> None:
    witness = generate_signing_key("witness.example/w1")
    note = sign_note(Checkpoint(ORIGIN, 3, ROOT).body(), [witness, signer])
    assert len(parse_note(note).signatures) == 2
    assert open_checkpoint(note, signer.verifier).size == 3
    assert open_checkpoint(note, witness.verifier).size == 3


def test_a_bad_signature_from_the_known_key_rejects_the_note(signer: NoteSigner) -> None:
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    good = sign_note(body, [signer])
    forged_blob = base64.b64encode(signer.key_id + bytes(64)).decode()
    forged = f"{good}— {ORIGIN} {forged_blob}\n"
    with pytest.raises(InvalidCheckpoint, match="does not verify"):
        open_checkpoint(forged, signer.verifier)


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("origin\n1\nroot\n", id="no-signature-block"),
        pytest.param("origin\n1\n\n— name AAAAAAA=", id="unterminated-signature"),
        pytest.param("origin\n1\n\n-- name AAAAAAAA\n", id="ascii-dash"),
        pytest.param("origin\n1\n\n— name\n", id="signature-without-blob"),
        pytest.param("origin\n1\n\n— na+me AAAAAAAA\n", id="plus-in-key-name"),
        pytest.param("origin\t\n1\n\n— name AAAAAAAA\n", id="control-character"),
        pytest.param("origin\n1\n\n— name AAAA\n", id="signature-too-short"),
        pytest.param("origin\n1\n\n— name AAAAAAB=\n", id="non-canonical-base64"),
        pytest.param("\n— name AAAAAAAA\n", id="empty-text"),
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(InvalidCheckpoint):
        parse_note(note)


def test_too_many_signatures_are_rejected(signer: NoteSigner) -> None:
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    line = sign_note(body, [signer])[len(body) + 1 :]
    with pytest.raises(InvalidCheckpoint, match="at most"):
        parse_note(body + "\n" + line * (MAX_SIGNATURES + 1))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"{ORIGIN}\n007\n{base64.b64encode(ROOT).decode()}\n", id="leading-zeros"),
        pytest.param(f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n", id="negative"),
        pytest.param(f"{ORIGIN}\n+1\n{base64.b64encode(ROOT).decode()}\n", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", id="short-root"),
        pytest.param(f"{ORIGIN}\n1\n", id="no-root"),
        pytest.param(f"\n1\n{base64.b64encode(ROOT).decode()}\n", id="empty-origin"),
        pytest.param(f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}", id="no-final-newline"),
        pytest.param(f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\n\n", id="empty-extension"),
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(InvalidCheckpoint):
        Checkpoint.parse(body)


def test_every_single_bit_change_of_a_signed_checkpoint_is_detected(signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), signer).encode("utf-8")
    for bit in range(len(note) * 8):
        with pytest.raises(InvalidCheckpoint):
            open_checkpoint(flip_bit(note, bit), signer.verifier)


@settings(max_examples=200, deadline=None)
@given(
    origin=st.from_regex(r"[a-z0-9.\-/]{1,40}", fullmatch=True),
    size=st.integers(0, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    data=st.data(),
)
def test_any_single_bit_change_of_any_checkpoint_is_detected(
    signer: NoteSigner, origin: str, size: int, root: bytes, data: st.DataObject
) -> None:
    note = sign_checkpoint(Checkpoint(origin, size, root), signer).encode("utf-8")
    assert open_checkpoint(note, signer.verifier) == Checkpoint(origin, size, root)
    bit = data.draw(st.integers(0, len(note) * 8 - 1))
    with pytest.raises(InvalidCheckpoint):
        open_checkpoint(flip_bit(note, bit), signer.verifier)


def test_generated_keys_round_trip_through_every_configuration_form(tmp_path: Path) -> None:
    signer = generate_signing_key(ORIGIN)
    vkey = signer.verifier.vkey
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    seed = base64.b64encode(
        signer.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()
    key_file = tmp_path / "audit-signer.key"
    key_file.write_text(signer.signer_key + "\n")
    pem_file = tmp_path / "audit-signer.pem"
    pem_file.write_text(pem)

    assert load_signing_key(signer.signer_key).verifier.vkey == vkey
    assert load_signing_key(str(key_file)).verifier.vkey == vkey
    assert load_signing_key(pem, name=ORIGIN).verifier.vkey == vkey
    assert load_signing_key(str(pem_file), name=ORIGIN).verifier.vkey == vkey
    assert load_signing_key(seed, name=ORIGIN).verifier.vkey == vkey

    public_pem = (
        signer.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    vkey_file = tmp_path / "audit.vkey"
    vkey_file.write_text(vkey + "\n")
    assert load_verifier_key(vkey).vkey == vkey
    assert load_verifier_key(str(vkey_file)).vkey == vkey
    assert load_verifier_key(public_pem, name=ORIGIN).vkey == vkey


@pytest.mark.parametrize(
    ("value", "name"),
    [
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----", "n", id="broken-pem"
        ),
        pytest.param(base64.b64encode(bytes(32)).decode(), None, id="seed-without-name"),
        pytest.param("/nonexistent/audit-signer.key", None, id="missing-file"),
        pytest.param(GO_SKEY.replace("c74f20a3", "c74f20a4"), None, id="wrong-key-id"),
        pytest.param(GO_SKEY, "SomeoneElse", id="name-mismatch"),
        pytest.param("PRIVATE+KEY+name+00000000", None, id="truncated"),
    ],
)
def test_unusable_signing_keys_are_refused(value: str, name: str | None) -> None:
    with pytest.raises(InvalidKey):
        load_signing_key(value, name=name)


@pytest.mark.parametrize(
    "value",
    [
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("+ARpc", "+AhpC"),
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        GO_VKEY[:-1],
        "/nonexistent/audit.vkey",
    ],
)
def test_unusable_verifier_keys_are_refused(value: str) -> None:
    with pytest.raises(InvalidKey):
        load_verifier_key(value)
