"""Checks of the audit log made by the portal itself, not taken on the audit service's word:
a C2SP signed-note checkpoint's Ed25519 signature against the verifier key, RFC 9162 inclusion
and consistency proofs against the signed root, and an entry's leaf hash recomputed from the
entry (RFC 8785 canonical JSON, SHA-256 with the 0x00 leaf prefix).

The portal is deployed without the audit service's code, so this is a small independent
verifier; tests/portal/test_privacy_unit.py checks it against the audit service's own prover.
Every failure is a `ProofFailed` whose message is a sentence for the privacy officer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
SIGNATURE_PREFIX = "\u2014 "
ED25519 = 0x01


class ProofFailed(Exception):
    """A check did not hold; the message says which, in words."""


def b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ProofFailed(f"The {what} is not valid base64") from exc
    # Only the one spelling we would emit: unused low bits could hide a flipped bit.
    if base64.b64encode(data).decode("ascii") != text:
        raise ProofFailed(f"The {what} is not in canonical base64")
    return data


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- signed checkpoints --------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    key: Ed25519PublicKey


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes


def parse_vkey(vkey: str) -> Verifier:
    """`<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>`, key id checked."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise ProofFailed("The verifier key is not in the expected form")
    name, hex_id, encoded = parts
    material = b64decode(encoded, "verifier key")
    if len(material) != 1 + 32 or material[0] != ED25519:
        raise ProofFailed("The verifier key is not an Ed25519 key")
    expected_id = hashlib.sha256(name.encode() + b"\n" + material).digest()[:4]
    if expected_id.hex() != hex_id:
        raise ProofFailed("The verifier key's id does not match its key")
    return Verifier(name, expected_id, Ed25519PublicKey.from_public_bytes(material[1:]))


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint, if the verifier's key signed it; otherwise ProofFailed in words."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise ProofFailed("The checkpoint is not a signed note")
    text, block = note[: split + 1], note[split + 2 :]
    ours = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise ProofFailed("The checkpoint has a malformed signature line")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        blob = b64decode(encoded, "checkpoint signature")
        if name == verifier.name and blob[:4] == verifier.key_id:
            ours.append(blob[4:])
    if not ours:
        raise ProofFailed("The checkpoint is not signed by the audit log's key")
    for signature in ours:
        try:
            verifier.key.verify(signature, text.encode("utf-8"))
        except InvalidSignature as exc:
            raise ProofFailed("The checkpoint's signature does not verify") from exc
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise ProofFailed("The checkpoint does not state a tree size and a root hash")
    root = b64decode(lines[2], "root hash")
    if len(root) != HASH_SIZE:
        raise ProofFailed("The checkpoint's root hash has the wrong length")
    return Checkpoint(lines[0], int(lines[1]), root)


# --- proofs (RFC 9162 section 2.1.3.2 and 2.1.4.2) -----------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    if index >= size:
        raise ProofFailed("The entry is beyond the checkpoint's tree size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofFailed("The inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise ProofFailed("The inclusion proof does not lead to the signed root hash")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    if first > second:
        raise ProofFailed("The saved checkpoint is larger than the latest one")
    if first == second:
        if proof or first_root != second_root:
            raise ProofFailed("The two checkpoints have the same size but different roots")
        return
    if first == 0:
        return
    path = list(proof)
    if not path:
        raise ProofFailed("The consistency proof is empty")
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofFailed("The consistency proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofFailed(
            "The log is not consistent with the saved checkpoint: it has been rewritten"
        )


# --- entries -------------------------------------------------------------------------------


def canonical_json(record: Any) -> bytes:
    """RFC 8785 for the values audit records hold (text, integers, booleans, null, lists,
    objects with ASCII keys); a float, which the log never writes, is refused."""

    def check(value: Any) -> None:
        if isinstance(value, float):
            raise ProofFailed("The entry holds a number the log never writes")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or not key.isascii():
                    raise ProofFailed("The entry has a key the log never writes")
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)

    check(record)
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_leaf_hash(entry: dict[str, Any]) -> bytes:
    """The leaf hash of an entry as the audit API returns it (its index and leaf hash are
    the API's additions, not part of the logged record)."""
    record = {k: v for k, v in entry.items() if k not in ("index", "leaf_hash")}
    return leaf_hash(canonical_json(record))
