"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, signed with Ed25519.

A checkpoint commits the log to (origin, tree size, root hash). Keys use the encodings of
the Go `sumdb/note` package (`name+keyid+base64` verifier keys and
`PRIVATE+KEY+name+keyid+base64` signer keys) so that standard witnesses and verifiers
can check Accord's checkpoints without Accord's code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from accord_audit.errors import InvalidCheckpoint, InvalidKey
from accord_audit.merkle import HASH_SIZE

SIGNATURE_TYPE_ED25519 = 0x01
MAX_SIGNATURES = 100
_SIGNATURE_PREFIX = "\u2014 "
_SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{8}")
_DECIMAL_PATTERN = re.compile(r"0|[1-9][0-9]*")
_ED25519_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict standard base64: the only accepted spelling is the one we would emit.

    Python's decoder ignores the unused low bits of the last character, so two spellings
    decode to the same bytes; comparing with the re-encoding closes that gap, otherwise a
    flipped bit in a signature line could go unnoticed.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise ValueError("not standard base64") from error
    if _b64encode(data) != text:
        raise ValueError("not canonical base64")
    return data


def _has_control_characters(text: str) -> bool:
    return any(ord(character) < 0x20 and character != "\n" for character in text)


def check_key_name(name: str) -> None:
    if (
        not name
        or "+" in name
        or any(character.isspace() for character in name)
        or _has_control_characters(name)
    ):
        raise InvalidKey(
            "a key name is non-empty and has no spaces, plus signs or control characters"
        )


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4] (C2SP signed-note)."""
    material = name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:4]


@dataclass(frozen=True, eq=False)
class NoteVerifier:
    name: str
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_bytes)

    @property
    def vkey(self) -> str:
        """`<name>+<hex key id>+<base64(0x01 || public key)>`."""
        encoded = _b64encode(bytes([SIGNATURE_TYPE_ED25519]) + self.public_bytes)
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise InvalidKey("a verifier key reads <name>+<key id>+<base64 key>")
        name, hex_id, encoded = parts
        check_key_name(name)
        if not _KEY_ID_PATTERN.fullmatch(hex_id):
            raise InvalidKey("the key id of a verifier key is 8 lowercase hex digits")
        try:
            material = _b64decode(encoded)
        except ValueError as error:
            raise InvalidKey("the key of a verifier key is not canonical base64") from error
        if len(material) != 1 + _ED25519_KEY_SIZE or material[0] != SIGNATURE_TYPE_ED25519:
            raise InvalidKey("only Ed25519 verifier keys (type 0x01) are supported")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(material[1:]))
        if verifier.key_id.hex() != hex_id:
            raise InvalidKey("the key id of the verifier key does not match its key")
        return verifier

    def verifies(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, eq=False)
class NoteSigner:
    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key())

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    @property
    def signer_key(self) -> str:
        """`PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`: keep it secret."""
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        encoded = _b64encode(bytes([SIGNATURE_TYPE_ED25519]) + seed)
        return f"{_SIGNER_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def signature_line(self, text: bytes) -> str:
        signature = self.private_key.sign(text)
        return f"{_SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + signature)}\n"


def generate_signing_key(name: str) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.generate())


def _read_key_text(value: str, looks_like_key: bool) -> str:
    if looks_like_key:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        # Never echo the value: it may be a mistyped secret rather than a path.
        raise InvalidKey("the key is neither a recognised key encoding nor a readable file")
    return path.read_text(encoding="utf-8").strip()


def _signer_from_signer_key(text: str) -> NoteSigner:
    parts = text[len(_SIGNER_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise InvalidKey("a signer key reads PRIVATE+KEY+<name>+<key id>+<base64 key>")
    name, hex_id, encoded = parts
    check_key_name(name)
    try:
        material = _b64decode(encoded)
    except ValueError as error:
        raise InvalidKey("the key of a signer key is not canonical base64") from error
    if len(material) != 1 + _ED25519_KEY_SIZE or material[0] != SIGNATURE_TYPE_ED25519:
        raise InvalidKey("only Ed25519 signer keys (type 0x01) are supported")
    signer = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
    if signer.key_id.hex() != hex_id:
        raise InvalidKey("the key id of the signer key does not match its key")
    return signer


def _require_name(name: str | None) -> str:
    if name is None:
        raise InvalidKey("this key encoding carries no key name; configure one")
    return name


def load_signing_key(value: str, name: str | None = None) -> NoteSigner:
    """Load a signer from configuration.

    `value` is a `PRIVATE+KEY+...` signer key, a PEM (PKCS#8) Ed25519 private key, the
    base64 of a 32-byte Ed25519 seed, or the path of a file holding one of these. The
    last two carry no key name, so `name` must then be given.
    """
    stripped = value.strip()
    text = _read_key_text(
        stripped,
        stripped.startswith((_SIGNER_KEY_PREFIX, "-----BEGIN")) or _is_raw_seed(stripped),
    )
    if text.startswith(_SIGNER_KEY_PREFIX):
        signer = _signer_from_signer_key(text)
        if name is not None and name != signer.name:
            raise InvalidKey("the signer key is for a different key name")
        return signer
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as error:
            raise InvalidKey("the PEM private key cannot be read") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidKey("the PEM private key is not an Ed25519 key")
        return NoteSigner(_require_name(name), key)
    if _is_raw_seed(text):
        return NoteSigner(
            _require_name(name), Ed25519PrivateKey.from_private_bytes(_b64decode(text))
        )
    raise InvalidKey("the key file holds no recognised private key encoding")


def _is_raw_seed(text: str) -> bool:
    try:
        return len(_b64decode(text)) == _ED25519_KEY_SIZE
    except ValueError:
        return False


def load_verifier_key(value: str, name: str | None = None) -> NoteVerifier:
    """Load a verifier: a vkey, a PEM Ed25519 public key (with `name`), or a file of one."""
    stripped = value.strip()
    looks_like_vkey = stripped.count("+") >= 2 and not Path(stripped).is_file()
    text = _read_key_text(stripped, looks_like_vkey or stripped.startswith("-----BEGIN"))
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as error:
            raise InvalidKey("the PEM public key cannot be read") from error
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidKey("the PEM public key is not an Ed25519 key")
        return NoteVerifier(_require_name(name), key)
    verifier = NoteVerifier.from_vkey(text)
    if name is not None and name != verifier.name:
        raise InvalidKey("the verifier key is for a different key name")
    return verifier


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class SignedNote:
    text: str
    signatures: tuple[NoteSignature, ...]


def _check_note_text(text: str) -> None:
    if not text or not text.endswith("\n"):
        raise InvalidCheckpoint("note text is non-empty and ends with a newline")
    if _has_control_characters(text):
        raise InvalidCheckpoint("note text has control characters other than newline")


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    _check_note_text(text)
    if not signers:
        raise InvalidCheckpoint("a signed note needs at least one signature")
    encoded = text.encode("utf-8")
    return text + "\n" + "".join(signer.signature_line(encoded) for signer in signers)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise InvalidCheckpoint("a signature line starts with an em dash and a space")
    name, separator, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not separator:
        raise InvalidCheckpoint("a signature line reads '— <key name> <signature>'")
    try:
        check_key_name(name)
        blob = _b64decode(encoded)
    except (InvalidKey, ValueError) as error:
        raise InvalidCheckpoint("malformed signature line") from error
    if len(blob) < 5:
        raise InvalidCheckpoint("a signature holds a key id and at least one byte")
    return NoteSignature(name, blob[:4], blob[4:])


def parse_note(note: str | bytes) -> SignedNote:
    """Split a signed note into text and signatures, checking syntax only."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidCheckpoint("a signed note is UTF-8") from error
    if _has_control_characters(note):
        raise InvalidCheckpoint("a signed note has no control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise InvalidCheckpoint("a signed note separates text and signatures by a blank line")
    text, block = note[: split + 1], note[split + 2 :]
    _check_note_text(text)
    if not block or not block.endswith("\n"):
        raise InvalidCheckpoint("a signed note ends with newline-terminated signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidCheckpoint(f"a signed note carries at most {MAX_SIGNATURES} signatures")
    return SignedNote(text, tuple(_parse_signature_line(line) for line in lines))


def open_note(note: str | bytes, verifier: NoteVerifier) -> str:
    """Return the note text if `verifier`'s key signed it.

    Signatures by other keys are ignored, as the spec requires; a signature that claims
    to be from our key but does not verify rejects the whole note.
    """
    parsed = parse_note(note)
    encoded = parsed.text.encode("utf-8")
    ours = [
        signature
        for signature in parsed.signatures
        if signature.name == verifier.name and signature.key_id == verifier.key_id
    ]
    if not ours:
        raise InvalidCheckpoint(f"the note carries no signature by {verifier.name}")
    for signature in ours:
        if len(signature.signature) != _ED25519_SIGNATURE_SIZE or not verifier.verifies(
            encoded, signature.signature
        ):
            raise InvalidCheckpoint(f"the signature by {verifier.name} does not verify")
    return parsed.text


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _has_control_characters(self.origin):
            raise InvalidCheckpoint("a checkpoint origin is one non-empty line")
        if self.size < 0:
            raise InvalidCheckpoint("a checkpoint tree size is not negative")
        if len(self.root_hash) != HASH_SIZE:
            raise InvalidCheckpoint(f"a checkpoint root hash has {HASH_SIZE} bytes")
        for extension in self.extensions:
            if not extension or "\n" in extension or _has_control_characters(extension):
                raise InvalidCheckpoint("a checkpoint extension is one non-empty line")

    def body(self) -> str:
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise InvalidCheckpoint("a checkpoint body ends with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidCheckpoint("a checkpoint has an origin, a tree size and a root hash")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL_PATTERN.fullmatch(size_text):
            raise InvalidCheckpoint("a checkpoint tree size is a decimal without leading zeros")
        try:
            root = _b64decode(root_text)
        except ValueError as error:
            raise InvalidCheckpoint("a checkpoint root hash is canonical base64") from error
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(
    note: str | bytes, verifier: NoteVerifier, origin: str | None = None
) -> Checkpoint:
    """Verify the signature, then parse; optionally insist on the log's origin."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise InvalidCheckpoint(f"the checkpoint is for origin {checkpoint.origin!r}")
    return checkpoint


def read_checkpoint_unverified(note: str | bytes) -> Checkpoint:
    """Parse without checking signatures: only for storing a note we just signed."""
    return Checkpoint.parse(parse_note(note).text)
